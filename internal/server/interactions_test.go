package server

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

type interactionJSON struct {
	ID          string
	Type        string
	Subject     string
	Description string
	Date        time.Time
	Status      string
	Priority    string
	URL         *string
}

type historyJSON struct {
	TotalCount int
	Nodes      []interactionJSON
	PageInfo   struct {
		HasNextPage bool
		EndCursor   *string
	}
}

// emulatorHistory is what the emulator holds for a contact, by kind.
func emulatorHistory(ws *emulator.Workspace, contactID string) map[string][]string {
	h := map[string][]string{}
	for _, c := range ws.Conversations(contactID) {
		h["CONVERSATION"] = append(h["CONVERSATION"], c.ID)
	}
	for _, t := range ws.Tickets(contactID) {
		h["TICKET"] = append(h["TICKET"], t.ID)
	}
	for _, n := range ws.Notes(contactID) {
		h["NOTE"] = append(h["NOTE"], n.ID)
	}
	for _, c := range ws.PhoneCalls(contactID) {
		h["CALL"] = append(h["CALL"], c.ID)
	}
	return h
}

func byType(nodes []interactionJSON) map[string][]string {
	h := map[string][]string{}
	for _, n := range nodes {
		h[n.Type] = append(h[n.Type], n.ID)
	}
	return h
}

func sameSets(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		x, y := slices.Clone(v), slices.Clone(b[k])
		slices.Sort(x)
		slices.Sort(y)
		if !slices.Equal(x, y) {
			return false
		}
	}
	return true
}

func newestFirst(t *testing.T, nodes []interactionJSON) {
	t.Helper()
	for i := 1; i < len(nodes); i++ {
		if nodes[i].Date.After(nodes[i-1].Date) {
			t.Errorf("interaction %d (%s) is newer than the one before it (%s)", i, nodes[i].Date, nodes[i-1].Date)
		}
	}
}

const historyQuery = `query($id: ID!, $types: [InteractionType!], $first: Int, $after: String, $since: Time) {
	interactions(contactId: $id, types: $types, first: $first, after: $after, since: $since) {
		totalCount nodes { id type subject description date status priority url } pageInfo { hasNextPage endCursor } } }`

func TestInteractionsOfTheDemoCaller(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{Phone: true})
	ws := env.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	want := emulatorHistory(ws, demo.ID)
	var data struct{ Interactions historyJSON }
	env.mustQuery(t, historyQuery, map[string]any{"id": demo.ID, "first": 100}, &data)
	got := data.Interactions
	if !sameSets(byType(got.Nodes), want) {
		t.Errorf("history by type = %v\nwant %v", byType(got.Nodes), want)
	}
	if got.TotalCount != len(got.Nodes) {
		t.Errorf("totalCount %d, nodes %d", got.TotalCount, len(got.Nodes))
	}
	newestFirst(t, got.Nodes)
	for _, n := range got.Nodes {
		if n.Subject == "" || strings.ContainsAny(n.Description, "<>") && strings.Contains(n.Description, "</") {
			t.Errorf("%s %s: subject %q, description %q", n.Type, n.ID, n.Subject, n.Description)
		}
		if n.URL == nil || !strings.HasPrefix(*n.URL, "https://app.intercom.com/") {
			t.Errorf("%s %s: url %v", n.Type, n.ID, n.URL)
		}
	}
}

// A history page's edges, nodes and end cursor agree, on a contact's own
// history field too (the edges and the end cursor are built only when
// selected): each edge holds the node in the same place, the last edge's
// cursor is the end cursor, and paging after any edge's cursor continues
// with the next node.
func TestInteractionEdgesNodesAndCursorsAgree(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{Phone: true})
	demo, _ := env.Intercom.Workspace.DemoCaller()
	const q = `query($id: ID!, $first: Int, $after: String) { contact(id: $id) { interactions(first: $first, after: $after) {
		edges { cursor node { id type } } nodes { id type } pageInfo { hasNextPage endCursor } totalCount } } }`
	type page struct {
		Contact struct {
			Interactions struct {
				Edges []struct {
					Cursor string
					Node   interactionJSON
				}
				Nodes    []interactionJSON
				PageInfo struct {
					HasNextPage bool
					EndCursor   *string
				}
				TotalCount int
			}
		}
	}
	var all page
	env.mustQuery(t, q, map[string]any{"id": demo.ID, "first": 100}, &all)
	h := all.Contact.Interactions
	if len(h.Nodes) < 3 || len(h.Edges) != len(h.Nodes) || h.TotalCount != len(h.Nodes) || h.PageInfo.HasNextPage {
		t.Fatalf("%d nodes, %d edges, totalCount %d, hasNextPage %v", len(h.Nodes), len(h.Edges), h.TotalCount, h.PageInfo.HasNextPage)
	}
	for i, e := range h.Edges {
		if e.Node.ID != h.Nodes[i].ID || e.Node.Type != h.Nodes[i].Type || e.Cursor == "" {
			t.Errorf("edge %d: %s %s (cursor %q), node %s %s", i, e.Node.Type, e.Node.ID, e.Cursor, h.Nodes[i].Type, h.Nodes[i].ID)
		}
	}
	if last := h.Edges[len(h.Edges)-1].Cursor; h.PageInfo.EndCursor == nil || *h.PageInfo.EndCursor != last {
		t.Errorf("endCursor %v, want the last edge's cursor %q", h.PageInfo.EndCursor, last)
	}
	for _, i := range []int{0, len(h.Edges) / 2} {
		var next page
		env.mustQuery(t, q, map[string]any{"id": demo.ID, "first": 1, "after": h.Edges[i].Cursor}, &next)
		n := next.Contact.Interactions.Nodes
		if len(n) != 1 || n[0].ID != h.Nodes[i+1].ID {
			t.Errorf("after edge %d: %v, want %s", i, n, h.Nodes[i+1].ID)
		}
	}
	var empty page
	env.mustQuery(t, q, map[string]any{"id": demo.ID, "first": 1, "after": *h.PageInfo.EndCursor}, &empty)
	if e := empty.Contact.Interactions; len(e.Nodes) != 0 || len(e.Edges) != 0 || e.PageInfo.EndCursor != nil || e.PageInfo.HasNextPage {
		t.Errorf("after the end: %+v, want an empty page without an end cursor", e)
	}
}

// Paging with first/after walks the whole history once, across kinds.
func TestInteractionsPagingIsStable(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{Phone: true})
	demo, _ := env.Intercom.Workspace.DemoCaller()
	var all struct{ Interactions historyJSON }
	env.mustQuery(t, historyQuery, map[string]any{"id": demo.ID, "first": 100}, &all)
	var paged []string
	vars := map[string]any{"id": demo.ID, "first": 7}
	for range 50 {
		var page struct{ Interactions historyJSON }
		env.mustQuery(t, historyQuery, vars, &page)
		for _, n := range page.Interactions.Nodes {
			paged = append(paged, n.Type+":"+n.ID)
		}
		if !page.Interactions.PageInfo.HasNextPage {
			break
		}
		vars["after"] = *page.Interactions.PageInfo.EndCursor
	}
	var want []string
	for _, n := range all.Interactions.Nodes {
		want = append(want, n.Type+":"+n.ID)
	}
	if !slices.Equal(paged, want) {
		t.Errorf("paged history (%d) differs from the whole (%d)", len(paged), len(want))
	}
	if r := env.query(t, historyQuery, map[string]any{"id": demo.ID, "after": "nonsense"}, nil); r.code() != "BAD_USER_INPUT" {
		t.Errorf("bad cursor: %q, want BAD_USER_INPUT", r.code())
	}
	if r := env.query(t, historyQuery, map[string]any{"id": demo.ID, "first": 101}, nil); r.code() != "BAD_USER_INPUT" {
		t.Errorf("first 101: %q, want BAD_USER_INPUT", r.code())
	}
}

func TestInteractionsTypesAndSinceFilters(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{Phone: true})
	ws := env.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	var tickets struct{ Interactions historyJSON }
	env.mustQuery(t, historyQuery, map[string]any{"id": demo.ID, "first": 100, "types": []string{"TICKET", "NOTE"}}, &tickets)
	want := emulatorHistory(ws, demo.ID)
	if got := byType(tickets.Interactions.Nodes); !sameSets(got, map[string][]string{"TICKET": want["TICKET"], "NOTE": want["NOTE"]}) {
		t.Errorf("types TICKET, NOTE: got %v", got)
	}

	var all struct{ Interactions historyJSON }
	env.mustQuery(t, historyQuery, map[string]any{"id": demo.ID, "first": 100}, &all)
	since := all.Interactions.Nodes[len(all.Interactions.Nodes)/2].Date
	wantSince := 0
	for _, n := range all.Interactions.Nodes {
		if !n.Date.Before(since) {
			wantSince++
		}
	}
	var recent struct{ Interactions historyJSON }
	env.mustQuery(t, historyQuery, map[string]any{"id": demo.ID, "first": 100, "since": since.Format(time.RFC3339Nano)}, &recent)
	if recent.Interactions.TotalCount != wantSince {
		t.Errorf("since %s: %d interactions, want %d", since, recent.Interactions.TotalCount, wantSince)
	}
	for _, n := range recent.Interactions.Nodes {
		if n.Date.Before(since) {
			t.Errorf("%s dated %s is before since %s", n.ID, n.Date, since)
		}
	}
}

// Tickets failing upstream: the other kinds still come back, with an error
// that names tickets.
func TestInteractionsPartialFailure(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{Phone: true})
	ws := env.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	ws.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: 500, Endpoints: []string{emulator.EndpointSearchTickets}})
	var data struct{ Interactions historyJSON }
	r := env.query(t, historyQuery, map[string]any{"id": demo.ID, "first": 100}, &data)
	if r.Status != 200 || len(r.Errors) != 1 {
		t.Fatalf("HTTP %d, errors %+v; want 200 with one error", r.Status, r.Errors)
	}
	e := r.Errors[0]
	if e.Extensions["code"] != "UPSTREAM_UNAVAILABLE" || !strings.Contains(e.Message, "ticket") {
		t.Errorf("error %+v, want UPSTREAM_UNAVAILABLE naming tickets", e)
	}
	if failed, _ := e.Extensions["failedTypes"].([]any); len(failed) != 1 || failed[0] != "TICKET" {
		t.Errorf("failedTypes = %v, want [TICKET]", e.Extensions["failedTypes"])
	}
	got := byType(data.Interactions.Nodes)
	want := emulatorHistory(ws, demo.ID)
	delete(want, "TICKET")
	if !sameSets(got, want) {
		t.Errorf("partial history = %v, want every kind but tickets", got)
	}
}

const dashboardWithHistory = `query Dashboard($ids: [ID!]!) {
	contactsByIds(ids: $ids) { id name company { name }
		interactions(first: 5) { totalCount nodes { id type date subject status priority } } } }`

// The agent dashboard: 50 contacts, each with company and last 5
// interactions. Histories are correct and the upstream cost is one call per
// batchable kind (and per page of it), not one per contact.
func TestDashboardHistoriesCostOneCallPerKind(t *testing.T) {
	env := historyEnv(t)
	ws := env.Intercom.Workspace
	var ids []string
	for _, c := range ws.Contacts()[:50] {
		ids = append(ids, c.ID)
	}
	ws.ResetCalls()
	var data struct {
		ContactsByIds []struct {
			ID           string
			Interactions historyJSON
		}
	}
	env.mustQuery(t, dashboardWithHistory, map[string]any{"ids": ids}, &data)
	for _, c := range data.ContactsByIds {
		checkHistory(t, ws, c.ID, c.Interactions)
	}
	checkHistoryCalls(t, ws, ids)
	t.Logf("cold dashboard with histories: %d upstream calls %v", ws.TotalCalls(), ws.CallCounts())

	ws.ResetCalls()
	env.mustQuery(t, dashboardWithHistory, map[string]any{"ids": ids}, &data)
	if n := ws.TotalCalls(); n != 0 {
		t.Errorf("warm dashboard: %d upstream calls %v, want 0", n, ws.CallCounts())
	}
}

// The executor resolves contacts one after another; the loads their lazy
// fields wait on are queued for the whole list first, so a page of the
// contacts connection costs what a list does, through its edges' nodes and
// through its nodes alike (the same contacts: each read once).
func TestContactsConnectionHistoriesCostOneCallPerKind(t *testing.T) {
	env := historyEnv(t)
	ws := env.Intercom.Workspace
	ws.ResetCalls()
	var data struct {
		Contacts struct {
			Edges []struct {
				Node struct {
					ID           string
					Company      *struct{ ID string }
					Interactions historyJSON
				}
			}
			Nodes []struct {
				ID        string
				Companies []struct{ ID string }
			}
		}
	}
	env.mustQuery(t, `{ contacts(first: 40) {
		edges { node { id company { id } interactions(first: 5) { totalCount nodes { id type date subject status priority } } } }
		nodes { id companies { id } } } }`, nil, &data)
	var ids []string
	companies := map[string]bool{}
	for i, e := range data.Contacts.Edges {
		ids = append(ids, e.Node.ID)
		checkHistory(t, ws, e.Node.ID, e.Node.Interactions)
		want, _ := ws.Contact(e.Node.ID)
		var got []string
		for _, co := range data.Contacts.Nodes[i].Companies {
			got = append(got, co.ID)
			companies[co.ID] = true
		}
		if !slices.Equal(got, want.CompanyIDs) || (e.Node.Company == nil) != (len(want.CompanyIDs) == 0) {
			t.Errorf("contact %s: companies %v and company %+v, want %v", e.Node.ID, got, e.Node.Company, want.CompanyIDs)
		}
	}
	if len(ids) != 40 || len(companies) == 0 {
		t.Fatalf("%d contacts with %d companies, want 40 with some", len(ids), len(companies))
	}
	checkHistoryCalls(t, ws, ids)
	if got := ws.CallCounts()[emulator.EndpointCompany]; got != len(companies) {
		t.Errorf("%d company reads, want one per company: %d", got, len(companies))
	}
}

// A connection's edges may name their node twice, under two aliases with
// other lazy fields under each: each is queued for the whole page. And a
// history whose arguments its resolver refuses is not queued at all: the
// field fails before it reads, so nothing of it may reach Intercom.
func TestPrefetchFollowsAliasesAndRefusedArguments(t *testing.T) {
	env := historyEnv(t)
	ws := env.Intercom.Workspace
	ws.ResetCalls()
	var data struct {
		Contacts struct {
			Edges []struct {
				A struct{ ID string }
				B struct {
					ID           string
					Interactions historyJSON
				}
			}
		}
	}
	env.mustQuery(t, `{ contacts(first: 30) { edges {
		a: node { id company { id } }
		b: node { id interactions(first: 5) { totalCount nodes { id type date subject status priority } } } } } }`, nil, &data)
	var ids []string
	for _, e := range data.Contacts.Edges {
		ids = append(ids, e.B.ID)
		checkHistory(t, ws, e.B.ID, e.B.Interactions)
	}
	if len(ids) != 30 {
		t.Fatalf("%d contacts, want 30", len(ids))
	}
	checkHistoryCalls(t, ws, ids)

	env2 := historyEnv(t)
	ws2 := env2.Intercom.Workspace
	ws2.ResetCalls()
	r := env2.query(t, `{ contacts(first: 30) { nodes { id company { id } interactions(first: 500) { totalCount } } } }`, nil, nil)
	if r.code() != "BAD_USER_INPUT" {
		t.Fatalf("first: 500 answered %+v, want BAD_USER_INPUT", r.Errors)
	}
	counts := ws2.CallCounts()
	for _, endpoint := range []string{emulator.EndpointSearchConversations, emulator.EndpointSearchTickets, emulator.EndpointContactNotes, emulator.EndpointSearchPhoneCalls} {
		if counts[endpoint] != 0 {
			t.Errorf("%s: %d calls for histories the query may not read, want 0 (%v)", endpoint, counts[endpoint], counts)
		}
	}
	if counts[emulator.EndpointCompany] == 0 {
		t.Errorf("no company read: the companies should still be queued (%v)", counts)
	}
}

// historyEnv is a workspace with phone calls, cached in Redis, whose loaders
// wait long enough that how many batches form does not depend on how fast
// this machine runs the resolvers (-race slows them down).
func historyEnv(t *testing.T) *testEnv {
	return newTestEnvWith(t, emulator.Options{Phone: true}, "REDIS_URL", "redis://"+redistest.Addr(t), "LOADER_WAIT", "50ms")
}

// checkHistory compares a contact's first 5 interactions with the emulator's.
func checkHistory(t *testing.T, ws *emulator.Workspace, id string, got historyJSON) {
	t.Helper()
	total := 0
	for _, v := range emulatorHistory(ws, id) {
		total += len(v)
	}
	if got.TotalCount != total || len(got.Nodes) != min(5, total) {
		t.Errorf("contact %s: %d of %d interactions, want %d of %d", id, len(got.Nodes), got.TotalCount, min(5, total), total)
	}
	newestFirst(t, got.Nodes)
}

// checkHistoryCalls says whether the histories of the contacts with ids
// cost one upstream call per batchable kind (and page of it), and one notes
// read per contact with notes.
func checkHistoryCalls(t *testing.T, ws *emulator.Workspace, ids []string) {
	t.Helper()
	conversations, tickets, withNotes, phoneConversations := 0, 0, 0, 0
	for _, id := range ids {
		h := emulatorHistory(ws, id)
		conversations += len(h["CONVERSATION"])
		tickets += len(h["TICKET"])
		if len(h["NOTE"]) > 0 {
			withNotes++
		}
		for _, conv := range ws.Conversations(id) {
			if conv.SourceType == "phone_call" || conv.SourceType == "phone_switch" {
				phoneConversations++
			}
		}
	}
	pages := func(n, per int) int { return max(1, (n+per-1)/per) }
	counts := ws.CallCounts()
	checks := map[string]int{
		emulator.EndpointSearchConversations: pages(conversations, 150) + 1, // + the phone ones, for calls
		emulator.EndpointSearchTickets:       pages(tickets, 150),
		emulator.EndpointContactNotes:        withNotes,
		emulator.EndpointSearchPhoneCalls:    (phoneConversations + 19) / 20,
	}
	for endpoint, want := range checks {
		if counts[endpoint] != want {
			t.Errorf("%s: %d calls, want %d", endpoint, counts[endpoint], want)
		}
	}
}
