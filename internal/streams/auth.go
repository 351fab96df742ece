package streams

import (
	"context"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/talkdesk-intercom/api/internal/access"
	"github.com/talkdesk-intercom/api/internal/workspace"
	"github.com/talkdesk-intercom/api/sources"
)

// Auth authenticates a WebSocket at connection_init, as a GraphQL request
// is authenticated by its headers: a browser cannot set headers on a
// WebSocket, so the init payload may carry them instead: `apiKey` (or
// `X-API-Key`, or `Authorization: Bearer …`), and in multi-tenant mode
// `intercomToken` and `intercomRegion` (or `X-Intercom-Token`,
// `X-Intercom-Region`). Headers of the upgrade request count too. A refusal
// closes the connection with 4403.
type Auth struct {
	Keys       *access.Keys
	Workspaces *workspace.Resolver
	// Failures counts wrong API keys against the client address
	// (AUTH_FAILURES_PER_MINUTE), as for plain requests; nil: none.
	Failures *access.Failures
}

type headersKey struct{}

// WithHeaders keeps the upgrade request's headers for Init.
func WithHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), headersKey{}, r.Header)))
	})
}

// Init is gqlgen's WebsocketInitFunc.
func (a Auth) Init(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	h, _ := ctx.Value(headersKey{}).(http.Header)
	get := func(names ...string) string {
		for _, n := range names {
			if v := strings.TrimSpace(p.GetString(n)); v != "" {
				return v
			}
		}
		if h != nil {
			for _, n := range names {
				if v := strings.TrimSpace(h.Get(n)); v != "" {
					return v
				}
			}
		}
		return ""
	}
	refuse := func(err error) (context.Context, *transport.InitPayload, error) {
		ctx = transport.WithWebsocketCloseCode(ctx, closeForbidden)
		ctx = transport.AppendCloseReason(ctx, "Forbidden: "+sources.ErrorMessage(err))
		return ctx, nil, err
	}
	if a.Keys.Enabled() {
		key := get("apiKey", "X-API-Key")
		if key == "" {
			if bearer := get("Authorization"); len(bearer) > 7 && strings.EqualFold(bearer[:7], "Bearer ") {
				key = strings.TrimSpace(bearer[7:])
			}
		}
		caller, ok := a.Keys.Identify(key)
		if !ok {
			msg := "the API key is not valid"
			if key == "" {
				msg = "an API key is required: send it as apiKey in the connection_init payload"
			}
			return refuse(a.Failures.FailedIn(ctx, sources.Errorf(sources.EUnauthenticated, "%s", msg)))
		}
		ctx = sources.WithCaller(ctx, caller)
	}
	t, err := a.Workspaces.ForCredentials(ctx, get("intercomToken", "X-Intercom-Token"), get("intercomRegion", "X-Intercom-Region"))
	if err != nil {
		return refuse(err)
	}
	ctx, _ = a.Workspaces.Open(ctx, t)
	return ctx, nil, nil
}
