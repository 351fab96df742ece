package graphqlhttp

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/redis"
)

// DocumentStore shares the documents clients register between replicas.
type DocumentStore interface {
	// Get is the document registered under hash, if the store has it.
	Get(ctx context.Context, hash string) (string, bool)
	// Put keeps doc under hash, best effort: a document the store does
	// not keep is still kept in process, and a client that asks another
	// replica for it is told PersistedQueryNotFound and sends it again.
	Put(ctx context.Context, hash, doc string)
}

// RedisDocuments keeps registered documents in Redis for every replica,
// bounded in bytes for the whole fleet: each document is at most
// MAX_QUERY_BYTES and clients choose how many they register, and the Redis
// that holds them may be the one that holds idempotency records, which
// must never be pushed out (noeviction refuses writes instead, allkeys-*
// evicts them).
//
// The bound is a count of bytes stored per window of apqTTL (a hash of
// windows, one key for the fleet, Redis's clock), as the response cache's
// Redis level counts its answers: a document lives one apqTTL, so what the
// current and the last window counted bounds what Redis holds, and the
// count of a window older than that is dropped. The count therefore never
// drifts: what it remembers of expired documents is forgotten within two
// days. Past the bound a registration is kept in process only: the
// request runs as usual, which is what an Apollo client expects (it never
// sees an error for the document it sent, and resends it to a replica
// that does not know the hash).
type RedisDocuments struct {
	client   goredis.UniversalClient
	calls    redis.Calls
	maxBytes int64
	results  *prometheus.CounterVec
}

// perDocumentOverhead is what Redis spends on a key beside its name and
// value (its dictionary entry, object headers, expiry), rounded up.
const perDocumentOverhead = 96

// NewRedisDocuments keeps documents in client's Redis, at most maxBytes
// stored within any two days; m, when set, counts registrations by result.
func NewRedisDocuments(client goredis.UniversalClient, calls redis.Calls, maxBytes int64, m *metrics.Metrics) *RedisDocuments {
	d := &RedisDocuments{client: client, calls: calls, maxBytes: maxBytes}
	d.results = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "persisted_queries_redis_total",
		Help: "Registrations of automatic persisted queries in Redis by result: stored, known (already there), full (PERSISTED_QUERIES_REDIS_MAX_BYTES: kept in process only), error (Redis away or slow: kept in process only).",
	}, []string{"result"})
	if m != nil {
		m.Registry.MustRegister(d.results)
	}
	return d
}

// Get implements DocumentStore.
func (d *RedisDocuments) Get(ctx context.Context, hash string) (string, bool) {
	var doc string
	err := d.calls.Do(ctx, func(ctx context.Context) error {
		var err error
		doc, err = d.client.Get(ctx, redis.PersistedDocumentKey(hash)).Result()
		return err
	})
	return doc, err == nil
}

// Put implements DocumentStore. A document already there is not counted
// again (replicas register what their clients send); the document and the
// count live in different slots on a Cluster, hence three calls.
func (d *RedisDocuments) Put(ctx context.Context, hash, doc string) {
	key := redis.PersistedDocumentKey(hash)
	var known int64
	err := d.calls.Do(ctx, func(ctx context.Context) error {
		var err error
		known, err = d.client.Exists(ctx, key).Result()
		return err
	})
	if err != nil {
		d.count("error")
		return
	}
	if known > 0 {
		d.count("known")
		return
	}
	size := int64(len(key)+len(doc)) + perDocumentOverhead
	var reserved bool
	err = d.calls.Do(ctx, func(ctx context.Context) error {
		var err error
		reserved, err = redis.ReserveBytes(ctx, d.client, redis.PersistedBytesKey, size, apqTTL, d.maxBytes)
		return err
	})
	switch {
	case err != nil:
		d.count("error")
		return
	case !reserved:
		d.count("full")
		return
	}
	err = d.calls.Do(ctx, func(ctx context.Context) error {
		return d.client.SetNX(ctx, key, doc, apqTTL).Err()
	})
	if err != nil {
		d.count("error")
		return
	}
	d.count("stored")
}

func (d *RedisDocuments) count(result string) { d.results.WithLabelValues(result).Inc() }
