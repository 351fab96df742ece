package budget

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources"
)

// A call given back is taken off the workspace's and the caller's counts of
// its window, in one round trip, on one node and on a Cluster; never off a
// window that has ended, nor off a count Redis lost and started afresh, and
// no count goes below zero.
func TestGiveBack(t *testing.T) {
	for _, topo := range []struct {
		name   string
		client func(t *testing.T) goredis.UniversalClient
	}{
		{"one node", func(t *testing.T) goredis.UniversalClient { return redistest.Client(t, redistest.Addr(t)) }},
		{"Cluster", func(t *testing.T) goredis.UniversalClient {
			return redistest.ClusterClient(t, redistest.ClusterAddrs(t))
		}},
	} {
		t.Run(topo.name, func(t *testing.T) {
			client := topo.client(t)
			r := New(client, redis.NewHealth(client, time.Second, nil))
			ctx := context.Background()
			ws := redistest.Unique("ws")
			now := time.Now().Truncate(10 * time.Second).Add(time.Second)
			window := redis.BudgetWindowKey(ws, now.Truncate(10*time.Second))
			counts := func() (all, caller int) {
				t.Helper()
				all, _ = client.HGet(ctx, window, "all").Int()
				caller, _ = client.HGet(ctx, window, callerField("key-one")).Int()
				return all, caller
			}
			ask := sources.BudgetAsk{Workspace: ws, Caller: "key-one", Now: now, Window: 10 * time.Second, PerWindow: 20, CallerShare: 3}
			take := func() sources.BudgetAnswer {
				t.Helper()
				ans, err := r.Take(ctx, ask)
				if err != nil {
					t.Fatal(err)
				}
				return ans
			}
			back := func(ans sources.BudgetAnswer, at time.Time) {
				t.Helper()
				if err := r.GiveBack(ctx, sources.BudgetReturn{Workspace: ws, Caller: "key-one", Taken: now, Now: at,
					Window: 10 * time.Second, Receipt: ans.Receipt}); err != nil {
					t.Fatal(err)
				}
			}

			var taken []sources.BudgetAnswer
			for range 3 {
				if ans := take(); ans.Refused != "" || ans.Receipt == "" {
					t.Fatalf("take: %+v, want admitted with a receipt", ans)
				} else {
					taken = append(taken, ans)
				}
			}
			if ans := take(); ans.Refused != "caller" {
				t.Fatalf("a fourth call of a share of 3: %+v, want refused", ans)
			}
			back(taken[0], now.Add(time.Second))
			if all, caller := counts(); all != 2 || caller != 2 {
				t.Errorf("after a give-back: %d calls, %d of the caller's; want 2 and 2", all, caller)
			}
			if ans := take(); ans.Refused != "" {
				t.Errorf("the caller's unit given back: %+v, want admitted", ans)
			}

			// The window has ended: the give-back is dropped.
			back(taken[1], now.Add(10*time.Second))
			if all, caller := counts(); all != 3 || caller != 3 {
				t.Errorf("a give-back after the window: %d calls, %d of the caller's; want 3 and 3 left alone", all, caller)
			}

			// Redis lost the window, and a call of another replica started
			// it afresh: the call of the lost count is not given back to it.
			if err := client.Del(ctx, window).Err(); err != nil {
				t.Fatal(err)
			}
			if ans := take(); ans.Refused != "" {
				t.Fatalf("a fresh window: %+v, want admitted", ans)
			}
			back(taken[2], now.Add(time.Second))
			if all, caller := counts(); all != 1 || caller != 1 {
				t.Errorf("a give-back to a count started afresh: %d calls, %d of the caller's; want 1 and 1", all, caller)
			}

			// Counted by the previous release, which names no count: nothing
			// of it is given back.
			old := redistest.Unique("ws")
			oldWindow := redis.BudgetWindowKey(old, now.Truncate(10*time.Second))
			if err := client.HSet(ctx, oldWindow, "all", 5).Err(); err != nil {
				t.Fatal(err)
			}
			client.Expire(ctx, oldWindow, time.Minute)
			if err := r.GiveBack(ctx, sources.BudgetReturn{Workspace: old, Taken: now, Now: now, Window: 10 * time.Second, Receipt: "x"}); err != nil {
				t.Fatal(err)
			}
			if all, _ := client.HGet(ctx, oldWindow, "all").Int(); all != 5 {
				t.Errorf("a count the previous release started: %d, want its 5", all)
			}
		})
	}
}

// A give-back never takes a count below zero, however often it is asked.
func TestGiveBackNeverGoesBelowZero(t *testing.T) {
	client := redistest.Client(t, redistest.Addr(t))
	r := New(client, redis.NewHealth(client, time.Second, nil))
	ctx := context.Background()
	ws := redistest.Unique("ws")
	now := time.Now()
	ans, err := r.Take(ctx, sources.BudgetAsk{Workspace: ws, Caller: "key-one", Now: now, Window: 10 * time.Second, PerWindow: 20, CallerShare: 5})
	if err != nil || ans.Refused != "" {
		t.Fatalf("take: %+v, %v", ans, err)
	}
	for range 3 {
		if err := r.GiveBack(ctx, sources.BudgetReturn{Workspace: ws, Caller: "key-one", Taken: now, Now: now,
			Window: 10 * time.Second, Receipt: ans.Receipt}); err != nil {
			t.Fatal(err)
		}
	}
	window := redis.BudgetWindowKey(ws, now.Truncate(10*time.Second))
	all, _ := client.HGet(ctx, window, "all").Int()
	caller, _ := client.HGet(ctx, window, callerField("key-one")).Int()
	if all != 0 || caller != 0 {
		t.Errorf("one call given back three times: counts %d and %d, want 0 and 0", all, caller)
	}
}
