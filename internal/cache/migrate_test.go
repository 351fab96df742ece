package cache_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/cache"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
)

// While a workspace's slot moves to another master, a batch whose keys are
// on both masters (or missing on the new one) is refused TRYAGAIN: the
// store reads and deletes such a batch key by key, and fails nothing.
func TestRedisStoreDuringASlotMigration(t *testing.T) {
	c := redistest.StartCluster(t) // private: its slot moves
	client, err := redis.Open(redistest.ClusterURL(c.Addrs[:3]), false, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	m := metrics.New()
	store := cache.NewRedisStore(client, 2*time.Second, m)
	ctx := context.Background()
	key := func(name string) string { return redis.CacheKey("mig", "contact", name) }
	var items []cache.Item
	for _, k := range []string{"moved", "kept", "moved-del", "kept-del"} {
		items = append(items, cache.Item{Key: key(k), Value: []byte(k), TTL: time.Minute})
	}
	if err := store.MSet(ctx, items); err != nil {
		t.Fatal(err)
	}
	moveFirst := func(k string) bool { return k == key("moved") || k == key("moved-del") }
	c.MigrateSlotOf(t, redis.Tag("mig"), redistest.MigrateOptions{MoveFirst: moveFirst, Midway: func(redistest.Migration) {
		batch := []string{key("moved"), key("kept"), key("missing")}
		if err := client.MGet(ctx, batch...).Err(); !goredis.IsTryAgainError(err) {
			t.Errorf("midway, go-redis's MGET over both masters: %v, want TRYAGAIN (or the test splits nothing)", err)
		}
		got, err := store.MGet(ctx, batch)
		if err != nil || string(got[0]) != "moved" || string(got[1]) != "kept" || got[2] != nil {
			t.Errorf("midway, MGet: %q, %v", got, err)
		}
		if err := store.Del(ctx, []string{key("moved-del"), key("kept-del"), key("missing")}); err != nil {
			t.Errorf("midway, Del: %v", err)
		}
		// A key written midway goes to the new master (ASK), then reads
		// among keys of both.
		if err := store.MSet(ctx, []cache.Item{{Key: key("new"), Value: []byte("new"), TTL: time.Minute}}); err != nil {
			t.Errorf("midway, MSet: %v", err)
		}
		if got, err := store.MGet(ctx, []string{key("new"), key("kept")}); err != nil || string(got[0]) != "new" || string(got[1]) != "kept" {
			t.Errorf("midway, MGet of a new key and a kept one: %q, %v", got, err)
		}
	}})
	got, err := store.MGet(ctx, []string{key("moved"), key("kept"), key("moved-del"), key("kept-del"), key("new")})
	if err != nil || string(got[0]) != "moved" || string(got[1]) != "kept" || got[2] != nil || got[3] != nil || string(got[4]) != "new" {
		t.Errorf("after the migration, MGet: %q, %v", got, err)
	}
	if errs := metrics.Sum(m.RedisErrors); errs != 0 {
		t.Errorf("%v Redis errors", errs)
	}
}
