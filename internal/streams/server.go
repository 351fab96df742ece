package streams

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/talkdesk-intercom/api/internal/access"
	"github.com/talkdesk-intercom/api/internal/events"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/sources"
)

// Server holds a replica's streams: it admits them (limits), serves their
// transports and closes them at shutdown.
type Server struct {
	cfg     Config
	origins []string
	metrics *streamMetrics

	groups *groups // shared subscriptions

	mu        sync.Mutex
	perCaller map[string]int
	total     int
	open      map[*stream]struct{}
	closing   bool
}

// stream is one open connection, as shutdown sees it.
type stream struct {
	cancel context.CancelFunc // ends an SSE or multipart response
	ws     *guardedConn       // closes a WebSocket (nil for the others)
	sse    *sseWriter         // an SSE response's writer (nil for the others)
}

// cutBeforeComplete ends an SSE or multipart response without the final
// complete of a finished operation: the client reconnects and resumes.
func (st *stream) cutBeforeComplete() {
	if st.sse != nil {
		st.sse.cut()
	}
	st.cancel()
}

// New returns the streams of a replica. origins are the browser origins
// allowed to open a WebSocket besides the server's own (CORS_ORIGINS).
func New(cfg Config, origins []string, m *metrics.Metrics) *Server {
	d := Defaults
	for _, f := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&cfg.MaxLifetime, d.MaxLifetime}, {&cfg.IdleTimeout, d.IdleTimeout}, {&cfg.InitTimeout, d.InitTimeout}, {&cfg.PingInterval, d.PingInterval}} {
		if *f.v <= 0 {
			*f.v = f.def
		}
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = d.MaxConnections
	}
	if cfg.MaxPerCaller <= 0 {
		cfg.MaxPerCaller = d.MaxPerCaller
	}
	if cfg.MaxSubscriptions <= 0 {
		cfg.MaxSubscriptions = d.MaxSubscriptions
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = d.MaxMessageBytes
	}
	s := &Server{cfg: cfg, origins: origins, groups: newGroups(), perCaller: map[string]int{}, open: map[*stream]struct{}{}}
	s.metrics = newStreamMetrics(m, s)
	return s
}

// IsStream reports whether r asks for a stream: a WebSocket upgrade, or a
// POST that accepts server-sent events or multipart/mixed (@defer).
func IsStream(r *http.Request) bool {
	if isWebsocket(r) {
		return true
	}
	accept := r.Header.Get("Accept")
	return r.Method == http.MethodPost &&
		(strings.Contains(accept, "text/event-stream") || strings.Contains(accept, "multipart/mixed"))
}

// isWebsocket takes any request that asks to upgrade: gqlgen's WebSocket
// transport supports every non-empty Upgrade, and its library accepts one
// that merely lists websocket. Sent elsewhere, such a request would upgrade
// outside the stream limits.
func isWebsocket(r *http.Request) bool {
	return r.Header.Get("Upgrade") != ""
}

// Transports are gqlgen's stream transports, in the order they are tried;
// init authenticates a WebSocket's connection_init.
func (s *Server) Transports(init transport.WebsocketInitFunc) []graphql.Transport {
	return []graphql.Transport{
		transport.Websocket{
			Implementation: wsImplementation{server: s},
			InitFunc:       init,
			// The init timeout is the guard's (4408, where gqlgen says 1002),
			// and so are the pings (a timer where gqlgen has a goroutine).
			PayloadReadLimit: &s.cfg.MaxMessageBytes,
			CloseFunc: func(context.Context, int) {
				// The guard counts the code it closed with.
			},
		},
		transport.SSE{KeepAlivePingInterval: s.cfg.PingInterval},
		transport.MultipartMixed{},
	}
}

// Observer feeds the metrics of what subscriptions receive.
func (s *Server) Observer() events.Observer {
	return events.Observer{
		Delivered: func(lag time.Duration, replayed bool) {
			s.metrics.delivered.Inc()
			s.metrics.lag.Observe(max(lag, 0).Seconds())
			if replayed {
				s.metrics.replayed.Inc()
			}
		},
		Refetch: func() { s.metrics.refetch.Inc() },
	}
}

// Middleware admits a stream (within the caller's and the replica's
// connection limits: 429 RATE_LIMITED over them), frees it from the
// server's read and write deadlines, bounds it by MaxLifetime instead, and
// registers it for shutdown. refuse answers a refusal.
func (s *Server) Middleware(refuse access.Refuse) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			kind := "sse"
			switch {
			case isWebsocket(r):
				kind = "websocket"
			case strings.Contains(r.Header.Get("Accept"), "multipart/mixed"):
				kind = "multipart"
			}
			caller := access.Caller(r.Context())
			release, err := s.admit(caller)
			if err != nil {
				s.metrics.refused.WithLabelValues(kind).Inc()
				refuse(w, r, err)
				return
			}
			defer release()
			rc := http.NewResponseController(w)
			_ = rc.SetReadDeadline(time.Time{})
			_ = rc.SetWriteDeadline(time.Time{})
			// A WebSocket's lifetime is its guard's (closed with 1001);
			// other streams end with their context.
			ctx, cancel := context.WithCancel(r.Context())
			if kind != "websocket" {
				ctx, cancel = context.WithTimeout(r.Context(), s.cfg.MaxLifetime)
			}
			defer cancel()
			st := &stream{cancel: cancel}
			if !s.register(st) {
				refuse(w, r, sources.Errorf(sources.EUnavailable, "the server is shutting down: connect again"))
				return
			}
			defer s.unregister(st)
			s.metrics.connections.WithLabelValues(kind).Inc()
			defer s.metrics.connections.WithLabelValues(kind).Dec()
			ctx = context.WithValue(ctx, streamKey{}, st)
			if kind == "sse" {
				sw := newSSEWriter(w)
				st.sse = sw
				ctx = context.WithValue(ctx, sequencesKey{}, sw.ids)
				if id := r.Header.Get("Last-Event-ID"); id != "" {
					ctx = context.WithValue(ctx, lastEventIDKey{}, id)
				}
				w = sw
			} else if kind == "multipart" {
				w = flusher{w}
			}
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

type streamKey struct{}

// admit counts a stream of caller against the limits.
func (s *Server) admit(caller string) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.total >= s.cfg.MaxConnections:
		return nil, &sources.Error{Code: sources.ERateLimited, RetryAfterSeconds: 5,
			Message: "this server holds as many streams as it may (STREAM_MAX_CONNECTIONS): connect again later, or to another replica"}
	case s.perCaller[caller] >= s.cfg.MaxPerCaller:
		return nil, &sources.Error{Code: sources.ERateLimited, RetryAfterSeconds: 5,
			Message: "you hold as many streams as one caller may (STREAM_MAX_CONNECTIONS_PER_CALLER): close one first"}
	}
	s.total++
	s.perCaller[caller]++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.total--
		if s.perCaller[caller]--; s.perCaller[caller] <= 0 {
			delete(s.perCaller, caller)
		}
	}, nil
}

func (s *Server) register(st *stream) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.open[st] = struct{}{}
	return true
}

func (s *Server) unregister(st *stream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.open, st)
}

// Shutdown closes every stream: WebSockets with 1001 (going away: clients
// reconnect, to another replica, and resume), SSE and multipart responses
// without a final complete (EventSource and graphql-sse reconnect with
// Last-Event-ID). New streams are refused from then on.
func (s *Server) Shutdown() {
	s.mu.Lock()
	s.closing = true
	open := make([]*stream, 0, len(s.open))
	for st := range s.open {
		open = append(open, st)
	}
	s.mu.Unlock()
	for _, st := range open {
		if st.ws != nil {
			st.ws.closeWith(closeGoingAway, "the server is shutting down")
		} else {
			st.cutBeforeComplete()
		}
	}
}

// FreshLoaders gives each event of a subscription loaders of its own:
// loaders cache what they read, and a subscription lives for hours.
type FreshLoaders struct {
	// Open returns ctx with the workspace it carries opened afresh.
	Open func(ctx context.Context) context.Context
}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = FreshLoaders{}

func (FreshLoaders) ExtensionName() string                   { return "FreshLoaders" }
func (FreshLoaders) Validate(graphql.ExecutableSchema) error { return nil }

func (f FreshLoaders) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if graphql.HasOperationContext(ctx) {
		if op := graphql.GetOperationContext(ctx).Operation; op != nil && op.Operation == ast.Subscription {
			ctx = f.Open(ctx)
		}
	}
	return next(ctx)
}

// streamMetrics are the streams' Prometheus series.
type streamMetrics struct {
	connections *prometheus.GaugeVec   // transport
	refused     *prometheus.CounterVec // transport
	closed      *prometheus.CounterVec // code
	delivered   prometheus.Counter
	replayed    prometheus.Counter
	refetch     prometheus.Counter
	lag         prometheus.Histogram
}

func newStreamMetrics(m *metrics.Metrics, s *Server) *streamMetrics {
	sm := &streamMetrics{
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "graphql_stream_connections",
			Help: "Open streams (WebSocket, SSE, multipart/mixed), by transport."}, []string{"transport"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "graphql_stream_refused_total",
			Help: "Streams refused by the connection limits, by transport."}, []string{"transport"}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "graphql_websocket_closed_total",
			Help: "WebSockets this server closed, by close code."}, []string{"code"}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "graphql_subscription_events_total",
			Help: "Live events handed to subscriptions (one per subscription; once for subscriptions that share an execution)."}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{Name: "graphql_subscription_events_replayed_total",
			Help: "Live events read back from the event log for a subscription that resumed or fell behind."}),
		refetch: prometheus.NewCounter(prometheus.CounterOpts{Name: "graphql_subscription_refetch_total",
			Help: "Refetch events: a subscription's gap could not be replayed."}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "graphql_subscription_delivery_lag_seconds",
			Help:    "Time from a live event's append to its hand-over to a subscription.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 60}}),
	}
	m.Registry.MustRegister(sm.connections, sm.refused, sm.closed, sm.delivered, sm.replayed, sm.refetch, sm.lag)
	return sm
}

// Sharing is the extension that shares the WebSocket subscriptions that
// can be (shared.go); the last of the GraphQL handler's extensions.
func (s *Server) Sharing() Sharing { return Sharing{s.groups} }

// SubscriptionGauge registers the number of running subscriptions: the
// hub's followers, and the subscriptions that share one.
func (s *Server) SubscriptionGauge(m *metrics.Metrics, hub *events.Hub) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "graphql_subscriptions",
		Help: "Subscriptions following live events on this replica."}, func() float64 {
		return float64(hub.Subscriptions() + s.groups.Members())
	}))
}

// IsWebsocket reports whether r asks for a WebSocket.
func IsWebsocket(r *http.Request) bool { return isWebsocket(r) }

// Identify names a WebSocket's caller before connection_init: by the API
// key of its headers when it sends a valid one (clients other than
// browsers can), else by its address. Init authenticates it in any case.
func Identify(keys *access.Keys) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		byAddress := access.ByAddress(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if caller, ok := keys.Identify(access.FromRequest(r)); ok && keys.Enabled() {
				next.ServeHTTP(w, r.WithContext(sources.WithCaller(r.Context(), caller)))
				return
			}
			byAddress.ServeHTTP(w, r)
		})
	}
}
