package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/abuse"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// postJSON POSTs a GraphQL request body and decodes the answer.
func (e *testEnv) postJSON(t *testing.T, body map[string]any) (gqlResponse, int) {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", e.URL+"/graphql", bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /graphql: %v", err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	out := gqlResponse{Status: resp.StatusCode, Header: resp.Header}
	if err := json.Unmarshal(b.Bytes(), &out); err != nil {
		t.Fatalf("HTTP %d, body is not JSON: %.200q", resp.StatusCode, b.Bytes())
	}
	return out, b.Len()
}

// TestAbusiveRequestsAreRefusedCheaply sends the abuse corpus: each request
// is refused with its code (or answered within the limits), no refusal
// reaches Intercom, no answer is large, and the server is healthy after.
func TestAbusiveRequestsAreRefusedCheaply(t *testing.T) {
	env := newTestEnv(t)
	goroutines := runtime.NumGoroutine()
	for _, c := range abuse.GraphQL() {
		t.Run(c.Name, func(t *testing.T) {
			env.Intercom.Workspace.ResetCalls()
			r, size := env.postJSON(t, map[string]any{"query": c.Query, "variables": c.Variables})
			if got := r.code(); got != c.Code {
				t.Fatalf("code %q, want %q (HTTP %d, %d errors, first %.200q)", got, c.Code, r.Status, len(r.Errors), first(r.Errors))
			}
			if want := c.Status(); r.Status != want {
				t.Errorf("HTTP %d, want %d", r.Status, want)
			}
			if c.Code != "" && c.Code != "BAD_USER_INPUT" {
				if calls := env.Intercom.Workspace.TotalCalls(); calls != 0 {
					t.Errorf("a refused request made %d Intercom calls", calls)
				}
			}
			if size > 64<<10 {
				t.Errorf("the answer is %d bytes", size)
			}
			if len(r.Errors) > 51 {
				t.Errorf("%d errors in one answer, want at most 50 and a summary", len(r.Errors))
			}
			for _, e := range r.Errors {
				if len(e.Message) > 600 {
					t.Errorf("a %d-byte error message echoes the request", len(e.Message))
				}
			}
		})
	}
	// Healthy afterwards: an ordinary lookup answers, no work is left running.
	var data struct{ Workspace struct{ ID string } }
	env.mustQuery(t, `{ workspace { id } }`, nil, &data)
	if data.Workspace.ID == "" {
		t.Error("no workspace after the corpus")
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines+20 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines+20 {
		t.Errorf("%d goroutines after the corpus, %d before", n, goroutines)
	}
}

func first(errs []gqlError) string {
	if len(errs) == 0 {
		return ""
	}
	return errs[0].Message
}

// TestRefusalsNameTheLimitAndTheCost checks the shape of a refusal: the
// setting, its bound, the value, and for budget refusals what the operation
// would have cost.
func TestRefusalsNameTheLimitAndTheCost(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "MAX_INTERCOM_CALLS_PER_OPERATION", "20", "MAX_QUERY_ALIASES", "3")
	r := env.query(t, `{ a: searchContacts(text: "ma") { id } b: searchContacts(text: "jo") { id } c: searchContacts(text: "an") { id }
		d: searchContacts(text: "li") { id } }`, nil, nil)
	ext := errExt(t, r)
	if ext["code"] != "QUERY_TOO_LARGE" || ext["limit"] != "MAX_QUERY_ALIASES" || ext["max"] != 3.0 || ext["value"] != 4.0 {
		t.Errorf("aliases: extensions %v", ext)
	}
	r = env.query(t, `{ contacts(first: 20) { nodes { companies { name } } } }`, nil, nil)
	ext = errExt(t, r)
	if ext["code"] != "UPSTREAM_BUDGET_EXCEEDED" || ext["limit"] != "MAX_INTERCOM_CALLS_PER_OPERATION" {
		t.Fatalf("budget: extensions %v", ext)
	}
	cost, _ := ext["cost"].(map[string]any)
	// One page read, and three company reads for each of 20 contacts.
	if cost["intercomCalls"] != 61.0 || cost["maxIntercomCalls"] != 20.0 {
		t.Errorf("budget: cost %v, want 61 Intercom calls of at most 20", cost)
	}
	if !strings.Contains(r.Errors[0].Message, "61 Intercom calls") {
		t.Errorf("message %q does not say the cost", r.Errors[0].Message)
	}
	// Within the budget, the same shape runs.
	env.mustQuery(t, `{ contacts(first: 5) { nodes { companies { name } } } }`, nil, nil)
}

func errExt(t *testing.T, r gqlResponse) map[string]any {
	t.Helper()
	if len(r.Errors) == 0 {
		t.Fatalf("HTTP %d and no error", r.Status)
	}
	return r.Errors[0].Extensions
}

// TestIntrospectionOff: introspection is a client error with its own code,
// and validation errors suggest no field names.
func TestIntrospectionOff(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "INTROSPECTION", "false")
	r := env.query(t, `{ __schema { types { name } } }`, nil, nil)
	if r.Status != 400 || r.code() != "INTROSPECTION_DISABLED" {
		t.Errorf("introspection: HTTP %d, code %q; want 400 INTROSPECTION_DISABLED", r.Status, r.code())
	}
	r = env.query(t, `{ workspac { id } }`, nil, nil)
	if r.Status != 400 || strings.Contains(first(r.Errors), "Did you mean") || strings.Contains(first(r.Errors), "workspace") {
		t.Errorf("unknown field: HTTP %d, %q: suggests the schema's names", r.Status, first(r.Errors))
	}
	env.mustQuery(t, `{ __typename workspace { id } }`, nil, nil)
}

// TestAutomaticPersistedQueries follows Apollo's APQ protocol over POST and
// GET; what one server learns, a second one on the same Redis knows.
func TestAutomaticPersistedQueries(t *testing.T) {
	redisURL := "redis://" + redistest.Addr(t) + "/0"
	env := newTestEnvWith(t, emulator.Options{}, "REDIS_URL", redisURL)
	query := `query Workspace { workspace { id name } } # ` + uniqueWorkspaceID() // unknown to the store so far
	hash := sha256Hex(query)
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}

	r, _ := env.postJSON(t, map[string]any{"extensions": ext})
	if r.code() != "PERSISTED_QUERY_NOT_FOUND" || first(r.Errors) != "PersistedQueryNotFound" {
		t.Fatalf("hash alone, first time: code %q, %q", r.code(), first(r.Errors))
	}
	if r, _ = env.postJSON(t, map[string]any{"query": query, "extensions": ext}); r.code() != "" {
		t.Fatalf("hash with query: %+v", r.Errors)
	}
	if r, _ = env.postJSON(t, map[string]any{"query": "{ agents { id } }", "extensions": ext}); r.code() != "BAD_REQUEST" {
		t.Errorf("a hash that is not the query's: code %q", r.code())
	}
	if r, _ = env.postJSON(t, map[string]any{"extensions": ext}); r.code() != "" || !strings.Contains(string(r.Data), "workspace") {
		t.Errorf("hash alone, registered: %s %+v", r.Data, r.Errors)
	}
	// GET, as Apollo's clients send persisted queries to be cached by CDNs.
	extJSON, _ := json.Marshal(ext)
	req, _ := http.NewRequest("GET", env.URL+"/graphql?extensions="+url.QueryEscape(string(extJSON)), nil)
	if r := do(t, req, nil); r.Status != 200 || r.code() != "" {
		t.Errorf("GET with the hash: HTTP %d, %+v", r.Status, r.Errors)
	}
	// A document refused (too large, invalid) is not kept.
	refused := "{ workspace { " + strings.Repeat("id ", 600) + "} }"
	refusedExt := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha256Hex(refused)}}
	if r, _ = env.postJSON(t, map[string]any{"query": refused, "extensions": refusedExt}); r.code() != "QUERY_TOO_LARGE" {
		t.Errorf("registering a refused document: code %q", r.code())
	}
	if r, _ = env.postJSON(t, map[string]any{"extensions": refusedExt}); r.code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Errorf("a refused document was kept: code %q", r.code())
	}
	// Another replica on the same Redis knows the registration.
	other := newTestEnvWith(t, emulator.Options{}, "REDIS_URL", redisURL)
	if r, _ := other.postJSON(t, map[string]any{"extensions": ext}); r.code() != "" {
		t.Errorf("second server: %+v", r.Errors)
	}
}

// TestPersistedOperationsOnly runs trusted documents only.
func TestPersistedOperationsOnly(t *testing.T) {
	trusted := `query Workspace { workspace { id } }`
	file := filepath.Join(t.TempDir(), "persisted-documents.json")
	manifest, _ := json.Marshal(map[string]any{
		"format": "apollo-persisted-query-manifest", "version": 1,
		"operations": []map[string]any{{"id": sha256Hex(trusted), "name": "Workspace", "type": "query", "body": trusted}},
	})
	if err := os.WriteFile(file, manifest, 0o600); err != nil {
		t.Fatal(err)
	}
	env := newTestEnvWith(t, emulator.Options{}, "PERSISTED_OPERATIONS_ONLY", "true", "PERSISTED_OPERATIONS_FILE", file)
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha256Hex(trusted)}}
	for _, c := range []struct {
		name string
		body map[string]any
		code string
	}{
		{"trusted hash", map[string]any{"extensions": ext}, ""},
		{"trusted text", map[string]any{"query": trusted}, ""},
		{"other text", map[string]any{"query": `{ agents { id } }`}, "PERSISTED_QUERY_NOT_IN_LIST"},
		{"unknown hash", map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha256Hex("x")}}}, "PERSISTED_QUERY_NOT_IN_LIST"},
		{"registering a new document", map[string]any{"query": `{ agents { id } }`, "extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha256Hex(`{ agents { id } }`)}}}, "PERSISTED_QUERY_NOT_IN_LIST"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, _ := env.postJSON(t, c.body)
			if r.code() != c.code {
				t.Errorf("code %q, want %q (%+v)", r.code(), c.code, r.Errors)
			}
		})
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestWorkStopsWhenTheClientLeaves: a client that gives up takes its work
// with it. Intercom takes 5 s to answer; the client leaves after 200 ms; the
// server's call to Intercom is abandoned (recorded with status 0) long
// before Intercom would have answered — through the loader batch and the
// cache's shared fetch, which are both detached from their first caller.
func TestWorkStopsWhenTheClientLeaves(t *testing.T) {
	env := newTestEnv(t)
	ids := []string{env.Intercom.Workspace.Contacts()[0].ID, env.Intercom.Workspace.Contacts()[1].ID}
	env.Intercom.Workspace.SetLatency(5 * time.Second)
	body, _ := json.Marshal(map[string]any{"query": `query($ids: [ID!]!) { contactsByIds(ids: $ids) { id } }`,
		"variables": map[string]any{"ids": ids}})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", env.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("HTTP %d: the request finished although Intercom takes 5 s", resp.StatusCode)
	}
	abandoned := func() float64 { return metrics.Value(env.Metrics.UpstreamCalls, "POST /contacts/search", "0") }
	deadline := time.Now().Add(3 * time.Second) // still well before Intercom's answer
	for abandoned() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if abandoned() == 0 {
		t.Errorf("the Intercom search was still running 3 s after its client left")
	}
}
