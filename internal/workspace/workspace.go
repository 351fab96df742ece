// Package workspace resolves, once per request, the Intercom workspace the
// request works on, and puts it in the request's context with the services
// the request uses: the tenant's sources, cache and actions, and loaders of
// its own. GraphQL resolves it from the request's headers (Middleware), the
// Talkdesk bridge from the credentials in its body (Open); both go through
// Open, and everything below reads it with From.
package workspace

import (
	"context"
	"net/http"
	"time"

	"github.com/talkdesk-intercom/api/internal/access"
	"github.com/talkdesk-intercom/api/internal/cache"
	"github.com/talkdesk-intercom/api/internal/identity"
	"github.com/talkdesk-intercom/api/internal/loaders"
	"github.com/talkdesk-intercom/api/internal/tenants"
	"github.com/talkdesk-intercom/api/sources"
)

// Workspace is one request's workspace: its tenant's services and the
// request's own loaders (which batch under this request's credentials only).
type Workspace struct {
	*tenants.Tenant
	Loaders *loaders.Loaders
	// Customer is the customer's own database with loaders of this
	// request; nil when none is configured or the request works on a
	// workspace other than the configured one (the database belongs to
	// the deployment, not to callers' tokens).
	Customer *Peer
	// Identity is how contacts of several sources become one person.
	Identity identity.Rules
}

// Peer is a source beside Intercom (the customer's database), as one
// request reads it.
type Peer struct {
	Name    string
	Source  sources.ContactFinder
	Loaders *loaders.Loaders
	// Timeout is the most a caller lookup waits for it.
	Timeout time.Duration
}

// PeerSource is a source beside Intercom, as the server builds it once.
type PeerSource struct {
	Name    string
	Source  sources.Source // through the cache
	History sources.InteractionFinder
	Timeout time.Duration
}

type ctxKey struct{}

// From returns the workspace of the request ctx belongs to. A request
// without one is a server fault (a route without the workspace middleware),
// never a reason to serve another workspace.
func From(ctx context.Context) (*Workspace, error) {
	if w, ok := ctx.Value(ctxKey{}).(*Workspace); ok {
		return w, nil
	}
	return nil, sources.Errorf(sources.EInternal, "this request has no workspace: its route lacks the workspace middleware")
}

// Resolver finds the workspace of a request's credentials.
type Resolver struct {
	// Main is the configured workspace (INTERCOM_TOKEN, or the demo).
	Main *tenants.Tenant
	// Tenants are the workspaces whose tokens callers bring.
	Tenants *tenants.Registry
	// MultiTenant makes GraphQL callers bring their own token
	// (X-Intercom-Token) instead of using Main.
	MultiTenant bool
	// BaseURL is the Intercom API base URL for a region (us, eu, au; ""
	// for the configured one).
	BaseURL func(region string) (string, error)
	// Loaders configures each request's loaders.
	Loaders loaders.Config
	// Customer is the customer's database, joined to Main's requests; nil
	// when none.
	Customer *PeerSource
	// Identity is identity resolution's rules.
	Identity identity.Rules
}

// Open returns ctx carrying tenant's workspace, with fresh loaders whose
// batches stop when ctx ends, and a marker that tells whether anything served
// was stale.
func (res *Resolver) Open(ctx context.Context, t *tenants.Tenant) (context.Context, *Workspace) {
	ctx, _ = cache.WithStaleMarker(ctx)
	w := &Workspace{Tenant: t, Loaders: loaders.ForRequest(ctx, t.Source, t.History, res.Loaders), Identity: res.Identity}
	if c := res.Customer; c != nil && res.isMain(t) {
		w.Customer = &Peer{Name: c.Name, Source: c.Source, Timeout: c.Timeout,
			Loaders: loaders.ForRequest(ctx, c.Source, c.History, res.Loaders)}
	}
	return context.WithValue(ctx, ctxKey{}, w), w
}

// isMain reports whether t is the configured workspace: Main itself, or
// the tenant of a token of the same Intercom workspace (the bridge's
// calls bring the token Talkdesk stores).
func (res *Resolver) isMain(t *tenants.Tenant) bool {
	if t == res.Main {
		return true
	}
	id, ok := t.ID.Get()
	main, mainOK := res.Main.ID.Get()
	return ok && mainOK && id == main
}

// Middleware resolves the workspace of a GraphQL request: the configured
// one, or in multi-tenant mode the one whose Intercom token the caller sends
// (X-Intercom-Token, X-Intercom-Region), validated once through /me and
// remembered by a hash of the token. refuse answers a request whose
// workspace cannot be told.
func (res *Resolver) Middleware(refuse access.Refuse) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t, err := res.tenantOf(r)
			if err != nil {
				refuse(w, r, err)
				return
			}
			ctx, _ := res.Open(r.Context(), t)
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

func (res *Resolver) tenantOf(r *http.Request) (*tenants.Tenant, error) {
	return res.ForCredentials(r.Context(), r.Header.Get("X-Intercom-Token"), r.Header.Get("X-Intercom-Region"))
}

// ForCredentials is the workspace of a caller's Intercom token and region
// (the configured workspace unless the server is multi-tenant): what a
// request's headers, or a WebSocket's connection_init, bring.
func (res *Resolver) ForCredentials(ctx context.Context, token, region string) (*tenants.Tenant, error) {
	if !res.MultiTenant {
		return res.Main, nil
	}
	if token == "" {
		return nil, sources.Errorf(sources.EUnauthenticated,
			"this server is multi-tenant: send your Intercom access token as X-Intercom-Token")
	}
	baseURL, err := res.BaseURL(region)
	if err != nil {
		return nil, err
	}
	return res.Tenants.ForToken(ctx, token, baseURL)
}
