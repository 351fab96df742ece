package cache

import (
	"context"
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

func (m *MemoryStore) MSet(_ context.Context, items []Item) error {
	for _, it := range items {
		if it.TTL <= 0 { // already expired; otter would keep it for ever
			m.entries.Invalidate(it.Key)
			continue
		}
		m.entries.Set(it.Key, memoryEntry{value: it.Value, ttl: it.TTL})
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
			return memoryEntry{value: marked, ttl: ttl}, otter.WriteOp
		})
	}
	return m.Del(context.Background(), inv.Gone)
}

func (m *MemoryStore) Ping(context.Context) error { return nil }
