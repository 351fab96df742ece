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

// Another replica's invalidation reaches this one's in-process level: the
// keys it marked stale are marked here too (the value kept, no longer
// fresh, with the other replica's time), the others dropped; an event of
// the previous release, which knows no Stale, drops every key it names.
func TestEventsMarkOrDropTheInProcessCopies(t *testing.T) {
	tl := NewTwoLevel(NewMemoryStore(0), LocalConfig{MaxEntries: 1000, MaxBytes: 1 << 20, TTL: time.Minute}, metrics.New())
	tl.Reset(true)
	now := time.Now()
	value, err := encode(map[string]string{"name": "Maria"}, now.Add(time.Minute), false)
	if err != nil {
		t.Fatal(err)
	}
	key := func(id string) string { return redis.CacheKey("ws", "contact", id) }
	fill := func() {
		t.Helper()
		var items []Item
		for _, id := range []string{"old", "wrong", "untouched"} {
			items = append(items, Item{Key: key(id), Value: value, TTL: time.Hour})
		}
		if err := tl.MSet(context.Background(), items); err != nil {
			t.Fatal(err)
		}
	}

	fill()
	markedAt := now.Add(-3 * time.Second)
	tl.Event(events.Event{Workspace: "ws", Keys: []string{key("old"), key("wrong")}, Stale: []string{key("old")}, StaleAt: markedAt.UnixMilli()})
	got := tl.MGetLocal([]string{key("old"), key("wrong"), key("untouched")})
	e, ok := decode[map[string]string](got[0])
	if !ok || e.fresh(now.UnixMilli()) || e.Value["name"] != "Maria" || e.staleAge(now.UnixMilli()) != 3*time.Second {
		t.Errorf("the key marked stale: %q; want Maria, not fresh, stale for 3s", got[0])
	}
	if got[1] != nil {
		t.Errorf("the key the change made wrong is still held: %q", got[1])
	}
	if string(got[2]) != string(value) {
		t.Errorf("an untouched key changed: %q", got[2])
	}

	fill()
	tl.Event(events.Event{Workspace: "ws", Keys: []string{key("old"), key("wrong")}}) // the previous release's
	if got := tl.MGetLocal([]string{key("old"), key("wrong")}); got[0] != nil || got[1] != nil {
		t.Errorf("after an event of the previous release: %q; want both dropped", got)
	}
}

// A copy marked stale in process does not hide a fresher one in the shared
// store: after an invalidation, the replica that fetched the value again
// wrote it back, and another replica reads that instead of asking Intercom.
// With nothing in the shared store, the marked copy still answers.
func TestAMarkedCopyAsksTheSharedStoreFirst(t *testing.T) {
	shared := NewMemoryStore(0)
	cfg := LocalConfig{MaxEntries: 1000, MaxBytes: 1 << 20, TTL: time.Minute}
	a, b := NewTwoLevel(shared, cfg, metrics.New()), NewTwoLevel(shared, cfg, metrics.New())
	a.Reset(true)
	b.Reset(true)
	ctx := context.Background()
	key := redis.CacheKey("ws-a", "contact", "1")
	old, _ := encode("old", time.Now().Add(time.Minute), false)
	if err := a.MSet(ctx, []Item{{Key: key, Value: old, TTL: time.Hour}}); err != nil {
		t.Fatal(err)
	}
	if got, err := b.MGet(ctx, []string{key}); err != nil || got[0] == nil {
		t.Fatalf("b's first read: %q, %v", got, err)
	}
	at := time.Now()
	if err := a.Invalidate(ctx, Invalidation{Stale: []string{key}, At: at, Keep: time.Hour}); err != nil {
		t.Fatal(err)
	}
	b.Event(events.Event{Workspace: "ws-a", Keys: []string{key}, Stale: []string{key}, StaleAt: at.UnixMilli()})
	if local := b.MGetLocal([]string{key}); !isMarked(local[0]) {
		t.Fatalf("b's copy after the event: %q; want it marked stale", local[0])
	}

	fresh, _ := encode("fresh", time.Now().Add(time.Minute), false)
	if err := a.MSet(ctx, []Item{{Key: key, Value: fresh, TTL: time.Hour}}); err != nil { // a read it again
		t.Fatal(err)
	}
	if got, err := b.MGet(ctx, []string{key}); err != nil || string(got[0]) != string(fresh) {
		t.Errorf("b's read after a wrote the value back: %q, %v; want the fresh copy", got, err)
	}

	// Nothing in the shared store: the marked copy in process answers.
	if err := a.Invalidate(ctx, Invalidation{Stale: []string{key}, At: time.Now(), Keep: time.Hour}); err != nil {
		t.Fatal(err)
	}
	b.markLocal([]string{key}, time.Now())
	if err := shared.Del(ctx, []string{key}); err != nil {
		t.Fatal(err)
	}
	if got, err := b.MGet(ctx, []string{key}); err != nil || !isMarked(got[0]) {
		t.Errorf("b's read with the shared copy gone: %q, %v; want its marked copy", got, err)
	}
}
