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
			m := newMemoryStore(10, clock)
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
	m := newMemoryStore(size, bounded.NewClock(time.Unix(1_700_000_000, 0)))
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
	if n := m.entries.EstimatedSize(); n > size {
		t.Errorf("%d entries kept, want at most %d", n, size)
	}
	if err := m.Del(ctx, []string{"hot"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.MGet(ctx, []string{"hot"}); got[0] != nil {
		t.Errorf("after Del: %q", got[0])
	}
}
