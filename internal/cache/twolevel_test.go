package cache

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/events"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/redis"
)

// duringMGet is a shared store that runs a step while a read is on its way
// (between the read's start and its answer).
type duringMGet struct {
	Store
	step func()
}

func (d *duringMGet) MGet(ctx context.Context, keys []string) ([][]byte, error) {
	if d.step != nil {
		d.step()
	}
	return d.Store.MGet(ctx, keys)
}

// A read from the shared store that an invalidation of its workspace
// overtook does not fill the in-process level; a read of another workspace
// still does.
func TestAnInvalidationStopsOnlyItsWorkspacesFill(t *testing.T) {
	shared := &duringMGet{Store: NewMemoryStore(0)}
	tl := NewTwoLevel(shared, LocalConfig{MaxEntries: 1000, MaxBytes: 1 << 20, TTL: time.Minute}, metrics.New())
	tl.Reset(true)  // the event stream is whole
	other := "ws-b" // a workspace of another stripe (the seed is the process's)
	for i := 0; stripe(redis.Tag(other)) == stripe(redis.Tag("ws-a")); i++ {
		other = fmt.Sprintf("ws-b%d", i)
	}
	a, b := redis.CacheKey("ws-a", "contact", "1"), redis.CacheKey(other, "contact", "1")
	if err := shared.MSet(context.Background(), []Item{{Key: a, Value: []byte("A"), TTL: time.Minute}, {Key: b, Value: []byte("B"), TTL: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	epochA, epochB := tl.Epoch("ws-a"), tl.Epoch(other)
	shared.step = func() {
		tl.Event(events.Event{Workspace: "ws-a", Keys: []string{redis.CacheKey("ws-a", "contact", "2")}})
	}
	got, err := tl.MGet(context.Background(), []string{a, b})
	if err != nil || string(got[0]) != "A" || string(got[1]) != "B" {
		t.Fatalf("MGet: %q, %v", got, err)
	}
	local := tl.MGetLocal([]string{a, b})
	if local[0] != nil {
		t.Error("a read overtaken by an invalidation of its workspace was kept in process")
	}
	if string(local[1]) != "B" {
		t.Error("an invalidation of another workspace stopped this one's read from being kept")
	}
	if tl.Epoch("ws-a") == epochA || tl.Epoch(other) != epochB {
		t.Errorf("epochs: ws-a %d → %d, the other %d → %d; want only ws-a's moved", epochA, tl.Epoch("ws-a"), epochB, tl.Epoch(other))
	}
}
