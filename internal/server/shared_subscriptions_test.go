package server

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/coder/websocket"

	"github.com/talkdesk-intercom/api/internal/events"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// Dashboards of one contact on one replica share the subscription's
// execution: the hub follows the workspace once for all of them, each one
// receives every event, and one that leaves does not end the others'.
// graphql_subscriptions still counts each dashboard.
func TestSubscriptionsOfOneContactShareOneExecution(t *testing.T) {
	env := newTestEnv(t)
	streamWhole(t, env)
	demo, _ := env.Intercom.Workspace.DemoCaller()
	vars := map[string]any{"id": demo.ID}
	clients := []*wsClient{connectWS(t, env.URL, nil), connectWS(t, env.URL, nil), connectWS(t, env.URL, nil)}
	for _, c := range clients {
		c.subscribe("1", contactChanged, vars)
	}
	waitFor(t, func() bool { return subscriptionsGauge(t, env) == 3 }, "3 subscriptions counted")
	if n := env.Services.hub.Subscriptions(); n != 1 {
		t.Errorf("the hub follows %d times for three identical subscriptions, want once", n)
	}

	note := func(body string) {
		env.mustQuery(t, `mutation($id: ID!, $body: String!) { addNote(input: {contactId: $id, body: $body}) { note { id } } }`,
			map[string]any{"id": demo.ID, "body": body}, nil)
	}
	note("First")
	var first []contactEvent
	for i, c := range clients {
		var got struct{ ContactChanged contactEvent }
		c.next("1", &got)
		if ev := got.ContactChanged; ev.Kind != "UPDATED" || ev.Contact == nil || ev.Contact.ID != demo.ID {
			t.Errorf("dashboard %d: %+v (contact %+v), want UPDATED with the contact", i, ev, ev.Contact)
		}
		first = append(first, got.ContactChanged)
	}
	if first[0].Sequence != first[1].Sequence || first[1].Sequence != first[2].Sequence {
		t.Errorf("sequences %s, %s, %s: want one event", first[0].Sequence, first[1].Sequence, first[2].Sequence)
	}

	// The dashboard that started the execution leaves; the others go on.
	clients[0].conn.CloseNow()
	waitFor(t, func() bool { return subscriptionsGauge(t, env) == 2 }, "2 subscriptions counted")
	note("Second")
	for i, c := range clients[1:] {
		var got struct{ ContactChanged contactEvent }
		c.next("1", &got)
		if ev := got.ContactChanged; ev.Kind != "UPDATED" || ev.Contact == nil || ev.Contact.NotesCount != first[0].Contact.NotesCount+1 {
			t.Errorf("dashboard %d after the first left: %+v (contact %+v), want one more note", i+1, ev, ev.Contact)
		}
	}
	// One completes its subscription: it alone is told complete.
	clients[1].send(wsMsg{Type: "complete", ID: "1"})
	waitFor(t, func() bool { return subscriptionsGauge(t, env) == 1 }, "1 subscription counted")
	note("Third")
	var got struct{ ContactChanged contactEvent }
	clients[2].next("1", &got)
	if got.ContactChanged.Kind != "UPDATED" {
		t.Errorf("the last dashboard: %+v, want UPDATED", got.ContactChanged)
	}
	clients[2].conn.CloseNow()
	waitFor(t, func() bool { return env.Services.hub.Subscriptions() == 0 && subscriptionsGauge(t, env) == 0 },
		"the execution to end with its last dashboard")
}

// A subscription that resumes after a sequence replays its own gap: it is
// not given a shared execution's events instead.
func TestAResumingSubscriptionRunsAlone(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "INTERCOM_CLIENT_SECRET", testClientSecret)
	streamWhole(t, env)
	demo, _ := env.Intercom.Workspace.DemoCaller()
	live := connectWS(t, env.URL, nil)
	live.subscribe("1", contactChanged, map[string]any{"id": demo.ID})
	awaitSubscriptions(t, env, 1)
	change := func(name string) string {
		env.Intercom.Workspace.UpdateContact(demo.ID, func(c *emulator.Contact) { c.Name = name })
		notifyContact(t, env, "contact.user.updated", map[string]any{"item": map[string]any{"type": "contact", "id": demo.ID}})
		var got struct{ ContactChanged contactEvent }
		live.next("1", &got)
		return got.ContactChanged.Sequence
	}
	after := change("One")
	change("Two")

	resumed := connectWS(t, env.URL, nil)
	resumed.subscribe("1", contactChanged, map[string]any{"id": demo.ID, "after": after})
	var got struct{ ContactChanged contactEvent }
	resumed.next("1", &got)
	if ev := got.ContactChanged; ev.Refetch || ev.Contact == nil || !events.SeqLess(after, ev.Sequence) {
		t.Errorf("resumed after %s: %+v (contact %+v), want the missed change", after, ev, ev.Contact)
	}
	if n := env.Services.hub.Subscriptions(); n != 2 {
		t.Errorf("the hub follows %d times, want twice (the resumed subscription alone)", n)
	}
}

// The server pings every STREAM_PING_INTERVAL: a client that answers stays
// connected, one that does not is closed (1001: it may reconnect and
// resume).
func TestWebSocketPings(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "STREAM_PING_INTERVAL", "100ms")
	demo, _ := env.Intercom.Workspace.DemoCaller()

	// pings reads c's messages until n pings came (answering them when
	// answer), or the connection closed (its error).
	pings := func(c *wsClient, n int, answer bool) error {
		for seen := 0; seen < n; {
			ctx, cancel := context.WithTimeout(context.Background(), streamPatience)
			_, data, err := c.conn.Read(ctx)
			cancel()
			if err != nil {
				return err
			}
			var m wsMsg
			_ = json.Unmarshal(data, &m)
			if m.Type == "ping" {
				seen++
				if answer {
					c.send(wsMsg{Type: "pong"})
				}
			}
		}
		return nil
	}

	// One that answers stays, its subscription running.
	c := connectWS(t, env.URL, nil)
	c.subscribe("1", contactChanged, map[string]any{"id": demo.ID})
	if err := pings(c, 5, true); err != nil {
		t.Fatalf("a client that answers every ping: %v", err)
	}
	if n := env.Services.hub.Subscriptions(); n != 1 {
		t.Errorf("%d subscriptions after five pings answered, want 1", n)
	}

	// One that never answers is closed.
	silent := connectWS(t, env.URL, nil)
	silent.subscribe("1", contactChanged, map[string]any{"id": demo.ID})
	err := pings(silent, 1000, false)
	if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
		t.Errorf("a client that never answers a ping: %v (code %d), want closed with 1001", err, code)
	}
}

// subscriptionsGauge reads graphql_subscriptions from env's registry.
func subscriptionsGauge(t *testing.T, env *testEnv) int {
	t.Helper()
	families, err := env.Metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "graphql_subscriptions" && len(f.GetMetric()) > 0 {
			return int(f.GetMetric()[0].GetGauge().GetValue())
		}
	}
	t.Fatal("no graphql_subscriptions")
	return 0
}
