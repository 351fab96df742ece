package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/faultproxy"
	"github.com/talkdesk-intercom/api/internal/loadtest"
	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/webhooks"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// Partial outages, measured by counts: the server in front of a proxy that
// fails a share of Intercom's answers (internal/faultproxy), against the
// emulator over real HTTP. The tests assert how many lookups were answered,
// how much budget was spent against the calls that reached Intercom, and
// how many objects an action created; never how long anything took.

// newFlakyEnv is a server whose Intercom is the emulator behind a fault
// proxy, with webhooks signed with testClientSecret.
func newFlakyEnv(t *testing.T, settings ...string) (*testEnv, *faultproxy.Proxy) {
	t.Helper()
	em, err := emulator.Start(emulator.Options{Token: testToken, WorkspaceID: uniqueWorkspaceID()})
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() { em.Close() })
	proxy, err := faultproxy.Start(em.URL, 21)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	settings = append([]string{"INTERCOM_BASE_URL", proxy.URL, "INTERCOM_CLIENT_SECRET", testClientSecret}, settings...)
	return newTestEnvOn(t, em, settings...), proxy
}

// outcome is how one request was answered, as a client sees it.
type outcome struct {
	status   int
	answered bool // data and no error
	stale    bool // extensions.stale
	staleAge bool // extensions.staleAgeSeconds is a number
	code     string
}

// tally counts outcomes by kind of request; safe for concurrent use.
type tally struct {
	mu    sync.Mutex
	sent  int
	ok    int
	stale int
	aged  int // stale answers that say how old they are
	codes map[string]int
}

func (tl *tally) add(o outcome) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if tl.codes == nil {
		tl.codes = map[string]int{}
	}
	tl.sent++
	switch {
	case o.answered && o.stale:
		tl.ok++
		tl.stale++
		if o.staleAge {
			tl.aged++
		}
	case o.answered:
		tl.ok++
	default:
		tl.codes[o.code]++
	}
}

func (tl *tally) String() string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return fmt.Sprintf("%d sent, %d answered (%d of them stale), refused %v", tl.sent, tl.ok, tl.stale, tl.codes)
}

// atLeast says whether percent % of the requests were answered.
func (tl *tally) atLeast(percent int) bool {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return tl.sent > 0 && tl.ok*100 >= percent*tl.sent
}

// ask sends one GraphQL request and reads its outcome.
func ask(t *testing.T, env *testEnv, query string, vars map[string]any) outcome {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, err := http.Post(env.URL+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST /graphql: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var r struct {
		Data       map[string]json.RawMessage `json:"data"`
		Errors     []gqlError                 `json:"errors"`
		Extensions map[string]any             `json:"extensions"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("HTTP %d, body is not JSON: %q", resp.StatusCode, raw)
	}
	o := outcome{status: resp.StatusCode}
	o.answered = resp.StatusCode == http.StatusOK && len(r.Errors) == 0 && len(r.Data) > 0
	o.stale = r.Extensions["stale"] == true
	_, o.staleAge = r.Extensions["staleAgeSeconds"].(float64)
	if len(r.Errors) > 0 {
		o.code, _ = r.Errors[0].Extensions["code"].(string)
	}
	if !o.answered && o.code == "" {
		o.code = fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return o
}

const (
	lookupQuery         = `query($p: String!) { contactsByPhone(phone: $p) { id name } }`
	contactHistoryQuery = `query($id: ID!) { contact(id: $id) { id interactions(first: 5) { totalCount nodes { id } } } }`
)

// notify delivers a signed contact.user.updated for c, as Intercom sends
// one when the contact changes: it invalidates what the server holds of c.
func notify(t *testing.T, env *testEnv, c loadtest.Caller) {
	t.Helper()
	body := c.Updated(env.Intercom.Workspace.App().IDCode, fmt.Sprintf("notif_%d", notifySeq.Add(1)))
	if status := deliver(t, env, body, webhooks.Sign(testClientSecret, body)); status != http.StatusOK {
		t.Fatalf("webhook for %s: HTTP %d", c.ID, status)
	}
}

var notifySeq atomic.Int64

// inParallel runs do(0..n-1) on workers goroutines.
func inParallel(n, workers int, do func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				do(i)
			}
		})
	}
	wg.Wait()
}

// With half of Intercom's answers 503, warm lookups whose entries a webhook
// has just invalidated are answered, fresh or stale (at least 99 %), and at
// least half of the cold ones: a flaky Intercom is not an outage.
func TestFlakyIntercomAnswersWarmAndColdLookups(t *testing.T) {
	env, proxy := newFlakyEnv(t)
	callers := loadtest.Callers(env.Intercom.Workspace)
	if len(callers) < 50 {
		t.Fatalf("the seed has %d callers with numbers, want 50", len(callers))
	}
	warm, cold := callers[:20], callers[20:50]
	for _, c := range warm {
		if o := ask(t, env, lookupQuery, map[string]any{"p": c.Phone}); !o.answered {
			t.Fatalf("warming %s: %+v", c.Phone, o)
		}
		if o := ask(t, env, contactHistoryQuery, map[string]any{"id": c.ID}); !o.answered {
			t.Fatalf("warming the history of %s: %+v", c.ID, o)
		}
	}

	proxy.Set(faultproxy.Faults{Unavailable: 0.5})
	before := proxy.Counts()
	var warmLookups, histories, coldLookups tally
	// Three rounds: each warm contact changes (its webhook arrives), then
	// its caller rings and its agent opens the history.
	inParallel(3*len(warm), 4, func(i int) {
		c := warm[i%len(warm)]
		notify(t, env, c)
		warmLookups.add(ask(t, env, lookupQuery, map[string]any{"p": c.Phone}))
		histories.add(ask(t, env, contactHistoryQuery, map[string]any{"id": c.ID}))
	})
	inParallel(len(cold), 4, func(i int) {
		coldLookups.add(ask(t, env, lookupQuery, map[string]any{"p": cold[i].Phone}))
	})
	made := proxy.Counts().Sub(before)
	t.Logf("at 50 %% 503s: warm lookups %s; histories %s; cold lookups %s; Intercom calls %d (%d answered 503)",
		&warmLookups, &histories, &coldLookups, made.Received, made.Unavailable)

	if made.Unavailable == 0 || made.Forwarded == 0 {
		t.Fatalf("the proxy answered %d calls 503 and forwarded %d: the test did not exercise a flaky Intercom", made.Unavailable, made.Forwarded)
	}
	if !warmLookups.atLeast(99) {
		t.Errorf("warm lookups: %s; want at least 99 %% answered, fresh or stale", &warmLookups)
	}
	if !histories.atLeast(99) {
		t.Errorf("warm histories: %s; want at least 99 %% answered, fresh or stale", &histories)
	}
	if !coldLookups.atLeast(50) {
		t.Errorf("cold lookups: %s; want at least 50 %% answered", &coldLookups)
	}
	for _, tl := range []*tally{&warmLookups, &histories} {
		if tl.aged != tl.stale {
			t.Errorf("%d of %d stale answers do not say how old they are (extensions.staleAgeSeconds)", tl.stale-tl.aged, tl.stale)
		}
	}
}

// With every answer a 503, the calls the breaker refuses cost no budget:
// the units counted for the fleet in Redis stay within the calls that
// reached Intercom, no lookup is refused RATE_LIMITED during the outage
// or after it, and the replica stays ready.
func TestOutageSpendsBudgetOnlyOnCallsMade(t *testing.T) {
	if testRedisURL() == "" {
		t.Skip("counts the fleet's budget in Redis: set TEST_REDIS_ADDR")
	}
	// 200 calls a window, 100 for one caller: far more than the calls that
	// reach Intercom while the breaker is open, far fewer than the searches
	// it refuses (concurrent lookups share searches: about two a search).
	const share = 100
	env, proxy := newFlakyEnv(t, "INTERCOM_RATE_LIMIT", "1200", "INTERCOM_CALLER_SHARE", "50")
	// The workspace is known (its first /me) before the outage starts.
	if o := ask(t, env, lookupQuery, map[string]any{"p": "+12025557000"}); !o.answered {
		t.Fatalf("first lookup: %+v", o)
	}
	units := newBudgetReader(t, env.Intercom.Workspace.App().IDCode)
	proxy.Set(faultproxy.Faults{Unavailable: 1})
	before, unitsBefore := proxy.Counts(), units.read()
	var outage tally
	var seq atomic.Int64
	number := func() string { return fmt.Sprintf("+1202557%04d", 1+seq.Add(1)) } // cold: each looked up once
	inParallel(600, 8, func(int) { outage.add(ask(t, env, lookupQuery, map[string]any{"p": number()})) })
	made, spent := proxy.Counts().Sub(before), units.spentSince(unitsBefore)
	ready := readyz(t, env)
	t.Logf("100 %% 503s: lookups %s; Intercom calls %d; fleet budget units %d; /readyz %+v", &outage, made.Received, spent, ready)

	if made.Received >= share {
		t.Fatalf("%d calls reached Intercom during the outage, not fewer than a caller's share (%d): the test proves nothing", made.Received, share)
	}
	if n := outage.codes["RATE_LIMITED"]; n > 0 {
		t.Errorf("%d lookups were refused RATE_LIMITED while %d calls reached Intercom (a share is %d): calls that never left were charged", n, made.Received, share)
	}
	// Each call made takes one unit, and may hold up to half as many of
	// the next window for this replica: a held unit is counted once, when
	// it is held.
	if limit := 2*made.Received + 4; spent > limit {
		t.Errorf("the fleet's count in Redis grew by %d units for %d calls that reached Intercom (at most %d expected)", spent, made.Received, limit)
	}
	if ready.HTTP != http.StatusOK {
		t.Errorf("/readyz answered %+v during one workspace's outage: want 200, the replica can serve", ready)
	}

	// Intercom heals: the next lookups are served once the breaker lets a
	// probe through, and none of them is refused for the budget.
	proxy.Set(faultproxy.Faults{})
	var recovery tally
	deadline := time.Now().Add(15 * time.Second) // a bound, not a target: the breaker's cooldown
	for time.Now().Before(deadline) {
		o := ask(t, env, lookupQuery, map[string]any{"p": number()})
		recovery.add(o)
		if o.answered {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("after the outage: lookups %s", &recovery)
	if recovery.ok == 0 {
		t.Errorf("no lookup was answered within 15 s of Intercom healing: %s", &recovery)
	}
	if n := recovery.codes["RATE_LIMITED"]; n > 0 {
		t.Errorf("%d lookups were refused RATE_LIMITED after the outage: calls that never left were charged", n)
	}
}

// A write that Intercom applied but whose answer was lost (the connection
// dropped, or a 502) is retried by its client with the same idempotency key
// until acknowledged, and exists exactly once.
func TestLostWriteAnswersCreateEachActionOnce(t *testing.T) {
	for _, loss := range []faultproxy.Loss{faultproxy.CloseConnection, faultproxy.BadGateway} {
		t.Run(loss.String(), func(t *testing.T) {
			env, proxy := newFlakyEnv(t)
			ws := env.Intercom.Workspace
			demo, _ := ws.DemoCaller()
			ticketsBefore, notesBefore := len(ws.Tickets(demo.ID)), len(ws.Notes(demo.ID))
			proxy.Set(faultproxy.Faults{LostAnswers: 0.5, Loss: loss})
			run := strings.ReplaceAll(t.Name(), "/", "-")
			type action struct{ key, query string }
			var actions []action
			for i := range 4 {
				key := fmt.Sprintf("%s-ticket-%d", run, i)
				actions = append(actions, action{key, fmt.Sprintf(`mutation { createTicket(input: {idempotencyKey: %q, contactId: %q, title: %q, ticketType: "Callback request"}) { ticket { id } userErrors { code } } }`,
					key, demo.ID, "Lost answer "+key)})
				key = fmt.Sprintf("%s-note-%d", run, i)
				actions = append(actions, action{key, fmt.Sprintf(`mutation { addNote(input: {idempotencyKey: %q, contactId: %q, body: %q}) { note { id } } }`,
					key, demo.ID, "Lost answer "+key)})
			}
			attempts, acked := 0, 0
			deadline := time.Now().Add(20 * time.Second) // a bound: a breaker opened by the losses cools down
			for _, a := range actions {
				for time.Now().Before(deadline) {
					attempts++
					if o := ask(t, env, a.query, nil); o.answered {
						acked++
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
			c := proxy.Counts()
			t.Logf("%d actions, %d attempts, %d acknowledged; writes whose answer was lost: %d", len(actions), attempts, acked, c.LostAnswers)
			if c.LostAnswers == 0 {
				t.Fatal("no answer was lost: the test did not exercise lost answers")
			}
			if acked != len(actions) {
				t.Errorf("%d of %d actions acknowledged", acked, len(actions))
			}
			for _, a := range actions {
				n := 0
				for _, tk := range ws.Tickets(demo.ID) {
					if tk.Title == "Lost answer "+a.key {
						n++
					}
				}
				for _, nt := range ws.Notes(demo.ID) {
					if strings.Contains(nt.Body, "Lost answer "+a.key) {
						n++
					}
				}
				if n != 1 {
					t.Errorf("action %s exists %d times in Intercom, want once", a.key, n)
				}
			}
			if created := len(ws.Tickets(demo.ID)) - ticketsBefore + len(ws.Notes(demo.ID)) - notesBefore; created != len(actions) {
				t.Errorf("%d objects created for %d actions", created, len(actions))
			}
		})
	}
}

// budgetReader reads a workspace's fleet budget from Redis: each window's
// count of the units its calls took (held ones included).
type budgetReader struct {
	t         *testing.T
	client    *goredis.Client
	workspace string
}

func newBudgetReader(t *testing.T, workspace string) *budgetReader {
	opts, err := goredis.ParseURL(testRedisURL())
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return &budgetReader{t: t, client: c, workspace: workspace}
}

// read returns every window's count now, by key.
func (b *budgetReader) read() map[string]int64 {
	b.t.Helper()
	ctx := context.Background()
	prefix := strings.TrimSuffix(redis.BudgetWindowKey(b.workspace, time.Unix(0, 0)), "0")
	keys, err := b.client.Keys(ctx, prefix+"*").Result()
	if err != nil {
		b.t.Fatalf("read the budget: %v", err)
	}
	out := map[string]int64{}
	for _, k := range keys {
		if n, err := b.client.HGet(ctx, k, "all").Int64(); err == nil {
			out[k] = n
		}
	}
	return out
}

// spentSince is how many units the windows took since the reading before;
// a window that expired meanwhile took none.
func (b *budgetReader) spentSince(before map[string]int64) int64 {
	var n int64
	for k, v := range b.read() {
		n += v - before[k]
	}
	return n
}
