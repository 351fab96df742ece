package server

import (
	"context"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/talkdesk-intercom/api/graph"
	"github.com/talkdesk-intercom/api/internal/access"
	"github.com/talkdesk-intercom/api/internal/callevents"
	"github.com/talkdesk-intercom/api/internal/graphqlhttp"
	"github.com/talkdesk-intercom/api/internal/identity"
	"github.com/talkdesk-intercom/api/internal/loaders"
	"github.com/talkdesk-intercom/api/internal/playground"
	"github.com/talkdesk-intercom/api/internal/respcache"
	"github.com/talkdesk-intercom/api/internal/streams"
	"github.com/talkdesk-intercom/api/internal/talkdesk"
	"github.com/talkdesk-intercom/api/internal/telemetry"
	"github.com/talkdesk-intercom/api/internal/web"
	"github.com/talkdesk-intercom/api/internal/webhooks"
	"github.com/talkdesk-intercom/api/internal/workspace"
	"github.com/talkdesk-intercom/api/resolvers"
	"github.com/talkdesk-intercom/api/sources"
)

// routes declares every route of the server, in groups. Each group is one
// policy (who may call, how a refusal is worded, whether it is traced),
// applied once to each of its routes: no middleware looks at a path to
// decide. A new kind of connection (WebSocket, server-sent events) is a
// group of its own here.
func (s *Server) routes() http.Handler {
	cfg, svc := s.cfg, s.svc
	mux := http.NewServeMux()
	workspaces := &workspace.Resolver{
		Main: svc.main, Tenants: svc.registry, MultiTenant: cfg.Tenants.MultiTenant, BaseURL: svc.baseURLFor,
		Loaders:  s.loaderConfig(),
		Identity: identity.Rules{Blocked: cfg.Identity.Blocked, SharedLimit: cfg.Identity.SharedLimit},
	}
	if svc.customer != nil {
		workspaces.Customer = svc.customer.peer
	}
	keys := access.NewKeys(cfg.Access.APIKeys)

	// Probes and metrics: no key, never limited (a balancer's checks share
	// one address with its traffic), not traced (they would drown the
	// requests that matter).
	probes := s.group(mux, false, access.ByAddress)
	probes.handle("GET /healthz", web.Handle(func(w http.ResponseWriter, r *http.Request) error {
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return nil
	}))
	probes.handle("GET /readyz", web.Handle(newReadiness(svc.background, s.stopping.Load, svc.redisHealth,
		svc.main.Validator, svc.mainClient.BreakerOpen, svc.metrics).serve))
	probes.handle("GET /metrics", svc.metrics.Handler())

	// Pages: the playground, and the answer to a path no route has.
	limited := access.RateLimit(svc.callers, access.Plain)
	pages := s.group(mux, true, access.ByAddress, limited)
	if cfg.GraphQL.Playground {
		pages.handle("GET /{$}", playground.Handler("Talkdesk ⇄ Intercom", "/graphql"))
		pages.handle("GET "+playground.AssetsPath, playground.Assets())
	}
	pages.handle("/", web.Handle(func(w http.ResponseWriter, r *http.Request) error {
		return sources.Errorf(sources.ENotFound, "no such endpoint: %s %s", r.Method, sources.Quote(r.URL.Path))
	}))

	// GraphQL: API keys, and the workspace of the request (the configured
	// one, or the caller's token in multi-tenant mode).
	gql := s.graphql(keys, workspaces)
	api := s.group(mux, true, access.RequireKey(keys, svc.failures, graphqlhttp.Refuse), access.RateLimit(svc.callers, graphqlhttp.Refuse))
	queries := api.wrap(workspaces.Middleware(graphqlhttp.Refuse)(s.answersFor(gql)))
	api.handle("GET /admin/call-events", workspaces.Middleware(access.Plain)(svc.calls.StatusHandler()))

	// Streams on the same path (package streams): subscriptions over
	// WebSocket and SSE, @defer over multipart/mixed and SSE. Not bound by
	// REQUEST_TIMEOUT: by their own limits. A WebSocket brings its API key
	// and token in connection_init (browsers cannot set its headers); SSE
	// and multipart in headers, as queries do.
	refuseStream := svc.streams.Middleware(graphqlhttp.Refuse)
	sockets := s.streamGroup(true, streams.Identify(keys), access.RateLimit(svc.callers, graphqlhttp.Refuse), refuseStream, streams.WithHeaders)
	events := s.streamGroup(true, access.RequireKey(keys, svc.failures, graphqlhttp.Refuse), access.RateLimit(svc.callers, graphqlhttp.Refuse), refuseStream)
	websocket, sse := sockets.wrap(gql), events.wrap(workspaces.Middleware(graphqlhttp.Refuse)(gql))
	mux.Handle("/graphql", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case streams.IsWebsocket(r):
			websocket.ServeHTTP(w, r)
		case streams.IsStream(r):
			sse.ServeHTTP(w, r)
		default:
			queries.ServeHTTP(w, r)
		}
	}))

	// The Talkdesk bridge: each call brings its Intercom token (and API key)
	// in its body; the bridge limits each token (not the address, which
	// Talkdesk's accounts share) and counts failed keys per address.
	bridge := s.group(mux, true, access.ByAddress)
	bridgeCfg := cfg.Talkdesk
	bridgeCfg.Workspaces, bridgeCfg.Keys, bridgeCfg.Metrics = workspaces, keys, svc.metrics
	bridgeCfg.Callers, bridgeCfg.Failures = svc.callers, svc.failures
	for _, r := range talkdesk.New(bridgeCfg).Routes() {
		bridge.handle(r.Pattern, r.Handler)
	}

	// Talkdesk's call events: a shared secret (its notifier sends fixed
	// headers, it cannot sign), checked by the handler. Talkdesk sends every
	// account's events from a few addresses, and a refused event is a call
	// missing from Intercom: an event with the secret is never limited for
	// rate (CALL_EVENTS_MAX_BACKLOG bounds what waits), and a wrong secret
	// counts against its address (AUTH_FAILURES_PER_MINUTE), as a badly
	// signed webhook does.
	callEvents := s.group(mux, true, access.ByAddress)
	callEvents.handle("POST "+callevents.Path, svc.calls.Handler(workspaces))

	// Intercom's webhooks, signed with the app's client secret, keep the
	// cache coherent with changes made in Intercom. A signed one is never
	// limited; a badly signed one counts against its address.
	signed := s.group(mux, true, access.ByAddress)
	signed.handle("/webhooks/intercom", &webhooks.Handler{Secret: cfg.Intercom.ClientSecret, Workspace: svc.invalidatorFor, Redis: svc.durableHealth,
		Failures: svc.failures})

	// Before any route: a body framed two ways is refused, and the client
	// is found (through TRUSTED_PROXIES) for every limit that goes by
	// address.
	return web.RefuseAmbiguousFraming(access.ClientAddress(s.proxies)(mux))
}

// group is routes that share one policy: the plumbing every route has
// (request id, access log, panic recovery, CORS), then the group's guards
// (who the caller is, its allowance), then the request's deadline and body
// limit.
type group struct {
	mux        *http.ServeMux
	traced     bool
	middleware []web.Middleware
	server     *Server
	pattern    string // the route a wrapped handler serves (its span's name)
}

func (s *Server) group(mux *http.ServeMux, traced bool, guards ...web.Middleware) group {
	mw := []web.Middleware{web.WithRequest(s.logger), web.AccessLog, web.Recover, access.CORS(s.cfg.HTTP.CORSOrigins)}
	mw = append(mw, guards...)
	mw = append(mw, access.Deadline(s.cfg.HTTP.RequestTimeout), web.LimitBody(s.cfg.HTTP.MaxBodyBytes))
	return group{mux: mux, traced: traced, server: s, middleware: mw, pattern: "/graphql"}
}

// streamGroup is routes of streams: the plumbing and the guards as group's,
// and the body limit, but no request deadline (streams have their own
// limits, package streams).
func (s *Server) streamGroup(traced bool, guards ...web.Middleware) group {
	mw := []web.Middleware{web.WithRequest(s.logger), web.AccessLog, web.Recover, access.CORS(s.cfg.HTTP.CORSOrigins)}
	mw = append(mw, guards...)
	mw = append(mw, web.LimitBody(s.cfg.HTTP.MaxBodyBytes))
	return group{traced: traced, server: s, middleware: mw, pattern: "/graphql"}
}

// handle mounts h at pattern with the group's middleware.
func (g group) handle(pattern string, h http.Handler) {
	g.pattern = pattern
	g.mux.Handle(pattern, g.wrap(h))
}

// wrap is h with the group's middleware. A traced route is a server span
// (otelhttp) named by its method and pattern, continuing a caller's trace
// (W3C traceparent): a span name never grows with what callers send.
func (g group) wrap(h http.Handler) http.Handler {
	h = web.Chain(h, g.middleware...)
	if g.traced && g.server.cfg.Tracing.Enabled() {
		pattern := g.pattern
		h = otelhttp.NewHandler(h, pattern, otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return r.Method + " " + pattern
		}))
	}
	return h
}

// graphql is the GraphQL handler over the resolvers, for queries and
// streams alike.
func (s *Server) graphql(keys *access.Keys, workspaces *workspace.Resolver) http.Handler {
	cfg, svc := s.cfg, s.svc
	var tracer graphql.HandlerExtension
	if cfg.Tracing.Enabled() {
		tracer = telemetry.GraphQLTracer{}
	}
	return graphqlhttp.NewHandler(
		graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{Phones: resolvers.NewPhoneNormalizer(10_000), Live: svc.hub}}),
		graphqlhttp.Options{Introspection: cfg.GraphQL.Introspection, Metrics: svc.metrics,
			Limits:         cfg.GraphQL.Limits,
			Costs:          resolvers.Costs(),
			Tracer:         tracer,
			PersistedStore: svc.persisted, PersistedMaxBytes: cfg.GraphQL.PersistedMaxBytes,
			MaxURLBytes:      cfg.HTTP.MaxBodyBytes,
			TrustedDocuments: svc.trusted, PersistedOnly: cfg.GraphQL.PersistedOnly,
			Budget: svc.budget, InFlight: svc.inflight,
			Streams: svc.streams.Transports(streams.Auth{Keys: keys, Workspaces: workspaces, Failures: svc.failures}.Init),
			Extensions: append(s.graphqlExtensions(), streams.FreshLoaders{Open: func(ctx context.Context) context.Context {
				if w, err := workspace.From(ctx); err == nil {
					ctx, _ = workspaces.Open(ctx, w.Tenant)
				}
				return ctx
			}}, svc.streams.Sharing()),
		},
	)
}

// loaderConfig is how each request's loaders batch: unbatched (a batch of
// one, no wait) when LOADERS_ENABLED=false, the benchmark's naive path.
func (s *Server) loaderConfig() loaders.Config {
	cfg := s.cfg.Loaders
	if !cfg.Enabled {
		naive := loaders.Unbatched(s.svc.metrics)
		naive.Prefetch = resolvers.Prefetch // each its own call, all at once
		return naive
	}
	return loaders.Config{Wait: cfg.Wait, Waits: loaders.NewWaits(cfg.MinWait, cfg.Wait),
		MaxBatch: cfg.MaxBatch, Metrics: s.svc.metrics, Prefetch: resolvers.Prefetch}
}

// graphqlExtensions are the GraphQL handler's optional extensions.
// answersFor puts the response cache in front of plain queries (not
// streams), after the rate limit: a hit is a request too.
func (s *Server) answersFor(gql http.Handler) http.Handler {
	if s.svc.answers == nil {
		return gql
	}
	return s.svc.answers.Middleware(gql)
}

func (s *Server) graphqlExtensions() []graphql.HandlerExtension {
	if s.svc.answers == nil {
		return nil
	}
	return []graphql.HandlerExtension{respcache.Extension{}}
}
