package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/talkdesk-intercom/api/internal/webhooks"
)

// Clients of the streams, as dashboards speak them: graphql-transport-ws
// over a real WebSocket, GraphQL over SSE over a real HTTP response.

// streamPatience bounds each wait for something the server must send, so
// that a broken stream fails the test instead of hanging it; nothing is
// asserted about how long it takes.
const streamPatience = 20 * time.Second

type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	resp *http.Response
	// later are messages of other operations read while waiting for one:
	// a connection's operations send independently of each other.
	later []wsMsg
}

// wsMsg is a graphql-transport-ws message.
type wsMsg struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// dialWS opens a graphql-transport-ws connection to the server, without
// connection_init.
func dialWS(t *testing.T, baseURL string, header http.Header) (*wsClient, error) {
	t.Helper()
	return dialWSWith(t, baseURL, &websocket.DialOptions{HTTPHeader: header})
}

// dialWSFrom is dialWS from the local address ip (127.0.0.0/8 is all
// this machine's): a client of its own address.
func dialWSFrom(t *testing.T, baseURL, ip string) (*wsClient, error) {
	t.Helper()
	return dialWSWith(t, baseURL, &websocket.DialOptions{HTTPClient: clientFrom(t, ip)})
}

func dialWSWith(t *testing.T, baseURL string, opts *websocket.DialOptions) (*wsClient, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), streamPatience)
	defer cancel()
	opts.Subprotocols = []string{"graphql-transport-ws"}
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(baseURL, "http")+"/graphql", opts)
	if err != nil {
		return &wsClient{t: t, resp: resp}, err
	}
	conn.SetReadLimit(16 << 20)
	c := &wsClient{t: t, conn: conn, resp: resp}
	t.Cleanup(func() { _ = conn.CloseNow() })
	return c, nil
}

// connectWS dials and initialises with payload; it fails the test unless
// the server acknowledges.
func connectWS(t *testing.T, baseURL string, payload map[string]any) *wsClient {
	t.Helper()
	c, err := dialWS(t, baseURL, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.send(wsMsg{Type: "connection_init", Payload: mustMarshal(payload)})
	if m := c.read(); m.Type != "connection_ack" {
		t.Fatalf("after connection_init: %+v, want connection_ack", m)
	}
	return c
}

func mustMarshal(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, _ := json.Marshal(v)
	return b
}

func (c *wsClient) send(m wsMsg) {
	c.t.Helper()
	b, _ := json.Marshal(m)
	c.sendRaw(b)
}

func (c *wsClient) sendRaw(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), streamPatience)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read returns the next message but pings, which it answers.
func (c *wsClient) read() wsMsg {
	c.t.Helper()
	m, err := c.readErr()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

func (c *wsClient) readErr() (wsMsg, error) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), streamPatience)
		_, data, err := c.conn.Read(ctx)
		cancel()
		if err != nil {
			return wsMsg{}, err
		}
		var m wsMsg
		if err := json.Unmarshal(data, &m); err != nil {
			return wsMsg{}, fmt.Errorf("not a message: %q", data)
		}
		if m.Type == "ping" {
			b, _ := json.Marshal(wsMsg{Type: "pong"})
			_ = c.conn.Write(context.Background(), websocket.MessageText, b)
			continue
		}
		return m, nil
	}
}

// closeCode reads until the server closes the connection and returns its
// close code (-1: the connection broke without one).
func (c *wsClient) closeCode() int {
	c.t.Helper()
	for {
		m, err := c.readErr()
		if err != nil {
			if code := websocket.CloseStatus(err); code != -1 {
				return int(code)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				c.t.Fatal("the server did not close the connection")
			}
			return -1
		}
		c.t.Logf("message before the close: %+v", m)
	}
}

func (c *wsClient) subscribe(id, query string, vars map[string]any) {
	c.t.Helper()
	c.send(wsMsg{Type: "subscribe", ID: id, Payload: mustMarshal(map[string]any{"query": query, "variables": vars})})
}

// next is the data of the next event of operation id; it fails the test on
// an error or the operation's end.
func (c *wsClient) next(id string, data any) {
	c.t.Helper()
	for {
		var m wsMsg
		if i := slices.IndexFunc(c.later, func(m wsMsg) bool { return m.ID == id }); i >= 0 {
			m = c.later[i]
			c.later = slices.Delete(c.later, i, i+1)
		} else if m = c.read(); m.ID != id {
			c.later = append(c.later, m)
			continue
		}
		switch m.Type {
		case "next":
			var resp struct {
				Data   json.RawMessage `json:"data"`
				Errors []gqlError      `json:"errors"`
			}
			if err := json.Unmarshal(m.Payload, &resp); err != nil || len(resp.Errors) > 0 {
				c.t.Fatalf("event of %s: %s", id, m.Payload)
			}
			if err := json.Unmarshal(resp.Data, data); err != nil {
				c.t.Fatalf("decode %s: %v", resp.Data, err)
			}
			return
		default:
			c.t.Fatalf("operation %s: %+v, want an event", id, m)
		}
	}
}

// sseStream is a GraphQL over SSE response being read.
type sseStream struct {
	t      *testing.T
	resp   *http.Response
	lines  *bufio.Reader
	cancel context.CancelFunc
}

// sseEvent is one server-sent event.
type sseEvent struct {
	ID, Event string
	Data      json.RawMessage
}

// openSSE POSTs an operation accepting text/event-stream.
func openSSE(t *testing.T, baseURL, query string, vars map[string]any, header http.Header) *sseStream {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", baseURL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("POST (SSE): %v", err)
	}
	s := &sseStream{t: t, resp: resp, lines: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(s.close)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("SSE: HTTP %d, %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return s
}

func (s *sseStream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// event returns the next event (comments skipped); ok false when the
// response ended.
func (s *sseStream) event() (ev sseEvent, ok bool) {
	s.t.Helper()
	type result struct {
		ev  sseEvent
		err error
	}
	done := make(chan result, 1)
	go func() {
		var ev sseEvent
		for {
			line, err := s.lines.ReadString('\n')
			if err != nil {
				done <- result{err: err}
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				if ev.Event != "" || ev.Data != nil {
					done <- result{ev: ev}
					return
				}
			case strings.HasPrefix(line, ":"):
			case strings.HasPrefix(line, "id: "):
				ev.ID = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				ev.Event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.Data = json.RawMessage(strings.TrimPrefix(line, "data: "))
			}
		}
	}()
	select {
	case r := <-done:
		return r.ev, r.err == nil
	case <-time.After(streamPatience):
		s.t.Fatal("no server-sent event arrived")
	}
	return sseEvent{}, false
}

// next decodes the data of the next "next" event.
func (s *sseStream) next(data any) string {
	s.t.Helper()
	ev, ok := s.event()
	if !ok || ev.Event != "next" {
		s.t.Fatalf("SSE: %+v (open %v), want a next event", ev, ok)
	}
	var resp struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(ev.Data, &resp); err != nil || len(resp.Errors) > 0 {
		s.t.Fatalf("SSE event: %s", ev.Data)
	}
	if err := json.Unmarshal(resp.Data, data); err != nil {
		s.t.Fatalf("decode %s: %v", resp.Data, err)
	}
	return ev.ID
}

// notifyContact delivers a signed contact webhook for the env's workspace.
func notifyContact(t *testing.T, env *testEnv, topic string, data map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"type": "notification_event", "id": fmt.Sprintf("notif_%d", time.Now().UnixNano()), "topic": topic,
		"app_id": env.Intercom.Workspace.App().IDCode, "data": data,
	})
	if status := deliver(t, env, body, webhooks.Sign(testClientSecret, body)); status != http.StatusOK {
		t.Fatalf("webhook %s: HTTP %d", topic, status)
	}
}

// contactEvent is what the tests select of a ContactEvent.
type contactEvent struct {
	Sequence string
	Kind     string
	Refetch  bool
	Contact  *struct {
		ID         string
		Name       string
		NotesCount int
	}
	Survivor *struct{ ID string }
}

const contactChanged = `subscription($id: ID!, $after: String) {
  contactChanged(id: $id, after: $after) { sequence kind refetch contact { id name notesCount } survivor { id } }
}`

const interactionsChanged = `subscription($id: ID!, $types: [InteractionType!], $after: String) {
  interactionsChanged(contactId: $id, types: $types, after: $after) { sequence kind refetch interaction { id type description } }
}`

// waitFor polls cond until it holds, failing the test after streamPatience.
func waitFor(t *testing.T, cond func() bool, what string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(streamPatience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited in vain for "+what, args...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
