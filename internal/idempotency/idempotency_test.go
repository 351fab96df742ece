package idempotency_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/idempotency"
	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources"
)

func stores(t *testing.T) map[string]idempotency.Store {
	return map[string]idempotency.Store{
		"redis":  idempotency.NewRedisStore(redis.NewHealth(redistest.Client(t, redistest.Addr(t)), time.Second, nil)),
		"memory": idempotency.NewMemoryStore(),
	}
}

type ticket struct{ ID string }

func TestRepeatReturnsTheStoredResult(t *testing.T) {
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			g := idempotency.New(store, idempotency.Options{})
			key := redistest.Unique("key")
			var runs atomic.Int32
			action := idempotency.Action[ticket]{Key: key, Input: map[string]any{"title": "Call back"},
				Run: func(context.Context) (ticket, error) { runs.Add(1); return ticket{ID: "t1"}, nil }}
			first, replayed, err := idempotency.Do(context.Background(), g, action)
			if err != nil || replayed || first.ID != "t1" {
				t.Fatalf("first: %+v replayed=%v %v", first, replayed, err)
			}
			again, replayed, err := idempotency.Do(context.Background(), g, action)
			if err != nil || !replayed || again.ID != "t1" {
				t.Fatalf("repeat: %+v replayed=%v %v", again, replayed, err)
			}
			if runs.Load() != 1 {
				t.Errorf("ran %d times, want 1", runs.Load())
			}
			action.Input = map[string]any{"title": "Something else"}
			if _, _, err := idempotency.Do(context.Background(), g, action); sources.ErrorCode(err) != sources.EConflict {
				t.Errorf("same key, other input: %v, want CONFLICT", err)
			}
		})
	}
}

func TestConcurrentRepeatsWaitForTheFirst(t *testing.T) {
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			g := idempotency.New(store, idempotency.Options{})
			key := redistest.Unique("key")
			var runs atomic.Int32
			action := idempotency.Action[ticket]{Key: key, Input: "same",
				Run: func(context.Context) (ticket, error) {
					runs.Add(1)
					time.Sleep(100 * time.Millisecond)
					return ticket{ID: "t1"}, nil
				}}
			var wg sync.WaitGroup
			results := make([]ticket, 20)
			errs := make([]error, 20)
			for i := range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i], _, errs[i] = idempotency.Do(context.Background(), g, action)
				}()
			}
			wg.Wait()
			for i := range 20 {
				if errs[i] != nil || results[i].ID != "t1" {
					t.Errorf("caller %d: %+v, %v", i, results[i], errs[i])
				}
			}
			if runs.Load() != 1 {
				t.Errorf("ran %d times, want 1", runs.Load())
			}
		})
	}
}

func TestUncertainFailureIsReconciledBeforeRunningAgain(t *testing.T) {
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			g := idempotency.New(store, idempotency.Options{})
			key := redistest.Unique("key")
			var runs atomic.Int32
			created := false // what the upstream did, unknown to the caller
			var since time.Time
			action := idempotency.Action[ticket]{Key: key, Input: "same",
				Run: func(context.Context) (ticket, error) {
					runs.Add(1)
					created = true
					return ticket{}, sources.Errorf(sources.EUpstreamUnavailable, "Intercom timed out")
				},
				Reconcile: func(_ context.Context, s time.Time) (ticket, bool, error) {
					since = s
					return ticket{ID: "t1"}, created, nil
				}}
			start := time.Now().Add(-time.Second)
			if _, _, err := idempotency.Do(context.Background(), g, action); sources.ErrorCode(err) != sources.EUpstreamUnavailable {
				t.Fatalf("first attempt: %v", err)
			}
			got, _, err := idempotency.Do(context.Background(), g, action)
			if err != nil || got.ID != "t1" {
				t.Fatalf("retry: %+v, %v; want the reconciled ticket", got, err)
			}
			if runs.Load() != 1 {
				t.Errorf("ran %d times, want 1", runs.Load())
			}
			if since.Before(start) {
				t.Errorf("reconciled since %s, want the first attempt's start", since)
			}
			if again, replayed, _ := idempotency.Do(context.Background(), g, action); !replayed || again.ID != "t1" {
				t.Errorf("after reconciliation: %+v replayed=%v", again, replayed)
			}
		})
	}
}

func TestFailureWithoutEffectFreesTheKey(t *testing.T) {
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			g := idempotency.New(store, idempotency.Options{})
			key := redistest.Unique("key")
			fail := true
			action := idempotency.Action[ticket]{Key: key, Input: "same",
				Run: func(context.Context) (ticket, error) {
					if fail {
						return ticket{}, sources.InputError("title", "title is required")
					}
					return ticket{ID: "t2"}, nil
				}}
			if _, _, err := idempotency.Do(context.Background(), g, action); sources.ErrorCode(err) != sources.EBadUserInput {
				t.Fatalf("first: %v", err)
			}
			fail = false
			if got, replayed, err := idempotency.Do(context.Background(), g, action); err != nil || replayed || got.ID != "t2" {
				t.Errorf("retry after a refused attempt: %+v replayed=%v %v; want a fresh run", got, replayed, err)
			}
		})
	}
}

// With Redis frozen, an action runs once and its repeat is replayed from the
// in-process mirror, each call paying at most the Redis timeout; when Redis
// is back (without the record), a repeat is still replayed, not run again.
func TestRedisFrozenKeepsTheGuarantees(t *testing.T) {
	const timeout = 100 * time.Millisecond
	srv := redistest.Start(t)
	client, err := redis.Open("redis://"+srv.Addr, false, timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	h := redis.NewHealth(client, timeout, nil)
	g := idempotency.New(&idempotency.Tiered{Primary: idempotency.NewRedisStore(h), Local: idempotency.NewMemoryStore()}, idempotency.Options{})
	var runs atomic.Int32
	action := idempotency.Action[ticket]{Key: redistest.Unique("key"), Input: map[string]any{"title": "Call back"},
		Run: func(context.Context) (ticket, error) { runs.Add(1); return ticket{ID: "t1"}, nil }}

	srv.Freeze()
	for i, wantReplayed := range []bool{false, true} {
		start := time.Now()
		got, replayed, err := idempotency.Do(context.Background(), g, action)
		if err != nil || replayed != wantReplayed || got.ID != "t1" {
			t.Fatalf("call %d with Redis frozen: %+v replayed=%v %v", i, got, replayed, err)
		}
		if d := time.Since(start); d > timeout+200*time.Millisecond {
			t.Errorf("call %d with Redis frozen took %s, want at most about one Redis timeout", i, d)
		}
	}
	srv.Thaw()
	deadline := time.Now().Add(5 * time.Second)
	for !h.Up() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if _, replayed, err := idempotency.Do(context.Background(), g, action); err != nil || !replayed {
		t.Errorf("after Redis returned: replayed=%v %v, want the result kept while it was away", replayed, err)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("the action ran %d times, want once", n)
	}
}
