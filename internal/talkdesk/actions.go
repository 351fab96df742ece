package talkdesk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"unicode"

	"github.com/talkdesk-intercom/api/internal/actions"
	"github.com/talkdesk-intercom/api/internal/web"
	"github.com/talkdesk-intercom/api/sources"
)

// Action execution (POST /talkdesk/actions/{name}): the actions of
// actions.Catalog(), run by the tenant's actions service (validation,
// duplicate checks, idempotency, cache invalidation) exactly as GraphQL's
// mutations run them.
//
//   - data holds the action's inputs under the catalogue's keys. Values are
//     strings; numbers are read as their text, and `duration` and booleans
//     may come as strings or numbers. create_contact and update_contact
//     also take data.custom_attributes, a JSON object (outside the
//     catalogue: Talkdesk's forms have no object fields).
//   - meta.contact_external_id is the Intercom contact the action is about
//     (actions in the scope of a contact); meta.agent_external_id is the
//     Intercom admin who acts (the note's author, the ticket's or call's
//     agent).
//   - 201 with `message` and `external_id` (the note, ticket or tag made),
//     or with contact_external_id, contact_external_type (Intercom's role:
//     user or lead) and contact_external_url for a contact; 400 with
//     `message` (and `problems`, each with its field) when the action
//     cannot run; 401, 429 and 503 as for every bridge call.
//
// Idempotency: Talkdesk retries a call that failed or timed out, and a
// retry must not add a second note, ticket or contact. The key is the
// Idempotency-Key header when Talkdesk sends one. Otherwise, for the actions
// that create something (create_contact, add_note, create_ticket,
// log_call), it is derived from the call itself:
//
//	"talkdesk:" + hex(SHA-256(name + "\n" + canonical JSON of {"data": data, "meta": meta}))
//
// where canonical JSON has sorted keys, no insignificant white space and
// numbers as written; auth is not part of it (keys are already scoped to the
// workspace). An identical body within 24 hours gets the stored result
// again and creates nothing. The price: the same note written twice on
// purpose within a day is one note, unless the caller sends its own
// Idempotency-Key. Updates, tags and untags set a state, so a repeat is
// harmless; they get no derived key, or "name Ann, then Bob, then Ann again"
// would replay the first call and leave Bob.

// actionResult is the contract's response of an action.
type actionResult struct {
	Message             string `json:"message"`
	ExternalID          string `json:"external_id,omitempty"`
	ContactExternalID   string `json:"contact_external_id,omitempty"`
	ContactExternalType string `json:"contact_external_type,omitempty"`
	ContactExternalURL  string `json:"contact_external_url,omitempty"`
}

type actionRunner struct {
	// creates says the action makes something new, so that a retry needs a
	// derived idempotency key.
	creates bool
	run     func(ctx context.Context, svc *actions.Service, in *inputs, key string) (actionResult, error)
}

// runners has one entry per action of actions.Catalog().
var runners = map[string]actionRunner{
	actions.ActionCreateContact: {creates: true, run: createContact},
	actions.ActionUpdateContact: {run: updateContact},
	actions.ActionTagContact:    {run: tagContact(true)},
	actions.ActionUntagContact:  {run: tagContact(false)},
	actions.ActionAddNote:       {creates: true, run: addNote},
	actions.ActionCreateTicket:  {creates: true, run: createTicket},
	actions.ActionLogCall:       {creates: true, run: logCall},
}

// IdempotencyHeader is the header that carries a caller's own key.
const IdempotencyHeader = "Idempotency-Key"

func (b *Bridge) action() http.Handler {
	// An unknown action is an unknown endpoint (404), not the contract's
	// 400 for an action's own failures.
	return web.Handle(func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("name")
		runner, ok := runners[name]
		if !ok {
			return sources.Errorf(sources.ENotFound, "no action named %s; the actions are %s", sources.Quote(name), strings.Join(actionNames(), ", "))
		}
		b.call(func(ctx context.Context, c *call) (reply, error) {
			key := idempotencyKey(r.Header.Get(IdempotencyHeader), name, runner.creates, c)
			res, err := runner.run(actions.WithDerivedKeys(ctx), c.ws.Actions, &inputs{meta: c.meta, data: c.data}, key)
			if err != nil {
				return reply{}, inBridgeTerms(err)
			}
			return reply{status: http.StatusCreated, body: res}, nil
		}).ServeHTTP(w, r)
		return nil
	})
}

// idempotencyKey is the caller's key, or the derived one (see the top).
func idempotencyKey(header, name string, creates bool, c *call) string {
	if k := strings.TrimSpace(header); k != "" {
		return k
	}
	if !creates {
		return ""
	}
	canonical, _ := json.Marshal(map[string]any{"data": c.data.canonical(), "meta": c.meta.canonical()})
	sum := sha256.Sum256(append([]byte(name+"\n"), canonical...))
	return actions.DerivedKeyPrefix + hex.EncodeToString(sum[:])
}

func actionNames() []string {
	var names []string
	for _, d := range actions.Catalog() {
		names = append(names, d.Name)
	}
	return names
}

// inputs reads an action's meta and data, keeping the first type error.
type inputs struct {
	meta, data object
	err        error
}

func (in *inputs) keep(err error) {
	if in.err == nil {
		in.err = err
	}
}

func (in *inputs) str(key string) string {
	s, err := in.data.str(key)
	in.keep(err)
	return s
}

func (in *inputs) optional(key string) *string {
	s, err := in.data.optionalStr(key)
	in.keep(err)
	return s
}

func (in *inputs) boolean(key string) bool {
	v, err := in.data.boolean(key)
	in.keep(err)
	return v
}

func (in *inputs) integer(key string) int {
	n, err := in.data.integer(key)
	in.keep(err)
	return n
}

func (in *inputs) attributes(key string) map[string]any {
	m, err := in.data.attributes(key)
	in.keep(err)
	return m
}

func (in *inputs) contactID() string {
	s, err := in.meta.str("contact_external_id")
	in.keep(err)
	return strings.TrimSpace(s)
}

func (in *inputs) agentID() string {
	s, err := in.meta.str("agent_external_id")
	in.keep(err)
	return strings.TrimSpace(s)
}

func createContact(ctx context.Context, svc *actions.Service, in *inputs, key string) (actionResult, error) {
	req := actions.CreateContactRequest{Name: in.str("name"), Email: in.str("email"), Phone: in.str("phone"),
		Role: in.str("role"), ExternalID: in.str("external_id"), CompanyID: in.str("company_id"),
		CustomAttributes: in.attributes("custom_attributes")}
	if in.err != nil {
		return actionResult{}, in.err
	}
	res, err := svc.CreateContact(ctx, key, req)
	if err != nil {
		return actionResult{}, err
	}
	msg := "Contact created in Intercom"
	if !res.Created {
		msg = "Contact already exists in Intercom"
	}
	return contactResult(msg, res.Contact), nil
}

func contactResult(msg string, ct *sources.Contact) actionResult {
	if ct == nil {
		return actionResult{Message: msg}
	}
	return actionResult{Message: msg, ContactExternalID: ct.ID, ContactExternalType: ct.Role, ContactExternalURL: ct.URL}
}

func updateContact(ctx context.Context, svc *actions.Service, in *inputs, key string) (actionResult, error) {
	req := actions.UpdateContactRequest{ID: in.contactID(), Name: in.optional("name"), Email: in.optional("email"),
		Phone: in.optional("phone"), Role: in.optional("role"), ExternalID: in.optional("external_id"),
		CustomAttributes: in.attributes("custom_attributes")}
	if in.err != nil {
		return actionResult{}, in.err
	}
	ct, err := svc.UpdateContact(ctx, key, req)
	if err != nil {
		return actionResult{}, err
	}
	return actionResult{Message: "Contact updated in Intercom", ExternalID: ct.ID}, nil
}

func tagContact(attach bool) func(context.Context, *actions.Service, *inputs, string) (actionResult, error) {
	return func(ctx context.Context, svc *actions.Service, in *inputs, key string) (actionResult, error) {
		req := actions.TagRequest{ContactID: in.contactID(), Tag: in.str("tag")}
		if in.err != nil {
			return actionResult{}, in.err
		}
		apply, msg := svc.TagContact, "Tag attached in Intercom"
		if !attach {
			apply, msg = svc.UntagContact, "Tag removed in Intercom"
		}
		res, err := apply(ctx, key, req)
		if err != nil {
			return actionResult{}, err
		}
		out := actionResult{Message: msg}
		if res.Tag != nil {
			out.ExternalID = res.Tag.ID
		}
		return out, nil
	}
}

func addNote(ctx context.Context, svc *actions.Service, in *inputs, key string) (actionResult, error) {
	req := actions.AddNoteRequest{ContactID: in.contactID(), Body: in.str("body"), AdminID: in.agentID()}
	if in.err != nil {
		return actionResult{}, in.err
	}
	n, err := svc.AddNote(ctx, key, req)
	if err != nil {
		return actionResult{}, err
	}
	return actionResult{Message: "Note added in Intercom", ExternalID: n.ID}, nil
}

func createTicket(ctx context.Context, svc *actions.Service, in *inputs, key string) (actionResult, error) {
	req := actions.CreateTicketRequest{ContactID: in.contactID(), Title: in.str("title"), Description: in.str("description"),
		TicketType: in.str("ticket_type"), AdminID: in.agentID()}
	if in.err != nil {
		return actionResult{}, in.err
	}
	t, err := svc.CreateTicket(ctx, key, req)
	if err != nil {
		return actionResult{}, err
	}
	return actionResult{Message: "Ticket created in Intercom", ExternalID: t.ID}, nil
}

func logCall(ctx context.Context, svc *actions.Service, in *inputs, key string) (actionResult, error) {
	req := actions.LogCallRequest{ContactID: in.contactID(), AgentID: in.agentID(),
		From: in.str("from"), To: in.str("to"), Direction: in.str("direction"),
		DurationSeconds: in.integer("duration"), Disposition: in.str("disposition"),
		RecordingURL: in.str("recording_url"), Notes: in.str("notes"),
		CreateContactIfUnknown: in.boolean("create_contact_if_unknown")}
	if raw := in.str("started_at"); raw != "" {
		t, ok := parseTime(raw)
		if !ok {
			in.keep(actions.Problems{{Field: "data.started_at", Code: sources.EBadUserInput,
				Message: "data.started_at " + sources.Quote(raw) + " is not a time such as 2024-05-01T14:03:00Z"}})
		}
		req.StartedAt = t
	}
	if in.err != nil {
		return actionResult{}, in.err
	}
	res, err := svc.LogCall(ctx, key, req)
	if err != nil {
		return actionResult{}, err
	}
	out := actionResult{Message: "Call logged in Intercom"}
	if res.ContactCreated {
		out = contactResult("Call logged in Intercom on a new lead", res.Contact)
	}
	switch {
	case res.Note != nil:
		out.ExternalID = res.Note.ID
	case res.Ticket != nil:
		out.ExternalID = res.Ticket.ID
	}
	return out, nil
}

// inBridgeTerms names an action's input problems by the bridge's fields
// (data.ticket_type, meta.contact_external_id) rather than the service's
// (ticketType, contactId), in the fields and in the messages.
func inBridgeTerms(err error) error {
	var problems actions.Problems
	if !errors.As(err, &problems) {
		return err
	}
	out := make(actions.Problems, len(problems))
	for i, p := range problems {
		field := bridgeField(p.Field)
		msg := p.Message
		if strings.HasPrefix(msg, p.Field+" ") {
			msg = field + msg[len(p.Field):]
		}
		msg = camelCaseWord.ReplaceAllStringFunc(msg, bridgeField)
		if field != "" && !strings.Contains(msg, field) {
			msg = field + ": " + msg
		}
		out[i] = actions.Problem{Field: field, Message: msg, Code: p.Code}
	}
	return out
}

var camelCaseWord = regexp.MustCompile(`\b[a-z]+[A-Z][A-Za-z]*\b`)

// bridgeFieldNames are the service's fields whose bridge name is not
// "data." + the field in snake case.
var bridgeFieldNames = map[string]string{
	"id":              "meta.contact_external_id",
	"contactId":       "meta.contact_external_id",
	"adminId":         "meta.agent_external_id",
	"agentId":         "meta.agent_external_id",
	"durationSeconds": "data.duration",
	"idempotencyKey":  IdempotencyHeader,
}

func bridgeField(f string) string {
	if n, ok := bridgeFieldNames[f]; ok {
		return n
	}
	if strings.Contains(f, ".") || f == "" {
		return f
	}
	var b strings.Builder
	b.WriteString("data.")
	for _, r := range f {
		if unicode.IsUpper(r) {
			b.WriteByte('_')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
