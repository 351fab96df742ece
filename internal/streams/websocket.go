package streams

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"

	"github.com/talkdesk-intercom/api/sources"
)

// The close codes of graphql-transport-ws
// (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md), and
// RFC 6455's going away.
const (
	closeBadMessage     = 4400
	closeUnauthorized   = 4401
	closeForbidden      = 4403
	closeInitTimeout    = 4408
	closeDuplicateID    = 4409
	closeTooManyInits   = 4429
	closeGoingAway      = 1001
	closeNormal         = 1000
	protocolTransportWS = "graphql-transport-ws"
)

// wsImplementation is gqlgen's WebSocket implementation (coder/websocket)
// with a guard in front of the transport: gqlgen closes an init timeout with
// 1002 (graphql-ws clients take it as fatal and never retry), replaces a
// subscription whose id is in use without a word, and answers messages it
// cannot read with 1002 too. The guard reads each message first and closes
// with the protocol's code; gqlgen then sees a closed connection.
type wsImplementation struct{ server *Server }

func (i wsImplementation) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	inner, err := transport.CoderWebsocketImplementation{AcceptOptions: coderws.AcceptOptions{
		OriginPatterns: i.server.origins,
	}}.Accept(w, r, opts)
	if err != nil {
		return nil, err
	}
	g := &guardedConn{WebsocketConn: inner, server: i.server, active: map[string]bool{}}
	cfg := i.server.cfg
	// The timers' functions may run at once: they find the timers set.
	g.mu.Lock()
	g.initTimer = time.AfterFunc(cfg.InitTimeout, func() {
		g.mu.Lock()
		inited := g.inited
		g.mu.Unlock()
		if !inited {
			g.closeWith(closeInitTimeout, "Connection initialisation timeout")
		}
	})
	g.lifetime = time.AfterFunc(cfg.MaxLifetime, func() {
		g.closeWith(closeGoingAway, "the stream reached its lifetime (STREAM_MAX_LIFETIME): connect again and resume")
	})
	g.idle = time.AfterFunc(cfg.IdleTimeout, func() {
		g.closeWith(closeNormal, "no subscription for STREAM_IDLE_TIMEOUT")
	})
	if g.Subprotocol() == protocolTransportWS {
		g.ping = time.AfterFunc(cfg.PingInterval, g.pingOrClose)
	}
	g.mu.Unlock()
	if st, ok := r.Context().Value(streamKey{}).(*stream); ok {
		i.server.mu.Lock()
		st.ws = g
		closing := i.server.closing
		i.server.mu.Unlock()
		if closing {
			g.closeWith(closeGoingAway, "the server is shutting down")
		}
	}
	return g, nil
}

// guardedConn checks each client message against graphql-transport-ws
// before gqlgen reads it, and follows which subscriptions are running.
type guardedConn struct {
	transport.WebsocketConn
	server *Server

	initTimer, lifetime, idle *time.Timer
	// ping pings the client every PingInterval (graphql-transport-ws): a
	// timer, not gqlgen's PingPongInterval, whose goroutine each of
	// thousands of dashboards would hold.
	ping *time.Timer

	mu     sync.Mutex
	inited bool // connection_init received
	acked  bool // connection_ack sent
	active map[string]bool
	closed bool
	// pingSent is when the unanswered ping was sent (zero: none is).
	pingSent time.Time
}

var (
	_ transport.WebsocketReadLimiter   = (*guardedConn)(nil)
	_ transport.WebsocketReadDeadliner = (*guardedConn)(nil)
)

func (g *guardedConn) SetReadLimit(limit int64) {
	if l, ok := g.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

func (g *guardedConn) SetReadDeadline(t time.Time) error {
	if d, ok := g.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}

// wsMessage is the envelope of every graphql-transport-ws message.
type wsMessage struct {
	Type    string          `json:"type"`
	ID      *string         `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// NextReader returns the next message the transport may read, having
// closed the connection with the protocol's code when it breaks a rule.
func (g *guardedConn) NextReader() (int, io.Reader, error) {
	for {
		typ, r, err := g.WebsocketConn.NextReader()
		if err != nil {
			return typ, r, err
		}
		if g.Subprotocol() != protocolTransportWS {
			return typ, r, nil // the legacy protocol: gqlgen's own rules
		}
		data, err := io.ReadAll(r) // bounded by the read limit
		if err != nil {
			return typ, nil, err
		}
		pass, code, reason := g.check(data)
		if code != 0 {
			g.closeWith(code, reason)
			return typ, nil, transport.ErrWebsocketClosed
		}
		if pass {
			return typ, bytes.NewReader(data), nil
		}
	}
}

// check applies the protocol's rules to a message: whether the transport
// reads it, or the code to close with.
func (g *guardedConn) check(data []byte) (pass bool, code int, reason string) {
	var m wsMessage
	if json.Unmarshal(data, &m) != nil || m.Type == "" {
		return false, closeBadMessage, "Invalid message received"
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch m.Type {
	case "connection_init":
		if g.inited {
			return false, closeTooManyInits, "Too many initialisation requests"
		}
		if p := bytes.TrimSpace(m.Payload); len(p) > 0 && p[0] != '{' && !bytes.Equal(p, []byte("null")) {
			return false, closeBadMessage, "Invalid message received: the connection_init payload must be an object"
		}
		g.inited = true
		g.initTimer.Stop()
	case "subscribe":
		if !g.acked {
			return false, closeUnauthorized, "Unauthorized"
		}
		if m.ID == nil || *m.ID == "" {
			return false, closeBadMessage, "Invalid message received: a subscribe needs an id"
		}
		id := *m.ID
		if g.active[id] {
			return false, closeDuplicateID, "Subscriber for " + id + " already exists"
		}
		if len(g.active) >= g.server.cfg.MaxSubscriptions {
			// Refused alone: the connection and its other operations go on.
			g.refuseLocked(id, "this connection runs as many operations as one may (STREAM_MAX_SUBSCRIPTIONS_PER_CONNECTION): complete one first")
			return false, 0, ""
		}
		g.active[id] = true
		g.idle.Stop()
	case "complete":
		if m.ID != nil {
			g.endLocked(*m.ID)
		}
	case "pong":
		g.pingSent = time.Time{}
	case "ping":
	default:
		return false, closeBadMessage, "Invalid message received: unexpected type " + strconv.Quote(m.Type)
	}
	return true, 0, ""
}

// pingOrClose pings the client, or closes the connection when the last
// ping has not been answered for twice the interval (the client is gone).
func (g *guardedConn) pingOrClose() {
	interval := g.server.cfg.PingInterval
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	unanswered := !g.pingSent.IsZero() && time.Since(g.pingSent) >= 2*interval
	send := g.pingSent.IsZero()
	if send {
		g.pingSent = time.Now()
	}
	g.ping.Reset(interval)
	g.mu.Unlock()
	if unanswered {
		g.closeWith(closeGoingAway, "no pong within twice STREAM_PING_INTERVAL")
		return
	}
	if send {
		_ = g.WebsocketConn.WriteJSON(wsMessage{Type: "ping"})
	}
}

// refuseLocked answers a subscribe with an error message of its own.
func (g *guardedConn) refuseLocked(id, msg string) {
	_ = g.WebsocketConn.WriteJSON(wsMessage{Type: "error", ID: &id,
		Payload: mustJSON([]map[string]any{{"message": msg, "extensions": map[string]any{"code": sources.ERateLimited}}})})
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// endLocked forgets a finished operation; the idle clock starts when none
// is left.
func (g *guardedConn) endLocked(id string) {
	if !g.active[id] {
		return
	}
	delete(g.active, id)
	if len(g.active) == 0 && !g.closed {
		g.idle.Reset(g.server.cfg.IdleTimeout)
	}
}

// WriteJSON writes what the transport sends, noting the acknowledgement and
// the operations that end (complete, error).
func (g *guardedConn) WriteJSON(v any) error {
	if g.Subprotocol() != protocolTransportWS {
		return g.WebsocketConn.WriteJSON(v)
	}
	typ, id := envelopeOf(v)
	g.mu.Lock()
	switch typ {
	case "connection_ack":
		g.acked = true
	case "complete", "error":
		g.endLocked(id)
	}
	g.mu.Unlock()
	return g.WebsocketConn.WriteJSON(v)
}

// envelopeOf reads the type and id of a message the transport sends: its
// Type and ID fields, without marshalling it twice (one event goes to
// thousands of subscribers); any other value is marshalled to read them.
func envelopeOf(v any) (typ, id string) {
	rv := reflect.Indirect(reflect.ValueOf(v))
	if rv.Kind() == reflect.Struct {
		t, i := rv.FieldByName("Type"), rv.FieldByName("ID")
		if t.IsValid() && t.Kind() == reflect.String && i.IsValid() && i.Kind() == reflect.String {
			return t.String(), i.String()
		}
	}
	data, _ := json.Marshal(v)
	var m struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	_ = json.Unmarshal(data, &m)
	return m.Type, m.ID
}

// WriteClose is the transport's close: the first close (the guard's, or
// shutdown's) wins, and its code is counted.
func (g *guardedConn) WriteClose(code int, msg string) error {
	g.closeWith(code, msg)
	return nil
}

func (g *guardedConn) closeWith(code int, reason string) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	g.closed = true
	g.initTimer.Stop()
	g.lifetime.Stop()
	g.idle.Stop()
	if g.ping != nil {
		g.ping.Stop()
	}
	g.mu.Unlock()
	g.server.metrics.closed.WithLabelValues(strconv.Itoa(code)).Inc()
	if len(reason) > 123 { // a close frame's reason is at most 123 bytes
		reason = reason[:123]
	}
	_ = g.WebsocketConn.WriteClose(code, reason)
}

func (g *guardedConn) Close() error {
	g.closeWith(closeNormal, "")
	return g.WebsocketConn.Close()
}
