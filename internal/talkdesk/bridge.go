// Package talkdesk is the Talkdesk bridge: the HTTPS + JSON endpoints that
// Talkdesk's integration platform calls (auth validation, contact
// synchronization, interaction retrieval, action execution, agent
// synchronization), and the integration and action configuration documents
// Talkdesk is set up with. The contract is Talkdesk's Integrations API
// (shared/reference/talkdesk-integrations-api).
//
// It is a thin adapter. Every call names its Intercom workspace in `auth`
// (`token`, optional `region`); the bridge gets that workspace's tenant (the
// same sources, cache and actions GraphQL uses) from the registry, gives the
// call its own loaders, and maps Talkdesk's format to the domain's and back.
// Errors become statuses in one place (errors.go).
package talkdesk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/talkdesk-intercom/api/internal/access"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/tenants"
	"github.com/talkdesk-intercom/api/internal/web"
	"github.com/talkdesk-intercom/api/internal/workspace"
	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/intercom"
)

// Prefix is where the bridge is mounted.
const Prefix = "/talkdesk/"

// Config holds the bridge's dependencies and settings.
type Config struct {
	// Workspaces finds the workspace of the token each call brings, and
	// gives the call its loaders. Its BaseURL pins every region to one host
	// in demo mode and when INTERCOM_BASE_URL is set.
	Workspaces *workspace.Resolver
	// Keys, when enabled, must be presented as auth.api_key (or the
	// X-API-Key / Authorization header).
	Keys *access.Keys
	// Callers is the allowance of requests (RATE_LIMIT_PER_MINUTE), taken
	// per Intercom token (by its hash): each Talkdesk account has its own,
	// however many share Talkdesk's addresses. Nil: no limit.
	Callers *access.Limiter
	// Failures counts a missing or wrong API key and a missing token
	// against the client address (AUTH_FAILURES_PER_MINUTE). A token
	// Intercom rejects is not counted: auth_validation answers it 401, as
	// Talkdesk's contract says, and unknown tokens have their own limit
	// (NEW_TOKEN_RATE_LIMIT). Nil: no limit.
	Failures *access.Failures
	// PageSize is the number of contacts per contact_sync page (max 150).
	PageSize int
	// MaxList bounds a list whose items are each looked up in Intercom
	// (contact_phones, contact_emails); default defaultMaxList.
	MaxList int
	// SearchDelay is how long Intercom's search may take to index a change;
	// see checkpointOf.
	SearchDelay time.Duration
	// PublicBaseURL is where Talkdesk reaches this server; "" takes the
	// request's own scheme and Host.
	PublicBaseURL string
	// InteractionKinds are the kinds integration.json offers (default every
	// kind).
	InteractionKinds []sources.InteractionKind
	// Metrics count interaction_update answers that lack some kinds.
	Metrics *metrics.Metrics
	Now     func() time.Time
}

// Bridge serves the Talkdesk endpoints.
type Bridge struct {
	cfg Config
}

// Route is one endpoint of the bridge: a ServeMux pattern and its handler.
type Route struct {
	Pattern string
	Handler http.Handler
}

// New returns the bridge; the server mounts its Routes.
func New(cfg Config) *Bridge {
	switch {
	case cfg.PageSize <= 0:
		cfg.PageSize = defaultPageSize
	case cfg.PageSize > maxPageSize:
		cfg.PageSize = maxPageSize
	}
	if cfg.MaxList <= 0 {
		cfg.MaxList = defaultMaxList
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.InteractionKinds) == 0 {
		cfg.InteractionKinds = sources.InteractionKinds()
	}
	return &Bridge{cfg: cfg}
}

// Routes are the bridge's endpoints, the one list of them. Methods are
// checked by only(), not by the patterns, so that a wrong method gets the
// bridge's JSON 405 rather than ServeMux's plain text.
func (b *Bridge) Routes() []Route {
	return []Route{
		{Prefix + "auth_validation", only("POST", b.callWith(b.cfg.Workspaces.Tenants.Revalidate, b.authValidation))},
		{Prefix + "contact_sync", only("POST", b.call(b.contactSync))},
		{Prefix + "interaction_update", only("POST", b.call(b.interactionUpdate))},
		{Prefix + "agent_sync", only("POST", b.call(b.agentSync))},
		{Prefix + "actions/{name}", only("POST", b.action())},
		{Prefix + "integration.json", only("GET", web.HandleWith(present, b.integrationDocument))},
		{Prefix + "actions.json", only("GET", web.HandleWith(present, b.actionsDocument))},
		{Prefix + "logo.svg", only("GET", http.HandlerFunc(serveLogo))},
		{Prefix, web.Handle(func(w http.ResponseWriter, r *http.Request) error {
			return sources.Errorf(sources.ENotFound, "no such bridge endpoint: %s %s; the endpoints are listed in GET /talkdesk/integration.json",
				r.Method, sources.Quote(r.URL.Path))
		})},
	}
}

// only answers other methods than method with 405 (HEAD is allowed with GET).
func only(method string, h http.Handler) http.Handler {
	return web.Handle(func(w http.ResponseWriter, r *http.Request) error {
		if r.Method != method && !(method == "GET" && r.Method == "HEAD") {
			w.Header().Set("Allow", method)
			return sources.Errorf(sources.EMethodNotAllowed, "%s takes %s", sources.Quote(r.URL.Path), method)
		}
		h.ServeHTTP(w, r)
		return nil
	})
}

// call is one request of Talkdesk's: its envelope and the workspace `auth`
// names.
type call struct {
	ws     *workspace.Workspace
	caller string // the API key's caller; "" without keys (the client address stays)
	meta   object
	data   object
}

// reply is what a handler answers: a status, headers and a JSON body (none
// for 204).
type reply struct {
	status int
	header http.Header
	body   any
}

type callHandler func(ctx context.Context, c *call) (reply, error)

// opener finds the tenant of a token (Tenants.ForToken or Revalidate).
type opener func(ctx context.Context, token, baseURL string) (*tenants.Tenant, error)

// call decodes the envelope, opens the workspace `auth` names and runs h.
func (b *Bridge) call(h callHandler) http.Handler {
	return b.callWith(b.cfg.Workspaces.Tenants.ForToken, h)
}

// callWith is call with the tenant found by open.
func (b *Bridge) callWith(open opener, h callHandler) http.Handler {
	return web.HandleWith(present, func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		ctx, c, err := b.open(ctx, r, open)
		if err != nil {
			return err
		}
		if c.caller != "" {
			ctx = sources.WithCaller(ctx, c.caller) // the key in the body names the caller, as X-API-Key does
		}
		res, err := h(ctx, c)
		if err != nil {
			return err
		}
		writeReply(w, res)
		return nil
	})
}

// open decodes the request and opens the workspace of its credentials.
func (b *Bridge) open(ctx context.Context, r *http.Request, open opener) (context.Context, *call, error) {
	env, err := decodeEnvelope(r)
	if err != nil {
		return ctx, nil, err
	}
	var caller string
	if b.cfg.Keys.Enabled() {
		key := env.auth.apiKey
		if key == "" {
			key = access.FromRequest(r)
		}
		var ok bool
		if caller, ok = b.cfg.Keys.Identify(key); !ok {
			return ctx, nil, b.cfg.Failures.Failed(r, sources.Errorf(sources.EUnauthenticated, "auth.api_key is missing or not valid: this bridge requires one of its API keys"))
		}
		ctx = sources.WithCaller(ctx, caller) // unknown tokens' validations are counted by key (NEW_TOKEN_RATE_LIMIT)
	}
	if env.auth.token == "" {
		return ctx, nil, b.cfg.Failures.Failed(r, sources.Errorf(sources.EUnauthenticated, "auth.token (the Intercom access token) is required"))
	}
	// Before the token is opened: auth_validation asks Intercom about it
	// each time.
	if err := b.allow(env.auth.token); err != nil {
		return ctx, nil, err
	}
	// A region that does not exist is a credential that cannot work (even
	// when the server sends every token to one host).
	_, known := intercom.RegionBaseURL(env.auth.region)
	baseURL, err := b.cfg.Workspaces.BaseURL(env.auth.region)
	if err != nil || (!known && env.auth.region != "") {
		return ctx, nil, sources.Errorf(sources.EUnauthenticated, "auth.region: %s is not an Intercom region: use us, eu or au", sources.Quote(env.auth.region))
	}
	t, err := open(ctx, env.auth.token, baseURL)
	if err != nil {
		return ctx, nil, err
	}
	ctx, ws := b.cfg.Workspaces.Open(ctx, t)
	return ctx, &call{ws: ws, caller: caller, meta: env.meta, data: env.data}, nil
}

// allow takes a request from the allowance of token's caller.
func (b *Bridge) allow(token string) error {
	if b.cfg.Callers == nil {
		return nil
	}
	if wait, ok := b.cfg.Callers.Allow(tokenCaller(token)); !ok {
		secs := int(wait/time.Second) + 1
		return &sources.Error{Code: sources.ERateLimited, RetryAfterSeconds: secs,
			Message: "too many requests with this auth.token (RATE_LIMIT_PER_MINUTE); retry in " + strconv.Itoa(secs) + " s"}
	}
	return nil
}

// tokenCaller names the caller of an Intercom token by a short prefix of
// its hash, as API keys are named: enough to tell tokens apart, too little
// to guess one.
func tokenCaller(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "token:" + hex.EncodeToString(sum[:6])
}

// publicBaseURL is the server's URL as Talkdesk reaches it: PUBLIC_BASE_URL.
// Without it, the request's Host names the server only when it is a
// loopback name (a trial on one's own machine): any other Host is the
// client's own text, and a document that a cache in front kept with an
// attacker's host in it would send Talkdesk, and its accounts' Intercom
// tokens, there. X-Forwarded-Proto is believed from TRUSTED_PROXIES only.
func (b *Bridge) publicBaseURL(r *http.Request) (string, error) {
	if b.cfg.PublicBaseURL != "" {
		return strings.TrimRight(b.cfg.PublicBaseURL, "/"), nil
	}
	if !loopbackHost(r.Host) {
		return "", sources.Errorf(sources.EUnavailable, "this server does not know its public address: set PUBLIC_BASE_URL to the https URL Talkdesk reaches it at (the Host header is not trusted for it)")
	}
	scheme := "http"
	if r.TLS != nil || (access.ViaTrustedProxy(r) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")) {
		scheme = "https"
	}
	return scheme + "://" + r.Host, nil
}

// loopbackHost reports whether host (with or without a port) is localhost
// or a loopback address.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
