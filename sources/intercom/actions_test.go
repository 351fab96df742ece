package intercom_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the DST test needs America/New_York wherever it runs

	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/intercom"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// The client's write calls (sources.ActionExecutor) against the emulator
// over real HTTP.

var actionsNow = time.Date(2026, time.March, 18, 15, 30, 0, 0, time.UTC)

// startActions runs an emulator on a settable clock (at actionsNow) and a
// client for it.
func startActions(t *testing.T, opts emulator.Options, cfg intercom.Config) (*intercom.Client, *emulator.Workspace, *emulator.Clock) {
	t.Helper()
	clock := emulator.NewClock(actionsNow)
	opts.Token, opts.Now = token, clock.Now
	em, err := emulator.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	cfg.Token, cfg.BaseURL = token, em.URL
	c, err := intercom.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, em.Workspace, clock
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := sources.ErrorCode(err); got != code {
		t.Errorf("%s: err %v (code %s), want %s", what, err, got, code)
	}
}

func TestCreateContactAndAttachCompany(t *testing.T) {
	c, ws := start(t)
	ctx := context.Background()
	company := ws.Companies()[3]
	got, err := c.CreateContact(ctx, sources.NewContact{Role: "user", Name: "Ada Lovelace", Email: "ada@analytical.example",
		Phone: "+14155550188", ExternalID: "usr_ada", CompanyID: company.ID, CustomAttributes: map[string]any{"job_title": "Buyer"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID == "" || got.Role != "user" || got.Name != "Ada Lovelace" || !slices.Equal(got.Emails, []string{"ada@analytical.example"}) ||
		!slices.Equal(got.Phones, []string{"+14155550188"}) || got.ExternalID != "usr_ada" || got.Title != "Buyer" ||
		!slices.Equal(got.CompanyIDs, []string{company.ID}) || got.WorkspaceID != emulator.DefaultWorkspaceID || got.URL == "" {
		t.Errorf("created contact: %+v", got)
	}
	if got.CreatedAt.IsZero() || !got.CreatedAt.Equal(got.UpdatedAt) {
		t.Errorf("created_at %v, updated_at %v", got.CreatedAt, got.UpdatedAt)
	}
	if stored, ok := ws.Contact(got.ID); !ok || !slices.Equal(stored.CompanyIDs, []string{company.ID}) || stored.FormattedPhone != "+14155550188" {
		t.Errorf("emulator holds %+v (%v)", stored, ok)
	}
	// The product finds it by phone at once (the emulator indexes at once).
	byPhone, err := c.ContactsByPhones(ctx, []string{"+14155550188"})
	if err != nil || len(byPhone["+14155550188"]) != 1 || byPhone["+14155550188"][0].ID != got.ID {
		t.Errorf("ContactsByPhones: %v, %v", byPhone, err)
	}
	for endpoint, want := range map[string]int{emulator.EndpointCreateContact: 1, emulator.EndpointAttachCompany: 1} {
		if n := ws.Calls(endpoint); n != want {
			t.Errorf("Calls(%s) = %d, want %d", endpoint, n, want)
		}
	}

	t.Run("without a company: one call", func(t *testing.T) {
		ws.ResetCalls()
		lead, err := c.CreateContact(ctx, sources.NewContact{Role: "lead", Phone: "+442079460999"})
		if err != nil || lead.Role != "lead" || ws.TotalCalls() != 1 {
			t.Errorf("lead: %+v, %v, %d calls", lead, err, ws.TotalCalls())
		}
	})
	t.Run("an unknown company: NOT_FOUND that says the contact exists", func(t *testing.T) {
		n := len(ws.Contacts())
		_, err := c.CreateContact(ctx, sources.NewContact{Role: "lead", Email: "lead@x.example", CompanyID: "123"})
		wantCode(t, "unknown company", err, sources.ENotFound)
		if msg := sources.ErrorMessage(err); !strings.Contains(msg, "the contact was created (id ") || !strings.Contains(msg, "company 123") {
			t.Errorf("message %q does not say the contact was created", msg)
		}
		if len(ws.Contacts()) != n+1 {
			t.Errorf("%d contacts, want %d", len(ws.Contacts()), n+1)
		}
	})
	t.Run("a duplicate user email is a CONFLICT", func(t *testing.T) {
		_, err := c.CreateContact(ctx, sources.NewContact{Role: "user", Email: strings.ToUpper(emulator.DemoCallerEmail)})
		wantCode(t, "duplicate email", err, sources.EConflict)
		if !strings.Contains(sources.ErrorMessage(err), emulator.DemoCallerID) {
			t.Errorf("message %q does not name the existing contact", sources.ErrorMessage(err))
		}
		_, err = c.CreateContact(ctx, sources.NewContact{Role: "user", Email: "new@x.example", ExternalID: emulator.DemoCallerExternalID})
		wantCode(t, "duplicate external_id", err, sources.EConflict)
		if _, err := c.CreateContact(ctx, sources.NewContact{Role: "lead", Email: emulator.DemoCallerEmail}); err != nil {
			t.Errorf("a lead with a user's email: %v", err)
		}
	})
	t.Run("bad input is BAD_USER_INPUT", func(t *testing.T) {
		_, err := c.CreateContact(ctx, sources.NewContact{Role: "admin", Email: "x@y.example"})
		wantCode(t, "bad role", err, sources.EBadUserInput)
		_, err = c.CreateContact(ctx, sources.NewContact{Email: "x@y.example", CustomAttributes: map[string]any{"shoe_size": 42}})
		wantCode(t, "unknown custom attribute", err, sources.EBadUserInput)
		var e *sources.Error
		if asError(err, &e) && e.Field != "custom_attributes" {
			t.Errorf("field %q, want custom_attributes", e.Field)
		}
	})
}

func TestUpdateContact(t *testing.T) {
	c, ws, clock := startActions(t, emulator.Options{Contacts: 40}, intercom.Config{})
	ctx := context.Background()
	var target emulator.Contact
	for _, x := range ws.Contacts()[20:] {
		if x.Role == "user" {
			target = x
			break
		}
	}
	clock.Set(actionsNow.Add(time.Hour))
	name, phone := "Renamed Person", "+14155550166"
	got, err := c.UpdateContact(ctx, target.ID, sources.ContactChanges{Name: &name, Phone: &phone,
		CustomAttributes: map[string]any{"plan": "Gold"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != target.ID || got.Name != name || !slices.Equal(got.Phones, []string{phone}) || got.CustomAttributes["plan"] != "Gold" ||
		!got.UpdatedAt.Equal(actionsNow.Add(time.Hour)) {
		t.Errorf("updated: %+v", got)
	}
	if stored, _ := ws.Contact(target.ID); stored.Name != name || stored.FormattedPhone != phone {
		t.Errorf("emulator holds %+v", stored)
	}

	_, err = c.UpdateContact(ctx, "000000000000000000000000", sources.ContactChanges{Name: &name})
	wantCode(t, "unknown contact", err, sources.ENotFound)

	email := emulator.DemoCallerEmail
	_, err = c.UpdateContact(ctx, target.ID, sources.ContactChanges{Email: &email})
	wantCode(t, "another user's email", err, sources.EConflict)

	// PUT is idempotent: the client retries it on a 5xx.
	ws.ResetCalls()
	ws.SetFaults(emulator.Faults{FailNext: 1, ErrorStatus: 503})
	again := "Renamed Again"
	if got, err := c.UpdateContact(ctx, target.ID, sources.ContactChanges{Name: &again}); err != nil || got.Name != again {
		t.Errorf("update after a 503: %+v, %v", got, err)
	}
	if n := ws.Calls(emulator.EndpointUpdateContact); n != 2 {
		t.Errorf("Calls(%s) = %d, want 2 (a retry)", emulator.EndpointUpdateContact, n)
	}
}

func TestTagAndUntagContact(t *testing.T) {
	c, ws := start(t)
	ctx := context.Background()
	id := emulator.DemoCallerID
	tags := len(ws.Tags())

	tag, err := c.TagContact(ctx, id, "Called back")
	if err != nil {
		t.Fatal(err)
	}
	if tag.ID == "" || tag.Name != "Called back" || len(ws.Tags()) != tags+1 {
		t.Errorf("new tag %+v; the workspace has %d tags, want %d", tag, len(ws.Tags()), tags+1)
	}
	// Tagging twice, in any case, is harmless: the same tag, attached once.
	again, err := c.TagContact(ctx, id, "CALLED BACK")
	if err != nil || again.ID != tag.ID || again.Name != "Called back" {
		t.Errorf("tag again: %+v, %v", again, err)
	}
	demo, _ := ws.Contact(id)
	if n := len(slices.DeleteFunc(slices.Clone(demo.TagIDs), func(x string) bool { return x != tag.ID })); n != 1 || len(ws.Tags()) != tags+1 {
		t.Errorf("contact carries the tag %d times; %d tags", n, len(ws.Tags()))
	}
	// The seeded VIP tag by another case: found, not created.
	if vip, err := c.TagContact(ctx, ws.Contacts()[30].ID, "vip"); err != nil || vip.Name != "VIP" || len(ws.Tags()) != tags+1 {
		t.Errorf("tag vip: %+v, %v", vip, err)
	}

	removed, err := c.UntagContact(ctx, id, "called back")
	if err != nil || removed.ID != tag.ID {
		t.Fatalf("untag: %+v, %v", removed, err)
	}
	if demo, _ := ws.Contact(id); slices.Contains(demo.TagIDs, tag.ID) {
		t.Errorf("tag still attached: %v", demo.TagIDs)
	}

	_, err = c.UntagContact(ctx, id, "No such tag")
	wantCode(t, "untag an unknown tag name", err, sources.ENotFound)
	_, err = c.UntagContact(ctx, id, "Called back")
	wantCode(t, "untag a tag the contact lacks", err, sources.ENotFound)
	_, err = c.TagContact(ctx, "000000000000000000000000", "VIP")
	wantCode(t, "tag an unknown contact", err, sources.ENotFound)
	_, err = c.TagContact(ctx, id, "   ")
	wantCode(t, "tag with a blank name", err, sources.EBadUserInput)
}

func TestAddNoteAndNotesSince(t *testing.T) {
	c, ws, clock := startActions(t, emulator.Options{}, intercom.Config{})
	ctx := context.Background()
	id := emulator.DemoCallerID
	admin := ws.Admins()[2]
	since := actionsNow.Add(-5 * time.Minute)
	ws.AddNote(emulator.Note{ContactID: id, Body: "<p>older</p>", CreatedAt: since.Add(-time.Second)})
	atSince := ws.AddNote(emulator.Note{ContactID: id, Body: "<p>at since</p>", CreatedAt: since})

	n, err := c.AddNote(ctx, sources.NewNote{ContactID: id, Body: "<p>Called back, left a voicemail.</p>", AdminID: admin.ID})
	if err != nil {
		t.Fatal(err)
	}
	if n.ID == "" || n.ContactID != id || n.AuthorID != admin.ID || n.Body != "<p>Called back, left a voicemail.</p>" || !n.CreatedAt.Equal(actionsNow) {
		t.Errorf("note: %+v", n)
	}
	clock.Set(actionsNow.Add(time.Minute))
	mine, err := c.AddNote(ctx, sources.NewNote{ContactID: id, Body: "<p>By the token's admin.</p>"})
	if err != nil || mine.AuthorID != ws.Me().ID {
		t.Errorf("note without an admin: %+v, %v", mine, err)
	}

	got, err := c.NotesSince(ctx, id, since)
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	for _, x := range got {
		gotIDs = append(gotIDs, x.ID)
		if x.CreatedAt.Before(since) {
			t.Errorf("note %s of %v is older than %v", x.ID, x.CreatedAt, since)
		}
	}
	if want := []string{mine.ID, n.ID, atSince.ID}; !slices.Equal(gotIDs, want) {
		t.Errorf("NotesSince: %v, want %v (newest first)", gotIDs, want)
	}
	all, err := c.NotesSince(ctx, id, time.Time{})
	if err != nil || len(all) != len(ws.Notes(id)) {
		t.Errorf("all notes: %d, %v; want %d", len(all), err, len(ws.Notes(id)))
	}
	if contact, err := c.Contact(ctx, id); err != nil || contact.NotesCount != len(ws.Notes(id)) {
		t.Errorf("notes count %d, %v; want %d", contact.NotesCount, err, len(ws.Notes(id)))
	}

	_, err = c.AddNote(ctx, sources.NewNote{ContactID: id, Body: "x", AdminID: "123"})
	wantCode(t, "note by an unknown admin", err, sources.ENotFound)
	_, err = c.AddNote(ctx, sources.NewNote{ContactID: "000000000000000000000000", Body: "x"})
	wantCode(t, "note on an unknown contact", err, sources.ENotFound)
	_, err = c.AddNote(ctx, sources.NewNote{ContactID: id, Body: ""})
	wantCode(t, "empty note", err, sources.EBadUserInput)
	_, err = c.NotesSince(ctx, "000000000000000000000000", since)
	wantCode(t, "notes of an unknown contact", err, sources.ENotFound)
}

func TestCreateTicketAndTicketsSince(t *testing.T) {
	c, ws, clock := startActions(t, emulator.Options{}, intercom.Config{})
	ctx := context.Background()
	id := emulator.DemoCallerID
	archived := ws.AddTicketType(emulator.TicketType{Name: "Retired", Archived: true})

	types, err := c.TicketTypes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(types) != len(ws.TicketTypes())-1 || slices.ContainsFunc(types, func(tt *sources.TicketType) bool { return tt.ID == archived.ID }) {
		t.Errorf("TicketTypes: %d types, want %d without the archived one", len(types), len(ws.TicketTypes())-1)
	}
	callback := types[2]

	since := actionsNow.Add(-10 * time.Minute)
	ws.AddTicket(emulator.Ticket{ContactIDs: []string{id}, Title: "just before", CreatedAt: since.Add(-time.Second)})
	tk, err := c.CreateTicket(ctx, sources.NewTicket{ContactID: id, TicketTypeID: callback.ID, Title: "Call back about the invoice",
		Description: "Maria asked to be called back.", AdminID: ws.Me().ID})
	if err != nil {
		t.Fatal(err)
	}
	if tk.ID == "" || tk.Reference == "" || tk.ContactID != id || tk.TicketTypeID != callback.ID || tk.Title != "Call back about the invoice" ||
		tk.Description != "Maria asked to be called back." || tk.State != "submitted" || !tk.CreatedAt.Equal(actionsNow) ||
		!strings.Contains(tk.URL, "/inbox/conversation/"+tk.ID) {
		t.Errorf("ticket: %+v", tk)
	}
	if stored, ok := ws.Ticket(tk.ID); !ok || !slices.Equal(stored.ContactIDs, []string{id}) {
		t.Errorf("emulator holds %+v (%v)", stored, ok)
	}

	clock.Set(actionsNow.Add(time.Minute))
	got, err := c.TicketsSince(ctx, id, since)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != tk.ID || got[0].Title != tk.Title {
		t.Errorf("TicketsSince: %+v, want only %s", got, tk.ID)
	}
	all, err := c.TicketsSince(ctx, id, time.Time{})
	if err != nil || len(all) != len(ws.Tickets(id)) {
		t.Errorf("all tickets: %d, %v; want %d", len(all), err, len(ws.Tickets(id)))
	}

	_, err = c.CreateTicket(ctx, sources.NewTicket{ContactID: id, TicketTypeID: "999", Title: "x"})
	wantCode(t, "unknown ticket type", err, sources.EBadUserInput)
	_, err = c.CreateTicket(ctx, sources.NewTicket{ContactID: id, TicketTypeID: archived.ID, Title: "x"})
	wantCode(t, "archived ticket type", err, sources.EBadUserInput)
	_, err = c.CreateTicket(ctx, sources.NewTicket{ContactID: "000000000000000000000000", TicketTypeID: callback.ID, Title: "x"})
	wantCode(t, "unknown contact", err, sources.ENotFound)
	_, err = c.CreateTicket(ctx, sources.NewTicket{ContactID: id, TicketTypeID: callback.ID})
	wantCode(t, "no title", err, sources.EBadUserInput)
}

// Creating writes are not retried by the client (the idempotency guard
// above it decides), so a 5xx reaches the caller after one call.
func TestCreatingWritesAreNotRetried(t *testing.T) {
	c, ws, _ := startActions(t, emulator.Options{Contacts: 20}, intercom.Config{})
	ctx := context.Background()
	id := ws.Contacts()[0].ID
	before := len(ws.Tickets(""))
	ws.SetFaults(emulator.Faults{FailNext: 1, ErrorStatus: 503})
	_, err := c.CreateTicket(ctx, sources.NewTicket{ContactID: id, TicketTypeID: "101", Title: "x"})
	wantCode(t, "POST /tickets under a 503", err, sources.EUpstreamUnavailable)
	if n := ws.Calls(emulator.EndpointCreateTicket); n != 1 {
		t.Errorf("Calls(%s) = %d, want exactly 1", emulator.EndpointCreateTicket, n)
	}
	if len(ws.Tickets("")) != before {
		t.Errorf("a ticket was created")
	}
	for name, call := range map[string]func() error{
		emulator.EndpointCreateContact: func() error {
			_, err := c.CreateContact(ctx, sources.NewContact{Role: "lead", Email: "x@y.example"})
			return err
		},
		emulator.EndpointCreateNote: func() error {
			_, err := c.AddNote(ctx, sources.NewNote{ContactID: id, Body: "x"})
			return err
		},
		emulator.EndpointCreateTag: func() error {
			_, err := c.TagContact(ctx, id, "x")
			return err
		},
	} {
		ws.ResetCalls()
		ws.SetFaults(emulator.Faults{FailNext: 1, ErrorStatus: 503})
		wantCode(t, name+" under a 503", call(), sources.EUpstreamUnavailable)
		if n := ws.Calls(name); n != 1 {
			t.Errorf("Calls(%s) = %d, want exactly 1", name, n)
		}
	}
}

// A POST /tickets that times out after Intercom created the ticket: the
// client reports a timeout, and TicketsSince finds the ticket, which is how
// a retried action avoids opening it twice.
func TestTicketCreatedDespiteTimeout(t *testing.T) {
	c, ws, _ := startActions(t, emulator.Options{Contacts: 20}, intercom.Config{Timeout: 300 * time.Millisecond})
	ctx := context.Background()
	id := ws.Contacts()[0].ID
	since := actionsNow
	ws.SetFaults(emulator.Faults{SlowRate: 1, SlowDelay: 2 * time.Second, SlowAfterWrite: true,
		Endpoints: []string{emulator.EndpointCreateTicket}})
	_, err := c.CreateTicket(ctx, sources.NewTicket{ContactID: id, TicketTypeID: "101", Title: "Timed out"})
	wantCode(t, "slow POST /tickets", err, sources.EUpstreamUnavailable)
	if !strings.Contains(sources.ErrorMessage(err), "timed out") {
		t.Errorf("message %q, want a timeout", sources.ErrorMessage(err))
	}
	if n := ws.Calls(emulator.EndpointCreateTicket); n != 1 {
		t.Errorf("Calls(%s) = %d, want 1", emulator.EndpointCreateTicket, n)
	}
	var found []*sources.Ticket
	deadline := time.Now().Add(2 * time.Second)
	for len(found) == 0 && time.Now().Before(deadline) {
		if found, err = c.TicketsSince(ctx, id, since); err != nil {
			t.Fatal(err)
		}
		if len(found) == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if len(found) != 1 || found[0].Title != "Timed out" {
		t.Errorf("TicketsSince after the timeout: %+v, want the ticket", found)
	}
}

// Intercom matches dates by calendar day in the workspace's time zone. On
// the day daylight saving time ends (25 hours long), 24 hours before a late
// evening time is still the same day; TicketsSince must find that day's
// tickets anyway.
func TestTicketsSinceOnADaylightSavingDay(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip(err)
	}
	since := time.Date(2025, time.November, 2, 23, 30, 0, 0, ny) // 25 hours after that day's midnight
	c, ws, clock := startActions(t, emulator.Options{Contacts: 20, Timezone: ny}, intercom.Config{})
	clock.Set(since.Add(10 * time.Minute))
	id := ws.Contacts()[0].ID
	want := ws.AddTicket(emulator.Ticket{ContactIDs: []string{id}, Title: "late call", CreatedAt: since.Add(time.Minute)})
	got, err := c.TicketsSince(context.Background(), id, since)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != want.ID {
		t.Errorf("TicketsSince(%v): %+v, want %s", since, got, want.ID)
	}
}
