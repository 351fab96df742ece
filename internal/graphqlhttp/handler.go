package graphqlhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/trace"

	"github.com/talkdesk-intercom/api/internal/access"
	"github.com/talkdesk-intercom/api/internal/cache"
	"github.com/talkdesk-intercom/api/internal/cost"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/web"
	"github.com/talkdesk-intercom/api/sources"
)

// Options configures the GraphQL handler.
type Options struct {
	Introspection bool
	// Metrics, when set, receives operation latency by operation name.
	Metrics *metrics.Metrics
	// QueryCacheMaxBytes bounds the parsed and validated queries kept.
	QueryCacheMaxBytes int64
	// Limits bound what one request may cost; Costs is the cost model
	// that the operation limits estimate with.
	Limits Limits
	Costs  cost.Model
	// MaxURLBytes bounds a GET request's query string (MAX_BODY_BYTES).
	MaxURLBytes int64
	// PersistedStore shares automatic persisted queries between replicas
	// (RedisDocuments); nil keeps them in process only. Each replica also
	// keeps those it has seen in process, within PersistedMaxBytes.
	PersistedStore    DocumentStore
	PersistedMaxBytes int64
	// TrustedDocuments, when PersistedOnly, are the only operations that
	// run (by their SHA-256); they also answer APQ hashes without a store.
	TrustedDocuments map[string]string
	PersistedOnly    bool
	// Tracer, when set, traces operations and resolvers (package telemetry).
	Tracer graphql.HandlerExtension
	// Budget is each caller's cost budget, spent by every operation's
	// complexity; InFlight caps each caller's running operations. Nil:
	// none.
	Budget   *access.Budget
	InFlight *access.InFlight
	// Streams are transports tried before GET and POST (package streams:
	// WebSocket, SSE, multipart/mixed), and Extensions what they need.
	// A field interceptor among them (or the Tracer) sees the fields that
	// have resolvers, not the plain struct fields, which the generated
	// code marshals in place (cmd/gqlgen's plainField).
	Streams    []graphql.Transport
	Extensions []graphql.HandlerExtension
}

// defaultQueryCacheBytes bounds the parsed queries kept when
// QueryCacheMaxBytes is not given.
const defaultQueryCacheBytes = 32 << 20

// defaultPersistedBytes bounds the persisted documents kept in process
// when PersistedMaxBytes is not given.
const defaultPersistedBytes = 8 << 20

// NewHandler serves schema over HTTP with a parsed-query cache, optional
// introspection, persisted queries, the cost limits, one error presenter
// and panic recovery.
func NewHandler(schema graphql.ExecutableSchema, opts Options) http.Handler {
	srv := handler.New(schema)
	for _, t := range opts.Streams {
		srv.AddTransport(t)
	}
	transport := Transport{MaxErrors: opts.Limits.MaxErrors, MaxURLBytes: opts.MaxURLBytes}
	if opts.Budget != nil || opts.InFlight != nil {
		transport.admission = &admission{limits: opts.Limits, budget: opts.Budget, inflight: opts.InFlight}
	}
	srv.AddTransport(transport)
	if transport.admission != nil {
		srv.Use(streamAdmission{*transport.admission}) // the streams pay too
	}
	queryBytes := opts.QueryCacheMaxBytes
	if queryBytes <= 0 {
		queryBytes = defaultQueryCacheBytes
	}
	srv.SetQueryCache(newQueryCache(queryBytes))
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.SetDisableSuggestion(true) // suggestions would name the schema's fields
	}
	localBytes := opts.PersistedMaxBytes
	if localBytes <= 0 {
		localBytes = defaultPersistedBytes
	}
	docs := &documents{local: cache.NewMemoryStore(localBytes), shared: opts.PersistedStore}
	// Order matters: the persisted document is found first, then its size
	// is checked, then (after validation) its cost.
	srv.Use(persistedQueries{docs: docs, trusted: opts.TrustedDocuments, only: opts.PersistedOnly})
	srv.Use(documentLimits{opts.Limits})
	srv.Use(operationLimits{Limits: opts.Limits, model: opts.Costs, introspection: opts.Introspection})
	srv.Use(apqRegistration{docs: docs})
	if opts.Tracer != nil {
		srv.Use(opts.Tracer)
	}
	for _, e := range opts.Extensions {
		srv.Use(e)
	}
	srv.SetErrorPresenter(PresentError)
	srv.SetRecoverFunc(recoverPanic)
	// Bulk root fields mark their context, which every field under them
	// inherits (a resolver's own context would not reach its children).
	srv.AroundRootFields(func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		// gqlgen names the field, not its type, in RootFieldContext.Object;
		// bulk fields are all on Query.
		fc := graphql.GetRootFieldContext(ctx)
		if fc != nil && graphql.GetOperationContext(ctx).Operation.Operation == ast.Query &&
			opts.Costs["Query."+fc.Field.Name].Bulk {
			ctx = sources.WithPriority(ctx, sources.Bulk)
		}
		return next(ctx)
	})
	names := newOperationNames(100)
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if resp == nil {
			return nil
		}
		if age, stale := cache.StaleAge(ctx); stale {
			// Part of the answer is no longer fresh (expired, or changed
			// since it was read): Intercom failed, or was not asked, and the
			// last known value was served instead. staleAgeSeconds is how
			// long the oldest such value has not been fresh.
			if resp.Extensions == nil {
				resp.Extensions = map[string]any{}
			}
			resp.Extensions["stale"] = true
			resp.Extensions["staleAgeSeconds"] = int64(age / time.Second)
			if opts.Metrics != nil {
				opts.Metrics.StaleAnswers.WithLabelValues("graphql").Inc()
				opts.Metrics.StaleAge.Observe(age.Seconds())
			}
		}
		if opts.Metrics != nil && graphql.HasOperationContext(ctx) {
			oc := graphql.GetOperationContext(ctx)
			opName := oc.OperationName
			if opName == "" && oc.Operation != nil {
				opName = oc.Operation.Name // named in the document, not in the request
			}
			name := names.label(opName)
			result := "ok"
			if len(resp.Errors) > 0 {
				result = "error"
			}
			opts.Metrics.GraphQLLatency.WithLabelValues(name).Observe(time.Since(oc.Stats.OperationStart).Seconds())
			opts.Metrics.GraphQLRequests.WithLabelValues(name, result).Inc()
		}
		return resp
	})
	return srv
}

// operationNames bounds the operation-name label: clients choose names, and
// an unbounded label would grow the metrics without end.
type operationNames struct {
	mu    sync.Mutex
	seen  map[string]bool
	limit int
}

func newOperationNames(limit int) *operationNames {
	return &operationNames{seen: map[string]bool{}, limit: limit}
}

var validOperationName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

func (o *operationNames) label(name string) string {
	if name == "" {
		return "anonymous"
	}
	if !validOperationName.MatchString(name) {
		return "other"
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen[name] {
		return name
	}
	if len(o.seen) >= o.limit {
		return "other"
	}
	o.seen[name] = true
	return name
}

// PresentError is the one place errors become GraphQL errors: coded errors
// keep their public message and code; anything else is internal, logged with
// the request id and masked.
func PresentError(ctx context.Context, err error) *gqlerror.Error {
	gqlErr := graphql.DefaultErrorPresenter(ctx, err)
	var coded *sources.Error
	var partial *sources.PartialError
	switch {
	case errors.As(err, &partial):
		// Some kinds of interactions failed, the others were returned.
		gqlErr.Message = partial.Error()
		failed := []string{}
		for _, k := range partial.Kinds() {
			failed = append(failed, strings.ToUpper(string(k)))
		}
		gqlErr.Extensions = map[string]any{"code": sources.ErrorCode(err), "failedTypes": failed}
		web.Logger(ctx).Warn("partial interactions", "path", gqlErr.Path.String(), "error", err)
	case errors.As(err, &coded):
		gqlErr.Message = coded.Message
		ext := map[string]any{"code": coded.Code}
		if coded.Field != "" && coded.Code == sources.EBadUserInput {
			ext["field"] = coded.Field
		}
		if coded.RetryAfterSeconds > 0 {
			ext["retryAfterSeconds"] = coded.RetryAfterSeconds
		}
		if coded.Err != nil && coded.Code != sources.EBadUserInput && coded.Code != sources.ENotFound {
			web.Logger(ctx).Warn("graphql error", "code", coded.Code, "path", gqlErr.Path.String(), "error", coded.Err)
		}
		gqlErr.Extensions = ext
	case errors.Is(err, context.Canceled):
		gqlErr.Message = "the request was cancelled"
		gqlErr.Extensions = map[string]any{"code": sources.ECancelled}
	case errors.Is(err, context.DeadlineExceeded):
		gqlErr.Message = "the request timed out"
		gqlErr.Extensions = map[string]any{"code": sources.EUpstreamUnavailable}
	case errors.As(err, new(*gqlerror.Error)) && errors.Unwrap(err) == nil:
		// gqlgen's own request errors (parse, validation, variables) are
		// written for the client already.
		if gqlErr.Extensions == nil || gqlErr.Extensions["code"] == nil {
			gqlErr.Extensions = map[string]any{"code": sources.EBadUserInput}
		}
	default:
		web.Logger(ctx).Error("internal error", "path", gqlErr.Path.String(), "error", err)
		gqlErr.Message = fmt.Sprintf("internal error (request %s)", web.RequestID(ctx))
		gqlErr.Extensions = map[string]any{"code": sources.EInternal}
	}
	// The trace id lets a client's report be found among the traces.
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		if gqlErr.Extensions == nil {
			gqlErr.Extensions = map[string]any{}
		}
		gqlErr.Extensions["traceId"] = sc.TraceID().String()
	}
	return gqlErr
}

func recoverPanic(ctx context.Context, v any) error {
	web.Logger(ctx).Error("panic in resolver", "panic", v, "stack", string(debug.Stack()))
	return errors.New("panic in resolver")
}
