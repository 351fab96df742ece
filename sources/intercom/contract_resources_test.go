package intercom_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/intercom"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// contractWorkspace is the token's workspace and its admins, and what a
// bad token is told.
func contractWorkspace(e *contractEnv) contractResource {
	ctx, srv, ws, hc, client := e.ctx, e.srv, e.ws, e.hc, e.client
	return contractResource{
		exercises: []string{
			"GET /me 200",
			"GET /me 401",
			"GET /admins 200",
			"GET /admins 401",
			"POST /contacts/search 401",
		},
		steps: []contractStep{
			{"Validate", func(t *testing.T) {
				w, err := client.Validate(callerCtx(ctx, "Validate"))
				if err != nil {
					t.Fatal(err)
				}
				if w.ID != ws.Options().WorkspaceID {
					t.Errorf("workspace id %q, want %q", w.ID, ws.Options().WorkspaceID)
				}
			}},
			{"ListAgents", func(t *testing.T) {
				agents, err := client.ListAgents(callerCtx(ctx, "ListAgents"))
				if err != nil {
					t.Fatal(err)
				}
				if len(agents) != len(ws.Admins()) {
					t.Errorf("%d agents, want %d", len(agents), len(ws.Admins()))
				}
			}},
			{"BadToken", func(t *testing.T) {
				bad, err := intercom.New(intercom.Config{Token: "not-the-token", BaseURL: srv.URL, HTTPClient: hc})
				if err != nil {
					t.Fatal(err)
				}
				bctx := callerCtx(ctx, "bad token")
				if _, err := bad.Validate(bctx); sources.ErrorCode(err) != sources.EUnauthenticated {
					t.Errorf("Validate: err %v, want UNAUTHENTICATED", err)
				}
				if _, err := bad.ListAgents(bctx); sources.ErrorCode(err) != sources.EUnauthenticated {
					t.Errorf("ListAgents: err %v, want UNAUTHENTICATED", err)
				}
				if _, err := bad.SearchContacts(bctx, "maria", 5); sources.ErrorCode(err) != sources.EUnauthenticated {
					t.Errorf("SearchContacts: err %v, want UNAUTHENTICATED", err)
				}
			}},
		},
	}
}

// contractContacts reads contacts by id, email, phone and text, and lists
// them.
func contractContacts(e *contractEnv) contractResource {
	ctx, client, contacts, demo, legacyE164 := e.ctx, e.client, e.contacts, e.demo, e.legacyE164
	return contractResource{
		exercises: []string{
			"GET /contacts/{contact_id} 200",
			"GET /contacts/{contact_id} 404",
			"POST /contacts/search 200",
		},
		steps: []contractStep{
			{"Contact", func(t *testing.T) {
				c, err := client.Contact(callerCtx(ctx, "Contact"), demo.ID)
				if err != nil {
					t.Fatal(err)
				}
				if c.ID != demo.ID || c.Name != demo.Name {
					t.Errorf("got %s %q, want %s %q", c.ID, c.Name, demo.ID, demo.Name)
				}
			}},
			{"Contact/unknown", func(t *testing.T) {
				_, err := client.Contact(callerCtx(ctx, "Contact(unknown)"), "000000000000000000000000")
				if !sources.IsNotFound(err) {
					t.Errorf("unknown contact: err %v, want NOT_FOUND", err)
				}
			}},
			{"ContactsByIDs/one", func(t *testing.T) {
				got, err := client.ContactsByIDs(callerCtx(ctx, "ContactsByIDs(one)"), []string{demo.ID})
				if err != nil {
					t.Fatal(err)
				}
				if got[demo.ID] == nil {
					t.Errorf("demo caller not found by id")
				}
			}},
			{"ContactsByIDs/many", func(t *testing.T) {
				ids := []string{"ffffffffffffffffffffffff"} // unknown: search misses, GET answers 404
				for _, c := range contacts[:20] {
					ids = append(ids, c.ID)
				}
				got, err := client.ContactsByIDs(callerCtx(ctx, "ContactsByIDs(many)"), ids)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 20 {
					t.Errorf("%d contacts found, want 20", len(got))
				}
			}},
			{"ContactsByEmails", func(t *testing.T) {
				emails := []string{demo.Email, "nobody@example.invalid"}
				for _, c := range contacts[30:40] {
					if c.Email != "" {
						emails = append(emails, c.Email)
					}
				}
				got, err := client.ContactsByEmails(callerCtx(ctx, "ContactsByEmails"), emails)
				if err != nil {
					t.Fatal(err)
				}
				if len(got[demo.Email]) != 1 || len(got) != len(emails)-1 {
					t.Errorf("found %d of %d emails (demo caller: %d)", len(got), len(emails)-1, len(got[demo.Email]))
				}
			}},
			{"ContactsByPhones", func(t *testing.T) {
				// The demo caller is found by formatted_phone; the legacy contact
				// only by the phone IN fallback; the last number by neither.
				phones := []string{emulator.DemoCallerFormattedPhone, legacyE164, "+15005550006"}
				got, err := client.ContactsByPhones(callerCtx(ctx, "ContactsByPhones"), phones)
				if err != nil {
					t.Fatal(err)
				}
				if len(got[emulator.DemoCallerFormattedPhone]) != 1 || len(got[legacyE164]) != 1 || len(got) != 2 {
					t.Errorf("phone lookup found %v", got)
				}
			}},
			{"SearchContacts", func(t *testing.T) {
				got, err := client.SearchContacts(callerCtx(ctx, "SearchContacts"), "garcia", 5)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) == 0 {
					t.Errorf("no contact matches %q", "garcia")
				}
			}},
			{"ListContacts/all", func(t *testing.T) {
				seen := map[string]bool{}
				var last time.Time
				req := sources.ContactPageRequest{Limit: 40}
				pages := 0
				for {
					page, err := client.ListContacts(callerCtx(ctx, "ListContacts"), req)
					if err != nil {
						t.Fatal(err)
					}
					pages++
					for _, c := range page.Contacts {
						if seen[c.ID] {
							t.Fatalf("contact %s listed twice", c.ID)
						}
						seen[c.ID] = true
						if c.UpdatedAt.Before(last) {
							t.Fatalf("page %d is not in updated_at order", pages)
						}
						last = c.UpdatedAt
					}
					if page.NextCursor == "" || pages > 20 {
						break
					}
					req.Cursor = page.NextCursor
				}
				if len(seen) != len(contacts) || pages < 3 {
					t.Errorf("listed %d contacts in %d pages, want %d in at least 3", len(seen), pages, len(contacts))
				}
			}},
			{"ListContacts/incremental", func(t *testing.T) {
				since := contractNow.Add(-10 * 24 * time.Hour)
				want := 0
				for _, c := range contacts {
					if !c.UpdatedAt.Before(since) {
						want++
					}
				}
				req := sources.ContactPageRequest{UpdatedSince: since, Limit: 10}
				got := 0
				for range 50 {
					page, err := client.ListContacts(callerCtx(ctx, "ListContacts(since)"), req)
					if err != nil {
						t.Fatal(err)
					}
					for _, c := range page.Contacts {
						if c.UpdatedAt.Before(since) {
							t.Fatalf("contact %s updated %v, before %v", c.ID, c.UpdatedAt, since)
						}
					}
					got += len(page.Contacts)
					if page.NextCursor == "" {
						break
					}
					req.Cursor = page.NextCursor
				}
				if got != want || want == 0 {
					t.Errorf("incremental listing gave %d contacts, want %d (> 0)", got, want)
				}
			}},
		},
	}
}

// contractCompanies reads companies, and a contact's companies.
func contractCompanies(e *contractEnv) contractResource {
	ctx, client, companies, demo := e.ctx, e.client, e.companies, e.demo
	return contractResource{
		exercises: []string{
			"GET /contacts/{contact_id}/companies 200",
			"GET /contacts/{contact_id}/companies 404",
			"GET /companies/{company_id} 200",
			"GET /companies/{company_id} 404",
		},
		steps: []contractStep{
			{"ContactCompanies", func(t *testing.T) {
				got, err := client.ContactCompanies(callerCtx(ctx, "ContactCompanies"), demo.ID)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(demo.CompanyIDs) {
					t.Errorf("%d companies, want %d", len(got), len(demo.CompanyIDs))
				}
				if _, err := client.ContactCompanies(callerCtx(ctx, "ContactCompanies(unknown)"), "000000000000000000000000"); !sources.IsNotFound(err) {
					t.Errorf("unknown contact: err %v, want NOT_FOUND", err)
				}
			}},
			{"Company", func(t *testing.T) {
				co, err := client.Company(callerCtx(ctx, "Company"), companies[0].ID)
				if err != nil {
					t.Fatal(err)
				}
				if co.Name != companies[0].Name {
					t.Errorf("company %q, want %q", co.Name, companies[0].Name)
				}
				if _, err := client.Company(callerCtx(ctx, "Company(unknown)"), "000000000000000000000000"); !sources.IsNotFound(err) {
					t.Errorf("unknown company: err %v, want NOT_FOUND", err)
				}
			}},
			{"CompaniesByIDs", func(t *testing.T) {
				ids := []string{"000000000000000000000000"}
				for _, co := range companies[:12] {
					ids = append(ids, co.ID)
				}
				got, err := client.CompaniesByIDs(callerCtx(ctx, "CompaniesByIDs"), ids)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 12 {
					t.Errorf("%d companies, want 12", len(got))
				}
			}},
		},
	}
}

// contractInteractions reads contacts' histories: conversations, tickets,
// notes and calls.
func contractInteractions(e *contractEnv) contractResource {
	ctx, ws, hc, client, history, contacts, demo := e.ctx, e.ws, e.hc, e.client, e.history, e.contacts, e.demo
	return contractResource{
		exercises: []string{
			"POST /conversations/search 200",
			"POST /tickets/search 200",
			"GET /contacts/{contact_id}/notes 200",
			"GET /contacts/{contact_id}/notes 404",
			"POST /calls/search 200",
			"POST /calls/search 403",
			"GET /conversations/{conversation_id} 200",
			"GET /conversations/{conversation_id} 404",
			"GET /tickets/{ticket_id} 200",
			"GET /tickets/{ticket_id} 404",
		},
		steps: []contractStep{
			{"InteractionsByContacts", func(t *testing.T) {
				ids := []string{demo.ID}
				for _, c := range contacts[:40] {
					ids = append(ids, c.ID)
				}
				found, err := client.ContactsByIDs(callerCtx(ctx, "ContactsByIDs(for interactions)"), ids)
				if err != nil {
					t.Fatal(err)
				}
				var refs []sources.ContactRef
				for _, id := range ids {
					refs = append(refs, sources.ContactRefOf(found[id]))
				}
				got, err := history.InteractionsByContacts(callerCtx(ctx, "InteractionsByContacts"), refs, nil, time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				want := emulator.DemoCallerConversations + emulator.DemoCallerTickets + emulator.DemoCallerNotes + emulator.DemoCallerPhoneCalls
				if n := len(got[demo.ID]); n != want {
					t.Errorf("demo caller: %d interactions, want %d", n, want)
				}
				since := contractNow.Add(-30 * 24 * time.Hour)
				if _, err := history.InteractionsByContacts(callerCtx(ctx, "InteractionsByContacts(since)"), refs, nil, since); err != nil {
					t.Error(err)
				}
				calls, err := history.InteractionsByContacts(callerCtx(ctx, "InteractionsByContacts(calls)"), refs[:1], []sources.InteractionKind{sources.KindCall}, since)
				if err != nil || len(calls[demo.ID]) == 0 {
					t.Errorf("calls since %v: %d, %v", since, len(calls[demo.ID]), err)
				}
				gone := sources.ContactRefByID("000000000000000000000000") // its notes read answers 404
				if _, err := history.InteractionsByContacts(callerCtx(ctx, "InteractionsByContacts(unknown)"), []sources.ContactRef{gone},
					[]sources.InteractionKind{sources.KindNote}, time.Time{}); err != nil {
					t.Errorf("unknown contact: %v", err)
				}
			}},
			{"Conversation", func(t *testing.T) {
				conv := ws.Conversations(demo.ID)[0]
				got, err := history.Conversation(callerCtx(ctx, "Conversation"), conv.ID)
				if err != nil || got.ID != conv.ID {
					t.Fatalf("Conversation(%s) = %v, %v", conv.ID, got, err)
				}
				if _, err := history.Conversation(callerCtx(ctx, "Conversation(unknown)"), "1"); !sources.IsNotFound(err) {
					t.Errorf("unknown conversation: err %v, want NOT_FOUND", err)
				}
			}},
			{"Ticket", func(t *testing.T) {
				tk := ws.Tickets(demo.ID)[0]
				got, err := history.Ticket(callerCtx(ctx, "Ticket"), tk.ID)
				if err != nil || got.ID != tk.ID {
					t.Fatalf("Ticket(%s) = %v, %v", tk.ID, got, err)
				}
				if _, err := history.Ticket(callerCtx(ctx, "Ticket(unknown)"), "1"); !sources.IsNotFound(err) {
					t.Errorf("unknown ticket: err %v, want NOT_FOUND", err)
				}
			}},
			{"InteractionsWithoutIntercomPhone", func(t *testing.T) {
				plain, err := emulator.Start(emulator.Options{Token: contractToken, Now: func() time.Time { return contractNow }, Contacts: 30})
				if err != nil {
					t.Fatal(err)
				}
				defer plain.Close()
				c, err := intercom.New(intercom.Config{Token: contractToken, BaseURL: plain.URL, HTTPClient: hc})
				if err != nil {
					t.Fatal(err)
				}
				_, err = intercom.NewInteractions(c, intercom.InteractionsConfig{}).InteractionsByContacts(callerCtx(ctx, "InteractionsByContacts(no phone)"),
					[]sources.ContactRef{sources.ContactRefByID(emulator.DemoCallerID)}, []sources.InteractionKind{sources.KindCall}, time.Time{})
				if !errors.Is(err, sources.ErrKindNotSupported) {
					t.Errorf("calls without Intercom Phone: %v, want not supported", err)
				}
			}},
		},
	}
}

// contractRaw asks for emulator answers the client does not ask for yet,
// with a plain http.Client through the same validating transport.
func contractRaw(e *contractEnv) contractResource {
	srv, ws, hc, demo := e.srv, e.ws, e.hc, e.demo
	return contractResource{
		exercises: []string{
			"GET /conversations 200",
			"POST /conversations/search 400",
			"POST /tickets/search 400",
			"GET /ticket_types 200",
			"GET /tags 200",
			"GET /calls 200",
			"GET /calls/{call_id} 200",
			"GET /calls/{call_id} 404",
			"POST /contacts/search 400",
			"GET /contacts 200",
			"GET /companies 200",
			"GET /companies 404",
			"GET /admins/{admin_id} 200",
			"GET /admins/{admin_id} 404",
		},
		steps: []contractStep{
			{"Raw/Conversations", func(t *testing.T) {
				status, body := rawCall(t, hc, "GET /conversations", "GET", srv.URL+"/conversations?per_page=30", nil)
				var list struct {
					Conversations []json.RawMessage `json:"conversations"`
					Pages         struct {
						Next *struct {
							StartingAfter string `json:"starting_after"`
						} `json:"next"`
					} `json:"pages"`
				}
				if status != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list.Conversations) != 30 || list.Pages.Next == nil {
					t.Fatalf("GET /conversations: HTTP %d %s", status, clip(body, 300))
				}
				if status, body := rawCall(t, hc, "GET /conversations", "GET", srv.URL+"/conversations?starting_after="+url.QueryEscape(list.Pages.Next.StartingAfter), nil); status != http.StatusOK {
					t.Errorf("second page: HTTP %d %s", status, clip(body, 300))
				}
				id := ws.Conversations(demo.ID)[len(ws.Conversations(demo.ID))-1].ID
				if status, body := rawCall(t, hc, "GET /conversations/{id}", "GET", srv.URL+"/conversations/"+id+"?display_as=plaintext", nil); status != http.StatusOK {
					t.Errorf("GET /conversations/%s?display_as=plaintext: HTTP %d %s", id, status, clip(body, 300))
				}
				for _, path := range []string{"/ticket_types", "/tags"} {
					if status, _ := rawCall(t, hc, "GET "+path, "GET", srv.URL+path, nil); status != http.StatusOK {
						t.Errorf("GET %s: HTTP %d", path, status)
					}
				}
				for _, path := range []string{"/conversations/search", "/tickets/search"} {
					q := map[string]any{"query": map[string]any{"field": "state", "operator": "=", "value": "nonsense"}}
					if status, body := rawCall(t, hc, "search error", "POST", srv.URL+path, q); status != http.StatusBadRequest {
						t.Errorf("POST %s with a bad state: HTTP %d %s", path, status, clip(body, 300))
					}
				}
				if status, body := rawCall(t, hc, "notes paged", "GET", srv.URL+"/contacts/"+demo.ID+"/notes?per_page=5&page=2", nil); status != http.StatusOK {
					t.Errorf("notes page 2: HTTP %d %s", status, clip(body, 300))
				}
			}},
			{"Raw/Calls", func(t *testing.T) {
				for _, q := range []string{"", "?page=2&per_page=25"} {
					if status, body := rawCall(t, hc, "GET /calls", "GET", srv.URL+"/calls"+q, nil); status != http.StatusOK {
						t.Errorf("GET /calls%s: HTTP %d %s", q, status, clip(body, 300))
					}
				}
				call := ws.PhoneCalls(demo.ID)[0]
				if status, body := rawCall(t, hc, "GET /calls/{id}", "GET", srv.URL+"/calls/"+call.ID, nil); status != http.StatusOK {
					t.Errorf("GET /calls/%s: HTTP %d %s", call.ID, status, clip(body, 300))
				}
				if status, _ := rawCall(t, hc, "GET /calls/{id}", "GET", srv.URL+"/calls/1", nil); status != http.StatusNotFound {
					t.Errorf("unknown call: HTTP %d, want 404", status)
				}
				// (Its 400 needs a body the description refuses: 0 or more than 20 ids.)
			}},
			{"Raw/SearchLimits", func(t *testing.T) {
				leaf := func(i int) map[string]any {
					return map[string]any{"field": "email", "operator": "=", "value": fmt.Sprintf("x%d@example.com", i)}
				}
				var sixteen []any
				for i := range 16 {
					sixteen = append(sixteen, leaf(i))
				}
				tooMany := map[string]any{"query": map[string]any{"operator": "OR", "value": sixteen}}
				tooDeep := map[string]any{"query": map[string]any{"operator": "AND", "value": []any{
					map[string]any{"operator": "OR", "value": []any{
						map[string]any{"operator": "AND", "value": []any{leaf(1), leaf(2)}},
						map[string]any{"operator": "AND", "value": []any{leaf(3), leaf(4)}},
					}},
				}}}
				// Bodies the description accepts but Intercom refuses.
				bad := map[string]any{
					"16 filters in a group": tooMany,
					"3 levels of nesting":   tooDeep,
					"per_page over 150":     map[string]any{"query": leaf(0), "pagination": map[string]any{"per_page": 151}},
					"foreign cursor":        map[string]any{"query": leaf(0), "pagination": map[string]any{"starting_after": "not-a-cursor"}},
					"unknown field":         map[string]any{"query": map[string]any{"field": "shoe_size", "operator": "=", "value": "42"}},
				}
				for name, body := range bad {
					status, resp := rawCall(t, hc, "search error: "+name, "POST", srv.URL+"/contacts/search", body)
					if status != http.StatusBadRequest {
						t.Errorf("%s: HTTP %d, want 400: %s", name, status, clip(resp, 300))
					}
				}
			}},
			{"Raw/ListContacts", func(t *testing.T) {
				next := ""
				total := 0
				for page := 1; page <= 3; page++ {
					u := srv.URL + "/contacts?per_page=25"
					if next != "" {
						u += "&starting_after=" + url.QueryEscape(next)
					}
					status, body := rawCall(t, hc, "GET /contacts", "GET", u, nil)
					var list struct {
						Data  []json.RawMessage `json:"data"`
						Pages struct {
							Next *struct {
								StartingAfter string `json:"starting_after"`
							} `json:"next"`
						} `json:"pages"`
					}
					if status != http.StatusOK || json.Unmarshal(body, &list) != nil || list.Pages.Next == nil {
						t.Fatalf("page %d: HTTP %d %s", page, status, clip(body, 300))
					}
					total += len(list.Data)
					next = list.Pages.Next.StartingAfter
				}
				if total != 75 {
					t.Errorf("3 pages of 25 held %d contacts", total)
				}
				if status, _ := rawCall(t, hc, "GET /contacts", "GET", srv.URL+"/contacts", nil); status != http.StatusOK {
					t.Errorf("default page: HTTP %d", status)
				}
			}},
			{"Raw/ListCompanies", func(t *testing.T) {
				for _, q := range []string{"", "?per_page=15&page=2", "?per_page=15&page=3"} {
					if status, body := rawCall(t, hc, "GET /companies", "GET", srv.URL+"/companies"+q, nil); status != http.StatusOK {
						t.Errorf("GET /companies%s: HTTP %d %s", q, status, clip(body, 300))
					}
				}
				if status, _ := rawCall(t, hc, "GET /companies", "GET", srv.URL+"/companies?company_id=no-such-company", nil); status != http.StatusNotFound {
					t.Errorf("GET /companies?company_id=unknown: HTTP %d, want 404", status)
				}
			}},
			{"Raw/Admin", func(t *testing.T) {
				me := ws.Me()
				for _, q := range []string{"", "?display_avatar=true"} {
					if status, body := rawCall(t, hc, "GET /admins/{id}", "GET", srv.URL+"/admins/"+me.ID+q, nil); status != http.StatusOK {
						t.Errorf("GET /admins/%s%s: HTTP %d %s", me.ID, q, status, clip(body, 300))
					}
				}
				if status, _ := rawCall(t, hc, "GET /admins/{id}", "GET", srv.URL+"/admins/999", nil); status != http.StatusNotFound {
					t.Errorf("unknown admin: HTTP %d, want 404", status)
				}
				if status, _ := rawCall(t, hc, "GET /admins", "GET", srv.URL+"/admins?display_avatar=true", nil); status != http.StatusOK {
					t.Errorf("GET /admins?display_avatar=true: HTTP %d", status)
				}
			}},
		},
	}
}

// contractWrites makes the write calls (sources.ActionExecutor), each with
// its success and the failures an agent can run into. TestContract runs
// them last, so that the reads see the seed as it is.
func contractWrites(e *contractEnv) contractResource {
	ctx, ws, client, contacts, companies, demo := e.ctx, e.ws, e.client, e.contacts, e.companies, e.demo
	return contractResource{
		exercises: []string{
			"POST /contacts 200",
			"POST /contacts 400",
			"POST /contacts 409",
			"PUT /contacts/{contact_id} 200",
			"PUT /contacts/{contact_id} 400",
			"PUT /contacts/{contact_id} 404",
			"PUT /contacts/{contact_id} 409",
			"POST /contacts/{contact_id}/companies 200",
			"POST /contacts/{contact_id}/companies 404",
			"POST /tags 200",
			"POST /tags 400",
			"POST /contacts/{contact_id}/tags 200",
			"POST /contacts/{contact_id}/tags 404",
			"DELETE /contacts/{contact_id}/tags/{tag_id} 200",
			"DELETE /contacts/{contact_id}/tags/{tag_id} 404",
			"POST /contacts/{contact_id}/notes 200",
			"POST /contacts/{contact_id}/notes 400",
			"POST /contacts/{contact_id}/notes 404",
			"POST /tickets 200",
			"POST /tickets 400",
			"POST /tickets 404",
		},
		steps: []contractStep{
			{"CreateContact", func(t *testing.T) {
				c, err := client.CreateContact(callerCtx(ctx, "CreateContact"), sources.NewContact{Role: "user", Name: "Contract Test",
					Email: "contract.test@example.com", Phone: "+14155550111", ExternalID: "contract_1", CompanyID: companies[0].ID,
					CustomAttributes: map[string]any{"job_title": "Tester", "seats": 3}})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(c.CompanyIDs, []string{companies[0].ID}) {
					t.Errorf("companies %v, want [%s]", c.CompanyIDs, companies[0].ID)
				}
				if _, err := client.CreateContact(callerCtx(ctx, "CreateContact(lead)"), sources.NewContact{Role: "lead", Phone: "+14155550112"}); err != nil {
					t.Error(err)
				}
				_, err = client.CreateContact(callerCtx(ctx, "CreateContact(duplicate)"), sources.NewContact{Role: "user", Email: demo.Email})
				if sources.ErrorCode(err) != sources.EConflict {
					t.Errorf("duplicate user: %v, want CONFLICT", err)
				}
				_, err = client.CreateContact(callerCtx(ctx, "CreateContact(bad attribute)"), sources.NewContact{Role: "lead",
					Email: "x@example.com", CustomAttributes: map[string]any{"shoe_size": 42}})
				if sources.ErrorCode(err) != sources.EBadUserInput {
					t.Errorf("unknown custom attribute: %v, want BAD_USER_INPUT", err)
				}
				_, err = client.CreateContact(callerCtx(ctx, "CreateContact(unknown company)"), sources.NewContact{Role: "lead",
					Email: "y@example.com", CompanyID: "000000000000000000000000"})
				if !sources.IsNotFound(err) {
					t.Errorf("unknown company: %v, want NOT_FOUND", err)
				}
			}},
			{"UpdateContact", func(t *testing.T) {
				target := contacts[len(contacts)-1]
				name, phone, role, email := "Contract Renamed", "+14155550113", "visitor", demo.Email
				if _, err := client.UpdateContact(callerCtx(ctx, "UpdateContact"), target.ID, sources.ContactChanges{Name: &name, Phone: &phone,
					CustomAttributes: map[string]any{"plan": "Gold"}}); err != nil {
					t.Fatal(err)
				}
				if _, err := client.UpdateContact(callerCtx(ctx, "UpdateContact(unknown)"), "000000000000000000000000", sources.ContactChanges{Name: &name}); !sources.IsNotFound(err) {
					t.Errorf("unknown contact: %v, want NOT_FOUND", err)
				}
				if _, err := client.UpdateContact(callerCtx(ctx, "UpdateContact(bad role)"), target.ID, sources.ContactChanges{Role: &role}); sources.ErrorCode(err) != sources.EBadUserInput {
					t.Errorf("bad role: %v, want BAD_USER_INPUT", err)
				}
				user := contacts[len(contacts)-2]
				for _, c := range slices.Backward(contacts) {
					if c.Role == "user" && c.ID != demo.ID {
						user = c
						break
					}
				}
				if _, err := client.UpdateContact(callerCtx(ctx, "UpdateContact(duplicate)"), user.ID, sources.ContactChanges{Email: &email}); sources.ErrorCode(err) != sources.EConflict {
					t.Errorf("another user's email: %v, want CONFLICT", err)
				}
			}},
			{"TagContact", func(t *testing.T) {
				tag, err := client.TagContact(callerCtx(ctx, "TagContact"), demo.ID, "Contract call")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := client.TagContact(callerCtx(ctx, "TagContact(again)"), demo.ID, "contract CALL"); err != nil {
					t.Error(err)
				}
				if _, err := client.TagContact(callerCtx(ctx, "TagContact(unknown contact)"), "000000000000000000000000", "VIP"); !sources.IsNotFound(err) {
					t.Errorf("unknown contact: %v, want NOT_FOUND", err)
				}
				if _, err := client.TagContact(callerCtx(ctx, "TagContact(blank)"), demo.ID, " "); sources.ErrorCode(err) != sources.EBadUserInput {
					t.Errorf("blank tag: %v, want BAD_USER_INPUT", err)
				}
				if got, err := client.UntagContact(callerCtx(ctx, "UntagContact"), demo.ID, "Contract call"); err != nil || got.ID != tag.ID {
					t.Errorf("untag: %v, %v", got, err)
				}
				if _, err := client.UntagContact(callerCtx(ctx, "UntagContact(not attached)"), demo.ID, "Contract call"); !sources.IsNotFound(err) {
					t.Errorf("untag again: %v, want NOT_FOUND", err)
				}
				if _, err := client.UntagContact(callerCtx(ctx, "UntagContact(no such tag)"), demo.ID, "No such tag"); !sources.IsNotFound(err) {
					t.Errorf("untag an unknown name: %v, want NOT_FOUND", err)
				}
			}},
			{"AddNote", func(t *testing.T) {
				n, err := client.AddNote(callerCtx(ctx, "AddNote"), sources.NewNote{ContactID: demo.ID, Body: "<p>Contract note</p>", AdminID: ws.Me().ID})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := client.AddNote(callerCtx(ctx, "AddNote(no admin)"), sources.NewNote{ContactID: demo.ID, Body: "plain"}); err != nil {
					t.Error(err)
				}
				got, err := client.NotesSince(callerCtx(ctx, "NotesSince"), demo.ID, contractNow)
				if err != nil || len(got) != 2 || got[1].ID != n.ID {
					t.Errorf("NotesSince: %v, %v", got, err)
				}
				if _, err := client.AddNote(callerCtx(ctx, "AddNote(unknown admin)"), sources.NewNote{ContactID: demo.ID, Body: "x", AdminID: "123"}); !sources.IsNotFound(err) {
					t.Errorf("unknown admin: %v, want NOT_FOUND", err)
				}
				if _, err := client.AddNote(callerCtx(ctx, "AddNote(unknown contact)"), sources.NewNote{ContactID: "000000000000000000000000", Body: "x"}); !sources.IsNotFound(err) {
					t.Errorf("unknown contact: %v, want NOT_FOUND", err)
				}
				if _, err := client.AddNote(callerCtx(ctx, "AddNote(empty)"), sources.NewNote{ContactID: demo.ID}); sources.ErrorCode(err) != sources.EBadUserInput {
					t.Errorf("empty note: %v, want BAD_USER_INPUT", err)
				}
			}},
			{"CreateTicket", func(t *testing.T) {
				types, err := client.TicketTypes(callerCtx(ctx, "TicketTypes"))
				if err != nil || len(types) == 0 {
					t.Fatalf("TicketTypes: %v, %v", types, err)
				}
				tk, err := client.CreateTicket(callerCtx(ctx, "CreateTicket"), sources.NewTicket{ContactID: demo.ID, TicketTypeID: types[0].ID,
					Title: "Contract ticket", Description: "Opened by the contract test", AdminID: ws.Me().ID})
				if err != nil {
					t.Fatal(err)
				}
				got, err := client.TicketsSince(callerCtx(ctx, "TicketsSince"), demo.ID, contractNow)
				if err != nil || len(got) != 1 || got[0].ID != tk.ID {
					t.Errorf("TicketsSince: %v, %v", got, err)
				}
				if _, err := client.CreateTicket(callerCtx(ctx, "CreateTicket(unknown type)"), sources.NewTicket{ContactID: demo.ID, TicketTypeID: "999", Title: "x"}); sources.ErrorCode(err) != sources.EBadUserInput {
					t.Errorf("unknown type: %v, want BAD_USER_INPUT", err)
				}
				if _, err := client.CreateTicket(callerCtx(ctx, "CreateTicket(unknown contact)"), sources.NewTicket{ContactID: "000000000000000000000000", TicketTypeID: types[0].ID, Title: "x"}); !sources.IsNotFound(err) {
					t.Errorf("unknown contact: %v, want NOT_FOUND", err)
				}
			}},
		},
	}
}
