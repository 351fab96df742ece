package intercom_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/intercom"
)

// stubIntercom serves canned answers in the shapes the live API has been
// seen to use where they differ from the description (NOTES.md).
type stubIntercom struct {
	conversations, tickets, notes, calls []map[string]any
	notesInFlight, notesMaxInFlight      atomic.Int32
	notesPaths                           sync.Map
}

func (s *stubIntercom) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	switch {
	case r.URL.Path == "/me":
		enc.Encode(map[string]any{"type": "admin", "id": 1, "app": map[string]any{"id_code": "ws9"}})
	case r.URL.Path == "/admins":
		enc.Encode(map[string]any{"admins": []any{map[string]any{"id": 42, "name": "Ada Admin"}}})
	case r.URL.Path == "/conversations/search":
		// Items under "data", and a next page as a URL.
		enc.Encode(map[string]any{"type": "conversation.list", "data": s.conversations})
	case r.URL.Path == "/tickets/search":
		enc.Encode(map[string]any{"type": "ticket.list", "tickets": s.tickets})
	case r.URL.Path == "/calls/search":
		_, _ = io.Copy(io.Discard, r.Body)
		enc.Encode(map[string]any{"type": "list", "data": s.calls})
	case strings.HasSuffix(r.URL.Path, "/notes"):
		n := s.notesInFlight.Add(1)
		defer s.notesInFlight.Add(-1)
		for {
			m := s.notesMaxInFlight.Load()
			if n <= m || s.notesMaxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		s.notesPaths.Store(r.URL.RequestURI(), true)
		time.Sleep(20 * time.Millisecond)
		// Old-style paging: next is a URL with a page number.
		if r.URL.Query().Get("page") == "2" {
			enc.Encode(map[string]any{"type": "list", "data": s.notes[1:], "pages": map[string]any{"page": 2, "total_pages": 2, "next": nil}})
			return
		}
		enc.Encode(map[string]any{"type": "list", "data": s.notes[:1],
			"pages": map[string]any{"page": 1, "total_pages": 2, "next": "https://api.intercom.io" + r.URL.Path + "?page=2"}})
	default:
		http.NotFound(w, r)
	}
}

// TestInteractionMapping runs every row of the mapping tables (documented in
// mapping_interactions.go) through the client, in the lenient shapes of NOTES.md:
// numeric ids, assignee ids as numbers or strings, conversations under
// "data", ticket_state as a bare string, notes paged by URL, call times as
// ISO 8601.
func TestInteractionMapping(t *testing.T) {
	conv := func(id any, state string, extra map[string]any) map[string]any {
		m := map[string]any{"type": "conversation", "id": id, "state": state, "created_at": 1700000000, "updated_at": 1700000100,
			"priority": "none", "contacts": map[string]any{"type": "contact.list", "contacts": []any{map[string]any{"id": "c1"}}},
			"source": map[string]any{"type": "conversation", "delivered_as": "customer_initiated", "subject": "", "body": "<p>Hello &amp; welcome</p>",
				"author": map[string]any{"type": "user", "id": "c1", "name": "Cy"}},
			"statistics": map[string]any{"first_admin_reply_at": 1700000050}, "waiting_since": nil}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	noStats := map[string]any{"statistics": nil}
	stub := &stubIntercom{
		conversations: []map[string]any{
			conv(101, "open", map[string]any{"statistics": map[string]any{"count_conversation_parts": 1}}),  // new: no admin reply
			conv(102, "open", map[string]any{"waiting_since": 1700000090, "priority": "urgent"}),            // open
			conv(103, "open", map[string]any{"priority": "high", "admin_assignee_id": 42}),                  // pending
			conv(104, "snoozed", map[string]any{"priority": "medium", "team_assignee_id": "5017691"}),       // pending
			conv(105, "closed", map[string]any{"priority": "low", "open": false}),                           // closed
			conv("106", "open", merge(noStats, map[string]any{"read": false, "waiting_since": 1700000000})), // new (no statistics)
			conv("107", "open", merge(noStats, map[string]any{"read": true, "waiting_since": 1700000000})),  // open
			conv("108", "open", map[string]any{"priority": "priority", "title": "Legacy &amp; flagged"}),    // high (≤ 2.10)
			conv("109", "open", map[string]any{"priority": "not_priority", "source": map[string]any{"type": "email", // none (≤ 2.10)
				"delivered_as": "admin_initiated", "subject": "Renewal", "body": "", "author": map[string]any{"type": "admin", "id": 42}}}),
		},
		tickets: []map[string]any{
			{"id": 201, "ticket_id": 7, "ticket_state": map[string]any{"category": "submitted"}, "open": true, "updated_at": 1700000000,
				"ticket_attributes": map[string]any{"_default_title_": "Bug", "_default_description_": "It <b>broke</b>"},
				"contacts":          map[string]any{"contacts": []any{map[string]any{"id": "c1"}}}, "admin_assignee_id": "42"},
			{"id": "202", "ticket_state": "in_progress", "open": true, "updated_at": 1700000000, "contacts": []any{map[string]any{"id": "c1"}},
				"ticket_type": map[string]any{"id": "1", "name": "Billing question"}, "ticket_attributes": map[string]any{"priority": "urgent"}},
			{"id": "203", "ticket_state": map[string]any{"category": "waiting_on_customer"}, "open": true, "updated_at": 1700000000, "contacts": []any{map[string]any{"id": "c1"}}},
			{"id": "204", "ticket_state": map[string]any{"category": "resolved"}, "open": false, "updated_at": 1700000000, "contacts": []any{map[string]any{"id": "c1"}}},
			{"id": "205", "ticket_state": map[string]any{"category": "in_progress"}, "open": false, "updated_at": 1700000000, "contacts": []any{map[string]any{"id": "c1"}}},
		},
		notes: []map[string]any{
			{"id": 301, "created_at": 1700000000, "body": "<p>VIP</p>", "author": map[string]any{"type": "admin", "id": 42, "name": "Ada Admin"}},
			{"id": 302, "created_at": 1700000001, "body": "<p>Second page</p>", "author": map[string]any{"type": "admin", "id": "42"}},
		},
		calls: []map[string]any{
			{"id": 401, "conversation_id": 110, "contact_id": "c1", "admin_id": 42, "state": "completed", "direction": "inbound",
				"initiated_at": "2023-11-14T22:13:20Z", "answered_at": "2023-11-14T22:13:30Z", "ended_at": "2023-11-14T22:17:42Z",
				"recording_url": "https://api.intercom.io/calls/401/recording", "phone": "+14155550142", "ended_reason": "answered"},
			{"id": "402", "conversation_id": "110", "contact_id": "c1", "state": "completed", "direction": "inbound", "initiated_at": 1700000000,
				"ended_at": 1700000030, "ended_reason": "missed"},
			{"id": "403", "conversation_id": "110", "contact_id": "c1", "admin_id": "42", "state": "in_progress", "direction": "outbound", "initiated_at": 1700000000},
		},
	}
	// A phone conversation for the calls, and one with a long body.
	stub.conversations = append(stub.conversations, conv(110, "closed", map[string]any{"source": map[string]any{"type": "phone_call",
		"delivered_as": "customer_initiated", "body": "<p>Inbound call</p>", "author": map[string]any{"type": "lead", "id": "c1"}}}),
		conv(111, "closed", map[string]any{"source": map[string]any{"type": "email", "subject": "Long", "body": strings.Repeat("<p>word&nbsp;word</p>", 30),
			"author": map[string]any{"type": "user", "id": "c1"}}}))
	srv := httptest.NewServer(stub)
	defer srv.Close()
	c, err := intercom.New(intercom.Config{Token: "t", BaseURL: srv.URL, AppURL: "https://app.eu.intercom.com", Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	x := intercom.NewInteractions(c, intercom.InteractionsConfig{PreviewLength: 80})
	refs := []sources.ContactRef{{ID: "c1", NotesCount: 2}, {ID: "c2", NotesCount: 1}, {ID: "c3", NotesCount: sources.NotesCountUnknown}, {ID: "c4", NotesCount: 3}}
	got, err := x.InteractionsByContacts(context.Background(), refs, nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*sources.Interaction{}
	for _, it := range got["c1"] {
		byID[string(it.Kind)+":"+it.ID] = it
	}
	tests := []struct {
		key      string
		status   sources.Status
		priority sources.Priority
	}{
		{"conversation:101", sources.StatusNew, sources.PriorityNone},
		{"conversation:102", sources.StatusOpen, sources.PriorityUrgent},
		{"conversation:103", sources.StatusPending, sources.PriorityHigh},
		{"conversation:104", sources.StatusPending, sources.PriorityNormal},
		{"conversation:105", sources.StatusClosed, sources.PriorityLow},
		{"conversation:106", sources.StatusNew, sources.PriorityNone},
		{"conversation:107", sources.StatusOpen, sources.PriorityNone},
		{"conversation:108", sources.StatusPending, sources.PriorityHigh},
		{"conversation:109", sources.StatusPending, sources.PriorityNone},
		{"ticket:201", sources.StatusNew, sources.PriorityNone},
		{"ticket:202", sources.StatusOpen, sources.PriorityUrgent},
		{"ticket:203", sources.StatusPending, sources.PriorityNone},
		{"ticket:204", sources.StatusSolved, sources.PriorityNone},
		{"ticket:205", sources.StatusClosed, sources.PriorityNone},
		{"note:301", sources.StatusClosed, sources.PriorityNone},
		{"note:302", sources.StatusClosed, sources.PriorityNone},
		{"call:401", sources.StatusClosed, sources.PriorityNone},
		{"call:402", sources.StatusClosed, sources.PriorityNone},
		{"call:403", sources.StatusOpen, sources.PriorityNone},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			it := byID[tt.key]
			if it == nil {
				t.Fatalf("missing; got %d interactions", len(got["c1"]))
			}
			if it.Status != tt.status || it.Priority != tt.priority {
				t.Errorf("status %s, priority %s; want %s, %s", it.Status, it.Priority, tt.status, tt.priority)
			}
		})
	}

	check := func(key string, ok bool, format string, args ...any) {
		t.Helper()
		if !ok {
			t.Errorf(key+": "+format, args...)
		}
	}
	it := byID["conversation:101"]
	check("conversation:101", it.Description == "Hello & welcome" && it.Subject == "Hello & welcome" && it.Direction == sources.DirectionInbound &&
		it.URL == "https://app.eu.intercom.com/a/inbox/ws9/inbox/conversation/101" && it.Author.Kind == sources.ParticipantContact,
		"%+v", it)
	it = byID["conversation:111"]
	check("conversation:111", strings.HasSuffix(it.Description, "…") && len([]rune(it.Description)) <= 80 && len([]rune(it.Description)) > 70 &&
		it.Subject == "Long", "description %q (PreviewLength 80)", it.Description)
	it = byID["conversation:103"]
	check("conversation:103", it.Assignee != nil && it.Assignee.Kind == sources.ParticipantAdmin && it.Assignee.Name == "Ada Admin", "assignee %+v", it.Assignee)
	it = byID["conversation:104"]
	check("conversation:104", it.Assignee != nil && it.Assignee.Kind == sources.ParticipantTeam && it.Assignee.ID == "5017691" && it.SourceState == "snoozed",
		"assignee %+v", it.Assignee)
	it = byID["conversation:108"]
	check("conversation:108", it.Subject == "Legacy & flagged", "subject %q", it.Subject)
	it = byID["conversation:109"]
	check("conversation:109", it.Subject == "Renewal" && it.Direction == sources.DirectionOutbound && it.Author.Name == "Ada Admin",
		"subject %q, direction %q, author %+v", it.Subject, it.Direction, it.Author)
	it = byID["ticket:201"]
	check("ticket:201", it.Subject == "Bug" && it.Description == "It broke" && it.Reference == "7" && it.Assignee.Name == "Ada Admin" &&
		it.URL == "https://app.eu.intercom.com/a/inbox/ws9/inbox/conversation/201", "%+v", it)
	it = byID["ticket:202"]
	check("ticket:202", it.Subject == "Billing question" && it.SourceState == "in_progress", "%+v", it)
	it = byID["note:302"]
	check("note:302", it.Subject == "Note by Ada Admin" && it.URL == "https://app.eu.intercom.com/a/apps/ws9/users/c1", "%+v", it)
	it = byID["call:401"]
	check("call:401", it.Duration == 4*time.Minute+12*time.Second && it.HasRecording && it.Subject == "Inbound call" &&
		it.Description == "Answered by Ada Admin · 4 min 12 s · +14155550142 · recorded" && it.ConversationID == "110" &&
		it.Date.Equal(time.Unix(1700000000, 0)), "%+v", it)
	it = byID["call:402"]
	check("call:402", it.Subject == "Missed inbound call" && it.Duration == 0 && it.Assignee == nil, "%+v", it)
	it = byID["call:403"]
	check("call:403", it.Subject == "Outbound call in progress" && it.Direction == sources.DirectionOutbound && it.Author.Kind == sources.ParticipantAdmin,
		"%+v", it)

	if m := stub.notesMaxInFlight.Load(); m > 2 {
		t.Errorf("%d notes reads at once, want at most Config.Concurrency (2)", m)
	}
	if _, ok := stub.notesPaths.Load("/contacts/c1/notes?page=2"); !ok {
		t.Error("the second page of notes was not asked for by its page number")
	}
}

func merge(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range []map[string]any{a, b} {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}
