// Package cache is a read-through cache in front of a source. Source is a
// decorator: it implements the same capability interfaces as the source it
// wraps, reads every batch with one MGET, fetches all misses upstream in one
// batched call, writes the results back in one pipeline, caches misses for a
// short time, collapses concurrent identical misses into one upstream call,
// and serves a value that is no longer fresh (expired, or marked stale by an
// invalidation) when the upstream fails, flagged as stale.
//
// The bytes live in a Store: Redis when REDIS_URL is set, else in process.
package cache

import (
	"context"
	"time"
)

// Store is a key-value store with expiry, used in whole batches.
type Store interface {
	// MGet returns one value per key, nil where the key is absent.
	MGet(ctx context.Context, keys []string) ([][]byte, error)
	// MSet writes every item in one round trip.
	MSet(ctx context.Context, items []Item) error
	// Del removes keys in one round trip.
	Del(ctx context.Context, keys []string) error
	// Invalidate marks the entries of inv.Stale stale and deletes those of
	// inv.Gone, in one round trip (see Invalidation).
	Invalidate(ctx context.Context, inv Invalidation) error
	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
}

// Item is one value to write and how long the store keeps it.
type Item struct {
	Key   string
	Value []byte
	TTL   time.Duration
}
