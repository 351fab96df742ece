package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/internal/webhooks"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

const testClientSecret = "client-secret-5e8a"

func deliver(t *testing.T, env *testEnv, body []byte, signature string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", env.URL+"/webhooks/intercom", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature", signature)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A change made in Intercom reaches the next query at once: the webhook
// drops the cached contact.
func TestWebhookInvalidatesTheCache(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "INTERCOM_CLIENT_SECRET", testClientSecret)
	ws := env.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	const q = `query($id: ID!) { contact(id: $id) { name } }`
	env.mustQuery(t, q, map[string]any{"id": demo.ID}, nil) // cached now
	ws.UpdateContact(demo.ID, func(c *emulator.Contact) { c.Name = "Maria Renamed" })

	body, _ := json.Marshal(map[string]any{
		"type": "notification_event", "id": "notif_1", "topic": "contact.user.updated",
		"app_id": ws.App().IDCode, "data": map[string]any{"item": map[string]any{"type": "contact", "id": demo.ID}},
	})
	if status := deliver(t, env, body, "sha1=0000"); status != http.StatusUnauthorized {
		t.Errorf("bad signature: %d, want 401", status)
	}
	var before struct{ Contact struct{ Name string } }
	env.mustQuery(t, q, map[string]any{"id": demo.ID}, &before)
	if before.Contact.Name == "Maria Renamed" {
		t.Fatal("the change showed before the webhook: the test does not exercise the cache")
	}
	if status := deliver(t, env, body, webhooks.Sign(testClientSecret, body)); status != http.StatusOK {
		t.Fatalf("signed delivery: %d, want 200", status)
	}
	var after struct{ Contact struct{ Name string } }
	env.mustQuery(t, q, map[string]any{"id": demo.ID}, &after)
	if after.Contact.Name != "Maria Renamed" {
		t.Errorf("after the webhook, name = %q, want the change", after.Contact.Name)
	}
	// Intercom retries deliveries: the same notification is accepted again.
	if status := deliver(t, env, body, webhooks.Sign(testClientSecret, body)); status != http.StatusOK {
		t.Errorf("repeated delivery: %d, want 200", status)
	}
	if status := deliver(t, env, []byte("{not json"), webhooks.Sign(testClientSecret, []byte("{not json"))); status != http.StatusBadRequest {
		t.Errorf("signed garbage: %d, want 400", status)
	}
}

func TestWebhooksNeedASecret(t *testing.T) {
	env := newTestEnv(t)
	body := []byte(`{"type":"notification_event","id":"n","topic":"contact.user.updated"}`)
	if status := deliver(t, env, body, webhooks.Sign("anything", body)); status != http.StatusServiceUnavailable {
		t.Errorf("without INTERCOM_CLIENT_SECRET: %d, want 503", status)
	}
}

// Every refusal of a delivery is a coded error answer.
func TestWebhookErrorAnswers(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "INTERCOM_CLIENT_SECRET", testClientSecret, "MAX_BODY_BYTES", "2048")
	off := newTestEnv(t) // no INTERCOM_CLIENT_SECRET
	notification := []byte(`{"type":"notification_event","id":"n1","topic":"ping","data":{"item":{}}}`)
	big := bytes.Repeat([]byte("x"), 4096)
	tests := []struct {
		name, method, url, signature string
		body                         []byte
		wantStatus                   int
		wantCode                     string
	}{
		{"GET", "GET", env.URL, "", nil, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
		{"no secret configured", "POST", off.URL, webhooks.Sign("x", notification), notification, http.StatusServiceUnavailable, "UNAVAILABLE"},
		{"wrong signature", "POST", env.URL, webhooks.Sign("other-secret", notification), notification, http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"no signature", "POST", env.URL, "", notification, http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"signed, not a notification", "POST", env.URL, webhooks.Sign(testClientSecret, []byte(`[]`)), []byte(`[]`), http.StatusBadRequest, "BAD_REQUEST"},
		{"over MAX_BODY_BYTES", "POST", env.URL, webhooks.Sign(testClientSecret, big), big, http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE"},
		{"delivered", "POST", env.URL, webhooks.Sign(testClientSecret, notification), notification, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, tt.url+"/webhooks/intercom", bytes.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			if tt.signature != "" {
				req.Header.Set("X-Hub-Signature", tt.signature)
			}
			status, header, body := errorAnswer(t, req)
			if status != tt.wantStatus || body.Code != tt.wantCode || (tt.wantCode != "" && body.Message == "") {
				t.Errorf("HTTP %d %+v, want %d %s with a message", status, body, tt.wantStatus, tt.wantCode)
			}
			if tt.method == "GET" && header.Get("Allow") != "POST" {
				t.Errorf("Allow %q, want POST", header.Get("Allow"))
			}
		})
	}
}

// errorBody is the error answer of every endpoint but /graphql.
type errorBody struct {
	Message   string `json:"message"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
}

// errorAnswer sends req and decodes a JSON answer as an error answer.
func errorAnswer(t *testing.T, req *http.Request) (int, http.Header, errorBody) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", req.Method, req.URL.Path, ct)
	}
	var body errorBody
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s %s: HTTP %d, body is not JSON: %v", req.Method, req.URL.Path, resp.StatusCode, err)
	}
	return resp.StatusCode, resp.Header, body
}

// A webhook names a contact's new phone and email only: the old ones, which
// the cached copy holds, stop finding the contact too, on every replica. A
// deleted contact's lookups are erased from Redis, not kept stale.
func TestAWebhookDropsTheOldPhoneAndEmailToo(t *testing.T) {
	a := newTestEnvWith(t, emulator.Options{}, "INTERCOM_CLIENT_SECRET", testClientSecret)
	b := newTestEnvOn(t, a.Intercom, "INTERCOM_CLIENT_SECRET", testClientSecret)
	ws := a.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	const byPhone = `query($p: String!) { contactsByPhone(phone: $p) { id } }`
	const byEmail = `query($e: String!) { contactsByEmail(email: $e) { id } }`
	found := func(env *testEnv, q, key, value string) int {
		var data map[string][]struct{ ID string }
		env.mustQuery(t, q, map[string]any{key: value}, &data)
		for _, list := range data {
			return len(list)
		}
		return 0
	}
	for _, env := range []*testEnv{a, b} { // cached on both replicas
		if found(env, byPhone, "p", emulator.DemoCallerFormattedPhone) != 1 || found(env, byEmail, "e", demo.Email) != 1 {
			t.Fatal("the demo caller is not found by her phone and email")
		}
		env.mustQuery(t, `query($id: ID!) { contact(id: $id) { id } }`, map[string]any{"id": demo.ID}, nil)
	}
	ws.UpdateContact(demo.ID, func(c *emulator.Contact) {
		c.Phone, c.FormattedPhone, c.Email = "+14155550199", "+14155550199", "maria.new@example.com"
	})
	notify := func(topic string, item map[string]any) {
		body, _ := json.Marshal(map[string]any{"type": "notification_event", "id": "notif-" + topic, "topic": topic,
			"app_id": ws.App().IDCode, "data": map[string]any{"item": item}})
		if status := deliver(t, a, body, webhooks.Sign(testClientSecret, body)); status != http.StatusOK {
			t.Fatalf("%s: HTTP %d", topic, status)
		}
	}
	notify("contact.user.updated", map[string]any{"type": "contact", "id": demo.ID, "phone": "+14155550199", "email": "maria.new@example.com"})
	for name, env := range map[string]*testEnv{"a": a, "b": b} {
		waitFor(t, func() bool {
			return found(env, byPhone, "p", emulator.DemoCallerFormattedPhone) == 0 && found(env, byEmail, "e", demo.Email) == 0
		}, "%s: the old phone and email to stop finding the contact", name)
	}

	// Deleted: what was cached about the contact is erased, not kept stale.
	for _, env := range []*testEnv{a, b} {
		found(env, byPhone, "p", "+14155550199")
		found(env, byEmail, "e", "maria.new@example.com")
		env.mustQuery(t, `query($id: ID!) { contact(id: $id) { id } }`, map[string]any{"id": demo.ID}, nil)
		env.mustQuery(t, historyQuery, map[string]any{"id": demo.ID}, nil)
	}
	ws.DeleteContact(demo.ID)
	notify("contact.deleted", map[string]any{"type": "contact", "id": demo.ID})
	rc := redistest.Client(t, redistest.Addr(t))
	tenant := ws.App().IDCode
	for _, key := range []string{
		redis.CacheKey(tenant, "contact", demo.ID),
		redis.CacheKey(tenant, "interactions", demo.ID),
		redis.CacheKey(tenant, "phone", "+14155550199"),
		redis.CacheKey(tenant, "email", "maria.new@example.com"),
	} {
		if n := rc.Exists(context.Background(), key).Val(); n != 0 {
			t.Errorf("%s is still in Redis after contact.deleted", key)
		}
	}
	waitFor(t, func() bool { return found(b, byPhone, "p", "+14155550199") == 0 }, "b: the deleted contact's phone finds nobody")
}
