package server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// What a caller's unknown token may cost: tests of the bridge and of
// multi-tenant GraphQL against the emulator, counting its /me calls.

func randomToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "random-" + hex.EncodeToString(b)
}

func authBody(token string) string {
	b, _ := json.Marshal(map[string]any{"auth": map[string]any{"token": token}})
	return string(b)
}

// concurrently POSTs each body to url at once, through a client of its own
// (closed afterwards, so that its connections do not count as goroutines),
// and returns the answers in order.
func concurrently(t *testing.T, url string, bodies []string) []bridgeReply {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	out := make([]bridgeReply, len(bodies))
	var wg sync.WaitGroup
	for i, body := range bodies {
		wg.Go(func() {
			resp, err := client.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				t.Errorf("POST %s: %v", url, err)
				return
			}
			defer resp.Body.Close()
			var raw json.RawMessage
			_ = json.NewDecoder(resp.Body).Decode(&raw)
			out[i] = bridgeReply{Status: resp.StatusCode, Header: resp.Header, Body: raw}
		})
	}
	wg.Wait()
	return out
}

// waitForGoroutines waits until at most n goroutines run, and fails the test
// with the count if that does not happen within a generous while.
func waitForGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for runtime.NumGoroutine() > n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got > n {
		t.Errorf("%d goroutines run after the burst, want at most %d", got, n)
	}
}

func TestBridgeRandomTokensAreCheap(t *testing.T) {
	const calls, perMinute = 300, 10 // a burst of 10 (see access.NewLimiter)
	env := newTestEnvWith(t, emulator.Options{}, "NEW_TOKEN_RATE_LIMIT", "10")
	url := env.URL + "/talkdesk/auth_validation"
	baseline := runtime.NumGoroutine()
	ws := env.Intercom.Workspace
	ws.ResetCalls()

	bodies := make([]string, calls)
	for i := range bodies {
		bodies[i] = authBody(randomToken(t))
	}
	statuses := map[int]int{}
	for _, r := range concurrently(t, url, bodies) {
		statuses[r.Status]++
		if r.Status == http.StatusTooManyRequests && r.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if got := statuses[http.StatusUnauthorized] + statuses[http.StatusTooManyRequests]; got != calls {
		t.Errorf("statuses %v, want only 401 and 429", statuses)
	}
	// The burst, plus what the bucket refills while the test runs (a minute
	// would be one burst more).
	if got, most := ws.Calls("GET /me"), 2*perMinute; got > most || got == 0 {
		t.Errorf("%d random tokens made %d /me calls, want 1 to %d", calls, got, most)
	}
	if got := env.Services.registry.Len(); got != 0 {
		t.Errorf("the registry holds %d tenants of rejected tokens, want 0", got)
	}
	// Every tenant shares one pool: nothing is left running per token.
	waitForGoroutines(t, baseline+40)

	// A rejected token is refused from memory.
	rejected := authBody(randomToken(t))
	ws.ResetCalls()
	for range 3 {
		if r := bridgePost(t, url, rejected); r.Status != http.StatusUnauthorized && r.Status != http.StatusTooManyRequests {
			t.Errorf("rejected token: HTTP %d %s", r.Status, r.Body)
		}
	}
	if got := ws.Calls("GET /me"); got > 1 {
		t.Errorf("one rejected token asked three times made %d /me calls, want at most 1", got)
	}
}

func TestBridgeFirstRequestsWithOneTokenShareOneValidation(t *testing.T) {
	env := newTestEnv(t)
	ws := env.Intercom.Workspace
	ws.ResetCalls()
	bodies := make([]string, 50)
	for i := range bodies {
		bodies[i] = authBody(testToken)
	}
	for _, r := range concurrently(t, env.URL+"/talkdesk/agent_sync", bodies) {
		if r.Status != http.StatusOK {
			t.Errorf("agent_sync: HTTP %d %s", r.Status, r.Body)
		}
	}
	if got, want := ws.Calls("GET /me"), 1; got != want {
		t.Errorf("50 first requests with one token: %d /me calls, want %d", got, want)
	}
	if got, want := env.Services.registry.Len(), 1; got != want {
		t.Errorf("the registry holds %d tenants, want %d", got, want)
	}
	// Activation asks Intercom again, once.
	ws.ResetCalls()
	if r := bridgePost(t, env.URL+"/talkdesk/auth_validation", authBody(testToken)); r.Status != http.StatusNoContent {
		t.Errorf("auth_validation: HTTP %d %s", r.Status, r.Body)
	}
	if got, want := ws.Calls("GET /me"), 1; got != want {
		t.Errorf("auth_validation of a known token: %d /me calls, want %d", got, want)
	}
}

func TestMultiTenantNewTokensAreRateLimited(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "MULTI_TENANT", "true", "NEW_TOKEN_RATE_LIMIT", "1")
	const q = `{ workspace { id } }`
	var last gqlResponse
	for range 11 { // the burst is 10
		last = env.post(t, q, map[string]string{"X-Intercom-Token": randomToken(t)})
	}
	if got, want := last.Status, http.StatusTooManyRequests; got != want || last.code() != "RATE_LIMITED" {
		t.Errorf("11th unknown token: HTTP %d code %q, want %d RATE_LIMITED", got, last.code(), want)
	}
	if last.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

func TestTokensWithControlCharactersAre401(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "MULTI_TENANT", "true")
	ws := env.Intercom.Workspace
	for _, c := range []struct {
		name, token string
		graphql     bool
	}{
		{"bridge CR LF", "abc\r\ndef", false},
		{"bridge NUL", "abc\x00def", false},
		{"bridge DEL", "abc\x7fdef", false},
		{"bridge valid token and a line feed", testToken + "\nX-Evil: 1", false},
		{"graphql tab", "abc\tdef", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ws.ResetCalls()
			var status int
			var code string
			if c.graphql {
				r := env.post(t, `{ workspace { id } }`, map[string]string{"X-Intercom-Token": c.token})
				status, code = r.Status, r.code()
			} else {
				r := bridgePost(t, env.URL+"/talkdesk/auth_validation", authBody(c.token))
				var body struct{ Code string }
				r.decode(t, &body)
				status, code = r.Status, body.Code
			}
			if got, want := status, http.StatusUnauthorized; got != want || code != "UNAUTHENTICATED" {
				t.Errorf("HTTP %d code %q, want %d UNAUTHENTICATED", got, code, want)
			}
			if got := ws.TotalCalls(); got != 0 {
				t.Errorf("%d calls reached Intercom, want 0", got)
			}
		})
	}
}

func TestBridgeListsAreCapped(t *testing.T) {
	env := newTestEnv(t)
	ws := env.Intercom.Workspace
	many := func(n int, item func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = item(i)
		}
		return out
	}
	for _, c := range []struct {
		field string
		list  []string
		want  string
	}{
		{"contact_phones", many(3_000, func(i int) string { return fmt.Sprintf("+1415555%04d", i%10000) }),
			"data.contact_phones has 3000 items; at most 20"},
		{"contact_emails", many(21, func(i int) string { return fmt.Sprintf("p%d@example.org", i) }),
			"data.contact_emails has 21 items; at most 20"},
	} {
		t.Run(c.field, func(t *testing.T) {
			// Authenticate first, so that only the lookups would reach Intercom.
			bridgePost(t, env.URL+"/talkdesk/agent_sync", authBody(testToken))
			ws.ResetCalls()
			body, _ := json.Marshal(map[string]any{"auth": testAuth(), "data": map[string]any{c.field: c.list}})
			r := bridgePost(t, env.URL+"/talkdesk/interaction_update", string(body))
			if got, want := r.Status, http.StatusBadRequest; got != want {
				t.Fatalf("HTTP %d %.200s, want %d", got, r.Body, want)
			}
			if got := r.message(t); !strings.Contains(got, c.want) {
				t.Errorf("message %q, want it to say %q", got, c.want)
			}
			if got := ws.TotalCalls(); got != 0 {
				t.Errorf("%d calls reached Intercom, want 0", got)
			}
		})
	}
}

func TestEchoedInputsAreCut(t *testing.T) {
	env := newTestEnv(t)
	huge := strings.Repeat("x", 400<<10)
	for _, c := range []struct {
		name, path string
		meta, auth map[string]any
	}{
		{"meta.offset", "/talkdesk/contact_sync", map[string]any{"offset": huge}, testAuth()},
		{"meta.synchronization_checkpoint", "/talkdesk/contact_sync", map[string]any{"synchronization_checkpoint": huge}, testAuth()},
		{"auth.region", "/talkdesk/auth_validation", nil, map[string]any{"token": testToken, "region": huge}},
	} {
		t.Run(c.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]any{"auth": c.auth, "meta": c.meta})
			r := bridgePost(t, env.URL+c.path, string(body))
			if r.Status < 400 || r.Status >= 500 {
				t.Errorf("HTTP %d, want a client error", r.Status)
			}
			if got := r.message(t); len(got) >= 200 {
				t.Errorf("the message is %d bytes long, want under 200: %.300s", len(got), got)
			}
		})
	}
	t.Run("GraphQL email", func(t *testing.T) {
		r := env.query(t, `query($e: String!) { contactsByEmail(email: $e) { id } }`, map[string]any{"e": huge + "@"}, nil)
		if len(r.Errors) == 0 {
			t.Fatal("no error")
		}
		if got := r.Errors[0].Message; len(got) >= 200 {
			t.Errorf("the message is %d bytes long, want under 200: %.300s", len(got), got)
		}
	})
}

func TestCustomAttributesMustBeAnObject(t *testing.T) {
	env := newTestEnv(t)
	ws := env.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	for _, c := range []struct {
		name, query string
		vars        map[string]any
	}{
		{"createContact inline", `mutation { createContact(input: {email: "a@example.org", customAttributes: [1, 2, 3]}) { created } }`, nil},
		{"createContact variable", createContactMutation, map[string]any{"input": map[string]any{"email": "a@example.org", "customAttributes": []any{1, 2, 3}}}},
		{"updateContact string", `mutation($id: ID!) { updateContact(input: {id: $id, customAttributes: "plan"}) { contact { id } } }`, map[string]any{"id": demo.ID}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ws.ResetCalls()
			r := env.query(t, c.query, c.vars, nil)
			if len(r.Errors) == 0 {
				t.Fatalf("no error: %s", r.Data)
			}
			ext := r.Errors[0].Extensions
			if got, want := ext["code"], "BAD_USER_INPUT"; got != want {
				t.Errorf("code %v, want %s (%s)", got, want, r.Errors[0].Message)
			}
			if got, want := ext["field"], "customAttributes"; got != want {
				t.Errorf("field %v, want %s", got, want)
			}
			if got := ws.TotalCalls(); got != 0 {
				t.Errorf("%d calls reached Intercom, want 0", got)
			}
		})
	}
	t.Run("bridge create_contact", func(t *testing.T) {
		body, _ := json.Marshal(map[string]any{"auth": testAuth(),
			"data": map[string]any{"email": "a@example.org", "custom_attributes": []any{1, 2, 3}}})
		r := bridgePost(t, env.URL+"/talkdesk/actions/create_contact", string(body))
		var got struct{ Code, Message string }
		r.decode(t, &got)
		if r.Status != http.StatusBadRequest || got.Code != "BAD_USER_INPUT" || !strings.Contains(got.Message, "data.custom_attributes") {
			t.Errorf("HTTP %d %s, want 400 BAD_USER_INPUT naming data.custom_attributes", r.Status, r.Body)
		}
	})
}
