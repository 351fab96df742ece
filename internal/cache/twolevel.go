package cache

import (
	"context"
	"hash/maphash"
	"strings"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/talkdesk-intercom/api/internal/events"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/redis"
)

// TwoLevel is an in-process level in front of a shared store (Redis): the
// same keys and bytes (so the same freshness, negative entries and
// stale-if-error), bounded in entries and bytes. A read answered in process
// costs no Redis round trip; a miss reads the shared store and keeps what it
// found.
//
// Coherence across replicas comes from the event stream: every invalidation
// is published, and every replica marks stale or drops the keys it names. While the stream
// is broken the in-process level is bypassed, and it is emptied when the
// stream is whole again: it is never trusted blind.
type TwoLevel struct {
	local  *otter.Cache[string, *localValue]
	shared Store
	// trusted is false while the event stream is broken.
	trusted atomic.Bool
	// epochs count invalidations, by stripe of workspaces (hash tags): a
	// read from the shared store that an invalidation of its workspace
	// overtook does not fill the local level. Striped, so that a busy
	// workspace's changes do not stop every other's write-backs.
	epochs  [epochStripes]atomic.Uint64
	metrics *metrics.Metrics
}

// localValue is an entry held in process: its bytes, and once a reader has
// decoded them, the decoded value, shared by every later reader (values
// read from the cache are never modified).
type localValue struct {
	raw     []byte
	decoded atomic.Pointer[any]
}

// LocalConfig bounds the in-process level.
type LocalConfig struct {
	MaxEntries int
	MaxBytes   int64
	// TTL is how long an entry is kept in process (its freshness is its
	// own; this bounds memory and the life of a copy).
	TTL time.Duration
}

var _ interface {
	Store
	events.Handler
} = (*TwoLevel)(nil)

// NewTwoLevel puts an in-process level in front of shared. It starts
// untrusted: the event stream's first Reset(true) opens it.
func NewTwoLevel(shared Store, cfg LocalConfig, m *metrics.Metrics) *TwoLevel {
	// One weigher bounds both: every entry weighs at least the average an
	// entry may weigh, so MaxBytes of weight is at most MaxEntries entries.
	floor := uint32(max(1, cfg.MaxBytes/int64(max(1, cfg.MaxEntries))))
	local := otter.Must(&otter.Options[string, *localValue]{
		MaximumWeight:    uint64(cfg.MaxBytes),
		Weigher:          func(k string, v *localValue) uint32 { return max(floor, uint32(min(len(k)+len(v.raw), 1<<31))) },
		ExpiryCalculator: otter.ExpiryWriting[string, *localValue](cfg.TTL),
	})
	return &TwoLevel{local: local, shared: shared, metrics: m}
}

// MGetLocal answers keys from the in-process level alone, without any I/O:
// nil where it holds nothing (or while it is not trusted).
func (t *TwoLevel) MGetLocal(keys []string) [][]byte {
	out := make([][]byte, len(keys))
	if !t.trusted.Load() {
		return out
	}
	hits := 0
	for i, k := range keys {
		if v, ok := t.local.GetIfPresent(k); ok {
			out[i] = v.raw
			hits++
		}
	}
	t.metrics.CacheLevel.WithLabelValues("local").Add(float64(hits))
	return out
}

// PeekDecoded is the value of key held in process, decoded by decode the
// first time it is asked for, and its bytes (nil, nil, false when not held
// or not trusted).
func (t *TwoLevel) PeekDecoded(key string, decode func([]byte) (any, bool)) (any, []byte, bool) {
	if !t.trusted.Load() {
		return nil, nil, false
	}
	v, ok := t.local.GetIfPresent(key)
	if !ok {
		return nil, nil, false
	}
	t.metrics.CacheLevel.WithLabelValues("local").Inc()
	if d := v.decoded.Load(); d != nil {
		return *d, v.raw, true
	}
	d, ok := decode(v.raw)
	if !ok {
		return nil, nil, false
	}
	v.decoded.Store(&d)
	return d, v.raw, true
}

func (t *TwoLevel) MGet(ctx context.Context, keys []string) ([][]byte, error) {
	out := t.MGetLocal(keys)
	var missing []string
	var at []int
	for i, v := range out {
		// A copy marked stale is asked of Redis too: another replica may
		// have fetched it fresh since, and the mark stays the fallback.
		if v == nil || isMarked(v) {
			missing = append(missing, keys[i])
			at = append(at, i)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	before := make([]uint64, len(missing))
	for j, k := range missing {
		before[j] = t.epochOf(k).Load()
	}
	vals, err := t.shared.MGet(ctx, missing)
	if err != nil {
		// What the process holds still answers: the rest are misses.
		return out, nil
	}
	trusted := t.trusted.Load()
	for j, v := range vals {
		if v == nil {
			continue // a miss, or the marked copy held here
		}
		out[at[j]] = v
		if trusted && t.epochOf(missing[j]).Load() == before[j] {
			t.local.Set(missing[j], &localValue{raw: v})
		}
	}
	return out, nil
}

func (t *TwoLevel) MSet(ctx context.Context, items []Item) error {
	if t.trusted.Load() {
		for _, it := range items {
			t.local.Set(it.Key, &localValue{raw: it.Value})
		}
	}
	return t.shared.MSet(ctx, items)
}

// Del drops keys from this replica's level and the shared store; the
// caller publishes the change so that the other replicas drop them too.
func (t *TwoLevel) Del(ctx context.Context, keys []string) error {
	t.dropLocal(keys)
	return t.shared.Del(ctx, keys)
}

// Invalidate marks and drops in this replica's level, then in the shared
// store; the caller publishes the change so that the other replicas do the
// same. The level keeps its marked copies as the fallback of a read that
// finds no copy in Redis (see MGet), so that the last-known values still
// answer while Intercom fails.
func (t *TwoLevel) Invalidate(ctx context.Context, inv Invalidation) error {
	t.markLocal(inv.Stale, inv.At)
	t.dropLocal(inv.Gone)
	return t.shared.Invalidate(ctx, inv)
}

func (t *TwoLevel) Ping(ctx context.Context) error { return t.shared.Ping(ctx) }

// Epoch counts the invalidations of tenant's keys this replica has heard of
// (and of the workspaces sharing its stripe): a fetch that an invalidation
// overtook must not write back what it read.
func (t *TwoLevel) Epoch(tenant string) uint64 { return t.epochs[stripe(redis.Tag(tenant))].Load() }

// epochStripes is how many counters the workspaces share.
const epochStripes = 64

// epochOf is the counter of key's workspace.
func (t *TwoLevel) epochOf(key string) *atomic.Uint64 {
	tag := key
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i:], '}'); j > 0 {
			tag = key[i : i+j+1]
		}
	}
	return &t.epochs[stripe(tag)]
}

var stripeSeed = maphash.MakeSeed()

func stripe(tag string) int { return int(maphash.String(stripeSeed, tag) % epochStripes) }

// Event marks stale the keys another replica (or this one) marked, and
// drops the others it invalidated (every one, from a replica of the
// previous release).
func (t *TwoLevel) Event(ev events.Event) {
	t.metrics.CacheEvents.WithLabelValues("event").Inc()
	if len(ev.Stale) == 0 || ev.StaleAt <= 0 {
		t.dropLocal(ev.Keys)
		return
	}
	t.markLocal(ev.Stale, time.UnixMilli(ev.StaleAt))
	stale := make(map[string]bool, len(ev.Stale))
	for _, k := range ev.Stale {
		stale[k] = true
	}
	for _, k := range ev.Keys {
		if !stale[k] {
			t.dropLocal([]string{k})
		}
	}
}

// Reset empties the local level when the event stream breaks (and bypasses
// it until the stream is whole), and again when it is whole.
func (t *TwoLevel) Reset(ok bool) {
	t.metrics.CacheEvents.WithLabelValues(map[bool]string{false: "broken", true: "whole"}[ok]).Inc()
	t.trusted.Store(false)
	for i := range t.epochs {
		t.epochs[i].Add(1)
	}
	t.local.InvalidateAll()
	if ok {
		t.trusted.Store(true)
	}
}

// markLocal marks the values of keys held in process stale since at (a
// value marked already keeps its first mark).
func (t *TwoLevel) markLocal(keys []string, at time.Time) {
	for _, k := range keys {
		t.epochOf(k).Add(1)
		t.local.ComputeIfPresent(k, func(old *localValue) (*localValue, otter.ComputeOp) {
			if isMarked(old.raw) {
				return old, otter.CancelOp
			}
			marked, keep := markStale(old.raw, at)
			if !keep {
				return old, otter.InvalidateOp
			}
			return &localValue{raw: marked}, otter.WriteOp
		})
	}
}

func (t *TwoLevel) dropLocal(keys []string) {
	for _, k := range keys {
		t.epochOf(k).Add(1)
		t.local.Invalidate(k)
	}
}
