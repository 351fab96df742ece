// Package config reads the server's settings from flags and the environment.
// Every setting has an environment variable and a flag; a flag wins over the
// variable, which wins over the built-in default. `--help` lists them all.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/talkdesk-intercom/api/sources/intercom"
)

// Config is the validated configuration of the server.
type Config struct {
	Addr            string
	IntercomToken   string
	IntercomBaseURL string
	IntercomRegion  string
	IntercomVersion string
	IntercomTimeout time.Duration
	LogLevel        slog.Level
	LogFormat       string
	Introspection   bool
	MaxBodyBytes    int64
	ShutdownTimeout time.Duration

	RedisURL         string
	RedisTimeout     time.Duration
	CacheEnabled     bool
	CacheTTL         CacheTTLs
	LoaderWait       time.Duration
	LoaderMaxBatch   int
	LoadersEnabled   bool
	FetchConcurrency int
	CompanyWarmup    time.Duration
	CallLogAs        string
	CallTicketType   string
	IntercomRate     int
	// The fair share of a workspace's Intercom budget, in percent of a window.
	IntercomCallerShare        int
	IntercomInteractiveReserve int

	ClientSecret   string // Intercom app client secret: webhook signatures; never logged
	APIKeys        string // comma-separated; never logged
	CallerRate     int    // requests per minute per caller; 0: no limit
	CORSOrigins    []string
	MultiTenant    bool
	Playground     bool
	RequestTimeout time.Duration
	MaxQueryDepth  int
	MaxComplexity  int
	// The rest of a request's bounds (see graphqlhttp.Limits).
	MaxQueryTokens, MaxQueryFields, MaxQueryAliases, MaxQueryDirectives, MaxQueryNesting, MaxQueryNameLength, MaxVariableValues int
	MaxIntercomCallsPerOperation, MaxActionsPerRequest, MaxIntrospectionFields, MaxErrors                                       int
	// Persisted operations: run only the trusted documents of a file.
	PersistedOnly bool
	PersistedFile string

	// The Talkdesk bridge (/talkdesk/...).
	PublicBaseURL       string        // where Talkdesk reaches this server; "" takes each request's Host
	TalkdeskPageSize    int           // contacts per contact_sync page
	TalkdeskSearchDelay time.Duration // how far the sync checkpoint stays behind Intercom's search indexing
	TalkdeskMaxList     int           // most items of a list in a bridge call that fans out to Intercom (contact_phones, contact_emails)

	// Callers' own tokens (the bridge, MULTI_TENANT): what an unknown token may cost.
	TokenRejectTTL   time.Duration // how long a token Intercom rejected is refused without asking again
	TokenRejectMax   int           // most rejected tokens remembered (by hash)
	NewTokenRate     int           // validations of unknown tokens per minute per caller
	MaxTenants       int           // most workspaces of callers' tokens kept
	IntercomMaxConns int           // open connections to each Intercom host, shared by every workspace

	// Tracing (OpenTelemetry): off unless an OTLP endpoint is set; the SDK
	// reads the other OTEL_* variables (headers, sampler, service name) itself.
	OTLPEndpoint       string // OTEL_EXPORTER_OTLP_ENDPOINT
	OTLPTracesEndpoint string // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
	OTLPProtocol       string // http/protobuf or grpc
}

// Tracing says whether traces are exported.
func (c Config) Tracing() bool { return c.OTLPEndpoint != "" || c.OTLPTracesEndpoint != "" }

// CacheTTLs are the freshness settings of the cache.
type CacheTTLs struct {
	Contact, Company, Negative, Interactions, Stale time.Duration
}

// Demo reports whether no Intercom token is set, so the server runs its
// built-in demo workspace.
func (c Config) Demo() bool { return c.IntercomToken == "" }

// setting describes one configuration value.
type setting struct {
	env, flag, def, usage string
	dst                   *string
}

type raw struct {
	clientSecret                                                                                          string
	apiKeys, callerRate, corsOrigins, multiTenant, playground, requestTimeout, maxDepth, maxComplexity    string
	addr, token, baseURL, region, version, timeout, logLevel, logFormat, introspection, maxBody, shutdown string
	redisURL, redisTimeout, cache, contactTTL, companyTTL, negativeTTL, staleTTL                          string
	loaderWait, loaderMaxBatch, loaders, fetchConcurrency, companyWarmup                                  string
	callLogAs, callTicketType, intercomRate, interactionTTL                                               string
	intercomCallerShare, intercomInteractiveReserve                                                       string
	publicBaseURL, talkdeskPageSize, talkdeskSearchDelay                                                  string
	maxTokens, maxFields, maxAliases, maxDirectives, maxNesting, maxNameLength, maxVariableValues         string
	maxIntercomCalls, maxActions, maxIntrospection, maxErrors, persistedOnly, persistedFile               string
	talkdeskMaxList, tokenRejectTTL, tokenRejectMax, newTokenRate, maxTenants, intercomMaxConns           string
	otlpEndpoint, otlpTracesEndpoint, otlpProtocol                                                        string
}

func (r *raw) settings() []setting {
	return []setting{
		{env: "ADDR", flag: "addr", def: ":8080", usage: "address to listen on", dst: &r.addr},
		{env: "INTERCOM_TOKEN", flag: "intercom-token", usage: "Intercom access token; empty serves the built-in demo workspace", dst: &r.token},
		{env: "INTERCOM_REGION", flag: "intercom-region", def: "us", usage: "region of the Intercom workspace: us, eu or au (sets the base URL)", dst: &r.region},
		{env: "INTERCOM_BASE_URL", flag: "intercom-base-url", usage: "Intercom API base URL; overrides the region's (" + intercom.DefaultBaseURL + " for us)", dst: &r.baseURL},
		{env: "INTERCOM_VERSION", flag: "intercom-version", def: intercom.DefaultVersion, usage: "Intercom API version sent in every request", dst: &r.version},
		{env: "INTERCOM_TIMEOUT", flag: "intercom-timeout", def: "10s", usage: "deadline of each Intercom call, retries included", dst: &r.timeout},
		{env: "INTERCOM_RATE_LIMIT", flag: "intercom-rate-limit", def: "10000", usage: "calls per minute this service allows itself per workspace (Intercom's X-RateLimit headers are followed too)", dst: &r.intercomRate},
		{env: "INTERCOM_CALLER_SHARE", flag: "intercom-caller-share", def: strconv.Itoa(intercom.DefaultCallerShare), usage: "most of a workspace's Intercom budget (percent of each 10-second window) one API key or client address may spend", dst: &r.intercomCallerShare},
		{env: "INTERCOM_INTERACTIVE_RESERVE", flag: "intercom-interactive-reserve", def: strconv.Itoa(intercom.DefaultInteractiveReserve), usage: "part of each window's Intercom budget (percent, of the workspace's and of each caller's share) that searches and contact syncs leave to caller lookups, contacts, histories and actions", dst: &r.intercomInteractiveReserve},
		{env: "LOG_LEVEL", flag: "log-level", def: "info", usage: "log level: debug, info, warn or error", dst: &r.logLevel},
		{env: "LOG_FORMAT", flag: "log-format", def: "text", usage: "log format: text or json", dst: &r.logFormat},
		{env: "INTROSPECTION", flag: "introspection", def: "true", usage: "allow GraphQL introspection (the playground needs it)", dst: &r.introspection},
		{env: "MAX_BODY_BYTES", flag: "max-body-bytes", def: "262144", usage: "largest request body accepted, in bytes", dst: &r.maxBody},
		{env: "SHUTDOWN_TIMEOUT", flag: "shutdown-timeout", def: "15s", usage: "how long to let in-flight requests finish on SIGINT/SIGTERM", dst: &r.shutdown},
		{env: "REDIS_URL", flag: "redis-url", usage: "Redis for the shared cache (redis://[:password@]host:6379/0); empty caches in process", dst: &r.redisURL},
		{env: "REDIS_TIMEOUT", flag: "redis-timeout", def: "100ms", usage: "deadline of each Redis call; a slower Redis is skipped, not waited for", dst: &r.redisTimeout},
		{env: "CACHE_ENABLED", flag: "cache-enabled", def: "true", usage: "cache Intercom reads (false: every read goes to Intercom)", dst: &r.cache},
		{env: "CACHE_CONTACT_TTL", flag: "cache-contact-ttl", def: "5m", usage: "how long contacts and caller lookups stay fresh", dst: &r.contactTTL},
		{env: "CACHE_COMPANY_TTL", flag: "cache-company-ttl", def: "1h", usage: "how long companies stay fresh", dst: &r.companyTTL},
		{env: "CACHE_NEGATIVE_TTL", flag: "cache-negative-ttl", def: "1m", usage: "how long a lookup that found nothing (an unknown caller) is remembered", dst: &r.negativeTTL},
		{env: "CACHE_INTERACTION_TTL", flag: "cache-interaction-ttl", def: "1m", usage: "how long a contact's history (conversations, tickets, notes, calls) stays fresh", dst: &r.interactionTTL},
		{env: "CACHE_STALE_TTL", flag: "cache-stale-ttl", def: "24h", usage: "how long expired entries are kept to answer while Intercom fails", dst: &r.staleTTL},
		{env: "LOADER_WAIT", flag: "loader-wait", def: "5ms", usage: "how long a dataloader collects keys before one batched fetch", dst: &r.loaderWait},
		{env: "LOADER_MAX_BATCH", flag: "loader-max-batch", def: "100", usage: "most keys in one dataloader batch", dst: &r.loaderMaxBatch},
		{env: "LOADERS_ENABLED", flag: "loaders-enabled", def: "true", usage: "batch reads with dataloaders (false: one source call per field)", dst: &r.loaders},
		{env: "FETCH_CONCURRENCY", flag: "fetch-concurrency", def: "32", usage: "parallel Intercom reads for objects without a batch API (companies)", dst: &r.fetchConcurrency},
		{env: "CALL_LOG_AS", flag: "call-log-as", def: "note", usage: "how logCall records a call in Intercom: note or ticket", dst: &r.callLogAs},
		{env: "CALL_TICKET_TYPE", flag: "call-ticket-type", usage: "ticket type (name or id) of logged calls when CALL_LOG_AS=ticket", dst: &r.callTicketType},
		{env: "INTERCOM_CLIENT_SECRET", flag: "intercom-client-secret", usage: "the Intercom app's client secret, to verify webhook signatures (POST /webhooks/intercom); empty: webhooks are refused", dst: &r.clientSecret},
		{env: "API_KEYS", flag: "api-keys", usage: "comma-separated API keys callers must present (X-API-Key or Authorization: Bearer; the bridge: auth.api_key); empty: no keys", dst: &r.apiKeys},
		{env: "RATE_LIMIT_PER_MINUTE", flag: "rate-limit-per-minute", def: "6000", usage: "requests per minute per API key (or client address without keys); 0: no limit", dst: &r.callerRate},
		{env: "CORS_ORIGINS", flag: "cors-origins", usage: "comma-separated browser origins allowed to call the API (* for any); empty: none", dst: &r.corsOrigins},
		{env: "MULTI_TENANT", flag: "multi-tenant", def: "false", usage: "GraphQL callers bring their own Intercom token (X-Intercom-Token, X-Intercom-Region)", dst: &r.multiTenant},
		{env: "PLAYGROUND", flag: "playground", def: "true", usage: "serve the GraphiQL playground at /", dst: &r.playground},
		{env: "REQUEST_TIMEOUT", flag: "request-timeout", def: "30s", usage: "deadline of each request, Intercom calls included", dst: &r.requestTimeout},
		{env: "MAX_QUERY_DEPTH", flag: "max-query-depth", def: "12", usage: "deepest nesting of fields a GraphQL operation may have (introspection excepted)", dst: &r.maxDepth},
		{env: "MAX_QUERY_COMPLEXITY", flag: "max-query-complexity", def: "20000", usage: "largest complexity of a GraphQL operation (lists weigh their page size)", dst: &r.maxComplexity},
		{env: "MAX_QUERY_TOKENS", flag: "max-query-tokens", def: "5000", usage: "most tokens in a GraphQL document (checked before it is parsed)", dst: &r.maxTokens},
		{env: "MAX_QUERY_FIELDS", flag: "max-query-fields", def: "500", usage: "most fields and fragment spreads written in a GraphQL document (checked before it is parsed)", dst: &r.maxFields},
		{env: "MAX_QUERY_ALIASES", flag: "max-query-aliases", def: "100", usage: "most aliases in a GraphQL document (checked before it is parsed)", dst: &r.maxAliases},
		{env: "MAX_QUERY_DIRECTIVES", flag: "max-query-directives", def: "50", usage: "most directives in a GraphQL document (checked before it is parsed)", dst: &r.maxDirectives},
		{env: "MAX_QUERY_NESTING", flag: "max-query-nesting", def: "32", usage: "most braces, brackets and parentheses open at once in a GraphQL document (checked before it is parsed)", dst: &r.maxNesting},
		{env: "MAX_QUERY_NAME_LENGTH", flag: "max-query-name-length", def: "128", usage: "longest name (of a field, argument, type, …) in a GraphQL document, in bytes (checked before it is parsed)", dst: &r.maxNameLength},
		{env: "MAX_VARIABLE_VALUES", flag: "max-variable-values", def: "1000", usage: "most JSON values (members, elements, scalars) in a GraphQL request's variables", dst: &r.maxVariableValues},
		{env: "MAX_INTERCOM_CALLS_PER_OPERATION", flag: "max-intercom-calls-per-operation", def: "600", usage: "most Intercom calls one GraphQL operation may cost at worst (estimated before it runs)", dst: &r.maxIntercomCalls},
		{env: "MAX_ACTIONS_PER_REQUEST", flag: "max-actions-per-request", def: "10", usage: "most mutations that write in one GraphQL request", dst: &r.maxActions},
		{env: "MAX_INTROSPECTION_FIELDS", flag: "max-introspection-fields", def: "3", usage: "most __schema and __type fields in one GraphQL operation", dst: &r.maxIntrospection},
		{env: "MAX_ERRORS", flag: "max-errors", def: "50", usage: "most errors in one GraphQL answer (the rest are counted in one more)", dst: &r.maxErrors},
		{env: "PERSISTED_OPERATIONS_ONLY", flag: "persisted-operations-only", def: "false", usage: "run only the trusted documents of PERSISTED_OPERATIONS_FILE (the production setting for known dashboards)", dst: &r.persistedOnly},
		{env: "PERSISTED_OPERATIONS_FILE", flag: "persisted-operations-file", usage: "trusted documents: an Apollo persisted query manifest or a JSON object of SHA-256 to document", dst: &r.persistedFile},
		{env: "COMPANY_WARMUP_INTERVAL", flag: "company-warmup-interval", def: "0", usage: "refill the company cache from Intercom's company list this often (0: off)", dst: &r.companyWarmup},
		{env: "PUBLIC_BASE_URL", flag: "public-base-url", usage: "public https URL of this server (e.g. https://bridge.example.com) that Talkdesk's integration.json and actions.json point to; empty: each request's Host", dst: &r.publicBaseURL},
		{env: "TALKDESK_PAGE_SIZE", flag: "talkdesk-page-size", def: "100", usage: "contacts per page of the Talkdesk contact synchronization (1 to 150)", dst: &r.talkdeskPageSize},
		{env: "TALKDESK_MAX_LIST", flag: "talkdesk-max-list", def: "20", usage: "most items of a list in a Talkdesk bridge call that looks each one up in Intercom (contact_phones, contact_emails); more is a 400", dst: &r.talkdeskMaxList},
		{env: "TOKEN_REJECT_TTL", flag: "token-reject-ttl", def: "1m", usage: "how long a caller's Intercom token that Intercom rejected is refused without asking Intercom again", dst: &r.tokenRejectTTL},
		{env: "TOKEN_REJECT_MAX", flag: "token-reject-max", def: "10000", usage: "most rejected tokens remembered (by hash)", dst: &r.tokenRejectMax},
		{env: "NEW_TOKEN_RATE_LIMIT", flag: "new-token-rate-limit", def: "120", usage: "unknown Intercom tokens per minute each caller (API key, or client address without keys) may have validated through /me; more is a 429", dst: &r.newTokenRate},
		{env: "MAX_TENANTS", flag: "max-tenants", def: "1000", usage: "most workspaces of callers' tokens kept (least recently used go first)", dst: &r.maxTenants},
		{env: "INTERCOM_MAX_CONNS", flag: "intercom-max-conns", def: "64", usage: "open connections to each Intercom host, shared by every workspace", dst: &r.intercomMaxConns},
		{env: "OTEL_EXPORTER_OTLP_ENDPOINT", flag: "otel-exporter-otlp-endpoint", usage: "OpenTelemetry collector to send traces to (e.g. http://localhost:4318, Jaeger's OTLP/HTTP port); empty: no tracing, at no cost", dst: &r.otlpEndpoint},
		{env: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", flag: "otel-exporter-otlp-traces-endpoint", usage: "full URL traces are sent to (e.g. http://localhost:4318/v1/traces); overrides OTEL_EXPORTER_OTLP_ENDPOINT for traces", dst: &r.otlpTracesEndpoint},
		{env: "OTEL_EXPORTER_OTLP_PROTOCOL", flag: "otel-exporter-otlp-protocol", def: "http/protobuf", usage: "OTLP protocol: http/protobuf (port 4318) or grpc (port 4317)", dst: &r.otlpProtocol},
		{env: "TALKDESK_SEARCH_DELAY", flag: "talkdesk-search-delay", def: "5m", usage: "how long Intercom's search may take to index a change: the contact sync checkpoint stays this far behind the sync's start", dst: &r.talkdeskSearchDelay},
	}
}

// Load reads the configuration. It returns flag.ErrHelp after printing the
// usage to out when asked for --help.
func Load(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var r raw
	settings := r.settings()
	fs := flag.NewFlagSet("talkdesk-intercom", flag.ContinueOnError)
	fs.SetOutput(out)
	for _, s := range settings {
		def := s.def
		if v := getenv(s.env); v != "" {
			def = v
		}
		fs.StringVar(s.dst, s.flag, def, s.usage)
	}
	fs.Usage = func() { writeUsage(out, settings) }
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q (settings are flags such as --addr=:8080)", fs.Arg(0))
	}
	return r.validate()
}

func writeUsage(out io.Writer, settings []setting) {
	fmt.Fprintf(out, "Usage: talkdesk-intercom [flags]\n\n")
	fmt.Fprintf(out, "Serves the Talkdesk ⇄ Intercom GraphQL API. Each setting is a flag or an environment variable.\n\n")
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(out, "  --%s, $%s (default %s)\n      %s\n", s.flag, s.env, def, s.usage)
	}
}

var versionPattern = regexp.MustCompile(`^(\d+\.\d+|Unstable)$`)

func (r raw) validate() (Config, error) {
	var errs []error
	bad := func(env, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{env}, args...)...))
	}
	boolean := func(env, v string, dst *bool) {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad(env, "%q is not true or false", v)
		}
		*dst = b
	}
	c := Config{
		Addr:            r.addr,
		IntercomToken:   strings.TrimSpace(r.token),
		IntercomRegion:  strings.ToLower(strings.TrimSpace(r.region)),
		IntercomVersion: r.version,
		LogFormat:       r.logFormat,
	}
	if _, _, err := net.SplitHostPort(r.addr); err != nil {
		bad("ADDR", "%q is not host:port (e.g. :8080)", r.addr)
	}
	regionURL, ok := intercom.RegionBaseURL(c.IntercomRegion)
	if !ok {
		bad("INTERCOM_REGION", "%q is not us, eu or au", r.region)
	}
	c.IntercomBaseURL = regionURL
	if r.baseURL != "" {
		u, err := url.Parse(r.baseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("INTERCOM_BASE_URL", "%q is not an http(s) URL", r.baseURL)
		}
		c.IntercomBaseURL = strings.TrimRight(r.baseURL, "/")
	}
	if !versionPattern.MatchString(r.version) {
		bad("INTERCOM_VERSION", "%q is not an Intercom API version such as 2.16", r.version)
	}
	var err error
	if c.IntercomTimeout, err = time.ParseDuration(r.timeout); err != nil || c.IntercomTimeout <= 0 {
		bad("INTERCOM_TIMEOUT", "%q is not a positive duration such as 10s", r.timeout)
	}
	if err := c.LogLevel.UnmarshalText([]byte(r.logLevel)); err != nil {
		bad("LOG_LEVEL", "%q is not debug, info, warn or error", r.logLevel)
	}
	if r.logFormat != "text" && r.logFormat != "json" {
		bad("LOG_FORMAT", "%q is not text or json", r.logFormat)
	}
	boolean("INTROSPECTION", r.introspection, &c.Introspection)
	if c.MaxBodyBytes, err = strconv.ParseInt(r.maxBody, 10, 64); err != nil || c.MaxBodyBytes < 1024 {
		bad("MAX_BODY_BYTES", "%q is not a number of bytes of at least 1024", r.maxBody)
	}
	if c.ShutdownTimeout, err = time.ParseDuration(r.shutdown); err != nil || c.ShutdownTimeout <= 0 {
		bad("SHUTDOWN_TIMEOUT", "%q is not a positive duration such as 15s", r.shutdown)
	}
	c.RedisURL = strings.TrimSpace(r.redisURL)
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			bad("REDIS_URL", "is not a redis:// or rediss:// URL") // the URL may hold a password: not echoed
		}
	}
	duration := func(env, v string, dst *time.Duration, allowZero bool) {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || (d == 0 && !allowZero) {
			bad(env, "%q is not a positive duration such as 5m", v)
		}
		*dst = d
	}
	duration("REDIS_TIMEOUT", r.redisTimeout, &c.RedisTimeout, false)
	duration("CACHE_CONTACT_TTL", r.contactTTL, &c.CacheTTL.Contact, false)
	duration("CACHE_COMPANY_TTL", r.companyTTL, &c.CacheTTL.Company, false)
	duration("CACHE_NEGATIVE_TTL", r.negativeTTL, &c.CacheTTL.Negative, false)
	duration("CACHE_INTERACTION_TTL", r.interactionTTL, &c.CacheTTL.Interactions, false)
	duration("CACHE_STALE_TTL", r.staleTTL, &c.CacheTTL.Stale, true)
	duration("LOADER_WAIT", r.loaderWait, &c.LoaderWait, true)
	duration("COMPANY_WARMUP_INTERVAL", r.companyWarmup, &c.CompanyWarmup, true)
	duration("TALKDESK_SEARCH_DELAY", r.talkdeskSearchDelay, &c.TalkdeskSearchDelay, true)
	duration("TOKEN_REJECT_TTL", r.tokenRejectTTL, &c.TokenRejectTTL, true)
	if r.publicBaseURL != "" {
		u, err := url.Parse(r.publicBaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			bad("PUBLIC_BASE_URL", "%q is not an http(s) URL such as https://bridge.example.com", r.publicBaseURL)
		}
		c.PublicBaseURL = strings.TrimRight(r.publicBaseURL, "/")
	}
	boolean("CACHE_ENABLED", r.cache, &c.CacheEnabled)
	boolean("LOADERS_ENABLED", r.loaders, &c.LoadersEnabled)
	count := func(env, v string, dst *int, lo, hi int) {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			bad(env, "%q is not a number from %d to %d", v, lo, hi)
		}
		*dst = n
	}
	c.CallLogAs, c.CallTicketType = strings.ToLower(strings.TrimSpace(r.callLogAs)), strings.TrimSpace(r.callTicketType)
	if c.CallLogAs != "note" && c.CallLogAs != "ticket" {
		bad("CALL_LOG_AS", "%q is not note or ticket", r.callLogAs)
	}
	if c.CallLogAs == "ticket" && c.CallTicketType == "" {
		bad("CALL_TICKET_TYPE", "is required when CALL_LOG_AS=ticket")
	}
	c.APIKeys = r.apiKeys
	c.ClientSecret = strings.TrimSpace(r.clientSecret)
	for _, o := range strings.Split(r.corsOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	boolean("MULTI_TENANT", r.multiTenant, &c.MultiTenant)
	boolean("PLAYGROUND", r.playground, &c.Playground)
	duration("REQUEST_TIMEOUT", r.requestTimeout, &c.RequestTimeout, false)
	count("RATE_LIMIT_PER_MINUTE", r.callerRate, &c.CallerRate, 0, 10_000_000)
	count("MAX_QUERY_DEPTH", r.maxDepth, &c.MaxQueryDepth, 2, 100)
	count("MAX_QUERY_COMPLEXITY", r.maxComplexity, &c.MaxComplexity, 10, 10_000_000)
	count("MAX_QUERY_TOKENS", r.maxTokens, &c.MaxQueryTokens, 100, 1_000_000)
	count("MAX_QUERY_FIELDS", r.maxFields, &c.MaxQueryFields, 10, 100_000)
	count("MAX_QUERY_ALIASES", r.maxAliases, &c.MaxQueryAliases, 0, 100_000)
	count("MAX_QUERY_DIRECTIVES", r.maxDirectives, &c.MaxQueryDirectives, 0, 100_000)
	count("MAX_QUERY_NESTING", r.maxNesting, &c.MaxQueryNesting, 4, 1000)
	count("MAX_QUERY_NAME_LENGTH", r.maxNameLength, &c.MaxQueryNameLength, 16, 100_000)
	count("MAX_VARIABLE_VALUES", r.maxVariableValues, &c.MaxVariableValues, 10, 10_000_000)
	count("MAX_INTERCOM_CALLS_PER_OPERATION", r.maxIntercomCalls, &c.MaxIntercomCallsPerOperation, 1, 1_000_000)
	count("MAX_ACTIONS_PER_REQUEST", r.maxActions, &c.MaxActionsPerRequest, 1, 10_000)
	count("MAX_INTROSPECTION_FIELDS", r.maxIntrospection, &c.MaxIntrospectionFields, 1, 1000)
	count("MAX_ERRORS", r.maxErrors, &c.MaxErrors, 1, 100_000)
	boolean("PERSISTED_OPERATIONS_ONLY", r.persistedOnly, &c.PersistedOnly)
	c.PersistedFile = strings.TrimSpace(r.persistedFile)
	if c.PersistedOnly && c.PersistedFile == "" {
		bad("PERSISTED_OPERATIONS_FILE", "is required when PERSISTED_OPERATIONS_ONLY=true")
	}
	count("LOADER_MAX_BATCH", r.loaderMaxBatch, &c.LoaderMaxBatch, 1, 1000)
	count("INTERCOM_RATE_LIMIT", r.intercomRate, &c.IntercomRate, 6, 1_000_000)
	count("INTERCOM_CALLER_SHARE", r.intercomCallerShare, &c.IntercomCallerShare, 1, 100)
	count("INTERCOM_INTERACTIVE_RESERVE", r.intercomInteractiveReserve, &c.IntercomInteractiveReserve, 1, 90)
	count("FETCH_CONCURRENCY", r.fetchConcurrency, &c.FetchConcurrency, 1, 256)
	count("TALKDESK_PAGE_SIZE", r.talkdeskPageSize, &c.TalkdeskPageSize, 1, 150)
	count("TALKDESK_MAX_LIST", r.talkdeskMaxList, &c.TalkdeskMaxList, 1, 1000)
	count("TOKEN_REJECT_MAX", r.tokenRejectMax, &c.TokenRejectMax, 1, 10_000_000)
	count("NEW_TOKEN_RATE_LIMIT", r.newTokenRate, &c.NewTokenRate, 1, 1_000_000)
	count("MAX_TENANTS", r.maxTenants, &c.MaxTenants, 1, 1_000_000)
	count("INTERCOM_MAX_CONNS", r.intercomMaxConns, &c.IntercomMaxConns, 1, 10_000)
	for env, v := range map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": r.otlpEndpoint, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": r.otlpTracesEndpoint} {
		if u, err := url.Parse(v); v != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
			bad(env, "%q is not an http(s) URL such as http://localhost:4318", v)
		}
	}
	c.OTLPEndpoint, c.OTLPTracesEndpoint, c.OTLPProtocol = r.otlpEndpoint, r.otlpTracesEndpoint, r.otlpProtocol
	if c.OTLPProtocol != "http/protobuf" && c.OTLPProtocol != "grpc" {
		bad("OTEL_EXPORTER_OTLP_PROTOCOL", "%q is not http/protobuf or grpc", r.otlpProtocol)
	}
	if len(errs) > 0 {
		lines := make([]string, len(errs))
		for i, e := range errs {
			lines[i] = "  " + e.Error()
		}
		return Config{}, errors.New("invalid configuration:\n" + strings.Join(lines, "\n"))
	}
	return c, nil
}
