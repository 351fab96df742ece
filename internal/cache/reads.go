package cache

import (
	"context"
	"sync"
	"time"
)

type readsKey struct{}

// Reads records what a request's answer was built from: the cache keys it
// read (served from the cache or fetched and written back), and the least
// time any of them stays fresh. A read the cache cannot name by a key (a
// free-text search, a list, a read made before the workspace is known) makes
// the request untracked: an answer built from it cannot be told when it
// changes. The response cache (package respcache) keeps an answer with its
// keys, and drops it when an invalidation names any of them.
type Reads struct {
	mu        sync.Mutex
	keys      map[string]struct{}
	freshFor  time.Duration
	untracked bool
}

// WithReads returns a context whose cache reads are recorded in the
// returned Reads.
func WithReads(ctx context.Context) (context.Context, *Reads) {
	r := &Reads{keys: map[string]struct{}{}}
	return context.WithValue(ctx, readsKey{}, r), r
}

// Keys are the cache keys read, in no order.
func (r *Reads) Keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.keys))
	for k := range r.keys {
		out = append(out, k)
	}
	return out
}

// FreshFor is how long the least fresh value read stays fresh (ok false
// when nothing was read).
func (r *Reads) FreshFor() (d time.Duration, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.freshFor, len(r.keys) > 0
}

// Untracked reports whether something was read that no key names.
func (r *Reads) Untracked() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.untracked
}

// NoteUntracked records, for the request of ctx, a read no cache key names:
// its answer must not be kept by what it was built from.
func NoteUntracked(ctx context.Context) {
	if r, ok := ctx.Value(readsKey{}).(*Reads); ok {
		r.mu.Lock()
		r.untracked = true
		r.mu.Unlock()
	}
}

// noteRead records that the request of ctx was served key, fresh for fresh
// more.
func noteRead(ctx context.Context, key string, fresh time.Duration) {
	r, ok := ctx.Value(readsKey{}).(*Reads)
	if !ok {
		return
	}
	r.mu.Lock()
	if len(r.keys) == 0 || fresh < r.freshFor {
		r.freshFor = fresh
	}
	r.keys[key] = struct{}{}
	r.mu.Unlock()
}

// freshLeft is how long an entry fresh until freshUntil (Unix ms) stays
// fresh at now (Unix ms).
func freshLeft(freshUntil, now int64) time.Duration {
	return time.Duration(max(0, freshUntil-now)) * time.Millisecond
}
