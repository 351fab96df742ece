package budget

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/cache"
	"github.com/talkdesk-intercom/api/internal/redistest"
)

// Three replicas on one Redis Cluster share one window's budget and one
// caller's share of it.
func TestTheFleetSharesOneBudget(t *testing.T) {
	client := redistest.ClusterClient(t, redistest.ClusterAddrs(t))
	health := cache.NewRedisHealth(client, time.Second, nil)
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
			refused, _, err := replicas[i%3].Take(context.Background(), ws, caller, now, 10*time.Second, 20, 5)
			switch {
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
	if refused, _, err := replicas[0].Take(context.Background(), ws, "key-one", now.Add(10*time.Second), 10*time.Second, 20, 5); err != nil || refused != "" {
		t.Errorf("next window: refused %q, %v", refused, err)
	}
}

// Without Redis the fleet's count says it cannot tell, fast, and skips
// Redis for a moment.
func TestWithoutRedisTheGovernorDecides(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = dead.Close() })
	r := New(dead, cache.NewRedisHealth(dead, 50*time.Millisecond, nil))
	if _, _, err := r.Take(context.Background(), "ws", "", time.Now(), 10*time.Second, 10, 5); err == nil {
		t.Fatal("no error from a dead Redis")
	}
	start := time.Now()
	if _, _, err := r.Take(context.Background(), "ws", "", time.Now(), 10*time.Second, 10, 5); !errors.Is(err, cache.ErrUnavailable) || time.Since(start) > 5*time.Millisecond {
		t.Errorf("second call: %v after %v, want skipped at once", err, time.Since(start))
	}
}
