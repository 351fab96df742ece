package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/loadtest"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/internal/webhooks"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// Two replicas of the real server on a real 3-master, 3-replica Redis
// Cluster (REDIS_URL in go-redis's cluster form), over real HTTP. The
// in-process level is off so that every read is Redis's.
func TestFleetOnRedisCluster(t *testing.T) {
	cluster := redistest.StartCluster(t) // private: a master is killed below
	settings := []string{"REDIS_URL", redistest.ClusterURL(cluster.Addrs[:3]), "INTERCOM_CLIENT_SECRET", testClientSecret,
		"CACHE_LOCAL_ENABLED", "false", "RESPONSE_CACHE_ENABLED", "false"}
	a := newTestEnvWith(t, emulator.Options{}, settings...)
	b := newTestEnvOn(t, a.Intercom, settings...)
	ws := a.Intercom.Workspace
	wsID := ws.App().IDCode
	demo, _ := ws.DemoCaller()
	var phones []string
	for _, c := range ws.Contacts() {
		if c.FormattedPhone != "" && len(phones) < 3 {
			phones = append(phones, c.FormattedPhone)
		}
	}
	const lookups = `query($a: String!, $b: String!, $c: String!) {
		a: contactsByPhone(phone: $a) { id } b: contactsByPhone(phone: $b) { id } c: contactsByPhone(phone: $c) { id } }`
	vars := map[string]any{"a": phones[0], "b": phones[1], "c": phones[2]}

	t.Run("caller lookups are warm from Redis on the other replica, one MGET a batch", func(t *testing.T) {
		a.mustQuery(t, lookups, vars, nil) // cold: Intercom, written back to the Cluster
		calls, mgets := ws.TotalCalls(), metrics.Value(b.Metrics.RedisRoundTrips, "mget")
		var data map[string][]struct{ ID string }
		b.mustQuery(t, lookups, vars, &data)
		if len(data["a"]) == 0 || len(data["b"]) == 0 || len(data["c"]) == 0 {
			t.Errorf("warm lookups found %v", data)
		}
		if got := ws.TotalCalls() - calls; got != 0 {
			t.Errorf("warm lookups on B made %d Intercom calls, want 0", got)
		}
		if got := metrics.Value(b.Metrics.RedisRoundTrips, "mget") - mgets; got != 1 {
			t.Errorf("a batch of 3 lookups made %v MGETs, want 1", got)
		}
		if errs := metrics.Sum(a.Metrics.RedisErrors) + metrics.Sum(b.Metrics.RedisErrors); errs != 0 {
			t.Errorf("%v Redis errors (CROSSSLOT?)", errs)
		}
	})

	t.Run("one idempotency key sent to both replicas at once makes one ticket", func(t *testing.T) {
		input := map[string]any{"idempotencyKey": "fleet-key", "contactId": demo.ID, "title": "Fleet ticket", "ticketType": "Callback request"}
		var out [2]createTicketJSON
		var wg sync.WaitGroup
		for i, env := range []*testEnv{a, b} {
			wg.Go(func() { env.query(t, createTicketMutation, map[string]any{"input": input}, &out[i]) })
		}
		wg.Wait()
		if out[0].CreateTicket.Ticket == nil || out[1].CreateTicket.Ticket == nil || out[0].CreateTicket.Ticket.ID != out[1].CreateTicket.Ticket.ID {
			t.Errorf("the replicas answered %+v and %+v, want one ticket", out[0].CreateTicket.Ticket, out[1].CreateTicket.Ticket)
		}
		if n := ticketsTitled(ws, demo.ID, "Fleet ticket"); n != 1 {
			t.Errorf("%d tickets exist, want 1", n)
		}
	})

	t.Run("a webhook redelivered to the other replica is not applied again", func(t *testing.T) {
		body, _ := json.Marshal(map[string]any{
			"type": "notification_event", "id": "notif_fleet", "topic": "contact.user.updated",
			"app_id": wsID, "data": map[string]any{"item": map[string]any{"type": "contact", "id": demo.ID}},
		})
		if status := deliver(t, a, body, webhooks.Sign(testClientSecret, body)); status != http.StatusOK {
			t.Fatalf("delivery to A: %d", status)
		}
		before := contactName(t, b, demo.ID) // cached again, in the Cluster
		ws.UpdateContact(demo.ID, func(c *emulator.Contact) { c.Name = "Renamed without a notification" })
		if status := deliver(t, b, body, webhooks.Sign(testClientSecret, body)); status != http.StatusOK {
			t.Fatalf("redelivery to B: %d", status)
		}
		if got := contactName(t, b, demo.ID); got != before {
			t.Errorf("after the redelivery B reads %q, want the cached %q: the notification was applied twice", got, before)
		}
	})

	t.Run("a master killed and failed over fails no request and loses no idempotency record", func(t *testing.T) {
		var failed, served atomic.Int64
		acked := &loadtest.Acks{} // idempotency key → ticket id
		envs := []*testEnv{a, b, a, b}
		stop := loadtest.Run(len(envs), func(w, i int) {
			env := envs[w]
			r := env.query(t, lookups, vars, nil)
			if r.Status != http.StatusOK || len(r.Errors) > 0 {
				failed.Add(1)
				t.Errorf("lookup: HTTP %d %+v", r.Status, r.Errors)
			}
			key := fmt.Sprintf("failover-%d-%d", w, i)
			var out createTicketJSON
			r = env.query(t, createTicketMutation, map[string]any{"input": map[string]any{
				"idempotencyKey": key, "contactId": demo.ID, "title": "Failover " + key, "ticketType": "Callback request"}}, &out)
			if r.Status != http.StatusOK || len(r.Errors) > 0 || out.CreateTicket.Ticket == nil {
				failed.Add(1)
				t.Errorf("createTicket %s: HTTP %d %+v", key, r.Status, r.Errors)
				return
			}
			served.Add(2)
			acked.Add(key, out.CreateTicket.Ticket.ID)
			time.Sleep(20 * time.Millisecond)
		})
		time.Sleep(500 * time.Millisecond)
		killed := cluster.KillMasterOf(t, redis.Tag(wsID))
		t.Logf("killed master %s; its replica took over", killed)
		time.Sleep(500 * time.Millisecond)
		stop()
		if failed.Load() != 0 {
			t.Errorf("%d of %d requests failed", failed.Load(), failed.Load()+served.Load())
		}
		t.Logf("%d requests served, Redis errors: A %v, B %v", served.Load(), metrics.Sum(a.Metrics.RedisErrors), metrics.Sum(b.Metrics.RedisErrors))
		// Every acknowledged key, sent again to the replica that did not
		// make it (after the failover), replays the same ticket.
		for key, id := range acked.All() {
			for _, env := range []*testEnv{a, b} {
				var out createTicketJSON
				env.mustQuery(t, createTicketMutation, map[string]any{"input": map[string]any{
					"idempotencyKey": key, "contactId": demo.ID, "title": "Failover " + key, "ticketType": "Callback request"}}, &out)
				if out.CreateTicket.Ticket == nil || out.CreateTicket.Ticket.ID != id {
					t.Errorf("%s after the failover: %+v, want ticket %s", key, out.CreateTicket.Ticket, id)
				}
			}
			if n := ticketsTitled(ws, demo.ID, "Failover "+key); n != 1 {
				t.Errorf("%s: %d tickets, want 1", key, n)
			}
		}
		// The cache keeps serving: warm again on the promoted replica.
		a.mustQuery(t, lookups, vars, nil)
		calls := ws.TotalCalls()
		b.mustQuery(t, lookups, vars, nil)
		if got := ws.TotalCalls() - calls; got != 0 {
			t.Errorf("after the failover, warm lookups made %d Intercom calls, want 0", got)
		}
	})
}

// Two replicas share one Intercom budget through the Cluster: a burst of
// cold reads to both within one window makes at most the window's budget of
// calls, not twice it.
func TestFleetSharesOneIntercomBudget(t *testing.T) {
	settings := []string{"REDIS_URL", redistest.ClusterURL(redistest.ClusterAddrs(t)), "INTERCOM_RATE_LIMIT", "60", // 10 a window
		"INTERCOM_CALLER_SHARE", "100", "CACHE_LOCAL_ENABLED", "false", "RESPONSE_CACHE_ENABLED", "false"}
	a := newTestEnvWith(t, emulator.Options{}, settings...)
	b := newTestEnvOn(t, a.Intercom, settings...)
	ws := a.Intercom.Workspace
	// Start the burst early in a window (they are aligned to the clock).
	if left := time.Until(time.Now().Truncate(10 * time.Second).Add(10 * time.Second)); left < 5*time.Second {
		time.Sleep(left + 50*time.Millisecond)
	}
	calls := ws.TotalCalls()
	var limited, served atomic.Int64
	var wg sync.WaitGroup
	for i, c := range ws.Contacts()[:30] {
		env := []*testEnv{a, b}[i%2]
		wg.Go(func() {
			r := env.query(t, `query($id: ID!) { contact(id: $id) { id } }`, map[string]any{"id": c.ID}, nil)
			switch {
			case len(r.Errors) == 0:
				served.Add(1)
			case r.code() == "RATE_LIMITED":
				limited.Add(1)
			default:
				t.Errorf("contact %s: %+v", c.ID, r.Errors)
			}
		})
	}
	wg.Wait()
	got := ws.TotalCalls() - calls
	t.Logf("30 cold reads on 2 replicas: %d served, %d rate limited, %d Intercom calls", served.Load(), limited.Load(), got)
	if got > 10 {
		t.Errorf("the fleet made %d Intercom calls in a window of 10", got)
	}
	if limited.Load() == 0 || served.Load() == 0 {
		t.Errorf("%d served, %d rate limited: want both", served.Load(), limited.Load())
	}
}

// Two replicas keep serving while the workspace's slot moves to another
// master, the way an operator reshards a Cluster (redistest.MigrateSlotOf:
// CLUSTER SETSLOT IMPORTING and MIGRATING, MIGRATE in batches, SETSLOT
// NODE), paused with half of the slot's keys moved so that the replicas
// meet ASK redirects (a key moved, or new) and TRYAGAIN (a command over
// keys on both sides, or missing on the target). Caller lookups, cold
// reads (each one an Intercom call the fleet budget counts) and idempotent
// createTicket run all along: no request fails, no Redis call fails, warm
// lookups are served by the new owner, and an idempotency key acknowledged
// before the migration replays its ticket after it.
func TestFleetSurvivesASlotMigration(t *testing.T) {
	cluster := redistest.StartCluster(t) // private: one of its slots moves
	const perMinute = 6000               // 1000 a window: the fleet counts every call, the load never spends it
	settings := []string{"REDIS_URL", redistest.ClusterURL(cluster.Addrs[:3]), "CACHE_LOCAL_ENABLED", "false", "RESPONSE_CACHE_ENABLED", "false",
		"INTERCOM_RATE_LIMIT", strconv.Itoa(perMinute), "INTERCOM_CALLER_SHARE", "100", "FLEET_REPLICAS", "2",
		"RATE_LIMIT_PER_MINUTE", "0"} // one caller sends it all: the callers' allowance is not what is tested
	a := newTestEnvWith(t, emulator.Options{}, settings...)
	b := newTestEnvOn(t, a.Intercom, settings...)
	ws := a.Intercom.Workspace
	tag := redis.Tag(ws.App().IDCode)
	demo, _ := ws.DemoCaller()
	contacts := ws.Contacts()
	lookups := loadtest.ThreeLookupVars(ws, 0)
	ticket := func(env *testEnv, key string) (gqlResponse, createTicketJSON) {
		var out createTicketJSON
		r := env.query(t, createTicketMutation, map[string]any{"input": map[string]any{
			"idempotencyKey": key, "contactId": demo.ID, "title": "Migration " + key, "ticketType": "Callback request"}}, &out)
		return r, out
	}

	var found map[string][]struct{ ID string }
	a.mustQuery(t, loadtest.ThreeLookups, lookups, &found) // cold: Intercom, then the Cluster
	_, first := ticket(a, "before")
	if first.CreateTicket.Ticket == nil {
		t.Fatalf("createTicket before the migration: %+v", first.CreateTicket.UserErrors)
	}

	var failed, served atomic.Int64
	acked := &loadtest.Acks{}
	envs := []*testEnv{a, b, a, b}
	stop := loadtest.Run(len(envs), func(w, i int) {
		env := envs[w]
		ok := func(what string, r gqlResponse) bool {
			if r.Status != http.StatusOK || len(r.Errors) > 0 {
				failed.Add(1)
				t.Errorf("%s: HTTP %d %+v", what, r.Status, r.Errors)
				return false
			}
			served.Add(1)
			return true
		}
		ok("lookups", env.query(t, loadtest.ThreeLookups, lookups, nil))
		c := contacts[(w*75+i)%len(contacts)]
		ok("contact "+c.ID, env.query(t, `query($id: ID!) { contact(id: $id) { id name } }`, map[string]any{"id": c.ID}, nil))
		key := fmt.Sprintf("during-%d-%d", w, i)
		if r, out := ticket(env, key); ok("createTicket "+key, r) && out.CreateTicket.Ticket != nil {
			acked.Add(key, out.CreateTicket.Ticket.ID)
		}
		time.Sleep(10 * time.Millisecond)
	})
	time.Sleep(300 * time.Millisecond)
	began := time.Now()
	// Midway, the first lookup's key is on the new master and the two
	// others on the old one: the lookups' MGET is refused (TRYAGAIN).
	phoneKey := func(v any) string { return redis.CacheKey(ws.App().IDCode, "phone", v.(string)) }
	split := 0.0
	m := cluster.MigrateSlotOf(t, tag, redistest.MigrateOptions{
		MoveFirst: func(key string) bool {
			return key == phoneKey(lookups["a"]) || key != phoneKey(lookups["b"]) && key != phoneKey(lookups["c"]) && rand.IntN(2) == 0
		},
		Midway: func(m redistest.Migration) {
			t.Logf("midway: %d of the slot's %d keys on %s, the rest on %s", m.Moved, m.Total, m.To, m.From)
			from := redistest.Client(t, m.From)
			if _, ask := goredis.IsAskError(from.Get(context.Background(), phoneKey(lookups["a"])).Err()); !ask {
				t.Errorf("midway, the old master does not send the first lookup's key to the new one (ASK)")
			}
			if err := from.Get(context.Background(), phoneKey(lookups["b"])).Err(); err != nil {
				t.Errorf("midway, the old master does not serve the second lookup's key: %v", err)
			}
			before := metrics.Value(a.Metrics.RedisRoundTrips, "pipeline_get") + metrics.Value(b.Metrics.RedisRoundTrips, "pipeline_get")
			time.Sleep(time.Second)
			split = metrics.Value(a.Metrics.RedisRoundTrips, "pipeline_get") + metrics.Value(b.Metrics.RedisRoundTrips, "pipeline_get") - before
		},
	})
	t.Logf("slot %d moved from %s to %s in %s (%d keys)", m.Slot, m.From, m.To, time.Since(began).Round(time.Millisecond), m.Moved)
	time.Sleep(300 * time.Millisecond)
	stop()

	t.Logf("%d requests answered, %d failed, %d actions acknowledged", served.Load(), failed.Load(), acked.Len())
	if split == 0 {
		t.Error("midway, no batch was read key by key (cache.RedisStore's answer to TRYAGAIN): the lookups did not meet the split slot")
	}
	if errs := metrics.Sum(a.Metrics.RedisErrors) + metrics.Sum(b.Metrics.RedisErrors); errs != 0 {
		byOp := map[string]float64{}
		for _, op := range []string{"mget", "pipeline_set", "del", "ping"} {
			byOp[op] = metrics.Value(a.Metrics.RedisErrors, op) + metrics.Value(b.Metrics.RedisErrors, op)
		}
		t.Errorf("%v Redis calls failed: %v", errs, byOp)
	}
	if owner := cluster.MasterOf(t, tag); owner != m.To {
		t.Errorf("after the migration %s serves the slot, want %s", owner, m.To)
	}
	// Warm lookups, on both replicas: from the new owner (no in-process
	// level here), without Intercom.
	calls := ws.TotalCalls()
	for _, env := range []*testEnv{a, b} {
		var warm map[string][]struct{ ID string }
		env.mustQuery(t, loadtest.ThreeLookups, lookups, &warm)
		if fmt.Sprint(warm) != fmt.Sprint(found) {
			t.Errorf("after the migration the lookups found %v, want %v", warm, found)
		}
	}
	if got := ws.TotalCalls() - calls; got != 0 {
		t.Errorf("after the migration, warm lookups made %d Intercom calls, want 0", got)
	}
	// The key acknowledged before the migration, and every one during it,
	// replay their ticket on both replicas; none was made twice.
	acked.Add("before", first.CreateTicket.Ticket.ID)
	for key, id := range acked.All() {
		for _, env := range []*testEnv{a, b} {
			if r, out := ticket(env, key); out.CreateTicket.Ticket == nil || out.CreateTicket.Ticket.ID != id {
				t.Errorf("%s after the migration: HTTP %d %+v %+v, want ticket %s", key, r.Status, r.Errors, out.CreateTicket.Ticket, id)
			}
		}
		if n := ticketsTitled(ws, demo.ID, "Migration "+key); n != 1 {
			t.Errorf("%s: %d tickets, want 1", key, n)
		}
	}
}
