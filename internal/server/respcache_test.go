package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/playground"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/internal/webhooks"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// answer is a GraphQL answer as the client reads it.
type gqlAnswer struct {
	Status int
	Header http.Header
	Body   []byte
	// Data is the answer without extensions.cached, decoded, to compare.
	Data   any
	Errors []any
	Cached bool
}

// askGQL POSTs a GraphQL request with headers.
func askGQL(t *testing.T, env *testEnv, query string, vars any, headers ...string) gqlAnswer {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", env.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return sendGQL(t, req)
}

func sendGQL(t *testing.T, req *http.Request) gqlAnswer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := gqlAnswer{Status: resp.StatusCode, Header: resp.Header, Body: raw}
	if resp.StatusCode == http.StatusNotModified {
		return a
	}
	var m struct {
		Data       any            `json:"data"`
		Errors     []any          `json:"errors"`
		Extensions map[string]any `json:"extensions"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("HTTP %d, not JSON: %q", resp.StatusCode, raw)
	}
	a.Data, a.Errors = m.Data, m.Errors
	a.Cached = m.Extensions["cached"] == true
	return a
}

// name is the contact's name in an answer to nameQuery.
func (a gqlAnswer) name(t *testing.T) string {
	t.Helper()
	c, _ := a.Data.(map[string]any)["contact"].(map[string]any)
	if c == nil || len(a.Errors) > 0 {
		t.Fatalf("no contact in %s", a.Body)
	}
	return c["name"].(string)
}

const nameQuery = `query Name($id: ID!) { contact(id: $id) { id name email } }`

// responseCacheCount is the server's response_cache_total of result, read
// from /metrics as an operator would.
func responseCacheCount(t *testing.T, env *testEnv, result string) float64 {
	t.Helper()
	prefix := `response_cache_total{result="` + result + `"} `
	sc := bufio.NewScanner(strings.NewReader(get(t, env.URL+"/metrics")))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return n
		}
	}
	return 0
}

// The answers the cache serves are the executor's, for every example of the
// playground: the same data from a server without the cache, from the first
// request (executed and kept) and the second (a hit, marked cached). Only
// answers built from reads that keys name are kept: a search, a contact list
// and the workspace (asked of Intercom) are not; mutations and operations
// with @defer (the dashboard's) never are; subscriptions are streams.
func TestResponseCacheAnswersLikeTheExecutor(t *testing.T) {
	plain := newTestEnvWith(t, emulator.Options{}, "RESPONSE_CACHE_ENABLED", "false")
	cached := newTestEnvOn(t, plain.Intercom)
	notKept := map[string]bool{"30-contact-sync.graphql": true, "40-search-contacts.graphql": true, "50-workspace.graphql": true,
		"20-agent-dashboard.graphql": true}
	examples, err := playground.Examples()
	if err != nil {
		t.Fatal(err)
	}
	queries := 0
	for _, ex := range examples {
		var vars map[string]any
		if ex.Variables != nil {
			_ = json.Unmarshal(ex.Variables, &vars)
		}
		mutation := strings.Contains(ex.Query, "\nmutation ")
		if strings.Contains(ex.Query, "\nsubscription ") || strings.HasPrefix(ex.Query, "subscription ") {
			continue // a stream, not a plain request
		}
		t.Run(ex.File, func(t *testing.T) {
			if mutation {
				for i := range 2 {
					if a := askGQL(t, cached, ex.Query, vars); a.Cached || a.Status != http.StatusOK {
						t.Errorf("mutation, request %d: HTTP %d, cached %v: %s", i+1, a.Status, a.Cached, a.Body)
					}
				}
				return
			}
			queries++
			gold := askGQL(t, plain, ex.Query, vars)
			if gold.Status != http.StatusOK || len(gold.Errors) > 0 || gold.Cached {
				t.Fatalf("without the cache: HTTP %d %s", gold.Status, gold.Body)
			}
			first, second := askGQL(t, cached, ex.Query, vars), askGQL(t, cached, ex.Query, vars)
			if first.Cached {
				t.Errorf("the first request was answered from the cache")
			}
			if want := !notKept[ex.File]; second.Cached != want {
				t.Errorf("second request: cached %v, want %v", second.Cached, want)
			}
			for i, a := range []gqlAnswer{first, second} {
				if !reflect.DeepEqual(a.Data, gold.Data) || len(a.Errors) > 0 {
					t.Errorf("gqlAnswer %d differs from the executor's:\n got %s\nwant %s", i+1, a.Body, gold.Body)
				}
			}
		})
	}
	if queries < 5 {
		t.Fatalf("only %d example queries", queries)
	}
}

// warm asks until the answer is a hit (a new server learns its workspace
// id first: until then nothing is kept).
func warm(t *testing.T, env *testEnv, query string, vars any, headers ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !askGQL(t, env, query, vars, headers...).Cached {
		if time.Now().After(deadline) {
			t.Fatal("the gqlAnswer was never kept")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitStream waits until env's response cache hears the event stream.
func waitStream(t *testing.T, env *testEnv, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !askGQL(t, env, nameQuery, map[string]any{"id": id}).Cached {
		if time.Now().After(deadline) {
			t.Fatal("the response cache never opened: the event stream is not whole")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// until asks env for the contact's name until it is want, counting the
// answers that still held something else, and fails after a second.
func until(t *testing.T, env *testEnv, id, want string) (stale int) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		got := askGQL(t, env, nameQuery, map[string]any{"id": id}).name(t)
		if got == want {
			return stale
		}
		stale++
		if time.Now().After(deadline) {
			t.Fatalf("a second after the change the replica still answers %q (%d stale answers), want %q", got, stale, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// An action on replica A and a signed webhook to A each drop, on A at once
// and on B within a second, the answers built from the contact they
// changed, and only those: another contact's answer stays cached on both.
func TestResponseCacheDropsWhatAChangeTouchesOnEveryReplica(t *testing.T) {
	a, b := replicas(t, "redis://"+redistest.Addr(t))
	ws := a.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	var other emulator.Contact
	for _, c := range ws.Contacts() {
		if c.ID != demo.ID && c.Email != "" {
			other = c
			break
		}
	}
	for _, env := range []*testEnv{a, b} {
		waitStream(t, env, demo.ID)
		waitStream(t, env, other.ID)
	}
	otherStillCached := func(when string) {
		t.Helper()
		for name, env := range map[string]*testEnv{"A": a, "B": b} {
			if r := askGQL(t, env, nameQuery, map[string]any{"id": other.ID}); !r.Cached {
				t.Errorf("%s: %s dropped another contact's gqlAnswer", when, name)
			}
		}
	}

	// An action on A.
	r := askGQL(t, a, `mutation($id: ID!) { updateContact(input: {id: $id, name: "Maria via A"}) { contact { name } } }`,
		map[string]any{"id": demo.ID})
	if len(r.Errors) > 0 {
		t.Fatalf("updateContact: %s", r.Body)
	}
	if got := askGQL(t, a, nameQuery, map[string]any{"id": demo.ID}).name(t); got != "Maria via A" {
		t.Errorf("after its own action, A answers %q", got)
	}
	stale := until(t, b, demo.ID, "Maria via A")
	t.Logf("action: B answered the old name %d times before the new one", stale)
	otherStillCached("after the action")

	// A change in Intercom, reported to A by a signed webhook.
	ws.UpdateContact(demo.ID, func(c *emulator.Contact) { c.Name = "Maria in Intercom" })
	waitStream(t, b, demo.ID) // kept again after the action
	if r := askGQL(t, b, nameQuery, map[string]any{"id": demo.ID}); !r.Cached || r.name(t) != "Maria via A" {
		t.Fatalf("before the webhook B answers %s: the test does not exercise the response cache", r.Body)
	}
	body, _ := json.Marshal(map[string]any{
		"type": "notification_event", "id": "notif_respcache", "topic": "contact.user.updated",
		"app_id": ws.App().IDCode, "data": map[string]any{"item": map[string]any{"type": "contact", "id": demo.ID}},
	})
	if status := deliver(t, a, body, webhooks.Sign(testClientSecret, body)); status != http.StatusOK {
		t.Fatalf("webhook: %d", status)
	}
	if got := askGQL(t, a, nameQuery, map[string]any{"id": demo.ID}).name(t); got != "Maria in Intercom" {
		t.Errorf("after the webhook, A answers %q", got)
	}
	stale = until(t, b, demo.ID, "Maria in Intercom")
	t.Logf("webhook: B answered the old name %d times before the new one", stale)
	otherStillCached("after the webhook")
	if n := responseCacheCount(t, b, "dropped"); n < 2 {
		t.Errorf("B dropped %v answers, want at least one per change", n)
	}
}

// While the event stream is broken (Redis restarts) a replica answers
// nothing from its response cache, and it forgets what it kept: a change
// made while it could not hear of it is never answered from memory.
func TestResponseCacheIsBypassedWhileTheStreamIsBroken(t *testing.T) {
	redis := redistest.Start(t)
	a, b := replicas(t, "redis://"+redis.Addr)
	ws := a.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	waitStream(t, b, demo.ID)
	before := responseCacheCount(t, b, "bypassed")

	redis.Stop()
	ws.UpdateContact(demo.ID, func(c *emulator.Contact) { c.Name = "Maria while Redis was down" })
	deadline := time.Now().Add(10 * time.Second)
	for metrics.Value(b.Metrics.CacheEvents, "broken") == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if r := askGQL(t, b, nameQuery, map[string]any{"id": demo.ID}); r.Cached {
		t.Errorf("while the stream is broken B answered from its response cache: %s", r.Body)
	}
	if responseCacheCount(t, b, "bypassed") == before {
		t.Errorf("B's response cache was not bypassed while the stream was broken")
	}
	redis.Restart()
	if got := until(t, b, demo.ID, "Maria while Redis was down"); got > 0 {
		t.Logf("B answered the old name %d times after Redis came back", got)
	}
	waitStream(t, b, demo.ID) // and it keeps answers again
	if got := askGQL(t, b, nameQuery, map[string]any{"id": demo.ID}).name(t); got != "Maria while Redis was down" {
		t.Errorf("after the restart B answers %q from its cache", got)
	}
}

// An answer is kept for the credentials that asked for it: another API key
// executes the query itself, a request without a valid key or token is
// refused before the cache is asked.
func TestResponseCacheIsPerCaller(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "API_KEYS", "key-one-0123456789,key-two-0123456789")
	demo, _ := env.Intercom.Workspace.DemoCaller()
	vars := map[string]any{"id": demo.ID}
	warm(t, env, nameQuery, vars, "X-API-Key", "key-one-0123456789")
	if r := askGQL(t, env, nameQuery, vars, "X-API-Key", "key-two-0123456789"); r.Cached {
		t.Errorf("key two was served key one's gqlAnswer")
	}
	if r := askGQL(t, env, nameQuery, vars, "Authorization", "Bearer key-one-0123456789"); r.Cached {
		t.Errorf("an gqlAnswer kept for X-API-Key was served to Authorization (a different header set)")
	}
	if r := askGQL(t, env, nameQuery, vars, "X-API-Key", "key-three"); r.Status != http.StatusUnauthorized || r.Cached {
		t.Errorf("an unknown key: HTTP %d, cached %v", r.Status, r.Cached)
	}

	// Multi-tenant: each caller's Intercom token is its workspace.
	mt := newTestEnvWith(t, emulator.Options{}, "MULTI_TENANT", "true")
	warm(t, mt, nameQuery, vars, "X-Intercom-Token", testToken)
	if r := askGQL(t, mt, nameQuery, vars, "X-Intercom-Token", "another-token-0123"); r.Cached || r.Status == http.StatusOK {
		t.Errorf("another token: HTTP %d, cached %v: %s", r.Status, r.Cached, r.Body)
	}
	if r := askGQL(t, mt, nameQuery, vars); r.Cached || r.Status == http.StatusOK {
		t.Errorf("no token: HTTP %d, cached %v", r.Status, r.Cached)
	}
}

// Many distinct documents keep the cache within RESPONSE_CACHE_MAX_BYTES:
// the least recently used answers go.
func TestResponseCacheIsBoundedByBytes(t *testing.T) {
	const max = 1 << 20
	env := newTestEnvWith(t, emulator.Options{}, "RESPONSE_CACHE_MAX_BYTES", strconv.Itoa(max))
	demo, _ := env.Intercom.Workspace.DemoCaller()
	for i := range 400 {
		// Distinct documents of ~8 KB answers each: 3 MB in all.
		if r := askGQL(t, env, distinctDocument(i, 8), map[string]any{"id": demo.ID}); r.Status != http.StatusOK || len(r.Errors) > 0 {
			t.Fatalf("query %d: HTTP %d %s", i, r.Status, r.Body)
		}
		if held := env.Services.answers.Bytes(); held > max {
			t.Fatalf("after %d documents the cache holds %d bytes, over %d", i+1, held, max)
		}
	}
	if n := responseCacheCount(t, env, "evicted"); n == 0 {
		t.Errorf("nothing was evicted: the documents did not fill the cache")
	}
	if n := responseCacheCount(t, env, "stored"); n < 390 {
		t.Errorf("%v answers kept, want about 400 (all but those asked before the workspace id was known)", n)
	}
}

// A GET persisted query carries a validator for the client alone: an ETag,
// private, no-cache, Vary on the credentials, and a 304 for the ETag it
// holds, whether the answer is kept or executed again.
func TestPersistedGETRevalidates(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "INTERCOM_CLIENT_SECRET", testClientSecret)
	demo, _ := env.Intercom.Workspace.DemoCaller()
	query := nameQuery + " # " + uniqueWorkspaceID()
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha256Hex(query)}}
	if r, _ := env.postJSON(t, map[string]any{"query": query, "variables": map[string]any{"id": demo.ID}, "extensions": ext}); len(r.Errors) > 0 {
		t.Fatalf("register: %+v", r.Errors)
	}
	extJSON, _ := json.Marshal(ext)
	varsJSON, _ := json.Marshal(map[string]any{"id": demo.ID})
	u := env.URL + "/graphql?" + url.Values{"extensions": {string(extJSON)}, "variables": {string(varsJSON)}}.Encode()
	getWith := func(etag string) gqlAnswer {
		req, _ := http.NewRequest("GET", u, nil)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		return sendGQL(t, req)
	}
	first := getWith("")
	etag := first.Header.Get("ETag")
	if first.Status != http.StatusOK || etag == "" {
		t.Fatalf("GET: HTTP %d, ETag %q: %s", first.Status, etag, first.Body)
	}
	if cc := first.Header.Get("Cache-Control"); cc != "private, no-cache" {
		t.Errorf("Cache-Control %q", cc)
	}
	if vary := strings.Join(first.Header.Values("Vary"), ", "); !strings.Contains(vary, "Authorization") || !strings.Contains(vary, "X-Intercom-Token") {
		t.Errorf("Vary %q does not name the credentials", vary)
	}
	hit := getWith("")
	if !hit.Cached || hit.Header.Get("ETag") != etag {
		t.Errorf("second GET: cached %v, ETag %q, want %q", hit.Cached, hit.Header.Get("ETag"), etag)
	}
	if r := getWith(etag); r.Status != http.StatusNotModified || len(r.Body) != 0 {
		t.Errorf("If-None-Match the ETag: HTTP %d %q, want 304", r.Status, r.Body)
	}
	if r := getWith(`"another"`); r.Status != http.StatusOK {
		t.Errorf("If-None-Match another ETag: HTTP %d", r.Status)
	}
	// After a change the answer differs: its ETag too.
	env.Intercom.Workspace.UpdateContact(demo.ID, func(c *emulator.Contact) { c.Name = "Maria renamed" })
	body, _ := json.Marshal(map[string]any{
		"type": "notification_event", "id": "notif_etag", "topic": "contact.user.updated",
		"app_id": env.Intercom.Workspace.App().IDCode, "data": map[string]any{"item": map[string]any{"type": "contact", "id": demo.ID}},
	})
	if status := deliver(t, env, body, webhooks.Sign(testClientSecret, body)); status != http.StatusOK {
		t.Fatalf("webhook: %d", status)
	}
	if r := getWith(etag); r.Status != http.StatusOK || r.Header.Get("ETag") == etag {
		t.Errorf("after a change: HTTP %d, ETag %q (was %q)", r.Status, r.Header.Get("ETag"), etag)
	}
}

// distinctDocument is document i of many, each its own answer: aliases
// copies of one contact ($id) with 36 fields, about 1 KB of answer each.
func distinctDocument(i, aliases int) string {
	fields := strings.Repeat("id name email phone phones emails title role updatedAt ", 4)
	var q strings.Builder
	fmt.Fprintf(&q, "query Q%d($id: ID!) {", i)
	for j := range aliases {
		fmt.Fprintf(&q, " c%d_%d: contact(id: $id) { %s }", i, j, fields)
	}
	q.WriteString(" }")
	return q.String()
}
