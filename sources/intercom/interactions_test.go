package intercom_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/intercom"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// interactionsEnv is a client with an interaction reader over a fresh
// emulator.
type interactionsEnv struct {
	client *intercom.Client
	x      *intercom.Interactions
	ws     *emulator.Workspace
	url    string
	now    time.Time
}

var interactionsNow = time.Date(2026, time.March, 18, 15, 30, 0, 0, time.UTC)

func startInteractions(t *testing.T, opts emulator.Options, cfg intercom.Config) *interactionsEnv {
	t.Helper()
	opts.Token = token
	opts.Now = func() time.Time { return interactionsNow }
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
	return &interactionsEnv{client: c, x: intercom.NewInteractions(c, intercom.InteractionsConfig{}), ws: em.Workspace, url: em.URL, now: interactionsNow}
}

// refs reads contacts the way the product does (with their notes counts)
// and resets the emulator's counters.
func (e *interactionsEnv) refs(t *testing.T, ids []string) []sources.ContactRef {
	t.Helper()
	found, err := e.client.ContactsByIDs(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	var refs []sources.ContactRef
	for _, id := range ids {
		if found[id] == nil {
			t.Fatalf("contact %s not found", id)
		}
		refs = append(refs, sources.ContactRefOf(found[id]))
	}
	e.ws.ResetCalls()
	return refs
}

// batchOf50 is the demo caller, the contact without history, one with a
// long history and the first others.
func batchOf50(t *testing.T, ws *emulator.Workspace) []string {
	t.Helper()
	ids := []string{emulator.DemoCallerID}
	for _, c := range ws.Contacts() {
		if c.Name == emulator.NoHistoryContactName || c.Name == "Noah Williams" {
			ids = append(ids, c.ID)
		}
	}
	for _, c := range ws.Contacts() {
		if len(ids) == 50 {
			break
		}
		if !slices.Contains(ids, c.ID) {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

func pagesOf(n, per int) int { return max(1, (n+per-1)/per) }

func kindsOf(list []*sources.Interaction) map[sources.InteractionKind]int {
	m := map[sources.InteractionKind]int{}
	for _, it := range list {
		m[it.Kind]++
	}
	return m
}

func TestInteractionsByContactsBatch(t *testing.T) {
	e := startInteractions(t, emulator.Options{Phone: true}, intercom.Config{})
	ids := batchOf50(t, e.ws)
	refs := e.refs(t, ids)

	// What the emulator holds for the batch, and the calls that should take.
	want := map[string]map[sources.InteractionKind]int{}
	convs, tickets, withNotes, phoneConvs := 0, 0, 0, 0
	for _, id := range ids {
		want[id] = map[sources.InteractionKind]int{
			sources.KindConversation: len(e.ws.Conversations(id)),
			sources.KindTicket:       len(e.ws.Tickets(id)),
			sources.KindNote:         len(e.ws.Notes(id)),
			sources.KindCall:         len(e.ws.PhoneCalls(id)),
		}
		convs += len(e.ws.Conversations(id))
		tickets += len(e.ws.Tickets(id))
		if len(e.ws.Notes(id)) > 0 {
			withNotes++
		}
		phoneConvs += len(e.ws.PhoneCalls(id))
		for k, n := range want[id] {
			if n == 0 {
				delete(want[id], k)
			}
		}
	}
	if withNotes == 0 || withNotes == len(ids) || phoneConvs == 0 {
		t.Fatalf("the batch should mix contacts with and without notes and calls: %d with notes, %d calls", withNotes, phoneConvs)
	}

	got, err := e.x.InteractionsByContacts(context.Background(), refs, nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		endpoint string
		want     int
	}{
		// All conversations, and the phone ones on their own for the calls.
		{emulator.EndpointSearchConversations, pagesOf(convs, 150) + 1},
		{emulator.EndpointSearchTickets, pagesOf(tickets, 150)},
		{emulator.EndpointContactNotes, withNotes},
		{emulator.EndpointSearchPhoneCalls, pagesOf(phoneConvs, 20)},
		{emulator.EndpointMe, 1},
		{emulator.EndpointAdmins, 1},
	} {
		if n := e.ws.Calls(c.endpoint); n != c.want {
			t.Errorf("%s: %d calls, want %d", c.endpoint, n, c.want)
		}
	}
	if len(got) != len(ids) {
		t.Errorf("%d contacts in the result, want all %d", len(got), len(ids))
	}
	for _, id := range ids {
		list, ok := got[id]
		if !ok || list == nil {
			t.Errorf("contact %s has no entry", id)
			continue
		}
		if k := kindsOf(list); !mapsEqual(k, want[id]) {
			t.Errorf("contact %s: kinds %v, want %v", id, k, want[id])
		}
		if !slices.IsSortedFunc(list, sources.CompareInteractions) {
			t.Errorf("contact %s: history not newest first", id)
		}
		for _, it := range list {
			if it.ContactID != id || it.Subject == "" || it.Date.IsZero() || it.Status == "" || it.Priority == "" ||
				!strings.HasPrefix(it.URL, "https://app.intercom.com/a/") || !strings.Contains(it.URL, "/"+emulator.DefaultWorkspaceID+"/") {
				t.Errorf("contact %s: incomplete %s %+v", id, it.Kind, it)
			}
		}
	}

	t.Run("a second batch reads no workspace or admins again", func(t *testing.T) {
		e.ws.ResetCalls()
		if _, err := e.x.InteractionsByContacts(context.Background(), refs[:5], nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if n := e.ws.Calls(emulator.EndpointMe) + e.ws.Calls(emulator.EndpointAdmins); n != 0 {
			t.Errorf("%d calls to /me and /admins, want 0", n)
		}
	})
}

func mapsEqual[K comparable](a, b map[K]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestInteractionsOfTheDemoCaller(t *testing.T) {
	e := startInteractions(t, emulator.Options{Phone: true}, intercom.Config{})
	refs := e.refs(t, []string{emulator.DemoCallerID})
	got, err := e.x.InteractionsByContacts(context.Background(), refs, nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	list := got[emulator.DemoCallerID]
	want := emulator.DemoCallerConversations + emulator.DemoCallerTickets + emulator.DemoCallerNotes + emulator.DemoCallerPhoneCalls
	if len(list) != want {
		t.Fatalf("%d interactions, want %d", len(list), want)
	}
	byKind := map[sources.InteractionKind][]*sources.Interaction{}
	for _, it := range list {
		byKind[it.Kind] = append(byKind[it.Kind], it)
	}

	// The newest conversation nobody answered: new, urgent, its body a clean preview.
	top := byKind[sources.KindConversation][0]
	full := "Hi, since this morning none of our 12 handheld scanners sync with the dashboard — orders are piling up at the Oakland warehouse. Can someone call me back ASAP? My direct line is (415) 555-0142. Thanks, Maria"
	head, cut := strings.CutSuffix(top.Description, "…")
	if top.Subject != "Warehouse scanners can't sync" || top.Status != sources.StatusNew || top.Priority != sources.PriorityUrgent ||
		!cut || !strings.HasPrefix(full, head) || len([]rune(top.Description)) > sources.PreviewLength || len([]rune(head)) < 150 || top.Direction != sources.DirectionInbound || top.SourceState != "open" ||
		top.Author == nil || top.Author.Kind != sources.ParticipantContact || top.Author.Name != emulator.DemoCallerName ||
		top.URL != "https://app.intercom.com/a/inbox/demo0001/inbox/conversation/"+top.ID || !top.Date.Equal(top.UpdatedAt) {
		t.Errorf("newest conversation = %+v (author %+v)", top, top.Author)
	}
	if list[0] != top && list[0].Kind != sources.KindTicket {
		t.Errorf("the history starts with %s %q, want the newest ticket or conversation", list[0].Kind, list[0].Subject)
	}
	// The missed call of yesterday.
	var missed *sources.Interaction
	for _, it := range byKind[sources.KindCall] {
		if strings.HasPrefix(it.Subject, "Missed") || strings.Contains(it.Subject, "voicemail") {
			missed = it
			break
		}
	}
	if missed == nil || missed.Status != sources.StatusClosed || missed.Direction != sources.DirectionInbound || missed.Duration != 0 ||
		missed.ConversationID == "" || !strings.HasSuffix(missed.URL, "/conversation/"+missed.ConversationID) ||
		!strings.Contains(missed.Description, "+14155550142") {
		t.Errorf("missed call = %+v", missed)
	}
	answered := 0
	for _, it := range byKind[sources.KindCall] {
		if it.Duration > 0 {
			answered++
			if it.Assignee == nil || it.Assignee.Name == "" || !strings.Contains(it.Description, "Answered by "+it.Assignee.Name) {
				t.Errorf("answered call %s: assignee %+v, description %q", it.ID, it.Assignee, it.Description)
			}
		}
	}
	if answered == 0 {
		t.Error("no answered call")
	}
	statuses := map[sources.Status]bool{}
	for _, it := range byKind[sources.KindTicket] {
		statuses[it.Status] = true
		if it.Reference == "" || it.Author == nil || !strings.Contains(it.URL, "/inbox/conversation/"+it.ID) {
			t.Errorf("ticket %+v", it)
		}
	}
	for _, s := range []sources.Status{sources.StatusNew, sources.StatusOpen, sources.StatusPending, sources.StatusSolved, sources.StatusClosed} {
		if !statuses[s] {
			t.Errorf("no ticket of the demo caller is %s (got %v)", s, statuses)
		}
	}
	for _, it := range byKind[sources.KindNote] {
		if it.Status != sources.StatusClosed || it.Priority != sources.PriorityNone || it.Author == nil || it.Author.Kind != sources.ParticipantAdmin ||
			!strings.HasPrefix(it.Subject, "Note by ") || it.URL != "https://app.intercom.com/a/apps/demo0001/users/"+emulator.DemoCallerID ||
			strings.ContainsAny(it.Description, "<>") {
			t.Errorf("note %+v", it)
		}
	}

	t.Run("single reads", func(t *testing.T) {
		c, err := e.x.Conversation(context.Background(), top.ID)
		if err != nil || c.ID != top.ID || c.ContactID != emulator.DemoCallerID || c.Status != top.Status || c.Subject != top.Subject {
			t.Errorf("Conversation(%s) = %+v, %v", top.ID, c, err)
		}
		tk := byKind[sources.KindTicket][0]
		got, err := e.x.Ticket(context.Background(), tk.ID)
		if err != nil || got.ID != tk.ID || got.Status != tk.Status || got.Reference != tk.Reference {
			t.Errorf("Ticket(%s) = %+v, %v", tk.ID, got, err)
		}
		if _, err := e.x.Conversation(context.Background(), "1"); !sources.IsNotFound(err) {
			t.Errorf("unknown conversation: %v, want NOT_FOUND", err)
		}
		if _, err := e.x.Ticket(context.Background(), "1"); !sources.IsNotFound(err) {
			t.Errorf("unknown ticket: %v, want NOT_FOUND", err)
		}
	})
}

func TestInteractionsNotesAreReadOnlyWhenCounted(t *testing.T) {
	e := startInteractions(t, emulator.Options{Contacts: 60}, intercom.Config{})
	var none, some string
	for _, c := range e.ws.Contacts() {
		switch n := len(e.ws.Notes(c.ID)); {
		case n == 0 && none == "":
			none = c.ID
		case n > 0 && some == "" && c.ID != emulator.DemoCallerID:
			some = c.ID
		}
	}
	refs := e.refs(t, []string{none, some})
	if refs[0].NotesCount != 0 || refs[1].NotesCount == 0 {
		t.Fatalf("notes counts %+v", refs)
	}
	got, err := e.x.InteractionsByContacts(context.Background(), refs, []sources.InteractionKind{sources.KindNote}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.ws.Calls(emulator.EndpointContactNotes); n != 1 {
		t.Errorf("%d notes reads, want 1 (the contact without notes is skipped)", n)
	}
	if len(got[none]) != 0 || len(got[some]) != len(e.ws.Notes(some)) {
		t.Errorf("notes: %d and %d, want 0 and %d", len(got[none]), len(got[some]), len(e.ws.Notes(some)))
	}

	// A contact known only by id has its notes read whatever their count.
	e.ws.ResetCalls()
	if _, err := e.x.InteractionsByContacts(context.Background(), []sources.ContactRef{sources.ContactRefByID(none), sources.ContactRefByID("gone")},
		[]sources.InteractionKind{sources.KindNote}, time.Time{}); err != nil {
		t.Errorf("unknown count: %v (a contact that does not exist has no notes)", err)
	}
	if n := e.ws.Calls(emulator.EndpointContactNotes); n != 2 {
		t.Errorf("%d notes reads, want 2", n)
	}
}

// Intercom matches dates by calendar day: since must still be exact.
func TestInteractionsSinceIsExact(t *testing.T) {
	e := startInteractions(t, emulator.Options{Phone: true}, intercom.Config{})
	ids := batchOf50(t, e.ws)[:20]
	refs := e.refs(t, ids)
	for _, since := range []time.Time{e.now.Add(-10 * 24 * time.Hour), e.now.Add(-90*24*time.Hour + 7*time.Hour), e.now.Add(-3 * time.Hour)} {
		e.ws.ResetCalls()
		got, err := e.x.InteractionsByContacts(context.Background(), refs, nil, since)
		if err != nil {
			t.Fatal(err)
		}
		if n := e.ws.Calls(emulator.EndpointSearchConversations); n != 2 {
			t.Errorf("since %v: %d conversation searches, want 2 (all, and phone calls')", since, n)
		}
		for _, id := range ids {
			want := map[sources.InteractionKind]int{}
			for _, c := range e.ws.Conversations(id) {
				if !c.UpdatedAt.Before(since) {
					want[sources.KindConversation]++
				}
			}
			for _, tk := range e.ws.Tickets(id) {
				if !tk.UpdatedAt.Before(since) {
					want[sources.KindTicket]++
				}
			}
			for _, n := range e.ws.Notes(id) {
				if !n.CreatedAt.Before(since) {
					want[sources.KindNote]++
				}
			}
			for _, pc := range e.ws.PhoneCalls(id) {
				if !pc.InitiatedAt.Before(since) {
					want[sources.KindCall]++
				}
			}
			if k := kindsOf(got[id]); !mapsEqual(k, want) {
				t.Errorf("since %v, contact %s: %v, want %v", since, id, k, want)
			}
		}
	}
}

func TestInteractionsKinds(t *testing.T) {
	e := startInteractions(t, emulator.Options{Phone: true}, intercom.Config{})
	refs := e.refs(t, []string{emulator.DemoCallerID})
	tests := []struct {
		kinds     []sources.InteractionKind
		endpoints map[string]int
	}{
		{[]sources.InteractionKind{sources.KindTicket}, map[string]int{emulator.EndpointSearchTickets: 1}},
		{[]sources.InteractionKind{sources.KindNote, sources.KindNote}, map[string]int{emulator.EndpointContactNotes: 1}},
		{[]sources.InteractionKind{sources.KindCall}, map[string]int{emulator.EndpointSearchConversations: 1, emulator.EndpointSearchPhoneCalls: 1}},
		{[]sources.InteractionKind{sources.KindConversation}, map[string]int{emulator.EndpointSearchConversations: 1}},
	}
	for _, tt := range tests {
		t.Run(string(tt.kinds[0]), func(t *testing.T) {
			e.ws.ResetCalls()
			got, err := e.x.InteractionsByContacts(context.Background(), refs, tt.kinds, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range got[emulator.DemoCallerID] {
				if it.Kind != tt.kinds[0] {
					t.Fatalf("asked for %v, got a %s", tt.kinds, it.Kind)
				}
			}
			if len(got[emulator.DemoCallerID]) == 0 {
				t.Errorf("no %s", tt.kinds[0])
			}
			counts := e.ws.CallCounts()
			delete(counts, emulator.EndpointMe)
			delete(counts, emulator.EndpointAdmins)
			if !mapsEqual(counts, tt.endpoints) {
				t.Errorf("calls %v, want %v", counts, tt.endpoints)
			}
		})
	}
	_, err := e.x.InteractionsByContacts(context.Background(), refs, []sources.InteractionKind{"email"}, time.Time{})
	if sources.ErrorCode(err) != sources.EBadUserInput {
		t.Errorf("unknown kind: %v, want BAD_USER_INPUT", err)
	}
	got, err := e.x.InteractionsByContacts(context.Background(), nil, nil, time.Time{})
	if err != nil || len(got) != 0 {
		t.Errorf("no contacts: %v, %v", got, err)
	}
}

// A kind that fails upstream does not fail the others.
func TestInteractionsPartialFailure(t *testing.T) {
	e := startInteractions(t, emulator.Options{Phone: true}, intercom.Config{MaxAttempts: 1, BreakerMinCalls: 100})
	refs := e.refs(t, []string{emulator.DemoCallerID})
	e.ws.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable, Endpoints: []string{emulator.EndpointSearchTickets}})
	got, err := e.x.InteractionsByContacts(context.Background(), refs, nil, time.Time{})
	var partial *sources.PartialError
	if !errors.As(err, &partial) {
		t.Fatalf("err %v, want a *sources.PartialError", err)
	}
	if !slices.Equal(partial.Kinds(), []sources.InteractionKind{sources.KindTicket}) || sources.ErrorCode(err) != sources.EUpstreamUnavailable ||
		!strings.Contains(err.Error(), "tickets") {
		t.Errorf("partial error %q: kinds %v, code %s", err, partial.Kinds(), sources.ErrorCode(err))
	}
	k := kindsOf(got[emulator.DemoCallerID])
	if k[sources.KindTicket] != 0 || k[sources.KindConversation] != emulator.DemoCallerConversations ||
		k[sources.KindNote] != emulator.DemoCallerNotes || k[sources.KindCall] != emulator.DemoCallerPhoneCalls {
		t.Errorf("kinds %v: want everything but tickets", k)
	}

	t.Run("conversations failing fail calls too", func(t *testing.T) {
		e.ws.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable, Endpoints: []string{emulator.EndpointSearchConversations}})
		_, err := e.x.InteractionsByContacts(context.Background(), refs, nil, time.Time{})
		if !errors.As(err, &partial) || !slices.Equal(partial.Kinds(), []sources.InteractionKind{sources.KindConversation, sources.KindCall}) {
			t.Errorf("err %v, want conversations and calls failed", err)
		}
	})
	t.Run("every kind failing reads as the cause", func(t *testing.T) {
		e.ws.SetFaults(emulator.Faults{})
		bad, err := intercom.New(intercom.Config{Token: "wrong", BaseURL: e.url})
		if err != nil {
			t.Fatal(err)
		}
		got, err := intercom.NewInteractions(bad, intercom.InteractionsConfig{}).InteractionsByContacts(context.Background(), refs, nil, time.Time{})
		if !errors.As(err, &partial) || len(partial.Kinds()) != 4 || sources.ErrorCode(err) != sources.EUnauthenticated ||
			len(got[emulator.DemoCallerID]) != 0 {
			t.Errorf("bad token: %v (%d interactions), want every kind UNAUTHENTICATED", err, len(got[emulator.DemoCallerID]))
		}
	})
}

func TestInteractionsWithoutIntercomPhone(t *testing.T) {
	e := startInteractions(t, emulator.Options{}, intercom.Config{})
	refs := e.refs(t, []string{emulator.DemoCallerID})
	if !slices.Contains(e.x.SupportedInteractionKinds(), sources.KindCall) {
		t.Fatal("calls are not supported before the workspace said so")
	}
	got, err := e.x.InteractionsByContacts(context.Background(), refs, nil, time.Time{})
	if err != nil {
		t.Fatalf("every kind: %v (calls not being available is no error then)", err)
	}
	if k := kindsOf(got[emulator.DemoCallerID]); k[sources.KindCall] != 0 || k[sources.KindConversation] != emulator.DemoCallerConversations {
		t.Errorf("kinds %v", k)
	}
	if slices.Contains(e.x.SupportedInteractionKinds(), sources.KindCall) {
		t.Error("calls still listed as supported after a 403")
	}

	e.ws.ResetCalls()
	_, err = e.x.InteractionsByContacts(context.Background(), refs, []sources.InteractionKind{sources.KindConversation, sources.KindCall}, time.Time{})
	var partial *sources.PartialError
	if !errors.As(err, &partial) || !slices.Equal(partial.Kinds(), []sources.InteractionKind{sources.KindCall}) ||
		!errors.Is(err, sources.ErrKindNotSupported) || sources.ErrorCode(err) != sources.EForbidden {
		t.Errorf("calls asked for by name: %v, want a partial FORBIDDEN not-supported error for calls", err)
	}
	if n := e.ws.Calls(emulator.EndpointSearchPhoneCalls); n != 0 {
		t.Errorf("%d call searches after the workspace said it has no Intercom Phone, want 0", n)
	}
}

func TestInteractionDomain(t *testing.T) {
	for in, want := range map[string]sources.InteractionKind{"ticket": sources.KindTicket, " Calls ": sources.KindCall, "NOTE": sources.KindNote} {
		if got, err := sources.ParseInteractionKind(in); err != nil || got != want {
			t.Errorf("ParseInteractionKind(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := sources.ParseInteractionKind("sms"); sources.ErrorCode(err) != sources.EBadUserInput {
		t.Errorf("ParseInteractionKind(sms): %v", err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	list := []*sources.Interaction{
		{ID: "9", Kind: sources.KindTicket, Date: at},
		{ID: "100", Kind: sources.KindConversation, Date: at},
		{ID: "99", Kind: sources.KindConversation, Date: at},
		{ID: "1", Kind: sources.KindNote, Date: at.Add(time.Second)},
	}
	sources.SortInteractions(list)
	var order []string
	for _, it := range list {
		order = append(order, it.ID)
	}
	if want := []string{"1", "100", "99", "9"}; !slices.Equal(order, want) {
		t.Errorf("sorted %v, want %v (newest first, then kind, then id as a number, descending)", order, want)
	}
	p := &sources.PartialError{Failed: map[sources.InteractionKind]error{
		sources.KindCall:   sources.KindNotSupported(sources.KindCall, "no phone"),
		sources.KindTicket: &sources.Error{Code: sources.ERateLimited, Message: "slow down", Err: errors.New("secret detail")},
	}}
	if !slices.Equal(p.Kinds(), []sources.InteractionKind{sources.KindTicket, sources.KindCall}) || sources.ErrorCode(p) != sources.ERateLimited ||
		!errors.Is(p, sources.ErrKindNotSupported) || strings.Contains(p.Error(), "secret") ||
		p.Error() != "could not read tickets (RATE_LIMITED: slow down), calls (FORBIDDEN: calls are not available: no phone)" {
		t.Errorf("PartialError: kinds %v, code %s, message %q", p.Kinds(), sources.ErrorCode(p), p.Error())
	}
}
