package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/e2e"
	"github.com/talkdesk-intercom/api/internal/loadtest"
	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// Three replicas of the real binary (processes) behind HAProxy, on a
// private Redis Cluster, in front of one emulator. Under load through
// HAProxy a replica process is killed (SIGKILL), then the Redis master of
// the workspace's slot. No request fails with an internal error, every
// acknowledged action exists exactly once and replays its result after the
// faults (clients retry with the same idempotency key, as Talkdesk does),
// the emulator never sees more calls in a window than the budget, and the
// cache keeps serving from the promoted master. Before the load, the same
// idempotency key sent at once to two replicas directly makes one ticket.
func TestFleetBehindALoadBalancer(t *testing.T) {
	e2e.Binary(t) // skipped under -short, before HAProxy is looked for
	haproxyBin(t) // a missing HAProxy fails the test, even on a warm build
	cluster := redistest.StartCluster(t)
	em, err := emulator.Start(emulator.Options{Token: testToken, WorkspaceID: uniqueWorkspaceID()})
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() { em.Close() })
	ws := em.Workspace
	wsID := ws.App().IDCode
	demo, _ := ws.DemoCaller()
	contacts := ws.Contacts()
	const perMinute, replicas = 600, 3 // 100 a window
	settings := map[string]string{
		"INTERCOM_TOKEN": testToken, "INTERCOM_BASE_URL": em.URL,
		"REDIS_URL":           redistest.ClusterURL(cluster.Addrs[:3]),
		"INTERCOM_RATE_LIMIT": strconv.Itoa(perMinute), "INTERCOM_CALLER_SHARE": "100",
		"FLEET_REPLICAS": strconv.Itoa(replicas),
		// Every request comes from HAProxy's address: the callers' own
		// limit is not what this test is about.
		"RATE_LIMIT_PER_MINUTE": "0",
		// HAProxy is the replicas' trusted proxy, as deployed: its
		// X-Forwarded-For names the client, and its connections are not
		// capped per address.
		"TRUSTED_PROXIES": "127.0.0.1",
		// As newTestEnvOn: a busy machine (the race detector) must not make
		// a Redis call time out, or Redis is skipped and the count is off.
		"REDIS_TIMEOUT": "2s",
		"LOG_LEVEL":     "debug", "SHUTDOWN_TIMEOUT": "5s",
	}
	var fleet []*e2e.Server
	for i := range replicas {
		fleet = append(fleet, e2e.StartServer(t, fmt.Sprintf("replica%d", i+1), settings))
	}
	front := startHAProxy(t, fleet...)

	t.Run("one idempotency key sent to two replicas at once makes one ticket", func(t *testing.T) {
		for k := range 5 {
			key := fmt.Sprintf("twice-%d", k)
			input := map[string]any{"idempotencyKey": key, "contactId": demo.ID, "title": "Twice " + key, "ticketType": "Callback request"}
			var out [2]createTicketJSON
			var ans [2]gqlResponse
			ready := make(chan struct{})
			var wg sync.WaitGroup
			for i, r := range []*e2e.Server{fleet[0], fleet[2]} {
				wg.Go(func() {
					<-ready
					ans[i] = tryQuery(r.URL, createTicketMutation, map[string]any{"input": input}, &out[i])
				})
			}
			close(ready)
			wg.Wait()
			a, b := out[0].CreateTicket.Ticket, out[1].CreateTicket.Ticket
			if a == nil || b == nil || a.ID != b.ID {
				t.Errorf("%s: the replicas answered %+v (%+v) and %+v (%+v), want one ticket", key, a, ans[0].Errors, b, ans[1].Errors)
			}
			if n := ticketsTitled(ws, demo.ID, "Twice "+key); n != 1 {
				t.Errorf("%s: %d tickets exist, want 1", key, n)
			}
		}
	})

	// Caller lookups cached by replica 1 alone, before the faults: later
	// read on replica 3, whose in-process level never saw them.
	lookups := loadtest.ThreeLookupVars(ws, 0)
	var found map[string][]struct{ ID string }
	if r := tryQuery(fleet[0].URL, loadtest.ThreeLookups, lookups, &found); r.Status != http.StatusOK || len(r.Errors) > 0 || len(found["a"]) == 0 {
		t.Fatalf("cold lookups on replica1: HTTP %d %+v, found %v", r.Status, r.Errors, found)
	}

	var internal, served, limited, cut atomic.Int64
	acked := &loadtest.Acks{}
	stop := loadtest.Run(6, func(w, i int) {
		c := contacts[(w*97+i)%len(contacts)]
		r := tryQuery(front, `query($id: ID!) { contact(id: $id) { id name } }`, map[string]any{"id": c.ID}, nil)
		if count(r, &internal, &served, &limited, &cut) {
			time.Sleep(50 * time.Millisecond) // a client backs off as told
		}
		if w%2 == 1 {
			return
		}
		key := fmt.Sprintf("lb-%d-%d", w, i)
		// A client retries until it is answered, with the same key.
		for try := 0; try < 50; try++ {
			var out createTicketJSON
			r := tryQuery(front, createTicketMutation, map[string]any{"input": map[string]any{
				"idempotencyKey": key, "contactId": demo.ID, "title": "LB " + key, "ticketType": "Callback request"}}, &out)
			count(r, &internal, &served, &limited, &cut)
			if out.CreateTicket.Ticket != nil {
				acked.Add(key, out.CreateTicket.Ticket.ID)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	time.Sleep(time.Second)
	fleet[1].Kill(t) // a replica dies mid-load
	t.Logf("killed %s (SIGKILL)", fleet[1].Name)
	time.Sleep(time.Second)
	failoverFrom := time.Now()
	killed := cluster.KillMasterOf(t, redis.Tag(wsID))
	t.Logf("killed Redis master %s; its replica took over after %s", killed, time.Since(failoverFrom).Round(time.Millisecond))
	time.Sleep(time.Second)
	stop()
	// The emulator's calls by the clock-aligned window they arrived in,
	// the replicas' start-up included (counted in the budget too).
	windows := ws.CallsByWindow(10 * time.Second)

	t.Logf("%d answered, %d rate limited, %d cut off by a dying replica, %d internal errors, %d actions acknowledged; Intercom calls by window %v",
		served.Load(), limited.Load(), cut.Load(), internal.Load(), acked.Len(), windows)
	for _, r := range []*e2e.Server{fleet[0], fleet[2]} {
		t.Logf("%s: %v Redis errors", r.Name, scrapeSum(t, r.URL, "redis_errors_total"))
	}
	if internal.Load() != 0 {
		t.Errorf("%d internal errors", internal.Load())
	}
	if acked.Len() == 0 {
		t.Error("no action was acknowledged")
	}
	// Every acknowledged key, sent again through the balancer after both
	// faults, replays its ticket, and none was made twice. The replay is
	// answered from the idempotency record, but the input is checked
	// first: its contact, which each new ticket drops from the cache, is
	// read again from Intercom, and while the window's budget is spent that
	// read is refused RATE_LIMITED. A client then retries after the
	// window, as told.
	for key, id := range acked.All() {
		var out createTicketJSON
		var r gqlResponse
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			out = createTicketJSON{}
			r = tryQuery(front, createTicketMutation, map[string]any{"input": map[string]any{
				"idempotencyKey": key, "contactId": demo.ID, "title": "LB " + key, "ticketType": "Callback request"}}, &out)
			if r.code() != "RATE_LIMITED" || time.Now().After(deadline) {
				break
			}
		}
		if out.CreateTicket.Ticket == nil || out.CreateTicket.Ticket.ID != id {
			t.Errorf("%s after the faults: HTTP %d %+v %+v, want ticket %s", key, r.Status, r.Errors, out.CreateTicket.Ticket, id)
		}
		if n := ticketsTitled(ws, demo.ID, "LB "+key); n != 1 {
			t.Errorf("%s: %d tickets, want 1", key, n)
		}
	}
	// Every window holds the budget exactly, the failover's too: while Redis
	// cannot count, each replica spends only the calls it held in Redis
	// beforehand (package budget).
	budget := perMinute / 6
	for start, n := range windows {
		if n > budget {
			t.Errorf("window %s: the emulator saw %d calls, the budget is %d", start.Format(time.TimeOnly), n, budget)
		}
	}
	// The cache keeps serving: the lookups replica 1 cached before the
	// faults are warm on replica 3, from the promoted master.
	calls := ws.TotalCalls()
	var warm map[string][]struct{ ID string }
	r := tryQuery(fleet[2].URL, loadtest.ThreeLookups, lookups, &warm)
	if r.Status != http.StatusOK || len(r.Errors) > 0 || fmt.Sprint(warm) != fmt.Sprint(found) {
		t.Errorf("warm lookups on replica3 after the failover: HTTP %d %+v, found %v, want %v", r.Status, r.Errors, warm, found)
	}
	if got := ws.TotalCalls() - calls; got != 0 {
		t.Errorf("after the failover, lookups cached before it made %d Intercom calls on another replica, want 0", got)
	}
}

// fleetClient is tryQuery's client: a request no replica answers fails
// the test's load in time rather than hangs it.
var fleetClient = &http.Client{Timeout: 20 * time.Second}

// tryQuery is query for a client that may see a replica die: a transport
// error (status 0) or a body that is not JSON (the balancer's 502) is a
// status, not a failed test.
func tryQuery(base, query string, vars map[string]any, data any) gqlResponse {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, err := fleetClient.Post(base+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		return gqlResponse{Status: 0}
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
// never happen; a 502 from the balancer is a replica that died mid-request
// (cut). It reports whether the client should back off.
func count(r gqlResponse, internal, served, limited, cut *atomic.Int64) (backOff bool) {
	switch {
	case r.Status == 0 || r.Status == http.StatusBadGateway || r.Status == http.StatusServiceUnavailable:
		cut.Add(1)
	case r.Status != http.StatusOK:
		internal.Add(1) // neither GraphQL's answer (always 200 as JSON) nor the balancer's
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

// testToken is the Intercom token of the fleet's emulator; a server log
// that holds it fails the test (e2e.StartServer).
const testToken = "test-secret-token-7f3a"

var workspaceSeq atomic.Int64

// uniqueWorkspaceID is a tenant of its own: tests share one Redis.
func uniqueWorkspaceID() string {
	return fmt.Sprintf("t%d-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9, workspaceSeq.Add(1))
}

// gqlResponse is a GraphQL response as a client sees it.
type gqlResponse struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

const createTicketMutation = `mutation($input: CreateTicketInput!) {
	createTicket(input: $input) { ticket { id title state } userErrors { field code message } } }`

type createTicketJSON struct {
	CreateTicket struct {
		Ticket     *struct{ ID, Title string }
		UserErrors []struct {
			Field         []string
			Message, Code string
		}
	}
}

func ticketsTitled(ws *emulator.Workspace, contactID, title string) int {
	n := 0
	for _, tk := range ws.Tickets(contactID) {
		if tk.Title == title {
			n++
		}
	}
	return n
}
