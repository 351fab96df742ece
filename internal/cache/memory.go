package cache

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/talkdesk-intercom/api/internal/bounded"
)

// MemoryStore keeps entries in process: the cache when no Redis is
// configured, and persisted queries. It holds at most maxBytes of keys and
// values (each entry weighs entryOverhead more), each for its item's TTL; a
// full store drops the entries least likely to be read again (package
// bounded). Bytes, not entries: clients choose the size of what they store.
type MemoryStore struct {
	entries *otter.Cache[string, memoryEntry]
}

type memoryEntry struct {
	value []byte
	ttl   time.Duration
	// decoded is the value once a reader has decoded it (PeekDecoded),
	// shared by every later reader: values read from the cache are never
	// modified. A warm dashboard reads about 150 entries; decoding each
	// every time was half of its CPU without Redis.
	decoded *atomic.Pointer[any]
}

func newMemoryEntry(value []byte, ttl time.Duration) memoryEntry {
	return memoryEntry{value: value, ttl: ttl, decoded: new(atomic.Pointer[any])}
}

// NewMemoryStore returns an empty in-process store of at most maxBytes.
func NewMemoryStore(maxBytes int64) *MemoryStore { return newMemoryStore(maxBytes, nil) }

// entryOverhead is what an entry costs beside its key and value (the
// cache's own structures), so that many tiny entries are bounded too.
const entryOverhead = 128

func newMemoryStore(maxBytes int64, clock *bounded.Clock) *MemoryStore {
	if maxBytes <= 0 {
		maxBytes = 64 << 20
	}
	return &MemoryStore{entries: bounded.New(otter.Options[string, memoryEntry]{
		MaximumWeight: uint64(maxBytes),
		Weigher: func(k string, e memoryEntry) uint32 {
			return uint32(min(len(k)+len(e.value)+entryOverhead, 1<<31))
		},
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, memoryEntry]) time.Duration {
			return e.Value.ttl
		}),
	}, clock)}
}

func (m *MemoryStore) MGet(_ context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		if e, ok := m.entries.GetIfPresent(k); ok {
			out[i] = e.value
		}
	}
	return out, nil
}

// MGetLocal is MGet: the whole store is in process.
func (m *MemoryStore) MGetLocal(keys []string) [][]byte {
	out, _ := m.MGet(context.Background(), keys)
	return out
}

// PeekDecoded is the value of key, decoded by decode the first time it is
// asked for, and its bytes (nil, nil, false when not held).
func (m *MemoryStore) PeekDecoded(key string, decode func([]byte) (any, bool)) (any, []byte, bool) {
	e, ok := m.entries.GetIfPresent(key)
	if !ok {
		return nil, nil, false
	}
	if d := e.decoded.Load(); d != nil {
		return *d, e.value, true
	}
	d, ok := decode(e.value)
	if !ok {
		return nil, nil, false
	}
	e.decoded.Store(&d)
	return d, e.value, true
}

func (m *MemoryStore) MSet(_ context.Context, items []Item) error {
	for _, it := range items {
		if it.TTL <= 0 { // already expired; otter would keep it for ever
			m.entries.Invalidate(it.Key)
			continue
		}
		m.entries.Set(it.Key, newMemoryEntry(it.Value, it.TTL))
	}
	return nil
}

func (m *MemoryStore) Del(_ context.Context, keys []string) error {
	for _, k := range keys {
		m.entries.Invalidate(k)
	}
	return nil
}

// Invalidate marks and deletes; each mark is made under the entry's lock, so
// that a value written meanwhile is not replaced by the old one marked.
func (m *MemoryStore) Invalidate(_ context.Context, inv Invalidation) error {
	for _, k := range inv.Stale {
		m.entries.ComputeIfPresent(k, func(old memoryEntry) (memoryEntry, otter.ComputeOp) {
			if isMarked(old.value) {
				return old, otter.CancelOp // its first mark stands
			}
			marked, keep := markStale(old.value, inv.At)
			if !keep {
				return old, otter.InvalidateOp
			}
			ttl := inv.Keep
			if e, ok := m.entries.GetEntryQuietly(k); ok {
				ttl = min(ttl, e.ExpiresAfter())
			}
			if ttl <= 0 {
				return old, otter.InvalidateOp
			}
			return newMemoryEntry(marked, ttl), otter.WriteOp
		})
	}
	return m.Del(context.Background(), inv.Gone)
}

func (m *MemoryStore) Ping(context.Context) error { return nil }
