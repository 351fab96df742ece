package talkdesk

import (
	_ "embed"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/talkdesk-intercom/api/internal/actions"
	"github.com/talkdesk-intercom/api/internal/web"
)

// The configuration documents Talkdesk is set up with (configuration.md):
// GET /talkdesk/integration.json describes the integration (custom
// authentication with the Intercom token and region, the four endpoints, the
// interaction types) and GET /talkdesk/actions.json lists one action
// configuration per action of actions.Catalog(). Every URL in them starts
// with the public base URL (PUBLIC_BASE_URL, else the request's own).

// IntegrationName is the integration's system name, and every action's
// provider.
const IntegrationName = "intercom"

type authField struct {
	Source    string `json:"source"`
	Display   string `json:"display"`
	Mandatory bool   `json:"mandatory"`
	Type      string `json:"type"`
	Store     bool   `json:"store"`
	Help      string `json:"help,omitempty"`
}

type integrationDocument struct {
	Name                           string                 `json:"name"`
	DisplayName                    string                 `json:"display_name"`
	Description                    string                 `json:"description"`
	LogoURL                        string                 `json:"logo_url"`
	IconURL                        string                 `json:"icon_url"`
	AuthenticationType             string                 `json:"authentication_type"`
	AuthenticationConfiguration    []map[string]authField `json:"authentication_configuration"`
	AuthValidationEndpoint         string                 `json:"auth_validation_endpoint"`
	ContactSynchronizationEndpoint string                 `json:"contact_synchronization_endpoint"`
	InteractionRetrievalEndpoint   string                 `json:"interaction_retrieval_endpoint"`
	AgentSynchronizationEndpoint   string                 `json:"agent_synchronization_endpoint"`
	InteractionTypes               []string               `json:"interaction_types"`
}

type actionDocument struct {
	Provider    string          `json:"provider"`
	Name        string          `json:"name"`
	Display     string          `json:"display"`
	Description string          `json:"description"`
	Endpoint    string          `json:"endpoint"`
	Inputs      []actions.Input `json:"inputs"`
}

func (b *Bridge) integrationDocument(w http.ResponseWriter, r *http.Request) error {
	base, err := b.publicBaseURL(r)
	if err != nil {
		return err
	}
	base += "/talkdesk"
	auth := []map[string]authField{
		{"token": {Source: "input", Display: "Intercom access token", Mandatory: true, Type: "input", Store: true,
			Help: "The access token of an Intercom app (Developer Hub > your app > Authentication) that can read and write contacts, conversations, tickets and notes, and read admins"}},
		{"region": {Source: "input", Display: "Intercom region", Mandatory: false, Type: "input", Store: true,
			Help: "Where your Intercom workspace is hosted: us (the default), eu or au"}},
	}
	if b.cfg.Keys.Enabled() {
		auth = append(auth, map[string]authField{"api_key": {Source: "input", Display: "Bridge API key", Mandatory: true,
			Type: "input", Store: true, Help: "An API key of this bridge, from its operator"}})
	}
	types := make([]string, len(b.cfg.InteractionKinds))
	for i, k := range b.cfg.InteractionKinds {
		types[i] = string(k)
	}
	web.WriteJSON(w, http.StatusOK, integrationDocument{
		Name:                           IntegrationName,
		DisplayName:                    "Intercom",
		Description:                    "See who is calling from your Intercom contacts, their conversations, tickets, notes and calls, and add notes, open tickets and log calls in Intercom without leaving the call.",
		LogoURL:                        base + "/logo.svg",
		IconURL:                        base + "/logo.svg",
		AuthenticationType:             "custom",
		AuthenticationConfiguration:    auth,
		AuthValidationEndpoint:         base + "/auth_validation",
		ContactSynchronizationEndpoint: base + "/contact_sync",
		InteractionRetrievalEndpoint:   base + "/interaction_update",
		AgentSynchronizationEndpoint:   base + "/agent_sync",
		InteractionTypes:               types,
	})
	return nil
}

func (b *Bridge) actionsDocument(w http.ResponseWriter, r *http.Request) error {
	base, err := b.publicBaseURL(r)
	if err != nil {
		return err
	}
	base += "/talkdesk/actions/"
	catalog := actions.Catalog()
	out := make([]actionDocument, len(catalog))
	for i, d := range catalog {
		out[i] = actionDocument{
			Provider: IntegrationName,
			Name:     d.Name,
			// Talkdesk shows these after "Then …": lower case, no full stop.
			Display:     lowerFirst(strings.ToLower(d.DisplayName)),
			Description: lowerFirst(strings.TrimSuffix(d.Description, ".")),
			Endpoint:    base + d.Name,
			Inputs:      d.Inputs,
		}
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}

//go:embed logo.svg
var logo []byte

// serveLogo serves the integration's logo and icon, so that integration.json
// points at nothing outside this server.
func serveLogo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_, _ = w.Write(logo)
}
