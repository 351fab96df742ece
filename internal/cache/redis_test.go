package cache_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/cache"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
)

// Redis frozen (SIGSTOP: connections open, nothing answers) or killed: the
// first call pays one timeout, the next ones none; a background probe sees
// Redis return; each change is told once.
func TestRedisAwayCostsOneTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	for _, tc := range redistest.Outages {
		t.Run(tc.Name, func(t *testing.T) {
			srv := redistest.Start(t)
			client, err := redis.Open("redis://"+srv.Addr, false, timeout)
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			var mu sync.Mutex
			var changes []bool
			h := redis.NewHealth(client, timeout, func(up bool, _ error) {
				mu.Lock()
				changes = append(changes, up)
				mu.Unlock()
			})
			store := cache.NewRedisStoreWith(h, metrics.New())
			ctx := context.Background()
			key := redistest.Unique("k")
			if err := store.MSet(ctx, []cache.Item{{Key: key, Value: []byte("v"), TTL: time.Minute}}); err != nil {
				t.Fatal(err)
			}

			tc.Away(srv)
			start := time.Now()
			if _, err := store.MGet(ctx, []string{key}); err == nil {
				t.Fatal("MGet succeeded with Redis away")
			}
			if d := time.Since(start); d > timeout+150*time.Millisecond {
				t.Errorf("the first call with Redis away took %s, want about the timeout (%s)", d, timeout)
			}
			start = time.Now()
			for range 20 {
				if _, err := store.MGet(ctx, []string{key}); !errors.Is(err, redis.ErrUnavailable) {
					t.Fatalf("while away: %v, want ErrUnavailable at once", err)
				}
			}
			if d := time.Since(start); d > 20*time.Millisecond {
				t.Errorf("20 calls while Redis is known away took %s, want no wait", d)
			}

			tc.Back(srv)
			deadline := time.Now().Add(5 * time.Second)
			for !h.Up() && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if !h.Up() {
				t.Fatal("the probe did not see Redis return")
			}
			if err := store.MSet(ctx, []cache.Item{{Key: key, Value: []byte("v2"), TTL: time.Minute}}); err != nil {
				t.Errorf("after Redis returned: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(changes) != 2 || changes[0] || !changes[1] {
				t.Errorf("changes told %v, want [false true]: one going away, one return", changes)
			}
		})
	}
}
