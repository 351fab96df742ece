package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// W7: what one caller spending its whole cost budget on the costliest
// operation the limits admit does to another caller's warm lookups. The
// servers run with API keys (two callers) and the cost settings' defaults.
const (
	w7Alone  = "W7 cost: W1 warm, c=1, alone"
	w7With   = "W7 cost: W1 warm, c=1, while another caller spends its cost budget"
	w7Heavy  = "W7 cost: the costliest query, at one caller's full allowance"
	w7Light  = "bench-w7-light-caller"
	w7Costly = "bench-w7-heavy-caller"
)

// w7Card is every field of a contact that costs no Intercom call (tags'
// names are one list read per request): the most complexity a contact
// adds.
const w7Card = `fragment Card on Contact { id externalId role name title email emails phone phones photoUrl address
	location { country countryCode region city } websites twitter url tags { id name } customAttributes notesCount createdAt updatedAt }`

// w7Query is aliases times contactsByIds of $ids, each with the card.
func w7Query(aliases int) string {
	var b strings.Builder
	b.WriteString("query Costliest($ids: [ID!]!) {")
	for i := range aliases {
		fmt.Fprintf(&b, " a%d: contactsByIds(ids: $ids) { ...Card }", i)
	}
	b.WriteString(" }\n" + w7Card)
	return b.String()
}

// w7Result is what the costly caller saw.
type w7Result struct {
	aliases, complexity, maxComplexity int
	throttle                           map[string]any // the first answer's throttleStatus
	ran                                int
	refused                            map[string]int // by extensions.limit
	heavyLatency                       []time.Duration
	answerBytes                        int
}

func (b *bench) runCost(ctx context.Context, add func(row, error) error) error {
	// Two callers, each with the default cost budget and cap (an empty
	// value leaves a setting at its default).
	f, err := b.startFleet(ctx, 1, "real", map[string]string{"API_KEYS": w7Light + "," + w7Costly,
		"COST_RESTORE_RATE": "", "MAX_CONCURRENT_REQUESTS_PER_CALLER": "",
		// The costly caller's operations are executed: the same query again
		// would be a response cache hit, which spends nothing of the budget.
		"RESPONSE_CACHE_ENABLED": "false"})
	if err != nil {
		return err
	}
	defer f.close()
	in := f.instance(0)
	contacts := f.em.Workspace.Contacts()
	var ids []any
	for _, c := range contacts[:min(100, len(contacts))] {
		ids = append(ids, c.ID)
	}
	vars := map[string]any{"ids": ids}

	// One alias tells the cost of one; as many as MAX_QUERY_COMPLEXITY
	// admits make the costliest. The first run warms the contacts.
	res := &w7Result{refused: map[string]int{}}
	one, _, err := in.costed(w7Costly, w7Query(1), vars)
	if err != nil {
		return fmt.Errorf("W7: %w", err)
	}
	res.aliases = max(1, one.maxComplexity/max(1, one.complexity))
	res.complexity, res.maxComplexity, res.throttle = one.complexity*res.aliases, one.maxComplexity, one.throttle
	costliest := w7Query(res.aliases)

	phones := seededPhones(f.em.Workspace, 64)
	var failed atomic.Int64
	lookup := func(i int) error {
		if _, _, err := in.costed(w7Light, callerQuery, map[string]any{"p": phones[i%len(phones)]}); err != nil {
			failed.Add(1)
		}
		return nil
	}
	for i := range phones {
		_ = lookup(i)
	}
	failed.Store(0)
	alone, err := measureFor(w7Alone, b.opts.w7For, lookup)
	alone.errors = int(failed.Swap(0))
	if err := add(alone, err); err != nil {
		return err
	}

	// The costly caller: as many workers as it may run operations at once,
	// each sending the costliest query back to back and, when refused,
	// waiting as long as the refusal says its budget needs.
	stop := make(chan struct{})
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range b.opts.w7Workers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				got, size, err := in.costed(w7Costly, costliest, vars)
				took := time.Since(t0)
				mu.Lock()
				if err == nil {
					res.ran++
					res.heavyLatency = append(res.heavyLatency, took)
					res.answerBytes = size
				} else {
					res.refused[cmpOr(got.limit, err.Error())]++
				}
				mu.Unlock()
				if err != nil {
					select {
					case <-stop:
						return
					case <-time.After(max(got.wait, 5*time.Millisecond)):
					}
				}
			}
		})
	}
	during, err := measureFor(w7With, b.opts.w7For, lookup)
	close(stop)
	wg.Wait()
	during.errors = int(failed.Load())
	if err := add(during, err); err != nil {
		return err
	}
	b.cost = res
	heavy := row{workload: w7Heavy, path: "real", requests: res.ran}
	for _, n := range res.refused {
		heavy.errors += n
	}
	if lat := res.heavyLatency; len(lat) > 0 {
		heavy.p50, heavy.p99 = percentiles(lat)
		heavy.rps = float64(len(lat)) / b.opts.w7For.Seconds()
	}
	return add(heavy, nil)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// measureFor runs req one at a time for d and records the latencies.
func measureFor(name string, d time.Duration, req func(i int) error) (row, error) {
	var lat []time.Duration
	start := time.Now()
	for i := 0; time.Since(start) < d; i++ {
		t0 := time.Now()
		if err := req(i); err != nil {
			return row{}, err
		}
		lat = append(lat, time.Since(t0))
	}
	wall := time.Since(start)
	if len(lat) == 0 {
		return row{}, fmt.Errorf("%s: no request in %s", name, d)
	}
	slices.Sort(lat)
	n := len(lat)
	return row{workload: name, path: "real", requests: n, p50: lat[n/2], p99: lat[min(n-1, n*99/100)], rps: float64(n) / wall.Seconds()}, nil
}

// costedAnswer is what costed reads of an answer: its cost, or why it was
// refused and how long its caller should wait.
type costedAnswer struct {
	complexity, maxComplexity int
	throttle                  map[string]any
	limit                     string // the refusal's extensions.limit
	wait                      time.Duration
}

// costed sends a GraphQL request as the caller with key and reads the
// answer's extensions.cost; an answer with errors is an error. It returns
// the answer's size.
func (in *instance) costed(key, q string, vars map[string]any) (costedAnswer, int, error) {
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, in.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", key)
	resp, err := benchClient.Do(req)
	if err != nil {
		return costedAnswer{}, 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	type cost struct {
		Complexity     int            `json:"complexity"`
		MaxComplexity  int            `json:"maxComplexity"`
		ThrottleStatus map[string]any `json:"throttleStatus"`
	}
	var out struct {
		Errors []struct {
			Extensions struct {
				Code              string `json:"code"`
				Limit             string `json:"limit"`
				RetryAfterSeconds int    `json:"retryAfterSeconds"`
				Cost              *cost  `json:"cost"`
			} `json:"extensions"`
		} `json:"errors"`
		Extensions struct {
			Cost *cost `json:"cost"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return costedAnswer{}, len(raw), fmt.Errorf("HTTP %d: %.300s", resp.StatusCode, raw)
	}
	if len(out.Errors) > 0 {
		e := out.Errors[0].Extensions
		got := costedAnswer{limit: e.Limit, wait: time.Duration(e.RetryAfterSeconds) * time.Second}
		if c := e.Cost; c != nil && c.ThrottleStatus != nil {
			// The budget's own numbers say to the millisecond when the
			// operation fits: Retry-After is in whole seconds.
			left, _ := c.ThrottleStatus["currentlyAvailable"].(float64)
			rate, _ := c.ThrottleStatus["restoreRate"].(float64)
			if rate > 0 && e.Limit == "COST_RESTORE_RATE" {
				got.wait = time.Duration((float64(c.Complexity) - left) / rate * float64(time.Second))
			}
		}
		return got, len(raw), fmt.Errorf("HTTP %d %s %s", resp.StatusCode, e.Code, e.Limit)
	}
	if resp.StatusCode != http.StatusOK || out.Extensions.Cost == nil {
		return costedAnswer{}, len(raw), fmt.Errorf("HTTP %d without extensions.cost: %.300s", resp.StatusCode, raw)
	}
	c := out.Extensions.Cost
	return costedAnswer{complexity: c.Complexity, maxComplexity: c.MaxComplexity, throttle: c.ThrottleStatus}, len(raw), nil
}

// costChecks is W7's target: the other caller's warm lookups keep their
// p99 within 2× (+5 ms) of alone, and none fails.
func (b *bench) costChecks(w io.Writer, find func(workload, path string) row) []check {
	res := b.cost
	during, alone := find(w7With, "real"), find(w7Alone, "real")
	if res == nil || during.requests == 0 {
		return nil
	}
	refused := []string{}
	for limit, n := range res.refused {
		refused = append(refused, fmt.Sprintf("%d by %s", n, limit))
	}
	slices.Sort(refused)
	if len(refused) == 0 {
		refused = append(refused, "none")
	}
	fmt.Fprintf(w, "\n%s: %d aliases of contactsByIds × %d contacts × the card's 26 fields, complexity %d (MAX_QUERY_COMPLEXITY %d), answers of %d KB; "+
		"its first answer's throttleStatus %v; the costly caller ran %d in %s with %d workers, refused: %s\n",
		w7Heavy, res.aliases, 100, res.complexity, res.maxComplexity, res.answerBytes/1024, res.throttle, res.ran, b.opts.w7For, b.opts.w7Workers,
		strings.Join(refused, ", "))
	limit := 2*alone.p99 + 5*time.Millisecond
	return []check{{
		"W7: W1 warm while another caller spends its whole cost budget on the costliest query: p99 within 2× (+5 ms) of W1 alone, zero errors, the query within 10 % of MAX_QUERY_COMPLEXITY",
		during.errors == 0 && during.p99 <= limit && res.complexity*10 >= res.maxComplexity*9 && res.ran > 0,
		fmt.Sprintf("p99 %s alone, %s during (limit %s); p50 %s alone, %s during; %d errors; complexity %d of %d; %d costly ran",
			alone.p99.Round(100*time.Microsecond), during.p99.Round(100*time.Microsecond), limit.Round(100*time.Microsecond),
			alone.p50.Round(100*time.Microsecond), during.p50.Round(100*time.Microsecond), during.errors, res.complexity, res.maxComplexity, res.ran),
	}}
}
