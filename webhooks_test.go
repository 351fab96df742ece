package main

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
