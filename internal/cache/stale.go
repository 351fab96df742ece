package cache

import (
	"context"
	"sync/atomic"
)

type staleKey struct{}

// StaleMarker records that a request was answered, in part, from expired
// cache entries because the upstream failed.
type StaleMarker struct{ served atomic.Bool }

// Served reports whether stale data was served.
func (m *StaleMarker) Served() bool { return m != nil && m.served.Load() }

// WithStaleMarker returns a context whose cache reads report stale serves to
// the returned marker.
func WithStaleMarker(ctx context.Context) (context.Context, *StaleMarker) {
	m := &StaleMarker{}
	return context.WithValue(ctx, staleKey{}, m), m
}

// StaleServed reports whether the request of ctx was served stale data.
func StaleServed(ctx context.Context) bool {
	m, _ := ctx.Value(staleKey{}).(*StaleMarker)
	return m.Served()
}

func markStale(ctx context.Context) {
	if m, ok := ctx.Value(staleKey{}).(*StaleMarker); ok {
		m.served.Store(true)
	}
}
