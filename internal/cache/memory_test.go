package cache

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/bounded"
)

func TestMemoryStoreKeepsEachEntryForItsTTL(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		ttl     time.Duration
		advance time.Duration
		want    bool
	}{
		{"within its TTL", time.Minute, 59 * time.Second, true},
		{"at its TTL", time.Minute, time.Minute, false},
		{"a long TTL", 24 * time.Hour, time.Hour, true},
		{"no TTL is not kept", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := bounded.NewClock(time.Unix(1_700_000_000, 0))
			m := newMemoryStore(1<<20, clock)
			if err := m.MSet(ctx, []Item{{Key: "k", Value: []byte("v"), TTL: tt.ttl}, {Key: "other", Value: []byte("o"), TTL: time.Hour}}); err != nil {
				t.Fatal(err)
			}
			clock.Advance(tt.advance)
			got, _ := m.MGet(ctx, []string{"k", "absent"})
			if (got[0] != nil) != tt.want || got[1] != nil {
				t.Errorf("MGet after %v: %q, want k kept %v and absent nil", tt.advance, got, tt.want)
			}
		})
	}
}

func TestFullMemoryStoreKeepsTheEntriesInUse(t *testing.T) {
	ctx := context.Background()
	const size = 100
	const budget = size * (entryOverhead + 20) // about 100 entries of these
	m := newMemoryStore(budget, bounded.NewClock(time.Unix(1_700_000_000, 0)))
	item := func(k string) []Item { return []Item{{Key: k, Value: []byte(k), TTL: time.Hour}} }
	for i := range 10 * size {
		m.MSet(ctx, item(fmt.Sprint("cold", i)))
		if i == 0 {
			m.MSet(ctx, item("hot"))
		}
		if got, _ := m.MGet(ctx, []string{"hot"}); got[0] == nil && i > 0 {
			t.Fatalf("after %d other writes the entry read every time was dropped", i)
		}
	}
	m.entries.CleanUp()
	if w := m.entries.WeightedSize(); w > budget {
		t.Errorf("%d bytes kept, want at most %d", w, budget)
	}
	if err := m.Del(ctx, []string{"hot"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.MGet(ctx, []string{"hot"}); got[0] != nil {
		t.Errorf("after Del: %q", got[0])
	}
}

// Clients choose the size of what they store (a persisted query's
// comments): the store is bounded by bytes, not entries.
func TestMemoryStoreIsBoundedByBytes(t *testing.T) {
	ctx := context.Background()
	const budget = 4 << 20
	m := newMemoryStore(budget, bounded.NewClock(time.Unix(1_700_000_000, 0)))
	big := make([]byte, 250<<10)
	for i := range 400 { // 100 MB offered
		m.MSet(ctx, []Item{{Key: fmt.Sprint("doc", i), Value: big, TTL: time.Hour}})
	}
	m.entries.CleanUp()
	if w := m.entries.WeightedSize(); w > budget {
		t.Errorf("%d bytes kept, want at most %d", w, budget)
	}
	if n := m.entries.EstimatedSize(); n == 0 || n > budget/len(big) {
		t.Errorf("%d entries of 250 KB kept in a %d-byte store", n, budget)
	}
}
