package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/loadtest"
	"github.com/talkdesk-intercom/api/internal/webhooks"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// Limits follow identity (issue 20): the probes are never limited, a webhook
// whose signature verifies is never refused for rate, the bridge is limited
// per token and API keys per key; only failed authentications count against
// an address, and only they are refused for it.

// clientFrom is an HTTP client whose connections come from the loopback
// address ip (Linux routes all of 127.0.0.0/8 to the loopback interface):
// distinct client addresses on one machine, without a proxy.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 4}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

type answer struct {
	Status     int
	RetryAfter string
	Code       string
	Body       string
}

// send makes one request with client and reads the answer's status and
// code (GraphQL's extensions.code or the other endpoints' code).
func send(t *testing.T, client *http.Client, method, url, body string, headers ...string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var coded struct {
		Code   string
		Errors []struct{ Extensions struct{ Code string } }
	}
	_ = json.Unmarshal(raw, &coded)
	a := answer{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Code: coded.Code, Body: string(raw)}
	if len(coded.Errors) > 0 {
		a.Code = coded.Errors[0].Extensions.Code
	}
	return a
}

const typename = `{"query":"{ __typename }"}`

// Wrong API keys beyond AUTH_FAILURES_PER_MINUTE from one address get 429,
// on GraphQL and on the bridge; a valid key from that address is still
// served, another address's wrong key is still a 401, and the bridge still
// answers a token Intercom rejects 401 (Talkdesk's contract).
func TestWrongAPIKeysAreThrottledPerAddress(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "API_KEYS", "apikey-good-4d1f", "AUTH_FAILURES_PER_MINUTE", "5")
	attacker, other := clientFrom(t, "127.0.0.2"), clientFrom(t, "127.0.0.3")
	gql := env.URL + "/graphql"
	for i := range 5 {
		if a := send(t, attacker, "POST", gql, typename, "X-API-Key", fmt.Sprintf("guess-%d", i)); a.Status != http.StatusUnauthorized || a.Code != "UNAUTHENTICATED" {
			t.Fatalf("wrong key %d: HTTP %d %s, want 401 UNAUTHENTICATED", i+1, a.Status, a.Code)
		}
	}
	for _, a := range []answer{
		send(t, attacker, "POST", gql, typename, "X-API-Key", "guess-6"),
		send(t, attacker, "POST", gql, typename), // no key is a failure too
		send(t, attacker, "POST", env.URL+"/talkdesk/agent_sync", `{"auth": {"token": "`+testToken+`", "api_key": "guess-7"}}`),
	} {
		if a.Status != http.StatusTooManyRequests || a.Code != "RATE_LIMITED" || a.RetryAfter == "" || !strings.Contains(a.Body, "AUTH_FAILURES_PER_MINUTE") {
			t.Errorf("failure past the allowance: HTTP %d %s Retry-After %q %s, want 429 RATE_LIMITED naming AUTH_FAILURES_PER_MINUTE", a.Status, a.Code, a.RetryAfter, a.Body)
		}
	}
	// The valid credential of the same address is never refused for its
	// address's failures.
	for i := range 20 {
		if a := send(t, attacker, "POST", gql, typename, "X-API-Key", "apikey-good-4d1f"); a.Status != http.StatusOK {
			t.Fatalf("valid key %d from the failing address: HTTP %d %s, want 200", i+1, a.Status, a.Body)
		}
	}
	if a := send(t, attacker, "POST", env.URL+"/talkdesk/agent_sync", `{"auth": {"token": "`+testToken+`", "api_key": "apikey-good-4d1f"}}`); a.Status != http.StatusOK {
		t.Errorf("bridge with the valid key from the failing address: HTTP %d %s, want 200", a.Status, a.Body)
	}
	// A token Intercom rejects is the contract's 401, however many failures.
	if a := send(t, attacker, "POST", env.URL+"/talkdesk/auth_validation", `{"auth": {"token": "rejected-by-intercom", "api_key": "apikey-good-4d1f"}}`); a.Status != http.StatusUnauthorized {
		t.Errorf("auth_validation of a rejected token: HTTP %d %s, want 401", a.Status, a.Body)
	}
	if a := send(t, other, "POST", gql, typename, "X-API-Key", "typo"); a.Status != http.StatusUnauthorized {
		t.Errorf("another address's first wrong key: HTTP %d, want 401", a.Status)
	}
	if strings.Contains(env.Logs.String(), "apikey-good-4d1f") || strings.Contains(env.Logs.String(), "guess-6") {
		t.Error("an API key appears in the server's logs")
	}
}

// Junk posted to the bridge and badly signed webhooks from one address do
// not take the probes' answers, nor refuse a webhook whose signature
// verifies (Intercom drops what it got 429s for: lost invalidations). The
// badly signed ones count against their address.
func TestProbesAndSignedWebhooksAreNeverLimited(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "INTERCOM_CLIENT_SECRET", testClientSecret,
		"RATE_LIMIT_PER_MINUTE", "60", "AUTH_FAILURES_PER_MINUTE", "5")
	client := clientFrom(t, "127.0.0.4")
	for i := range 40 {
		send(t, client, "POST", env.URL+"/talkdesk/auth_validation", `{"auth": {"token": "junk-`+strconv.Itoa(i%3)+`"}}`)
	}
	statuses := map[int]int{}
	for range 10 {
		statuses[send(t, client, "POST", env.URL+"/webhooks/intercom", `{"type":"notification_event","id":"x"}`, "X-Hub-Signature", "sha1=00").Status]++
	}
	if statuses[http.StatusUnauthorized] != 5 || statuses[http.StatusTooManyRequests] != 5 {
		t.Errorf("10 badly signed webhooks: %v, want 5 × 401 then 5 × 429", statuses)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		for range 30 {
			if a := send(t, client, "GET", env.URL+path, ""); a.Status != http.StatusOK {
				t.Fatalf("GET %s after the flood: HTTP %d", path, a.Status)
			}
		}
	}
	app := env.Intercom.Workspace.App().IDCode
	demo, _ := env.Intercom.Workspace.DemoCaller()
	for i := range 200 { // over the address's 60 a minute, and 5 failures
		body, _ := json.Marshal(map[string]any{
			"type": "notification_event", "id": fmt.Sprintf("notif_burst_%d", i), "topic": "contact.user.updated",
			"app_id": app, "data": map[string]any{"item": map[string]any{"type": "contact", "id": demo.ID}},
		})
		if a := send(t, client, "POST", env.URL+"/webhooks/intercom", string(body), "X-Hub-Signature", webhooks.Sign(testClientSecret, body)); a.Status != http.StatusOK {
			t.Fatalf("signed webhook %d: HTTP %d %s, want 200", i+1, a.Status, a.Body)
		}
	}
}

// The finding, on default settings: junk posted to
// /talkdesk/auth_validation from one address made 19 of 20 health checks and
// 18 of 20 valid agent_sync calls from that address answer 429. While junk
// keeps coming (unknown tokens, tokens missing, bodies that are not JSON),
// every probe and every valid bridge call from the same address is served.
// The valid token is one the service already knows, as an installed
// account's is: a token it has never seen is a new token, and those are
// limited per address (NEW_TOKEN_RATE_LIMIT), which the junk spends.
func TestJunkToTheBridgeLeavesProbesAndValidCallsAlone(t *testing.T) {
	env := newTestEnv(t)
	client := clientFrom(t, "127.0.0.7")
	valid := `{"auth": {"token": "` + testToken + `"}}`
	if a := send(t, client, "POST", env.URL+"/talkdesk/auth_validation", valid); a.Status != http.StatusNoContent {
		t.Fatalf("auth_validation of the account's token: HTTP %d %s", a.Status, a.Body)
	}
	junk := []string{`{"auth": {"token": "junk-%d"}}`, `{"auth": {}}`, `not json %d`, `{"auth": {"token": ""}}`}
	var sent, refused atomic.Int64
	var failed atomic.Bool // a junk request could not be sent: the junk has stopped
	stop := loadtest.Run(4, func(w, i int) {
		if failed.Load() {
			runtime.Gosched()
			return
		}
		body := junk[i%len(junk)]
		if strings.Contains(body, "%d") {
			body = fmt.Sprintf(body, w*1_000_000+i)
		}
		// Not send: a failure here is not the test goroutine's to end.
		resp, err := client.Post(env.URL+"/talkdesk/auth_validation", "application/json", strings.NewReader(body))
		if err != nil {
			if failed.CompareAndSwap(false, true) {
				t.Errorf("junk: %v", err)
			}
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			refused.Add(1)
		}
		sent.Add(1)
	})
	defer stop()
	junkSent := func(n int64) {
		for sent.Load() < n {
			if failed.Load() {
				t.Fatalf("the junk stopped after %d requests", sent.Load())
			}
			runtime.Gosched()
		}
	}
	junkSent(200) // the junk is flowing before the checks start
	for i := range 20 {
		for _, path := range []string{"/healthz", "/readyz"} {
			if a := send(t, client, "GET", env.URL+path, ""); a.Status != http.StatusOK {
				t.Errorf("GET %s %d during the junk: HTTP %d %s", path, i+1, a.Status, a.Body)
			}
		}
		if a := send(t, client, "POST", env.URL+"/talkdesk/agent_sync", valid); a.Status != http.StatusOK {
			t.Errorf("agent_sync %d with a valid token during the junk: HTTP %d %s", i+1, a.Status, a.Body)
		}
	}
	junkSent(1000) // about a second of junk under the race detector
	if refused.Load() == 0 {
		t.Errorf("%d junk requests from one address: none refused, want the new tokens and failures past their allowances answered 429", sent.Load())
	}
}

// The bridge's allowance is its token's: Talkdesk calls for all its
// accounts from a few addresses, so one account over its allowance must not
// refuse another's calls, nor GraphQL's from that address.
func TestBridgeIsLimitedByToken(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "RATE_LIMIT_PER_MINUTE", "60")
	client := clientFrom(t, "127.0.0.5")
	sync := env.URL + "/talkdesk/agent_sync"
	limited := 0
	for range 15 { // the burst is 10
		if a := send(t, client, "POST", sync, `{"auth": {"token": "`+testToken+`"}}`); a.Status == http.StatusTooManyRequests {
			limited++
			if !strings.Contains(a.Body, "auth.token") || a.RetryAfter == "" {
				t.Errorf("429 of the bridge: %s (Retry-After %q), want it to name auth.token", a.Body, a.RetryAfter)
			}
		}
	}
	if limited == 0 {
		t.Fatal("15 agent_syncs with one token at 60 a minute: none refused")
	}
	if a := send(t, client, "POST", env.URL+"/graphql", typename); a.Status != http.StatusOK {
		t.Errorf("GraphQL from the same address: HTTP %d %s, want 200", a.Status, a.Body)
	}
	// Another token (an unknown one: it is opened, and Intercom rejects it
	// since this server sends every token to one host) has its own
	// allowance: it gets the contract's 401, not a 429.
	if a := send(t, client, "POST", env.URL+"/talkdesk/auth_validation", `{"auth": {"token": "another-account-7e0b"}}`); a.Status != http.StatusUnauthorized {
		t.Errorf("another token from the same address: HTTP %d %s, want 401", a.Status, a.Body)
	}
}

// From TRUSTED_PROXIES, X-Forwarded-For names the client: its right-most
// untrusted address, so a client cannot pick the address it is counted as
// by writing one itself. From any other peer the header is ignored.
func TestTrustedProxiesNameTheClient(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "RATE_LIMIT_PER_MINUTE", "60", "TRUSTED_PROXIES", "127.0.0.6, 10.0.0.0/8")
	proxy := clientFrom(t, "127.0.0.6")
	gql := env.URL + "/graphql"
	spend := func(client *http.Client, xff string) (refused int) {
		for range 12 { // the burst is 10
			if send(t, client, "POST", gql, typename, "X-Forwarded-For", xff).Status == http.StatusTooManyRequests {
				refused++
			}
		}
		return refused
	}
	if n := spend(proxy, "203.0.113.7"); n == 0 {
		t.Fatal("12 requests of one client through the proxy at 60 a minute: none refused")
	}
	if a := send(t, proxy, "POST", gql, typename, "X-Forwarded-For", "203.0.113.8"); a.Status != http.StatusOK {
		t.Errorf("another client through the proxy: HTTP %d, want 200", a.Status)
	}
	// The client wrote an address of its own; the proxy appended the real
	// one (and an inner proxy of 10/8 its own): the real one counts.
	if a := send(t, proxy, "POST", gql, typename, "X-Forwarded-For", "198.51.100.1, 203.0.113.7, 10.1.2.3"); a.Status != http.StatusTooManyRequests {
		t.Errorf("the limited client with a forged address in front: HTTP %d, want 429", a.Status)
	}
	// From a peer that is not a proxy the header is the client's own text.
	direct := clientFrom(t, "127.0.0.7")
	if n := spend(direct, "198.51.100.77"); n == 0 {
		t.Fatal("12 requests from one peer at 60 a minute: none refused")
	}
	if a := send(t, direct, "POST", gql, typename, "X-Forwarded-For", "198.51.100.78"); a.Status != http.StatusTooManyRequests {
		t.Errorf("a direct peer naming another address: HTTP %d, want 429 (the header is not believed)", a.Status)
	}
}

// Wrong credentials count against the address wherever they are given: a
// WebSocket's connection_init and the call events' secret too, not only a
// plain request's API key.
func TestWrongCredentialsOfStreamsAndCallEventsAreCounted(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "API_KEYS", "apikey-good-4d1f", "AUTH_FAILURES_PER_MINUTE", "4",
		"TALKDESK_EVENTS_SECRET", "events-secret-77aa")
	attacker := clientFrom(t, "127.0.0.4")
	events := env.URL + "/talkdesk/events"
	body := `{"event": "call_started", "call_id": "guess"}`
	for i := range 2 {
		if a := send(t, attacker, "POST", events, body, "Authorization", fmt.Sprintf("Bearer guess-%d", i)); a.Status != http.StatusUnauthorized {
			t.Fatalf("wrong events secret %d: HTTP %d %s, want 401", i+1, a.Status, a.Body)
		}
	}
	// Two wrong keys in connection_init, from the same address.
	for i := range 2 {
		c, err := dialWSFrom(t, env.URL, "127.0.0.4")
		if err != nil {
			t.Fatal(err)
		}
		c.send(wsMsg{Type: "connection_init", Payload: mustMarshal(map[string]any{"apiKey": fmt.Sprintf("guess-ws-%d", i)})})
		if code := c.closeCode(); code != 4403 {
			t.Fatalf("wrong key %d in connection_init: close %d, want 4403", i+1, code)
		}
	}
	// The address has used its four failures: the next is 429 on any route.
	if a := send(t, attacker, "POST", events, body, "Authorization", "Bearer guess-5"); a.Status != http.StatusTooManyRequests || a.Code != "RATE_LIMITED" {
		t.Errorf("a fifth failure: HTTP %d %s, want 429 RATE_LIMITED", a.Status, a.Body)
	}
	if a := send(t, attacker, "POST", events, body, "Authorization", "Bearer events-secret-77aa"); a.Status != http.StatusAccepted {
		t.Errorf("the right secret from the failing address: HTTP %d %s, want 202", a.Status, a.Body)
	}
}
