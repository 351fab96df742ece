package actions_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/actions"
	"github.com/talkdesk-intercom/api/internal/idempotency"
	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/intercom"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// The Service over the real Intercom client, talking to the emulator over
// HTTP, with an in-process idempotency guard.

const token = "actions-test"

// recorder is a sources.Invalidator that remembers what it was told.
type recorder struct {
	mu      sync.Mutex
	changes []sources.Changed
}

func (r *recorder) Invalidate(_ context.Context, ch sources.Changed) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, ch)
	return nil
}

func (r *recorder) all() []sources.Changed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.changes)
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = nil
}

type fixture struct {
	svc  *actions.Service
	ws   *emulator.Workspace
	inv  *recorder
	demo emulator.Contact
}

// newFixture starts an emulator and a Service over it; edit adjusts the
// Service's configuration (CallLogAs).
func newFixture(t *testing.T, edit func(*actions.Config)) *fixture {
	t.Helper()
	em, err := emulator.Start(emulator.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	client, err := intercom.New(intercom.Config{Token: token, BaseURL: em.URL})
	if err != nil {
		t.Fatal(err)
	}
	inv := &recorder{}
	cfg := actions.Config{
		Executor:    client,
		Finder:      client,
		Agents:      client,
		Workspace:   client,
		Invalidator: inv,
		Guard:       idempotency.New(idempotency.NewMemoryStore(), idempotency.Options{}),
		WorkspaceID: sources.KnownWorkspaceID(emulator.DefaultWorkspaceID),
	}
	if edit != nil {
		edit(&cfg)
	}
	demo, ok := em.Workspace.DemoCaller()
	if !ok {
		t.Fatal("the emulator has no demo caller")
	}
	return &fixture{svc: actions.New(cfg), ws: em.Workspace, inv: inv, demo: demo}
}

// writeEndpoints are the emulator's routes that change data.
var writeEndpoints = []string{
	emulator.EndpointCreateContact, emulator.EndpointUpdateContact, emulator.EndpointAttachCompany,
	emulator.EndpointCreateTag, emulator.EndpointTagContact, emulator.EndpointUntagContact,
	emulator.EndpointCreateNote, emulator.EndpointCreateTicket,
}

func writes(ws *emulator.Workspace) int {
	n := 0
	for _, e := range writeEndpoints {
		n += ws.Calls(e)
	}
	return n
}

// problems returns the field:code pairs of err, which must be Problems.
func problems(t *testing.T, err error) []string {
	t.Helper()
	var p actions.Problems
	if !errors.As(err, &p) {
		t.Fatalf("err = %v (%T), want actions.Problems", err, err)
	}
	out := make([]string, len(p))
	for i, pr := range p {
		out[i] = pr.Field + ":" + pr.Code
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// call is a valid inbound call from the demo caller, ten minutes ago.
func call(demo emulator.Contact) actions.LogCallRequest {
	return actions.LogCallRequest{From: demo.Phone, To: "+1 800 555 0100", DefaultCountry: "US", Direction: "inbound",
		StartedAt: time.Now().Add(-10 * time.Minute), DurationSeconds: 200, Disposition: "answered",
		RecordingURL: "https://talkdesk.example/rec/1", Notes: "Wants a callback on Monday."}
}

// Input is checked before Intercom is asked to change anything: a bad
// field is a Problem naming it, and the emulator sees no write.
func TestInvalidInputNeverReachesIntercom(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	id := f.demo.ID
	cases := []struct {
		name string
		run  func() error
		want string // field:code
	}{
		{"create: bad email", func() error {
			_, err := f.svc.CreateContact(ctx, "", actions.CreateContactRequest{Email: "not an email"})
			return err
		}, "email:BAD_USER_INPUT"},
		{"create: unparseable phone", func() error {
			_, err := f.svc.CreateContact(ctx, "", actions.CreateContactRequest{Phone: "12"})
			return err
		}, "phone:BAD_USER_INPUT"},
		{"create: bad default country", func() error {
			_, err := f.svc.CreateContact(ctx, "", actions.CreateContactRequest{Phone: "415 555 0100", DefaultCountry: "USA"})
			return err
		}, "defaultCountry:BAD_USER_INPUT"},
		{"create: no identifier", func() error {
			_, err := f.svc.CreateContact(ctx, "", actions.CreateContactRequest{Name: "Nobody"})
			return err
		}, "email:BAD_USER_INPUT"},
		{"create: bad role", func() error {
			_, err := f.svc.CreateContact(ctx, "", actions.CreateContactRequest{Email: "x@example.org", Role: "admin"})
			return err
		}, "role:BAD_USER_INPUT"},
		{"create: idempotency key too long", func() error {
			_, err := f.svc.CreateContact(ctx, strings.Repeat("k", 256), actions.CreateContactRequest{Email: "x@example.org"})
			return err
		}, "idempotencyKey:BAD_USER_INPUT"},
		{"update: bad phone", func() error {
			_, err := f.svc.UpdateContact(ctx, "", actions.UpdateContactRequest{ID: id, Phone: ptr("not a number")})
			return err
		}, "phone:BAD_USER_INPUT"},
		{"update: unknown contact", func() error {
			_, err := f.svc.UpdateContact(ctx, "", actions.UpdateContactRequest{ID: "no-such-contact", Name: ptr("X")})
			return err
		}, "id:NOT_FOUND"},
		{"tag: empty tag", func() error {
			_, err := f.svc.TagContact(ctx, "", actions.TagRequest{ContactID: id, Tag: "  "})
			return err
		}, "tag:BAD_USER_INPUT"},
		{"note: empty body", func() error {
			_, err := f.svc.AddNote(ctx, "", actions.AddNoteRequest{ContactID: id, Body: " "})
			return err
		}, "body:BAD_USER_INPUT"},
		{"note: unknown admin", func() error {
			_, err := f.svc.AddNote(ctx, "", actions.AddNoteRequest{ContactID: id, Body: "Hi", AdminID: "999999999"})
			return err
		}, "adminId:NOT_FOUND"},
		{"ticket: unknown type", func() error {
			_, err := f.svc.CreateTicket(ctx, "", actions.CreateTicketRequest{ContactID: id, Title: "X", TicketType: "Complaint"})
			return err
		}, "ticketType:BAD_USER_INPUT"},
		{"call: bad direction", func() error {
			req := call(f.demo)
			req.Direction = "sideways"
			_, err := f.svc.LogCall(ctx, "", req)
			return err
		}, "direction:BAD_USER_INPUT"},
		{"call: in the future", func() error {
			req := call(f.demo)
			req.StartedAt = time.Now().Add(time.Hour)
			_, err := f.svc.LogCall(ctx, "", req)
			return err
		}, "startedAt:BAD_USER_INPUT"},
		{"call: recording not http", func() error {
			req := call(f.demo)
			req.RecordingURL = "ftp://talkdesk.example/rec/1"
			_, err := f.svc.LogCall(ctx, "", req)
			return err
		}, "recordingUrl:BAD_USER_INPUT"},
		{"call: negative duration", func() error {
			req := call(f.demo)
			req.DurationSeconds = -1
			_, err := f.svc.LogCall(ctx, "", req)
			return err
		}, "durationSeconds:BAD_USER_INPUT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.ws.ResetCalls()
			if got := problems(t, c.run()); !slices.Contains(got, c.want) {
				t.Errorf("problems = %v, want %s among them", got, c.want)
			}
			if got := writes(f.ws); got != 0 {
				t.Errorf("Intercom saw %d writes, want 0", got)
			}
		})
	}
	if got := f.inv.all(); len(got) != 0 {
		t.Errorf("refused input invalidated %v, want nothing", got)
	}
}

// A bad default country is one problem, though both numbers of a call use it.
func TestLogCallReportsAProblemOnce(t *testing.T) {
	f := newFixture(t, nil)
	req := call(f.demo)
	req.From, req.To, req.DefaultCountry = "415 555 0142", "800 555 0100", "XX"
	_, err := f.svc.LogCall(context.Background(), "", req)
	if got, want := problems(t, err), []string{"defaultCountry:BAD_USER_INPUT"}; !slices.Equal(got, want) {
		t.Errorf("problems = %v, want %v", got, want)
	}
}

// Each action run twice under one key acts once, answers the retry with
// the first result without calling Intercom at all, and refuses the key
// for another input.
func TestIdempotencyKey(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	id := f.demo.ID
	callReq := call(f.demo) // one start time: a retry repeats its input exactly
	cases := []struct {
		name string
		// run acts with input variant v (0 and 1 differ) and returns the id
		// of what it made.
		run func(key string, v int) (string, error)
		// made counts what exists in the emulator.
		made func() int
	}{
		{"add note", func(key string, v int) (string, error) {
			n, err := f.svc.AddNote(ctx, key, actions.AddNoteRequest{ContactID: id, Body: []string{"Retry me", "Other"}[v]})
			if n == nil {
				return "", err
			}
			return n.ID, err
		}, func() int { return len(f.ws.Notes(id)) }},
		{"create ticket", func(key string, v int) (string, error) {
			tk, err := f.svc.CreateTicket(ctx, key, actions.CreateTicketRequest{ContactID: id,
				Title: []string{"Idempotent ticket", "Other title"}[v], TicketType: "Callback request"})
			if tk == nil {
				return "", err
			}
			return tk.ID, err
		}, func() int { return len(f.ws.Tickets(id)) }},
		{"create contact", func(key string, v int) (string, error) {
			r, err := f.svc.CreateContact(ctx, key, actions.CreateContactRequest{Name: "Ada Lovelace",
				Email: []string{"ada@example.org", "ada2@example.org"}[v]})
			if r.Contact == nil {
				return "", err
			}
			return r.Contact.ID, err
		}, func() int { return len(f.ws.Contacts()) }},
		{"log call", func(key string, v int) (string, error) {
			req := callReq
			req.DurationSeconds = []int{200, 30}[v]
			r, err := f.svc.LogCall(ctx, key, req)
			if r.Note == nil {
				return "", err
			}
			return r.Note.ID, err
		}, func() int { return len(f.ws.Notes(id)) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := "key-" + strings.ReplaceAll(c.name, " ", "-")
			before := c.made()
			first, err := c.run(key, 0)
			if err != nil || first == "" {
				t.Fatalf("first run: %q, %v", first, err)
			}
			f.ws.ResetCalls()
			again, err := c.run(key, 0)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if again != first {
				t.Errorf("retry answered %q, want the first result %q", again, first)
			}
			if got := f.ws.TotalCalls(); got != 0 {
				t.Errorf("the retry called Intercom %d times, want 0", got)
			}
			if got, want := c.made(), before+1; got != want {
				t.Errorf("%d objects after two runs, want %d", got, want)
			}
			_, err = c.run(key, 1)
			if got, want := sources.ErrorCode(err), sources.EConflict; got != want {
				t.Errorf("same key, other input: code %s (%v), want %s", got, err, want)
			}
			if got := writes(f.ws); got != 0 {
				t.Errorf("the refused input made %d writes, want 0", got)
			}
		})
	}
}

// An attempt whose write took effect but whose answer was lost is found on
// retry (reconciled), not made again.
func TestRetryAfterAnUncertainWriteFindsIt(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	req := actions.AddNoteRequest{ContactID: f.demo.ID, Body: "Asked about the renewal."}
	before := len(f.ws.Notes(f.demo.ID))
	f.ws.SetFaults(emulator.Faults{FailNext: 1, ErrorStatus: 502, FailAfterWrite: true,
		Endpoints: []string{emulator.EndpointCreateNote}})
	if _, err := f.svc.AddNote(ctx, "uncertain", req); err == nil {
		t.Fatal("the first attempt succeeded: the fault did not apply")
	}
	if got, want := len(f.ws.Notes(f.demo.ID)), before+1; got != want {
		t.Fatalf("after the failed attempt %d notes, want %d (the write must have taken effect)", got, want)
	}
	f.ws.SetFaults(emulator.Faults{})
	n, err := f.svc.AddNote(ctx, "uncertain", req)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	notes := f.ws.Notes(f.demo.ID)
	if got, want := len(notes), before+1; got != want {
		t.Errorf("after the retry %d notes, want %d", got, want)
	}
	if got, want := n.ID, notes[0].ID; got != want {
		t.Errorf("the retry answered note %s, want the one the first attempt wrote, %s", got, want)
	}
	if got := f.ws.Calls(emulator.EndpointCreateNote); got != 1 {
		t.Errorf("%d note writes in all, want 1", got)
	}
}

// createContact returns an existing contact with the same email or phone
// instead of a duplicate, unless asked for one.
func TestCreateContactAvoidsDuplicates(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	cases := []struct {
		name        string
		req         actions.CreateContactRequest
		wantCreated bool
		wantWrites  int
	}{
		{"same email, other case", actions.CreateContactRequest{Email: strings.ToUpper(f.demo.Email)}, false, 0},
		{"same phone, other format", actions.CreateContactRequest{Phone: "+1 415-555-0142"}, false, 0},
		// Intercom itself refuses a second user with one email: the
		// existing user is returned rather than the refusal.
		{"duplicate user allowed, refused upstream", actions.CreateContactRequest{Email: f.demo.Email, Role: "user", AllowDuplicate: true}, false, 1},
		{"duplicate lead allowed", actions.CreateContactRequest{Email: f.demo.Email, Role: "lead", AllowDuplicate: true}, true, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.ws.ResetCalls()
			before := len(f.ws.Contacts())
			r, err := f.svc.CreateContact(ctx, "", c.req)
			if err != nil || r.Contact == nil {
				t.Fatalf("CreateContact = %+v, %v", r, err)
			}
			if r.Created != c.wantCreated {
				t.Errorf("created = %v, want %v", r.Created, c.wantCreated)
			}
			if !c.wantCreated && r.Contact.ID != f.demo.ID {
				t.Errorf("returned contact %s, want the existing %s", r.Contact.ID, f.demo.ID)
			}
			if c.wantCreated && r.Contact.ID == f.demo.ID {
				t.Errorf("returned the existing contact, want a new one")
			}
			if got := f.ws.Calls(emulator.EndpointCreateContact); got != c.wantWrites {
				t.Errorf("%d creates sent to Intercom, want %d", got, c.wantWrites)
			}
			wantCount := before
			if c.wantCreated {
				wantCount++
			}
			if got := len(f.ws.Contacts()); got != wantCount {
				t.Errorf("%d contacts, want %d", got, wantCount)
			}
		})
	}
}

// A new contact is created as a lead by default, with its phone in E.164
// and its email lower-cased.
func TestCreateContactNormalisesInput(t *testing.T) {
	f := newFixture(t, nil)
	r, err := f.svc.CreateContact(context.Background(), "", actions.CreateContactRequest{
		Name: "  Ada Lovelace ", Email: "Ada@Example.org", Phone: "(202) 555-0177", DefaultCountry: "US"})
	if err != nil || r.Contact == nil || !r.Created {
		t.Fatalf("CreateContact = %+v, %v", r, err)
	}
	stored, ok := f.ws.Contact(r.Contact.ID)
	if !ok {
		t.Fatalf("contact %s is not in the workspace", r.Contact.ID)
	}
	if got, want := stored.Role, "lead"; got != want {
		t.Errorf("role %q, want %q", got, want)
	}
	if got, want := stored.Name, "Ada Lovelace"; got != want {
		t.Errorf("name %q, want %q", got, want)
	}
	if got, want := stored.Email, "ada@example.org"; got != want {
		t.Errorf("email %q, want %q", got, want)
	}
	if got, want := stored.Phone, "+12025550177"; got != want {
		t.Errorf("phone %q, want %q", got, want)
	}
}

func TestLogCall(t *testing.T) {
	t.Run("inbound, as a note on the caller", func(t *testing.T) {
		f := newFixture(t, nil)
		r, err := f.svc.LogCall(context.Background(), "", call(f.demo))
		if err != nil {
			t.Fatal(err)
		}
		if r.Contact == nil || r.Contact.ID != f.demo.ID || r.ContactCreated || r.Note == nil || r.Ticket != nil {
			t.Fatalf("LogCall = %+v, want a note on %s", r, f.demo.ID)
		}
		for _, want := range []string{"Inbound call", "+14155550142", "+18005550100", "3m20s", "answered",
			"https://talkdesk.example/rec/1", "Wants a callback on Monday."} {
			if !strings.Contains(r.Note.Body, want) {
				t.Errorf("the note does not say %q:\n%s", want, r.Note.Body)
			}
		}
		if notes := f.ws.Notes(f.demo.ID); len(notes) == 0 || notes[0].ID != r.Note.ID {
			t.Errorf("the workspace's newest note of the caller is not %s", r.Note.ID)
		}
	})
	t.Run("outbound, on the callee", func(t *testing.T) {
		f := newFixture(t, nil)
		req := call(f.demo)
		req.Direction, req.From, req.To = "outbound", "+1 800 555 0100", f.demo.Phone
		r, err := f.svc.LogCall(context.Background(), "", req)
		if err != nil {
			t.Fatal(err)
		}
		if r.Contact == nil || r.Contact.ID != f.demo.ID || r.Note == nil || !strings.Contains(r.Note.Body, "Outbound call") {
			t.Errorf("LogCall = %+v, want an outbound call note on %s", r, f.demo.ID)
		}
	})
	t.Run("unknown number", func(t *testing.T) {
		f := newFixture(t, nil)
		req := call(f.demo)
		req.From = "+1 202 555 0188"
		before := len(f.ws.Contacts())
		_, err := f.svc.LogCall(context.Background(), "", req)
		if got, want := problems(t, err), []string{"from:NOT_FOUND"}; !slices.Equal(got, want) {
			t.Errorf("problems = %v, want %v", got, want)
		}
		if got := writes(f.ws); got != 0 {
			t.Errorf("%d writes for an unknown caller, want 0", got)
		}
		req.CreateContactIfUnknown = true
		r, err := f.svc.LogCall(context.Background(), "", req)
		if err != nil {
			t.Fatal(err)
		}
		if !r.ContactCreated || r.Contact == nil || r.Note == nil {
			t.Fatalf("LogCall = %+v, want a created contact and a note", r)
		}
		lead, ok := f.ws.Contact(r.Contact.ID)
		if !ok || lead.Role != "lead" || lead.Phone != "+12025550188" {
			t.Errorf("created contact = %+v, want a lead with +12025550188", lead)
		}
		if got, want := len(f.ws.Contacts()), before+1; got != want {
			t.Errorf("%d contacts, want %d", got, want)
		}
		if notes := f.ws.Notes(r.Contact.ID); len(notes) != 1 || notes[0].ID != r.Note.ID {
			t.Errorf("the new lead's notes = %+v, want the call's note %s", notes, r.Note.ID)
		}
	})
	t.Run("as a ticket", func(t *testing.T) {
		f := newFixture(t, func(c *actions.Config) { c.CallLogAs, c.CallTicketType = "ticket", "Callback request" })
		before := len(f.ws.Tickets(f.demo.ID))
		req := call(f.demo)
		r, err := f.svc.LogCall(context.Background(), "", req)
		if err != nil {
			t.Fatal(err)
		}
		if r.Ticket == nil || r.Note != nil || r.Contact == nil || r.Contact.ID != f.demo.ID {
			t.Fatalf("LogCall = %+v, want a ticket on %s", r, f.demo.ID)
		}
		tickets := f.ws.Tickets(f.demo.ID)
		if got, want := len(tickets), before+1; got != want {
			t.Fatalf("%d tickets, want %d", got, want)
		}
		i := slices.IndexFunc(tickets, func(tk emulator.Ticket) bool { return tk.ID == r.Ticket.ID })
		if i < 0 {
			t.Fatalf("ticket %s is not in the workspace", r.Ticket.ID)
		}
		if got, want := tickets[i].TicketTypeID, "103"; got != want {
			t.Errorf("ticket type %s, want %s (Callback request)", got, want)
		}
		if !strings.HasPrefix(tickets[i].Title, "Inbound call") || !strings.Contains(tickets[i].Description, "Wants a callback on Monday.") {
			t.Errorf("ticket %q / %q, want the call's title and notes", tickets[i].Title, tickets[i].Description)
		}
		if got := f.ws.Calls(emulator.EndpointCreateNote); got != 0 {
			t.Errorf("%d notes written, want none when calls are logged as tickets", got)
		}
	})
}

// The cache is told of each change, with what the change made stale.
func TestInvalidatorToldOfEachChange(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	id := f.demo.ID
	cases := []struct {
		name string
		run  func() error
		// want is checked against the last change the invalidator heard.
		want func(sources.Changed) bool
		what string
	}{
		{"create contact", func() error {
			_, err := f.svc.CreateContact(ctx, "", actions.CreateContactRequest{Email: "new@example.org", Phone: "+1 202 555 0111"})
			return err
		}, func(ch sources.Changed) bool {
			return slices.Equal(ch.Emails, []string{"new@example.org"}) && slices.Equal(ch.Phones, []string{"+12025550111"})
		}, "the new email and phone"},
		{"update contact", func() error {
			_, err := f.svc.UpdateContact(ctx, "", actions.UpdateContactRequest{ID: id, Phone: ptr("+1 415 555 0199")})
			return err
		}, func(ch sources.Changed) bool {
			return slices.Equal(ch.ContactIDs, []string{id}) &&
				slices.Contains(ch.Phones, "+14155550142") && slices.Contains(ch.Phones, "+14155550199") &&
				slices.Equal(ch.RemovedPhones, []string{"+14155550142"}) && len(ch.RemovedEmails) == 0
		}, "the contact and its old and new phones, the old one removed (its lookup is wrong, not old)"},
		{"tag contact", func() error {
			_, err := f.svc.TagContact(ctx, "", actions.TagRequest{ContactID: id, Tag: "VIP caller"})
			return err
		}, func(ch sources.Changed) bool { return slices.Equal(ch.ContactIDs, []string{id}) }, "the contact"},
		{"untag contact", func() error {
			_, err := f.svc.UntagContact(ctx, "", actions.TagRequest{ContactID: id, Tag: "VIP caller"})
			return err
		}, func(ch sources.Changed) bool { return slices.Equal(ch.ContactIDs, []string{id}) }, "the contact"},
		{"add note", func() error {
			_, err := f.svc.AddNote(ctx, "", actions.AddNoteRequest{ContactID: id, Body: "Called about billing."})
			return err
		}, func(ch sources.Changed) bool { return slices.Equal(ch.ContactIDs, []string{id}) }, "the contact"},
		{"create ticket", func() error {
			_, err := f.svc.CreateTicket(ctx, "", actions.CreateTicketRequest{ContactID: id, Title: "Refund", TicketType: "102"})
			return err
		}, func(ch sources.Changed) bool { return slices.Equal(ch.ContactIDs, []string{id}) }, "the contact"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.inv.reset()
			if err := c.run(); err != nil {
				t.Fatal(err)
			}
			got := f.inv.all()
			if len(got) == 0 {
				t.Fatalf("the invalidator heard nothing, want %s", c.what)
			}
			if last := got[len(got)-1]; !c.want(last) {
				t.Errorf("invalidated %+v, want %s", last, c.what)
			}
		})
	}
}

// Tagging attaches the tag (creating it by name) and returns the contact
// as it now is; untagging removes it.
func TestTagAndUntag(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	id := f.demo.ID
	r, err := f.svc.TagContact(ctx, "", actions.TagRequest{ContactID: id, Tag: "Renewal 2026"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Tag == nil || r.Tag.Name != "Renewal 2026" || r.Contact == nil {
		t.Fatalf("TagContact = %+v", r)
	}
	stored, _ := f.ws.Contact(id)
	if !slices.Contains(stored.TagIDs, r.Tag.ID) {
		t.Errorf("the contact's tags %v lack %s", stored.TagIDs, r.Tag.ID)
	}
	if !slices.ContainsFunc(r.Contact.Tags, func(tg sources.Tag) bool { return tg.ID == r.Tag.ID }) {
		t.Errorf("the returned contact's tags %v lack %s", r.Contact.Tags, r.Tag.ID)
	}
	if _, err := f.svc.UntagContact(ctx, "", actions.TagRequest{ContactID: id, Tag: "Renewal 2026"}); err != nil {
		t.Fatal(err)
	}
	stored, _ = f.ws.Contact(id)
	if slices.Contains(stored.TagIDs, r.Tag.ID) {
		t.Errorf("the contact still has tag %s", r.Tag.ID)
	}
}

// A note is written by the token's admin unless another is named, as HTML
// that keeps the agent's line breaks and escapes markup.
func TestAddNoteAuthorAndBody(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	admins := f.ws.Admins()
	if len(admins) < 2 {
		t.Fatalf("the emulator has %d admins, want at least 2", len(admins))
	}
	n, err := f.svc.AddNote(ctx, "", actions.AddNoteRequest{ContactID: f.demo.ID, Body: "Line one\nLine <two>"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n.AuthorID, f.ws.Me().ID; got != want {
		t.Errorf("author %s, want the token's admin %s", got, want)
	}
	if got, want := n.Body, "<p>Line one<br>Line &lt;two&gt;</p>"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
	other := admins[1].ID
	if other == f.ws.Me().ID {
		other = admins[0].ID
	}
	n, err = f.svc.AddNote(ctx, "", actions.AddNoteRequest{ContactID: f.demo.ID, Body: "By someone else", AdminID: other})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n.AuthorID, other; got != want {
		t.Errorf("author %s, want %s", got, want)
	}
}

// The catalogue names every action the Service runs, each with its
// mandatory inputs.
func TestCatalog(t *testing.T) {
	want := map[string][]string{
		actions.ActionCreateContact: nil,
		actions.ActionUpdateContact: nil,
		actions.ActionTagContact:    {"tag"},
		actions.ActionUntagContact:  {"tag"},
		actions.ActionAddNote:       {"body"},
		actions.ActionCreateTicket:  {"title", "ticket_type"},
		actions.ActionLogCall:       {"from", "to", "direction", "started_at", "duration"},
	}
	got := map[string][]string{}
	for _, d := range actions.Catalog() {
		if d.DisplayName == "" || d.Description == "" {
			t.Errorf("%s lacks a display name or description", d.Name)
		}
		var mandatory []string
		for _, in := range d.Inputs {
			if in.Mandatory {
				mandatory = append(mandatory, in.Key)
			}
		}
		got[d.Name] = mandatory
	}
	if len(got) != len(want) {
		t.Errorf("the catalogue has %d actions, want %d", len(got), len(want))
	}
	for name, keys := range want {
		if g, ok := got[name]; !ok || !slices.Equal(g, keys) {
			t.Errorf("%s: mandatory inputs %v (listed %v), want %v", name, g, ok, keys)
		}
	}
}
