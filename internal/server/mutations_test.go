package server

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

type userErrorJSON struct {
	Field   []string
	Message string
	Code    string
}

func fieldOf(errs []userErrorJSON) []string {
	var out []string
	for _, e := range errs {
		out = append(out, strings.Join(e.Field, ".")+":"+e.Code)
	}
	return out
}

const createContactMutation = `mutation($input: CreateContactInput!) {
	createContact(input: $input) { created contact { id name phone email role } userErrors { field message code } } }`

type createContactJSON struct {
	CreateContact struct {
		Created bool
		Contact *struct {
			ID, Name, Role string
			Phone, Email   *string
		}
		UserErrors []userErrorJSON
	}
}

// A new caller is created, found by phone right after (the negative cache
// entry of the earlier miss is dropped), and not created twice.
func TestCreateContact(t *testing.T) {
	env := newTestEnv(t)
	ws := env.Intercom.Workspace
	var miss struct{ ContactsByPhone []contactJSON }
	env.mustQuery(t, `{ contactsByPhone(phone: "+1 202 555 0177") { id } }`, nil, &miss)
	if len(miss.ContactsByPhone) != 0 {
		t.Fatal("the number is already known")
	}
	before := len(ws.Contacts())
	input := map[string]any{"name": "Ada Lovelace", "phone": "(202) 555-0177", "defaultCountry": "US", "email": "ada@example.org"}
	var data createContactJSON
	env.mustQuery(t, createContactMutation, map[string]any{"input": input}, &data)
	got := data.CreateContact
	if !got.Created || got.Contact == nil || got.Contact.Role != "LEAD" || deref(got.Contact.Phone) != "+12025550177" || len(got.UserErrors) != 0 {
		t.Fatalf("createContact = %+v", got)
	}
	if n := len(ws.Contacts()); n != before+1 {
		t.Errorf("the workspace has %d contacts, want %d", n, before+1)
	}
	env.mustQuery(t, `{ contactsByPhone(phone: "+1 202 555 0177") { id } }`, nil, &miss)
	if len(miss.ContactsByPhone) != 1 || miss.ContactsByPhone[0].ID != got.Contact.ID {
		t.Errorf("after creation, contactsByPhone = %+v, want the new contact", miss.ContactsByPhone)
	}

	// The same person again: returned, not created.
	var again createContactJSON
	env.mustQuery(t, createContactMutation, map[string]any{"input": map[string]any{"email": "ADA@example.org"}}, &again)
	if again.CreateContact.Created || again.CreateContact.Contact == nil || again.CreateContact.Contact.ID != got.Contact.ID {
		t.Errorf("duplicate email: %+v, want the existing contact and created false", again.CreateContact)
	}
	if n := len(ws.Contacts()); n != before+1 {
		t.Errorf("a duplicate was created: %d contacts", n)
	}
}

// A user created in Intercom after this server cached "no contact with this
// email" (by another app, or a concurrent createContact): the create is
// refused as a duplicate, and the existing user is returned, not a
// conflict error from the stale negative entry.
func TestCreateContactAfterCachedMiss(t *testing.T) {
	env := newTestEnv(t)
	ws := env.Intercom.Workspace
	var miss struct{ ContactsByEmail []contactJSON }
	env.mustQuery(t, `{ contactsByEmail(email: "grace@example.org") { id } }`, nil, &miss)
	if len(miss.ContactsByEmail) != 0 {
		t.Fatal("the email is already known")
	}
	existing := ws.AddContact(emulator.Contact{Role: "user", Name: "Grace Hopper", Email: "grace@example.org"})
	before := len(ws.Contacts())

	var data createContactJSON
	input := map[string]any{"name": "Grace Hopper", "email": "grace@example.org", "role": "USER"}
	env.mustQuery(t, createContactMutation, map[string]any{"input": input}, &data)
	got := data.CreateContact
	if got.Created || got.Contact == nil || got.Contact.ID != existing.ID || len(got.UserErrors) != 0 {
		t.Fatalf("createContact = %+v, want the existing user %s and created false", got, existing.ID)
	}
	if n := len(ws.Contacts()); n != before {
		t.Errorf("the workspace has %d contacts, want %d", n, before)
	}
}

func TestCreateContactValidation(t *testing.T) {
	env := newTestEnv(t)
	ws := env.Intercom.Workspace
	cases := []struct {
		input map[string]any
		want  string
	}{
		{map[string]any{"name": "No identifiers"}, "input.email:BAD_USER_INPUT"},
		{map[string]any{"email": "not an email"}, "input.email:BAD_USER_INPUT"},
		{map[string]any{"phone": "12"}, "input.phone:BAD_USER_INPUT"},
		{map[string]any{"phone": "415 555 0100", "defaultCountry": "USA"}, "input.defaultCountry:BAD_USER_INPUT"},
		{map[string]any{"email": "x@example.org", "name": strings.Repeat("n", 300)}, "input.name:BAD_USER_INPUT"},
		{map[string]any{"email": "x@example.org", "customAttributes": map[string]any{"": 1}}, "input.customAttributes:BAD_USER_INPUT"},
	}
	ws.ResetCalls()
	for _, c := range cases {
		var data createContactJSON
		env.mustQuery(t, createContactMutation, map[string]any{"input": c.input}, &data)
		if got := fieldOf(data.CreateContact.UserErrors); !slices.Contains(got, c.want) || data.CreateContact.Contact != nil {
			t.Errorf("input %v: userErrors %v, want %s", c.input, got, c.want)
		}
	}
	if n := ws.Calls("POST /contacts"); n != 0 {
		t.Errorf("invalid input reached Intercom: %d creates", n)
	}
}

func TestUpdateTagAndNote(t *testing.T) {
	env := newTestEnv(t)
	ws := env.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	// Read it once so that the cache holds the old name.
	env.mustQuery(t, `query($id: ID!) { contact(id: $id) { name } }`, map[string]any{"id": demo.ID}, nil)

	var upd struct {
		UpdateContact struct {
			Contact    *struct{ Name string }
			UserErrors []userErrorJSON
		}
	}
	env.mustQuery(t, `mutation($id: ID!) { updateContact(input: {id: $id, name: "Maria G. Garcia"}) { contact { name } userErrors { field code message } } }`,
		map[string]any{"id": demo.ID}, &upd)
	if upd.UpdateContact.Contact == nil || upd.UpdateContact.Contact.Name != "Maria G. Garcia" {
		t.Fatalf("updateContact = %+v", upd.UpdateContact)
	}
	var read struct{ Contact struct{ Name string } }
	env.mustQuery(t, `query($id: ID!) { contact(id: $id) { name } }`, map[string]any{"id": demo.ID}, &read)
	if read.Contact.Name != "Maria G. Garcia" {
		t.Errorf("after the update, contact.name = %q (stale cache?)", read.Contact.Name)
	}
	env.mustQuery(t, `mutation { updateContact(input: {id: "nope", name: "X"}) { userErrors { field code message } } }`, nil, &upd)
	if got := fieldOf(upd.UpdateContact.UserErrors); !slices.Equal(got, []string{"input.id:NOT_FOUND"}) {
		t.Errorf("unknown contact: %v", got)
	}

	var tag struct {
		TagContact struct {
			Tag     *struct{ Name string }
			Contact *struct{ Tags []struct{ Name string } }
		}
	}
	env.mustQuery(t, `mutation($id: ID!) { tagContact(input: {contactId: $id, tag: "Called back"}) { tag { name } contact { tags { name } } } }`,
		map[string]any{"id": demo.ID}, &tag)
	names := func() []string {
		var out []string
		for _, t := range tag.TagContact.Contact.Tags {
			out = append(out, t.Name)
		}
		return out
	}
	if tag.TagContact.Tag == nil || !slices.Contains(names(), "Called back") {
		t.Errorf("tagContact = %+v", tag.TagContact)
	}
	var untag struct {
		UntagContact struct {
			Contact    *struct{ Tags []struct{ Name string } }
			UserErrors []userErrorJSON
		}
	}
	env.mustQuery(t, `mutation($id: ID!) { untagContact(input: {contactId: $id, tag: "Called back"}) { contact { tags { name } } userErrors { field code message } } }`,
		map[string]any{"id": demo.ID}, &untag)
	for _, tg := range untag.UntagContact.Contact.Tags {
		if tg.Name == "Called back" {
			t.Error("the tag is still attached after untagContact")
		}
	}
	env.mustQuery(t, `mutation($id: ID!) { untagContact(input: {contactId: $id, tag: "No such tag"}) { userErrors { field code message } } }`,
		map[string]any{"id": demo.ID}, &untag)
	if got := fieldOf(untag.UntagContact.UserErrors); !slices.Equal(got, []string{"input.tag:NOT_FOUND"}) {
		t.Errorf("untag unknown tag: %v", got)
	}

	// A note shows in the contact's history at once.
	env.mustQuery(t, historyQuery, map[string]any{"id": demo.ID, "types": []string{"NOTE"}, "first": 100}, nil)
	var note struct {
		AddNote struct {
			Note       *struct{ ID, Body string }
			UserErrors []userErrorJSON
		}
	}
	env.mustQuery(t, `mutation($id: ID!) { addNote(input: {contactId: $id, body: "Called about the invoice.\nWill call back."}) { note { id body } userErrors { field code message } } }`,
		map[string]any{"id": demo.ID}, &note)
	if note.AddNote.Note == nil || !strings.Contains(note.AddNote.Note.Body, "Called about the invoice.<br>Will call back.") {
		t.Fatalf("addNote = %+v", note.AddNote)
	}
	var hist struct{ Interactions historyJSON }
	env.mustQuery(t, historyQuery, map[string]any{"id": demo.ID, "types": []string{"NOTE"}, "first": 100}, &hist)
	if len(hist.Interactions.Nodes) == 0 || hist.Interactions.Nodes[0].ID != note.AddNote.Note.ID {
		t.Errorf("the new note is not first in the history (stale cache?)")
	}
	env.mustQuery(t, `mutation($id: ID!) { addNote(input: {contactId: $id, body: "x", adminId: "999"}) { userErrors { field code message } } }`,
		map[string]any{"id": demo.ID}, &note)
	if got := fieldOf(note.AddNote.UserErrors); !slices.Equal(got, []string{"input.adminId:NOT_FOUND"}) {
		t.Errorf("unknown admin: %v", got)
	}
}

const createTicketMutation = `mutation($input: CreateTicketInput!) {
	createTicket(input: $input) { ticket { id title state } userErrors { field code message } } }`

type createTicketJSON struct {
	CreateTicket struct {
		Ticket     *struct{ ID, Title string }
		UserErrors []userErrorJSON
	}
}

func ticketsTitled(ws *emulator.Workspace, contactID, title string) int {
	n := 0
	for _, tk := range ws.Tickets(contactID) {
		if tk.Title == title {
			n++
		}
	}
	return n
}

func TestCreateTicket(t *testing.T) {
	env := newTestEnv(t)
	ws := env.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	var data createTicketJSON
	env.mustQuery(t, createTicketMutation, map[string]any{"input": map[string]any{
		"contactId": demo.ID, "title": "Scanner firmware", "description": "Asked for the update.", "ticketType": "bug report"}}, &data)
	if data.CreateTicket.Ticket == nil || ticketsTitled(ws, demo.ID, "Scanner firmware") != 1 {
		t.Fatalf("createTicket = %+v", data.CreateTicket)
	}
	env.mustQuery(t, createTicketMutation, map[string]any{"input": map[string]any{
		"contactId": demo.ID, "title": "X", "ticketType": "Complaint"}}, &data)
	errs := data.CreateTicket.UserErrors
	if len(errs) != 1 || errs[0].Code != "BAD_USER_INPUT" || !strings.Contains(errs[0].Message, "Callback request") {
		t.Errorf("unknown ticket type: %+v, want an error that lists the types", errs)
	}
}

func TestLogCall(t *testing.T) {
	env := newTestEnv(t)
	ws := env.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	const m = `mutation($input: LogCallInput!) { logCall(input: $input) {
		contactCreated contact { id phone } note { id body } userErrors { field code message } } }`
	var data struct {
		LogCall struct {
			ContactCreated bool
			Contact        *struct{ ID string }
			Note           *struct{ ID, Body string }
			UserErrors     []userErrorJSON
		}
	}
	call := map[string]any{"from": "(415) 555-0142", "to": "+1 800 555 0100", "defaultCountry": "US", "direction": "INBOUND",
		"startedAt": time.Now().Add(-10 * time.Minute).UTC().Format(time.RFC3339), "durationSeconds": 200,
		"disposition": "answered", "recordingUrl": "https://talkdesk.example/rec/1", "notes": "Wants a callback on Monday."}
	env.mustQuery(t, m, map[string]any{"input": call}, &data)
	lc := data.LogCall
	if lc.Contact == nil || lc.Contact.ID != demo.ID || lc.ContactCreated || lc.Note == nil {
		t.Fatalf("logCall = %+v", lc)
	}
	for _, want := range []string{"Inbound call", "+14155550142", "3m20s", "answered", "https://talkdesk.example/rec/1", "Wants a callback on Monday."} {
		if !strings.Contains(lc.Note.Body, want) {
			t.Errorf("the call note does not say %q:\n%s", want, lc.Note.Body)
		}
	}

	unknown := map[string]any{"from": "+1 202 555 0188", "to": "+1 800 555 0100", "direction": "INBOUND",
		"startedAt": time.Now().UTC().Format(time.RFC3339), "durationSeconds": 0, "disposition": "missed"}
	env.mustQuery(t, m, map[string]any{"input": unknown}, &data)
	if got := fieldOf(data.LogCall.UserErrors); !slices.Equal(got, []string{"input.from:NOT_FOUND"}) {
		t.Errorf("unknown caller: %v", got)
	}
	unknown["createContactIfUnknown"] = true
	env.mustQuery(t, m, map[string]any{"input": unknown}, &data)
	if !data.LogCall.ContactCreated || data.LogCall.Contact == nil || data.LogCall.Note == nil {
		t.Errorf("unknown caller with createContactIfUnknown: %+v", data.LogCall)
	}
	// A bad defaultCountry is one problem, though both numbers use it.
	bad := map[string]any{"from": "415 555 0142", "to": "800 555 0100", "defaultCountry": "XX", "direction": "INBOUND",
		"startedAt": time.Now().UTC().Format(time.RFC3339), "durationSeconds": 0}
	env.mustQuery(t, m, map[string]any{"input": bad}, &data)
	if got := fieldOf(data.LogCall.UserErrors); !slices.Equal(got, []string{"input.defaultCountry:BAD_USER_INPUT"}) {
		t.Errorf("bad defaultCountry: %v", got)
	}
}

func TestIdempotencyKeys(t *testing.T) {
	env := newTestEnv(t)
	ws := env.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	input := map[string]any{"idempotencyKey": "call-42-ticket", "contactId": demo.ID, "title": "Idempotent ticket", "ticketType": "Callback request"}
	var first, second createTicketJSON
	env.mustQuery(t, createTicketMutation, map[string]any{"input": input}, &first)
	ws.ResetCalls()
	env.mustQuery(t, createTicketMutation, map[string]any{"input": input}, &second)
	if first.CreateTicket.Ticket == nil || second.CreateTicket.Ticket == nil || first.CreateTicket.Ticket.ID != second.CreateTicket.Ticket.ID {
		t.Errorf("repeat returned another ticket: %+v vs %+v", first.CreateTicket.Ticket, second.CreateTicket.Ticket)
	}
	// Answered from the record alone: not even the input's checks (the
	// ticket type, the contact) reach Intercom, so a retry is answered
	// while the budget is spent or Intercom is down.
	if n := ws.TotalCalls(); n != 0 {
		t.Errorf("the repeat called Intercom %d times, want 0", n)
	}
	input["title"] = "Another title"
	r := env.query(t, createTicketMutation, map[string]any{"input": input}, nil)
	if r.code() != "CONFLICT" {
		t.Errorf("same key, other input: code %q, want CONFLICT (%+v)", r.code(), r.Errors)
	}

	// The bridge's derived keys are a namespace of their own: a GraphQL
	// caller cannot claim the key of Talkdesk's coming retry.
	var reserved createTicketJSON
	input["idempotencyKey"] = "talkdesk:" + strings.Repeat("ab", 32)
	env.mustQuery(t, createTicketMutation, map[string]any{"input": input}, &reserved)
	if got := fieldOf(reserved.CreateTicket.UserErrors); reserved.CreateTicket.Ticket != nil || !slices.Equal(got, []string{"input.idempotencyKey:BAD_USER_INPUT"}) {
		t.Errorf("a key in the bridge's namespace: ticket %+v, errors %v; want input.idempotencyKey:BAD_USER_INPUT", reserved.CreateTicket.Ticket, got)
	}
}

// The test: one createTicket fired 20 times at once with one key,
// then 20 times after an upstream timeout that did take effect. Exactly one
// ticket exists each time.
func TestCreateTicketIsSafeToRetry(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "INTERCOM_TIMEOUT", "1s")
	ws := env.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	// Each of n clients sends the request, retrying (as a client does) until
	// it is answered with a ticket.
	fire := func(key, title string, n int) []createTicketJSON {
		out := make([]createTicketJSON, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 20 {
					env.query(t, createTicketMutation, map[string]any{"input": map[string]any{
						"idempotencyKey": key, "contactId": demo.ID, "title": title, "ticketType": "Callback request"}}, &out[i])
					if out[i].CreateTicket.Ticket != nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}()
		}
		wg.Wait()
		return out
	}

	results := fire("burst-key", "Burst ticket", 20)
	ids := map[string]bool{}
	for _, r := range results {
		if r.CreateTicket.Ticket != nil {
			ids[r.CreateTicket.Ticket.ID] = true
		}
	}
	if len(ids) != 1 || ticketsTitled(ws, demo.ID, "Burst ticket") != 1 || slices.ContainsFunc(results, func(r createTicketJSON) bool { return r.CreateTicket.Ticket == nil }) {
		t.Errorf("20 concurrent attempts: %d ticket ids answered, %d tickets exist; want 1 and 1", len(ids), ticketsTitled(ws, demo.ID, "Burst ticket"))
	}

	// Intercom creates the ticket but answers too late: the client times out.
	ws.SetFaults(emulator.Faults{SlowRate: 1, SlowDelay: 3 * time.Second, SlowAfterWrite: true, Endpoints: []string{"POST /tickets"}})
	var timedOut createTicketJSON
	r := env.query(t, createTicketMutation, map[string]any{"input": map[string]any{
		"idempotencyKey": "timeout-key", "contactId": demo.ID, "title": "Timed-out ticket", "ticketType": "Callback request"}}, &timedOut)
	if r.code() != "UPSTREAM_UNAVAILABLE" {
		t.Fatalf("first attempt: code %q, want UPSTREAM_UNAVAILABLE (%+v)", r.code(), r.Errors)
	}
	time.Sleep(3 * time.Second) // the emulator finishes its late answer
	ws.SetFaults(emulator.Faults{})
	if n := ticketsTitled(ws, demo.ID, "Timed-out ticket"); n != 1 {
		t.Fatalf("the timed-out attempt created %d tickets, want 1 (the fault must apply after the write)", n)
	}
	results = fire("timeout-key", "Timed-out ticket", 20)
	ids = map[string]bool{}
	for _, r := range results {
		if r.CreateTicket.Ticket != nil {
			ids[r.CreateTicket.Ticket.ID] = true
		}
	}
	if n := ticketsTitled(ws, demo.ID, "Timed-out ticket"); n != 1 || len(ids) != 1 {
		t.Errorf("20 retries after the timeout: %d tickets exist, %d ids answered; want 1 and 1", n, len(ids))
	}
}

func TestActionCatalogue(t *testing.T) {
	env := newTestEnv(t)
	var data struct {
		Actions []struct {
			Name   string
			Inputs []struct {
				Key       string
				Mandatory bool
			}
		}
	}
	env.mustQuery(t, `{ actions { name displayName description inputs { key name mandatory } } }`, nil, &data)
	var names []string
	for _, a := range data.Actions {
		names = append(names, a.Name)
	}
	for _, want := range []string{"create_contact", "update_contact", "tag_contact", "untag_contact", "add_note", "create_ticket", "log_call"} {
		if !slices.Contains(names, want) {
			t.Errorf("actions lack %s: %v", want, names)
		}
	}
}
