package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/webhooks"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// staleAnswer is a GraphQL answer with the extensions a stale answer
// carries.
type staleAnswer struct {
	Data struct {
		ContactsByPhone []struct{ ID, Name string }
	} `json:"data"`
	Errors     []gqlError `json:"errors"`
	Extensions struct {
		Stale           bool     `json:"stale"`
		StaleAgeSeconds *float64 `json:"staleAgeSeconds"`
	} `json:"extensions"`
}

func (e *testEnv) lookupCaller(t *testing.T, phone string) staleAnswer {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": `query($p: String!) { contactsByPhone(phone: $p) { id name } }`,
		"variables": map[string]any{"p": phone}})
	resp, err := http.Post(e.URL+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out staleAnswer
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("HTTP %d, not a GraphQL answer: %v", resp.StatusCode, err)
	}
	return out
}

func (e *testEnv) notify(t *testing.T, id, topic string, item map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"type": "notification_event", "id": id, "topic": topic,
		"app_id": e.Intercom.Workspace.App().IDCode, "data": map[string]any{"item": item}})
	if status := deliver(t, e, body, webhooks.Sign(testClientSecret, body)); status != http.StatusOK {
		t.Fatalf("%s: HTTP %d, want 200", topic, status)
	}
}

// Stale beats nothing: a webhook says the caller changed, then Intercom
// fails; the caller lookup still answers with the last-known card, flagged
// stale with its age. Once the contact is deleted, nothing is served.
func TestWebhookInvalidatedCallerIsServedStaleWhileIntercomFails(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "INTERCOM_CLIENT_SECRET", testClientSecret)
	ws := env.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	const phone = emulator.DemoCallerFormattedPhone
	if got := env.lookupCaller(t, phone); len(got.Data.ContactsByPhone) != 1 || got.Extensions.Stale {
		t.Fatalf("warm-up lookup: %+v", got)
	}
	item := map[string]any{"type": "contact", "id": demo.ID, "phone": phone, "email": demo.Email}
	env.notify(t, "notif_stale_1", "contact.user.updated", item)

	ws.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: 503})
	t.Cleanup(func() { ws.SetFaults(emulator.Faults{}) })
	got := env.lookupCaller(t, phone)
	if len(got.Errors) > 0 || len(got.Data.ContactsByPhone) != 1 || got.Data.ContactsByPhone[0].ID != demo.ID {
		t.Fatalf("lookup with Intercom failing after the webhook: %+v; want the last-known card", got)
	}
	if !got.Extensions.Stale || got.Extensions.StaleAgeSeconds == nil || *got.Extensions.StaleAgeSeconds < 0 ||
		*got.Extensions.StaleAgeSeconds > 60 {
		t.Errorf("extensions %+v; want stale with staleAgeSeconds (since the webhook)", got.Extensions)
	}
	if n := metrics.Value(env.Metrics.StaleAnswers, "graphql"); n != 1 {
		t.Errorf("%v stale answers counted, want 1", n)
	}
	if n := metrics.Value(env.Metrics.CacheInvalidations, "phone", "marked_stale"); n != 1 {
		t.Errorf("%v caller lookups marked stale, want 1", n)
	}

	env.notify(t, "notif_stale_2", "contact.deleted", item)
	if got := env.lookupCaller(t, phone); len(got.Data.ContactsByPhone) != 0 || got.Extensions.Stale || len(got.Errors) == 0 {
		t.Errorf("lookup of a deleted contact's number with Intercom failing: %+v; want an error, nothing stale", got)
	}
}
