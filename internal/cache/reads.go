package cache

import (
	"bytes"
	"context"
	"sync"
	"time"
)

type readsKey struct{}

// Reads records what a request's answer was built from: the cache keys it
// read (served from the cache or fetched and written back), the stored
// bytes of each value it used, and the least time any of them stays fresh.
// A read the cache cannot name by a key (a free-text search, a list, a read
// made before the workspace is known) makes the request untracked: an
// answer built from it cannot be told when it changes. The response cache
// (package respcache) keeps an answer with its keys, and drops it when an
// invalidation names any of them.
type Reads struct {
	mu        sync.Mutex
	keys      map[string][]byte
	freshFor  time.Duration
	untracked bool
}

// WithReads returns a context whose cache reads are recorded in the
// returned Reads.
func WithReads(ctx context.Context) (context.Context, *Reads) {
	r := &Reads{keys: map[string][]byte{}}
	return context.WithValue(ctx, readsKey{}, r), r
}

// Bytes are the keys read, each with the bytes the store holds for the
// value the request used: what the shared response cache compares with the
// store's (package respcache). A key's bytes are nil when they are not
// known (a value fetched but not written back, or read twice with
// different bytes).
func (r *Reads) Bytes() map[string][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]byte, len(r.keys))
	for k, b := range r.keys {
		out[k] = b
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
// more, from the stored bytes raw (nil when unknown).
func noteRead(ctx context.Context, key string, fresh time.Duration, raw []byte) {
	r, ok := ctx.Value(readsKey{}).(*Reads)
	if !ok {
		return
	}
	r.mu.Lock()
	if len(r.keys) == 0 || fresh < r.freshFor {
		r.freshFor = fresh
	}
	if old, seen := r.keys[key]; seen && !bytes.Equal(old, raw) {
		raw = nil // two values of one key: neither names the answer
	}
	r.keys[key] = raw
	r.mu.Unlock()
}

// freshLeft is how long an entry fresh until freshUntil (Unix ms) stays
// fresh at now (Unix ms).
func freshLeft(freshUntil, now int64) time.Duration {
	return time.Duration(max(0, freshUntil-now)) * time.Millisecond
}
