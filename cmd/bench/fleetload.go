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
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources"
)

// The fleet workload: W1 and W2 on one replica on one Redis node, and on
// three replicas on a private Redis Cluster of three masters with a replica
// each, both behind a load balancer; then the three replicas' shared Intercom
// budget under a cold load that wants more than it.

// fleetBudgetPerMinute is INTERCOM_RATE_LIMIT of the budget row: 100 calls
// a 10-second window for the whole fleet.
const fleetBudgetPerMinute = 600

// fleetTopology names a topology's rows: replicas behind lb, on a Redis node
// (one replica) or on the Cluster.
func fleetTopology(lb string, replicas int) string {
	if replicas == 1 {
		return "fleet: 1 replica on a Redis node, " + lb
	}
	return fmt.Sprintf("fleet: %d replicas on a Redis Cluster (3+3), %s", replicas, lb)
}

func fleetW1(lb string, replicas, conc int) string {
	return fmt.Sprintf("%s: W1 caller lookup, c=%d", fleetTopology(lb, replicas), conc)
}

func fleetW2(lb string, replicas int) string {
	return fleetTopology(lb, replicas) + ": " + w2Dashboard
}

func fleetFloor(lb string, replicas, conc int) string {
	return fmt.Sprintf("%s: floor %s, c=%d", fleetTopology(lb, replicas), floorQuery, conc)
}

func fleetBudgetRow(lb string, conc int) string {
	return fmt.Sprintf("fleet budget: 3 replicas on a Redis Cluster (3+3), %s, %d/min: W1 cold, c=%d", lb, fleetBudgetPerMinute, conc)
}

// fleetBudgetConc is how many clients send the budget row's cold lookups.
const fleetBudgetConc = 8

// fleetBudget is what the budget row saw, for its check.
type fleetBudget struct {
	perWindow    int            // the budget of a window
	loadStart    time.Time      // the start of the load's first window
	startup      int            // calls in the windows before it: the replicas' start-up
	startupCalls map[string]int // by endpoint
	windows      []budgetWindow // from loadStart on, oldest first
	refused      int            // lookups answered RATE_LIMITED
	otherErrs    int            // lookups answered another error (or none at all)
	firstErr     string
}

type budgetWindow struct {
	start          time.Time
	calls, refused int
}

func (fb *fleetBudget) max() int {
	m := 0
	for _, w := range fb.windows {
		m = max(m, w.calls)
	}
	return m
}

// refusedWindows is how many windows refused lookups: where the load wanted
// more than the budget.
func (fb *fleetBudget) refusedWindows() int {
	n := 0
	for _, w := range fb.windows {
		if w.refused > 0 {
			n++
		}
	}
	return n
}

func (b *bench) runFleet(ctx context.Context, add func(row, error) error) error {
	kind, err := chooseBalancer(b.opts.fleetLB)
	if err != nil {
		return err
	}
	b.lbName = balancerName(kind)
	if kind == lbHAProxy {
		if out, err := exec.Command("haproxy", "-v").Output(); err == nil {
			b.lbVersion, _, _ = strings.Cut(string(out), "\n")
		}
	}
	t0 := time.Now()
	defer func() { b.fleetTook = time.Since(t0) }()
	cluster, err := redistest.LaunchCluster()
	if err != nil {
		return fmt.Errorf("the fleet workload needs a private Redis Cluster: %w", err)
	}
	defer cluster.Close()
	b.clusterStart = time.Since(t0)
	clusterURL := redistest.ClusterURL(cluster.Addrs[:3]) // the masters are the seeds
	for _, replicas := range []int{1, 3} {
		settings := map[string]string{"REDIS_URL": b.opts.redisURL}
		if replicas > 1 {
			settings = map[string]string{"REDIS_URL": clusterURL, "FLEET_REPLICAS": strconv.Itoa(replicas)}
		}
		if err := b.runFleetTopology(ctx, kind, replicas, settings, add); err != nil {
			return err
		}
	}
	return b.runFleetBudget(ctx, kind, clusterURL, add)
}

// startFleetBehind starts n replicas with the real path's settings, then
// extra, behind a load balancer of kind.
func (b *bench) startFleetBehind(ctx context.Context, kind string, n int, extra map[string]string) (*fleet, error) {
	f, err := b.startFleet(ctx, n, "real", extra)
	if err != nil {
		return nil, err
	}
	if err := f.startBehind(ctx, kind); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

// runFleetTopology measures W1 cold and warm (with the in-process level and
// Redis only), the floor and W2 cold and warm, through the load balancer.
func (b *bench) runFleetTopology(ctx context.Context, kind string, replicas int, settings map[string]string, add func(row, error) error) error {
	conc, n := b.opts.fleetConc, b.opts.fleetW1
	start := func(extra map[string]string) (*fleet, error) {
		s := maps.Clone(settings)
		maps.Copy(s, extra)
		return b.startFleetBehind(ctx, kind, replicas, s)
	}
	f, err := start(nil)
	if err != nil {
		return err
	}
	w1 := fleetW1(b.lbName, replicas, conc)
	err = b.coldThenWarm(f, w1, "real", conc, n, add)
	if err == nil {
		err = add(f.measure(fleetFloor(b.lbName, replicas, conc), "real", warmRounds*n, conc, func(i int) error {
			return f.instance(i).query(floorQuery, nil)
		}))
	}
	f.close()
	if err != nil {
		return err
	}
	redisOnly, err := start(map[string]string{"CACHE_LOCAL_ENABLED": "false", "RESPONSE_CACHE_ENABLED": "false"})
	if err != nil {
		return err
	}
	// Its cold row would repeat the one above: only the warm one is kept.
	warmOnly := func(r row, err error) error {
		if err == nil && strings.HasSuffix(r.workload, ", cold") {
			return nil
		}
		return add(r, err)
	}
	err = b.coldThenWarm(redisOnly, w1+", Redis only", "real", conc, n, warmOnly)
	redisOnly.close()
	if err != nil {
		return err
	}
	return b.dashboard(fleetW2(b.lbName, replicas), "real", b.opts.fleetW2Cold, b.opts.fleetW2Warm,
		func() (*fleet, error) { return start(nil) }, add)
}

// runFleetBudget sends cold caller lookups (numbers no one looked up before)
// through the load balancer to three replicas that share a small Intercom
// budget in the Cluster, for longer than two windows and more than the
// budget allows, from the start of a clock-aligned 10-second window, and
// counts the calls the emulator receives in each window, as the fleet counts
// them. A lookup refused
// RATE_LIMITED backs off 50 ms, as a client told so does.
func (b *bench) runFleetBudget(ctx context.Context, kind, clusterURL string, add func(row, error) error) error {
	em, err := b.startEmulator()
	if err != nil {
		return err
	}
	ws := em.Workspace
	fb := &fleetBudget{perWindow: fleetBudgetPerMinute / 6}
	b.fleetBudget = fb
	// The emulator's calls by window, counted from before the replicas
	// start (their start-up calls count too). A count is given to the
	// window in which it is read: late, never early, so that a window's
	// first calls are never given to the one before.
	var windowsMu sync.Mutex
	calls, refused := map[int64]int{}, map[int64]int{}
	window := func(t time.Time) int64 { return t.Truncate(10 * time.Second).Unix() }
	stopCount := make(chan struct{})
	var counting sync.WaitGroup
	stopCounting := sync.OnceFunc(func() { close(stopCount); counting.Wait() })
	defer stopCounting()
	counting.Go(func() {
		last := 0
		for {
			select {
			case <-stopCount:
				return
			case <-time.After(5 * time.Millisecond):
			}
			now := ws.TotalCalls()
			windowsMu.Lock()
			calls[window(time.Now())] += now - last
			windowsMu.Unlock()
			last = now
		}
	})
	f, err := b.startFleetOn(ctx, em, 3, "real", map[string]string{"REDIS_URL": clusterURL, "FLEET_REPLICAS": "3",
		"INTERCOM_RATE_LIMIT": strconv.Itoa(fleetBudgetPerMinute), "INTERCOM_CALLER_SHARE": "100"})
	if err != nil {
		em.Close()
		return err
	}
	defer f.close()
	if err := f.startBehind(ctx, kind); err != nil {
		return err
	}

	before, err := f.counters()
	if err != nil {
		return err
	}
	// The load starts with a window, so that the replicas' start-up calls
	// (GET /me) are in windows of their own, reported apart.
	start := time.Now().Truncate(10 * time.Second).Add(10 * time.Second)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Until(start)):
	}
	fb.loadStart, fb.startupCalls = start, ws.CallCounts()
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	deadline := start.Add(b.opts.fleetBudgetFor)
	var wg sync.WaitGroup
	for range fleetBudgetConc {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(deadline) && ctx.Err() == nil {
				// 202-557-0000 on: numbers of no seeded contact, each
				// looked up once.
				number := fmt.Sprintf("+1202%07d", 5_570_000+next.Add(1)-1)
				t0 := time.Now()
				code, err := f.front.lookupCode(number)
				mine = append(mine, time.Since(t0))
				switch {
				case err == nil && code == "":
				case err == nil && code == sources.ERateLimited:
					windowsMu.Lock()
					refused[window(time.Now())]++
					windowsMu.Unlock()
					mu.Lock()
					fb.refused++
					mu.Unlock()
					time.Sleep(50 * time.Millisecond)
				default:
					mu.Lock()
					fb.otherErrs++
					if fb.firstErr == "" {
						fb.firstErr = cmp.Or(code, fmt.Sprint(err))
					}
					mu.Unlock()
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	wall := time.Since(start)
	if err := ctx.Err(); err != nil {
		return err
	}
	after, err := f.counters()
	if err != nil {
		return err
	}
	time.Sleep(50 * time.Millisecond) // the counter's last reading
	stopCounting()
	for _, w := range slices.Sorted(maps.Keys(calls)) {
		if t := time.Unix(w, 0); t.Before(fb.loadStart) {
			fb.startup += calls[w]
		} else {
			fb.windows = append(fb.windows, budgetWindow{start: t, calls: calls[w], refused: refused[w]})
		}
	}
	slices.Sort(lat)
	n := len(lat)
	if n == 0 {
		return fmt.Errorf("fleet budget: no lookup was sent in %s", b.opts.fleetBudgetFor)
	}
	up := after.upstream - before.upstream
	return add(row{
		workload: fleetBudgetRow(b.lbName, fleetBudgetConc), path: "real", requests: n, errors: fb.refused + fb.otherErrs,
		upstreamPerReq: float64(up) / float64(n), redisPerReq: (after.redisRoundTrips - before.redisRoundTrips) / float64(n),
		batchesPerReq: float64(after.loaderBatches-before.loaderBatches) / float64(n),
		p50:           lat[n/2], p99: lat[min(n-1, n*99/100)], rps: float64(n) / wall.Seconds(), upstreamTotal: up,
	}, nil)
}

// lookupCode sends one caller lookup and returns the code of its first
// error ("" when answered); err is for a request that got no GraphQL answer.
func (in *instance) lookupCode(number string) (string, error) {
	body, _ := json.Marshal(map[string]any{"query": callerQuery, "variables": map[string]any{"p": number}})
	resp, err := benchClient.Post(in.url+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Data   json.RawMessage
		Errors []struct {
			Extensions struct{ Code string } `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("HTTP %d: %w", resp.StatusCode, err)
	}
	if len(out.Errors) > 0 {
		return cmp.Or(out.Errors[0].Extensions.Code, "no code"), nil
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return "", nil
}

// fleetChecks prints what the fleet rows do not show (the load balancer, the
// budget's windows) and returns the fleet's checks; none when the fleet
// workload did not run.
func (b *bench) fleetChecks(w io.Writer, find func(workload, path string) row) []check {
	if b.lbName == "" {
		return nil
	}
	lb, conc := b.lbName, b.opts.fleetConc
	one, three := find(fleetW1(lb, 1, conc)+", warm", "real"), find(fleetW1(lb, 3, conc)+", warm", "real")
	oneRedis, threeRedis := find(fleetW1(lb, 1, conc)+", Redis only, warm", "real"), find(fleetW1(lb, 3, conc)+", Redis only, warm", "real")
	oneW2Cold, threeW2Cold := find(fleetW2(lb, 1)+", cold", "real"), find(fleetW2(lb, 3)+", cold", "real")
	threeW2Warm := find(fleetW2(lb, 3)+", warm", "real")
	shown := lb
	if b.lbVersion != "" {
		shown = b.lbVersion
	}
	fmt.Fprintf(w, "Fleet (%s in all): load balancer %s; the Redis Cluster (3 masters, 3 replicas) started in %s. Warm W1 at c=%d through the balancer: "+
		"1 replica %.0f req/s, 3 replicas %.0f req/s (all of them on this machine's %d cores)\n",
		b.fleetTook.Round(time.Second), shown, b.clusterStart.Round(100*time.Millisecond), conc, one.rps, three.rps, runtime.NumCPU())
	var checks []check
	checks = append(checks,
		check{"fleet: warm W1 through the load balancer: zero upstream calls (1 replica on a Redis node, 3 on the Cluster; in process and Redis only)",
			one.requests > 0 && three.requests > 0 && one.upstreamTotal+three.upstreamTotal+oneRedis.upstreamTotal+threeRedis.upstreamTotal == 0,
			fmt.Sprintf("1 replica %d and %d, 3 replicas %d and %d", one.upstreamTotal, oneRedis.upstreamTotal, three.upstreamTotal, threeRedis.upstreamTotal)},
		check{"fleet: warm W1 on the Redis Cluster: at most 1 Redis round trip per lookup (in process and Redis only)",
			three.requests > 0 && threeRedis.requests > 0 && three.redisPerReq <= 1 && threeRedis.redisPerReq <= 1,
			fmt.Sprintf("in process %.2f, Redis only %.2f; 1 replica on a node: %.2f and %.2f", three.redisPerReq, threeRedis.redisPerReq, one.redisPerReq, oneRedis.redisPerReq)},
		check{"fleet: W2 on the Redis Cluster: cold within the W2 budget of upstream calls, warm zero",
			threeW2Cold.requests > 0 && threeW2Cold.upstreamPerReq <= float64(b.w2Budget) && threeW2Warm.requests > 0 && threeW2Warm.upstreamTotal == 0,
			fmt.Sprintf("cold %.0f of %d (1 replica on a node: %.0f), warm %d", threeW2Cold.upstreamPerReq, b.w2Budget, oneW2Cold.upstreamPerReq, threeW2Warm.upstreamTotal)},
	)
	if fb := b.fleetBudget; fb != nil {
		var ws []string
		for _, win := range fb.windows {
			ws = append(ws, fmt.Sprintf("%s %d calls (%d lookups refused)", win.start.Format("15:04:05"), win.calls, win.refused))
		}
		var startup []string
		for _, e := range slices.Sorted(maps.Keys(fb.startupCalls)) {
			startup = append(startup, fmt.Sprintf("%s ×%d", e, fb.startupCalls[e]))
		}
		fmt.Fprintf(w, "Fleet budget: 3 replicas, INTERCOM_RATE_LIMIT=%d/min = %d calls a 10-second window for the fleet; the emulator's calls by window: %s; "+
			"before the load, in windows of their own: %d calls of the replicas' start-up (%s)\n",
			fleetBudgetPerMinute, fb.perWindow, strings.Join(ws, ", "), fb.startup, strings.Join(startup, ", "))
		got := fmt.Sprintf("max %d of %d; refused in %d windows (%d lookups); %d other errors", fb.max(), fb.perWindow, fb.refusedWindows(), fb.refused, fb.otherErrs)
		if fb.firstErr != "" {
			got += " (first: " + fb.firstErr + ")"
		}
		// A load that never outgrew the budget would prove nothing.
		checks = append(checks, check{fmt.Sprintf("fleet budget: at most %d Intercom calls in any clock-aligned 10-second window, under a cold load refused RATE_LIMITED in 2 windows or more; no other error", fb.perWindow),
			fb.max() <= fb.perWindow && fb.refusedWindows() >= 2 && fb.otherErrs == 0, got})
	}
	return checks
}
