// Package tenants keeps one set of services per Intercom workspace: the
// configured one, and those whose tokens callers bring (the Talkdesk bridge
// sends a token with every request; GraphQL can in multi-tenant mode).
//
// A token is validated through Intercom's /me once and remembered by a hash
// of it (never the token itself as a key); everything a tenant caches, every
// idempotency key and every rate budget is scoped to its workspace.
package tenants

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/talkdesk-intercom/api/internal/actions"
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

	mu        sync.Mutex
	workspace *sources.Workspace
}

// WorkspaceID names the tenant: Intercom's workspace id, asked of /me until
// it has answered once (it never changes for a token).
func (t *Tenant) WorkspaceID(ctx context.Context) (string, error) {
	ws, err := t.Workspace(ctx)
	if err != nil {
		return "", err
	}
	return ws.ID, nil
}

// Workspace returns the workspace, validating the token on first use.
func (t *Tenant) Workspace(ctx context.Context) (*sources.Workspace, error) {
	t.mu.Lock()
	ws := t.workspace
	t.mu.Unlock()
	if ws != nil {
		return ws, nil
	}
	ws, err := t.Validator.Validate(ctx)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.workspace = ws
	t.mu.Unlock()
	return ws, nil
}

// knownWorkspace is the workspace id if validated, without asking.
func (t *Tenant) knownWorkspace() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.workspace == nil {
		return ""
	}
	return t.workspace.ID
}

type ctxKey struct{}

// With returns a context that carries t.
func With(ctx context.Context, t *Tenant) context.Context {
	return context.WithValue(ctx, ctxKey{}, t)
}

// From returns the tenant of ctx, or nil.
func From(ctx context.Context) *Tenant {
	t, _ := ctx.Value(ctxKey{}).(*Tenant)
	return t
}

// Registry builds and remembers tenants by token.
type Registry struct {
	// New builds (without any network call) the services for a token at a
	// base URL.
	New func(token, baseURL string) (*Tenant, error)
	// Max bounds how many tenants are kept (least recently used go first).
	Max int
	// RejectFor is how long a token Intercom rejected stays rejected
	// without asking again.
	RejectFor time.Duration

	mu      sync.Mutex
	tenants map[string]*entry
}

type entry struct {
	tenant   *Tenant
	used     time.Time
	rejected time.Time
	err      error
}

// Key is what a token is remembered by: a hash, so that no map, log or
// cache key ever holds the token.
func Key(token, baseURL string) string {
	sum := sha256.Sum256([]byte(baseURL + "\x00" + token))
	return hex.EncodeToString(sum[:16])
}

// ForToken returns the tenant of token at baseURL, validating the token with
// Intercom's /me the first time (UNAUTHENTICATED when Intercom rejects it).
func (r *Registry) ForToken(ctx context.Context, token, baseURL string) (*Tenant, error) {
	if token == "" {
		return nil, sources.Errorf(sources.EUnauthenticated, "an Intercom access token is required")
	}
	key := Key(token, baseURL)
	now := time.Now()
	r.mu.Lock()
	if r.tenants == nil {
		r.tenants = map[string]*entry{}
	}
	e := r.tenants[key]
	if e != nil && e.err != nil && now.Sub(e.rejected) < r.RejectFor {
		r.mu.Unlock()
		return nil, e.err
	}
	if e == nil || e.err != nil {
		t, err := r.New(token, baseURL)
		if err != nil {
			r.mu.Unlock()
			return nil, err
		}
		e = &entry{tenant: t}
		r.tenants[key] = e
		r.evictLocked()
	}
	e.used = now
	t := e.tenant
	r.mu.Unlock()

	if _, err := t.Workspace(ctx); err != nil {
		if code := sources.ErrorCode(err); code == sources.EUnauthenticated || code == sources.EForbidden {
			r.mu.Lock()
			e.err, e.rejected = err, now
			r.mu.Unlock()
		}
		return nil, err
	}
	return t, nil
}

// ByWorkspace returns a tenant the registry holds for a workspace id, or nil.
func (r *Registry) ByWorkspace(id string) *Tenant {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.tenants {
		if e.err == nil && e.tenant.knownWorkspace() == id {
			return e.tenant
		}
	}
	return nil
}

func (r *Registry) evictLocked() {
	max := r.Max
	if max <= 0 {
		max = 1000
	}
	for len(r.tenants) > max {
		var oldest string
		for k, e := range r.tenants {
			if oldest == "" || e.used.Before(r.tenants[oldest].used) {
				oldest = k
			}
		}
		delete(r.tenants, oldest)
	}
}
