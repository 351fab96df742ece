package idempotency

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// canClaim is the rule both stores apply atomically.
func canClaim(r Record, fp string, now time.Time) bool {
	if r.Fingerprint != fp {
		return false
	}
	return r.State == stateUncertain || (r.State == statePending && now.UnixMilli() > r.LeaseUntil)
}

// MemoryStore keeps records in process (no REDIS_URL).
type MemoryStore struct {
	mu      sync.Mutex
	records map[string]memoryRecord
	swept   time.Time // the last sweep of expired records
	now     func() time.Time
}

type memoryRecord struct {
	rec     Record
	expires time.Time
}

// NewMemoryStore returns an empty in-process store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{records: map[string]memoryRecord{}, now: time.Now}
}

func (m *MemoryStore) Claim(_ context.Context, key string, rec Record, ttl time.Duration) (Record, string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	old, ok := m.records[key]
	if !ok || now.After(old.expires) {
		m.records[key] = memoryRecord{rec, now.Add(ttl)}
		return rec, "", true, nil
	}
	if !canClaim(old.rec, rec.Fingerprint, now) {
		return old.rec, old.rec.State, false, nil
	}
	rec.Started = old.rec.Started
	m.records[key] = memoryRecord{rec, now.Add(ttl)}
	return rec, old.rec.State, true, nil
}

func (m *MemoryStore) Put(_ context.Context, key string, rec Record, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	// Drop what has expired before growing further, at most once a minute:
	// records are never dropped early, so a store full of live ones would
	// otherwise be scanned on every write.
	if len(m.records) >= 100_000 && now.Sub(m.swept) >= time.Minute {
		m.swept = now
		for k, r := range m.records {
			if now.After(r.expires) {
				delete(m.records, k)
			}
		}
	}
	m.records[key] = memoryRecord{rec, now.Add(ttl)}
	return nil
}

func (m *MemoryStore) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.records, key)
	return nil
}

// RedisStore keeps records in Redis, so that every replica of the server
// sees the same keys. Claim is one Lua script: atomic on a single key, which
// also holds on Redis Cluster.
type RedisStore struct {
	client  redis.UniversalClient
	timeout time.Duration
}

// NewRedisStore returns a store over client.
func NewRedisStore(client redis.UniversalClient) *RedisStore {
	return &RedisStore{client: client, timeout: 2 * time.Second}
}

// claimScript: KEYS[1] key; ARGV[1] new record JSON, ARGV[2] TTL ms,
// ARGV[3] fingerprint, ARGV[4] now ms. Returns {owned, record JSON, previous state}.
var claimScript = redis.NewScript(`
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
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	b, err := json.Marshal(rec)
	if err != nil {
		return Record{}, "", false, err
	}
	res, err := claimScript.Run(ctx, s.client, []string{key}, string(b), ttl.Milliseconds(), rec.Fingerprint, time.Now().UnixMilli()).Slice()
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

func (s *RedisStore) Put(ctx context.Context, key string, rec Record, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return s.client.Set(ctx, key, b, ttl).Err()
}

func (s *RedisStore) Delete(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.client.Del(ctx, key).Err()
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
}

func (t Tiered) Claim(ctx context.Context, key string, rec Record, ttl time.Duration) (Record, string, bool, error) {
	cur, previous, owned, err := t.Primary.Claim(ctx, key, rec, ttl)
	if err != nil {
		return t.Local.Claim(ctx, key, rec, ttl)
	}
	if owned && previous == "" {
		// New to the primary: if this process knows the key, the primary
		// lost it. Decide from the local record and restore it.
		lcur, lprevious, lowned, _ := t.Local.Claim(ctx, key, rec, ttl)
		if lprevious != "" {
			_ = t.Primary.Put(ctx, key, lcur, ttl)
			return lcur, lprevious, lowned, nil
		}
		return cur, previous, owned, nil
	}
	_ = t.Local.Put(ctx, key, cur, ttl)
	return cur, previous, owned, nil
}

func (t Tiered) Put(ctx context.Context, key string, rec Record, ttl time.Duration) error {
	_ = t.Local.Put(ctx, key, rec, ttl)
	return t.Primary.Put(ctx, key, rec, ttl)
}

func (t Tiered) Delete(ctx context.Context, key string) error {
	_ = t.Local.Delete(ctx, key)
	return t.Primary.Delete(ctx, key)
}
