package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

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
