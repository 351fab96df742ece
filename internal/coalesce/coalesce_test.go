package coalesce

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/sources"
)

// Concurrent lookups share fetches of at most max keys, within one group
// only: one workspace's numbers never ride in another's search.
func TestCoalescerSharesFetchesWithinAGroupOnly(t *testing.T) {
	var mu sync.Mutex
	var fetches [][]string
	c := New(time.Second, 15, nil, func(_ context.Context, keys []string) (map[string]string, error) {
		mu.Lock()
		fetches = append(fetches, slices.Clone(keys))
		mu.Unlock()
		out := map[string]string{}
		for _, k := range keys {
			out[k] = "found " + k
		}
		return out, nil
	})
	var wg sync.WaitGroup
	for _, ws := range []string{"ws1", "ws2"} {
		for i := range 20 {
			wg.Go(func() {
				key := fmt.Sprintf("%s-%d", ws, i)
				got, err := c.Do(context.Background(), ws, []string{key})
				if err != nil || got[key] != "found "+key {
					t.Errorf("%s: %v, %v", key, got, err)
				}
			})
		}
	}
	wg.Wait()
	// 20 keys a group: one full fetch of 15 and one of the other 5, twice.
	if len(fetches) != 4 {
		t.Errorf("%d fetches, want 4: %v", len(fetches), fetches)
	}
	for _, f := range fetches {
		if len(f) > 15 {
			t.Errorf("a fetch of %d keys, want at most 15", len(f))
		}
		for _, k := range f {
			if !strings.HasPrefix(k, f[0][:3]) {
				t.Errorf("a fetch mixes groups: %v", f)
			}
		}
	}
}

// A lone lookup is fetched when the window ends, not later.
func TestCoalescerWaitsAtMostTheWindow(t *testing.T) {
	c := New(20*time.Millisecond, 15, nil, func(_ context.Context, keys []string) (map[string]int, error) {
		return map[string]int{keys[0]: 1}, nil
	})
	start := time.Now()
	got, err := c.Do(context.Background(), "ws", []string{"a"})
	if err != nil || got["a"] != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
	if waited := time.Since(start); waited > time.Second {
		t.Errorf("a lone lookup waited %s", waited)
	}
}

// When every lookup waiting for a fetch has gone, the fetch is cancelled.
func TestCoalescerCancelsAFetchNobodyWaitsFor(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan struct{})
	c := New(time.Millisecond, 15, nil, func(ctx context.Context, keys []string) (map[string]int, error) {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	if _, err := c.Do(ctx, "ws", []string{"a"}); err == nil {
		t.Fatal("a lookup whose client left got no error")
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the fetch went on after its only lookup left")
	}
}

// A source's caller lookups share a search only with lookups of their budget
// owner: the search is paid by that owner.
func TestPhonesShareSearchesWithinABudgetOwnerOnly(t *testing.T) {
	var mu sync.Mutex
	var searches [][]string
	search := Phones(time.Second)(func(ctx context.Context, phones []string) (map[string][]*sources.Contact, error) {
		mu.Lock()
		searches = append(searches, slices.Clone(phones))
		mu.Unlock()
		out := map[string][]*sources.Contact{}
		for _, p := range phones {
			out[p] = []*sources.Contact{{ID: sources.CallerFrom(ctx) + p}}
		}
		return out, nil
	}, 4, nil)
	var wg sync.WaitGroup
	for _, caller := range []string{"a", "b"} {
		for i := range 4 {
			wg.Go(func() {
				p := fmt.Sprintf("+1415555010%d", i)
				got, err := search(sources.WithCaller(context.Background(), caller), []string{p})
				if err != nil || len(got[p]) != 1 || got[p][0].ID != caller+p {
					t.Errorf("%s %s: %v, %v", caller, p, got, err)
				}
			})
		}
	}
	wg.Wait()
	if len(searches) != 2 {
		t.Errorf("%d searches, want 2 (one per owner): %v", len(searches), searches)
	}
}
