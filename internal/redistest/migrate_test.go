package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A slot moved to another master while a Cluster client reads, writes and
// counts in it: midway the slot is split (the source sends a moved key to
// the target with ASK, the target serves it only after ASKING, a command
// over keys on both sides gets TRYAGAIN); no single-key command fails, and
// afterwards the target serves every key, those written during the move
// too.
func TestMigrateSlot(t *testing.T) {
	c := StartCluster(t)
	client := ClusterClient(t, c.Addrs)
	ctx := context.Background()
	const tag = "{mig}"
	key := func(i int) string { return fmt.Sprintf("%s:k%d", tag, i) }
	for i := range 40 {
		if err := client.Set(ctx, key(i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}

	var failed, incrs atomic.Int64
	var mu sync.Mutex
	written := map[string]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := key((w*13 + i) % 40)
				if v, err := client.Get(ctx, k).Int(); err != nil || key(v) != k {
					failed.Add(1)
					t.Errorf("GET %s: %v, %v", k, v, err)
				}
				nk := fmt.Sprintf("%s:new-%d-%d", tag, w, i)
				if err := client.Set(ctx, nk, i, 0).Err(); err != nil {
					failed.Add(1)
					t.Errorf("SET %s: %v", nk, err)
				} else {
					mu.Lock()
					written[nk] = i
					mu.Unlock()
				}
				if err := client.Incr(ctx, tag+":count").Err(); err != nil {
					failed.Add(1)
					t.Errorf("INCR: %v", err)
				} else {
					incrs.Add(1)
				}
				time.Sleep(2 * time.Millisecond)
			}
		})
	}

	time.Sleep(100 * time.Millisecond)
	// The first 20 keys move before Midway; the rest, the new keys and the
	// count stay until it returns.
	first := func(k string) bool {
		n, err := strconv.Atoi(strings.TrimPrefix(k, tag+":k"))
		return err == nil && n < 20
	}
	midway := false
	m := c.MigrateSlotOf(t, tag, MigrateOptions{Batch: 7, MoveFirst: first, Midway: func(m Migration) {
		midway = true
		if m.Moved != 20 {
			t.Errorf("midway: %d keys moved, want 20", m.Moved)
		}
		src, dst := Client(t, m.From), Client(t, m.To)
		if addr, ask := redis.IsAskError(src.Get(ctx, key(0)).Err()); !ask || addr != m.To {
			t.Errorf("midway, the source answers GET of a moved key with %v, want ASK %s", src.Get(ctx, key(0)).Err(), m.To)
		}
		if v, err := src.Get(ctx, key(30)).Int(); err != nil || v != 30 {
			t.Errorf("midway, the source answers GET of a key it kept with %v, %v", v, err)
		}
		if _, moved := redis.IsMovedError(dst.Get(ctx, key(0)).Err()); !moved {
			t.Errorf("midway, the target serves a moved key without ASKING: %v", dst.Get(ctx, key(0)).Err())
		}
		var get *redis.StringCmd
		_, _ = dst.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Do(ctx, "ASKING")
			get = p.Get(ctx, key(0))
			return nil
		})
		if v, err := get.Int(); err != nil || v != 0 {
			t.Errorf("midway, the target answers ASKING GET of a moved key with %v, %v", v, err)
		}
		if err := client.MGet(ctx, key(0), key(30)).Err(); !redis.IsTryAgainError(err) {
			t.Errorf("midway, MGET over keys on both sides: %v, want TRYAGAIN", err)
		}
		time.Sleep(300 * time.Millisecond) // the client's commands meet the split slot
	}})
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()

	if !midway {
		t.Error("Midway was not called")
	}
	if m.From == m.To || m.To == "" {
		t.Fatalf("moved from %s to %s", m.From, m.To)
	}
	if m.Moved != m.Total {
		t.Errorf("%d keys moved, the slot held %d", m.Moved, m.Total)
	}
	if owner := c.MasterOf(t, tag); owner != m.To {
		t.Errorf("after the migration %s serves the slot, want %s", owner, m.To)
	}
	if n, err := Client(t, m.From).ClusterCountKeysInSlot(ctx, m.Slot).Result(); err != nil || n != 0 {
		t.Errorf("the source still holds %d keys of the slot (%v)", n, err)
	}
	for i := range 40 {
		if v, err := client.Get(ctx, key(i)).Int(); err != nil || v != i {
			t.Errorf("after the migration GET %s: %v, %v", key(i), v, err)
		}
	}
	for k, want := range written {
		if v, err := client.Get(ctx, k).Int(); err != nil || v != want {
			t.Errorf("after the migration GET %s (written during it): %v, %v", k, v, err)
		}
	}
	if n, err := client.Get(ctx, tag+":count").Int64(); err != nil || n != incrs.Load() {
		t.Errorf("the count is %d (%v), want the %d INCRs", n, err, incrs.Load())
	}
	t.Logf("slot %d moved from %s to %s (%d keys); %d keys written and %d INCRs during it, %d commands failed",
		m.Slot, m.From, m.To, m.Moved, len(written), incrs.Load(), failed.Load())
}
