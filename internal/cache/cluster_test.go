package cache_test

import (
	"context"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/cache"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// nodeCalls counts the round trips (commands and pipelines) each Cluster
// node receives.
type nodeCalls struct {
	mu sync.Mutex
	by map[string]int
}

func (n *nodeCalls) add(addr string) { n.mu.Lock(); n.by[addr]++; n.mu.Unlock() }

func (n *nodeCalls) take() map[string]int {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := n.by
	n.by = map[string]int{}
	return out
}

// housekeeping are go-redis's own commands: a connection's handshake, the
// cluster's topology and command table.
var housekeeping = map[string]bool{"hello": true, "client": true, "auth": true, "cluster": true, "command": true}

type nodeHook struct {
	addr  string
	calls *nodeCalls
}

func (h nodeHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (h nodeHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if !housekeeping[cmd.Name()] {
			h.calls.add(h.addr)
		}
		return next(ctx, cmd)
	}
}
func (h nodeHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if len(cmds) > 0 && !housekeeping[cmds[0].Name()] {
			h.calls.add(h.addr)
		}
		return next(ctx, cmds)
	}
}

// On a real Redis Cluster, through REDIS_URL's cluster form: a batch of one
// workspace is one MGET to one node warm and one pipeline cold, with no
// CROSSSLOT, because every key of the workspace carries its hash tag.
func TestClusterBatchIsOneRoundTripToOneNode(t *testing.T) {
	addrs := redistest.ClusterAddrs(t)
	client, err := redis.Open(redistest.ClusterURL(addrs[:1]), true, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	cc, ok := client.(*goredis.ClusterClient)
	if !ok {
		t.Fatalf("redis.Open made a %T, want a Cluster client", client)
	}
	calls := &nodeCalls{by: map[string]int{}}
	cc.OnNewNode(func(c *goredis.Client) { c.AddHook(nodeHook{c.Options().Addr, calls}) })

	f := newFixture(t, func(m *metrics.Metrics) cache.Store { return cache.NewRedisStore(client, time.Second, m) }, emulator.Options{})
	var ids []string
	for _, c := range f.intercom.Contacts()[:100] {
		ids = append(ids, c.ID)
	}
	ctx := context.Background()
	// A first batch opens the connections, whose handshakes are not counted.
	if _, err := f.cache.ContactsByIDs(ctx, ids[50:]); err != nil {
		t.Fatal(err)
	}
	ids = ids[:50]
	calls.take()
	if got, err := f.cache.ContactsByIDs(ctx, ids); err != nil || len(got) != 50 {
		t.Fatalf("cold: %d contacts, %v", len(got), err)
	}
	if got := calls.take(); len(got) != 1 || sum(got) != 2 {
		t.Errorf("cold batch: round trips by node %v, want an MGET and a pipeline on one node", got)
	}
	if got, err := f.cache.ContactsByIDs(ctx, ids); err != nil || len(got) != 50 {
		t.Fatalf("warm: %d contacts, %v", len(got), err)
	}
	if got := calls.take(); len(got) != 1 || sum(got) != 1 {
		t.Errorf("warm batch: round trips by node %v, want one MGET on one node", got)
	}
	if errs := metrics.Sum(f.metrics.RedisErrors); errs != 0 {
		t.Errorf("%v Redis errors", errs)
	}
	if hits := metrics.Value(f.metrics.CacheResults, "contact", "hit"); hits != 50 {
		t.Errorf("%v hits, want 50", hits)
	}
	// What makes it so: every key of the workspace is in one slot.
	slots := map[int64]bool{}
	for _, id := range ids {
		for _, kind := range []string{"contact", "phone", "interactions"} {
			slot, err := cc.ClusterKeySlot(ctx, redis.CacheKey("ws1", kind, id)).Result()
			if err != nil {
				t.Fatal(err)
			}
			slots[slot] = true
		}
	}
	if len(slots) != 1 {
		t.Errorf("a workspace's keys hash to %d slots, want 1", len(slots))
	}
}

func sum(m map[string]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}
