package respcache

import (
	"context"
	"crypto/rand"
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
// Each answer is kept with its dependencies (the entity cache keys it was
// built from) and a digest of their versions: a hash per workspace counts,
// for each entity key, the invalidations that touched it, and the replica
// that publishes an invalidation bumps them after the entity cache has
// marked or deleted those keys in Redis and before the event goes out. One
// script reads an answer and its dependencies' versions and serves it only
// while they are those it was stored with: a change is seen by every
// replica once it is acknowledged, whether or not the stream delivered its
// event. (An event its publisher did not count, Event.Counted, is counted
// by the replicas that hear it.) All of a workspace's keys share its hash
// tag: one slot on a Cluster.
//
// Versions alone cannot tell whether the bytes an answer was built from
// were the current ones: a replica's in-process entity level may still
// hold a value a change replaced in Redis (its event is on its way, or its
// stream is half-open), and an invalidation may overtake the execution. So
// before an answer is stored, its dependencies' values and versions are
// read from Redis in one transaction and the values compared with the
// bytes the request used (cache.Reads); the answer is stored with those
// versions only if they have not moved since (one script). An answer in
// Redis was therefore built from the values Redis held, and is served only
// until one of them is invalidated. The versions carry the workspace's
// base, a random token set when the hash is created: a hash that is lost
// (evicted, expired, or forgotten when it grows past its bound) takes every
// answer of its workspace with it, never brings an old one back.
//
// An answer is as fresh as the entity cache it was built from, no fresher:
// a fetch begun before another replica's change and ended after its
// invalidation writes the old value back (the entity cache's write-back
// checks only the invalidations its own replica has heard), and answers
// built from it are then consistent with Redis. docs/caching.md says what
// would close that.

// SharedConfig configures the shared level.
type SharedConfig struct {
	// Client is the cache's Redis (REDIS_URL), never the durable one:
	// losing an answer costs one execution.
	Client goredis.UniversalClient
	// Calls bounds every call by REDIS_TIMEOUT and skips Redis while it is
	// away (redis.Health).
	Calls redis.Calls
	// MaxBytes bounds what the fleet keeps in Redis: the bytes stored
	// within the current and the last window of TTL (every answer expires
	// within one).
	MaxBytes int64
	TTL      time.Duration
	Metrics  *metrics.Metrics
}

// Shared is the response cache's level in Redis.
type Shared struct {
	client   goredis.UniversalClient
	calls    redis.Calls
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
		Help: "GraphQL response cache's Redis level by result: hit, miss, changed (kept, but a value it was built from changed since: dropped), stored, not_stored (a value it was built from is not, or no longer, the one Redis holds), full (RESPONSE_CACHE_REDIS_MAX_BYTES), error (Redis away or slow: executed instead), bump_failed (an invalidation's versions could not be counted).",
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

// versionsDigest is the part of the scripts that digests the versions of
// an answer's dependencies (deps, one key a line) in the workspace's hash
// KEYS[2]: the SHA-1 of its base and their counts (empty for none), joined
// by commas. HMGET in slices: Lua's unpack has a bounded stack.
const versionsDigest = `
local function digest(deps)
  local keys = {}
  for k in string.gmatch(deps, '[^\n]+') do keys[#keys + 1] = k end
  local base = redis.call('HGET', KEYS[2], '_')
  if not base then return nil end
  local out = {base}
  for i = 1, #keys, 512 do
    local got = redis.call('HMGET', KEYS[2], unpack(keys, i, math.min(i + 511, #keys)))
    for j = 1, #got do out[#out + 1] = got[j] or '' end
  end
  return redis.sha1hex(table.concat(out, ','))
end
`

// getScript answers {body, etag, content type, deps, ms left} while the
// versions of the answer's dependencies are those it was stored with; it
// drops an answer whose dependencies changed (0).
var getScript = goredis.NewScript(versionsDigest + `
local a = redis.call('HMGET', KEYS[1], 'b', 'e', 'c', 'd', 'v')
if not a[1] then return false end
if digest(a[4]) ~= a[5] then
  redis.call('DEL', KEYS[1])
  return 0
end
return {a[1], a[2], a[3], a[4], redis.call('PTTL', KEYS[1])}
`)

// putScript keeps an answer for ARGV[6] ms when its dependencies' versions
// are still ARGV[5] (1), else keeps nothing (0).
var putScript = goredis.NewScript(versionsDigest + `
if digest(ARGV[4]) ~= ARGV[5] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'b', ARGV[1], 'e', ARGV[2], 'c', ARGV[3], 'd', ARGV[4], 'v', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
`)

// bumpScript counts one more invalidation of each key of ARGV[3:] in the
// versions hash KEYS[1], which lives ARGV[1] ms more; a hash past ARGV[2]
// keys is forgotten instead (a new base: every answer of the workspace
// goes). Without a hash the workspace has no answer in Redis: nothing to
// count (a store reads its values after creating the hash).
var bumpScript = goredis.NewScript(`
local n = redis.call('HLEN', KEYS[1])
if n == 0 then return 1 end
if n > tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return 0
end
for i = 3, #ARGV do redis.call('HINCRBY', KEYS[1], ARGV[i], 1) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

// get is the answer kept in Redis under key for tenant, nil when there is
// none, its values changed, or Redis did not answer in time.
func (s *Shared) get(ctx context.Context, tenant, key string) *answer {
	var res any
	s.trip("answer_get")
	err := s.calls.Do(ctx, func(ctx context.Context) error {
		var err error
		res, err = getScript.Run(ctx, s.client, []string{redis.AnswerKey(tenant, []byte(key)), redis.AnswerVersionsKey(tenant)}).Result()
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
// the bytes the request used of each dependency) is Redis's and has not
// been invalidated since; it reports the result it counted.
func (s *Shared) put(ctx context.Context, tenant string, a *answer, raw map[string][]byte, life time.Duration) string {
	for _, k := range a.deps {
		// A value whose bytes are unknown cannot be compared, and one of
		// another namespace (the customer database's) lives in another
		// slot: the answer stays in process.
		if raw[k] == nil || !redis.IsCacheKeyOf(tenant, k) || strings.ContainsRune(k, '\n') {
			return s.result("not_stored")
		}
	}
	if len(a.deps) == 0 {
		return s.result("not_stored")
	}
	deps := strings.Join(a.deps, "\n")
	size := int64(len(a.body)+len(deps)+len(a.etag)+len(a.contentType)+len(a.key)) + perAnswerOverhead
	if size > s.maxBytes/8 {
		return s.result("full") // one answer never takes most of the room
	}
	versions := redis.AnswerVersionsKey(tenant)
	var vcmd *goredis.SliceCmd
	var values *goredis.SliceCmd
	s.trip("answer_deps")
	err := s.calls.Do(ctx, func(ctx context.Context) error {
		_, err := s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.HSetNX(ctx, versions, "_", newBase())
			p.PExpire(ctx, versions, 2*s.ttl)
			vcmd = p.HMGet(ctx, versions, append([]string{"_"}, a.deps...)...)
			values = p.MGet(ctx, a.deps...)
			return nil
		})
		return err
	})
	if err != nil {
		return s.result("error")
	}
	for i, v := range values.Val() {
		if got, ok := v.(string); !ok || got != string(raw[a.deps[i]]) {
			return s.result("not_stored") // a value changed since it was read
		}
	}
	vs := make([]string, 0, len(vcmd.Val()))
	for _, v := range vcmd.Val() {
		str, _ := v.(string)
		vs = append(vs, str)
	}
	sum := sha1.Sum([]byte(strings.Join(vs, ",")))
	digest := hex.EncodeToString(sum[:])

	var reserved bool
	s.trip("answer_bytes")
	err = s.calls.Do(ctx, func(ctx context.Context) error {
		var err error
		reserved, err = redis.ReserveBytes(ctx, s.client, redis.AnswerBytesKey, size, s.ttl, s.maxBytes)
		return err
	})
	if err != nil {
		return s.result("error")
	}
	if !reserved {
		return s.result("full")
	}
	var ok int64
	s.trip("answer_set")
	err = s.calls.Do(ctx, func(ctx context.Context) error {
		var err error
		ok, err = putScript.Run(ctx, s.client, []string{redis.AnswerKey(tenant, []byte(a.key)), versions},
			a.body, a.etag, a.contentType, deps, digest, strconv.FormatInt(max(1, life.Milliseconds()), 10)).Int64()
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

// bump counts an invalidation of keys (the workspace's) in the versions
// of tenant: every answer built from any of them is no longer an answer.
// It reports whether it did.
func (s *Shared) bump(ctx context.Context, tenant string, keys []string) bool {
	args := []any{(2 * s.ttl).Milliseconds(), s.maxVersions()}
	for _, k := range keys {
		if redis.IsCacheKeyOf(tenant, k) {
			args = append(args, k)
		}
	}
	if len(args) == 2 {
		return true
	}
	s.trip("answer_versions")
	err := s.calls.Do(ctx, func(ctx context.Context) error {
		return bumpScript.Run(ctx, s.client, []string{redis.AnswerVersionsKey(tenant)}, args...).Err()
	})
	if err != nil {
		s.count("bump_failed")
	}
	return err == nil
}

// maxVersions bounds a workspace's versions hash: an eighth of the bytes
// of answers, at about 64 bytes a key.
func (s *Shared) maxVersions() int64 { return max(1024, s.maxBytes/8/64) }

// newBase is a versions hash's base: random, so that a hash created anew
// never matches an answer of the one it replaces.
func newBase() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Shared) result(r string) string {
	s.count(r)
	return r
}
