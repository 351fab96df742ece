package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/talkdesk-intercom/api/internal/config"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// Every close code of graphql-transport-ws, as the protocol says
// (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md), where
// gqlgen alone would close an init timeout with 1002 and replace a
// duplicate subscription without a word; and the stream limits.
func TestWebSocketCloseCodes(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "API_KEYS", "key-1", "STREAM_INIT_TIMEOUT", "1s",
		"STREAM_MAX_MESSAGE_BYTES", "2048")
	demo, _ := env.Intercom.Workspace.DemoCaller()
	const key = "key-1"
	sub := func(id string) wsMsg {
		return wsMsg{Type: "subscribe", ID: id, Payload: mustMarshal(map[string]any{"query": contactChanged, "variables": map[string]any{"id": demo.ID}})}
	}
	cases := []struct {
		name string
		run  func(c *wsClient)
		want int
	}{
		{"4400: a message that is not one", func(c *wsClient) { c.sendRaw([]byte("{not json")) }, 4400},
		{"4400: an unknown type", func(c *wsClient) {
			c.send(wsMsg{Type: "connection_init", Payload: mustMarshal(map[string]any{"apiKey": key})})
			c.read()
			c.send(wsMsg{Type: "next", ID: "1"})
		}, 4400},
		{"4401: subscribe before connection_init", func(c *wsClient) { c.send(sub("1")) }, 4401},
		{"4403: a wrong API key", func(c *wsClient) {
			c.send(wsMsg{Type: "connection_init", Payload: mustMarshal(map[string]any{"apiKey": "wrong"})})
		}, 4403},
		{"4403: no API key", func(c *wsClient) { c.send(wsMsg{Type: "connection_init"}) }, 4403},
		{"4408: no connection_init in time", func(c *wsClient) {}, 4408},
		{"4409: a subscription id in use", func(c *wsClient) {
			c.send(wsMsg{Type: "connection_init", Payload: mustMarshal(map[string]any{"apiKey": key})})
			c.read()
			c.send(sub("1"))
			awaitSubscriptions(t, env, 1)
			c.send(sub("1"))
		}, 4409},
		{"4429: connection_init twice", func(c *wsClient) {
			c.send(wsMsg{Type: "connection_init", Payload: mustMarshal(map[string]any{"apiKey": key})})
			c.read()
			c.send(wsMsg{Type: "connection_init", Payload: mustMarshal(map[string]any{"apiKey": key})})
		}, 4429},
		{"1009: a message over STREAM_MAX_MESSAGE_BYTES", func(c *wsClient) {
			c.send(wsMsg{Type: "connection_init", Payload: mustMarshal(map[string]any{"apiKey": key, "padding": strings.Repeat("x", 4096)})})
		}, 1009},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dialWS(t, env.URL, nil)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			c.t = t
			tc.run(c)
			if got := c.closeCode(); got != tc.want {
				t.Errorf("closed with %d, want %d", got, tc.want)
			}
			awaitSubscriptions(t, env, 0)
		})
	}
}

// The API key and the subscription both pass: the key in connection_init
// (a browser cannot set a WebSocket's headers), or in the upgrade's headers.
func TestWebSocketAuthenticatesAtConnectionInit(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "API_KEYS", "key-1")
	connectWS(t, env.URL, map[string]any{"apiKey": "key-1"})
	c, err := dialWS(t, env.URL, http.Header{"X-Api-Key": {"key-1"}})
	if err != nil {
		t.Fatal(err)
	}
	c.send(wsMsg{Type: "connection_init"})
	if m := c.read(); m.Type != "connection_ack" {
		t.Errorf("with the key in the upgrade's headers: %+v, want connection_ack", m)
	}
}

// Limits: operations per connection (the one too many is refused alone),
// connections per caller (429 before the upgrade).
func TestStreamLimits(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "STREAM_MAX_SUBSCRIPTIONS_PER_CONNECTION", "1",
		"STREAM_MAX_CONNECTIONS_PER_CALLER", "2")
	demo, _ := env.Intercom.Workspace.DemoCaller()
	c := connectWS(t, env.URL, nil)
	c.subscribe("1", contactChanged, map[string]any{"id": demo.ID})
	awaitSubscriptions(t, env, 1)
	c.subscribe("2", contactChanged, map[string]any{"id": demo.ID})
	// Subscription 1 may get an event meanwhile (a refetch, should the
	// loaded machine make the event stream's Redis lag): skip it.
	m := c.read()
	for m.ID == "1" && m.Type == "next" {
		m = c.read()
	}
	var errs []gqlError
	_ = json.Unmarshal(m.Payload, &errs)
	if m.Type != "error" || m.ID != "2" || len(errs) != 1 || errs[0].Extensions["code"] != "RATE_LIMITED" {
		t.Errorf("a second operation on one connection: %+v, want an error RATE_LIMITED for 2", m)
	}

	connectWS(t, env.URL, nil) // the caller's second stream
	third, err := dialWS(t, env.URL, nil)
	if err == nil || third.resp == nil || third.resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a third stream of one caller: %v (%+v), want HTTP 429", err, third.resp)
	}
	resp := post(t, env.URL, `{"query":"subscription { contactChanged(id: \"x\") { kind } }"}`, "text/event-stream")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("an SSE stream past the caller's limit: HTTP %d, want 429", resp.StatusCode)
	}
}

func post(t *testing.T, baseURL, body, accept string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", baseURL+"/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// At shutdown, WebSockets are closed with 1001 (going away: clients
// reconnect elsewhere and resume) and SSE streams end without a complete;
// the server does not wait SHUTDOWN_TIMEOUT for them.
func TestShutdownClosesStreams(t *testing.T) {
	em, err := emulator.Start(emulator.Options{Token: testToken, WorkspaceID: uniqueWorkspaceID()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	env := map[string]string{"INTERCOM_TOKEN": testToken, "INTERCOM_BASE_URL": em.URL, "REDIS_URL": testRedisURL(),
		"REDIS_TIMEOUT": "2s", "SHUTDOWN_TIMEOUT": "30s"}
	cfg, err := config.Load(nil, func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	app, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), suiteLog(t)), nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- app.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String()
	demo, _ := em.Workspace.DemoCaller()
	c := connectWS(t, url, nil)
	c.subscribe("1", contactChanged, map[string]any{"id": demo.ID})
	s := openSSE(t, url, contactChanged, map[string]any{"id": demo.ID}, nil)
	waitFor(t, func() bool { return app.svc.hub.Subscriptions() == 2 }, "2 subscriptions")

	cancel()
	if got := c.closeCode(); got != 1001 {
		t.Errorf("WebSocket closed with %d at shutdown, want 1001", got)
	}
	if ev, ok := s.event(); ok {
		t.Errorf("SSE at shutdown: %+v, want the stream cut without a complete", ev)
	}
	// Shutdown waits for open responses until SHUTDOWN_TIMEOUT, and says
	// so: an SSE stream left open would make it fail.
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
