package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// costAnswer is a GraphQL answer with its cost, as a client reads it.
type costAnswer struct {
	Status     int
	RetryAfter string
	Errors     []gqlError `json:"errors"`
	Extensions struct {
		Cost *answerCost `json:"cost"`
	} `json:"extensions"`
}

type answerCost struct {
	Complexity     int `json:"complexity"`
	MaxComplexity  int `json:"maxComplexity"`
	Spent          int `json:"spent"`
	ThrottleStatus *struct {
		MaximumAvailable   int `json:"maximumAvailable"`
		CurrentlyAvailable int `json:"currentlyAvailable"`
		RestoreRate        int `json:"restoreRate"`
	} `json:"throttleStatus"`
}

func (a costAnswer) code() string { return gqlResponse{Errors: a.Errors}.code() }

// refusalCost is the cost a refusal's error carries.
func (a costAnswer) refusalCost(t *testing.T) answerCost {
	t.Helper()
	raw, _ := json.Marshal(a.Errors[0].Extensions["cost"])
	var c answerCost
	if err := json.Unmarshal(raw, &c); err != nil || c.ThrottleStatus == nil {
		t.Fatalf("the refusal carries no cost with a throttleStatus: %+v", a.Errors[0].Extensions)
	}
	return c
}

// costly asks for the demo caller 100 times over: three fields of 100
// contacts, plus the list, is a complexity of 301, with one Intercom read
// at most.
const costly = `query Costly($ids: [ID!]!) { contactsByIds(ids: $ids) { id name email } }`

const costlyComplexity = 1 + 100*3

func costlyVars() map[string]any {
	ids := make([]any, 100)
	for i := range ids {
		ids[i] = emulator.DemoCallerID
	}
	return map[string]any{"ids": ids}
}

// ask sends a GraphQL request with an API key and reads its cost.
func (e *testEnv) ask(t *testing.T, key, query string, vars map[string]any) costAnswer {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", e.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /graphql: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := costAnswer{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("HTTP %d, body is not JSON: %q", resp.StatusCode, raw)
	}
	return out
}

const (
	keyA = "apikey-cost-a-51f0"
	keyB = "apikey-cost-b-51f0"
)

// A caller spends each operation's complexity from its budget and sees in
// every answer what was spent and what is left; an operation that costs
// more than is left is refused with a retry hint, and is served once the
// budget has been restored for that long.
// The cost budget is spent by executed operations: these tests turn the
// response cache off, whose hits (the same query again) are not executed and
// spend nothing (docs/caching.md).

func TestCostBudgetDrainsAndRefills(t *testing.T) {
	// 1,000 points restored at 100 a second: three costly operations, then
	// a refusal for about two seconds.
	env := newTestEnvWith(t, emulator.Options{}, "RESPONSE_CACHE_ENABLED", "false", "API_KEYS", keyA+","+keyB,
		"MAX_QUERY_COMPLEXITY", "500", "COST_MAXIMUM_AVAILABLE", "1000", "COST_RESTORE_RATE", "100")
	vars := costlyVars()

	first := env.ask(t, keyA, costly, vars)
	if first.Status != http.StatusOK || len(first.Errors) > 0 || first.Extensions.Cost == nil || first.Extensions.Cost.ThrottleStatus == nil {
		t.Fatalf("first: HTTP %d, errors %+v, cost %+v; want an answer with its cost", first.Status, first.Errors, first.Extensions.Cost)
	}
	c := first.Extensions.Cost
	if c.Complexity != costlyComplexity || c.Spent != costlyComplexity || c.MaxComplexity != 500 {
		t.Errorf("first: complexity %d, spent %d, maxComplexity %d; want %d, %d, 500", c.Complexity, c.Spent, c.MaxComplexity, costlyComplexity, costlyComplexity)
	}
	if s := *c.ThrottleStatus; s.MaximumAvailable != 1000 || s.RestoreRate != 100 || s.CurrentlyAvailable != 1000-costlyComplexity {
		t.Errorf("first: throttleStatus %+v; want 1000 available at most, %d left, 100 restored a second", s, 1000-costlyComplexity)
	}

	// What is left goes down by what each spends (plus what was restored
	// meanwhile), until an operation costs more than is left.
	left := c.ThrottleStatus.CurrentlyAvailable
	var refused costAnswer
	for i := 2; i <= 6; i++ {
		r := env.ask(t, keyA, costly, vars)
		if r.Status != http.StatusOK {
			refused = r
			break
		}
		now := r.Extensions.Cost.ThrottleStatus.CurrentlyAvailable
		if r.Extensions.Cost.Spent != costlyComplexity || now >= left {
			t.Errorf("operation %d: spent %d, %d left after %d; want %d spent and less left", i, r.Extensions.Cost.Spent, now, left, costlyComplexity)
		}
		left = now
	}
	if refused.Status != http.StatusTooManyRequests || refused.code() != "RATE_LIMITED" {
		t.Fatalf("after spending the budget: HTTP %d, code %q; want 429 RATE_LIMITED", refused.Status, refused.code())
	}
	ext := refused.Errors[0].Extensions
	retry, _ := ext["retryAfterSeconds"].(float64)
	if ext["limit"] != "COST_RESTORE_RATE" || retry < 1 || retry > 3 || refused.RetryAfter != strconv.Itoa(int(retry)) {
		t.Errorf("refusal: limit %v, retryAfterSeconds %v, Retry-After %q; want COST_RESTORE_RATE and 1 to 3 s in both", ext["limit"], ext["retryAfterSeconds"], refused.RetryAfter)
	}
	rc := refused.refusalCost(t)
	if rc.Spent != 0 || rc.Complexity != costlyComplexity || rc.ThrottleStatus.CurrentlyAvailable >= costlyComplexity {
		t.Errorf("refusal's cost: %+v, %+v; want nothing spent and less than %d left", rc, *rc.ThrottleStatus, costlyComplexity)
	}

	// A refusal spends nothing, and the budget refills at the restore rate:
	// after the hint, the operation is served.
	time.Sleep(time.Duration(retry) * time.Second)
	again := env.ask(t, keyA, costly, vars)
	if again.Status != http.StatusOK || len(again.Errors) > 0 {
		t.Fatalf("after Retry-After: HTTP %d, errors %+v; want it served", again.Status, again.Errors)
	}
	if got := again.Extensions.Cost.ThrottleStatus.CurrentlyAvailable; got > 1000-costlyComplexity {
		t.Errorf("after the refill: %d left, more than a full budget less one operation", got)
	}
}

// One caller's spending never refuses another's: each API key has its own
// budget (the cap on running operations is per caller too: see
// TestConcurrentRequestsPerCallerAreCapped).
func TestCostBudgetsAreEachCallers(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "RESPONSE_CACHE_ENABLED", "false", "API_KEYS", keyA+","+keyB,
		"MAX_QUERY_COMPLEXITY", "500", "COST_MAXIMUM_AVAILABLE", "1000", "COST_RESTORE_RATE", "1")
	vars := costlyVars()
	for range 3 {
		env.ask(t, keyA, costly, vars)
	}
	if r := env.ask(t, keyA, costly, vars); r.Status != http.StatusTooManyRequests {
		t.Fatalf("A after three costly operations: HTTP %d, want 429", r.Status)
	}
	b := env.ask(t, keyB, costly, vars)
	if b.Status != http.StatusOK || len(b.Errors) > 0 {
		t.Fatalf("B while A's budget is spent: HTTP %d, errors %+v; want it served", b.Status, b.Errors)
	}
	if got := b.Extensions.Cost.ThrottleStatus.CurrentlyAvailable; got != 1000-costlyComplexity {
		t.Errorf("B's budget: %d left after its first operation, want %d: A's spending is not B's", got, 1000-costlyComplexity)
	}
}

// Over MAX_CONCURRENT_REQUESTS_PER_CALLER a caller's operation is refused
// at once, with its code and a retry hint, while another caller is served;
// once its operation ends the caller is admitted again.
func TestConcurrentRequestsPerCallerAreCapped(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "RESPONSE_CACHE_ENABLED", "false", "API_KEYS", keyA+","+keyB, "MAX_CONCURRENT_REQUESTS_PER_CALLER", "1")
	env.ask(t, keyA, `{ workspace { id } }`, nil) // the workspace is known: the next Intercom call is the lookup's

	// A's lookup waits for a slow Intercom.
	env.Intercom.Workspace.SetLatency(1500 * time.Millisecond)
	t.Cleanup(func() { env.Intercom.Workspace.SetLatency(0) })
	calls := env.Intercom.Workspace.TotalCalls()
	var wg sync.WaitGroup
	var slow costAnswer
	wg.Go(func() {
		slow = env.ask(t, keyA, `query($p: String!) { contactsByPhone(phone: $p) { id } }`, map[string]any{"p": "+14155550142"})
	})
	for deadline := time.Now().Add(10 * time.Second); env.Intercom.Workspace.TotalCalls() == calls; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("A's lookup never reached Intercom")
		}
	}

	r := env.ask(t, keyA, `{ __typename }`, nil)
	if r.Status != http.StatusTooManyRequests || r.code() != "RATE_LIMITED" || r.RetryAfter != "1" {
		t.Errorf("A's second operation while its first runs: HTTP %d, code %q, Retry-After %q; want 429 RATE_LIMITED, 1",
			r.Status, r.code(), r.RetryAfter)
	} else if ext := r.Errors[0].Extensions; ext["limit"] != "MAX_CONCURRENT_REQUESTS_PER_CALLER" || ext["max"] != 1.0 || ext["retryAfterSeconds"] != 1.0 {
		t.Errorf("refusal's extensions: %+v; want the limit MAX_CONCURRENT_REQUESTS_PER_CALLER, max 1, retryAfterSeconds 1", ext)
	}
	if b := env.ask(t, keyB, `{ __typename }`, nil); b.Status != http.StatusOK || len(b.Errors) > 0 {
		t.Errorf("B while A's operation runs: HTTP %d, errors %+v; want it served", b.Status, b.Errors)
	}

	wg.Wait()
	if slow.Status != http.StatusOK || len(slow.Errors) > 0 {
		t.Fatalf("A's slow lookup: HTTP %d, errors %+v", slow.Status, slow.Errors)
	}
	if again := env.ask(t, keyA, `{ __typename }`, nil); again.Status != http.StatusOK {
		t.Errorf("A once its operation ended: HTTP %d, want 200: its place is given back", again.Status)
	}
}

// costliestQuery is the costliest operation the default limits admit: seven
// aliases of 100 contacts with every field that costs no Intercom call (a
// complexity of 18,207 of MAX_QUERY_COMPLEXITY's 20,000, a 540 KB answer).
func costliestQuery() string {
	var b strings.Builder
	b.WriteString("query Costliest($ids: [ID!]!) {")
	for i := range 7 {
		fmt.Fprintf(&b, " a%d: contactsByIds(ids: $ids) { ...Card }", i)
	}
	b.WriteString(` } fragment Card on Contact { id externalId role name title email emails phone phones photoUrl address
		location { country countryCode region city } websites twitter url tags { id name } customAttributes notesCount createdAt updatedAt }`)
	return b.String()
}

// 300 of the costliest operations sent at once by one caller, with the
// default budget and cap (the budget restored at 1 a second, not 50,000:
// under the race detector each of these takes a second or more, and what
// the burst may run is the budget's maximum): the budget runs five, every
// other one is refused with RATE_LIMITED (its budget, or its cap on running
// operations), another caller is served meanwhile, and goroutines and heap
// go back to where they were (before the budget, this burst held 36,000
// goroutines and 1 GB).
func TestABurstOfTheCostliestOperationIsRefusedAndLeavesNothingBehind(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "RESPONSE_CACHE_ENABLED", "false", "API_KEYS", keyA+","+keyB, "COST_RESTORE_RATE", "1")
	var ids []any
	for _, c := range env.Intercom.Workspace.Contacts()[:100] {
		ids = append(ids, c.ID)
	}
	vars := map[string]any{"ids": ids}
	query := costliestQuery()
	warm := env.ask(t, keyB, query, vars) // the contacts are cached; B's own budget pays
	if warm.Status != http.StatusOK || len(warm.Errors) > 0 || warm.Extensions.Cost == nil || warm.Extensions.Cost.Complexity < 18_000 {
		t.Fatalf("the costliest query: HTTP %d, errors %+v, cost %+v", warm.Status, warm.Errors, warm.Extensions.Cost)
	}
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})

	http.DefaultClient.CloseIdleConnections()
	baseline := runtime.NumGoroutine()
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	const burst = 300
	client := &http.Client{Transport: &http.Transport{}} // a connection each: all at once
	start := time.Now()
	type reply struct {
		status      int
		code, limit string
	}
	replies := make([]reply, burst)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", env.URL+"/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-API-Key", keyA)
			resp, err := client.Do(req)
			if err != nil {
				t.Errorf("POST /graphql: %v", err)
				return
			}
			defer resp.Body.Close()
			var out struct {
				Errors []gqlError `json:"errors"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&out)
			replies[i].status = resp.StatusCode
			if len(out.Errors) > 0 {
				replies[i].code, _ = out.Errors[0].Extensions["code"].(string)
				replies[i].limit, _ = out.Errors[0].Extensions["limit"].(string)
			}
		})
	}
	// Another caller's lookups meanwhile.
	for range 5 {
		if r := env.ask(t, keyB, `query($p: String!) { contactsByPhone(phone: $p) { id } }`, map[string]any{"p": "+14155550142"}); r.Status != http.StatusOK || len(r.Errors) > 0 {
			t.Errorf("B during A's burst: HTTP %d, errors %+v; want it served", r.Status, r.Errors)
		}
	}
	wg.Wait()
	took := time.Since(start)
	client.CloseIdleConnections()

	ran, byLimit := 0, map[string]int{}
	for _, r := range replies {
		switch {
		case r.status == http.StatusOK && r.code == "":
			ran++
		case r.status == http.StatusTooManyRequests && r.code == "RATE_LIMITED":
			byLimit[r.limit]++
		default:
			t.Errorf("an answer of HTTP %d, code %q: want 200 or 429 RATE_LIMITED", r.status, r.code)
		}
	}
	// The budget: 100,000 at once (and 1 a second), 18,207 each.
	if most := int((100_000+took.Seconds())/18_207) + 1; ran == 0 || ran > most {
		t.Errorf("%d of %d ran in %s; want 1 to %d (the budget)", ran, burst, took.Round(time.Millisecond), most)
	}
	if byLimit["COST_RESTORE_RATE"] == 0 {
		t.Errorf("refusals by limit %v: none for the budget", byLimit)
	}
	t.Logf("%d ran, refused %v, in %s", ran, byLimit, took.Round(time.Millisecond))

	http.DefaultClient.CloseIdleConnections()
	waitForGoroutines(t, baseline+10)
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 32<<20 {
		t.Errorf("the heap grew by %d MB over the burst, and stayed", grown>>20)
	}
	if r := get(t, env.URL+"/healthz"); !strings.Contains(r, "ok") {
		t.Errorf("/healthz after the burst: %s", r)
	}
}

// The transports that stream (SSE, and WebSocket's subscribe messages) run
// operations too: they spend the same budget, and are refused alike once it
// is spent. Spent over plain requests, it refuses a stream's operation.
func TestStreamsSpendTheCostBudget(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "RESPONSE_CACHE_ENABLED", "false", "API_KEYS", keyA,
		"MAX_QUERY_COMPLEXITY", "500", "COST_MAXIMUM_AVAILABLE", "1000", "COST_RESTORE_RATE", "1")
	vars := costlyVars()
	header := http.Header{"X-Api-Key": {keyA}}
	spend := func() (refused bool) {
		s := openSSE(t, env.URL, costly, vars, header)
		ev, ok := s.event()
		if !ok || ev.Event != "next" {
			t.Fatalf("SSE: %+v (open %v)", ev, ok)
		}
		return strings.Contains(string(ev.Data), `"code":"RATE_LIMITED"`)
	}
	// 1,000 points, 301 each: three operations over SSE, then a refusal.
	for i := 1; i <= 3; i++ {
		if spend() {
			t.Fatalf("SSE operation %d refused with the budget not spent", i)
		}
	}
	if !spend() {
		t.Fatalf("a fourth operation over SSE ran: streams do not spend the budget")
	}
	// The plain path sees the same bucket.
	if r := env.ask(t, keyA, costly, vars); r.Status != http.StatusTooManyRequests || r.code() != "RATE_LIMITED" {
		t.Errorf("a plain request after the streams spent the budget: HTTP %d %q", r.Status, r.code())
	}
}
