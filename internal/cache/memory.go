package cache

import (
	"context"
	"sync"
	"time"
)

// MemoryStore keeps entries in process: the cache when no Redis is
// configured. It holds at most maxEntries; when full, it drops expired
// entries first and then arbitrary ones, down to nine tenths of maxEntries so
// that the scan of a full store is not repeated on every write.
type MemoryStore struct {
	mu         sync.Mutex
	entries    map[string]memoryEntry
	maxEntries int
	now        func() time.Time
}

type memoryEntry struct {
	value   []byte
	expires time.Time
}

// NewMemoryStore returns an empty in-process store.
func NewMemoryStore(maxEntries int) *MemoryStore {
	if maxEntries <= 0 {
		maxEntries = 100_000
	}
	return &MemoryStore{entries: map[string]memoryEntry{}, maxEntries: maxEntries, now: time.Now}
}

func (m *MemoryStore) MGet(_ context.Context, keys []string) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	out := make([][]byte, len(keys))
	for i, k := range keys {
		if e, ok := m.entries[k]; ok {
			if now.Before(e.expires) {
				out[i] = e.value
			} else {
				delete(m.entries, k)
			}
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
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for _, it := range items {
		if len(m.entries) >= m.maxEntries {
			m.evictLocked(now)
		}
		m.entries[it.Key] = memoryEntry{value: it.Value, expires: now.Add(it.TTL)}
	}
	return nil
}

func (m *MemoryStore) evictLocked(now time.Time) {
	for k, e := range m.entries {
		if !now.Before(e.expires) {
			delete(m.entries, k)
		}
	}
	for k := range m.entries { // map order is random: a cheap random eviction
		if len(m.entries) < m.maxEntries-m.maxEntries/10 {
			return
		}
		delete(m.entries, k)
	}
}

func (m *MemoryStore) Del(_ context.Context, keys []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		delete(m.entries, k)
	}
	return nil
}

func (m *MemoryStore) Ping(context.Context) error { return nil }
