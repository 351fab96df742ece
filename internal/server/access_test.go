package server

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// post sends a GraphQL query with extra headers.
func (e *testEnv) post(t *testing.T, query string, headers map[string]string) gqlResponse {
	t.Helper()
	body := `{"query":` + quote(query) + `}`
	req, _ := http.NewRequest("POST", e.URL+"/graphql", bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return do(t, req, nil)
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`).Replace(s) + `"`
}

func TestAPIKeys(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "API_KEYS", "apikey-7c1e-one, apikey-7c1e-two")
	const q = `{ workspace { id } }`
	for _, c := range []struct {
		name    string
		headers map[string]string
		status  int
	}{
		{"no key", nil, 401},
		{"wrong key", map[string]string{"X-API-Key": "apikey-7c1e-three"}, 401},
		{"X-API-Key", map[string]string{"X-API-Key": "apikey-7c1e-two"}, 200},
		{"bearer", map[string]string{"Authorization": "Bearer apikey-7c1e-one"}, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := env.post(t, q, c.headers)
			if r.Status != c.status {
				t.Fatalf("HTTP %d, want %d (%+v)", r.Status, c.status, r.Errors)
			}
			if c.status == 401 && r.code() != "UNAUTHENTICATED" {
				t.Errorf("code %q, want UNAUTHENTICATED", r.code())
			}
		})
	}
	if body := get(t, env.URL+"/healthz"); !strings.Contains(body, "ok") {
		t.Errorf("/healthz needs no key, got %s", body)
	}
	if strings.Contains(env.Logs.String(), "apikey-7c1e-two") {
		t.Error("an API key appears in the logs")
	}
}

func TestCallerRateLimit(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "RATE_LIMIT_PER_MINUTE", "6") // a burst of 10, refilled every 10 s
	var last gqlResponse
	for range 11 {
		last = env.post(t, `{ workspace { id } }`, nil)
	}
	if last.Status != http.StatusTooManyRequests || last.code() != "RATE_LIMITED" || last.Header.Get("Retry-After") == "" {
		t.Errorf("11th request: HTTP %d, code %q, Retry-After %q; want 429 RATE_LIMITED with Retry-After",
			last.Status, last.code(), last.Header.Get("Retry-After"))
	}
}

// A caller's allowance holds for the fleet: what it spent on one replica is
// spent on the other, once the replicas have reported it (every
// RATE_LIMIT_SYNC_INTERVAL), while no request waits for Redis.
func TestCallerRateLimitHoldsForTheFleet(t *testing.T) {
	settings := []string{"REDIS_URL", "redis://" + redistest.Addr(t) + "/0",
		"RATE_LIMIT_PER_MINUTE", "10", "RATE_LIMIT_SYNC_INTERVAL", "20ms"} // a burst of 10, then one request every 6 s
	a := newTestEnvWith(t, emulator.Options{}, settings...)
	b := newTestEnvOn(t, a.Intercom, settings...)
	for i := range 10 {
		if r := a.post(t, `{ workspace { id } }`, nil); r.Status != http.StatusOK {
			t.Fatalf("request %d on A, within the burst: HTTP %d", i+1, r.Status)
		}
	}
	// B's own bucket is full (10); the fleet's is spent. B admits only what
	// comes before its first report, then refuses for seconds.
	admitted, refused := 0, gqlResponse{}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && refused.Status == 0; {
		if r := b.post(t, `{ workspace { id } }`, nil); r.Status == http.StatusOK {
			admitted++
		} else {
			refused = r
		}
		time.Sleep(10 * time.Millisecond)
	}
	if refused.Status != http.StatusTooManyRequests || refused.code() != "RATE_LIMITED" || refused.Header.Get("Retry-After") == "" {
		t.Fatalf("B: HTTP %d, code %q, Retry-After %q after %d admitted; want 429 RATE_LIMITED with Retry-After",
			refused.Status, refused.code(), refused.Header.Get("Retry-After"), admitted)
	}
	if admitted >= 10 {
		t.Errorf("B admitted %d requests of a caller whose allowance was spent on A: its own burst, not the fleet's", admitted)
	}
	if r := b.post(t, `{ workspace { id } }`, nil); r.Status != http.StatusTooManyRequests {
		t.Errorf("after the first refusal B answered HTTP %d, want 429 until the bucket has room (6 s)", r.Status)
	}
}

func TestCORS(t *testing.T) {
	const dashboard = "https://dashboard.example.com"
	env := newTestEnvWith(t, emulator.Options{}, "CORS_ORIGINS", dashboard+"/")
	send := func(method, origin, requestMethod, requestHeaders string) (*http.Response, string) {
		req, _ := http.NewRequest(method, env.URL+"/graphql", nil)
		req.Header.Set("Origin", origin)
		if requestMethod != "" {
			req.Header.Set("Access-Control-Request-Method", requestMethod)
		}
		if requestHeaders != "" {
			req.Header.Set("Access-Control-Request-Headers", requestHeaders)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	t.Run("allowed preflight", func(t *testing.T) {
		r, body := send("OPTIONS", dashboard, "POST", "content-type,x-api-key,x-intercom-token")
		h := r.Header
		if r.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != dashboard || body != "" {
			t.Errorf("HTTP %d, ACAO %q, body %q; want 204 granting %s", r.StatusCode, h.Get("Access-Control-Allow-Origin"), body, dashboard)
		}
		if got := h.Get("Access-Control-Allow-Headers"); got != "content-type,x-api-key,x-intercom-token" {
			t.Errorf("Access-Control-Allow-Headers = %q", got)
		}
		if h.Get("Access-Control-Allow-Methods") != "POST" || h.Get("Access-Control-Max-Age") != "600" {
			t.Errorf("methods %q, max age %q", h.Get("Access-Control-Allow-Methods"), h.Get("Access-Control-Max-Age"))
		}
	})
	refused := []struct{ name, origin, method, headers string }{
		{"other origin", "https://evil.example.com", "POST", "content-type"},
		{"method not allowed", dashboard, "DELETE", ""},
		{"header not allowed", dashboard, "POST", "content-type,x-evil"},
	}
	for _, c := range refused {
		t.Run("refused preflight: "+c.name, func(t *testing.T) {
			r, body := send("OPTIONS", c.origin, c.method, c.headers)
			// Answered here, without a grant: the GraphQL handler never sees it.
			if r.StatusCode != 204 || body != "" {
				t.Errorf("HTTP %d, body %q; want 204 without a body", r.StatusCode, body)
			}
			for _, k := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers"} {
				if v := r.Header.Get(k); v != "" {
					t.Errorf("%s = %q, want none", k, v)
				}
			}
		})
	}
	t.Run("allowed request exposes the request id", func(t *testing.T) {
		r, _ := send("GET", dashboard, "", "")
		if r.Header.Get("Access-Control-Allow-Origin") != dashboard ||
			r.Header.Get("Access-Control-Expose-Headers") != "X-Request-Id, Retry-After" {
			t.Errorf("ACAO %q, expose %q", r.Header.Get("Access-Control-Allow-Origin"), r.Header.Get("Access-Control-Expose-Headers"))
		}
	})
	t.Run("request from another origin gets no grant", func(t *testing.T) {
		if r, _ := send("GET", "https://evil.example.com", "", ""); r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("ACAO %q", r.Header.Get("Access-Control-Allow-Origin"))
		}
	})
}

func TestQueryDepthAndComplexityLimits(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "MAX_QUERY_DEPTH", "4", "MAX_QUERY_COMPLEXITY", "5000",
		"MAX_INTERCOM_CALLS_PER_OPERATION", "1000000") // complexity alone
	deep := `{ contactsByIds(ids: ["x"]) { interactions { nodes { author { name } } } } }`
	if r := env.post(t, deep, map[string]string{"Accept": "application/graphql-response+json"}); r.Status != 400 || r.code() != "QUERY_TOO_COMPLEX" {
		t.Errorf("depth 5: HTTP %d, code %q; want 400 QUERY_TOO_COMPLEX", r.Status, r.code())
	}
	costly := `{ searchContacts(text: "ab", first: 150) { companies { name } interactions(first: 100) { totalCount } } }`
	if r := env.post(t, costly, map[string]string{"Accept": "application/graphql-response+json"}); r.Status != 400 || r.code() != "QUERY_TOO_COMPLEX" {
		t.Errorf("costly query: HTTP %d, code %q; want 400 QUERY_TOO_COMPLEX", r.Status, r.code())
	}
	// Introspection is deep but exempt from the depth limit.
	introspection := `{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }`
	if r := env.post(t, introspection, nil); r.Status != 200 || len(r.Errors) > 0 {
		t.Errorf("introspection: HTTP %d, %+v", r.Status, r.Errors)
	}
}

func TestPlaygroundCanBeTurnedOff(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "PLAYGROUND", "false", "INTROSPECTION", "false")
	resp, err := http.Get(env.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("GET / with the playground off: %d, want 404", resp.StatusCode)
	}
	if r := env.post(t, `{ __schema { queryType { name } } }`, nil); len(r.Errors) == 0 {
		t.Error("introspection answered with INTROSPECTION=false")
	}
}

func TestMultiTenantCallersBringTheirToken(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "MULTI_TENANT", "true")
	const q = `{ workspace { id } }`
	if r := env.post(t, q, nil); r.Status != 401 || r.code() != "UNAUTHENTICATED" {
		t.Errorf("no token: HTTP %d, code %q; want 401 UNAUTHENTICATED", r.Status, r.code())
	}
	if r := env.post(t, q, map[string]string{"X-Intercom-Token": "not-a-token-9d2b"}); r.Status != 401 {
		t.Errorf("rejected token: HTTP %d, want 401", r.Status)
	}
	r := env.post(t, q, map[string]string{"X-Intercom-Token": testToken})
	if r.Status != 200 || !strings.Contains(string(r.Data), env.Intercom.Workspace.App().IDCode) {
		t.Errorf("valid token: HTTP %d, data %s", r.Status, r.Data)
	}
	if strings.Contains(env.Logs.String(), "not-a-token-9d2b") {
		t.Error("a caller's token appears in the logs")
	}
}

func TestRequestDeadline(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "REQUEST_TIMEOUT", "200ms")
	env.Intercom.Workspace.SetLatency(5 * time.Second)
	start := time.Now()
	r := env.post(t, `{ contactsByPhone(phone: "+12025550100") { id } }`, nil)
	if elapsed := time.Since(start); elapsed > 4*time.Second { // the deadline, not Intercom's 5 s, ended it
		t.Errorf("a request with a 200ms deadline took %s", elapsed)
	}
	if r.code() != "UPSTREAM_UNAVAILABLE" {
		t.Errorf("code %q, want UPSTREAM_UNAVAILABLE", r.code())
	}
}
