package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/actions"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// Contract tests of the Talkdesk bridge: Talkdesk's documented request
// examples (shared/reference/talkdesk-integrations-api), with their `auth`
// replaced by the Intercom token, against the real server and the emulator
// over real HTTP; the documented response fields and statuses are checked.

// The request examples of the contract, as documented.
const (
	authValidationExample = `{
    "auth": {
        "username": "john.doe@example.com",
        "password": "605b32dd"
    }
}`
	contactSyncExample = `{
    "auth": {
        "username": "john.doe@example.com",
        "password": "605b32dd"
    },
    "meta": {
        "offset": "2",
        "synchronization_checkpoint": "2012-11-20 23:01:00 UTC",
        "context": null
    }
}`
	interactionUpdateExample = `{
    "auth": {
        "username": "john.doe@example.com",
        "password": "605b32dd"
    },
    "meta": {
        "interaction_types": ["case", "note"]
    },
    "data": {
        "contact_external_id": "1",
        "contact_name": "Jane",
        "contact_emails": ["jane.doe@example.com", "jane@example.com"],
        "contact_phones": ["+15555555555"]
    }
}`
	actionExecutionExample = `{
    "auth": {
        "username": "john.doe@example.com",
        "password": "605b32dd"
    },
    "meta": {
        "contact_external_id": "1",
        "agent_external_id": "2"
    },
    "data": {
        "subject": "Call missed in Talkdesk",
        "description": "A call from Jane Doe was missed."
    }
}`
	agentSyncExample = authValidationExample
)

// checkpointFormat is the contract's example time format.
var checkpointFormat = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$`)

// bridgeReply is the bridge's answer as Talkdesk receives it.
type bridgeReply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r bridgeReply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("HTTP %d: body %q is not the expected JSON: %v", r.Status, r.Body, err)
	}
}

// message is the `message` of an error answer.
func (r bridgeReply) message(t *testing.T) string {
	t.Helper()
	var body struct{ Message string }
	r.decode(t, &body)
	if body.Message == "" {
		t.Errorf("HTTP %d answer has no message: %s", r.Status, r.Body)
	}
	return body.Message
}

// bridgePost POSTs body to a bridge path; headers are name, value pairs.
// Every answer must say it is JSON and must not echo the token.
func bridgePost(t *testing.T, url, body string, headers ...string) bridgeReply {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return bridgeDo(t, req)
}

func bridgeDo(t *testing.T, req *http.Request) bridgeReply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", req.Method, req.URL.Path, ct)
	}
	if resp.StatusCode != http.StatusNoContent && !json.Valid(raw) {
		t.Errorf("%s %s: HTTP %d, body is not JSON: %q", req.Method, req.URL.Path, resp.StatusCode, raw)
	}
	if bytes.Contains(raw, []byte(testToken)) {
		t.Errorf("%s %s: the answer holds the Intercom token", req.Method, req.URL.Path)
	}
	return bridgeReply{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// example is a documented request with its auth replaced by auth and edit
// applied to the decoded body.
func example(t *testing.T, doc string, auth map[string]any, edit func(body map[string]any)) string {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal([]byte(doc), &body); err != nil {
		t.Fatalf("example: %v", err)
	}
	body["auth"] = auth
	if edit != nil {
		edit(body)
	}
	b, _ := json.Marshal(body)
	return string(b)
}

func testAuth() map[string]any { return map[string]any{"token": testToken} }

func sub(body map[string]any, key string) map[string]any {
	m, _ := body[key].(map[string]any)
	if m == nil {
		m = map[string]any{}
		body[key] = m
	}
	return m
}

func TestBridgeAuthValidation(t *testing.T) {
	env := newTestEnv(t)
	url := env.URL + "/talkdesk/auth_validation"
	for _, c := range []struct {
		name   string
		auth   map[string]any
		status int
	}{
		{"valid token", testAuth(), http.StatusNoContent},
		{"valid token with its region", map[string]any{"token": testToken, "region": "US"}, http.StatusNoContent},
		{"rejected token", map[string]any{"token": "not-a-token-9d2b"}, http.StatusUnauthorized},
		{"no token", map[string]any{}, http.StatusUnauthorized},
		{"empty token", map[string]any{"token": " "}, http.StatusUnauthorized},
		{"unknown region", map[string]any{"token": testToken, "region": "mars"}, http.StatusUnauthorized},
		{"the documented fields, not ours", map[string]any{"username": "john.doe@example.com", "password": "605b32dd"}, http.StatusUnauthorized},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := bridgePost(t, url, example(t, authValidationExample, c.auth, nil))
			if r.Status != c.status {
				t.Fatalf("HTTP %d %s, want %d", r.Status, r.Body, c.status)
			}
			if c.status == http.StatusNoContent && len(r.Body) != 0 {
				t.Errorf("204 with a body: %q", r.Body)
			}
			if c.status == http.StatusUnauthorized {
				r.message(t)
			}
		})
	}
	// A rejected token is not remembered as valid, nor a valid one as rejected.
	if r := bridgePost(t, url, example(t, authValidationExample, testAuth(), nil)); r.Status != http.StatusNoContent {
		t.Errorf("valid token after a rejected one: HTTP %d", r.Status)
	}
}

// Bodies Talkdesk should never send, but a bridge must answer with a 400
// that says what is wrong, on every endpoint.
func TestBridgeRejectsMalformedRequests(t *testing.T) {
	env := newTestEnv(t)
	auth := `{"token":"` + testToken + `"}`
	bodies := []struct{ name, body, mentions string }{
		{"not JSON", `auth=token`, "JSON"},
		{"truncated JSON", `{"auth": {"token": "x"`, "JSON"},
		{"empty", ``, "empty"},
		{"an array", `[{"auth": ` + auth + `}]`, "object"},
		{"no auth", `{"meta": {}}`, "auth"},
		{"null auth", `{"auth": null}`, "auth"},
		{"auth as a string", `{"auth": "` + testToken + `"}`, "auth"},
		{"token as a number", `{"auth": {"token": 42}}`, "auth.token"},
		{"region as a list", `{"auth": {"token": "x", "region": ["us"]}}`, "auth.region"},
		{"meta as a number", `{"auth": ` + auth + `, "meta": 5}`, "meta"},
		{"data as a string", `{"auth": ` + auth + `, "data": "hello"}`, "data"},
		{"trailing garbage", `{"auth": ` + auth + `} {}`, "JSON"},
	}
	paths := []string{"auth_validation", "contact_sync", "interaction_update", "agent_sync", "actions/add_note"}
	for _, p := range paths {
		for _, b := range bodies {
			t.Run(p+"/"+b.name, func(t *testing.T) {
				r := bridgePost(t, env.URL+"/talkdesk/"+p, b.body)
				if r.Status != http.StatusBadRequest {
					t.Fatalf("HTTP %d %s, want 400", r.Status, r.Body)
				}
				if msg := r.message(t); !strings.Contains(msg, b.mentions) {
					t.Errorf("message %q does not mention %q", msg, b.mentions)
				}
			})
		}
	}
	// Members of the wrong type inside meta and data.
	for _, c := range []struct{ path, body, mentions string }{
		{"contact_sync", `{"auth": ` + auth + `, "meta": {"offset": {"page": 2}}}`, "meta.offset"},
		{"contact_sync", `{"auth": ` + auth + `, "meta": {"synchronization_checkpoint": "last tuesday"}}`, "meta.synchronization_checkpoint"},
		{"interaction_update", `{"auth": ` + auth + `, "meta": {"interaction_types": "note"}, "data": {"contact_emails": {"a": 1}}}`, "data.contact_emails"},
		{"interaction_update", `{"auth": ` + auth + `, "meta": {"interaction_types": [["note"]]}}`, "meta.interaction_types[0]"},
		{"actions/log_call", `{"auth": ` + auth + `, "data": {"duration": "forty"}}`, "data.duration"},
		{"actions/log_call", `{"auth": ` + auth + `, "data": {"create_contact_if_unknown": "maybe"}}`, "data.create_contact_if_unknown"},
		{"actions/add_note", `{"auth": ` + auth + `, "meta": {"contact_external_id": {"id": 1}}}`, "meta.contact_external_id"},
	} {
		t.Run(c.path+"/"+c.mentions, func(t *testing.T) {
			r := bridgePost(t, env.URL+"/talkdesk/"+c.path, c.body)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("HTTP %d %s, want 400", r.Status, r.Body)
			}
			if msg := r.message(t); !strings.Contains(msg, c.mentions) {
				t.Errorf("message %q does not mention %q", msg, c.mentions)
			}
		})
	}
	t.Run("wrong method", func(t *testing.T) {
		req, _ := http.NewRequest("GET", env.URL+"/talkdesk/contact_sync", nil)
		if r := bridgeDo(t, req); r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "POST" {
			t.Errorf("GET contact_sync: HTTP %d, Allow %q; want 405, POST", r.Status, r.Header.Get("Allow"))
		}
	})
	t.Run("unknown endpoint", func(t *testing.T) {
		if r := bridgePost(t, env.URL+"/talkdesk/contacts", `{}`); r.Status != http.StatusNotFound {
			t.Errorf("HTTP %d, want 404", r.Status)
		}
	})
	t.Run("body too large", func(t *testing.T) {
		big := `{"auth": ` + auth + `, "data": {"body": "` + strings.Repeat("x", 1<<20) + `"}}`
		if r := bridgePost(t, env.URL+"/talkdesk/actions/add_note", big); r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("HTTP %d, want 413", r.Status)
		}
	})
}

// syncPage is a contact_sync answer.
type syncPage struct {
	NextOffset *string           `json:"next_offset"`
	Checkpoint string            `json:"synchronization_checkpoint"`
	Context    json.RawMessage   `json:"context"`
	Contacts   []talkdeskContact `json:"contacts"`
}

type talkdeskContact struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Title    string   `json:"title"`
	Company  string   `json:"company"`
	Emails   []string `json:"emails"`
	Phones   []string `json:"phones"`
	PhotoURL string   `json:"photo_url"`
	Address  string   `json:"address"`
	Websites []string `json:"websites"`
	Twitter  string   `json:"twitter"`
	URL      string   `json:"url"`
}

func TestBridgeContactSyncContract(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "TALKDESK_PAGE_SIZE", "70")
	ws := env.Intercom.Workspace
	url := env.URL + "/talkdesk/contact_sync"
	syncPost := func(t *testing.T, meta map[string]any) syncPage {
		t.Helper()
		r := bridgePost(t, url, example(t, contactSyncExample, testAuth(), func(b map[string]any) { b["meta"] = meta }))
		if r.Status != http.StatusOK {
			t.Fatalf("HTTP %d %s", r.Status, r.Body)
		}
		var p syncPage
		r.decode(t, &p)
		if !checkpointFormat.MatchString(p.Checkpoint) {
			t.Errorf("synchronization_checkpoint %q is not like 2012-11-20 23:01:00 UTC", p.Checkpoint)
		}
		for i, c := range p.Contacts {
			if c.ID == "" || c.Name == "" {
				t.Errorf("contact %d lacks its mandatory id or name: %+v", i, c)
			}
		}
		return p
	}
	// checkOrder checks a page is ascending by updated_at (the checkpoint
	// field) and returns its largest updated_at.
	checkOrder := func(t *testing.T, p syncPage, after time.Time) time.Time {
		t.Helper()
		for _, c := range p.Contacts {
			stored, ok := ws.Contact(c.ID)
			if !ok {
				t.Fatalf("contact %s is not in the workspace", c.ID)
			}
			if stored.UpdatedAt.Before(after) {
				t.Errorf("contact %s (updated %s) comes after one updated %s", c.ID, stored.UpdatedAt, after)
			}
			after = stored.UpdatedAt
		}
		return after
	}

	// Initial sync, then its next pages.
	seen := map[string]talkdeskContact{}
	var last time.Time
	meta := map[string]any{}
	pages := 0
	for {
		p := syncPost(t, meta)
		pages++
		last = checkOrder(t, p, last)
		for _, c := range p.Contacts {
			if _, dup := seen[c.ID]; dup {
				t.Errorf("contact %s sent twice in one sync", c.ID)
			}
			seen[c.ID] = c
		}
		if want := last.UTC().Format("2006-01-02 15:04:05 UTC"); p.Checkpoint != want {
			t.Errorf("page %d: checkpoint %s, want the largest updated_at so far, %s", pages, p.Checkpoint, want)
		}
		if p.NextOffset == nil {
			break
		}
		if len(p.Contacts) != 70 {
			t.Errorf("page %d has %d contacts, want TALKDESK_PAGE_SIZE=70", pages, len(p.Contacts))
		}
		meta = map[string]any{"offset": *p.NextOffset, "context": p.Context}
	}
	if all := ws.Contacts(); len(seen) != len(all) || pages != 5 {
		t.Fatalf("initial sync: %d contacts in %d pages, want %d in 5", len(seen), pages, len(all))
	}

	// The demo caller in Talkdesk's format.
	caller, _ := ws.DemoCaller()
	got := seen[caller.ID]
	company, _ := ws.Company(caller.CompanyIDs[0])
	want := talkdeskContact{ID: caller.ID, Name: emulator.DemoCallerName, Emails: []string{caller.Email},
		Phones: []string{"+14155550142"}, Company: company.Name}
	if got.Name != want.Name || !slices.Equal(got.Emails, want.Emails) || !slices.Equal(got.Phones, want.Phones) || got.Company != want.Company {
		t.Errorf("demo caller = %+v, want %+v", got, want)
	}
	if got.Address != "San Francisco, California, United States" || !strings.HasSuffix(got.URL, "/users/"+caller.ID) ||
		got.Title == "" || got.PhotoURL == "" {
		t.Errorf("demo caller's address, url, title or photo: %+v", got)
	}

	// Incremental sync from the documented checkpoint (no offset): every
	// contact changed since 2012, that is all of them, in pages again.
	p := syncPost(t, map[string]any{"synchronization_checkpoint": "2012-11-20 23:01:00 UTC"})
	if len(p.Contacts) != 70 || p.NextOffset == nil {
		t.Fatalf("incremental first page: %d contacts, next_offset %v", len(p.Contacts), p.NextOffset)
	}
	// Incremental next page, as Talkdesk sends it: checkpoint, offset, context.
	p2 := syncPost(t, map[string]any{"synchronization_checkpoint": "2012-11-20 23:01:00 UTC", "offset": *p.NextOffset, "context": p.Context})
	if len(p2.Contacts) == 0 || p2.Contacts[0].ID == p.Contacts[0].ID {
		t.Errorf("incremental next page did not move on: %d contacts", len(p2.Contacts))
	}
	// Incremental from the last checkpoint: only what changed at or after it.
	p3 := syncPost(t, map[string]any{"synchronization_checkpoint": last.UTC().Format(time.RFC3339)})
	if p3.NextOffset != nil || len(p3.Contacts) == 0 || len(p3.Contacts) > 2 {
		t.Errorf("incremental from the newest checkpoint (RFC 3339): %d contacts, next_offset %v", len(p3.Contacts), p3.NextOffset)
	}

	// The documented example verbatim names an offset this bridge never
	// gave ("2"): a 400 that says to start again.
	r := bridgePost(t, url, example(t, contactSyncExample, testAuth(), nil))
	if r.Status != http.StatusBadRequest || !strings.Contains(r.message(t), "meta.offset") {
		t.Errorf("the documented example's offset: HTTP %d %s, want 400 naming meta.offset", r.Status, r.Body)
	}
}

type talkdeskInteraction struct {
	ID          string `json:"id"`
	Subject     string `json:"subject"`
	Description string `json:"description"`
	Date        string `json:"date"`
	URL         string `json:"url"`
	Type        string `json:"type"`
	Priority    string `json:"priority"`
	Status      string `json:"status"`
}

func TestBridgeInteractionUpdateContract(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{Phone: true})
	ws := env.Intercom.Workspace
	caller, _ := ws.DemoCaller()
	url := env.URL + "/talkdesk/interaction_update"
	ask := func(t *testing.T, edit func(b map[string]any)) []talkdeskInteraction {
		t.Helper()
		r := bridgePost(t, url, example(t, interactionUpdateExample, testAuth(), edit))
		if r.Status != http.StatusOK {
			t.Fatalf("HTTP %d %s", r.Status, r.Body)
		}
		var list []talkdeskInteraction
		r.decode(t, &list)
		if list == nil {
			t.Fatalf("answer %s is not a JSON array", r.Body)
		}
		return list
	}
	priorities := []string{"none", "low", "normal", "high", "urgent"}
	statuses := []string{"new", "open", "pending", "solved", "closed"}
	check := func(t *testing.T, list []talkdeskInteraction, types ...string) map[string]int {
		t.Helper()
		count := map[string]int{}
		var prev string
		for _, it := range list {
			count[it.Type]++
			if it.ID == "" || it.Subject == "" || !checkpointFormat.MatchString(it.Date) || it.URL == "" {
				t.Errorf("interaction lacks a mandatory field or its date format: %+v", it)
			}
			if !slices.Contains(types, it.Type) {
				t.Errorf("type %q was not asked for (%v)", it.Type, types)
			}
			if !slices.Contains(priorities, it.Priority) || !slices.Contains(statuses, it.Status) {
				t.Errorf("priority %q or status %q is not Talkdesk's", it.Priority, it.Status)
			}
			if prev != "" && it.Date > prev {
				t.Errorf("not newest first: %s after %s", it.Date, prev)
			}
			prev = it.Date
		}
		return count
	}

	// The documented example as it is: no contact "1", no jane@example.com,
	// no +15555555555 in this workspace: no interactions.
	if list := ask(t, nil); len(list) != 0 {
		t.Errorf("unknown contact: %d interactions, want none", len(list))
	}
	// With the demo caller's id: "case" is answered with tickets, under the
	// name asked for, and notes.
	byID := ask(t, func(b map[string]any) { sub(b, "data")["contact_external_id"] = caller.ID })
	count := check(t, byID, "case", "note")
	if count["case"] != len(ws.Tickets(caller.ID)) || count["note"] != len(ws.Notes(caller.ID)) {
		t.Errorf("got %v, want %d tickets as case and %d notes", count, len(ws.Tickets(caller.ID)), len(ws.Notes(caller.ID)))
	}
	// No id: by email; no email that matches: by phone.
	byEmail := ask(t, func(b map[string]any) {
		d := sub(b, "data")
		delete(d, "contact_external_id")
		d["contact_emails"] = []string{"nobody@example.com", strings.ToUpper(caller.Email)}
	})
	byPhone := ask(t, func(b map[string]any) {
		d := sub(b, "data")
		d["contact_external_id"] = "000000000000000000000000" // unknown (a deleted contact): the phone finds it
		d["contact_phones"] = []string{"+1 (415) 555-0142"}
	})
	if !slices.Equal(byEmail, byID) || !slices.Equal(byPhone, byID) {
		t.Errorf("by email %d and by phone %d interactions differ from by id %d", len(byEmail), len(byPhone), len(byID))
	}
	// Every kind this source supports, asked by name.
	all := ask(t, func(b map[string]any) {
		sub(b, "meta")["interaction_types"] = []string{"conversation", "ticket", "note", "call", "task"}
		sub(b, "data")["contact_external_id"] = caller.ID
	})
	count = check(t, all, "conversation", "ticket", "note", "call")
	if count["conversation"] != len(ws.Conversations(caller.ID)) || count["call"] != len(ws.PhoneCalls(caller.ID)) {
		t.Errorf("got %v, want %d conversations and %d calls", count, len(ws.Conversations(caller.ID)), len(ws.PhoneCalls(caller.ID)))
	}
	// No interaction_types: every kind.
	if none := ask(t, func(b map[string]any) {
		delete(sub(b, "meta"), "interaction_types")
		sub(b, "data")["contact_external_id"] = caller.ID
	}); len(none) != len(all) {
		t.Errorf("without interaction_types: %d interactions, want every kind (%d)", len(none), len(all))
	}
}

func TestBridgeInteractionUpdateWithoutIntercomPhone(t *testing.T) {
	env := newTestEnv(t) // no Intercom Phone: calls are not available
	caller, _ := env.Intercom.Workspace.DemoCaller()
	body := example(t, interactionUpdateExample, testAuth(), func(b map[string]any) {
		sub(b, "meta")["interaction_types"] = []string{"call", "note"}
		sub(b, "data")["contact_external_id"] = caller.ID
	})
	r := bridgePost(t, env.URL+"/talkdesk/interaction_update", body)
	var list []talkdeskInteraction
	r.decode(t, &list)
	if r.Status != http.StatusOK || len(list) != len(env.Intercom.Workspace.Notes(caller.ID)) {
		t.Errorf("HTTP %d, %d interactions; want 200 with the notes only", r.Status, len(list))
	}
}

// Some kinds unreadable: 200 with the kinds that were read, the others
// named in X-Unread-Interaction-Types (as Talkdesk asked for them), counted
// and logged. Nothing readable: the failure's status, never an empty 200
// that would say the contact has no history.
func TestBridgeInteractionUpdateWhenKindsFail(t *testing.T) {
	ask := func(t *testing.T, env *testEnv) bridgeReply {
		t.Helper()
		caller, _ := env.Intercom.Workspace.DemoCaller()
		return bridgePost(t, env.URL+"/talkdesk/interaction_update", example(t, interactionUpdateExample, testAuth(), func(b map[string]any) {
			sub(b, "data")["contact_external_id"] = caller.ID // meta.interaction_types: case (tickets) and note
		}))
	}
	t.Run("tickets fail", func(t *testing.T) {
		env := newTestEnv(t)
		ws := env.Intercom.Workspace
		caller, _ := ws.DemoCaller()
		ws.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: 503, Endpoints: []string{emulator.EndpointSearchTickets}})
		r := ask(t, env)
		var list []talkdeskInteraction
		r.decode(t, &list)
		if r.Status != http.StatusOK || len(list) != len(ws.Notes(caller.ID)) || len(list) == 0 {
			t.Fatalf("HTTP %d, %d interactions; want 200 with the %d notes", r.Status, len(list), len(ws.Notes(caller.ID)))
		}
		for _, it := range list {
			if it.Type != "note" {
				t.Errorf("interaction of type %q, want notes only", it.Type)
			}
		}
		if got := r.Header.Get("X-Unread-Interaction-Types"); got != "case" {
			t.Errorf("X-Unread-Interaction-Types %q, want %q (tickets, as asked for)", got, "case")
		}
		if !scraped(t, env, `talkdesk_interaction_updates_total{answer="partial"} 1`) ||
			!scraped(t, env, `talkdesk_interaction_kinds_unread_total{kind="ticket"} 1`) {
			t.Error("/metrics does not count the partial answer and its unread tickets")
		}
		if logs := env.Logs.String(); !strings.Contains(logs, "some interaction kinds could not be read") || !strings.Contains(logs, `"unread":"ticket"`) {
			t.Error("the partial answer is not logged with the kind that failed")
		}
		ws.SetFaults(emulator.Faults{})
		if r := ask(t, env); r.Status != http.StatusOK || r.Header.Get("X-Unread-Interaction-Types") != "" {
			t.Errorf("Intercom back: HTTP %d, X-Unread-Interaction-Types %q; want a complete 200", r.Status, r.Header.Get("X-Unread-Interaction-Types"))
		}
	})
	t.Run("every kind fails", func(t *testing.T) {
		env := newTestEnv(t)
		env.Intercom.Workspace.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: 503,
			Endpoints: []string{emulator.EndpointSearchTickets, emulator.EndpointContactNotes}})
		r := ask(t, env)
		if r.Status != http.StatusServiceUnavailable {
			t.Fatalf("HTTP %d %s, want 503", r.Status, r.Body)
		}
		if msg := r.message(t); !strings.Contains(msg, "tickets") || !strings.Contains(msg, "notes") {
			t.Errorf("message %q does not name the kinds that failed", msg)
		}
		if !scraped(t, env, `talkdesk_interaction_updates_total{answer="unavailable"} 1`) ||
			!scraped(t, env, `talkdesk_interaction_kinds_unread_total{kind="note"} 1`) {
			t.Error("/metrics does not count the unavailable answer and its unread kinds")
		}
	})
	t.Run("every kind throttled", func(t *testing.T) {
		// A short Intercom deadline: a Retry-After beyond it is answered at once.
		env := newTestEnvWith(t, emulator.Options{}, "INTERCOM_TIMEOUT", "1s")
		env.Intercom.Workspace.SetFaults(emulator.Faults{Fail429Next: 50,
			Endpoints: []string{emulator.EndpointSearchTickets, emulator.EndpointContactNotes}})
		r := ask(t, env)
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Errorf("HTTP %d, Retry-After %q; want 429 with Retry-After (%s)", r.Status, r.Header.Get("Retry-After"), r.Body)
		}
	})
}

func TestBridgeAgentSyncContract(t *testing.T) {
	env := newTestEnv(t)
	r := bridgePost(t, env.URL+"/talkdesk/agent_sync", example(t, agentSyncExample, testAuth(), nil))
	if r.Status != http.StatusOK {
		t.Fatalf("HTTP %d %s", r.Status, r.Body)
	}
	var body struct {
		Agents []struct {
			ID    any    `json:"id"`
			Name  string `json:"name"`
			Email string `json:"email"`
		} `json:"agents"`
	}
	r.decode(t, &body)
	admins := env.Intercom.Workspace.Admins()
	if len(body.Agents) != len(admins) {
		t.Fatalf("%d agents, want the %d admins", len(body.Agents), len(admins))
	}
	for i, a := range body.Agents {
		if a.ID != admins[i].ID || a.Name != admins[i].Name || a.Email != admins[i].Email {
			t.Errorf("agent %d = %+v, want %s %s %s (id a string)", i, a, admins[i].ID, admins[i].Name, admins[i].Email)
		}
	}
	if r := bridgePost(t, env.URL+"/talkdesk/agent_sync", `{"auth": {"token": "wrong-token-123"}}`); r.Status != http.StatusUnauthorized {
		t.Errorf("rejected token: HTTP %d, want 401", r.Status)
	}
}

// actionReply is an action's answer.
type actionReply struct {
	Message             string `json:"message"`
	ExternalID          string `json:"external_id"`
	ContactExternalID   string `json:"contact_external_id"`
	ContactExternalType string `json:"contact_external_type"`
	ContactExternalURL  string `json:"contact_external_url"`
}

func runAction(t *testing.T, env *testEnv, name string, meta, data map[string]any, headers ...string) (bridgeReply, actionReply) {
	t.Helper()
	body := example(t, actionExecutionExample, testAuth(), func(b map[string]any) {
		b["meta"], b["data"] = meta, data
	})
	r := bridgePost(t, env.URL+"/talkdesk/actions/"+name, body, headers...)
	var a actionReply
	r.decode(t, &a)
	return r, a
}

func TestBridgeCreateContactRetriedCreatesOne(t *testing.T) {
	env := newTestEnv(t)
	ws := env.Intercom.Workspace
	before := len(ws.Contacts())
	data := map[string]any{"name": "Rosa Park", "email": "rosa.park@example.org", "phone": "+351 912 000 111"}
	r, first := runAction(t, env, "create_contact", map[string]any{"agent_external_id": ws.Me().ID}, data)
	if r.Status != http.StatusCreated {
		t.Fatalf("HTTP %d %s, want 201", r.Status, r.Body)
	}
	stored, ok := ws.Contact(first.ContactExternalID)
	if !ok || stored.Email != "rosa.park@example.org" || stored.Name != "Rosa Park" {
		t.Fatalf("contact_external_id %q: the workspace has %+v", first.ContactExternalID, stored)
	}
	if first.ContactExternalType != "lead" || !strings.HasSuffix(first.ContactExternalURL, "/users/"+stored.ID) || first.Message == "" {
		t.Errorf("answer %+v: want type lead, a url to the contact and a message", first)
	}
	// Talkdesk retries the same call (no Idempotency-Key): the same answer,
	// nothing created.
	writes := ws.Calls("POST /contacts")
	for range 2 {
		r, again := runAction(t, env, "create_contact", map[string]any{"agent_external_id": ws.Me().ID}, data)
		if r.Status != http.StatusCreated || again != first {
			t.Errorf("retry: HTTP %d %+v, want 201 %+v", r.Status, again, first)
		}
	}
	if n := len(ws.Contacts()); n != before+1 || ws.Calls("POST /contacts") != writes {
		t.Errorf("after retries: %d contacts (want %d), %d more POST /contacts", n, before+1, ws.Calls("POST /contacts")-writes)
	}
}

func TestBridgeNotesAndTicketsOnTheContactInScope(t *testing.T) {
	env := newTestEnv(t)
	ws := env.Intercom.Workspace
	caller, _ := ws.DemoCaller()
	agent := ws.Admins()[2]
	meta := map[string]any{"contact_external_id": caller.ID, "agent_external_id": agent.ID}

	t.Run("add_note", func(t *testing.T) {
		notes := len(ws.Notes(caller.ID))
		data := map[string]any{"body": "Called about the invoice.\nWill pay on Friday."}
		r, a := runAction(t, env, "add_note", meta, data)
		if r.Status != http.StatusCreated || a.ExternalID == "" {
			t.Fatalf("HTTP %d %s", r.Status, r.Body)
		}
		list := ws.Notes(caller.ID)
		if len(list) != notes+1 || list[0].ID != a.ExternalID || list[0].AuthorID != agent.ID {
			t.Fatalf("notes: %d (want %d), newest %+v; want %s by %s", len(list), notes+1, list[0], a.ExternalID, agent.ID)
		}
		// A retry adds nothing; an Idempotency-Key of Talkdesk's own makes a
		// deliberate second note.
		if r, again := runAction(t, env, "add_note", meta, data); r.Status != http.StatusCreated || again.ExternalID != a.ExternalID {
			t.Errorf("retry: HTTP %d %+v", r.Status, again)
		}
		if r, other := runAction(t, env, "add_note", meta, data, "Idempotency-Key", "td-call-2"); r.Status != http.StatusCreated || other.ExternalID == a.ExternalID {
			t.Errorf("own key: HTTP %d %+v, want another note", r.Status, other)
		}
		if n := len(ws.Notes(caller.ID)); n != notes+2 {
			t.Errorf("%d notes, want %d", n, notes+2)
		}
	})

	t.Run("add_note whose answer was lost", func(t *testing.T) {
		// Intercom writes the note, then the answer fails: Talkdesk sees an
		// error and retries; the retry finds the note instead of adding one.
		notes := len(ws.Notes(caller.ID))
		data := map[string]any{"body": "Asked for a callback tomorrow."}
		ws.SetFaults(emulator.Faults{FailNext: 1, ErrorStatus: 502, FailAfterWrite: true, Endpoints: []string{"POST /contacts/{id}/notes"}})
		defer ws.SetFaults(emulator.Faults{})
		if r, _ := runAction(t, env, "add_note", meta, data); r.Status < 500 {
			t.Fatalf("first attempt: HTTP %d %s, want a 5xx", r.Status, r.Body)
		}
		r, a := runAction(t, env, "add_note", meta, data)
		if r.Status != http.StatusCreated || a.ExternalID == "" {
			t.Fatalf("retry: HTTP %d %s", r.Status, r.Body)
		}
		if n := len(ws.Notes(caller.ID)); n != notes+1 {
			t.Errorf("%d notes, want %d", n, notes+1)
		}
	})

	t.Run("create_ticket", func(t *testing.T) {
		tickets := len(ws.Tickets(caller.ID))
		// The documented example's subject and description, with our keys.
		data := map[string]any{"title": "Call missed in Talkdesk", "description": "A call from Jane Doe was missed.", "ticket_type": "Callback request"}
		r, a := runAction(t, env, "create_ticket", meta, data)
		if r.Status != http.StatusCreated || a.ExternalID == "" || a.Message == "" {
			t.Fatalf("HTTP %d %s", r.Status, r.Body)
		}
		tk, ok := ws.Ticket(a.ExternalID)
		if !ok || tk.Title != "Call missed in Talkdesk" || !slices.Contains(tk.ContactIDs, caller.ID) {
			t.Errorf("ticket %s: %+v", a.ExternalID, tk)
		}
		if r, again := runAction(t, env, "create_ticket", meta, data); r.Status != http.StatusCreated || again.ExternalID != a.ExternalID {
			t.Errorf("retry: HTTP %d %+v", r.Status, again)
		}
		if n := len(ws.Tickets(caller.ID)); n != tickets+1 {
			t.Errorf("%d tickets, want %d", n, tickets+1)
		}
	})

	t.Run("log_call with numbers and booleans as strings", func(t *testing.T) {
		notes := len(ws.Notes(caller.ID))
		data := map[string]any{"from": "+14155550142", "to": "+1 212 555 0100", "direction": "inbound",
			"started_at": "2026-01-05 10:30:00 UTC", "duration": "95", "create_contact_if_unknown": "false"}
		r, a := runAction(t, env, "log_call", map[string]any{"agent_external_id": agent.ID}, data)
		if r.Status != http.StatusCreated || a.ExternalID == "" {
			t.Fatalf("HTTP %d %s", r.Status, r.Body)
		}
		if list := ws.Notes(caller.ID); len(list) != notes+1 || !strings.Contains(list[0].Body, "1m35s") {
			t.Errorf("the call note: %d notes, newest %+v", len(list), list[0])
		}
	})

	t.Run("tag_contact and untag_contact", func(t *testing.T) {
		r, a := runAction(t, env, "tag_contact", meta, map[string]any{"tag": "Called back"})
		if r.Status != http.StatusCreated || a.ExternalID == "" {
			t.Fatalf("tag: HTTP %d %s", r.Status, r.Body)
		}
		stored, _ := ws.Contact(caller.ID)
		if !slices.Contains(stored.TagIDs, a.ExternalID) {
			t.Errorf("tag %s not on the contact: %v", a.ExternalID, stored.TagIDs)
		}
		if r, _ := runAction(t, env, "untag_contact", meta, map[string]any{"tag": "Called back"}); r.Status != http.StatusCreated {
			t.Errorf("untag: HTTP %d %s", r.Status, r.Body)
		}
		// Tagging again is a new state, not a replay of the first call.
		runAction(t, env, "tag_contact", meta, map[string]any{"tag": "Called back"})
		if stored, _ := ws.Contact(caller.ID); !slices.Contains(stored.TagIDs, a.ExternalID) {
			t.Errorf("tag, untag, tag: the tag is not on the contact")
		}
	})
}

func TestBridgeActionErrors(t *testing.T) {
	env := newTestEnv(t)
	ws := env.Intercom.Workspace
	caller, _ := ws.DemoCaller()
	for _, c := range []struct {
		name, action string
		meta, data   map[string]any
		mentions     []string
	}{
		{"the documented example as it is", "create_ticket", map[string]any{"contact_external_id": "1", "agent_external_id": "2"},
			map[string]any{"subject": "Call missed in Talkdesk", "description": "A call from Jane Doe was missed."},
			[]string{"data.title", "data.ticket_type", "meta.contact_external_id", "meta.agent_external_id"}},
		{"no contact in scope", "add_note", nil, map[string]any{"body": "hi"}, []string{"meta.contact_external_id is required"}},
		{"unknown ticket type", "create_ticket", map[string]any{"contact_external_id": caller.ID},
			map[string]any{"title": "x", "ticket_type": "Complaint"}, []string{"data.ticket_type", "Callback request"}},
		{"contact without email or phone", "create_contact", nil, map[string]any{"name": "Nobody"}, []string{"email"}},
		{"bad email", "create_contact", nil, map[string]any{"email": "not-an-email"}, []string{"data.email"}},
		{"bad time", "log_call", nil, map[string]any{"from": "+14155550142", "to": "+12125550100", "direction": "inbound",
			"started_at": "yesterday", "duration": 5}, []string{"data.started_at"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, _ := runAction(t, env, c.action, c.meta, c.data)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("HTTP %d %s, want 400", r.Status, r.Body)
			}
			msg := r.message(t)
			for _, m := range c.mentions {
				if !strings.Contains(msg, m) {
					t.Errorf("message %q does not mention %q", msg, m)
				}
			}
		})
	}
	t.Run("unknown action", func(t *testing.T) {
		r := bridgePost(t, env.URL+"/talkdesk/actions/delete_everything", example(t, actionExecutionExample, testAuth(), nil))
		if r.Status != http.StatusNotFound || !strings.Contains(r.message(t), "create_ticket") {
			t.Errorf("HTTP %d %s, want 404 listing the actions", r.Status, r.Body)
		}
	})
	t.Run("rejected token", func(t *testing.T) {
		r := bridgePost(t, env.URL+"/talkdesk/actions/add_note", example(t, actionExecutionExample, map[string]any{"token": "wrong-token-123"}, nil))
		if r.Status != http.StatusUnauthorized {
			t.Errorf("HTTP %d %s, want 401", r.Status, r.Body)
		}
	})
	t.Run("the same Idempotency-Key for another call", func(t *testing.T) {
		meta := map[string]any{"contact_external_id": caller.ID}
		runAction(t, env, "add_note", meta, map[string]any{"body": "one"}, "Idempotency-Key", "k-1")
		r, _ := runAction(t, env, "add_note", meta, map[string]any{"body": "two"}, "Idempotency-Key", "k-1")
		if r.Status != http.StatusBadRequest {
			t.Errorf("HTTP %d %s, want 400 (a conflict)", r.Status, r.Body)
		}
	})
}

// Intercom failing or throttling shows as the contract's retryable statuses.
func TestBridgeUpstreamFailures(t *testing.T) {
	// A short Intercom deadline: a Retry-After beyond it is answered at once.
	env := newTestEnvWith(t, emulator.Options{}, "INTERCOM_TIMEOUT", "1s")
	ws := env.Intercom.Workspace
	body := example(t, contactSyncExample, testAuth(), func(b map[string]any) { b["meta"] = map[string]any{} })
	bridgePost(t, env.URL+"/talkdesk/auth_validation", body) // the token is known before the faults

	ws.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: 503, Endpoints: []string{emulator.EndpointSearchContacts}})
	r := bridgePost(t, env.URL+"/talkdesk/contact_sync", body)
	if r.Status != http.StatusServiceUnavailable {
		t.Errorf("Intercom down: HTTP %d %s, want 503", r.Status, r.Body)
	}
	r.message(t)
	ws.SetFaults(emulator.Faults{Fail429Next: 10, Endpoints: []string{emulator.EndpointSearchContacts}})
	r = bridgePost(t, env.URL+"/talkdesk/contact_sync", body)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("Intercom throttling: HTTP %d, Retry-After %q; want 429 with Retry-After", r.Status, r.Header.Get("Retry-After"))
	}
	ws.SetFaults(emulator.Faults{})
}

func TestBridgeConfigurationDocuments(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "PUBLIC_BASE_URL", "https://bridge.example.com/")
	var integration struct {
		Name                           string                      `json:"name"`
		DisplayName                    string                      `json:"display_name"`
		Description                    string                      `json:"description"`
		LogoURL                        string                      `json:"logo_url"`
		IconURL                        string                      `json:"icon_url"`
		AuthenticationType             string                      `json:"authentication_type"`
		AuthenticationConfiguration    []map[string]map[string]any `json:"authentication_configuration"`
		AuthValidationEndpoint         string                      `json:"auth_validation_endpoint"`
		ContactSynchronizationEndpoint string                      `json:"contact_synchronization_endpoint"`
		InteractionRetrievalEndpoint   string                      `json:"interaction_retrieval_endpoint"`
		AgentSynchronizationEndpoint   string                      `json:"agent_synchronization_endpoint"`
		InteractionTypes               []string                    `json:"interaction_types"`
	}
	req, _ := http.NewRequest("GET", env.URL+"/talkdesk/integration.json", nil)
	r := bridgeDo(t, req)
	r.decode(t, &integration)
	const base = "https://bridge.example.com/talkdesk"
	if r.Status != 200 || integration.Name != "intercom" || integration.DisplayName == "" || integration.Description == "" ||
		integration.LogoURL != base+"/logo.svg" || integration.IconURL == "" || integration.AuthenticationType != "custom" {
		t.Errorf("integration.json: HTTP %d %+v", r.Status, integration)
	}
	endpoints := map[string]string{
		integration.AuthValidationEndpoint: "/auth_validation", integration.ContactSynchronizationEndpoint: "/contact_sync",
		integration.InteractionRetrievalEndpoint: "/interaction_update", integration.AgentSynchronizationEndpoint: "/agent_sync",
	}
	for got, path := range endpoints {
		if got != base+path {
			t.Errorf("endpoint %q, want %s", got, base+path)
		}
		// Each endpoint is served (a 401 for an empty token, not a 404).
		if r := bridgePost(t, env.URL+"/talkdesk"+path, `{"auth": {}}`); r.Status != http.StatusUnauthorized {
			t.Errorf("POST %s: HTTP %d, want 401", path, r.Status)
		}
	}
	if !slices.Equal(integration.InteractionTypes, []string{"conversation", "ticket", "note", "call"}) {
		t.Errorf("interaction_types %v", integration.InteractionTypes)
	}
	fields := map[string]map[string]any{}
	for _, f := range integration.AuthenticationConfiguration {
		for k, v := range f {
			fields[k] = v
		}
	}
	if fields["token"]["mandatory"] != true || fields["region"]["mandatory"] != false || fields["token"]["source"] != "input" ||
		fields["token"]["type"] != "input" || fields["token"]["store"] != true || fields["token"]["display"] == "" {
		t.Errorf("authentication_configuration %v", integration.AuthenticationConfiguration)
	}

	var list []struct {
		Provider, Name, Display, Description, Endpoint string
		Inputs                                         []actions.Input
	}
	req, _ = http.NewRequest("GET", env.URL+"/talkdesk/actions.json", nil)
	r = bridgeDo(t, req)
	r.decode(t, &list)
	catalog := actions.Catalog()
	if len(list) != len(catalog) {
		t.Fatalf("actions.json lists %d actions, want %d", len(list), len(catalog))
	}
	for i, a := range list {
		if a.Provider != "intercom" || a.Name != catalog[i].Name || a.Endpoint != base+"/actions/"+a.Name ||
			a.Display != strings.ToLower(a.Display) || a.Description == "" || !slices.Equal(a.Inputs, catalog[i].Inputs) {
			t.Errorf("action %d: %+v", i, a)
		}
		if r := bridgePost(t, env.URL+"/talkdesk/actions/"+a.Name, `{"auth": {}}`); r.Status != http.StatusUnauthorized {
			t.Errorf("POST actions/%s: HTTP %d, want 401", a.Name, r.Status)
		}
	}
	resp, err := http.Get(env.URL + "/talkdesk/logo.svg")
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "image/svg") {
		t.Errorf("logo: %v %v", err, resp)
	}
	resp.Body.Close()
}

// Without PUBLIC_BASE_URL the documents name the server by the request's
// Host only when it is a loopback name (a trial on one's machine): any other
// Host is the client's own text, and a cached document pointing Talkdesk at
// it would hand an attacker every account's Intercom token. X-Forwarded-Proto
// is believed from TRUSTED_PROXIES only.
func TestBridgeDocumentsDoNotFollowAnUntrustedHost(t *testing.T) {
	document := func(t *testing.T, env *testEnv, host, proto string) (bridgeReply, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", env.URL+"/talkdesk/integration.json", nil)
		req.Host = host
		if proto != "" {
			req.Header.Set("X-Forwarded-Proto", proto)
		}
		r := bridgeDo(t, req)
		var doc struct {
			Endpoint string `json:"contact_synchronization_endpoint"`
		}
		_ = json.Unmarshal(r.Body, &doc)
		return r, doc.Endpoint
	}
	env := newTestEnv(t)
	for _, path := range []string{"/talkdesk/integration.json", "/talkdesk/actions.json"} {
		req, _ := http.NewRequest("GET", env.URL+path, nil)
		req.Host = "td.example.net"
		r := bridgeDo(t, req)
		if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), `"code":"UNAVAILABLE"`) || !strings.Contains(string(r.Body), "PUBLIC_BASE_URL") {
			t.Errorf("%s with Host td.example.net and no PUBLIC_BASE_URL: HTTP %d %s, want 503 UNAVAILABLE naming PUBLIC_BASE_URL", path, r.Status, r.Body)
		}
	}
	if r, got := document(t, env, "localhost:8080", "https"); r.Status != http.StatusOK || got != "http://localhost:8080/talkdesk/contact_sync" {
		t.Errorf("loopback Host, X-Forwarded-Proto from an untrusted peer: HTTP %d, endpoint %q, want http://localhost:8080/talkdesk/contact_sync", r.Status, got)
	}

	proxied := newTestEnvWith(t, emulator.Options{}, "TRUSTED_PROXIES", "127.0.0.0/8")
	if r, got := document(t, proxied, "127.0.0.1:8080", "https"); r.Status != http.StatusOK || got != "https://127.0.0.1:8080/talkdesk/contact_sync" {
		t.Errorf("X-Forwarded-Proto from a trusted proxy: HTTP %d, endpoint %q, want https://127.0.0.1:8080/talkdesk/contact_sync", r.Status, got)
	}

	public := newTestEnvWith(t, emulator.Options{}, "PUBLIC_BASE_URL", "https://bridge.example.com")
	if r, got := document(t, public, "evil.example.org", "http"); r.Status != http.StatusOK || got != "https://bridge.example.com/talkdesk/contact_sync" {
		t.Errorf("PUBLIC_BASE_URL with another Host: HTTP %d, endpoint %q", r.Status, got)
	}
}

// With API keys configured, the bridge wants one in auth.api_key, and
// integration.json asks Talkdesk's users for it.
func TestBridgeAPIKey(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "API_KEYS", "apikey-7c1e-one")
	url := env.URL + "/talkdesk/auth_validation"
	if r := bridgePost(t, url, `{"auth": {"token": "`+testToken+`"}}`); r.Status != http.StatusUnauthorized {
		t.Errorf("no key: HTTP %d, want 401", r.Status)
	}
	if r := bridgePost(t, url, `{"auth": {"token": "`+testToken+`", "api_key": "apikey-7c1e-two"}}`); r.Status != http.StatusUnauthorized {
		t.Errorf("wrong key: HTTP %d, want 401", r.Status)
	}
	if r := bridgePost(t, url, `{"auth": {"token": "`+testToken+`", "api_key": "apikey-7c1e-one"}}`); r.Status != http.StatusNoContent {
		t.Errorf("right key: HTTP %d %s, want 204", r.Status, r.Body)
	}
	if doc := get(t, env.URL+"/talkdesk/integration.json"); !strings.Contains(doc, `"api_key"`) {
		t.Errorf("integration.json does not ask for the api_key: %s", doc)
	}
}
