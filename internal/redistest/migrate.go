package redistest

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MigrateOptions shape a slot migration.
type MigrateOptions struct {
	// To is the master the slot moves to; "" picks another master than
	// the slot's own.
	To string
	// Batch is how many keys one MIGRATE moves (default 10, as
	// redis-cli --cluster reshard pipelines them).
	Batch int
	// Midway, when set, is called once half of the slot's keys, picked
	// at random (or those MoveFirst picks), have moved, and the migration
	// goes on when it returns. Until then the slot is split:
	// the source answers ASK for a key it no longer has (moved, or new),
	// the target serves such a key only after ASKING, and a command over
	// several keys on both sides gets TRYAGAIN.
	Midway func(Migration)
	// MoveFirst, when set with Midway, picks the keys that move before
	// Midway instead of a random half.
	MoveFirst func(key string) bool
}

// Migration says what MigrateSlotOf did (or, given to Midway, has done so
// far).
type Migration struct {
	Slot     int
	From, To string // the masters' addresses
	Moved    int    // keys moved
	Total    int    // keys the slot held when the migration started
}

// MigrateSlotOf moves the slot of key from its master to another master,
// the way redis-cli --cluster reshard does: the target is told it imports
// the slot and the source that it migrates it (CLUSTER SETSLOT IMPORTING,
// MIGRATING), the slot's keys move in batches (CLUSTER GETKEYSINSLOT, then
// MIGRATE ... KEYS), and every master is told the target owns it (CLUSTER
// SETSLOT NODE, the target first). It returns once every node that answers
// agrees the target serves the slot.
func (c *Cluster) MigrateSlotOf(t testing.TB, key string, opts MigrateOptions) Migration {
	t.Helper()
	ctx := context.Background()
	from := c.MasterOf(t, key)
	src := redis.NewClient(&redis.Options{Addr: from})
	defer src.Close()
	slot64, err := src.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatalf("CLUSTER KEYSLOT: %v", err)
	}
	m := Migration{Slot: int(slot64), From: from, To: opts.To}
	masters, err := liveMasters(ctx, src)
	if err != nil {
		t.Fatalf("CLUSTER NODES on %s: %v", from, err)
	}
	if m.To == "" {
		for _, addr := range slices.Sorted(maps.Keys(masters)) {
			if addr != from && isMaster(ctx, addr) {
				m.To = addr
				break
			}
		}
	}
	fromID, toID := masters[from], masters[m.To]
	if fromID == "" || toID == "" || m.To == from || !isMaster(ctx, m.To) {
		t.Fatalf("migrate slot %d: no master to move it to from %s (masters %v, to %q)", m.Slot, from, masters, m.To)
	}
	dst := redis.NewClient(&redis.Options{Addr: m.To})
	defer dst.Close()
	host, port, _ := net.SplitHostPort(m.To)
	batch := opts.Batch
	if batch <= 0 {
		batch = 10
	}

	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("migrate slot %d from %s to %s: %s: %v", m.Slot, from, m.To, what, err)
		}
	}
	slot := strconv.Itoa(m.Slot)
	must("CLUSTER SETSLOT IMPORTING on the target", dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", fromID).Err())
	must("CLUSTER SETSLOT MIGRATING on the source", src.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", toID).Err())
	total, err := src.ClusterCountKeysInSlot(ctx, int(slot64)).Result()
	must("CLUSTER COUNTKEYSINSLOT", err)
	m.Total = int(total)

	migrate := func(keys []string) {
		t.Helper()
		for len(keys) > 0 {
			n := min(batch, len(keys))
			args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
			for _, k := range keys[:n] {
				args = append(args, k)
			}
			// NOKEY: the keys expired or were deleted meanwhile.
			if err := src.Do(ctx, args...).Err(); err != nil && !strings.Contains(err.Error(), "NOKEY") {
				must("MIGRATE", err)
			}
			m.Moved += n
			keys = keys[n:]
		}
	}
	if opts.Midway != nil {
		// Half of the keys, picked at random (CLUSTER GETKEYSINSLOT lists
		// the newest first): a client's keys, old and new, end up on both
		// sides.
		keys, err := src.ClusterGetKeysInSlot(ctx, m.Slot, max(1, m.Total)).Result()
		must("CLUSTER GETKEYSINSLOT", err)
		if opts.MoveFirst != nil {
			keys = slices.DeleteFunc(keys, func(k string) bool { return !opts.MoveFirst(k) })
		} else {
			rand.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			keys = keys[:(len(keys)+1)/2]
		}
		migrate(keys)
		opts.Midway(m)
	}
	for {
		keys, err := src.ClusterGetKeysInSlot(ctx, m.Slot, batch).Result()
		must("CLUSTER GETKEYSINSLOT", err)
		if len(keys) == 0 {
			break
		}
		migrate(keys)
	}

	// The target first: should the source's word reach another node
	// first, that node would send clients to a target that does not yet
	// know it owns the slot.
	must("CLUSTER SETSLOT NODE on the target", dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", toID).Err())
	must("CLUSTER SETSLOT NODE on the source", src.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", toID).Err())
	for addr := range masters {
		if addr == from || addr == m.To {
			continue
		}
		n := redis.NewClient(&redis.Options{Addr: addr})
		err := n.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", toID).Err()
		_ = n.Close()
		must("CLUSTER SETSLOT NODE on "+addr, err)
	}
	c.waitSlotOwner(t, m)
	return m
}

// waitSlotOwner waits until every node that answers says m.To serves the
// slot.
func (c *Cluster) waitSlotOwner(t testing.TB, m Migration) {
	t.Helper()
	ctx := context.Background()
	var last string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		last = ""
		for _, addr := range c.Addrs {
			n := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
			slots, err := n.ClusterSlots(ctx).Result()
			_ = n.Close()
			if err != nil {
				continue // a node killed by the test
			}
			if owner := ownerOf(slots, m.Slot); owner != m.To {
				last = fmt.Sprintf("%s says %s serves slot %d", addr, owner, m.Slot)
				break
			}
		}
		if last == "" {
			return
		}
	}
	t.Fatalf("after moving slot %d from %s to %s: %s", m.Slot, m.From, m.To, last)
}

func ownerOf(slots []redis.ClusterSlot, slot int) string {
	for _, s := range slots {
		if s.Start <= slot && slot <= s.End && len(s.Nodes) > 0 {
			return s.Nodes[0].Addr
		}
	}
	return ""
}

// isMaster asks the node itself: another node's CLUSTER NODES may still
// call master a node that has just become a replica (gossip lags behind
// CLUSTER REPLICATE, and a loaded machine may fail a master over), and
// CLUSTER SETSLOT on a replica fails.
func isMaster(ctx context.Context, addr string) bool {
	n := redis.NewClient(&redis.Options{Addr: addr})
	defer n.Close()
	role, err := n.Do(ctx, "ROLE").Slice()
	return err == nil && len(role) > 0 && role[0] == "master"
}

// liveMasters reads CLUSTER NODES: the address and node id of each master
// not flagged as failing.
func liveMasters(ctx context.Context, n *redis.Client) (map[string]string, error) {
	out, err := n.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, err
	}
	masters := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		// <id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slots>...
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		flags := strings.Split(f[2], ",")
		if !slices.Contains(flags, "master") || slices.Contains(flags, "fail") || slices.Contains(flags, "fail?") || slices.Contains(flags, "noaddr") {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		masters[addr] = f[0]
	}
	return masters, nil
}
