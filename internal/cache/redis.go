package cache

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/metrics"
)

// RedisStore keeps entries in Redis. Every call has a short deadline, and
// after a failure the store is skipped for a moment: a slow or dead Redis
// costs each request at most one short wait, never an outage. go-redis
// reconnects by itself, so the cache recovers when Redis returns.
type RedisStore struct {
	client    redis.UniversalClient
	timeout   time.Duration
	backoff   time.Duration
	downUntil atomic.Int64 // unix nanos; while in the future, calls fail fast
	metrics   *metrics.Metrics
}

// ErrUnavailable is returned while the store is backing off after a failure.
var ErrUnavailable = errors.New("cache store unavailable")

// NewRedisStore wraps a go-redis client (single node, Sentinel or Cluster).
func NewRedisStore(client redis.UniversalClient, timeout time.Duration, m *metrics.Metrics) *RedisStore {
	if timeout <= 0 {
		timeout = 100 * time.Millisecond
	}
	return &RedisStore{client: client, timeout: timeout, backoff: time.Second, metrics: m}
}

// OpenRedis builds a client from REDIS_URL (one node, a Cluster or
// Sentinel: see RedisOptions); cluster is REDIS_CLUSTER.
func OpenRedis(url string, cluster bool) (redis.UniversalClient, error) {
	opts, err := RedisOptions(url, cluster)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	// The store's own deadlines are shorter; these bound a stuck socket.
	opts.DialTimeout = time.Second
	opts.ReadTimeout = time.Second
	opts.WriteTimeout = time.Second
	opts.PoolSize = 64
	return NewRedisClient(opts), nil
}

func (s *RedisStore) call(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	if time.Now().UnixNano() < s.downUntil.Load() {
		s.metrics.RedisErrors.WithLabelValues(op).Inc()
		return ErrUnavailable
	}
	// Detached from the request's cancellation: a write-back must not be cut
	// short because the client went away, and a timeout is ours to choose.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	s.metrics.RedisRoundTrips.WithLabelValues(op).Inc()
	err := fn(ctx)
	if err != nil && !errors.Is(err, redis.Nil) {
		s.metrics.RedisErrors.WithLabelValues(op).Inc()
		s.downUntil.Store(time.Now().Add(s.backoff).UnixNano())
		return fmt.Errorf("redis %s: %w", op, err)
	}
	return nil
}

func (s *RedisStore) MGet(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	err := s.call(ctx, "mget", func(ctx context.Context) error {
		vals, err := s.client.MGet(ctx, keys...).Result()
		if err != nil {
			return err
		}
		for i, v := range vals {
			if str, ok := v.(string); ok {
				out[i] = []byte(str)
			}
		}
		return nil
	})
	return out, err
}

func (s *RedisStore) MSet(ctx context.Context, items []Item) error {
	if len(items) == 0 {
		return nil
	}
	return s.call(ctx, "pipeline_set", func(ctx context.Context) error {
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, it := range items {
				p.Set(ctx, it.Key, it.Value, it.TTL)
			}
			return nil
		})
		return err
	})
}

func (s *RedisStore) Del(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	return s.call(ctx, "del", func(ctx context.Context) error {
		return s.client.Del(ctx, keys...).Err()
	})
}

// Ping checks Redis directly, ignoring the backoff, so that readiness sees
// recovery at once.
func (s *RedisStore) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout*5)
	defer cancel()
	s.metrics.RedisRoundTrips.WithLabelValues("ping").Inc()
	if err := s.client.Ping(ctx).Err(); err != nil {
		s.metrics.RedisErrors.WithLabelValues("ping").Inc()
		return err
	}
	s.downUntil.Store(0)
	return nil
}
