// Package respcache keeps whole GraphQL answers, each with the cache keys it
// was built from, and drops an answer as soon as any of those keys changes.
//
// Every read of Intercom data goes through the entity cache (package cache),
// which records, per request, the keys it served (cache.Reads). Every change
// (an action, a signed webhook) is an invalidation that names the keys it
// touched, published to every replica on the event stream (package events).
// An answer is therefore kept with its keys, and dropped on every replica by
// the event that names one of them: it is as true as the entity cache it was
// built from, and a hit skips parsing, executing and serialising (about a
// thousand fields for a warm dashboard).
//
// Like the entity cache's in-process level, it is never trusted blind: while
// the event stream is broken it is bypassed and emptied, and it starts afresh
// once the stream is whole again.
//
// Behind it, a level in the cache's Redis (shared.go) lets a replica serve
// an answer another built, checked on each read against the versions of the
// keys it was built from: see Shared.
package respcache

import (
	"container/list"
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/talkdesk-intercom/api/internal/events"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/redis"
)

// Config configures the response cache.
type Config struct {
	// MaxBytes bounds the answers kept, with their keys and bookkeeping.
	MaxBytes int64
	// TTL bounds the life of an answer; it is shorter when a value it was
	// built from stops being fresh sooner.
	TTL time.Duration
	// Trusted starts the cache open: for a process without an event stream
	// (no Redis), which is its own truth (its invalidations reach the cache
	// through Publisher). With a stream, the stream's first Reset(true)
	// opens it.
	Trusted bool
	// Shared is the level in Redis every replica reads (nil: none).
	Shared  *Shared
	Metrics *metrics.Metrics
	Now     func() time.Time
}

// Cache is the response cache of one replica.
type Cache struct {
	mu      sync.Mutex
	answers map[string]*answer
	lru     list.List // of *answer, the most recently used in front
	// deps are the answers built from each entity cache key.
	deps     map[string]map[*answer]struct{}
	bytes    int64
	maxBytes int64
	ttl      time.Duration
	now      func() time.Time
	trusted  atomic.Bool
	shared   *Shared
	// epochs count invalidations, by stripe of workspaces: an answer whose
	// execution an invalidation of its workspace overtook is not kept (it
	// may have read what the invalidation dropped).
	epochs [epochStripes]atomic.Uint64
	all    atomic.Uint64 // every workspace's invalidations
	counts *prometheus.CounterVec
	size   prometheus.GaugeFunc
}

const epochStripes = 64

// answer is one kept answer.
type answer struct {
	key         string
	body        []byte // as a hit serves it: with extensions.cached
	etag        string
	contentType string
	deps        []string
	expires     time.Time
	elem        *list.Element
	size        int64
}

// perKeyOverhead approximates the bookkeeping of one dependency (the index's
// map entries) and perAnswerOverhead that of an answer, so that MaxBytes
// bounds the memory the cache holds, not only the answers' bytes.
const (
	perKeyOverhead    = 96
	perAnswerOverhead = 256
)

// New returns an empty cache.
func New(cfg Config) *Cache {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Cache{answers: map[string]*answer{}, deps: map[string]map[*answer]struct{}{},
		maxBytes: cfg.MaxBytes, ttl: cfg.TTL, now: cfg.Now, shared: cfg.Shared}
	c.trusted.Store(cfg.Trusted)
	c.counts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "response_cache_total",
		Help: "GraphQL response cache by result: hit, miss, stored, not_stored (an answer that may not be kept: an error, a stale or untracked read, a mutation), dropped (by an invalidation), evicted (for bytes), bypassed (the event stream is broken).",
	}, []string{"result"})
	c.size = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "response_cache_bytes", Help: "Bytes the GraphQL response cache holds (answers, keys and bookkeeping).",
	}, func() float64 { c.mu.Lock(); defer c.mu.Unlock(); return float64(c.bytes) })
	if cfg.Metrics != nil {
		cfg.Metrics.Registry.MustRegister(c.counts, c.size)
	}
	return c
}

func (c *Cache) count(result string) { c.counts.WithLabelValues(result).Inc() }

// Bytes is what the cache holds, by its own count.
func (c *Cache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

var stripeSeed = maphash.MakeSeed()

func (c *Cache) epochOf(workspace string) *atomic.Uint64 {
	return &c.epochs[maphash.String(stripeSeed, workspace)%epochStripes]
}

// get is the answer kept under key, nil when none is (or it expired).
func (c *Cache) get(key string) *answer {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.answers[key]
	if !ok {
		return nil
	}
	if !c.now().Before(a.expires) {
		c.removeLocked(a)
		return nil
	}
	c.lru.MoveToFront(a.elem)
	return a
}

// epochs are the invalidation counts when an answer's execution started:
// of its workspace's stripe, and of every workspace (an answer may read
// another namespace too: the customer database's cache has its own).
type epochs struct{ own, all uint64 }

// put keeps a, unless an invalidation of what it read overtook its
// execution (epoch: the counts when it started) or the stream broke since.
func (c *Cache) put(workspace string, epoch epochs, a *answer) bool {
	a.size = int64(len(a.key)+len(a.body)+len(a.etag)+len(a.contentType)) + perAnswerOverhead
	for _, k := range a.deps {
		a.size += int64(len(k)) + perKeyOverhead
	}
	if a.size > c.maxBytes/8 {
		return false // one answer never pushes out most of the others
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Under the lock: an invalidation counts before it takes the lock to
	// drop, so either this sees its count or it drops what this keeps.
	if !c.trusted.Load() || c.epochOf(workspace).Load() != epoch.own {
		return false
	}
	if c.all.Load() != epoch.all && readsElsewhere(workspace, a.deps) {
		return false
	}
	if old, ok := c.answers[a.key]; ok {
		c.removeLocked(old)
	}
	a.elem = c.lru.PushFront(a)
	c.answers[a.key] = a
	for _, k := range a.deps {
		set := c.deps[k]
		if set == nil {
			set = map[*answer]struct{}{}
			c.deps[k] = set
		}
		set[a] = struct{}{}
	}
	c.bytes += a.size
	for c.bytes > c.maxBytes {
		oldest := c.lru.Back().Value.(*answer)
		c.removeLocked(oldest)
		c.count("evicted")
	}
	return true
}

func (c *Cache) removeLocked(a *answer) {
	if _, ok := c.answers[a.key]; !ok || c.answers[a.key] != a {
		return
	}
	delete(c.answers, a.key)
	c.lru.Remove(a.elem)
	for _, k := range a.deps {
		if set := c.deps[k]; set != nil {
			delete(set, a)
			if len(set) == 0 {
				delete(c.deps, k)
			}
		}
	}
	c.bytes -= a.size
}

// Event drops every answer built from a key the change touched (marked
// stale or deleted alike: either way the value is no longer the one the
// answer holds).
func (c *Cache) Event(ev events.Event) {
	c.epochOf(ev.Workspace).Add(1)
	c.all.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range ev.Keys {
		for a := range c.deps[k] {
			c.removeLocked(a)
			c.count("dropped")
		}
	}
}

// readsElsewhere reports whether an answer of workspace was built from keys
// of another namespace (the customer database's), whose invalidations its
// workspace's count does not see.
func readsElsewhere(workspace string, deps []string) bool {
	for _, k := range deps {
		if !redis.IsCacheKeyOf(workspace, k) {
			return true
		}
	}
	return false
}

// Reset empties the cache when the event stream breaks (and bypasses it
// until the stream is whole), and again when it is whole.
func (c *Cache) Reset(ok bool) {
	c.trusted.Store(false)
	for i := range c.epochs {
		c.epochs[i].Add(1)
	}
	c.mu.Lock()
	c.answers = map[string]*answer{}
	c.deps = map[string]map[*answer]struct{}{}
	c.lru.Init()
	c.bytes = 0
	c.mu.Unlock()
	if ok {
		c.trusted.Store(true)
	}
}

// After is the stream's handler for a replica whose entity cache's
// in-process level (h, nil when there is none) hears it too: h first, so
// that an answer rebuilt after the drop reads what h holds after the event.
func (c *Cache) After(h events.Handler) events.Handler { return chain{first: h, then: c} }

type chain struct {
	first events.Handler
	then  *Cache
}

func (ch chain) Event(ev events.Event) {
	if ch.first != nil {
		ch.first.Event(ev)
	}
	ch.then.Event(ev)
	if !ev.Counted && ch.then.shared != nil {
		// Its publisher did not count it in Redis: every replica that
		// hears it does (more than once does no harm).
		ctx, cancel := context.WithTimeout(context.Background(), bumpTimeout)
		defer cancel()
		ch.then.shared.bump(ctx, ev.Workspace, ev.Keys)
	}
}

// bumpTimeout bounds the count of an event a replica hears (the Redis
// calls' own REDIS_TIMEOUT bounds it first): the stream waits for it.
const bumpTimeout = time.Second

func (ch chain) Reset(ok bool) {
	if ch.first != nil {
		ch.first.Reset(ok)
	}
	ch.then.Reset(ok)
}
