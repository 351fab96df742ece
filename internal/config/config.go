// Package config reads the server's settings from flags and the environment.
// Every setting has an environment variable and a flag; a flag wins over the
// variable, which wins over the built-in default. `--help` lists them all.
//
// The table in settings is the one place a setting is written: its names, its
// default, what it means, and how its text becomes a field of Config. --help,
// the table of docs/configuration.md (see Markdown) and validation all come
// from it.
package config

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/agnivade/levenshtein"

	"github.com/talkdesk-intercom/api/internal/actions"
	"github.com/talkdesk-intercom/api/internal/cache"
	"github.com/talkdesk-intercom/api/internal/callevents"
	"github.com/talkdesk-intercom/api/internal/events"
	"github.com/talkdesk-intercom/api/internal/graphqlhttp"
	"github.com/talkdesk-intercom/api/internal/streams"
	"github.com/talkdesk-intercom/api/internal/talkdesk"
	"github.com/talkdesk-intercom/api/internal/telemetry"
	"github.com/talkdesk-intercom/api/sources/intercom"
	"github.com/talkdesk-intercom/api/sources/phone"
)

// Config is the validated configuration of the server, in sections. A
// section that a package owns is that package's own configuration type,
// handed to it whole (the server adds the dependencies it builds).
type Config struct {
	HTTP     HTTP
	Log      Log
	Intercom Intercom
	Redis    Redis
	Cache    Cache
	Loaders  Loaders
	GraphQL  GraphQL
	Access   Access
	Tenants  Tenants
	// Talkdesk is the bridge's configuration (/talkdesk/...).
	Talkdesk talkdesk.Config
	// Actions is how actions are carried out (how calls are logged).
	Actions actions.Config
	// CustomerDB is the customer's own database as a second source.
	CustomerDB CustomerDB
	// Identity is how contacts of several sources become one person.
	Identity Identity
	// CallEvents is POST /talkdesk/events and its workers.
	CallEvents callevents.Config
	// Tracing (OpenTelemetry): off unless an OTLP endpoint is set; the SDK
	// reads the other OTEL_* variables (headers, sampler, service name)
	// itself.
	Tracing telemetry.Config
	// Streams bound WebSocket, SSE and @defer streams; Events how long
	// live events are kept for subscriptions that resume.
	Streams streams.Config
	Events  events.LogConfig
	// ResponseCache keeps whole GraphQL answers (package respcache).
	ResponseCache ResponseCache
	// Runtime is how the Go runtime is tuned (package gcpace).
	Runtime Runtime
}

// Runtime tunes the Go runtime.
type Runtime struct {
	GCHeadroomBytes int64
}

// HTTP is how the server listens and bounds requests.
type HTTP struct {
	Addr            string
	DebugAddr       string // runtime profiles; empty: none
	MaxBodyBytes    int64
	RequestTimeout  time.Duration
	ShutdownTimeout time.Duration
	CORSOrigins     []string
	// The server's own limits, before any handler runs (see
	// internal/server's listener.go and Serve).
	MaxHeaderBytes     int
	ReadHeaderTimeout  time.Duration
	IdleTimeout        time.Duration
	MaxConns           int // open connections in all
	MaxConnsPerAddress int // open connections from one client address (trusted proxies excepted)
}

// Log is the structured log's level and format.
type Log struct {
	Level  slog.Level
	Format string
}

// Intercom is the configured workspace and how every workspace is called.
type Intercom struct {
	// Client is every workspace's client configuration (the token and base
	// URL are the configured workspace's; callers' tokens bring their own).
	Client intercom.Config
	Region string
	// ClientSecret is the Intercom app's client secret: webhook
	// signatures; never logged.
	ClientSecret string
	// MaxConns bounds the open connections to each Intercom host, shared
	// by every workspace.
	MaxConns int
	// CoalesceWindow is how long a cold caller lookup waits for others to
	// share one search.
	CoalesceWindow time.Duration
}

// Redis is where replicas share the cache, idempotency records, budgets and
// events; empty URL: everything in process.
type Redis struct {
	URL     string
	Cluster bool
	Timeout time.Duration
	// DurableURL is where what must not be lost lives (idempotency records,
	// webhook de-duplication): a Redis that never evicts. Empty: URL.
	DurableURL string
	// EvictionCheck is what a durable Redis that may evict keys does at
	// start: "refuse" to start, or "warn".
	EvictionCheck string
}

// Cache is the cache of Intercom reads.
type Cache struct {
	Enabled bool
	TTL     cache.TTLs
	// LocalEnabled keeps an in-process level (Local) in front of Redis.
	LocalEnabled bool
	Local        cache.LocalConfig
	// CompanyWarmup refills the company cache this often (0: off).
	CompanyWarmup time.Duration
}

// ResponseCache is the cache of whole GraphQL answers, kept coherent by the
// keys each was built from (it needs the entity cache: CACHE_ENABLED).
type ResponseCache struct {
	Enabled  bool
	MaxBytes int64
	TTL      time.Duration
	// Redis shares answers between replicas through the cache's Redis,
	// bounded by RedisMaxBytes.
	Redis         bool
	RedisMaxBytes int64
}

// Loaders is how each request's reads are batched.
type Loaders struct {
	Enabled  bool // false: unbatched, the benchmark's naive path
	Wait     time.Duration
	MinWait  time.Duration
	MaxBatch int
}

// GraphQL is the GraphQL endpoint's features and limits.
type GraphQL struct {
	Introspection bool
	Playground    bool
	Limits        graphqlhttp.Limits
	// Persisted operations: run only the trusted documents of a file.
	PersistedOnly bool
	PersistedFile string
	// PersistedMaxBytes bounds the documents clients register, kept in
	// process by each replica; PersistedRedisMaxBytes those the fleet
	// keeps in Redis.
	PersistedMaxBytes      int64
	PersistedRedisMaxBytes int64
	// QueryCacheMaxBytes bounds the parsed documents kept in process.
	QueryCacheMaxBytes int64
}

// Access is who may call, and how much.
type Access struct {
	APIKeys       string        // comma-separated; never logged
	CallerRate    int           // requests per minute per caller; 0: no limit
	RateLimitSync time.Duration // how often a replica reports its callers' requests to the fleet's buckets
	NewTokenRate  int           // validations of unknown tokens per minute per caller
	// The cost budget of each caller, in this replica: the complexity its
	// operations may spend at once, and restore per second (0: no budget).
	CostMaximum     int
	CostRestoreRate int
	MaxConcurrent   int // operations each caller may have running at once in this replica; 0: no cap
	// AuthFailureRate is how many failed authentications (wrong API keys,
	// badly signed webhooks) a client address may make per minute.
	AuthFailureRate int
	// TrustedProxies are the peers whose X-Forwarded-For names the client.
	TrustedProxies []netip.Prefix
}

// Tenants is what callers' own tokens (the bridge, MULTI_TENANT) may cost.
type Tenants struct {
	MultiTenant bool
	RejectFor   time.Duration // how long a token Intercom rejected is refused without asking again
	MaxRejected int           // most rejected tokens remembered (by hash)
	Max         int           // most workspaces of callers' tokens kept
}

// CustomerDB is the customer's own database (docs/customer-database.md).
type CustomerDB struct {
	URL          string // postgres://… or sqlite:PATH; never logged (it may hold a password)
	Timeout      time.Duration
	TTL          time.Duration // how long its contacts, lookups and histories stay fresh in the cache
	MaxConns     int
	HistoryLimit int
	// Check validates URL against the view contract and exits.
	Check bool
}

// Identity is identity resolution's rules.
type Identity struct {
	Blocked     map[string]bool // E.164 numbers and lower-case emails
	SharedLimit int
}

// Demo reports whether no Intercom token is set, so the server runs its
// built-in demo workspace.
func (c Config) Demo() bool { return c.Intercom.Client.Token == "" }

// A setting is one entry of the table. usage is Markdown for the docs;
// --help prints it without the backticks. unset says what an empty default
// means in the docs (default: "(none)").
type setting struct {
	env, flag, def, usage string
	parse                 parser
	unset                 string
	// command is a setting that is a command given as a bare flag
	// (--check-customer-db), true when given without a value.
	command bool
}

// settings is the table, in the order --help and the docs list it. Each
// parser writes straight into its field of c. Add a setting here and nowhere
// else (then `go test ./internal/config -update` rewrites the docs' table).
func settings(c *Config) []setting {
	return []setting{
		{env: "ADDR", flag: "addr", def: ":8080", usage: "address to listen on", parse: listenAddr(&c.HTTP.Addr)},
		{env: "INTERCOM_TOKEN", flag: "intercom-token", usage: "Intercom access token; empty serves the built-in demo workspace", parse: trimmed(&c.Intercom.Client.Token)},
		{env: "INTERCOM_REGION", flag: "intercom-region", def: "us", usage: "region of the Intercom workspace: `us`, `eu` or `au` (sets the base URL)", parse: oneOf(&c.Intercom.Region, "us", "eu", "au")},
		{env: "INTERCOM_BASE_URL", flag: "intercom-base-url", usage: "Intercom API base URL; overrides the region's (`" + intercom.DefaultBaseURL + "` for `us`)", parse: httpURL(&c.Intercom.Client.BaseURL, "an http(s) URL"), unset: "(the region's)"},
		{env: "INTERCOM_VERSION", flag: "intercom-version", def: intercom.DefaultVersion, usage: "Intercom API version sent in every request", parse: intercomVersion(&c.Intercom.Client.Version)},
		{env: "INTERCOM_TIMEOUT", flag: "intercom-timeout", def: "10s", usage: "deadline of each Intercom call, retries included", parse: positiveDuration(&c.Intercom.Client.Timeout)},
		{env: "INTERCOM_RATE_LIMIT", flag: "intercom-rate-limit", def: "10000", usage: "calls per minute this service allows itself per workspace (Intercom's `X-RateLimit-*` headers are followed too)", parse: count(&c.Intercom.Client.RateLimitPerMinute, 6, 1_000_000)},
		{env: "FLEET_REPLICAS", flag: "fleet-replicas", def: "1", usage: "how many replicas share the Intercom budget. With `REDIS_URL` they always count it together in Redis, whatever this says (the calls made while Redis was away are counted when it is back); while Redis is away each spends the calls Redis set aside for it, then `1/FLEET_REPLICAS` of `INTERCOM_RATE_LIMIT`: at once with `1`, otherwise once Redis has been away for a whole 10-second window", parse: count(&c.Intercom.Client.FleetReplicas, 1, 1000)},
		{env: "INTERCOM_CALLER_SHARE", flag: "intercom-caller-share", def: strconv.Itoa(intercom.DefaultCallerShare), usage: "most of a workspace's Intercom budget (percent of each 10-second window) one API key or client address may spend (1 to 100)", parse: count(&c.Intercom.Client.CallerSharePercent, 1, 100)},
		{env: "INTERCOM_INTERACTIVE_RESERVE", flag: "intercom-interactive-reserve", def: strconv.Itoa(intercom.DefaultInteractiveReserve), usage: "part of each window's Intercom budget (percent, of the workspace's and of each caller's share) that searches and contact syncs leave to caller lookups, contacts, histories and actions (1 to 90)", parse: count(&c.Intercom.Client.InteractiveReservePercent, 1, 90)},
		{env: "INTERCOM_BREAKER_FAILURE_PERCENT", flag: "intercom-breaker-failure-percent", def: strconv.Itoa(intercom.DefaultBreakerFailurePercent), usage: "the circuit breaker opens when this share of a workspace's Intercom calls (percent, 1 to 100) failed over `INTERCOM_BREAKER_WINDOW`: no answer or a 5xx, a call and its retries counting once", parse: count(&c.Intercom.Client.BreakerFailurePercent, 1, 100)},
		{env: "INTERCOM_BREAKER_MIN_CALLS", flag: "intercom-breaker-min-calls", def: strconv.Itoa(intercom.DefaultBreakerMinCalls), usage: "calls that must have ended over `INTERCOM_BREAKER_WINDOW` before their failures can open the breaker", parse: count(&c.Intercom.Client.BreakerMinCalls, 1, 1_000_000)},
		{env: "INTERCOM_BREAKER_WINDOW", flag: "intercom-breaker-window", def: intercom.DefaultBreakerWindow.String(), usage: "the sliding window (in tenths) over which the breaker counts calls and failures", parse: positiveDuration(&c.Intercom.Client.BreakerWindow)},
		{env: "INTERCOM_BREAKER_COOLDOWN", flag: "intercom-breaker-cooldown", def: intercom.DefaultBreakerCooldown.String(), usage: "how long an open breaker refuses calls (`UPSTREAM_UNAVAILABLE`, spending no budget) before it lets probes through", parse: positiveDuration(&c.Intercom.Client.BreakerCooldown)},
		{env: "INTERCOM_BREAKER_PROBES", flag: "intercom-breaker-probes", def: strconv.Itoa(intercom.DefaultBreakerProbes), usage: "calls a half-open breaker lets through at once: all succeeding closes it, any failing opens it again", parse: count(&c.Intercom.Client.BreakerProbes, 1, 100)},
		{env: "LOG_LEVEL", flag: "log-level", def: "info", usage: "log level: `debug`, `info`, `warn` or `error`", parse: logLevel(&c.Log.Level)},
		{env: "LOG_FORMAT", flag: "log-format", def: "text", usage: "log format: `text` or `json`", parse: oneOf(&c.Log.Format, "text", "json")},
		{env: "INTROSPECTION", flag: "introspection", def: "true", usage: "allow GraphQL introspection (the playground needs it)", parse: boolean(&c.GraphQL.Introspection)},
		{env: "MAX_BODY_BYTES", flag: "max-body-bytes", def: "262144", usage: "largest request body accepted, in bytes", parse: byteCount(&c.HTTP.MaxBodyBytes, 1024)},
		{env: "SHUTDOWN_TIMEOUT", flag: "shutdown-timeout", def: "15s", usage: "how long in-flight requests may finish on SIGINT/SIGTERM", parse: positiveDuration(&c.HTTP.ShutdownTimeout)},
		{env: "GC_HEADROOM_BYTES", flag: "gc-headroom-bytes", def: "67108864", usage: "bytes the heap may grow past what the last garbage collection left live before the next one, at least (Go's own pacing, `GOGC`, collects after 100 % of the live heap: with a small live heap, very often); 0 leaves Go's pacing alone, as does setting `GOGC`", parse: byteCount(&c.Runtime.GCHeadroomBytes, 0)},
		{env: "DEBUG_ADDR", flag: "debug-addr", usage: "address of a second listener serving Go's runtime profiles (`/debug/pprof/`: CPU, heap, goroutines), e.g. `127.0.0.1:6060`; it has no authentication, so keep it private; empty: none", parse: optionalListenAddr(&c.HTTP.DebugAddr)},
		{env: "REDIS_URL", flag: "redis-url", usage: "Redis for the shared cache and idempotency: one node (`redis://[user:password@]host:6379/0`), a Cluster (`redis://h1:7000?addr=h2:7001&addr=h3:7002`) or Sentinel (`redis-sentinel://[user:password@]s1:26379,s2:26379/mastername?db=0`); `rediss://`, `rediss-sentinel://` for TLS; empty caches in process", parse: redisURL(&c.Redis.URL)},
		{env: "REDIS_CLUSTER", flag: "redis-cluster", def: "false", usage: "treat a one-address `REDIS_URL` as a seed of a Redis Cluster (more than one address always is one)", parse: boolean(&c.Redis.Cluster)},
		{env: "IDEMPOTENCY_REDIS_URL", flag: "idempotency-redis-url", usage: "Redis for what must survive memory pressure: idempotency records, webhook de-duplication, and the call events' queue, call states and dead letters (same forms as `REDIS_URL`; a Cluster needs more than one address). Empty: `REDIS_URL`. Point it at a Redis with `maxmemory-policy noeviction` when the cache's Redis evicts (see docs/replicas.md)", parse: redisURL(&c.Redis.DurableURL)},
		{env: "REDIS_EVICTION_CHECK", flag: "redis-eviction-check", def: "refuse", usage: "at start, the durable Redis (`IDEMPOTENCY_REDIS_URL`, else `REDIS_URL`) is asked for its `maxmemory` and `maxmemory-policy`; when it could evict keys: `refuse` to start, or `warn` and go on", parse: oneOf(&c.Redis.EvictionCheck, "refuse", "warn")},
		{env: "REDIS_TIMEOUT", flag: "redis-timeout", def: "100ms", usage: "deadline of each Redis call; a slower Redis is skipped, not waited for", parse: positiveDuration(&c.Redis.Timeout)},
		{env: "CACHE_ENABLED", flag: "cache-enabled", def: "true", usage: "cache Intercom reads (`false`: every read goes to Intercom)", parse: boolean(&c.Cache.Enabled)},
		{env: "CACHE_CONTACT_TTL", flag: "cache-contact-ttl", def: "5m", usage: "how long contacts and caller lookups stay fresh", parse: positiveDuration(&c.Cache.TTL.Contact, &c.Cache.TTL.Phone, &c.Cache.TTL.Email)},
		{env: "CACHE_COMPANY_TTL", flag: "cache-company-ttl", def: "1h", usage: "how long companies stay fresh", parse: positiveDuration(&c.Cache.TTL.Company)},
		{env: "CACHE_NEGATIVE_TTL", flag: "cache-negative-ttl", def: "1m", usage: "how long a lookup that found nothing (an unknown caller) is remembered", parse: positiveDuration(&c.Cache.TTL.Negative)},
		{env: "CACHE_INTERACTION_TTL", flag: "cache-interaction-ttl", def: "1m", usage: "how long a contact's history (conversations, tickets, notes, calls) stays fresh", parse: positiveDuration(&c.Cache.TTL.Interactions)},
		{env: "CACHE_STALE_TTL", flag: "cache-stale-ttl", def: "24h", usage: "how long expired entries are kept to answer while Intercom fails", parse: duration(&c.Cache.TTL.StaleFor)},
		{env: "CACHE_LOCAL_ENABLED", flag: "cache-local-enabled", def: "true", usage: "keep an in-process level in front of Redis (kept coherent across replicas through Redis)", parse: boolean(&c.Cache.LocalEnabled)},
		{env: "CACHE_LOCAL_MAX_ENTRIES", flag: "cache-local-max-entries", def: "100000", usage: "most entries of the in-process cache level", parse: count(&c.Cache.Local.MaxEntries, 100, 100_000_000)},
		{env: "CACHE_LOCAL_MAX_BYTES", flag: "cache-local-max-bytes", def: "67108864", usage: "most bytes of the in-process cache level (of the whole cache without `REDIS_URL`)", parse: byteCount(&c.Cache.Local.MaxBytes, 1<<20)},
		{env: "CACHE_LOCAL_TTL", flag: "cache-local-ttl", def: "1m", usage: "how long an entry stays in the in-process level (its freshness is its own)", parse: positiveDuration(&c.Cache.Local.TTL)},
		{env: "RESPONSE_CACHE_ENABLED", flag: "response-cache-enabled", def: "true", usage: "keep whole GraphQL query answers, each dropped on every replica by the change of any value it was built from (needs `CACHE_ENABLED`; see docs/caching.md)", parse: boolean(&c.ResponseCache.Enabled)},
		{env: "RESPONSE_CACHE_MAX_BYTES", flag: "response-cache-max-bytes", def: "33554432", usage: "most bytes of kept GraphQL answers in each replica (with their keys); the least recently used go first; 0 keeps none in process (with `RESPONSE_CACHE_REDIS_ENABLED`, answers then come from Redis alone)", parse: byteCount(&c.ResponseCache.MaxBytes, 0)},
		{env: "RESPONSE_CACHE_TTL", flag: "response-cache-ttl", def: "1m", usage: "the longest a GraphQL answer is kept (shorter when a value it was built from is fresh for less)", parse: positiveDuration(&c.ResponseCache.TTL)},
		{env: "RESPONSE_CACHE_REDIS_ENABLED", flag: "response-cache-redis-enabled", def: "true", usage: "share kept GraphQL answers between replicas through the cache's Redis (`REDIS_URL`): a replica serves an answer another one built with one round trip, checked against the values it was built from", parse: boolean(&c.ResponseCache.Redis)},
		{env: "RESPONSE_CACHE_REDIS_MAX_BYTES", flag: "response-cache-redis-max-bytes", def: "67108864", usage: "most bytes of GraphQL answers the fleet keeps in Redis (counted as stored within any `RESPONSE_CACHE_TTL`); past it new answers stay in process", parse: byteCount(&c.ResponseCache.RedisMaxBytes, 1<<20)},
		{env: "CALLER_LOOKUP_COALESCE_WINDOW", flag: "caller-lookup-coalesce-window", def: "2ms", usage: "how long a cold caller lookup waits for others of its workspace to share one Intercom search (as many numbers as its 100 values hold); `0`: no wait", parse: duration(&c.Intercom.CoalesceWindow)},
		{env: "LOADER_WAIT", flag: "loader-wait", def: "5ms", usage: "the longest a dataloader collects keys before one batched fetch (each loader's wait adapts between `LOADER_MIN_WAIT` and this)", parse: duration(&c.Loaders.Wait)},
		{env: "LOADER_MIN_WAIT", flag: "loader-min-wait", def: "0s", usage: "the shortest a dataloader collects keys before one batched fetch (`0`: a loader that sees one key at a time fetches it at once)", parse: duration(&c.Loaders.MinWait)},
		{env: "LOADER_MAX_BATCH", flag: "loader-max-batch", def: "100", usage: "most keys in one dataloader batch", parse: count(&c.Loaders.MaxBatch, 1, 1000)},
		{env: "LOADERS_ENABLED", flag: "loaders-enabled", def: "true", usage: "batch reads with dataloaders (`false`: a batch of one key, at once: the benchmark's naive path)", parse: boolean(&c.Loaders.Enabled)},
		{env: "FETCH_CONCURRENCY", flag: "fetch-concurrency", def: "32", usage: "parallel Intercom reads for objects without a batch API (companies)", parse: count(&c.Intercom.Client.Concurrency, 1, 256)},
		{env: "CALL_LOG_AS", flag: "call-log-as", def: "note", usage: "how `logCall` records a call in Intercom: `note` or `ticket`", parse: oneOf(&c.Actions.CallLogAs, "note", "ticket")},
		{env: "CALL_TICKET_TYPE", flag: "call-ticket-type", usage: "ticket type (name or id) of logged calls when `CALL_LOG_AS=ticket`", parse: trimmed(&c.Actions.CallTicketType)},
		{env: "INTERCOM_CLIENT_SECRET", flag: "intercom-client-secret", usage: "the Intercom app's client secret, to verify webhook signatures (`POST /webhooks/intercom`); empty: webhooks are refused", parse: trimmed(&c.Intercom.ClientSecret)},
		{env: "API_KEYS", flag: "api-keys", usage: "comma-separated API keys callers must present (`X-API-Key` or `Authorization: Bearer`; the bridge: `auth.api_key`); empty: no keys", parse: text(&c.Access.APIKeys)},
		{env: "COST_MAXIMUM_AVAILABLE", flag: "cost-maximum-available", def: "100000", usage: "the cost budget of each API key (or client address without keys), in complexity points (`MAX_QUERY_COMPLEXITY`'s unit): what its GraphQL operations may spend at once, each its estimated complexity; at least `MAX_QUERY_COMPLEXITY`. Per replica", parse: count(&c.Access.CostMaximum, 1, 1_000_000_000)},
		{env: "COST_RESTORE_RATE", flag: "cost-restore-rate", def: "50000", usage: "complexity points restored to each caller's cost budget per second; an operation that costs more than is left is `429 RATE_LIMITED` with a retry hint; `0`: no budget", parse: count(&c.Access.CostRestoreRate, 0, 1_000_000_000)},
		{env: "MAX_CONCURRENT_REQUESTS_PER_CALLER", flag: "max-concurrent-requests-per-caller", def: "100", usage: "GraphQL operations each API key (or client address without keys) may have running at once in one replica, whatever their cost (operations waiting for a slow Intercom hold memory too); more is `429 RATE_LIMITED` at once; `0`: no cap. A key that many agents' dashboards share needs its busiest moment's screen pops under it", parse: count(&c.Access.MaxConcurrent, 0, 100_000)},
		{env: "RATE_LIMIT_PER_MINUTE", flag: "rate-limit-per-minute", def: "6000", usage: "requests per minute per API key (or client address without keys), and per `auth.token` on the Talkdesk bridge; `0`: no limit", parse: count(&c.Access.CallerRate, 0, 10_000_000)},
		{env: "RATE_LIMIT_SYNC_INTERVAL", flag: "rate-limit-sync-interval", def: "100ms", usage: "how often each replica adds the requests it admitted to the callers' allowances shared in Redis (`RATE_LIMIT_PER_MINUTE`, `NEW_TOKEN_RATE_LIMIT`, `AUTH_FAILURES_PER_MINUTE` hold for the fleet; a caller may pass them by what the replicas admit in one interval)", parse: positiveDuration(&c.Access.RateLimitSync)},
		{env: "AUTH_FAILURES_PER_MINUTE", flag: "auth-failures-per-minute", def: "30", usage: "failed authentications (a wrong or missing API key, a webhook whose signature does not verify) each client address may make per minute; more are `429 RATE_LIMITED` (a valid credential is never refused for them)", parse: count(&c.Access.AuthFailureRate, 1, 1_000_000)},
		{env: "TRUSTED_PROXIES", flag: "trusted-proxies", usage: "comma-separated addresses or CIDRs of the balancers in front of the server (e.g. `10.0.0.0/8`): from them `X-Forwarded-For` names the client (its right-most untrusted address) and `MAX_CONNECTIONS_PER_ADDRESS` does not apply; empty: every peer is the client", parse: prefixes(&c.Access.TrustedProxies)},
		{env: "MAX_HEADER_BYTES", flag: "max-header-bytes", def: "16384", usage: "largest request line and headers accepted, in bytes; more is `431`", parse: count(&c.HTTP.MaxHeaderBytes, 4096, 1<<20)},
		{env: "READ_HEADER_TIMEOUT", flag: "read-header-timeout", def: "5s", usage: "how long a connection may take to send a request's line and headers before it is closed", parse: positiveDuration(&c.HTTP.ReadHeaderTimeout)},
		{env: "IDLE_TIMEOUT", flag: "idle-timeout", def: "60s", usage: "how long a keep-alive connection may wait for its next request before it is closed", parse: positiveDuration(&c.HTTP.IdleTimeout)},
		{env: "MAX_CONNECTIONS", flag: "max-connections", def: "10000", usage: "most open connections in all (keep it below the process's file-descriptor limit); more are answered `503 UNAVAILABLE` and closed before a byte is read", parse: count(&c.HTTP.MaxConns, 1, 10_000_000)},
		{env: "MAX_CONNECTIONS_PER_ADDRESS", flag: "max-connections-per-address", def: "1000", usage: "most open connections from one client address (`TRUSTED_PROXIES` excepted); more are answered `503 UNAVAILABLE` and closed before a byte is read", parse: count(&c.HTTP.MaxConnsPerAddress, 1, 10_000_000)},
		{env: "CORS_ORIGINS", flag: "cors-origins", usage: "comma-separated browser origins allowed to call the API (`*` for any); empty: none", parse: list(&c.HTTP.CORSOrigins)},
		{env: "MULTI_TENANT", flag: "multi-tenant", def: "false", usage: "GraphQL callers bring their own Intercom token (`X-Intercom-Token`, `X-Intercom-Region`)", parse: boolean(&c.Tenants.MultiTenant)},
		{env: "PLAYGROUND", flag: "playground", def: "true", usage: "serve the GraphiQL playground at `/`", parse: boolean(&c.GraphQL.Playground)},
		{env: "REQUEST_TIMEOUT", flag: "request-timeout", def: "30s", usage: "deadline of each request, Intercom calls included", parse: positiveDuration(&c.HTTP.RequestTimeout)},
		{env: "MAX_QUERY_DEPTH", flag: "max-query-depth", def: "12", usage: "deepest nesting of fields a GraphQL operation may have (introspection excepted)", parse: count(&c.GraphQL.Limits.MaxDepth, 2, 100)},
		{env: "MAX_QUERY_COMPLEXITY", flag: "max-query-complexity", def: "20000", usage: "most field values one GraphQL operation may resolve (lists weigh their page size)", parse: count(&c.GraphQL.Limits.MaxComplexity, 10, 10_000_000)},
		{env: "MAX_QUERY_BYTES", flag: "max-query-bytes", def: "32768", usage: "largest GraphQL document, in bytes, comments and white space included (what a registered persisted query keeps)", parse: count(&c.GraphQL.Limits.MaxBytes, 1024, 16<<20)},
		{env: "PERSISTED_QUERIES_MAX_BYTES", flag: "persisted-queries-max-bytes", def: "8388608", usage: "most bytes of registered persisted queries each replica keeps in process (with `REDIS_URL` the fleet also shares them in Redis, each for a day); the least used are forgotten first, and their clients send them again", parse: byteCount(&c.GraphQL.PersistedMaxBytes, 1<<20)},
		{env: "PERSISTED_QUERIES_REDIS_MAX_BYTES", flag: "persisted-queries-redis-max-bytes", def: "33554432", usage: "most bytes of registered persisted queries the fleet keeps in Redis (counted over the current and the previous day: each is kept a day); past it a new registration runs and is kept in process only, and a replica that does not know its hash answers `PersistedQueryNotFound`, to which clients send the document again", parse: byteCount(&c.GraphQL.PersistedRedisMaxBytes, 1<<20)},
		{env: "QUERY_CACHE_MAX_BYTES", flag: "query-cache-max-bytes", def: "33554432", usage: "most bytes of parsed and validated GraphQL documents kept in process (each weighs four times its text, plus 4 KB): a repeated document is not parsed again", parse: byteCount(&c.GraphQL.QueryCacheMaxBytes, 1<<20)},
		{env: "MAX_QUERY_TOKENS", flag: "max-query-tokens", def: "5000", usage: "most tokens in a GraphQL document (checked before it is parsed)", parse: count(&c.GraphQL.Limits.MaxTokens, 100, 1_000_000)},
		{env: "MAX_QUERY_FIELDS", flag: "max-query-fields", def: "500", usage: "most fields and fragment spreads written in a GraphQL document (checked before it is parsed)", parse: count(&c.GraphQL.Limits.MaxFields, 10, 100_000)},
		{env: "MAX_QUERY_ALIASES", flag: "max-query-aliases", def: "100", usage: "most aliases in a GraphQL document (checked before it is parsed)", parse: count(&c.GraphQL.Limits.MaxAliases, 0, 100_000)},
		{env: "MAX_QUERY_DIRECTIVES", flag: "max-query-directives", def: "50", usage: "most directives in a GraphQL document (checked before it is parsed)", parse: count(&c.GraphQL.Limits.MaxDirectives, 0, 100_000)},
		{env: "MAX_QUERY_NESTING", flag: "max-query-nesting", def: "32", usage: "most braces, brackets and parentheses open at once in a GraphQL document (checked before it is parsed)", parse: count(&c.GraphQL.Limits.MaxNesting, 4, 1000)},
		{env: "MAX_QUERY_NAME_LENGTH", flag: "max-query-name-length", def: "128", usage: "longest name (of a field, argument, type, …) in a GraphQL document, in bytes (checked before it is parsed)", parse: count(&c.GraphQL.Limits.MaxNameLength, 16, 100_000)},
		{env: "MAX_VARIABLE_VALUES", flag: "max-variable-values", def: "1000", usage: "most JSON values (members, elements, scalars) in a GraphQL request's variables", parse: count(&c.GraphQL.Limits.MaxVariableValues, 10, 10_000_000)},
		{env: "MAX_INTERCOM_CALLS_PER_OPERATION", flag: "max-intercom-calls-per-operation", def: "600", usage: "most Intercom calls one GraphQL operation may cost at worst (estimated before it runs)", parse: count(&c.GraphQL.Limits.MaxIntercomCalls, 1, 1_000_000)},
		{env: "MAX_ACTIONS_PER_REQUEST", flag: "max-actions-per-request", def: "10", usage: "most mutations that write in one GraphQL request", parse: count(&c.GraphQL.Limits.MaxActions, 1, 10_000)},
		{env: "MAX_INTROSPECTION_FIELDS", flag: "max-introspection-fields", def: "3", usage: "most `__schema` and `__type` fields in one GraphQL operation", parse: count(&c.GraphQL.Limits.MaxIntrospection, 1, 1000)},
		{env: "MAX_ERRORS", flag: "max-errors", def: "50", usage: "most errors in one GraphQL answer (the rest are counted in one more)", parse: count(&c.GraphQL.Limits.MaxErrors, 1, 100_000)},
		{env: "PERSISTED_OPERATIONS_ONLY", flag: "persisted-operations-only", def: "false", usage: "run only the trusted documents of `PERSISTED_OPERATIONS_FILE` (the production setting for known dashboards)", parse: boolean(&c.GraphQL.PersistedOnly)},
		{env: "PERSISTED_OPERATIONS_FILE", flag: "persisted-operations-file", usage: "trusted documents: an Apollo persisted query manifest or a JSON object of SHA-256 to document", parse: trimmed(&c.GraphQL.PersistedFile)},
		{env: "COMPANY_WARMUP_INTERVAL", flag: "company-warmup-interval", def: "0", usage: "refill the company cache from Intercom's company list this often (`0`: off)", parse: duration(&c.Cache.CompanyWarmup)},
		{env: "PUBLIC_BASE_URL", flag: "public-base-url", usage: "public https URL of this server (e.g. `https://bridge.example.com`) that Talkdesk's `integration.json` and `actions.json` point to; empty: they are served only for a loopback `Host` (`localhost`, `127.0.0.1`), pointing there", parse: httpURL(&c.Talkdesk.PublicBaseURL, "an http(s) URL such as https://bridge.example.com")},
		{env: "TALKDESK_PAGE_SIZE", flag: "talkdesk-page-size", def: "100", usage: "contacts per page of the Talkdesk contact synchronization (1 to 150)", parse: count(&c.Talkdesk.PageSize, 1, 150)},
		{env: "TALKDESK_MAX_LIST", flag: "talkdesk-max-list", def: "20", usage: "most items of a list in a Talkdesk bridge call that looks each one up in Intercom (`contact_phones`, `contact_emails`); more is a `400` that says the limit", parse: count(&c.Talkdesk.MaxList, 1, 1000)},
		{env: "TOKEN_REJECT_TTL", flag: "token-reject-ttl", def: "1m", usage: "how long a caller's Intercom token that Intercom rejected is refused (`401`) without asking Intercom again", parse: duration(&c.Tenants.RejectFor)},
		{env: "TOKEN_REJECT_MAX", flag: "token-reject-max", def: "10000", usage: "most rejected tokens remembered (by hash)", parse: count(&c.Tenants.MaxRejected, 1, 10_000_000)},
		{env: "NEW_TOKEN_RATE_LIMIT", flag: "new-token-rate-limit", def: "120", usage: "unknown Intercom tokens per minute each caller (API key, or client address without keys) may have validated through `/me`; more is `429 RATE_LIMITED`", parse: count(&c.Access.NewTokenRate, 1, 1_000_000)},
		{env: "MAX_TENANTS", flag: "max-tenants", def: "1000", usage: "most workspaces of callers' tokens kept (least recently used go first)", parse: count(&c.Tenants.Max, 1, 1_000_000)},
		{env: "INTERCOM_MAX_CONNS", flag: "intercom-max-conns", def: "64", usage: "open connections to each Intercom host, shared by every workspace", parse: count(&c.Intercom.MaxConns, 1, 10_000)},
		{env: "OTEL_EXPORTER_OTLP_ENDPOINT", flag: "otel-exporter-otlp-endpoint", usage: "OpenTelemetry collector to send traces to (e.g. `http://localhost:4318`, Jaeger's OTLP/HTTP port); empty: no tracing, at no cost", parse: httpURL(&c.Tracing.Endpoint, "an http(s) URL such as http://localhost:4318")},
		{env: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", flag: "otel-exporter-otlp-traces-endpoint", usage: "full URL traces are sent to (e.g. `http://localhost:4318/v1/traces`); overrides `OTEL_EXPORTER_OTLP_ENDPOINT` for traces", parse: httpURL(&c.Tracing.TracesEndpoint, "an http(s) URL such as http://localhost:4318/v1/traces")},
		{env: "OTEL_EXPORTER_OTLP_PROTOCOL", flag: "otel-exporter-otlp-protocol", def: "http/protobuf", usage: "OTLP protocol: `http/protobuf` (port 4318) or `grpc` (port 4317)", parse: oneOf(&c.Tracing.Protocol, "http/protobuf", "grpc")},
		{env: "CUSTOMER_DB_URL", flag: "customer-db-url", usage: "the customer's own database as a second source, read through the views of docs/customer-database.md: `postgres://user:password@host:5432/db` or `sqlite:PATH`; empty: none (the demo serves its own)", parse: customerDBURL(&c.CustomerDB.URL)},
		{env: "CUSTOMER_DB_TIMEOUT", flag: "customer-db-timeout", def: "2s", usage: "deadline of each customer database query (PostgreSQL's `statement_timeout` too); a caller lookup waits no longer for the database", parse: positiveDuration(&c.CustomerDB.Timeout)},
		{env: "CUSTOMER_DB_CACHE_TTL", flag: "customer-db-cache-ttl", def: "1m", usage: "how long the customer database's contacts, lookups and histories stay fresh in the cache (a `NOTIFY tdi_changes` invalidates at once)", parse: positiveDuration(&c.CustomerDB.TTL)},
		{env: "CUSTOMER_DB_MAX_CONNS", flag: "customer-db-max-conns", def: "8", usage: "most open connections to the customer database", parse: count(&c.CustomerDB.MaxConns, 1, 1000)},
		{env: "CUSTOMER_DB_HISTORY_LIMIT", flag: "customer-db-history-limit", def: "100", usage: "most interactions read per contact from the customer database (the most recent)", parse: count(&c.CustomerDB.HistoryLimit, 1, 10_000)},
		{env: "CHECK_CUSTOMER_DB", flag: "check-customer-db", def: "false", usage: "validate `CUSTOMER_DB_URL` against the view contract, say what is missing, and exit", parse: boolean(&c.CustomerDB.Check), command: true},
		{env: "TALKDESK_RECORD_KINDS", flag: "talkdesk-record-kinds", usage: "comma-separated kinds of the customer database's interactions (its `kind` column: `order`, `payment`, …) that `integration.json` declares and `interaction_update` serves beside Intercom's; a kind that is one of Intercom's types or aliases (`ticket`, `case`, …) is refused", parse: list(&c.Talkdesk.RecordKinds)},
		{env: "IDENTITY_BLOCKED_VALUES", flag: "identity-blocked-values", usage: "comma-separated phone numbers (with their country code) and emails that never make two contacts one person: a switchboard, `noreply@…`", parse: blockedValues(&c.Identity.Blocked)},
		{env: "IDENTITY_SHARED_LIMIT", flag: "identity-shared-limit", def: "3", usage: "most contacts one number or email may have and still make them one person; more: a shared value (its contacts are found, never merged)", parse: count(&c.Identity.SharedLimit, 1, 1000)},
		{env: "EVENT_RETENTION", flag: "event-retention", def: "15m", usage: "how long each workspace's live events are kept (in Redis, else in process) for subscriptions that resume after a sequence; a gap older than this gets `refetch: true`", parse: positiveDuration(&c.Events.Retention)},
		{env: "EVENT_MAX_LENGTH", flag: "event-max-length", def: "10000", usage: "most live events kept per workspace (older ones go first, as with `EVENT_RETENTION`)", parse: count(&c.Events.MaxLength, 100, 10_000_000)},
		{env: "STREAM_MAX_LIFETIME", flag: "stream-max-lifetime", def: "1h", usage: "longest a WebSocket, SSE or `@defer` stream stays open (a WebSocket is closed with `1001`; clients reconnect and resume); `REQUEST_TIMEOUT` does not apply to streams", parse: positiveDuration(&c.Streams.MaxLifetime)},
		{env: "STREAM_IDLE_TIMEOUT", flag: "stream-idle-timeout", def: "5m", usage: "a WebSocket with no subscription for this long is closed (`1000`)", parse: positiveDuration(&c.Streams.IdleTimeout)},
		{env: "STREAM_INIT_TIMEOUT", flag: "stream-init-timeout", def: "10s", usage: "how long a WebSocket may wait before its `connection_init` (then `4408`)", parse: positiveDuration(&c.Streams.InitTimeout)},
		{env: "STREAM_PING_INTERVAL", flag: "stream-ping-interval", def: "25s", usage: "how often a graphql-transport-ws connection is pinged (a pong must follow within twice this), and an SSE stream sent a keep-alive comment", parse: positiveDuration(&c.Streams.PingInterval)},
		{env: "STREAM_MAX_CONNECTIONS", flag: "stream-max-connections", def: "20000", usage: "most open streams (WebSocket, SSE, multipart) per replica; more is `429 RATE_LIMITED`", parse: count(&c.Streams.MaxConnections, 1, 1_000_000)},
		{env: "STREAM_MAX_CONNECTIONS_PER_CALLER", flag: "stream-max-connections-per-caller", def: "100", usage: "most open streams of one caller (API key, else client address) per replica; more is `429 RATE_LIMITED`", parse: count(&c.Streams.MaxPerCaller, 1, 1_000_000)},
		{env: "STREAM_MAX_SUBSCRIPTIONS_PER_CONNECTION", flag: "stream-max-subscriptions-per-connection", def: "50", usage: "most operations running at once on one WebSocket; another is refused with an `error` message (`RATE_LIMITED`)", parse: count(&c.Streams.MaxSubscriptions, 1, 10_000)},
		{env: "STREAM_MAX_MESSAGE_BYTES", flag: "stream-max-message-bytes", def: "65536", usage: "largest WebSocket message a client may send, in bytes (the connection is closed with `1009` past it)", parse: byteCount(&c.Streams.MaxMessageBytes, 1024)},
		{env: "TALKDESK_SEARCH_DELAY", flag: "talkdesk-search-delay", def: "5m", usage: "how long Intercom's search may take to index a change: the contact sync checkpoint stays this far behind the sync's start", parse: duration(&c.Talkdesk.SearchDelay)},
		{env: "TALKDESK_EVENTS_SECRET", flag: "talkdesk-events-secret", usage: "shared secret Talkdesk sends as `Authorization: Bearer` with each call event (`POST /talkdesk/events`, see docs/call-events.md); empty: call events are off (`503`), except in the demo workspace, whose secret is then `demo`", parse: trimmed(&c.CallEvents.Secret), unset: "(off; `demo` in the demo)"},
		{env: "CALL_EVENTS_CREATE_LEADS", flag: "call-events-create-leads", def: "true", usage: "a call event from a number no contact has creates a lead first (never for a withheld or blocked number)", parse: boolean(&c.CallEvents.CreateLeads)},
		{env: "CALL_EVENTS_SETTLE", flag: "call-events-settle", def: "5s", usage: "how long a call's record waits after `call_ended` (or a missed call) for what comes with the call (disposition, notes, recording); what comes later gathers for the same window into one follow-up (on the callback ticket where there is one)", parse: duration(&c.CallEvents.Settle)},
		{env: "CALL_EVENTS_CALLBACK_TICKET_TYPE", flag: "call-events-callback-ticket-type", def: "Callback request", usage: "ticket type (name or id) of the callback ticket of a missed or abandoned call or a voicemail", parse: trimmed(&c.CallEvents.CallbackTicketType)},
		{env: "CALL_EVENTS_BLOCKED_NUMBERS", flag: "call-events-blocked-numbers", usage: "comma-separated numbers that never become leads (spam, test lines); their calls are still written on a contact that has the number", parse: list(&c.CallEvents.BlockedNumbers)},
		{env: "CALL_EVENTS_DEFAULT_COUNTRY", flag: "call-events-default-country", usage: "country (ISO 3166-1 alpha-2, e.g. `US`) of numbers Talkdesk sends without a country code", parse: trimmed(&c.CallEvents.DefaultCountry)},
		{env: "CALL_EVENTS_WORKERS", flag: "call-events-workers", def: "4", usage: "call events of one workspace applied at once by a replica (each a few Intercom calls, at bulk priority)", parse: count(&c.CallEvents.Workers, 1, 256)},
		{env: "CALL_EVENTS_MAX_IN_FLIGHT", flag: "call-events-max-in-flight", def: "1000", usage: "most call events of one workspace a replica holds at once (waiting for their settle window or a retry)", parse: count(&c.CallEvents.MaxInFlight, 1, 1_000_000)},
		{env: "CALL_EVENTS_MAX_BACKLOG", flag: "call-events-max-backlog", def: "100000", usage: "most call events waiting in one workspace's queue; more is `503 UNAVAILABLE` with `Retry-After`", parse: count(&c.CallEvents.MaxBacklog, 1, 100_000_000)},
		{env: "CALL_EVENTS_RETRY_FOR", flag: "call-events-retry-for", def: "1h", usage: "how long a call event that fails (Intercom away, the budget spent) is retried, with backoff, before it becomes a dead letter (at most `24h`)", parse: positiveDuration(&c.CallEvents.RetryFor)},
		{env: "CALL_EVENTS_CLAIM_AFTER", flag: "call-events-claim-after", def: "1m", usage: "how long a call event a replica took may go without news from it before another replica takes it over (the first one died)", parse: positiveDuration(&c.CallEvents.ClaimAfter)},
		{env: "CALL_EVENTS_REPLICA_TIMEOUT", flag: "call-events-replica-timeout", def: "250ms", usage: "how long accepting a call event waits for a Redis replica to have it (`WAIT`), where the master has replicas; longer is `503` (the sender retries)", parse: positiveDuration(&c.CallEvents.ReplicaTimeout)},
		{env: "CALL_EVENTS_MAX_BODY_BYTES", flag: "call-events-max-body-bytes", def: "65536", usage: "largest call event body, in bytes; more is `413 BODY_TOO_LARGE`", parse: byteCount(&c.CallEvents.MaxBodyBytes, 1024)},
		{env: "CALL_EVENTS_MAX_DEAD_LETTERS", flag: "call-events-max-dead-letters", def: "10000", usage: "dead letters kept per workspace (the newest)", parse: count(&c.CallEvents.MaxDeadLetters, 1, 10_000_000)},
		{env: "CALL_EVENTS_DEAD_LETTER_RETENTION", flag: "call-events-dead-letter-retention", def: "336h", usage: "how long a dead letter is kept (336h: 14 days); older ones are dropped, and a workspace's list goes once none is newer", parse: positiveDuration(&c.CallEvents.DeadLetterRetention)},
	}
}

// crossChecks are the rules between settings, run after every setting has
// parsed. name gives a setting's name as the user wrote it (flag or variable).
func (c *Config) crossChecks(name func(env string) string) []error {
	var errs []error
	if c.Intercom.Client.BaseURL == "" {
		c.Intercom.Client.BaseURL, _ = intercom.RegionBaseURL(c.Intercom.Region)
	}
	if c.Actions.CallLogAs == "ticket" && c.Actions.CallTicketType == "" {
		errs = append(errs, fmt.Errorf("%s: is required when %s=ticket", name("CALL_TICKET_TYPE"), name("CALL_LOG_AS")))
	}
	if c.CallEvents.RetryFor > 24*time.Hour {
		errs = append(errs, fmt.Errorf("%s: at most 24h (a call's state is kept 48 hours), got %s", name("CALL_EVENTS_RETRY_FOR"), c.CallEvents.RetryFor))
	}
	if c.CallEvents.ClaimAfter < time.Second {
		errs = append(errs, fmt.Errorf("%s: at least 1s, got %s", name("CALL_EVENTS_CLAIM_AFTER"), c.CallEvents.ClaimAfter))
	}
	if c.CallEvents.DefaultCountry != "" && !phone.IsValidCountry(c.CallEvents.DefaultCountry) {
		errs = append(errs, fmt.Errorf("%s: %q is not an ISO 3166-1 alpha-2 country code such as US", name("CALL_EVENTS_DEFAULT_COUNTRY"), c.CallEvents.DefaultCountry))
	}
	if c.GraphQL.PersistedOnly && c.GraphQL.PersistedFile == "" {
		errs = append(errs, fmt.Errorf("%s: is required when %s=true", name("PERSISTED_OPERATIONS_FILE"), name("PERSISTED_OPERATIONS_ONLY")))
	}
	if c.Access.CostRestoreRate > 0 && c.Access.CostMaximum < c.GraphQL.Limits.MaxComplexity {
		errs = append(errs, fmt.Errorf("%s: %d is less than %s (%d): the costliest operation allowed could never run",
			name("COST_MAXIMUM_AVAILABLE"), c.Access.CostMaximum, name("MAX_QUERY_COMPLEXITY"), c.GraphQL.Limits.MaxComplexity))
	}
	if c.Redis.DurableURL != "" && c.Redis.URL == "" {
		errs = append(errs, fmt.Errorf("%s: needs %s (without it, idempotency records are kept in process)", name("IDEMPOTENCY_REDIS_URL"), name("REDIS_URL")))
	}
	if err := talkdesk.CheckRecordKinds(c.Talkdesk.RecordKinds); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name("TALKDESK_RECORD_KINDS"), err))
	}
	if c.Loaders.MinWait > c.Loaders.Wait {
		errs = append(errs, fmt.Errorf("%s: %s is longer than %s (%s)", name("LOADER_MIN_WAIT"), c.Loaders.MinWait, name("LOADER_WAIT"), c.Loaders.Wait))
	}
	return errs
}

// Usage is the first line of --help, also given with a flag error.
const Usage = "Usage: talkdesk-intercom [flags]"

// Load reads the configuration. It returns flag.ErrHelp after printing the
// usage to out when asked for --help. Any other error says which setting is
// wrong, by the name it was given under (--flag or $VARIABLE), and nothing is
// printed: the caller reports the error (on stderr).
func Load(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	table := settings(&c)
	values := make([]string, len(table))
	fromFlag := map[string]bool{}
	fs := flag.NewFlagSet("talkdesk-intercom", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for i, s := range table {
		values[i] = s.def
		if v := getenv(s.env); v != "" {
			values[i] = v
		}
		set := func(v string) error {
			values[i], fromFlag[s.env] = v, true
			return nil
		}
		if s.command {
			fs.BoolFunc(s.flag, plain(s.usage), set)
		} else {
			fs.Func(s.flag, plain(s.usage), set)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeUsage(out, table)
			return Config{}, err
		}
		return Config{}, flagError(err, table)
	}
	if fs.NArg() > 0 {
		if fs.Arg(0) == "bench" {
			// The benchmark was once a subcommand; its users still type it.
			return Config{}, fmt.Errorf("the benchmark is its own command: go run ./cmd/bench (go run ./cmd/bench -h lists its flags)\n%s", usageHint)
		}
		return Config{}, fmt.Errorf("unexpected argument %q (settings are flags such as --addr=:8080)\n%s", fs.Arg(0), usageHint)
	}
	flagOf := map[string]string{}
	for _, s := range table {
		flagOf[s.env] = s.flag
	}
	name := func(env string) string {
		if fromFlag[env] {
			return "--" + flagOf[env]
		}
		return env
	}
	var errs []error
	for i, s := range table {
		if err := s.parse(values[i]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name(s.env), err))
		}
	}
	errs = append(errs, c.crossChecks(name)...)
	if len(errs) > 0 {
		lines := make([]string, len(errs))
		for i, e := range errs {
			lines[i] = "  " + e.Error()
		}
		return Config{}, errors.New("invalid configuration:\n" + strings.Join(lines, "\n"))
	}
	return c, nil
}

const usageHint = Usage + " (--help lists every setting)"

// flagError rewrites the flag package's errors to name the flag as written
// and suggest the nearest one.
func flagError(err error, table []setting) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		name = strings.TrimLeft(name, "-")
		if s := suggest(name, table); s != "" {
			return fmt.Errorf("unknown flag --%s (did you mean --%s?)\n%s", name, s, usageHint)
		}
		return fmt.Errorf("unknown flag --%s\n%s", name, usageHint)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return fmt.Errorf("flag --%s needs a value (--%s=VALUE)\n%s", name, name, usageHint)
	}
	return fmt.Errorf("%v\n%s", err, usageHint)
}

// suggest returns the flag nearest to name: the flag of a variable written as
// a flag (--INTERCOM_TOKEN), else the closest by edit distance if it is close.
func suggest(name string, table []setting) string {
	asFlag := strings.ReplaceAll(strings.ToLower(name), "_", "-")
	best, bestDist := "", len(asFlag)/2+1 // farther than that is not a typo
	for _, s := range table {
		if s.flag == asFlag {
			return s.flag
		}
		if d := levenshtein.ComputeDistance(asFlag, s.flag); d < bestDist {
			best, bestDist = s.flag, d
		}
	}
	return best
}

func writeUsage(out io.Writer, table []setting) {
	fmt.Fprintf(out, "%s\n\n", Usage)
	fmt.Fprintf(out, "Serves the Talkdesk ⇄ Intercom GraphQL API. Each setting is a flag or an environment variable.\n\n")
	for _, s := range table {
		def := s.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(out, "  --%s, $%s (default %s)\n      %s\n", s.flag, s.env, def, plain(s.usage))
	}
}

// Markdown writes the configuration table of docs/configuration.md.
func Markdown(out io.Writer) {
	fmt.Fprintln(out, "| Variable | Flag | Default | Meaning |")
	fmt.Fprintln(out, "|---|---|---|---|")
	for _, s := range settings(new(Config)) {
		def := "`" + s.def + "`"
		if s.def == "" {
			def = cmp.Or(s.unset, "(none)")
		}
		fmt.Fprintf(out, "| `%s` | `--%s` | %s | %s |\n", s.env, s.flag, def, s.usage)
	}
}

func plain(markdown string) string { return strings.ReplaceAll(markdown, "`", "") }
