package graphqlhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/talkdesk-intercom/api/internal/web"
	"github.com/talkdesk-intercom/api/sources"
)

// Options configures the GraphQL handler.
type Options struct {
	Introspection bool
	// QueryCacheSize is how many parsed and validated queries are kept.
	QueryCacheSize int
}

// NewHandler serves schema over HTTP with a parsed-query cache, optional
// introspection, one error presenter and panic recovery.
func NewHandler(schema graphql.ExecutableSchema, opts Options) http.Handler {
	srv := handler.New(schema)
	srv.AddTransport(Transport{})
	size := opts.QueryCacheSize
	if size <= 0 {
		size = 1000
	}
	srv.SetQueryCache(lru.New[*ast.QueryDocument](size))
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	srv.SetErrorPresenter(PresentError)
	srv.SetRecoverFunc(recoverPanic)
	return srv
}

// PresentError is the one place errors become GraphQL errors: coded errors
// keep their public message and code; anything else is internal, logged with
// the request id and masked.
func PresentError(ctx context.Context, err error) *gqlerror.Error {
	gqlErr := graphql.DefaultErrorPresenter(ctx, err)
	var coded *sources.Error
	switch {
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
		gqlErr.Extensions = map[string]any{"code": "CANCELLED"}
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
	return gqlErr
}

func recoverPanic(ctx context.Context, v any) error {
	web.Logger(ctx).Error("panic in resolver", "panic", v)
	return errors.New("panic in resolver")
}
