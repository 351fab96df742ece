package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// Callers that give up before a slow Intercom answers, by hanging up or by
// their own deadline (REQUEST_TIMEOUT), are not Intercom's failures: the
// breaker stays closed and the next lookup is served.
func TestHangUpsLeaveTheBreakerClosed(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "REQUEST_TIMEOUT", "100ms")
	env.Intercom.Workspace.SetLatency(300 * time.Millisecond)
	impatient := &http.Client{Timeout: 50 * time.Millisecond}
	for i := range 12 {
		b, _ := json.Marshal(map[string]any{"query": `query($q: String!) { searchContacts(text: $q) { id } }`,
			"variables": map[string]any{"q": fmt.Sprintf("hangup%d", i)}})
		client := http.DefaultClient // waits for the server's deadline
		if i%2 == 0 {
			client = impatient // hangs up first
		}
		if resp, err := client.Post(env.URL+"/graphql", "application/json", bytes.NewReader(b)); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(body), "errors") {
				t.Fatalf("search %d answered within its deadline against a 300 ms Intercom: %s", i, body)
			}
		}
	}
	time.Sleep(400 * time.Millisecond) // the abandoned calls end
	env.Intercom.Workspace.SetLatency(0)
	if _, open := env.Services.mainClient.BreakerOpen(); open {
		t.Fatal("callers that gave up opened the breaker")
	}
	r := env.query(t, `query($p: String!) { contactsByPhone(phone: $p) { id } }`, map[string]any{"p": "+12025550199"}, nil)
	if r.Status != 200 || len(r.Errors) > 0 {
		t.Errorf("lookup after the hang-ups: HTTP %d %+v", r.Status, r.Errors)
	}
}

// An open breaker makes /readyz say so.
func TestReadinessReportsAnOpenBreaker(t *testing.T) {
	// The breaker opens on a share of failed calls once enough have ended.
	env := newTestEnvWith(t, emulator.Options{}, "INTERCOM_BREAKER_MIN_CALLS", "6")
	env.Intercom.Workspace.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: 503})
	for i := range 6 {
		env.query(t, `query($p: String!) { contactsByPhone(phone: $p) { id } }`, map[string]any{"p": "+1202555020" + string(rune('0'+i))}, nil)
	}
	if _, open := env.Services.mainClient.BreakerOpen(); !open {
		t.Fatal("six failing lookups did not open the breaker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, env.URL+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "circuit breaker open") {
		t.Errorf("readyz with the breaker open: %d %s", resp.StatusCode, body)
	}
}

// Tenants share one transport and hold no goroutine of their own: however
// many come and go, the process keeps at most the shared pool's connections.
func TestTenantsLeaveNothingBehind(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "MAX_TENANTS", "5", "INTERCOM_MAX_CONNS", "4")
	before := runtime.NumGoroutine()
	for i := range 200 {
		tn, _, _, err := env.Services.newTenant(fmt.Sprintf("token-%d", i), env.Intercom.URL, "ws")
		if err != nil {
			t.Fatal(err)
		}
		tn.Source.ListAgents(context.Background()) // 401: a call all the same
	}
	runtime.GC()
	time.Sleep(100 * time.Millisecond)
	// Each pooled connection has a reader and a writer goroutine.
	if after := runtime.NumGoroutine(); after > before+2*4+4 {
		t.Errorf("%d goroutines after 200 tenants came and went, %d before: something per tenant stayed", after, before)
	}
}

// A caller lookup against an Intercom slower than INTERCOM_TIMEOUT, before
// the workspace is known, costs one timeout: the lookup does not wait for
// /me first (the cache's namespace) and then for its own search.
func TestSlowIntercomCostsOneTimeout(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{Latency: 1200 * time.Millisecond}, "INTERCOM_TIMEOUT", "1s")
	start := time.Now()
	r := env.query(t, `query($p: String!) { contactsByPhone(phone: $p) { id } }`, map[string]any{"p": "+12025550177"}, nil)
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("lookup took %s with INTERCOM_TIMEOUT=1s, want about one timeout (%+v)", d, r.Errors)
	}
	if r.code() != "UPSTREAM_UNAVAILABLE" {
		t.Errorf("code %q, want UPSTREAM_UNAVAILABLE", r.code())
	}
}
