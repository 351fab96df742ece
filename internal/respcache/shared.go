package respcache

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/redis"
)

// The shared level keeps answers in the cache's Redis, for every replica: a
// replica that has not built an answer (another did; it restarted; it
// evicted it) serves it with one round trip instead of executing it.
//
// It does not listen to the event stream. An answer is kept with its
// dependencies (the entity cache keys it was built from) and a digest of the
// bytes each of them held when it was built, and it is an answer only while
// Redis still holds exactly those bytes: one script reads the answer, reads
// its dependencies and compares (all under the workspace's hash tag: one
// slot on a Cluster). Every change already rewrites those bytes in Redis
// before it is published (the entity cache marks stale or deletes the keys
// it touched, and a refetch writes new bytes with a new freshness), so an
// answer is dropped for every replica at the moment its change reaches
// Redis, whether or not the stream delivers the event, and a replica whose
// stream is broken still reads only true answers.
//
// Storing is checked the same way, in the same script: a replica's
// in-process entity level may still hold a value a change has replaced in
// Redis (its event is on its way, or its stream is half-open), and an
// invalidation may overtake the execution. Either way the bytes it built
// from are no longer Redis's, and the answer is not stored. So an answer in
// Redis was built from what Redis held when it was stored, and is served
// only while Redis still holds it.
//
// The price of checking by bytes rather than by counters bumped on every
// change is Redis CPU on a hit (reading and hashing the dependencies, about
// a hundred kilobytes for a 50-contact dashboard); the in-process level
// answers the repeats, so a replica asks Redis about an answer about once
// per answer and TTL. In exchange the invalidation path is untouched, no
// counter can be lost to eviction or a failover, and nothing depends on the
// order in which replicas hear events.

// SharedConfig configures the shared level.
type SharedConfig struct {
	// Client is the cache's Redis (REDIS_URL), never the durable one:
	// losing an answer costs one execution.
	Client goredis.UniversalClient
	// Calls bounds every call by REDIS_TIMEOUT and skips Redis while it is
	// away (redis.Health).
	Calls Calls
	// MaxBytes bounds what the fleet keeps in Redis: the bytes stored
	// within any TTL (every answer expires within its TTL).
	MaxBytes int64
	TTL      time.Duration
	Metrics  *metrics.Metrics
}

// Calls runs a Redis call within the service's Redis timeout.
type Calls interface {
	Do(ctx context.Context, fn func(ctx context.Context) error) error
}

// Shared is the response cache's level in Redis.
type Shared struct {
	client   goredis.UniversalClient
	calls    Calls
	maxBytes int64
	ttl      time.Duration
	counts   *prometheus.CounterVec
	trips    *prometheus.CounterVec
}

// NewShared returns the shared level over cfg.Client.
func NewShared(cfg SharedConfig) *Shared {
	s := &Shared{client: cfg.Client, calls: cfg.Calls, maxBytes: cfg.MaxBytes, ttl: cfg.TTL}
	s.counts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "response_cache_redis_total",
		Help: "GraphQL response cache's Redis level by result: hit, miss, changed (kept, but a value it was built from changed since: dropped), stored, not_stored (a value it was built from is no longer the one Redis holds), full (RESPONSE_CACHE_REDIS_MAX_BYTES), error (Redis away or slow: executed instead).",
	}, []string{"result"})
	if cfg.Metrics != nil {
		cfg.Metrics.Registry.MustRegister(s.counts)
		s.trips = cfg.Metrics.RedisRoundTrips
	}
	return s
}

func (s *Shared) count(result string) { s.counts.WithLabelValues(result).Inc() }

func (s *Shared) trip(op string) {
	if s.trips != nil {
		s.trips.WithLabelValues(op).Inc()
	}
}

// checkDeps is the part of both scripts that compares an answer's
// dependencies (deps, one key a line) with the digest of the bytes it was
// built from: the SHA-1 of their values joined by NUL, which no stored
// value holds (JSON escapes it). Every dependency lives under the answer's
// hash tag. MGET in slices: Lua's unpack has a bounded stack.
const checkDeps = `
local function same(deps, digest)
  local keys = {}
  for k in string.gmatch(deps, '[^\n]+') do keys[#keys + 1] = k end
  local vals = {}
  for i = 1, #keys, 512 do
    local got = redis.call('MGET', unpack(keys, i, math.min(i + 511, #keys)))
    for j = 1, #got do
      if not got[j] then return false end
      vals[#vals + 1] = got[j]
    end
  end
  return redis.sha1hex(table.concat(vals, '\0')) == digest
end
`

// getScript answers {body, etag, content type, deps, ms left} while every
// dependency holds the bytes the answer was built from; it drops an answer
// whose dependencies changed.
var getScript = goredis.NewScript(checkDeps + `
local a = redis.call('HMGET', KEYS[1], 'b', 'e', 'c', 'd', 'h')
if not a[1] then return false end
if not same(a[4], a[5]) then
  redis.call('DEL', KEYS[1])
  return 0
end
return {a[1], a[2], a[3], a[4], redis.call('PTTL', KEYS[1])}
`)

// putScript keeps an answer for ARGV[6] ms when every dependency still
// holds the bytes it was built from (1), else keeps nothing (0).
var putScript = goredis.NewScript(checkDeps + `
if not same(ARGV[4], ARGV[5]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'b', ARGV[1], 'e', ARGV[2], 'c', ARGV[3], 'd', ARGV[4], 'h', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
`)

// reserveScript counts ARGV[1] more bytes in the current window of ARGV[2]
// ms (Redis' clock) unless this window's and the last one's would pass
// ARGV[3]: an answer lives at most one window, so what those two count
// bounds what Redis holds. Older windows are forgotten.
var reserveScript = goredis.NewScript(`
local t = redis.call('TIME')
local w = math.floor((tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) / tonumber(ARGV[2]))
local used = tonumber(redis.call('HGET', KEYS[1], w) or '0') + tonumber(redis.call('HGET', KEYS[1], w - 1) or '0')
if used + tonumber(ARGV[1]) > tonumber(ARGV[3]) then return 0 end
redis.call('HINCRBY', KEYS[1], w, ARGV[1])
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if tonumber(f) < w - 1 then redis.call('HDEL', KEYS[1], f) end
end
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
return 1
`)

// get is the answer kept in Redis under key for tenant, nil when there is
// none, its values changed, or Redis did not answer in time.
func (s *Shared) get(ctx context.Context, tenant, key string) *answer {
	var res any
	s.trip("answer_get")
	err := s.calls.Do(ctx, func(ctx context.Context) error {
		var err error
		res, err = getScript.Run(ctx, s.client, []string{redis.AnswerKey(tenant, []byte(key))}).Result()
		return err
	})
	switch {
	case errors.Is(err, goredis.Nil):
		s.count("miss")
		return nil
	case err != nil:
		s.count("error")
		return nil
	}
	vals, ok := res.([]any)
	if !ok || len(vals) != 5 {
		s.count("changed")
		return nil
	}
	body, _ := vals[0].(string)
	etag, _ := vals[1].(string)
	ctype, _ := vals[2].(string)
	deps, _ := vals[3].(string)
	left, _ := vals[4].(int64)
	if left <= 0 {
		s.count("miss")
		return nil
	}
	s.count("hit")
	return &answer{key: key, body: []byte(body), etag: etag, contentType: ctype,
		deps: strings.Split(deps, "\n"), expires: time.Now().Add(time.Duration(left) * time.Millisecond)}
}

// put keeps a in Redis for life when every value it was built from (raw,
// the bytes each dependency held) is still Redis's; it reports the result
// it counted.
func (s *Shared) put(ctx context.Context, tenant string, a *answer, raw map[string][]byte, life time.Duration) string {
	tag := redis.Tag(tenant)
	h := sha1.New()
	var deps strings.Builder
	for i, k := range a.deps {
		b := raw[k]
		// A value whose bytes are unknown cannot be compared, and one of
		// another namespace (the customer database's) lives in another
		// slot: the answer stays in process.
		if b == nil || !strings.Contains(k, tag) || strings.ContainsRune(k, '\n') {
			return s.result("not_stored")
		}
		if i > 0 {
			h.Write([]byte{0})
			deps.WriteByte('\n')
		}
		h.Write(b)
		deps.WriteString(k)
	}
	if len(a.deps) == 0 {
		return s.result("not_stored")
	}
	size := int64(len(a.body)+deps.Len()+len(a.etag)+len(a.contentType)+len(a.key)) + perAnswerOverhead
	if size > s.maxBytes/8 {
		return s.result("full") // one answer never takes most of the room
	}
	var ok int64
	s.trip("answer_bytes")
	err := s.calls.Do(ctx, func(ctx context.Context) error {
		var err error
		ok, err = reserveScript.Run(ctx, s.client, []string{redis.AnswerBytesKey},
			size, s.ttl.Milliseconds(), s.maxBytes).Int64()
		return err
	})
	if err != nil {
		return s.result("error")
	}
	if ok == 0 {
		return s.result("full")
	}
	s.trip("answer_set")
	err = s.calls.Do(ctx, func(ctx context.Context) error {
		var err error
		ok, err = putScript.Run(ctx, s.client, []string{redis.AnswerKey(tenant, []byte(a.key))},
			a.body, a.etag, a.contentType, deps.String(), hex.EncodeToString(h.Sum(nil)),
			strconv.FormatInt(max(1, life.Milliseconds()), 10)).Int64()
		return err
	})
	switch {
	case err != nil:
		return s.result("error")
	case ok == 0:
		return s.result("not_stored")
	}
	return s.result("stored")
}

func (s *Shared) result(r string) string {
	s.count(r)
	return r
}
