package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/cache"
	"github.com/talkdesk-intercom/api/internal/metrics"
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
		"CACHE_LOCAL_ENABLED", "false"}
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
		var mu sync.Mutex
		acked := map[string]string{} // idempotency key → ticket id
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w, env := range []*testEnv{a, b, a, b} {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
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
						continue
					}
					served.Add(2)
					mu.Lock()
					acked[key] = out.CreateTicket.Ticket.ID
					mu.Unlock()
					time.Sleep(20 * time.Millisecond)
				}
			})
		}
		time.Sleep(500 * time.Millisecond)
		killed := cluster.KillMasterOf(t, cache.TenantTag(wsID))
		t.Logf("killed master %s; its replica took over", killed)
		time.Sleep(500 * time.Millisecond)
		close(stop)
		wg.Wait()
		if failed.Load() != 0 {
			t.Errorf("%d of %d requests failed", failed.Load(), failed.Load()+served.Load())
		}
		t.Logf("%d requests served, Redis errors: A %v, B %v", served.Load(), metrics.Sum(a.Metrics.RedisErrors), metrics.Sum(b.Metrics.RedisErrors))
		// Every acknowledged key, sent again to the replica that did not
		// make it (after the failover), replays the same ticket.
		for key, id := range acked {
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
		"INTERCOM_CALLER_SHARE", "100", "CACHE_LOCAL_ENABLED", "false"}
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
