package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
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

// balancer is a round-robin load balancer over replicas that, like
// HAProxy's redispatch, tries the next replica when one refuses the
// connection; a request cut off mid-flight is answered 502.
type balancer struct {
	backends []*url.URL
	next     atomic.Int64
	proxies  []*httputil.ReverseProxy
}

func newBalancer(envs ...*testEnv) *balancer {
	b := &balancer{}
	for _, e := range envs {
		u, _ := url.Parse(e.URL)
		b.backends = append(b.backends, u)
		p := httputil.NewSingleHostReverseProxy(u)
		p.ErrorLog = log.New(io.Discard, "", 0)
		b.proxies = append(b.proxies, p)
	}
	return b
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	start := int(b.next.Add(1))
	for i := range b.backends {
		k := (start + i) % len(b.backends)
		conn, err := net.DialTimeout("tcp", b.backends[k].Host, time.Second)
		if err != nil {
			continue // down: redispatch
		}
		_ = conn.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		b.proxies[k].ServeHTTP(w, r)
		return
	}
	http.Error(w, "no replica is up", http.StatusServiceUnavailable)
}

// Three replicas behind a load balancer on the Cluster, one emulator: under
// load a replica is killed, then a Redis master. No request fails with an
// internal error, every acknowledged action exists exactly once (clients
// retry with the same idempotency key, as Talkdesk does), and the emulator
// never sees more calls in a window than the budget.
func TestFleetBehindALoadBalancer(t *testing.T) {
	cluster := redistest.StartCluster(t)
	const perMinute = 600 // 100 a window
	settings := []string{"REDIS_URL", redistest.ClusterURL(cluster.Addrs[:3]), "INTERCOM_RATE_LIMIT", strconv.Itoa(perMinute),
		"INTERCOM_CALLER_SHARE", "100", "FLEET_REPLICAS", "3"}
	r1 := newTestEnvWith(t, emulator.Options{}, settings...)
	r2 := newTestEnvOn(t, r1.Intercom, settings...)
	r3 := newTestEnvOn(t, r1.Intercom, settings...)
	lb := httptest.NewServer(newBalancer(r1, r2, r3))
	t.Cleanup(lb.Close)
	front := lb.URL
	ws := r1.Intercom.Workspace
	wsID := ws.App().IDCode
	demo, _ := ws.DemoCaller()
	contacts := ws.Contacts()

	// The emulator's calls, by clock-aligned window.
	var windowsMu sync.Mutex
	windows := map[int64]int{}
	stopCount := make(chan struct{})
	var counting sync.WaitGroup
	counting.Go(func() {
		last := ws.TotalCalls()
		for {
			select {
			case <-stopCount:
				return
			case <-time.After(20 * time.Millisecond):
			}
			now := ws.TotalCalls()
			windowsMu.Lock()
			windows[time.Now().Truncate(10*time.Second).Unix()] += now - last
			windowsMu.Unlock()
			last = now
		}
	})

	var internal, served, limited atomic.Int64
	var mu sync.Mutex
	acked := map[string]string{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := contacts[(w*97+i)%len(contacts)]
				r := tryQuery(front, `query($id: ID!) { contact(id: $id) { id name } }`, map[string]any{"id": c.ID}, nil)
				if count(r, &internal, &served, &limited) {
					time.Sleep(50 * time.Millisecond) // a client backs off as told
				}
				if w%2 == 1 {
					continue
				}
				key := fmt.Sprintf("lb-%d-%d", w, i)
				// A client retries until it is answered, with the same key.
				for try := 0; try < 50; try++ {
					var out createTicketJSON
					r := tryQuery(front, createTicketMutation, map[string]any{"input": map[string]any{
						"idempotencyKey": key, "contactId": demo.ID, "title": "LB " + key, "ticketType": "Callback request"}}, &out)
					count(r, &internal, &served, &limited)
					if out.CreateTicket.Ticket != nil {
						mu.Lock()
						acked[key] = out.CreateTicket.Ticket.ID
						mu.Unlock()
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	}
	time.Sleep(time.Second)
	r2.Server.CloseClientConnections() // a replica dies mid-load
	r2.Server.Close()
	time.Sleep(time.Second)
	failoverFrom := time.Now()
	cluster.KillMasterOf(t, cache.TenantTag(wsID))
	failoverTo := time.Now().Add(time.Second) // the probe and the replicas' slot maps catch up
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	close(stopCount)
	counting.Wait()

	t.Logf("%d answered, %d rate limited, %d internal errors, %d actions acknowledged; Intercom calls by window %v",
		served.Load(), limited.Load(), internal.Load(), len(acked), windows)
	if internal.Load() != 0 {
		t.Errorf("%d internal errors", internal.Load())
	}
	for key := range acked {
		if n := ticketsTitled(ws, demo.ID, "LB "+key); n != 1 {
			t.Errorf("%s: %d tickets, want 1", key, n)
		}
	}
	if len(acked) == 0 {
		t.Error("no action was acknowledged")
	}
	// While the master fails over, Redis cannot count: each replica falls
	// back to its share of the window (FLEET_REPLICAS), on top of what Redis
	// had counted before. The fallback is exact only when the replicas had
	// spent evenly, so the failover's window may go over by up to one
	// replica's share; every other window holds the budget exactly.
	budget := perMinute / 6
	for start, n := range windows {
		limit := budget
		if end := time.Unix(start, 0).Add(10 * time.Second); end.After(failoverFrom) && time.Unix(start, 0).Before(failoverTo) {
			limit += budget / 3
		}
		if n > limit {
			t.Errorf("window %d: the emulator saw %d calls, at most %d may go (a budget of %d)", start, n, limit, budget)
		}
	}
}

// tryQuery is query for a client that may see a replica die: a transport
// error or a body that is not JSON (the balancer's 502) is a status, not a
// failed test.
func tryQuery(base, query string, vars map[string]any, data any) gqlResponse {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, err := http.Post(base+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		return gqlResponse{Status: http.StatusBadGateway}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := gqlResponse{Status: resp.StatusCode}
	if json.Unmarshal(raw, &out) != nil {
		return out
	}
	if data != nil && len(out.Data) > 0 {
		_ = json.Unmarshal(out.Data, data)
	}
	return out
}

// count sorts an answer: internal errors (or none at all) are what must
// never happen; a 502 from the balancer is a replica that died mid-request.
// It reports whether the client should back off.
func count(r gqlResponse, internal, served, limited *atomic.Int64) (backOff bool) {
	switch {
	case r.Status == http.StatusBadGateway || r.Status == http.StatusServiceUnavailable:
	case len(r.Errors) == 0:
		served.Add(1)
	case r.code() == "RATE_LIMITED":
		limited.Add(1)
	case r.code() == "INTERNAL" || r.code() == "":
		internal.Add(1)
	default:
		served.Add(1) // a coded answer, e.g. UPSTREAM_UNAVAILABLE for a moment
	}
	return r.Status != http.StatusOK || len(r.Errors) > 0
}
