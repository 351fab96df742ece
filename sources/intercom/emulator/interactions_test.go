package emulator

import (
	"bytes"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test views of interaction bodies.
type (
	pagesJSON struct {
		Type       string `json:"type"`
		Page       int    `json:"page"`
		PerPage    int    `json:"per_page"`
		TotalPages int    `json:"total_pages"`
		Next       *struct {
			PerPage       int    `json:"per_page"`
			StartingAfter string `json:"starting_after"`
		} `json:"next"`
	}
	conversationJSON struct {
		Type            string  `json:"type"`
		ID              string  `json:"id"`
		Title           *string `json:"title"`
		State           string  `json:"state"`
		Open            bool    `json:"open"`
		Priority        string  `json:"priority"`
		AdminAssigneeID int64   `json:"admin_assignee_id"`
		UpdatedAt       int64   `json:"updated_at"`
		Source          struct {
			Type   string `json:"type"`
			Body   string `json:"body"`
			Author struct {
				Type string `json:"type"`
				ID   string `json:"id"`
			} `json:"author"`
		} `json:"source"`
		Contacts struct {
			Contacts []struct {
				ID string `json:"id"`
			} `json:"contacts"`
		} `json:"contacts"`
		Statistics *struct {
			FirstAdminReplyAt *int64 `json:"first_admin_reply_at"`
		} `json:"statistics"`
		ConversationParts *struct {
			ConversationParts []struct {
				PartType string  `json:"part_type"`
				Body     *string `json:"body"`
			} `json:"conversation_parts"`
			TotalCount int `json:"total_count"`
		} `json:"conversation_parts"`
	}
	conversationListJSON struct {
		Type          string             `json:"type"`
		Conversations []conversationJSON `json:"conversations"`
		Data          []conversationJSON `json:"data"`
		TotalCount    int                `json:"total_count"`
		Pages         pagesJSON          `json:"pages"`
	}
	ticketJSON struct {
		ID               string         `json:"id"`
		TicketID         string         `json:"ticket_id"`
		Category         string         `json:"category"`
		Open             bool           `json:"open"`
		TicketAttributes map[string]any `json:"ticket_attributes"`
		TicketState      struct {
			Category string `json:"category"`
		} `json:"ticket_state"`
		TicketType struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"ticket_type"`
	}
	ticketListJSON struct {
		Type       string       `json:"type"`
		Tickets    []ticketJSON `json:"tickets"`
		TotalCount int          `json:"total_count"`
		Pages      pagesJSON    `json:"pages"`
	}
	noteListJSON struct {
		Data []struct {
			ID        string `json:"id"`
			CreatedAt int64  `json:"created_at"`
			Body      string `json:"body"`
			Author    struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"author"`
		} `json:"data"`
		TotalCount int       `json:"total_count"`
		Pages      pagesJSON `json:"pages"`
	}
	callJSON struct {
		ID             string  `json:"id"`
		ConversationID *string `json:"conversation_id"`
		ContactID      *string `json:"contact_id"`
		Direction      string  `json:"direction"`
		RecordingURL   *string `json:"recording_url"`
	}
	callListJSON struct {
		Data       []callJSON `json:"data"`
		TotalCount int        `json:"total_count"`
		Pages      pagesJSON  `json:"pages"`
	}
)

func searchConversations(t *testing.T, s *Server, body any) conversationListJSON {
	t.Helper()
	r := call(t, s, http.MethodPost, "/conversations/search", body)
	wantStatus(t, r, http.StatusOK)
	return decode[conversationListJSON](t, r)
}

func conversationIDs(l conversationListJSON) []string {
	out := []string{}
	for _, c := range l.Conversations {
		out = append(out, c.ID)
	}
	slices.Sort(out)
	return out
}

func modelIDs[T any](list []T, keep func(T) bool, id func(T) string) []string {
	out := []string{}
	for _, x := range list {
		if keep(x) {
			out = append(out, id(x))
		}
	}
	slices.Sort(out)
	return out
}

func hannah(t *testing.T, w *Workspace) Contact {
	t.Helper()
	for _, c := range w.Contacts() {
		if c.Name == NoHistoryContactName {
			return c
		}
	}
	t.Fatalf("no contact named %s", NoHistoryContactName)
	return Contact{}
}

func TestInteractionSeedFacts(t *testing.T) {
	opts := Options{Now: func() time.Time { return testNow }}
	w := New(opts)

	t.Run("histories change no contact", func(t *testing.T) {
		bare := opts
		bare.noHistory = true
		if !reflect.DeepEqual(New(bare).Contacts(), w.Contacts()) {
			t.Error("seeding interactions changed the contacts")
		}
	})
	t.Run("deterministic", func(t *testing.T) {
		again := New(opts)
		if !reflect.DeepEqual(again.Conversations(""), w.Conversations("")) || !reflect.DeepEqual(again.Tickets(""), w.Tickets("")) ||
			!reflect.DeepEqual(again.PhoneCalls(""), w.PhoneCalls("")) || !reflect.DeepEqual(again.Notes(DemoCallerID), w.Notes(DemoCallerID)) {
			t.Error("same Options gave different histories")
		}
		other := New(Options{Seed: 2, Now: opts.Now})
		if reflect.DeepEqual(other.Conversations(""), w.Conversations("")) {
			t.Error("different seeds gave the same conversations")
		}
	})
	t.Run("demo caller", func(t *testing.T) {
		convs, tickets, notes, calls := w.Conversations(DemoCallerID), w.Tickets(DemoCallerID), w.Notes(DemoCallerID), w.PhoneCalls(DemoCallerID)
		if len(convs) != DemoCallerConversations || len(tickets) != DemoCallerTickets || len(notes) != DemoCallerNotes || len(calls) != DemoCallerPhoneCalls {
			t.Fatalf("demo caller: %d conversations, %d tickets, %d notes, %d calls; want %d, %d, %d, %d", len(convs), len(tickets), len(notes), len(calls),
				DemoCallerConversations, DemoCallerTickets, DemoCallerNotes, DemoCallerPhoneCalls)
		}
		newest := slices.MaxFunc(convs, func(a, b Conversation) int { return a.UpdatedAt.Compare(b.UpdatedAt) })
		if newest.State != "open" || newest.Read || len(newest.Parts) != 0 || newest.Priority != "urgent" || !strings.Contains(newest.Body, "&mdash;") {
			t.Errorf("newest conversation: %+v, want an unanswered urgent open chat", newest)
		}
		categories := map[string]bool{}
		for _, tk := range tickets {
			categories[tk.StateCategory] = true
		}
		if len(categories) != 4 {
			t.Errorf("ticket state categories %v, want all four", categories)
		}
		missed := 0
		for _, c := range calls {
			if c.AnsweredAt.IsZero() {
				missed++
			}
		}
		if missed == 0 || missed == len(calls) {
			t.Errorf("%d of %d calls missed, want some", missed, len(calls))
		}
	})
	t.Run("no history", func(t *testing.T) {
		h := hannah(t, w)
		if n := len(w.Conversations(h.ID)) + len(w.Tickets(h.ID)) + len(w.Notes(h.ID)) + len(w.PhoneCalls(h.ID)); n != 0 {
			t.Errorf("%s has %d interactions, want none", h.Name, n)
		}
	})
	t.Run("spread", func(t *testing.T) {
		long, none, few := 0, 0, 0
		for _, c := range w.Contacts() {
			n := len(w.Conversations(c.ID))
			switch {
			case n >= 20:
				long++
			case n == 0:
				none++
			case n <= 5:
				few++
			}
		}
		if long < 10 || none < 50 || few < 100 {
			t.Errorf("contacts by history: %d long, %d none, %d with 1-5; want >= 10, 50, 100", long, none, few)
		}
		seen := map[string]bool{}
		for _, c := range w.Conversations("") {
			seen["state:"+c.State] = true
			seen["priority:"+c.Priority] = true
			seen["source:"+c.SourceType] = true
			seen["author:"+c.Author.Type] = true
			for _, marker := range []string{"<p>", "<br>", "<a href=", "&amp;", "&quot;"} {
				if strings.Contains(c.Body, marker) {
					seen["html:"+marker] = true
				}
			}
		}
		for _, tk := range w.Tickets("") {
			seen["ticket:"+tk.StateCategory] = true
			seen["type:"+tk.TicketTypeID] = true
			if !tk.Open && tk.StateCategory != "resolved" {
				seen["ticket:closed unresolved"] = true
			}
		}
		for _, want := range []string{"state:open", "state:closed", "state:snoozed", "priority:none", "priority:low", "priority:medium",
			"priority:high", "priority:urgent", "source:conversation", "source:email", "source:phone_call", "author:user", "author:lead",
			"author:admin", "author:bot", "html:<p>", "html:<br>", "html:<a href=", "html:&amp;", "html:&quot;", "ticket:submitted",
			"ticket:in_progress", "ticket:waiting_on_customer", "ticket:resolved", "ticket:closed unresolved",
			"type:101", "type:102", "type:103", "type:104"} {
			if !seen[want] {
				t.Errorf("no seeded interaction has %s", want)
			}
		}
	})
	t.Run("consistency", func(t *testing.T) {
		now := testNow
		contacts := map[string]Contact{}
		for _, c := range w.Contacts() {
			contacts[c.ID] = c
		}
		phoneConvs := map[string]string{} // conversation id -> contact id
		for _, c := range w.Conversations("") {
			if c.UpdatedAt.Before(c.CreatedAt) || c.UpdatedAt.After(now) {
				t.Errorf("conversation %s: created %v, updated %v", c.ID, c.CreatedAt, c.UpdatedAt)
			}
			last := c.CreatedAt
			for _, p := range c.Parts {
				if p.CreatedAt.Before(last) || p.CreatedAt.After(c.UpdatedAt) {
					t.Errorf("conversation %s: part at %v out of order", c.ID, p.CreatedAt)
				}
				last = p.CreatedAt
			}
			if _, ok := contacts[c.ContactIDs[0]]; !ok {
				t.Errorf("conversation %s: unknown contact %s", c.ID, c.ContactIDs[0])
			}
			if (c.State == "snoozed") != !c.SnoozedUntil.IsZero() {
				t.Errorf("conversation %s: state %s, snoozed until %v", c.ID, c.State, c.SnoozedUntil)
			}
			if c.SourceType == "phone_call" {
				phoneConvs[c.ID] = c.ContactIDs[0]
			}
		}
		calls := w.PhoneCalls("")
		if len(calls) != len(phoneConvs) {
			t.Errorf("%d calls for %d phone_call conversations, want one each", len(calls), len(phoneConvs))
		}
		for _, pc := range calls {
			if phoneConvs[pc.ConversationID] != pc.ContactID {
				t.Errorf("call %s: conversation %s of contact %s, want a phone_call conversation of that contact", pc.ID, pc.ConversationID, pc.ContactID)
			}
			if pc.EndedAt.After(now) || pc.EndedAt.Before(pc.InitiatedAt) {
				t.Errorf("call %s: initiated %v, ended %v", pc.ID, pc.InitiatedAt, pc.EndedAt)
			}
		}
		for _, tk := range w.Tickets("") {
			if tk.UpdatedAt.Before(tk.CreatedAt) || tk.UpdatedAt.After(now) || tk.Open == (tk.StateCategory == "resolved") && tk.Open {
				t.Errorf("ticket %s: created %v, updated %v, state %s open %v", tk.ID, tk.CreatedAt, tk.UpdatedAt, tk.StateCategory, tk.Open)
			}
		}
	})
	t.Run("empty", func(t *testing.T) {
		e := New(Options{Empty: true})
		if len(e.Conversations("")) != 0 || len(e.Tickets("")) != 0 || len(e.PhoneCalls("")) != 0 || len(e.TicketTypes()) != 4 {
			t.Errorf("Empty workspace: %d conversations, %d tickets, %d calls, %d ticket types", len(e.Conversations("")),
				len(e.Tickets("")), len(e.PhoneCalls("")), len(e.TicketTypes()))
		}
	})
}

func TestInteractionsOverHTTPAreDeterministic(t *testing.T) {
	opts := Options{Seed: 3, Contacts: 80, Phone: true}
	sa, sb := start(t, opts), start(t, opts)
	for _, rq := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/conversations?per_page=150", nil},
		{http.MethodPost, "/tickets/search", query(filter("open", "=", false))},
		{http.MethodGet, "/contacts/" + DemoCallerID + "/notes", nil},
		{http.MethodGet, "/calls", nil},
		{http.MethodGet, "/ticket_types", nil},
	} {
		ra, rb := call(t, sa, rq.method, rq.path, rq.body), call(t, sb, rq.method, rq.path, rq.body)
		wantStatus(t, ra, http.StatusOK)
		// Recording links name the emulator's own address.
		a, b := bytes.ReplaceAll(ra.body, []byte(sa.URL), nil), bytes.ReplaceAll(rb.body, []byte(sb.URL), nil)
		if !bytes.Equal(a, b) {
			t.Errorf("%s %s: bodies differ between two workspaces with the same Options", rq.method, rq.path)
		}
	}
}

func TestConversationSearch(t *testing.T) {
	s := start(t, Options{})
	w := s.Workspace
	h := hannah(t, w)
	convs := w.Conversations("")
	demo := func(c Conversation) bool { return slices.Contains(c.ContactIDs, DemoCallerID) }
	id := func(c Conversation) string { return c.ID }
	day := time.Date(2026, time.March, 15, 10, 0, 0, 0, time.UTC)

	tests := []struct {
		name  string
		query any
		want  func(Conversation) bool
	}{
		{"contact_ids IN", filter("contact_ids", "IN", []string{DemoCallerID, h.ID, "nobody"}), demo},
		{"contact_ids =", filter("contact_ids", "=", DemoCallerID), demo},
		{"contact_ids NIN", group("AND", filter("contact_ids", "NIN", []string{DemoCallerID}), filter("state", "=", "snoozed")),
			func(c Conversation) bool { return !demo(c) && c.State == "snoozed" }},
		{"state", group("AND", filter("contact_ids", "=", DemoCallerID), filter("state", "=", "open")),
			func(c Conversation) bool { return demo(c) && c.State == "open" }},
		{"open false", filter("open", "=", false), func(c Conversation) bool { return c.State == "closed" }},
		{"read false", filter("read", "=", "false"), func(c Conversation) bool { return !c.Read }},
		{"priority IN", filter("priority", "IN", []string{"high", "urgent"}), func(c Conversation) bool { return c.Priority == "high" || c.Priority == "urgent" }},
		{"source.type", group("AND", filter("contact_ids", "=", DemoCallerID), filter("source.type", "=", "phone_call")),
			func(c Conversation) bool { return demo(c) && c.SourceType == "phone_call" }},
		{"source.body = one word", filter("source.body", "=", "Scanners"),
			func(c Conversation) bool { return strings.Contains(strings.ToLower(c.Body), "scanners") }},
		{"source.body = several words misses", filter("source.body", "=", "scanners can't"), func(Conversation) bool { return false }},
		{"admin_assignee_id 0 is unassigned", filter("admin_assignee_id", "=", 0), func(c Conversation) bool { return c.AdminAssigneeID == "" }},
		{"updated_at > is the next day on", filter("updated_at", ">", day.Unix()),
			func(c Conversation) bool {
				return !c.UpdatedAt.Before(time.Date(2026, time.March, 16, 0, 0, 0, 0, time.UTC))
			}},
		{"created_at = is the whole day", filter("created_at", "=", day.Unix()), func(c Conversation) bool {
			y, m, d := c.CreatedAt.Date()
			return y == 2026 && m == time.March && d == 15
		}},
		{"waiting_since not null", filter("waiting_since", ">", 0), func(c Conversation) bool { return !c.WaitingSince.IsZero() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := searchConversations(t, s, map[string]any{"query": tt.query, "pagination": map[string]any{"per_page": 150}})
			want := modelIDs(convs, tt.want, id)
			if l.TotalCount != len(want) {
				t.Fatalf("total_count %d, want %d", l.TotalCount, len(want))
			}
			if len(want) <= 150 && !slices.Equal(conversationIDs(l), want) {
				t.Errorf("got %d ids, want %d (%v...)", len(l.Conversations), len(want), want[:min(3, len(want))])
			}
			if l.Type != "conversation.list" || l.Data != nil {
				t.Errorf("type %q, data %v: want conversation.list with the items under conversations", l.Type, l.Data)
			}
		})
	}

	errs := []struct {
		name     string
		query    any
		code     string
		contains string
	}{
		{"unknown field", filter("shoe_size", "=", "42"), CodeInvalidField, "conversation field"},
		{"contact field", filter("email", "=", "a@b.c"), CodeInvalidField, "'email'"},
		{"state not an Intercom state", filter("state", "=", "pending"), CodeInvalidValue, "open, closed or snoozed"},
		{"contains on contact_ids", filter("contact_ids", "~", DemoCallerID), CodeInvalidOperator, "contact_ids"},
		{">= on a date", filter("updated_at", ">=", day.Unix()), CodeInvalidOperator, "date field"},
		{"string for a boolean", filter("open", "=", "maybe"), CodeInvalidValue, "true or false"},
		{"string for an integer", filter("admin_assignee_id", "=", "me"), CodeInvalidValue, "number"},
		{"16 filters", group("OR", slices.Repeat([]any{filter("state", "=", "open")}, 16)...), CodeBadRequest, "at most 15"},
	}
	for _, tt := range errs {
		t.Run("error/"+tt.name, func(t *testing.T) {
			msg := wantError(t, call(t, s, http.MethodPost, "/conversations/search", query(tt.query)), http.StatusBadRequest, tt.code)
			if !strings.Contains(msg, tt.contains) {
				t.Errorf("message %q does not contain %q", msg, tt.contains)
			}
		})
	}
}

func TestConversationPaging(t *testing.T) {
	s := start(t, Options{})
	w := s.Workspace
	q := filter("contact_ids", "IN", []string{DemoCallerID})
	var got []string
	after := ""
	for page := 1; ; page++ {
		body := map[string]any{"query": q}
		if after != "" {
			body["pagination"] = map[string]any{"starting_after": after}
		}
		l := searchConversations(t, s, body)
		if l.Pages.Page != page || l.Pages.PerPage != 20 || l.TotalCount != DemoCallerConversations || l.Pages.TotalPages != 2 {
			t.Fatalf("page %d: pages %+v, total %d; want page %d of 2 by 20, total %d", page, l.Pages, l.TotalCount, page, DemoCallerConversations)
		}
		for _, c := range l.Conversations {
			got = append(got, c.ID)
		}
		if l.Pages.Next == nil {
			break
		}
		after = l.Pages.Next.StartingAfter
	}
	want := modelIDs(w.Conversations(DemoCallerID), func(Conversation) bool { return true }, func(c Conversation) string { return c.ID })
	if !slices.IsSorted(got) || !slices.Equal(got, want) {
		t.Errorf("walked %d conversations (sorted %v), want the %d of the demo caller in created order", len(got), slices.IsSorted(got), len(want))
	}

	t.Run("a contact search cursor is refused", func(t *testing.T) {
		contacts := search(t, s, map[string]any{"query": filter("role", "=", "user"), "pagination": map[string]any{"per_page": 2}})
		r := call(t, s, http.MethodPost, "/conversations/search", map[string]any{"query": q,
			"pagination": map[string]any{"starting_after": contacts.Pages.Next.StartingAfter}})
		wantError(t, r, http.StatusBadRequest, CodeClientError)
	})
	t.Run("sorted by updated_at", func(t *testing.T) {
		l := searchConversations(t, s, map[string]any{"query": q, "sort": map[string]any{"field": "updated_at", "order": "descending"},
			"pagination": map[string]any{"per_page": 50}})
		if !slices.IsSortedFunc(l.Conversations, func(a, b conversationJSON) int { return int(b.UpdatedAt - a.UpdatedAt) }) {
			t.Error("not in descending updated_at order")
		}
	})
}

func TestListAndGetConversation(t *testing.T) {
	s := start(t, Options{})
	w := s.Workspace
	r := call(t, s, http.MethodGet, "/conversations", nil)
	wantStatus(t, r, http.StatusOK)
	l := decode[conversationListJSON](t, r)
	if len(l.Conversations) != 20 || l.TotalCount != len(w.Conversations("")) || l.Pages.Next == nil || l.Data != nil ||
		!strings.Contains(string(r.body), `"conversations":[`) {
		t.Fatalf("GET /conversations: %d items, total %d (want 20 of %d under \"conversations\")", len(l.Conversations), l.TotalCount, len(w.Conversations("")))
	}
	r = call(t, s, http.MethodGet, "/conversations?per_page=20&starting_after="+l.Pages.Next.StartingAfter, nil)
	next := decode[conversationListJSON](t, r)
	if next.Pages.Page != 2 || next.Conversations[0].ID <= l.Conversations[19].ID {
		t.Errorf("second page: page %d starting at %s after %s", next.Pages.Page, next.Conversations[0].ID, l.Conversations[19].ID)
	}
	wantError(t, call(t, s, http.MethodGet, "/conversations?per_page=151", nil), http.StatusBadRequest, CodeParameterInvalid)

	var withParts Conversation
	for _, c := range w.Conversations(DemoCallerID) {
		if len(c.Parts) >= 2 {
			withParts = c
			break
		}
	}
	r = call(t, s, http.MethodGet, "/conversations/"+withParts.ID, nil)
	wantStatus(t, r, http.StatusOK)
	got := decode[conversationJSON](t, r)
	if got.ID != withParts.ID || got.ConversationParts == nil || len(got.ConversationParts.ConversationParts) != len(withParts.Parts) ||
		got.Contacts.Contacts[0].ID != DemoCallerID || got.Source.Body != withParts.Body {
		t.Errorf("GET /conversations/%s = %s", withParts.ID, r.body)
	}
	plain := decode[conversationJSON](t, call(t, s, http.MethodGet, "/conversations/"+withParts.ID+"?display_as=plaintext", nil))
	if strings.Contains(plain.Source.Body, "<") || plain.Source.Body != plainText(withParts.Body) {
		t.Errorf("display_as=plaintext body %q", plain.Source.Body)
	}
	wantError(t, call(t, s, http.MethodGet, "/conversations/1", nil), http.StatusNotFound, CodeNotFound)
}

func TestTicketSearchAndGet(t *testing.T) {
	s := start(t, Options{})
	w := s.Workspace
	tickets := w.Tickets("")
	id := func(tk Ticket) string { return tk.ID }
	typeCategory := map[string]string{}
	for _, tt := range w.TicketTypes() {
		typeCategory[tt.ID] = tt.Category
	}
	cutoff := time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		query any
		want  func(Ticket) bool
	}{
		{"contact_ids IN", filter("contact_ids", "IN", []string{DemoCallerID, "nobody"}),
			func(tk Ticket) bool { return slices.Contains(tk.ContactIDs, DemoCallerID) }},
		{"state", filter("state", "=", "waiting_on_customer"), func(tk Ticket) bool { return tk.StateCategory == "waiting_on_customer" }},
		{"open", filter("open", "=", true), func(tk Ticket) bool { return tk.Open }},
		{"category uses search terms", filter("category", "=", "task"), func(tk Ticket) bool { return typeCategory[tk.TicketTypeID] == "Back-office" }},
		{"ticket_type_id", filter("ticket_type_id", "=", "103"), func(tk Ticket) bool { return tk.TicketTypeID == "103" }},
		{"created_at >= starts at the day", filter("created_at", ">=", cutoff.Unix()),
			func(tk Ticket) bool {
				return !tk.CreatedAt.Before(time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC))
			}},
		{"created_at <= ends with the day", filter("created_at", "<=", cutoff.Unix()),
			func(tk Ticket) bool { return tk.CreatedAt.Before(time.Date(2026, time.March, 2, 0, 0, 0, 0, time.UTC)) }},
		{"admin_assignee_id is a string", filter("admin_assignee_id", "=", "7300002"), func(tk Ticket) bool { return tk.AdminAssigneeID == "7300002" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, s, http.MethodPost, "/tickets/search", query(tt.query))
			wantStatus(t, r, http.StatusOK)
			l := decode[ticketListJSON](t, r)
			want := modelIDs(tickets, tt.want, id)
			var got []string
			for _, tk := range l.Tickets {
				got = append(got, tk.ID)
			}
			slices.Sort(got)
			if l.Type != "ticket.list" || l.TotalCount != len(want) || (len(want) <= 150 && !slices.Equal(got, want)) {
				t.Errorf("got %s with %d of %d tickets, want %d", l.Type, len(got), l.TotalCount, len(want))
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		wantError(t, call(t, s, http.MethodPost, "/tickets/search", query(filter("category", "=", "Customer"))), http.StatusBadRequest, CodeInvalidValue)
		wantError(t, call(t, s, http.MethodPost, "/tickets/search", query(filter("updated_at", ">=", 1))), http.StatusBadRequest, CodeInvalidOperator)
		msg := wantError(t, call(t, s, http.MethodPost, "/tickets/search", query(filter("priority", "=", "high"))), http.StatusBadRequest, CodeInvalidField)
		if !strings.Contains(msg, "ticket field") {
			t.Errorf("message %q", msg)
		}
	})
	t.Run("default page is 20", func(t *testing.T) {
		l := decode[ticketListJSON](t, call(t, s, http.MethodPost, "/tickets/search", map[string]any{"query": filter("open", "=", false)}))
		if l.Pages.PerPage != 20 || len(l.Tickets) != 20 || l.Pages.Next == nil {
			t.Errorf("pages %+v with %d tickets", l.Pages, len(l.Tickets))
		}
	})

	demoTickets := w.Tickets(DemoCallerID)
	want := demoTickets[len(demoTickets)-1]
	r := call(t, s, http.MethodGet, "/tickets/"+want.ID, nil)
	wantStatus(t, r, http.StatusOK)
	got := decode[ticketJSON](t, r)
	if got.ID != want.ID || got.TicketID != want.TicketID || got.TicketAttributes["_default_title_"] != want.Title ||
		got.TicketState.Category != want.StateCategory || got.TicketType.ID != want.TicketTypeID || got.Open != want.Open {
		t.Errorf("GET /tickets/%s = %s", want.ID, r.body)
	}
	wantError(t, call(t, s, http.MethodGet, "/tickets/1", nil), http.StatusNotFound, CodeNotFound)

	types := decode[struct {
		Data []struct {
			ID, Name, Category string
		} `json:"data"`
	}](t, call(t, s, http.MethodGet, "/ticket_types", nil))
	var names []string
	for _, tt := range types.Data {
		names = append(names, tt.Name)
	}
	if !slices.Equal(names, []string{"Bug report", "Billing question", "Callback request", "Account review"}) {
		t.Errorf("ticket types %v", names)
	}
}

func TestContactNotes(t *testing.T) {
	s := start(t, Options{})
	w := s.Workspace
	want := w.Notes(DemoCallerID)

	ct := decode[contactJSON](t, call(t, s, http.MethodGet, "/contacts/"+DemoCallerID, nil))
	var notesRef addressList
	raw := decode[map[string]any](t, call(t, s, http.MethodGet, "/contacts/"+DemoCallerID, nil))
	if n, ok := raw["notes"].(map[string]any); ok {
		notesRef.TotalCount = int(n["total_count"].(float64))
		notesRef.HasMore = n["has_more"].(bool)
		notesRef.Data = make([]addressItem, len(n["data"].([]any)))
	}
	if ct.ID != DemoCallerID || notesRef.TotalCount != DemoCallerNotes || !notesRef.HasMore || len(notesRef.Data) != 10 {
		t.Errorf("contact notes list: total %d, has_more %v, %d items; want %d, true, 10", notesRef.TotalCount, notesRef.HasMore, len(notesRef.Data), DemoCallerNotes)
	}
	if h := hannah(t, w); len(decode[noteListJSON](t, call(t, s, http.MethodGet, "/contacts/"+h.ID+"/notes", nil)).Data) != 0 {
		t.Errorf("%s has notes", h.Name)
	}

	all := decode[noteListJSON](t, call(t, s, http.MethodGet, "/contacts/"+DemoCallerID+"/notes", nil))
	if all.TotalCount != len(want) || len(all.Data) != len(want) || all.Pages.PerPage != 50 || all.Pages.Next != nil {
		t.Fatalf("default page: %d of %d notes, pages %+v", len(all.Data), all.TotalCount, all.Pages)
	}
	for i, n := range all.Data {
		if n.ID != want[i].ID || (i > 0 && n.CreatedAt > all.Data[i-1].CreatedAt) || n.Author.Name == "" {
			t.Errorf("note %d: %+v, want %s newest first with an author", i, n, want[i].ID)
		}
	}
	for _, mode := range []string{"page", "starting_after"} {
		t.Run("paging by "+mode, func(t *testing.T) {
			var got []string
			next := ""
			for page := 1; page <= 5; page++ {
				path := "/contacts/" + DemoCallerID + "/notes?per_page=5"
				switch {
				case mode == "page":
					path += "&page=" + strconv.Itoa(page)
				case next != "":
					path += "&starting_after=" + next
				}
				l := decode[noteListJSON](t, call(t, s, http.MethodGet, path, nil))
				for _, n := range l.Data {
					got = append(got, n.ID)
				}
				if l.Pages.Page != page || l.Pages.TotalPages != 3 {
					t.Fatalf("page %d: %+v", page, l.Pages)
				}
				if l.Pages.Next == nil {
					break
				}
				next = l.Pages.Next.StartingAfter
			}
			if len(got) != len(want) || got[0] != want[0].ID || got[len(got)-1] != want[len(want)-1].ID {
				t.Errorf("paged %d notes, want %d", len(got), len(want))
			}
		})
	}
	wantError(t, call(t, s, http.MethodGet, "/contacts/nobody/notes", nil), http.StatusNotFound, CodeNotFound)

	t.Run("AddNote counts and keeps updated_at", func(t *testing.T) {
		before, _ := w.Contact(DemoCallerID)
		n := w.AddNote(Note{ContactID: DemoCallerID, Body: "<p>Called back.</p>"})
		after, _ := w.Contact(DemoCallerID)
		l := decode[noteListJSON](t, call(t, s, http.MethodGet, "/contacts/"+DemoCallerID+"/notes?per_page=1", nil))
		if l.TotalCount != DemoCallerNotes+1 || l.Data[0].ID != n.ID || !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("after AddNote: total %d, newest %s (want %s), updated_at %v -> %v", l.TotalCount, l.Data[0].ID, n.ID, before.UpdatedAt, after.UpdatedAt)
		}
	})
}

func TestPhoneCalls(t *testing.T) {
	t.Run("without Intercom Phone", func(t *testing.T) {
		s := start(t, Options{Contacts: 30})
		for _, rq := range []struct{ method, path string }{{http.MethodGet, "/calls"}, {http.MethodGet, "/calls/3100001"}, {http.MethodPost, "/calls/search"}} {
			msg := wantError(t, call(t, s, rq.method, rq.path, map[string]any{"conversation_ids": []string{"1"}}), http.StatusForbidden, CodePlanRestricted)
			if msg != "Active subscription needed." {
				t.Errorf("%s %s: message %q", rq.method, rq.path, msg)
			}
		}
	})

	s := start(t, Options{Phone: true})
	w := s.Workspace
	all := w.PhoneCalls("")
	l := decode[callListJSON](t, call(t, s, http.MethodGet, "/calls", nil))
	if l.TotalCount != len(all) || len(l.Data) != 25 || l.Pages.PerPage != 25 || l.Pages.TotalPages != (len(all)+24)/25 || l.Data[0].ID != all[len(all)-1].ID {
		t.Errorf("GET /calls: %d of %d, pages %+v, first %s (want the newest, %s)", len(l.Data), l.TotalCount, l.Pages, l.Data[0].ID, all[len(all)-1].ID)
	}
	p2 := decode[callListJSON](t, call(t, s, http.MethodGet, "/calls?page=2&per_page=100", nil))
	if p2.Pages.Page != 2 || p2.Pages.PerPage != 25 || p2.Data[0].ID != all[len(all)-26].ID {
		t.Errorf("page 2: %+v, first %s", p2.Pages, p2.Data[0].ID)
	}

	demoCalls := w.PhoneCalls(DemoCallerID)
	r := call(t, s, http.MethodGet, "/calls/"+demoCalls[0].ID, nil)
	wantStatus(t, r, http.StatusOK)
	if got := decode[callJSON](t, r); got.ID != demoCalls[0].ID || *got.ContactID != DemoCallerID || *got.ConversationID != demoCalls[0].ConversationID {
		t.Errorf("GET /calls/%s = %s", demoCalls[0].ID, r.body)
	}
	wantError(t, call(t, s, http.MethodGet, "/calls/1", nil), http.StatusNotFound, CodeNotFound)

	var convIDs []string
	for _, c := range demoCalls {
		convIDs = append(convIDs, c.ConversationID)
	}
	found := decode[callListJSON](t, call(t, s, http.MethodPost, "/calls/search", map[string]any{"conversation_ids": append(convIDs, "999")}))
	if len(found.Data) != len(demoCalls) {
		t.Errorf("calls/search found %d calls, want %d", len(found.Data), len(demoCalls))
	}
	for _, ids := range [][]string{nil, slices.Repeat([]string{"1"}, 21)} {
		wantError(t, call(t, s, http.MethodPost, "/calls/search", map[string]any{"conversation_ids": ids}), http.StatusBadRequest, CodeCallIDLimit)
	}
}

func TestInteractionFaultsAreScoped(t *testing.T) {
	s := start(t, Options{Contacts: 30})
	s.Workspace.SetFaults(Faults{ErrorRate: 1, Endpoints: []string{EndpointSearchTickets}})
	wantError(t, call(t, s, http.MethodPost, "/tickets/search", query(filter("open", "=", true))), http.StatusInternalServerError, CodeServerError)
	wantStatus(t, call(t, s, http.MethodPost, "/conversations/search", query(filter("open", "=", true))), http.StatusOK)
	if n := s.Workspace.Calls(EndpointSearchTickets); n != 1 {
		t.Errorf("%d ticket searches counted, want 1", n)
	}
}
