package budget

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources"
)

// Three replicas on one Redis Cluster share one window's budget and one
// caller's share of it.
func TestTheFleetSharesOneBudget(t *testing.T) {
	client := redistest.ClusterClient(t, redistest.ClusterAddrs(t))
	health := redis.NewHealth(client, time.Second, nil)
	replicas := []*Redis{New(client, health), New(client, health), New(client, health)}
	ws := redistest.Unique("ws")
	now := time.Now()
	var admitted, callerAdmitted, spentWorkspace, spentCaller atomic.Int64
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			caller := ""
			if i%2 == 0 {
				caller = "key-one"
			}
			ans, err := replicas[i%3].Take(context.Background(), sources.BudgetAsk{Workspace: ws, Caller: caller, Now: now,
				Window: 10 * time.Second, PerWindow: 20, CallerShare: 5})
			switch refused := ans.Refused; {
			case err != nil:
				t.Error(err)
			case refused == "":
				admitted.Add(1)
				if caller != "" {
					callerAdmitted.Add(1)
				}
			case refused == "workspace":
				spentWorkspace.Add(1)
			case refused == "caller":
				spentCaller.Add(1)
			}
		})
	}
	wg.Wait()
	if admitted.Load() != 20 || callerAdmitted.Load() != 5 {
		t.Errorf("admitted %d calls, %d of the caller's; want 20 and 5 (refused: %d workspace, %d caller)",
			admitted.Load(), callerAdmitted.Load(), spentWorkspace.Load(), spentCaller.Load())
	}
	// The next window starts afresh.
	if ans, err := replicas[0].Take(context.Background(), sources.BudgetAsk{Workspace: ws, Caller: "key-one", Now: now.Add(10 * time.Second),
		Window: 10 * time.Second, PerWindow: 20, CallerShare: 5}); err != nil || ans.Refused != "" {
		t.Errorf("next window: refused %q, %v", ans.Refused, err)
	}
}

// Calls held of the next window are counted in it: the rest of the fleet
// gets the budget less what is held, and a hold never passes the budget.
func TestHeldCallsAreCountedInTheNextWindow(t *testing.T) {
	client := redistest.ClusterClient(t, redistest.ClusterAddrs(t))
	r := New(client, redis.NewHealth(client, time.Second, nil))
	ws := redistest.Unique("ws")
	now := time.Now()
	ask := sources.BudgetAsk{Workspace: ws, Now: now, Window: 10 * time.Second, PerWindow: 20, HoldNext: 6}
	if ans, err := r.Take(context.Background(), ask); err != nil || ans.Refused != "" || ans.HeldNext != 6 {
		t.Fatalf("first take: %+v, %v; want admitted, 6 held", ans, err)
	}
	ask.HoldNext = 30 // more than is left of the next window
	if ans, err := r.Take(context.Background(), ask); err != nil || ans.HeldNext != 14 {
		t.Fatalf("second take: %+v, %v; want the 14 left held", ans, err)
	}
	next := sources.BudgetAsk{Workspace: ws, Now: now.Add(10 * time.Second), Window: 10 * time.Second, PerWindow: 20}
	if ans, err := r.Take(context.Background(), next); err != nil || ans.Refused != "workspace" {
		t.Errorf("next window, all of it held: %+v, %v; want refused", ans, err)
	}
}

// Without Redis the fleet's count says it cannot tell, fast, and skips
// Redis for a moment.
func TestWithoutRedisTheGovernorDecides(t *testing.T) {
	dead := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = dead.Close() })
	r := New(dead, redis.NewHealth(dead, 50*time.Millisecond, nil))
	ask := sources.BudgetAsk{Workspace: "ws", Now: time.Now(), Window: 10 * time.Second, PerWindow: 10, CallerShare: 5}
	if _, err := r.Take(context.Background(), ask); err == nil {
		t.Fatal("no error from a dead Redis")
	}
	start := time.Now()
	if _, err := r.Take(context.Background(), ask); !errors.Is(err, redis.ErrUnavailable) || time.Since(start) > 5*time.Millisecond {
		t.Errorf("second call: %v after %v, want skipped at once", err, time.Since(start))
	}
}
