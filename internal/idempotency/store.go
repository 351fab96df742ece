package idempotency

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/bounded"
	"github.com/talkdesk-intercom/api/internal/redis"
)

// canClaim is the rule both stores apply atomically.
func canClaim(r Record, fp string, now time.Time) bool {
	if r.Fingerprint != fp {
		return false
	}
	return r.State == stateUncertain || (r.State == statePending && now.UnixMilli() > r.LeaseUntil)
}

// MemoryStore keeps records in process (no REDIS_URL), each for its TTL.
// It has no bound on their number: dropping a live record early would let
// its key run twice. Expired ones are removed by the cache (package bounded).
type MemoryStore struct {
	records *otter.Cache[string, memoryRecord]
	now     func() time.Time // leases are judged by it
}

type memoryRecord struct {
	rec Record
	ttl time.Duration
}

// NewMemoryStore returns an empty in-process store.
func NewMemoryStore() *MemoryStore { return newMemoryStore(nil) }

func newMemoryStore(clock *bounded.Clock) *MemoryStore {
	m := &MemoryStore{now: time.Now, records: bounded.New(otter.Options[string, memoryRecord]{
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, memoryRecord]) time.Duration {
			return e.Value.ttl
		}),
	}, clock)}
	if clock != nil {
		m.now = clock.Now
	}
	return m
}

func (m *MemoryStore) Claim(_ context.Context, key string, rec Record, ttl time.Duration) (cur Record, previous string, owned bool, err error) {
	now := m.now()
	m.records.Compute(key, func(old memoryRecord, found bool) (memoryRecord, otter.ComputeOp) {
		if found {
			previous = old.rec.State
			if !canClaim(old.rec, rec.Fingerprint, now) {
				cur = old.rec
				return old, otter.CancelOp
			}
			rec.Started = old.rec.Started
		}
		cur, owned = rec, true
		return memoryRecord{rec, ttl}, otter.WriteOp
	})
	return cur, previous, owned, nil
}

func (m *MemoryStore) Get(_ context.Context, key string) (Record, bool, error) {
	r, ok := m.records.GetIfPresent(key)
	return r.rec, ok, nil
}

func (m *MemoryStore) Put(_ context.Context, key string, rec Record, ttl time.Duration) error {
	m.records.Set(key, memoryRecord{rec, ttl})
	return nil
}

func (m *MemoryStore) Delete(_ context.Context, key string) error {
	m.records.Invalidate(key)
	return nil
}

// RedisStore keeps records in Redis, so that every replica of the server
// sees the same keys. Claim is one Lua script: atomic on a single key, which
// also holds on Redis Cluster. Every call is bounded by the health's
// timeout (REDIS_TIMEOUT) and fails fast while Redis is away: Tiered then
// keeps the promise from its in-process mirror.
type RedisStore struct {
	health *redis.Health
	client goredis.UniversalClient
}

// NewRedisStore returns a store over the client h watches.
func NewRedisStore(h *redis.Health) *RedisStore {
	return &RedisStore{health: h, client: h.Client()}
}

// claimScript: KEYS[1] key; ARGV[1] new record JSON, ARGV[2] TTL ms,
// ARGV[3] fingerprint, ARGV[4] now ms. Returns {owned, record JSON, previous state}.
var claimScript = goredis.NewScript(`
local old = redis.call('GET', KEYS[1])
if not old then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1, ARGV[1], ''}
end
local rec = cjson.decode(old)
local claimable = rec.fp == ARGV[3] and (rec.state == 'uncertain' or (rec.state == 'pending' and tonumber(rec.lease) < tonumber(ARGV[4])))
if not claimable then
  return {0, old, rec.state}
end
local new = cjson.decode(ARGV[1])
new.started = rec.started
local enc = cjson.encode(new)
redis.call('SET', KEYS[1], enc, 'PX', ARGV[2])
return {1, enc, rec.state}
`)

func (s *RedisStore) Claim(ctx context.Context, key string, rec Record, ttl time.Duration) (Record, string, bool, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return Record{}, "", false, err
	}
	var res []any
	err = s.health.Do(ctx, func(ctx context.Context) error {
		res, err = claimScript.Run(ctx, s.client, []string{key}, string(b), ttl.Milliseconds(), rec.Fingerprint, time.Now().UnixMilli()).Slice()
		return err
	})
	if err != nil || len(res) != 3 {
		return Record{}, "", false, fmt.Errorf("idempotency claim: %w", err)
	}
	var cur Record
	if err := json.Unmarshal([]byte(fmt.Sprint(res[1])), &cur); err != nil {
		return Record{}, "", false, fmt.Errorf("idempotency record: %w", err)
	}
	owned, _ := res[0].(int64)
	return cur, fmt.Sprint(res[2]), owned == 1, nil
}

func (s *RedisStore) Get(ctx context.Context, key string) (Record, bool, error) {
	var b []byte
	err := s.health.Do(ctx, func(ctx context.Context) error {
		var err error
		b, err = s.client.Get(ctx, key).Bytes()
		return err
	})
	switch {
	case errors.Is(err, goredis.Nil):
		return Record{}, false, nil
	case err != nil:
		return Record{}, false, err
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return Record{}, false, fmt.Errorf("idempotency record: %w", err)
	}
	return rec, true, nil
}

func (s *RedisStore) Put(ctx context.Context, key string, rec Record, ttl time.Duration) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return s.health.Do(ctx, func(ctx context.Context) error { return s.client.Set(ctx, key, b, ttl).Err() })
}

func (s *RedisStore) Delete(ctx context.Context, key string) error {
	return s.health.Do(ctx, func(ctx context.Context) error { return s.client.Del(ctx, key).Err() })
}

// Tiered keeps records in a shared Primary (Redis) and mirrors them in a
// Local store (this process). The primary lets every replica see every key;
// the mirror keeps the promise when the primary fails: while Redis is down
// this process still never runs a key twice, and when Redis comes back empty
// (a restart without persistence) the records this process knows are put
// back instead of being lost.
type Tiered struct {
	Primary Store
	Local   Store
	// ClaimWait is how long a claim keeps asking a failing primary before
	// this process's memory decides alone (ClaimWaitForFailover where Redis
	// fails over: a Cluster, Sentinel). 0: at once, where nothing would
	// take over from a dead Redis and waiting only makes the request slow.
	ClaimWait time.Duration
	// failingSince is when the primary started failing (unix nanos; 0: it
	// answers): once it has failed longer than ClaimWait, claims no longer
	// wait for it.
	failingSince atomic.Int64
}

// ClaimWaitForFailover is long enough for a Redis Cluster's replica to take
// over from a dead master in a few seconds (the other replicas of the
// service cannot see a claim made only here), short enough for a request.
const (
	ClaimWaitForFailover = 4 * time.Second
	claimRetryEvery      = 100 * time.Millisecond
)

func (t *Tiered) Claim(ctx context.Context, key string, rec Record, ttl time.Duration) (Record, string, bool, error) {
	cur, previous, owned, err := t.Primary.Claim(ctx, key, rec, ttl)
	if err != nil {
		now := time.Now().UnixNano()
		t.failingSince.CompareAndSwap(0, now)
		since := time.Unix(0, t.failingSince.Load())
		for err != nil && time.Since(since) < t.ClaimWait && ctx.Err() == nil {
			time.Sleep(claimRetryEvery)
			cur, previous, owned, err = t.Primary.Claim(ctx, key, rec, ttl)
		}
	}
	if err != nil {
		return t.Local.Claim(ctx, key, rec, ttl)
	}
	t.failingSince.Store(0)
	if owned && previous == "" {
		// New to the primary: if this process knows the key, the primary
		// lost it. Decide from the local record and restore it.
		lcur, lprevious, lowned, _ := t.Local.Claim(ctx, key, rec, ttl)
		// A concurrent loser may have mirrored this very claim here first:
		// that is ours, not a record the primary lost.
		if lprevious != "" && !sameRecord(lcur, cur) {
			_ = t.Primary.Put(ctx, key, lcur, ttl)
			return lcur, lprevious, lowned, nil
		}
		return cur, previous, owned, nil
	}
	_ = t.Local.Put(ctx, key, cur, ttl)
	return cur, previous, owned, nil
}

// putRetries bound how long a record the primary refused is offered to it
// again: a Redis Cluster failover takes seconds (its node timeout and an
// election), and an execution's lease is a minute.
const (
	putRetryEvery = 250 * time.Millisecond
	putRetryFor   = 45 * time.Second
)

// Get reads the primary, and this process's mirror when the primary fails
// or lacks the key (it may have lost it).
func (t *Tiered) Get(ctx context.Context, key string) (Record, bool, error) {
	if rec, ok, err := t.Primary.Get(ctx, key); err == nil && ok {
		return rec, true, nil
	}
	return t.Local.Get(ctx, key)
}

func (t *Tiered) Put(ctx context.Context, key string, rec Record, ttl time.Duration) error {
	_ = t.Local.Put(ctx, key, rec, ttl)
	err := t.Primary.Put(ctx, key, rec, ttl)
	if err != nil {
		// A result the primary missed would leave its record pending there:
		// every other replica would wait out the lease, then reconcile. Keep
		// offering it until the primary (a promoted replica) takes it.
		go t.retryPut(context.WithoutCancel(ctx), key, rec, ttl)
	}
	return err
}

func (t *Tiered) retryPut(ctx context.Context, key string, rec Record, ttl time.Duration) {
	for start := time.Now(); time.Since(start) < putRetryFor; {
		time.Sleep(putRetryEvery)
		if t.Primary.Put(ctx, key, rec, ttl-time.Since(start)) == nil {
			return
		}
	}
}

func (t *Tiered) Delete(ctx context.Context, key string) error {
	_ = t.Local.Delete(ctx, key)
	return t.Primary.Delete(ctx, key)
}

// sameRecord says whether two records are one claim or result.
func sameRecord(a, b Record) bool {
	return a.State == b.State && a.Fingerprint == b.Fingerprint && a.Started == b.Started &&
		a.LeaseUntil == b.LeaseUntil && bytes.Equal(a.Result, b.Result)
}
