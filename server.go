// Command talkdesk-intercom serves the Talkdesk ⇄ Intercom GraphQL API.
//
// Everything is wired here, once, top to bottom: configuration, the Intercom
// source (or the built-in demo workspace), the GraphQL handler and the routes.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/talkdesk-intercom/api/graph"
	"github.com/talkdesk-intercom/api/internal/access"
	"github.com/talkdesk-intercom/api/internal/actions"
	"github.com/talkdesk-intercom/api/internal/budget"
	"github.com/talkdesk-intercom/api/internal/cache"
	"github.com/talkdesk-intercom/api/internal/coalesce"
	"github.com/talkdesk-intercom/api/internal/config"
	"github.com/talkdesk-intercom/api/internal/events"
	"github.com/talkdesk-intercom/api/internal/graphqlhttp"
	"github.com/talkdesk-intercom/api/internal/idempotency"
	"github.com/talkdesk-intercom/api/internal/loaders"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/playground"
	"github.com/talkdesk-intercom/api/internal/talkdesk"
	"github.com/talkdesk-intercom/api/internal/telemetry"
	"github.com/talkdesk-intercom/api/internal/tenants"
	"github.com/talkdesk-intercom/api/internal/web"
	"github.com/talkdesk-intercom/api/internal/webhooks"
	"github.com/talkdesk-intercom/api/resolvers"
	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/intercom"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(exitCode(run(ctx, os.Args[1:], os.Getenv, os.Stdout), os.Stderr))
}

// exitCode reports run's error on stderr (--help has printed the usage on
// stdout and is no error) and returns the process's exit status.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, err)
	return 1
}

// DemoToken is the token of the built-in demo workspace.
const DemoToken = "demo"

// run serves until ctx is cancelled, then shuts down gracefully. Tests call it
// as main does.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(args, getenv, stdout)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stdout)
	shutdownTracing, err := telemetry.Setup(ctx, telemetry.Config{Endpoint: cfg.OTLPEndpoint, TracesEndpoint: cfg.OTLPTracesEndpoint, Protocol: cfg.OTLPProtocol})
	if err != nil {
		return err
	}
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = shutdownTracing(flushCtx) // the last spans, sent before exiting
	}()
	if cfg.Tracing() {
		logger.Info("tracing: sending spans over OTLP", "protocol", cfg.OTLPProtocol, "endpoint", cmp.Or(cfg.OTLPTracesEndpoint, cfg.OTLPEndpoint))
	}
	redis.SetLogger(redisLog{logger}) // go-redis logs reconnect trouble through it

	token, baseURL := cfg.IntercomToken, cfg.IntercomBaseURL
	if regional, _ := intercom.RegionBaseURL(cfg.IntercomRegion); cfg.Demo() && cfg.IntercomBaseURL != regional {
		// The demo workspace has its own URL: say so rather than ignore the setting.
		logger.Warn("INTERCOM_BASE_URL is set but INTERCOM_TOKEN is not: ignoring the base URL and serving the demo workspace",
			"intercom_base_url", redactedURL(cfg.IntercomBaseURL))
	}
	if cfg.Demo() {
		demo, err := emulator.Start(emulator.Options{Token: DemoToken, Phone: true})
		if err != nil {
			return fmt.Errorf("start the demo workspace: %w", err)
		}
		defer demo.Close()
		token, baseURL = DemoToken, demo.URL
		caller, _ := demo.Workspace.DemoCaller()
		logger.Info("no INTERCOM_TOKEN set: serving the built-in demo workspace (seeded sample data, not a real Intercom)",
			"emulator", demo.URL, "contacts", len(demo.Workspace.Contacts()),
			"try_caller", caller.Phone)
	}
	svc, err := newServices(ctx, cfg, token, baseURL, logger)
	if err != nil {
		return err
	}
	defer svc.close()
	if err := svc.checkCredentials(ctx, logger); err != nil {
		return err
	}
	if cfg.CompanyWarmup > 0 && svc.mainCache != nil {
		go warmCompanies(ctx, svc, cfg.CompanyWarmup, logger)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           newHandler(cfg, svc, logger),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String(), "playground", "http://"+displayAddr(ln.Addr())+"/")

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests", "timeout", cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// services are the long-lived dependencies of the handlers, built once.
type services struct {
	cfg     config.Config
	metrics *metrics.Metrics
	store   cache.Store           // shared by every tenant: keys carry the workspace id; nil when caching is off
	redis   redis.UniversalClient // nil without REDIS_URL
	// redisHealth bounds every Redis call by REDIS_TIMEOUT and skips Redis
	// while it is away; nil without REDIS_URL.
	redisHealth *cache.RedisHealth
	fleet       sources.FleetBudget // the fleet's count of Intercom calls: nil without REDIS_URL
	guard       *idempotency.Guard
	// main is the configured workspace (INTERCOM_TOKEN, or the demo).
	main       *tenants.Tenant
	mainClient *intercom.Client
	mainCache  *cache.Source // nil when caching is off
	// registry holds the workspaces whose tokens callers bring.
	registry *tenants.Registry
	// mainBaseURL is the main workspace's API base URL (the emulator's in demo mode).
	mainBaseURL string
	// trusted are the trusted documents of PERSISTED_OPERATIONS_FILE.
	trusted map[string]string
	// upstream sends every tenant's Intercom calls: one pool of connections
	// however many tokens callers bring.
	upstream *http.Client
	// events is the stream of changes shared by every replica (nil without
	// Redis).
	events *events.Bus
	// callers is the allowance of requests per caller (RATE_LIMIT_PER_MINUTE),
	// the fleet's with Redis.
	callers *access.Limiter
	// background lives as long as the services: the event stream's
	// subscription and the limiters' reports run in it until close.
	background context.Context
	stop       context.CancelFunc
}

func newServices(ctx context.Context, cfg config.Config, token, baseURL string, logger *slog.Logger) (*services, error) {
	svc := &services{cfg: cfg, metrics: metrics.New(), mainBaseURL: baseURL, upstream: newUpstreamClient(cfg)}
	svc.background, svc.stop = context.WithCancel(context.WithoutCancel(ctx))
	if cfg.PersistedFile != "" {
		var err error
		if svc.trusted, err = graphqlhttp.LoadTrustedDocuments(cfg.PersistedFile); err != nil {
			return nil, fmt.Errorf("PERSISTED_OPERATIONS_FILE: %w", err)
		}
	}
	var idem idempotency.Store = idempotency.NewMemoryStore()
	if cfg.RedisURL != "" {
		var err error
		if svc.redis, err = cache.OpenRedis(cfg.RedisURL, cfg.RedisCluster, cfg.RedisTimeout); err != nil {
			return nil, err
		}
		if cfg.Tracing() {
			// A span per command or pipeline, without the statement: keys
			// hold phone numbers, values contacts and idempotent results.
			if err := redisotel.InstrumentTracing(svc.redis, redisotel.WithDBStatement(false),
				redisotel.WithCommandsFilter(access.IsReport)); err != nil {
				return nil, fmt.Errorf("trace Redis: %w", err)
			}
		}
		// One watch for every Redis user: when a call finds Redis away, all
		// of them skip it until a background probe sees it back.
		svc.redisHealth = cache.NewRedisHealth(svc.redis, cfg.RedisTimeout, func(up bool, err error) {
			if up {
				logger.Info("Redis is back: caching and idempotency records in Redis again")
			} else {
				logger.Warn("Redis is not answering: serving from Intercom and keeping idempotency records in process until it is back", "error", err)
			}
		})
		idem = &idempotency.Tiered{Primary: idempotency.NewRedisStore(svc.redisHealth), Local: idempotency.NewMemoryStore()}
		if cache.FailsOver(cfg.RedisURL, cfg.RedisCluster) {
			idem.(*idempotency.Tiered).ClaimWait = idempotency.ClaimWaitForFailover
		}
		svc.fleet = budget.New(svc.redis, svc.redisHealth)
	}
	svc.guard = idempotency.New(idem, idempotency.Options{})
	if cfg.CacheEnabled {
		svc.store = newCacheStore(ctx, svc, logger)
	}
	svc.callers = access.NewLimiter(cfg.CallerRate)
	newTokens := access.NewLimiter(cfg.NewTokenRate)
	svc.registry = &tenants.Registry{
		Validate: svc.validateToken,
		New: func(token, baseURL string, ws *sources.Workspace) (*tenants.Tenant, error) {
			t, _, _, err := svc.newTenant(token, baseURL, ws.ID)
			return t, err
		},
		AllowNew: func(ctx context.Context) (time.Duration, bool) {
			return newTokens.Allow(access.Caller(ctx))
		},
		Max: cfg.MaxTenants, RejectFor: cfg.TokenRejectTTL, MaxRejected: cfg.TokenRejectMax,
	}
	var err error
	if svc.main, svc.mainClient, svc.mainCache, err = svc.newTenant(token, baseURL, ""); err != nil {
		svc.close()
		return nil, err
	}
	if svc.redis != nil {
		// A caller's allowances hold for the fleet (the replicas of the main
		// workspace), not per replica.
		deployment := svc.mainClient.KnownWorkspace
		svc.callers.Share(svc.background, "requests", deployment, svc.redisHealth, cfg.RateLimitSync)
		newTokens.Share(svc.background, "new-tokens", deployment, svc.redisHealth, cfg.RateLimitSync)
	}
	return svc, nil
}

// newUpstreamClient is the one HTTP client of every Intercom call, with
// bounded connections: callers' tokens must not each open a pool.
func newUpstreamClient(cfg config.Config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxConnsPerHost = cfg.IntercomMaxConns
	t.MaxIdleConnsPerHost = cfg.IntercomMaxConns // batches fan out to one host: keep them warm
	t.MaxIdleConns = 4 * cfg.IntercomMaxConns    // a few regions, or the emulator
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: t}
}

// validateToken asks Intercom's /me about a caller's token with a bare
// client: nothing else is built for a token until Intercom accepts it.
func (s *services) validateToken(ctx context.Context, token, baseURL string) (*sources.Workspace, error) {
	client, err := intercom.New(intercom.Config{Token: token, BaseURL: baseURL, Version: s.cfg.IntercomVersion,
		Timeout: s.cfg.IntercomTimeout, HTTPClient: s.upstream, Observe: s.metrics.ObserveUpstream, Tracing: s.cfg.Tracing()})
	if err != nil {
		return nil, err
	}
	return client.Validate(ctx)
}

// newCacheStore is Redis when configured, else in process.
func newCacheStore(ctx context.Context, svc *services, logger *slog.Logger) cache.Store {
	if svc.redis == nil {
		logger.Info("no REDIS_URL: caching in process")
		return cache.NewMemoryStore(0)
	}
	store := cache.NewRedisStoreWith(svc.redisHealth, svc.metrics)
	pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := store.Ping(pingCtx); err != nil {
		// Said once by the RedisHealth's warning, which this ping set off.
		logger.Debug("Redis is not reachable at start", "error", err)
	} else {
		logger.Info("caching in Redis")
	}
	svc.events = events.New(svc.redis, svc.redisHealth, logger)
	if !svc.cfg.CacheLocal.Enabled {
		return store
	}
	local := cache.NewTwoLevel(store, cache.LocalConfig{MaxEntries: svc.cfg.CacheLocal.MaxEntries,
		MaxBytes: svc.cfg.CacheLocal.MaxBytes, TTL: svc.cfg.CacheLocal.TTL}, svc.metrics)
	// The in-process level opens once this replica hears every other's
	// invalidations.
	go svc.events.Run(svc.background, local)
	return local
}

// newTenant wires one workspace: the Intercom client, the cache in front of
// it, the interactions reader and the actions. It makes no network call.
// workspace is the workspace id when a validation has told it.
func (s *services) newTenant(token, baseURL, workspace string) (*tenants.Tenant, *intercom.Client, *cache.Source, error) {
	cfg := s.cfg
	client, err := intercom.New(intercom.Config{
		Token:       token,
		BaseURL:     baseURL,
		Version:     cfg.IntercomVersion,
		Timeout:     cfg.IntercomTimeout,
		Concurrency: cfg.FetchConcurrency,
		Coalesce:    coalesce.Phones(cfg.CoalesceWindow),
		Observe:     s.metrics.ObserveUpstream,
		HTTPClient:  s.upstream,
		Workspace:   workspace,
		Tracing:     cfg.Tracing(),

		RateLimitPerMinute:        cfg.IntercomRate,
		CallerSharePercent:        cfg.IntercomCallerShare,
		InteractiveReservePercent: cfg.IntercomInteractiveReserve,
		Fleet:                     s.fleet,
		FleetReplicas:             cfg.FleetReplicas,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	history := intercom.NewInteractions(client, intercom.InteractionsConfig{})
	t := &tenants.Tenant{Validator: client, Source: client, History: history}
	var cached *cache.Source
	if cfg.CacheEnabled {
		cached = cache.New(client, cache.Config{
			Store:        s.store,
			Interactions: history,
			Tenant:       t.KnownWorkspaceID, // never makes a read wait for /me first
			TTL: cache.TTLs{
				Contact: cfg.CacheTTL.Contact, Phone: cfg.CacheTTL.Contact, Email: cfg.CacheTTL.Contact,
				Company: cfg.CacheTTL.Company, Negative: cfg.CacheTTL.Negative,
				Interactions: cfg.CacheTTL.Interactions, StaleFor: cfg.CacheTTL.Stale,
			},
			Metrics: s.metrics,
			Events:  s.publisher(),
		})
		t.Source, t.History, t.Invalidator = cached, cached, cached
	}
	t.Actions = actions.New(actions.Config{
		Executor:       client,
		Finder:         t.Source,
		Agents:         t.Source,
		Workspace:      t.Source,
		Invalidator:    t.Invalidator,
		Guard:          s.guard,
		Tenant:         t.WorkspaceID,
		CallLogAs:      cfg.CallLogAs,
		CallTicketType: cfg.CallTicketType,
	})
	return t, client, cached, nil
}

// baseURLFor is the API base URL for a caller's token in a region (us, eu,
// au; empty: the configured region). In demo mode, or when
// INTERCOM_BASE_URL names a host other than the region's, every token goes
// to that one host: the demo workspace or a local emulator.
func (s *services) baseURLFor(region string) (string, error) {
	if regional, _ := intercom.RegionBaseURL(s.cfg.IntercomRegion); s.cfg.Demo() || s.mainBaseURL != regional {
		return s.mainBaseURL, nil
	}
	if region == "" {
		region = s.cfg.IntercomRegion
	}
	u, ok := intercom.RegionBaseURL(region)
	if !ok {
		return "", sources.InputError("region", "%s is not an Intercom region: use us, eu or au", sources.Quote(region))
	}
	return u, nil
}

// checkCredentials validates the token at start: a rejected token is a
// configuration error; an unreachable Intercom is not (readiness reports it).
func (s *services) checkCredentials(ctx context.Context, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ws, err := s.main.Workspace(ctx)
	switch code := sources.ErrorCode(err); {
	case err == nil:
		logger.Info("connected to Intercom", "workspace", ws.ID, "name", ws.Name, "region", ws.Region)
	case code == sources.EUnauthenticated || code == sources.EForbidden:
		return fmt.Errorf("INTERCOM_TOKEN: %s", sources.ErrorMessage(err))
	default:
		logger.Warn("Intercom is not reachable yet; serving anyway", "error", sources.ErrorMessage(err))
	}
	return nil
}

// publisher is where the cache publishes invalidations: nil without Redis
// (one process is its own truth).
func (s *services) publisher() cache.Publisher {
	if s.events == nil {
		return nil
	}
	return s.events
}

func (s *services) close() {
	s.stop()
	if s.redis != nil {
		_ = s.redis.Close()
	}
}

// warmCompanies refills the company cache from Intercom's company list.
func warmCompanies(ctx context.Context, svc *services, every time.Duration, logger *slog.Logger) {
	ctx = sources.WithPriority(ctx, sources.Bulk) // never at the cost of a screen pop
	for {
		n, err := svc.mainCache.WarmCompanies(ctx, svc.mainClient)
		if err != nil {
			logger.Warn("company cache warm-up failed", "error", sources.ErrorMessage(err), "cached", n)
		} else {
			logger.Info("company cache warmed", "companies", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// newHandler holds every route of the server.
func newHandler(cfg config.Config, svc *services, logger *slog.Logger) http.Handler {
	gql := graphqlhttp.NewHandler(
		graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{Default: svc.main, Phones: resolvers.NewPhoneNormalizer(10_000)}}),
		graphqlhttp.Options{Introspection: cfg.Introspection, Metrics: svc.metrics,
			Limits: graphqlhttp.Limits{
				MaxTokens: cfg.MaxQueryTokens, MaxFields: cfg.MaxQueryFields, MaxAliases: cfg.MaxQueryAliases,
				MaxDirectives: cfg.MaxQueryDirectives, MaxNesting: cfg.MaxQueryNesting, MaxNameLength: cfg.MaxQueryNameLength,
				MaxVariableValues: cfg.MaxVariableValues,
				MaxDepth:          cfg.MaxQueryDepth, MaxComplexity: cfg.MaxComplexity,
				MaxIntercomCalls: cfg.MaxIntercomCallsPerOperation, MaxActions: cfg.MaxActionsPerRequest,
				MaxIntrospection: cfg.MaxIntrospectionFields, MaxErrors: cfg.MaxErrors,
			},
			Costs:            resolvers.Costs(),
			Tracer:           tracer(cfg),
			PersistedStore:   svc.store,
			TrustedDocuments: svc.trusted, PersistedOnly: cfg.PersistedOnly,
		},
	)
	keys := access.NewKeys(cfg.APIKeys)
	loaderCfg := loaders.Config{Wait: cfg.LoaderWait, Waits: loaders.NewWaits(cfg.LoaderMinWait, cfg.LoaderWait),
		MaxBatch: cfg.LoaderMaxBatch, Disabled: !cfg.LoadersEnabled, Metrics: svc.metrics}
	mux := http.NewServeMux()
	mux.Handle("/graphql", web.Chain(gql, svc.withTenant, withStaleMarker, loaders.Middleware(loaderCfg)))
	if cfg.Playground {
		mux.Handle("GET /{$}", playground.Handler("Talkdesk ⇄ Intercom", "/graphql"))
		mux.Handle("GET "+playground.AssetsPath, playground.Assets())
	}
	mux.Handle("GET /healthz", web.Handle(func(w http.ResponseWriter, r *http.Request) error {
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return nil
	}))
	mux.Handle("GET /readyz", web.Handle(newReadiness(svc.main.Source, svc.store, svc.mainClient.BreakerOpen).serve))
	mux.Handle("GET /metrics", svc.metrics.Handler())
	// The Talkdesk bridge: each call brings its Intercom token in auth.
	mux.Handle(talkdesk.Prefix, talkdesk.New(talkdesk.Config{
		Tenants: svc.registry, BaseURL: svc.baseURLFor, Keys: keys, Loaders: loaderCfg, MaxList: cfg.TalkdeskMaxList,
		PageSize: cfg.TalkdeskPageSize, SearchDelay: cfg.TalkdeskSearchDelay, PublicBaseURL: cfg.PublicBaseURL,
	}))
	// Intercom's webhooks keep the cache coherent with changes made in Intercom.
	mux.Handle("/webhooks/intercom", &webhooks.Handler{Secret: cfg.ClientSecret, Workspace: svc.invalidatorFor, Redis: svc.redisHealth})
	mux.Handle("/", web.Handle(func(w http.ResponseWriter, r *http.Request) error {
		return sources.Errorf(sources.ENotFound, "no such endpoint: %s %s", r.Method, sources.Quote(r.URL.Path))
	}))
	return web.Chain(mux,
		traced(cfg),
		web.WithRequest(logger),
		web.AccessLog,
		web.Recover,
		access.CORS(cfg.CORSOrigins),
		// Probes, metrics and the playground's static page need no key; the
		// bridge checks its key in the body (Talkdesk sends auth fields there).
		access.RequireKey(keys, "/healthz", "/readyz", "/metrics", "/talkdesk/", playground.AssetsPath, "/",
			"/webhooks/intercom"), // signed with the client secret instead
		access.RateLimit(svc.callers),
		access.Deadline(cfg.RequestTimeout),
		web.LimitBody(cfg.MaxBodyBytes),
	)
}

// traced gives each request a server span (otelhttp), continuing a caller's
// trace (W3C traceparent); without tracing it adds nothing. Probes and
// metrics scrapes are not traced: they would drown the requests that matter.
func traced(cfg config.Config) web.Middleware {
	if !cfg.Tracing() {
		return func(next http.Handler) http.Handler { return next }
	}
	return func(next http.Handler) http.Handler {
		return otelhttp.NewHandler(next, "http",
			otelhttp.WithFilter(func(r *http.Request) bool {
				switch r.URL.Path {
				case "/healthz", "/readyz", "/metrics":
					return false
				}
				return true
			}),
			// Paths name routes here (ids travel in bodies and variables).
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + routeOf(r.URL.Path) }))
	}
}

// routeOf is the span name's route: one of the server's routes, never an
// arbitrary path (a span name must not grow with what callers send).
func routeOf(path string) string {
	switch {
	case path == "/" || path == "/graphql" || path == "/webhooks/intercom":
		return path
	case strings.HasPrefix(path, playground.AssetsPath):
		return playground.AssetsPath
	case strings.HasPrefix(path, talkdesk.Prefix+"actions/") && path != talkdesk.Prefix+"actions.json":
		return talkdesk.Prefix + "actions/{name}"
	case slices.Contains(bridgeRoutes, strings.TrimPrefix(path, talkdesk.Prefix)):
		return path
	case strings.HasPrefix(path, talkdesk.Prefix):
		return talkdesk.Prefix + "other"
	}
	return "other"
}

var bridgeRoutes = []string{"auth_validation", "contact_sync", "interaction_update", "agent_sync", "integration.json", "actions.json", "logo.svg"}

// tracer is the GraphQL tracer when tracing is on.
func tracer(cfg config.Config) graphql.HandlerExtension {
	if !cfg.Tracing() {
		return nil
	}
	return telemetry.GraphQLTracer{}
}

// invalidatorFor finds the cache of the workspace a webhook is about: the
// main one, or one whose token a caller brought.
func (s *services) invalidatorFor(ctx context.Context, appID string) sources.Invalidator {
	if id, err := s.main.WorkspaceID(ctx); err == nil && id == appID {
		return s.main.Invalidator
	}
	if t := s.registry.ByWorkspace(appID); t != nil {
		return t.Invalidator
	}
	return nil
}

// withTenant puts the workspace a request works on into its context: the
// configured one, or in multi-tenant mode the one whose Intercom token the
// caller sends (X-Intercom-Token, X-Intercom-Region), validated once
// through /me and remembered by a hash of the token.
func (s *services) withTenant(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := s.main
		if s.cfg.MultiTenant {
			token := r.Header.Get("X-Intercom-Token")
			if token == "" {
				access.Reject(w, r, sources.Errorf(sources.EUnauthenticated,
					"this server is multi-tenant: send your Intercom access token as X-Intercom-Token"))
				return
			}
			baseURL, err := s.baseURLFor(r.Header.Get("X-Intercom-Region"))
			if err == nil {
				t, err = s.registry.ForToken(r.Context(), token, baseURL)
			}
			if err != nil {
				access.Reject(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(tenants.With(r.Context(), t)))
	})
}

func withStaleMarker(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, _ := cache.WithStaleMarker(r.Context())
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// redisLog routes go-redis's own messages into the structured log, at debug
// level: with Redis away it says "failed to dial" on every try, and the
// service's own watch (cache.RedisHealth) says it once, and when it returns.
type redisLog struct{ logger *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.logger.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}

func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil || host == "::" || host == "0.0.0.0" || host == "" {
		return "localhost:" + port
	}
	return net.JoinHostPort(host, port)
}

// redactedURL hides a password a URL may carry, for a log line.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}
