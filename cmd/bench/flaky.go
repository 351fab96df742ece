package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/faultproxy"
	"github.com/talkdesk-intercom/api/internal/loadtest"
	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/webhooks"
	"github.com/talkdesk-intercom/api/sources"
)

// W8, "flaky Intercom": the server in front of a fault proxy
// (internal/faultproxy) in front of the emulator, under a paced load of warm
// and cold caller lookups and contact histories while signed webhooks
// invalidate the warm contacts 20 times a second. Phases: healthy, 50 % of
// Intercom's answers 503, every answer 503, then healed. Each request is
// answered fresh, answered stale (extensions.stale), or refused (by code);
// the calls made are the proxy's count, the budget units the fleet's count
// in Redis, and the server's own count of calls from its /metrics.

const (
	w8Name     = "W8 flaky Intercom"
	w8Secret   = "bench-client-secret" // INTERCOM_CLIENT_SECRET of the W8 server
	w8Seed     = 21                    // the proxy's: which answers fail
	w8Contacts = 50                    // warm contacts, as in the run
	// w8RatePerMinute is INTERCOM_RATE_LIMIT of the W8 server: 2,000 calls a
	// 10-second window, for the one caller the benchmark is
	// (INTERCOM_CALLER_SHARE=100). The load makes about 450 calls a window
	// on a healthy Intercom, and about 1,000 at 50 % 503s (the retries of
	// safe reads): the budget holds both, so that a RATE_LIMITED means
	// units charged for nothing. During the outage the load sends about
	// 1,000 reads a window that need Intercom, 3,000 attempts with their
	// retries: charging the calls the breaker refuses would spend it.
	w8RatePerMinute = 12000
	// w8Healthy is how long the load runs before any fault: the cost of the
	// load on a healthy Intercom, to compare with.
	w8Healthy = 5 * time.Second
	// w8Hold is how long every request must have been answered fresh for
	// the recovery to count as full service.
	w8Hold = 3 * time.Second

	metricUpstreamCalls = "upstream_calls_total"
)

// w8Load is how many requests a second each kind is sent, in a phase.
type w8Load struct {
	warm, cold, histories, webhooks float64
}

var (
	// A flaky Intercom under the interactive load of a call center.
	w8Steady = w8Load{warm: 40, cold: 10, histories: 4, webhooks: 20}
	// The outage: 45 cold lookups a second.
	w8Outage = w8Load{warm: 40, cold: 45, histories: 4, webhooks: 20}
)

// The kinds of request, in the order of the rows.
const (
	w8Warm    = "W1 warm"
	w8Cold    = "W1 cold"
	w8History = "contact history"
)

var w8Kinds = []string{w8Warm, w8Cold, w8History}

func w8Row(phase, kind string) string { return w8Name + ", " + phase + ": " + kind }

// The phases, as the rows name them.
const (
	w8PhaseHealthy  = "healthy"
	w8PhaseHalf     = "50% 503s"
	w8PhaseOutage   = "100% 503s"
	w8PhaseRecovery = "healed"
)

// w8Phase is what one phase saw.
type w8Phase struct {
	name      string
	load      w8Load
	start     time.Time
	took      time.Duration
	kinds     map[string]*w8Tally
	calls     faultproxy.Counts // the proxy's: calls the server made
	units     atomic.Int64      // the fleet's budget units, from Redis
	metric    float64           // upstream_calls_total: calls the server counted
	server    counters          // the server's Redis round trips and loader batches
	webhooks  atomic.Int64
	hookFails atomic.Int64
}

// w8Tally counts the answers to one kind of request in a phase.
type w8Tally struct {
	mu           sync.Mutex
	fresh, stale int
	refused      map[string]int // by code
	lat          []time.Duration
	lastBad      time.Time // the start of the last request not answered fresh
	lastStart    time.Time
}

func (t *w8Tally) sent() int {
	n := t.fresh + t.stale
	for _, c := range t.refused {
		n += c
	}
	return n
}

func (t *w8Tally) refusedTotal() int { return t.sent() - t.fresh - t.stale }

func (t *w8Tally) codes() string {
	var out []string
	for _, c := range slices.Sorted(maps.Keys(t.refused)) {
		out = append(out, fmt.Sprintf("%s %d", c, t.refused[c]))
	}
	return strings.Join(out, ", ")
}

// w8Result is what the workload saw, for the checks.
type w8Result struct {
	phases     []*w8Phase
	healed     time.Time // when the proxy stopped failing
	firstProbe time.Time // the first call to reach the proxy after that
	fullAt     time.Time // from then on every request was answered fresh; zero when never
	perWindow  int
}

func (r *w8Result) phase(name string) *w8Phase {
	for _, p := range r.phases {
		if p.name == name {
			return p
		}
	}
	return nil
}

// runFlaky runs W8 on the real path.
func (b *bench) runFlaky(ctx context.Context, add func(row, error) error) error {
	em, err := b.startEmulator()
	if err != nil {
		return err
	}
	proxy, err := faultproxy.Start(em.URL, w8Seed)
	if err != nil {
		em.Close()
		return err
	}
	defer proxy.Close()
	f, err := b.startFleetOn(ctx, em, 1, "real", map[string]string{
		"INTERCOM_BASE_URL": proxy.URL, "INTERCOM_CLIENT_SECRET": w8Secret,
		"INTERCOM_RATE_LIMIT": strconv.Itoa(w8RatePerMinute), "INTERCOM_CALLER_SHARE": "100",
	})
	if err != nil {
		em.Close()
		return err
	}
	defer f.close()
	in := f.instances[0]
	ws := em.Workspace
	warm := loadtest.Callers(ws)
	warm = warm[:min(len(warm), w8Contacts)]
	for _, c := range warm {
		if _, err := in.queryData(callerQuery, map[string]any{"p": c.Phone}); err != nil {
			return fmt.Errorf("W8: warm %s: %w", c.Phone, err)
		}
		if _, err := in.queryData(historyQuery, map[string]any{"id": c.ID}); err != nil {
			return fmt.Errorf("W8: warm the history of %s: %w", c.ID, err)
		}
	}
	units, err := newBudgetSampler(b.opts.redisURL, ws.App().IDCode)
	if err != nil {
		return err
	}
	defer units.close()
	res := &w8Result{perWindow: w8RatePerMinute / 6}
	b.flaky = res
	var cold atomic.Int64
	run := func(name string, faults faultproxy.Faults, load w8Load, d time.Duration, until func(*w8Phase) bool) error {
		p := &w8Phase{name: name, load: load, kinds: map[string]*w8Tally{}}
		for _, k := range w8Kinds {
			p.kinds[k] = &w8Tally{refused: map[string]int{}}
		}
		res.phases = append(res.phases, p)
		calls, metric := proxy.Counts(), upstreamCounted(in)
		server, err := f.counters()
		if err != nil {
			return err
		}
		proxy.Set(faults)
		p.start = time.Now()
		units.into(p)
		probe := make(chan time.Time, 1)
		if name == w8PhaseRecovery {
			res.healed = p.start
			go func() { probe <- firstCallAfter(ctx, proxy, calls.Received, p.start.Add(d)) }()
		}
		w8Send(ctx, in, p, warm, ws.App().IDCode, &cold, d, until)
		p.took = time.Since(p.start)
		if name == w8PhaseRecovery {
			res.firstProbe = <-probe
		}
		p.calls, p.metric = proxy.Counts().Sub(calls), upstreamCounted(in)-metric
		after, err := f.counters()
		if err != nil {
			return err
		}
		p.server = counters{redisRoundTrips: after.redisRoundTrips - server.redisRoundTrips, loaderBatches: after.loaderBatches - server.loaderBatches}
		return ctx.Err()
	}
	steps := []struct {
		name   string
		faults faultproxy.Faults
		load   w8Load
		d      time.Duration
	}{
		{w8PhaseHealthy, faultproxy.Faults{}, w8Steady, w8Healthy},
		{w8PhaseHalf, faultproxy.Faults{Unavailable: 0.5}, w8Steady, b.opts.w8For},
		{w8PhaseOutage, faultproxy.Faults{Unavailable: 1}, w8Outage, b.opts.w8Outage},
	}
	for _, s := range steps {
		if err := run(s.name, s.faults, s.load, s.d, nil); err != nil {
			return err
		}
	}
	// Healed: the load goes on until every request has been answered fresh
	// for w8Hold, or -w8-recovery passes.
	if err := run(w8PhaseRecovery, faultproxy.Faults{}, w8Steady, b.opts.w8Recovery, func(p *w8Phase) bool {
		return res.recovered(p, time.Now()) && time.Since(res.fullAt) >= w8Hold
	}); err != nil {
		return err
	}
	units.close()
	last := res.phase(w8PhaseRecovery)
	res.recovered(last, time.Now())
	for _, p := range res.phases {
		total := 0
		for _, k := range w8Kinds {
			total += p.kinds[k].sent()
		}
		for _, k := range w8Kinds {
			t := p.kinds[k]
			n := t.sent()
			if n == 0 {
				continue
			}
			slices.Sort(t.lat)
			r := row{workload: w8Row(p.name, k), path: "real", requests: n, errors: t.refusedTotal(),
				p50: t.lat[n/2], p99: t.lat[min(n-1, n*99/100)], rps: float64(n) / p.took.Seconds(),
				// The phase's calls, round trips and batches over all its
				// requests: they are no one kind's.
				upstreamPerReq: float64(p.calls.Received) / float64(max(total, 1)), upstreamTotal: int(p.calls.Received),
				redisPerReq:   p.server.redisRoundTrips / float64(max(total, 1)),
				batchesPerReq: float64(p.server.loaderBatches) / float64(max(total, 1))}
			if err := add(r, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// recovered finds, in the healed phase p, when full service began: the
// first request after the last one not answered fresh, of every kind. It
// records it in r.fullAt (zero when the last request was not answered
// fresh) and says whether service is full now.
func (r *w8Result) recovered(p *w8Phase, now time.Time) bool {
	var lastBad, lastStart time.Time
	for _, k := range w8Kinds {
		t := p.kinds[k]
		t.mu.Lock()
		if t.lastBad.After(lastBad) {
			lastBad = t.lastBad
		}
		if t.lastStart.After(lastStart) {
			lastStart = t.lastStart
		}
		t.mu.Unlock()
	}
	switch {
	case lastStart.IsZero() || !lastBad.Before(lastStart):
		r.fullAt = time.Time{} // the latest request was not answered fresh (or none was sent)
	case lastBad.IsZero():
		r.fullAt = p.start
	default:
		r.fullAt = lastBad.Add(time.Nanosecond) // the next request started after it
	}
	return !r.fullAt.IsZero() && !r.fullAt.After(now)
}

// w8Send paces the phase's load for d, or until until says so (checked
// every 100 ms): each kind at its rate, open loop (a slow answer does not
// slow the next request), at most 64 requests of a kind in flight.
func w8Send(ctx context.Context, in *instance, p *w8Phase, warm []loadtest.Caller, appID string, cold *atomic.Int64, d time.Duration, until func(*w8Phase) bool) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	pace := func(rate float64, do func(i int)) {
		if rate <= 0 {
			return
		}
		wg.Go(func() {
			tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
			defer tick.Stop()
			sem := make(chan struct{}, 64)
			var inflight sync.WaitGroup
			defer inflight.Wait()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				select {
				case sem <- struct{}{}:
				default:
					continue // 64 in flight: this tick's request is not sent
				}
				inflight.Go(func() {
					defer func() { <-sem }()
					do(i)
				})
			}
		})
	}
	ask := func(kind, query string, vars map[string]any) {
		t0 := time.Now()
		fresh, stale, code := w8Ask(in, query, vars)
		took := time.Since(t0)
		t := p.kinds[kind]
		t.mu.Lock()
		defer t.mu.Unlock()
		switch {
		case fresh:
			t.fresh++
		case stale:
			t.stale++
		default:
			t.refused[code]++
		}
		if !fresh && t0.After(t.lastBad) {
			t.lastBad = t0
		}
		if t0.After(t.lastStart) {
			t.lastStart = t0
		}
		t.lat = append(t.lat, took)
	}
	pace(p.load.warm, func(i int) { ask(w8Warm, callerQuery, map[string]any{"p": warm[i%len(warm)].Phone}) })
	pace(p.load.histories, func(i int) { ask(w8History, historyQuery, map[string]any{"id": warm[(i*7)%len(warm)].ID}) })
	pace(p.load.cold, func(int) {
		// 202-559-0000 on: numbers of no seeded contact, each looked up
		// once: always a miss.
		ask(w8Cold, callerQuery, map[string]any{"p": fmt.Sprintf("+1202%07d", 5_590_000+cold.Add(1)-1)})
	})
	pace(p.load.webhooks, func(i int) {
		p.webhooks.Add(1)
		if !w8Notify(in, appID, warm[(i*3)%len(warm)]) {
			p.hookFails.Add(1)
		}
	})
	end := time.After(d)
	for done := false; !done; {
		select {
		case <-end:
			done = true
		case <-ctx.Done():
			done = true
		case <-time.After(100 * time.Millisecond):
			done = until != nil && until(p)
		}
	}
	close(stop)
	wg.Wait()
}

const historyQuery = `query History($id: ID!) { contact(id: $id) { id interactions(first: 5) { totalCount nodes { id type date } } } }`

// w8Ask sends one request: answered fresh, answered stale, or refused with
// code.
func w8Ask(in *instance, query string, vars map[string]any) (fresh, stale bool, code string) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, err := benchClient.Post(in.url+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		return false, false, "no answer"
	}
	defer resp.Body.Close()
	var out struct {
		Data   map[string]json.RawMessage
		Errors []struct {
			Extensions struct{ Code string } `json:"extensions"`
		} `json:"errors"`
		Extensions struct{ Stale bool } `json:"extensions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return false, false, fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	if len(out.Errors) > 0 || resp.StatusCode != http.StatusOK || len(out.Data) == 0 {
		if len(out.Errors) > 0 {
			return false, false, cmp.Or(out.Errors[0].Extensions.Code, "no code")
		}
		return false, false, fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return !out.Extensions.Stale, out.Extensions.Stale, ""
}

var w8NotifySeq atomic.Int64

// w8Notify delivers a signed contact.user.updated for c, as Intercom does
// when a contact changes: the server invalidates the contact, its history
// and its number.
func w8Notify(in *instance, appID string, c loadtest.Caller) bool {
	body := c.Updated(appID, fmt.Sprintf("notif_w8_%d", w8NotifySeq.Add(1)))
	req, _ := http.NewRequest(http.MethodPost, in.url+"/webhooks/intercom", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature", webhooks.Sign(w8Secret, body))
	resp, err := benchClient.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// firstCallAfter waits for the proxy's count of calls to pass received (the
// count when Intercom healed) and returns when it did: the breaker's first
// probe. Zero when no call came before until.
func firstCallAfter(ctx context.Context, p *faultproxy.Proxy, received int64, until time.Time) time.Time {
	for time.Now().Before(until) && ctx.Err() == nil {
		if p.Counts().Received > received {
			return time.Now()
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Time{}
}

// upstreamCounted is the server's own count of its Intercom calls
// (upstream_calls_total, every endpoint and status).
func upstreamCounted(in *instance) float64 {
	families, err := in.scrape()
	if err != nil {
		return 0
	}
	n := 0.0
	if mf := families[metricUpstreamCalls]; mf != nil {
		for _, m := range mf.GetMetric() {
			n += m.GetCounter().GetValue()
		}
	}
	return n
}

// budgetSampler reads the workspace's fleet budget in Redis every 100 ms
// and gives each window's change to the phase running: the units the
// server's calls took, less those given back, held ones included (a
// replica holds about half of what it spent of a window for the next one,
// counted when held).
type budgetSampler struct {
	client  *goredis.Client
	prefix  string
	mu      sync.Mutex
	current *w8Phase
	seen    map[string]int64
	stop    chan struct{}
	done    sync.WaitGroup
	once    sync.Once
}

func newBudgetSampler(redisURL, workspace string) (*budgetSampler, error) {
	opts, err := goredis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("W8 reads the fleet budget in Redis: %w", err)
	}
	s := &budgetSampler{client: goredis.NewClient(opts), seen: map[string]int64{}, stop: make(chan struct{}),
		prefix: strings.TrimSuffix(redis.BudgetWindowKey(workspace, time.Unix(0, 0)), "0")}
	s.sample() // what was spent before: no phase's
	s.done.Go(func() {
		for {
			select {
			case <-s.stop:
				s.sample()
				return
			case <-time.After(100 * time.Millisecond):
				s.sample()
			}
		}
	})
	return s, nil
}

// into gives the growth from now on to p.
func (s *budgetSampler) into(p *w8Phase) {
	s.sample()
	s.mu.Lock()
	s.current = p
	s.mu.Unlock()
}

func (s *budgetSampler) sample() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var keys []string
	iter := s.client.Scan(ctx, 0, s.prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		n, err := s.client.HGet(ctx, k, "all").Int64()
		if err != nil {
			continue
		}
		// A unit given back is a decrement: it counts against the phase
		// that sees it. A window that expired is no change.
		if grew := n - s.seen[k]; grew != 0 {
			s.seen[k] = n
			if s.current != nil {
				s.current.units.Add(grew)
			}
		}
	}
}

func (s *budgetSampler) close() {
	s.once.Do(func() {
		close(s.stop)
		s.done.Wait()
		s.client.Close()
	})
}

// answered is how many requests of kind in phase p were answered, fresh or
// stale, of how many sent.
func (p *w8Phase) answered(kind string) (answered, sent int) {
	t := p.kinds[kind]
	return t.fresh + t.stale, t.sent()
}

// flakyChecks prints what the W8 rows do not show (answers by kind, the
// calls made against the budget units spent, the recovery) and returns the
// issue's targets as checks; none when W8 did not run.
func (b *bench) flakyChecks(w io.Writer) []check {
	res := b.flaky
	if res == nil || len(res.phases) < 4 {
		return nil
	}
	fmt.Fprintf(w, "\n%s: the emulator (latency %s) behind a fault proxy (seed %d), INTERCOM_RATE_LIMIT=%d/min (%d calls a 10-second window); "+
		"a second: %.0f warm lookups and %.0f histories over %d contacts, %.0f cold lookups (%.0f at 100 %%), %.0f signed webhooks invalidating those contacts\n",
		w8Name, b.opts.latency, w8Seed, w8RatePerMinute, res.perWindow, w8Steady.warm, w8Steady.histories, w8Contacts, w8Steady.cold, w8Outage.cold, w8Steady.webhooks)
	for _, p := range res.phases {
		var kinds []string
		for _, k := range w8Kinds {
			t := p.kinds[k]
			s := fmt.Sprintf("%s %d: %d fresh, %d stale, %d refused", k, t.sent(), t.fresh, t.stale, t.refusedTotal())
			if t.refusedTotal() > 0 {
				s += " (" + t.codes() + ")"
			}
			kinds = append(kinds, s)
		}
		perCall := "no call made"
		if p.calls.Received > 0 {
			perCall = fmt.Sprintf("%.2f a call made", float64(p.units.Load())/float64(p.calls.Received))
		}
		fmt.Fprintf(w, "  %s, %s: %s; Intercom calls made %d (%d answered 503 by the proxy; the server counted %.0f), fleet budget units in Redis %d: %s; webhooks %d (%d not accepted)\n",
			p.name, p.took.Round(100*time.Millisecond), strings.Join(kinds, "; "), p.calls.Received, p.calls.Unavailable, p.metric,
			p.units.Load(), perCall, p.webhooks.Load(), p.hookFails.Load())
	}
	recovery := "no call reached Intercom after it healed"
	if !res.firstProbe.IsZero() {
		recovery = fmt.Sprintf("first call (the breaker's probe) %s after Intercom healed; ", res.firstProbe.Sub(res.healed).Round(10*time.Millisecond))
		if res.fullAt.IsZero() {
			recovery += fmt.Sprintf("requests still not all answered fresh after %s", b.opts.w8Recovery)
		} else {
			recovery += fmt.Sprintf("every request answered fresh from %s after it healed (%s after the probe)",
				res.fullAt.Sub(res.healed).Round(10*time.Millisecond), max(0, res.fullAt.Sub(res.firstProbe)).Round(10*time.Millisecond))
		}
	}
	fmt.Fprintf(w, "  recovery: %s\n", recovery)

	half, outage, healed := res.phase(w8PhaseHalf), res.phase(w8PhaseOutage), res.phase(w8PhaseRecovery)
	warmOK, warmN := half.answered(w8Warm)
	coldOK, coldN := half.answered(w8Cold)
	pct := func(a, n int) float64 { return 100 * float64(a) / float64(max(n, 1)) }
	var checks []check
	checks = append(checks, check{"W8 at 50 % upstream 503s: at least 99 % of warm lookups answered (fresh or stale), at least 50 % of cold ones",
		warmN > 0 && coldN > 0 && warmOK*100 >= 99*warmN && coldOK*100 >= 50*coldN,
		fmt.Sprintf("warm %d of %d (%.1f %%, %d stale), cold %d of %d (%.1f %%)", warmOK, warmN, pct(warmOK, warmN), half.kinds[w8Warm].stale,
			coldOK, coldN, pct(coldOK, coldN))})
	// At 100 % every call Intercom is sent fails: a RATE_LIMITED is caused
	// by calls that never left unless the calls made reached a window's
	// budget themselves.
	warm := outage.kinds[w8Warm]
	limited := outage.kinds[w8Warm].refused[sources.ERateLimited] + outage.kinds[w8Cold].refused[sources.ERateLimited] +
		outage.kinds[w8History].refused[sources.ERateLimited] + healed.kinds[w8Warm].refused[sources.ERateLimited] +
		healed.kinds[w8Cold].refused[sources.ERateLimited] + healed.kinds[w8History].refused[sources.ERateLimited]
	made := outage.calls.Received + healed.calls.Received
	perWindow := float64(made) * float64(10*time.Second) / float64(max(outage.took+healed.took, time.Second))
	checks = append(checks, check{"W8 at 100 % upstream 503s: every warm lookup answered (from stale once invalidated), and no RATE_LIMITED caused by calls that never left (then or once healed)",
		warm.sent() > 0 && warm.refusedTotal() == 0 && (limited == 0 || perWindow >= float64(res.perWindow)),
		fmt.Sprintf("warm %d: %d stale, %d fresh, %d refused; RATE_LIMITED %d while %d calls reached Intercom (%.0f a window, the budget %d)",
			warm.sent(), warm.stale, warm.fresh, warm.refusedTotal(), limited, made, perWindow, res.perWindow)})
	// Budgets spent only on calls made: a call takes a unit and may hold
	// about half a unit more of the next window; a window's first call
	// holds one whatever it spent.
	var spent []string
	unitsOK := true
	for _, p := range []*w8Phase{half, outage} {
		windows := int64(p.took/(10*time.Second)) + 2
		limit := 2*p.calls.Received + 2*windows
		unitsOK = unitsOK && p.units.Load() <= limit
		spent = append(spent, fmt.Sprintf("%s: %d units for %d calls made (at most %d)", p.name, p.units.Load(), p.calls.Received, limit))
	}
	checks = append(checks, check{"W8 budgets spent only on calls made: at 50 % and 100 % upstream 503s, at most 2 fleet budget units (held ones included) a call that reached Intercom",
		unitsOK, strings.Join(spent, "; ")})
	ok := !res.firstProbe.IsZero() && !res.fullAt.IsZero() && res.fullAt.Sub(res.firstProbe) <= 2*time.Second
	checks = append(checks, check{"W8 recovery: every request answered fresh within 2 s of the breaker's first probe after Intercom heals", ok, recovery})
	return checks
}
