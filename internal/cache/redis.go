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

// ErrUnavailable is returned while Redis is away (see RedisHealth).
var ErrUnavailable = errors.New("cache store unavailable")

// OpenRedis builds a client from REDIS_URL (one node, a Cluster or
// Sentinel: see RedisOptions; cluster is REDIS_CLUSTER) whose every call,
// dials and waits for a pooled connection included, is bounded by the
// deadline of its context: go-redis honours a context's deadline only with
// ContextTimeoutEnabled, and otherwise waits out its own socket timeouts.
// timeout (REDIS_TIMEOUT) is also the socket timeout, for a call without one.
func OpenRedis(url string, cluster bool, timeout time.Duration) (redis.UniversalClient, error) {
	opts, err := RedisOptions(url, cluster)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if timeout <= 0 {
		timeout = 100 * time.Millisecond
	}
	opts.ContextTimeoutEnabled = true
	opts.DialTimeout = timeout
	opts.ReadTimeout = timeout
	opts.WriteTimeout = timeout
	opts.PoolTimeout = timeout
	opts.PoolSize = 64
	// No sleep between go-redis's own retries: its backoff (up to 170 ms
	// over a Cluster's TRYAGAIN while a slot migrates, 8–512 ms after a
	// network error) is longer than REDIS_TIMEOUT, so the call would time
	// out, Redis be taken for away, and the store's own fallback (key by
	// key while a slot migrates) never run.
	opts.MinRetryBackoff = -1
	return NewRedisClient(opts), nil
}

// RedisHealth bounds every Redis call by one timeout, and remembers that
// Redis is away: after a call fails, calls fail fast with ErrUnavailable
// while a background probe pings Redis until it answers. A request
// therefore pays at most one timeout when Redis dies or freezes, and every
// store sharing the RedisHealth (the cache, the idempotency records) skips
// Redis together. go-redis reconnects by itself; the probe only says when.
type RedisHealth struct {
	client  redis.UniversalClient
	timeout time.Duration
	every   time.Duration // between probes
	// onChange, when set, is told when Redis goes away (err says why) and
	// when it returns (err is nil): one line each, not one per call.
	onChange func(up bool, err error)

	down      atomic.Bool
	downSince atomic.Int64 // unix nanos of the failure that made it away
	probing   atomic.Bool
}

// NewRedisHealth watches client; timeout bounds each call (default 100 ms).
func NewRedisHealth(client redis.UniversalClient, timeout time.Duration, onChange func(up bool, err error)) *RedisHealth {
	if timeout <= 0 {
		timeout = 100 * time.Millisecond
	}
	return &RedisHealth{client: client, timeout: timeout, every: 250 * time.Millisecond, onChange: onChange}
}

// Client is the watched client.
func (h *RedisHealth) Client() redis.UniversalClient { return h.client }

// Up says whether Redis answered the last call or probe.
func (h *RedisHealth) Up() bool { return !h.down.Load() }

// AwaySince is when Redis went away, zero while it answers.
func (h *RedisHealth) AwaySince() time.Time {
	if !h.down.Load() {
		return time.Time{}
	}
	return time.Unix(0, h.downSince.Load())
}

// Do runs fn with a context bounded by the timeout and detached from ctx's
// cancellation (a write-back must not be cut short because the client went
// away, and the timeout is ours to choose), or fails fast while Redis is
// away. redis.Nil and Redis's error replies (a script's error) mean Redis
// answered: they pass through and count as up.
func (h *RedisHealth) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	if h.down.Load() {
		return ErrUnavailable
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.timeout)
	defer cancel()
	err := fn(ctx)
	if err != nil && !answered(err) {
		h.wentAway(err)
	}
	return err
}

func answered(err error) bool {
	var reply redis.Error // redis.Nil is one too
	return errors.As(err, &reply)
}

func (h *RedisHealth) wentAway(err error) {
	h.downSince.CompareAndSwap(0, time.Now().UnixNano())
	if !h.down.CompareAndSwap(false, true) {
		return
	}
	if h.onChange != nil {
		h.onChange(false, err)
	}
	if h.probing.CompareAndSwap(false, true) {
		go h.probe()
	}
}

// probe pings Redis until it answers (or the client is closed).
func (h *RedisHealth) probe() {
	defer h.probing.Store(false)
	for {
		time.Sleep(h.every)
		ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
		err := h.client.Ping(ctx).Err()
		cancel()
		switch {
		case err == nil:
			h.cameBack()
			return
		case errors.Is(err, redis.ErrClosed):
			return
		}
	}
}

func (h *RedisHealth) cameBack() {
	h.downSince.Store(0)
	if h.down.CompareAndSwap(true, false) && h.onChange != nil {
		h.onChange(true, nil)
	}
}

// RedisStore keeps entries in Redis. Every call is bounded by the timeout,
// and while Redis is away the store is skipped (RedisHealth): a slow or
// dead Redis costs a request at most one timeout, never an outage.
type RedisStore struct {
	health  *RedisHealth
	client  redis.UniversalClient
	metrics *metrics.Metrics
}

// NewRedisStore wraps a go-redis client (single node, Sentinel or Cluster)
// with a RedisHealth of its own.
func NewRedisStore(client redis.UniversalClient, timeout time.Duration, m *metrics.Metrics) *RedisStore {
	return NewRedisStoreWith(NewRedisHealth(client, timeout, nil), m)
}

// NewRedisStoreWith is a store on a RedisHealth other stores share.
func NewRedisStoreWith(h *RedisHealth, m *metrics.Metrics) *RedisStore {
	return &RedisStore{health: h, client: h.client, metrics: m}
}

func (s *RedisStore) call(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	if !s.health.Up() {
		s.metrics.RedisErrors.WithLabelValues(op).Inc()
		return ErrUnavailable
	}
	s.metrics.RedisRoundTrips.WithLabelValues(op).Inc()
	err := s.health.Do(ctx, fn)
	if err != nil && !errors.Is(err, redis.Nil) {
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
		err := s.client.Del(ctx, keys...).Err()
		if err != nil && len(keys) > 1 && slotMoving(err) {
			s.metrics.RedisRoundTrips.WithLabelValues("pipeline_del").Inc()
			_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, k := range keys {
					p.Del(ctx, k)
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
	if redis.IsTryAgainError(err) {
		return true
	}
	if _, ok := redis.IsMovedError(err); ok {
		return true
	}
	_, ok := redis.IsAskError(err)
	return ok
}

// getEach is MGET as one GET a key, in one pipeline: what a slot being
// migrated serves (slotMoving).
func (s *RedisStore) getEach(ctx context.Context, keys []string) ([]any, error) {
	s.metrics.RedisRoundTrips.WithLabelValues("pipeline_get").Inc()
	cmds, _ := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Get(ctx, k)
		}
		return nil
	})
	vals := make([]any, len(keys))
	for i, c := range cmds {
		v, err := c.(*redis.StringCmd).Result()
		switch {
		case err == nil:
			vals[i] = v
		case !errors.Is(err, redis.Nil): // a missing key is nil, as in MGET's answer
			return nil, err
		}
	}
	return vals, nil
}

// Ping checks Redis directly, even while it is thought away, so that
// readiness sees recovery at once; a failed ping (not one whose caller
// left) counts as Redis going away.
func (s *RedisStore) Ping(ctx context.Context) error {
	pingCtx, cancel := context.WithTimeout(ctx, s.health.timeout*5)
	defer cancel()
	s.metrics.RedisRoundTrips.WithLabelValues("ping").Inc()
	if err := s.client.Ping(pingCtx).Err(); err != nil {
		s.metrics.RedisErrors.WithLabelValues("ping").Inc()
		if ctx.Err() == nil && !answered(err) {
			s.health.wentAway(err)
		}
		return err
	}
	s.health.cameBack()
	return nil
}
