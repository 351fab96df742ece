package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/access"
	"github.com/talkdesk-intercom/api/internal/actions"
	"github.com/talkdesk-intercom/api/internal/budget"
	"github.com/talkdesk-intercom/api/internal/cache"
	"github.com/talkdesk-intercom/api/internal/callevents"
	"github.com/talkdesk-intercom/api/internal/coalesce"
	"github.com/talkdesk-intercom/api/internal/config"
	"github.com/talkdesk-intercom/api/internal/events"
	"github.com/talkdesk-intercom/api/internal/graphqlhttp"
	"github.com/talkdesk-intercom/api/internal/idempotency"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/respcache"
	"github.com/talkdesk-intercom/api/internal/streams"
	"github.com/talkdesk-intercom/api/internal/tenants"
	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/intercom"
	"github.com/talkdesk-intercom/api/sources/phone"
)

// services are the long-lived dependencies of the handlers, built once.
type services struct {
	cfg     config.Config
	metrics *metrics.Metrics
	store   cache.Store             // shared by every tenant: keys carry the workspace id; nil when caching is off
	redis   goredis.UniversalClient // nil without REDIS_URL
	// redisHealth bounds every Redis call by REDIS_TIMEOUT and skips Redis
	// while it is away; nil without REDIS_URL.
	redisHealth *redis.Health
	// durable is where what must not be lost lives (idempotency records,
	// webhook de-duplication, the call events' queue, states and dead
	// letters): IDEMPOTENCY_REDIS_URL, else the same client as redis; nil
	// without REDIS_URL. The live event log stays with the cache and its
	// channel (docs/replicas.md says why).
	durable       goredis.UniversalClient
	durableHealth *redis.Health
	fleet         sources.FleetBudget // the fleet's count of Intercom calls: nil without REDIS_URL
	guard         *idempotency.Guard
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
	// persisted shares the documents clients register (automatic persisted
	// queries) between replicas: the cache's Redis, bounded in bytes
	// (PERSISTED_QUERIES_REDIS_MAX_BYTES), nil without it. Not the cache's
	// store: registrations must not push cached contacts out of the
	// in-process level.
	persisted graphqlhttp.DocumentStore
	// upstream sends every tenant's Intercom calls: one pool of connections
	// however many tokens callers bring.
	upstream *http.Client
	// events is the stream of changes shared by every replica (nil without
	// Redis).
	events *events.Bus
	// eventLog keeps each workspace's live events (Redis, else in
	// process), and hub hands them to this replica's subscriptions.
	eventLog events.Log
	hub      *events.Hub
	streams  *streams.Server
	// callers is the allowance of requests per caller (RATE_LIMIT_PER_MINUTE),
	// the fleet's with Redis.
	callers *access.Limiter
	// calls applies Talkdesk's call events (POST /talkdesk/events).
	calls *callevents.Service
	// budget is each caller's cost budget (COST_*) and inflight its cap on
	// running operations: this replica's, guarding its CPU and memory.
	budget   *access.Budget
	inflight *access.InFlight
	// failures throttles failed authentications per client address
	// (AUTH_FAILURES_PER_MINUTE), the fleet's with Redis.
	failures *access.Failures
	// customer is the customer's own database (nil when none).
	customer *customerDB
	// answers is the response cache (nil when off).
	answers *respcache.Cache
	// background lives as long as the services: the event stream's
	// subscription and the limiters' reports run in it until close.
	background context.Context
	stop       context.CancelFunc
	logger     *slog.Logger
}

func newServices(ctx context.Context, cfg config.Config, token, baseURL string, logger *slog.Logger) (*services, error) {
	svc := &services{cfg: cfg, metrics: metrics.New(), mainBaseURL: baseURL, upstream: newUpstreamClient(cfg), logger: logger}
	svc.background, svc.stop = context.WithCancel(context.WithoutCancel(ctx))
	if cfg.GraphQL.PersistedFile != "" {
		var err error
		if svc.trusted, err = graphqlhttp.LoadTrustedDocuments(cfg.GraphQL.PersistedFile); err != nil {
			svc.close()
			return nil, fmt.Errorf("PERSISTED_OPERATIONS_FILE: %w", err)
		}
	}
	var idem idempotency.Store = idempotency.NewMemoryStore()
	if cfg.Redis.URL != "" {
		var err error
		if svc.redis, svc.redisHealth, err = svc.openRedis("REDIS_URL", cfg.Redis.URL, cfg.Redis.Cluster, logger); err != nil {
			svc.close()
			return nil, err
		}
		svc.durable, svc.durableHealth = svc.redis, svc.redisHealth
		if cfg.Redis.DurableURL != "" {
			if svc.durable, svc.durableHealth, err = svc.openRedis("IDEMPOTENCY_REDIS_URL", cfg.Redis.DurableURL, false, logger); err != nil {
				svc.close()
				return nil, err
			}
		}
		if err := checkEviction(ctx, svc.durable, cfg, logger); err != nil {
			svc.close()
			return nil, err
		}
		idem = &idempotency.Tiered{Primary: idempotency.NewRedisStore(svc.durableHealth), Local: idempotency.NewMemoryStore()}
		durableURL, durableCluster := cfg.Redis.URL, cfg.Redis.Cluster
		if cfg.Redis.DurableURL != "" {
			durableURL, durableCluster = cfg.Redis.DurableURL, false
		}
		if redis.FailsOver(durableURL, durableCluster) {
			idem.(*idempotency.Tiered).ClaimWait = idempotency.ClaimWaitForFailover
		}
		svc.fleet = budget.New(svc.redis, svc.redisHealth)
	}
	svc.guard = idempotency.New(idem, idempotency.Options{})
	if cfg.Cache.Enabled && cfg.ResponseCache.Enabled {
		// Without Redis there is no stream to wait for: one process hears
		// its own invalidations (publisher).
		var shared *respcache.Shared
		if svc.redis != nil && cfg.ResponseCache.Redis {
			// The cache's Redis, never the durable one: an answer lost
			// costs one execution.
			shared = respcache.NewShared(respcache.SharedConfig{Client: svc.redis, Calls: svc.redisHealth,
				MaxBytes: cfg.ResponseCache.RedisMaxBytes, TTL: cfg.ResponseCache.TTL, Metrics: svc.metrics})
		}
		svc.answers = respcache.New(respcache.Config{MaxBytes: cfg.ResponseCache.MaxBytes, TTL: cfg.ResponseCache.TTL,
			Trusted: svc.redis == nil, Shared: shared, Metrics: svc.metrics})
	}
	svc.streams = streams.New(cfg.Streams, cfg.HTTP.CORSOrigins, svc.metrics)
	var local events.Handler
	if cfg.Cache.Enabled {
		svc.store, local = newCacheStore(ctx, svc, logger)
	}
	if svc.redis != nil {
		svc.persisted = graphqlhttp.NewRedisDocuments(svc.redis, svc.redisHealth, cfg.GraphQL.PersistedRedisMaxBytes, svc.metrics)
	}
	svc.startEvents(local)
	svc.callers = access.NewLimiter(cfg.Access.CallerRate)
	svc.budget = access.NewBudget(cfg.Access.CostMaximum, cfg.Access.CostRestoreRate)
	svc.inflight = access.NewInFlight(cfg.Access.MaxConcurrent)
	svc.failures = access.NewFailures(cfg.Access.AuthFailureRate)
	newTokens := access.NewLimiter(cfg.Access.NewTokenRate)
	svc.registry = &tenants.Registry{
		Validate: svc.validateToken,
		New: func(token, baseURL string, ws *sources.Workspace) (*tenants.Tenant, error) {
			t, _, _, err := svc.newTenant(token, baseURL, ws.ID)
			return t, err
		},
		AllowNew: func(ctx context.Context) (time.Duration, bool) {
			return newTokens.Allow(access.Caller(ctx))
		},
		Max: cfg.Tenants.Max, RejectFor: cfg.Tenants.RejectFor, MaxRejected: cfg.Tenants.MaxRejected,
	}
	var err error
	if svc.main, svc.mainClient, svc.mainCache, err = svc.newTenant(token, baseURL, ""); err != nil {
		svc.close()
		return nil, err
	}
	if svc.customer, err = svc.openCustomerDB(ctx, logger); err != nil {
		svc.close()
		return nil, err
	}
	if svc.redis != nil {
		// A caller's allowances hold for the fleet (the replicas of the main
		// workspace), not per replica.
		deployment := func() string { id, _ := svc.main.ID.Get(); return id }
		svc.callers.Share(svc.background, "requests", deployment, svc.redisHealth, cfg.Access.RateLimitSync)
		newTokens.Share(svc.background, "new-tokens", deployment, svc.redisHealth, cfg.Access.RateLimitSync)
		svc.failures.Share(svc.background, deployment, svc.redisHealth, cfg.Access.RateLimitSync)
	}
	svc.calls = newCallEvents(svc, logger)
	return svc, nil
}

// newCallEvents builds the call events' queues and workers. queueRedis is
// the one place that says which Redis holds the queues and call states:
// the durable one (IDEMPOTENCY_REDIS_URL, else REDIS_URL), which must not
// evict them; nil: in process.
func newCallEvents(svc *services, logger *slog.Logger) *callevents.Service {
	cfg := svc.cfg.CallEvents
	queueRedis := svc.durable
	cfg.Redis, cfg.RedisTimeout = queueRedis, svc.cfg.Redis.Timeout
	cfg.Registerer, cfg.Logger, cfg.Failures = svc.metrics.Registry, logger, svc.failures
	if cfg.Secret == "" && svc.cfg.Demo() {
		// The demo's events come from a curl on this machine: its secret
		// is as public as its token.
		cfg.Secret = DemoToken
		logger.Info("call events: POST /talkdesk/events with Authorization: Bearer demo (set TALKDESK_EVENTS_SECRET to choose another)")
	}
	cfg.OnCallStarted = func(ctx context.Context, workspace string, e callevents.Event) {
		// The screen pop: dashboards waiting on incomingCall hear of the
		// ringing call through the event stream, on every replica.
		ring := sources.CallRinging{CallID: e.CallID, Phone: e.ContactPhone, TalkdeskNumber: e.TalkdeskNumber, AgentEmail: e.AgentEmail}
		if e164, err := phone.Normalize(e.ContactPhone, cfg.DefaultCountry); err == nil {
			ring.Phone = e164 // what the dashboard's lookups take
		}
		if _, err := svc.eventLog.Append(ctx, workspace, sources.Changed{Calls: []sources.CallRinging{ring}}); err != nil {
			logger.Warn("call events: a ringing call could not be announced to dashboards", "error", err)
		}
	}
	calls := callevents.New(cfg)
	if cfg.Secret != "" {
		calls.Start(svc.main)
	}
	return calls
}

// newUpstreamClient is the one HTTP client of every Intercom call, with
// bounded connections: callers' tokens must not each open a pool.
func newUpstreamClient(cfg config.Config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxConnsPerHost = cfg.Intercom.MaxConns
	t.MaxIdleConnsPerHost = cfg.Intercom.MaxConns // batches fan out to one host: keep them warm
	t.MaxIdleConns = 4 * cfg.Intercom.MaxConns    // a few regions, or the emulator
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: t}
}

// validateToken asks Intercom's /me about a caller's token with a bare
// client: nothing else is built for a token until Intercom accepts it.
func (s *services) validateToken(ctx context.Context, token, baseURL string) (*sources.Workspace, error) {
	client, err := intercom.New(intercom.Config{Token: token, BaseURL: baseURL, Version: s.cfg.Intercom.Client.Version,
		Timeout: s.cfg.Intercom.Client.Timeout, HTTPClient: s.upstream, Observe: s.metrics.ObserveUpstream, Tracing: s.cfg.Tracing.Enabled()})
	if err != nil {
		return nil, err
	}
	return client.Validate(ctx)
}

// newCacheStore is Redis when configured, else in process; with its
// in-process level, which listens to the event stream (nil without one).
func newCacheStore(ctx context.Context, svc *services, logger *slog.Logger) (cache.Store, events.Handler) {
	if svc.redis == nil {
		logger.Info("no REDIS_URL: caching in process")
		return cache.NewMemoryStore(svc.cfg.Cache.Local.MaxBytes), nil
	}
	store := cache.NewRedisStoreWith(svc.redisHealth, svc.metrics)
	pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := store.Ping(pingCtx); err != nil {
		// Said once by the redis.Health's warning, which this ping set off.
		logger.Debug("Redis is not reachable at start", "error", err)
	} else {
		logger.Info("caching in Redis")
	}
	if !svc.cfg.Cache.LocalEnabled {
		return store, nil
	}
	local := cache.NewTwoLevel(store, svc.cfg.Cache.Local, svc.metrics)
	// The in-process level opens once this replica hears every other's
	// invalidations (startEvents).
	return local, local
}

// startEvents starts the event stream: with Redis, one subscription for
// this replica hands the cache's invalidations to its in-process level
// (local, nil without one) and live events to its subscriptions; without,
// live events stay in process.
func (svc *services) startEvents(local events.Handler) {
	if svc.redis == nil {
		svc.eventLog, svc.hub = events.NewMemoryLog(svc.cfg.Events, svc.streams.Observer())
		svc.streams.SubscriptionGauge(svc.metrics, svc.hub)
		return
	}
	svc.events = events.New(svc.redis, svc.redisHealth, svc.logger)
	log := events.NewRedisLog(svc.redis, svc.redisHealth, svc.cfg.Events)
	svc.eventLog, svc.hub = log, events.NewHub(log, svc.streams.Observer())
	// Broken until the stream is first whole: a subscription that starts
	// before may miss events, and is told to refetch then.
	svc.hub.Reset(false)
	svc.streams.SubscriptionGauge(svc.metrics, svc.hub)
	cached := local
	if svc.answers != nil {
		cached = svc.answers.After(local) // the entity level first: see After
	}
	go svc.events.Run(svc.background, events.Fan{Cache: cached, Live: svc.hub})
}

// newTenant wires one workspace: the Intercom client, the cache in front of
// it, the interactions reader and the actions. It makes no network call.
// workspace is the workspace id when a validation has told it; each service
// is handed the tenant's one copy of it.
func (s *services) newTenant(token, baseURL, workspace string) (*tenants.Tenant, *intercom.Client, *cache.Source, error) {
	cfg := s.cfg
	id := sources.KnownWorkspaceID(workspace)
	ic := cfg.Intercom.Client // the settings; the rest is this workspace's
	ic.Token, ic.BaseURL, ic.Workspace = token, baseURL, id
	ic.Coalesce = coalesce.Phones(cfg.Intercom.CoalesceWindow)
	ic.Observe, ic.HTTPClient, ic.Fleet, ic.Tracing = s.metrics.ObserveUpstream, s.upstream, s.fleet, cfg.Tracing.Enabled()
	client, err := intercom.New(ic)
	if err != nil {
		return nil, nil, nil, err
	}
	history := intercom.NewInteractions(client, intercom.InteractionsConfig{})
	t := &tenants.Tenant{Validator: client, Source: client, History: history, ID: id}
	var cached *cache.Source
	if cfg.Cache.Enabled {
		cached = cache.New(client, cache.Config{
			Store:        s.store,
			Interactions: history,
			Workspace:    id,
			TTL:          cfg.Cache.TTL,
			Metrics:      s.metrics,
			Events:       s.publisher(),
		})
		t.Source, t.History, t.Invalidator = cached, cached, cached
	}
	// Every change (actions, webhooks) is told to the invalidator: the
	// recorder makes the live events of it.
	t.Invalidator = &events.Recorder{Next: t.Invalidator, Log: s.eventLog, Hub: s.hub,
		Workspace: func(ctx context.Context) (string, error) {
			if id, ok := t.ID.Get(); ok {
				return id, nil
			}
			ws, err := t.Source.Validate(ctx)
			if err != nil {
				return "", err
			}
			return ws.ID, nil
		}}
	ac := cfg.Actions // how calls are logged; the rest is this workspace's
	ac.Executor, ac.Finder, ac.Agents, ac.Workspace = client, t.Source, t.Source, t.Source
	ac.Invalidator, ac.Guard, ac.WorkspaceID = t.Invalidator, s.guard, id
	t.Actions = actions.New(ac)
	return t, client, cached, nil
}

// baseURLFor is the API base URL for a caller's token in a region (us, eu,
// au; empty: the configured region). In demo mode, or when
// INTERCOM_BASE_URL names a host other than the region's, every token goes
// to that one host: the demo workspace or a local emulator.
func (s *services) baseURLFor(region string) (string, error) {
	if regional, _ := intercom.RegionBaseURL(s.cfg.Intercom.Region); s.cfg.Demo() || s.mainBaseURL != regional {
		return s.mainBaseURL, nil
	}
	if region == "" {
		region = s.cfg.Intercom.Region
	}
	u, ok := intercom.RegionBaseURL(region)
	if !ok {
		return "", sources.InputError("region", "%s is not an Intercom region: use us, eu or au", sources.Quote(region))
	}
	return u, nil
}

// publisher is where the cache publishes invalidations: nil without Redis
// (one process is its own truth).
func (s *services) publisher() cache.Publisher {
	var bus cache.Publisher
	if s.events != nil {
		bus = s.events
	}
	if s.answers != nil {
		return s.answers.Publisher(bus) // this replica's answers first, at once
	}
	return bus
}

func (s *services) close() {
	s.stop()
	if s.calls != nil {
		s.calls.Close()
	}
	if s.durable != nil && s.durable != s.redis {
		_ = s.durable.Close()
	}
	s.customer.close()
	if s.redis != nil {
		_ = s.redis.Close()
	}
}

// openRedis opens the Redis of setting (REDIS_URL or IDEMPOTENCY_REDIS_URL),
// traced when tracing is on, with the watch that skips it while it is away.
func (s *services) openRedis(setting, url string, cluster bool, logger *slog.Logger) (goredis.UniversalClient, *redis.Health, error) {
	client, err := redis.Open(url, cluster, s.cfg.Redis.Timeout)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", setting, errors.Unwrap(err))
	}
	if s.cfg.Tracing.Enabled() {
		// A span per command or pipeline, without the statement: keys
		// hold phone numbers, values contacts and idempotent results.
		if err := redisotel.InstrumentTracing(client, redisotel.WithDBStatement(false),
			redisotel.WithCommandsFilter(access.IsReport)); err != nil {
			_ = client.Close()
			return nil, nil, fmt.Errorf("trace Redis (%s): %w", setting, err)
		}
	}
	// One watch for every user of this Redis: when a call finds it away,
	// all of them skip it until a background probe sees it back.
	health := redis.NewHealth(client, s.cfg.Redis.Timeout, func(up bool, err error) {
		if up {
			logger.Info("Redis is back: caching and idempotency records in Redis again", "setting", setting)
		} else {
			logger.Warn("Redis is not answering: serving from Intercom and keeping idempotency records in process until it is back", "setting", setting, "error", err)
		}
	})
	return client, health, nil
}

// checkEviction asks the durable Redis whether it could evict keys under
// memory pressure: an evicted idempotency record lets a retry act twice.
// It refuses to start (REDIS_EVICTION_CHECK=refuse) or warns; a Redis that
// does not answer at start is not held against the service.
func checkEviction(ctx context.Context, client goredis.UniversalClient, cfg config.Config, logger *slog.Logger) error {
	setting := "REDIS_URL"
	if cfg.Redis.DurableURL != "" {
		setting = "IDEMPOTENCY_REDIS_URL"
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	nodes, err := redis.EvictionPolicies(ctx, client)
	if err != nil {
		logger.Warn("could not read the durable Redis's eviction policy; idempotency records are lost if it evicts keys", "setting", setting, "error", err)
		return nil
	}
	var evicting []string
	for _, n := range nodes {
		if n.Evicts() {
			evicting = append(evicting, n.String())
		}
	}
	if len(evicting) == 0 {
		return nil
	}
	msg := fmt.Sprintf("%s: this Redis may evict keys under memory pressure (%s), and an evicted idempotency record lets a retried action run twice: "+
		"set maxmemory-policy noeviction on it, or keep the cache there and point IDEMPOTENCY_REDIS_URL at a Redis that never evicts (docs/replicas.md); "+
		"REDIS_EVICTION_CHECK=warn starts anyway", setting, strings.Join(evicting, "; "))
	if cfg.Redis.EvictionCheck == "warn" {
		logger.Warn(msg)
		return nil
	}
	return errors.New(msg)
}

// warmCompanies refills the company cache from Intercom's company list
// until the services close.
func (svc *services) warmCompanies(every time.Duration, logger *slog.Logger) {
	ctx := sources.WithPriority(svc.background, sources.Bulk) // never at the cost of a screen pop
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

// invalidatorFor finds the cache of the workspace a webhook is about: the
// main one, or one whose token a caller brought.
func (s *services) invalidatorFor(ctx context.Context, appID string) sources.Invalidator {
	t := s.registry.ByWorkspace(appID)
	if id, ok := s.main.ID.Get(); ok && id == appID {
		t = s.main
	}
	if t == nil {
		return nil
	}
	return forgetting{cache: t.Invalidator, calls: s.calls, tenant: t}
}

// forgetting is a workspace's cache invalidation, and the call events'
// erasure of the contacts a change deleted.
type forgetting struct {
	cache  sources.Invalidator // nil without a cache
	calls  *callevents.Service
	tenant *tenants.Tenant
}

func (f forgetting) Invalidate(ctx context.Context, ch sources.Changed) error {
	var err error
	if f.cache != nil {
		err = f.cache.Invalidate(ctx, ch)
	}
	return errors.Join(err, f.calls.Forget(ctx, f.tenant, ch))
}
