package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/redis"
)

// RedisStore keeps entries in Redis. Every call is bounded by the timeout,
// and while Redis is away the store is skipped (redis.Health): a slow or
// dead Redis costs a request at most one timeout, never an outage.
type RedisStore struct {
	health  *redis.Health
	client  goredis.UniversalClient
	metrics *metrics.Metrics
}

// NewRedisStore wraps a go-redis client (single node, Sentinel or Cluster)
// with a redis.Health of its own.
func NewRedisStore(client goredis.UniversalClient, timeout time.Duration, m *metrics.Metrics) *RedisStore {
	return NewRedisStoreWith(redis.NewHealth(client, timeout, nil), m)
}

// NewRedisStoreWith is a store on a redis.Health other Redis users share.
func NewRedisStoreWith(h *redis.Health, m *metrics.Metrics) *RedisStore {
	return &RedisStore{health: h, client: h.Client(), metrics: m}
}

func (s *RedisStore) call(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	if !s.health.Up() {
		s.metrics.RedisErrors.WithLabelValues(op).Inc()
		return redis.ErrUnavailable
	}
	s.metrics.RedisRoundTrips.WithLabelValues(op).Inc()
	err := s.health.Do(ctx, fn)
	if err != nil && !errors.Is(err, goredis.Nil) {
		s.metrics.RedisErrors.WithLabelValues(op).Inc()
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
		if err != nil && len(keys) > 1 && slotMoving(err) {
			vals, err = s.getEach(ctx, keys)
		}
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
		_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
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
		err := s.client.Del(ctx, keys...).Err()
		if err != nil && len(keys) > 1 && slotMoving(err) {
			s.metrics.RedisRoundTrips.WithLabelValues("pipeline_del").Inc()
			_, err = s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
				for _, k := range keys {
					p.Del(ctx, k)
				}
				return nil
			})
		}
		return err
	})
}

// marker is markScript, sent by its SHA and loaded when Redis lacks it.
var marker = goredis.NewScript(markScript)

// Invalidate marks and deletes in one script (markScript): one round trip.
func (s *RedisStore) Invalidate(ctx context.Context, inv Invalidation) error {
	if len(inv.Stale)+len(inv.Gone) == 0 {
		return nil
	}
	keys := append(append(make([]string, 0, len(inv.Stale)+len(inv.Gone)), inv.Stale...), inv.Gone...)
	args := []any{len(inv.Stale), string(staleMark) + strconv.FormatInt(inv.At.UnixMilli(), 10) + ";", inv.Keep.Milliseconds()}
	return s.call(ctx, "mark_stale", func(ctx context.Context) error {
		err := marker.Run(ctx, s.client, keys, args...).Err()
		if err != nil && len(keys) > 1 && slotMoving(err) {
			// One script a key, which a slot being migrated serves.
			s.metrics.RedisRoundTrips.WithLabelValues("pipeline_mark_stale").Inc()
			_, err = s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
				for i, k := range keys {
					n := 0
					if i < len(inv.Stale) {
						n = 1
					}
					p.Eval(ctx, markScript, []string{k}, n, args[1], args[2])
				}
				return nil
			})
		}
		return err
	})
}

// slotMoving says whether err is a Redis Cluster refusing a command over
// several keys of one slot because the slot is being migrated to another
// master: TRYAGAIN while the keys are on both sides or missing on the
// target, or the MOVED or ASK go-redis ends on once it has spent its
// redirects on TRYAGAIN. A command of one key is always served during a
// migration (the source sends it to the target with ASK, which go-redis
// follows), so the keys are then asked one command each.
func slotMoving(err error) bool {
	if goredis.IsTryAgainError(err) {
		return true
	}
	if _, ok := goredis.IsMovedError(err); ok {
		return true
	}
	_, ok := goredis.IsAskError(err)
	return ok
}

// getEach is MGET as one GET a key, in one pipeline: what a slot being
// migrated serves (slotMoving).
func (s *RedisStore) getEach(ctx context.Context, keys []string) ([]any, error) {
	s.metrics.RedisRoundTrips.WithLabelValues("pipeline_get").Inc()
	cmds, _ := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, k := range keys {
			p.Get(ctx, k)
		}
		return nil
	})
	vals := make([]any, len(keys))
	for i, c := range cmds {
		v, err := c.(*goredis.StringCmd).Result()
		switch {
		case err == nil:
			vals[i] = v
		case !errors.Is(err, goredis.Nil): // a missing key is nil, as in MGET's answer
			return nil, err
		}
	}
	return vals, nil
}

// Ping checks Redis directly, even while it is thought away, so that
// readiness sees recovery at once (redis.Health.Ping).
func (s *RedisStore) Ping(ctx context.Context) error {
	s.metrics.RedisRoundTrips.WithLabelValues("ping").Inc()
	if err := s.health.Ping(ctx); err != nil {
		s.metrics.RedisErrors.WithLabelValues("ping").Inc()
		return err
	}
	return nil
}
