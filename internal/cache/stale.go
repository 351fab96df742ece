package cache

import (
	"context"
	"sync/atomic"
	"time"
)

type staleKey struct{}

// StaleMarker records that a request was answered, in part, from cache
// entries that were no longer fresh (expired, or marked stale by an
// invalidation) because the upstream failed, and how old the oldest was.
type StaleMarker struct {
	served atomic.Bool
	age    atomic.Int64 // the oldest stale age served, in milliseconds
}

// Served reports whether stale data was served.
func (m *StaleMarker) Served() bool { return m != nil && m.served.Load() }

// Age is the stale age of the oldest value served: how long it had not been
// fresh (since its TTL ran out, or an invalidation marked it stale,
// whichever came first). It is at most CACHE_STALE_TTL.
func (m *StaleMarker) Age() time.Duration {
	if m == nil {
		return 0
	}
	return time.Duration(m.age.Load()) * time.Millisecond
}

// WithStaleMarker returns a context whose cache reads report stale serves to
// the returned marker.
func WithStaleMarker(ctx context.Context) (context.Context, *StaleMarker) {
	m := &StaleMarker{}
	return context.WithValue(ctx, staleKey{}, m), m
}

// StaleAge is the stale age of the oldest value the request of ctx was
// served (StaleMarker.Age), and whether any was.
func StaleAge(ctx context.Context) (time.Duration, bool) {
	m, _ := ctx.Value(staleKey{}).(*StaleMarker)
	return m.Age(), m.Served()
}

// noteStale records a stale serve of a value age old.
func noteStale(ctx context.Context, age time.Duration) {
	m, ok := ctx.Value(staleKey{}).(*StaleMarker)
	if !ok {
		return
	}
	ms := age.Milliseconds()
	for old := m.age.Load(); ms > old && !m.age.CompareAndSwap(old, ms); old = m.age.Load() {
	}
	m.served.Store(true)
}
