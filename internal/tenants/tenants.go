// Package tenants keeps one set of services per Intercom workspace: the
// configured one, and those whose tokens callers bring (the Talkdesk bridge
// sends a token with every request; GraphQL can in multi-tenant mode).
//
// A token is validated through Intercom's /me once and remembered by a hash
// of it (never the token itself as a key); only then are its services built.
// Everything a tenant caches, every idempotency key and every rate budget is
// scoped to its workspace.
package tenants

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/maypok86/otter/v2"
	"golang.org/x/sync/singleflight"

	"github.com/talkdesk-intercom/api/internal/actions"
	"github.com/talkdesk-intercom/api/internal/bounded"
	"github.com/talkdesk-intercom/api/sources"
)

// Tenant is one workspace's services.
type Tenant struct {
	// Validator is the raw Intercom client: /me names the workspace.
	Validator sources.CredentialValidator
	// Source reads contacts, companies, agents (through the cache when on).
	Source sources.Source
	// History reads interactions (through the cache when on).
	History sources.InteractionFinder
	// Actions runs the write side.
	Actions *actions.Service
	// Invalidator drops cached entries made stale by changes; nil without
	// a cache.
	Invalidator sources.Invalidator
	// ID is the workspace's id once known, the one copy of it: the
	// tenant's services were handed it when they were built, and the source
	// learns it from /me.
	ID *sources.WorkspaceID
}

// Workspace asks the source which workspace the token works on (its /me).
func (t *Tenant) Workspace(ctx context.Context) (*sources.Workspace, error) {
	return t.Validator.Validate(ctx)
}

// Registry remembers the tenants of validated tokens, and the tokens
// Intercom rejected, both by a hash of the token.
//
// An unknown token costs one /me call and nothing else: it is validated
// first, and only a token Intercom accepts gets its services built and kept.
// Concurrent first requests with one token share that call, a rejected token
// is refused from memory for a while, and AllowNew bounds how many unknown
// tokens each caller may have validated.
type Registry struct {
	// Validate asks Intercom (/me) whether token works at baseURL.
	Validate func(ctx context.Context, token, baseURL string) (*sources.Workspace, error)
	// New builds (without any network call) the services of a validated
	// token's workspace.
	New func(token, baseURL string, ws *sources.Workspace) (*Tenant, error)
	// AllowNew, when set, is asked before an unknown token is validated; it
	// says how long the caller of ctx must wait when it may not.
	AllowNew func(ctx context.Context) (wait time.Duration, ok bool)
	// Max bounds how many tenants are kept (the least used go first, see
	// package bounded).
	Max int
	// RejectFor is how long a token Intercom rejected stays rejected
	// without asking again; MaxRejected bounds how many are remembered.
	RejectFor   time.Duration
	MaxRejected int

	// The maps are made on first use: a Registry is configured by its
	// fields.
	once     sync.Once
	clock    *bounded.Clock                // nil: the wall clock
	tenants  *otter.Cache[string, *Tenant] // by Key
	rejected *otter.Cache[string, error]   // by Key; nil when RejectFor is 0
	flights  singleflight.Group
}

func (r *Registry) init() {
	r.once.Do(func() {
		r.tenants = bounded.New(otter.Options[string, *Tenant]{MaximumSize: cmp.Or(max(r.Max, 0), 1000)}, r.clock)
		if r.RejectFor > 0 {
			r.rejected = bounded.New(otter.Options[string, error]{
				MaximumSize:      cmp.Or(max(r.MaxRejected, 0), 10_000),
				ExpiryCalculator: otter.ExpiryWriting[string, error](r.RejectFor),
			}, r.clock)
		}
	})
}

// Key is what a token is remembered by: a hash, so that no map, log or
// cache key ever holds the token.
func Key(token, baseURL string) string {
	sum := sha256.Sum256([]byte(baseURL + "\x00" + token))
	return hex.EncodeToString(sum[:16])
}

// ForToken returns the tenant of token at baseURL, validating the token with
// Intercom's /me the first time (UNAUTHENTICATED when Intercom rejects it,
// RATE_LIMITED when the caller has had too many unknown tokens validated).
func (r *Registry) ForToken(ctx context.Context, token, baseURL string) (*Tenant, error) {
	return r.open(ctx, token, baseURL, false)
}

// Revalidate is ForToken asking Intercom now even for a known token, so that
// a token revoked since is refused (Talkdesk's activation does this).
// Concurrent calls with one token share one /me call.
func (r *Registry) Revalidate(ctx context.Context, token, baseURL string) (*Tenant, error) {
	return r.open(ctx, token, baseURL, true)
}

// Len is the number of tenants kept.
func (r *Registry) Len() int {
	r.init()
	return r.tenants.EstimatedSize()
}

func (r *Registry) open(ctx context.Context, token, baseURL string, fresh bool) (*Tenant, error) {
	if err := CheckToken(token); err != nil {
		return nil, err
	}
	key := Key(token, baseURL)
	r.init()
	if r.rejected != nil {
		if err, ok := r.rejected.GetIfPresent(key); ok {
			return nil, err
		}
	}
	t, known := r.tenants.GetIfPresent(key)
	if known && !fresh {
		return t, nil
	}

	// The call is shared: it must not fail for every caller because the
	// first one left. The Intercom client bounds it with its own timeout.
	ch := r.flights.DoChan(key, func() (any, error) {
		return r.validate(context.WithoutCancel(ctx), token, baseURL, key, known)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Tenant), nil
	case <-ctx.Done():
		return nil, sources.Errorf(sources.EUpstreamUnavailable, "the request ended while Intercom was validating the token")
	}
}

// validate asks /me and keeps the outcome: a tenant for an accepted token,
// a rejection for a refused one (a transient failure is not remembered).
func (r *Registry) validate(ctx context.Context, token, baseURL, key string, known bool) (*Tenant, error) {
	if !known && r.AllowNew != nil {
		if wait, ok := r.AllowNew(ctx); !ok {
			secs := int((wait + time.Second - 1) / time.Second)
			return nil, &sources.Error{Code: sources.ERateLimited, RetryAfterSeconds: max(secs, 1),
				Message: fmt.Sprintf("too many new Intercom tokens from this caller; retry in %d s", max(secs, 1))}
		}
	}
	ws, err := r.Validate(ctx, token, baseURL)
	if err != nil {
		if code := sources.ErrorCode(err); code == sources.EUnauthenticated || code == sources.EForbidden {
			r.reject(key, err)
		}
		return nil, err
	}
	var newErr error
	t, ok := r.tenants.ComputeIfAbsent(key, func() (*Tenant, bool) {
		t, err := r.New(token, baseURL, ws) // built knowing its workspace
		newErr = err
		return t, err != nil
	})
	if !ok {
		return nil, newErr
	}
	return t, nil
}

// reject remembers that Intercom refused a token, and forgets its tenant.
func (r *Registry) reject(key string, err error) {
	r.tenants.Invalidate(key)
	if r.rejected != nil {
		r.rejected.Set(key, err)
	}
}

// CheckToken refuses a token no Intercom token can be: empty, or holding
// control characters (which could not even be sent in a header). Asking
// Intercom about it would fail as a transport error, a 503 that invites
// retries, when the caller's credential is simply wrong.
func CheckToken(token string) error {
	if token == "" {
		return sources.Errorf(sources.EUnauthenticated, "an Intercom access token is required")
	}
	if strings.ContainsFunc(token, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return sources.Errorf(sources.EUnauthenticated, "the Intercom access token holds control characters: it cannot be valid")
	}
	return nil
}

// ByWorkspace returns a tenant the registry holds for a workspace id, or nil.
func (r *Registry) ByWorkspace(id string) *Tenant {
	r.init()
	for _, t := range r.tenants.All() {
		if got, ok := t.ID.Get(); ok && got == id {
			return t
		}
	}
	return nil
}
