// Command bench measures the real server binary:
//
//	go run ./cmd/bench
//
// It builds the server once, starts server processes against an Intercom
// emulator it runs in process (with upstream latency) and a real Redis, runs
// each workload on the naive path (loaders and cache off) and the real path,
// reads the servers' own counters from their /metrics, and prints one table
// and its checks. It exits non-zero when a check fails. The fleet workload
// also starts a private Redis Cluster (internal/redistest's, as the tests
// do) and a load balancer: HAProxy when it is installed, else a reverse proxy
// in this process.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/talkdesk-intercom/api/internal/redistest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// errChecksFailed makes the command exit non-zero when a target is missed.
var errChecksFailed = errors.New("benchmark checks failed")

type options struct {
	latency   time.Duration
	redisURL  string
	server    string
	w1        int
	w2Cold    int
	w2Warm    int
	w3        int
	w3Numbers int
	w4        int
	w5        int
	coherence int
	w6        int
	// The fleet workload.
	fleetConc      int
	fleetW1        int
	fleetW2Cold    int
	fleetW2Warm    int
	fleetBudgetFor time.Duration
	fleetLB        string
	// W8, a flaky Intercom.
	w8For      time.Duration
	w8Outage   time.Duration
	w8Recovery time.Duration
	// W7, one caller's whole cost budget beside another's lookups.
	w7For     time.Duration
	w7Workers int
	// The calls workload.
	callEvents  int
	callsOutage time.Duration
	// W9, live dashboards.
	w9Defer       int
	w9Subscribers []int
	// The response cache workload.
	rcWarm     int
	before     string
	cpuProfile string
	workloads  []string
	paths      []string
}

var (
	allWorkloads = []string{"floor", "w1", "w2", "w3", "w4", "w5", "w6", "coherence", "fleet", "w7", "w8", "w9", "sql", "sources", "calls", "respcache"}
	allPaths     = []string{"naive", "real"}
)

func parseFlags(args []string, getenv func(string) string, stdout, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the usage goes to stdout when asked for, to stderr with an error
	var o options
	var workloads, paths string
	fs.DurationVar(&o.latency, "latency", 50*time.Millisecond, "latency the emulator adds to every Intercom call")
	// Not the flag's default: -h would print a password the URL holds.
	fs.StringVar(&o.redisURL, "redis-url", "", "Redis the servers cache in (empty: $REDIS_URL; neither starts a private redis-server)")
	fs.StringVar(&o.server, "server", "", "server binary to measure; empty builds the module's server (go build .) into a temporary directory")
	fs.IntVar(&o.w1, "w1", 256, "caller lookups per W1 run (and { __typename } requests per floor run)")
	fs.IntVar(&o.w2Cold, "w2-cold", 10, "cold W2 dashboard queries (each on an empty cache)")
	fs.IntVar(&o.w2Warm, "w2-warm", 50, "warm W2 dashboard queries")
	fs.IntVar(&o.w3, "w3", 1000, "W3 unknown-caller lookups")
	fs.IntVar(&o.w3Numbers, "w3-numbers", 50, "distinct unknown numbers among the W3 lookups")
	fs.IntVar(&o.w4, "w4", 500, "distinct unknown numbers of the W4 ring storm (100 callers at once)")
	fs.IntVar(&o.coherence, "coherence", 20, "changes made on one instance and read on another (coherence row)")
	fs.IntVar(&o.w5, "w5", 1000, "W1 lookups measured alone and again while the abuse corpus is sent (W5)")
	fs.IntVar(&o.w6, "w6", 200, "W1 warm lookups and addNote mutations measured with Redis up, down and frozen (W6)")
	fs.IntVar(&o.fleetConc, "fleet-c", 32, "concurrency of the fleet's W1 and floor rows")
	fs.IntVar(&o.fleetW1, "fleet-w1", 256, "caller lookups per fleet W1 run (one replica on a Redis node, three on a Redis Cluster)")
	fs.IntVar(&o.fleetW2Cold, "fleet-w2-cold", 3, "cold W2 dashboards per fleet (each on a fresh fleet)")
	fs.IntVar(&o.fleetW2Warm, "fleet-w2-warm", 50, "warm W2 dashboards per fleet")
	fs.DurationVar(&o.fleetBudgetFor, "fleet-budget", 20*time.Second, "how long the fleet budget row sends cold lookups (from the start of a clock-aligned 10-second window) at three replicas sharing 100 Intercom calls a window")
	fs.StringVar(&o.fleetLB, "fleet-lb", lbAuto, "the fleet's load balancer: haproxy, go (a round-robin reverse proxy in this process) or auto (haproxy when it is on PATH)")
	fs.DurationVar(&o.w8For, "w8-for", 30*time.Second, "how long W8 (a flaky Intercom) runs its load at 50 % upstream 503s")
	fs.DurationVar(&o.w8Outage, "w8-outage", 30*time.Second, "how long W8 runs its load with every upstream answer a 503")
	fs.DurationVar(&o.w8Recovery, "w8-recovery", 20*time.Second, "how long W8 waits, once Intercom heals, for every request to be answered fresh")
	fs.IntVar(&o.rcWarm, "respcache-warm", 400, "warm W2 dashboards per row of the response cache workload (with and without it, at c=1 and c=8)")
	fs.StringVar(&o.before, "before", "e23d4a1", "git revision whose server the executor's CPU target is set against, built from the module's history and measured beside this code in turns (the code the issue measured at about 4 ms of CPU a warm W2; empty: against those 4 ms)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write to this file a CPU profile of the server serving warm W2 dashboards without the response cache (5 s at c=8, after that workload's rows; read it with go tool pprof -top FILE)")
	fs.DurationVar(&o.w7For, "w7-for", 10*time.Second, "how long W7 measures W1 warm alone, then again while another caller sends the costliest query at its full cost allowance")
	fs.IntVar(&o.w7Workers, "w7-workers", 100, "W7's costly caller's concurrent requests (MAX_CONCURRENT_REQUESTS_PER_CALLER's default)")
	fs.IntVar(&o.callEvents, "calls", 1000, "call events of the calls workload's acceptance row at c=32 and of its burst (a quarter as many calls)")
	fs.DurationVar(&o.callsOutage, "calls-outage", 5*time.Second, "how long Intercom answers 503 at the start of the calls workload's burst")
	fs.IntVar(&o.w9Defer, "w9-defer", 20, "cold deferred dashboards of W9 (each a caller of its own)")
	var subscribers string
	fs.StringVar(&subscribers, "w9-subscribers", "1000,10000", "WebSocket subscribers of one contact in each W9 fan-out row")
	fs.StringVar(&workloads, "workloads", strings.Join(allWorkloads, ","), "workloads to run (floor: { __typename } on W1's servers; w7: one caller's cost budget beside another's lookups; fleet: one replica on a Redis node and three on a private Redis Cluster behind a load balancer, and their shared Intercom budget; w8: a flaky Intercom behind a fault proxy; w9: live dashboards; sql: the SQL part of a caller lookup on the customer database; sources: W1 and W2 through caller(phone:) with Intercom alone and with the customer database beside it; calls: Talkdesk's call events; respcache: warm W2 with and without the response cache, and coherence with it)")
	fs.StringVar(&paths, "paths", strings.Join(allPaths, ","), "paths to run: naive (loaders and cache off), real")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: go run ./cmd/bench [flags]\n\n"+
			"Builds the server, starts it against an in-process Intercom emulator and a real Redis, and measures\n"+
			"each workload on the naive and the real path. Exits non-zero when a check fails.\n"+
			"LOADER_WAIT, LOADER_MAX_BATCH and FETCH_CONCURRENCY, when set, are passed to the servers.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return o, err
	}
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err == nil {
		if o.workloads, err = list("-workloads", workloads, allWorkloads); err == nil {
			o.paths, err = list("-paths", paths, allPaths)
		}
	}
	if err == nil {
		for _, v := range strings.Split(subscribers, ",") {
			n, perr := strconv.Atoi(strings.TrimSpace(v))
			if perr != nil || n < 1 {
				err = fmt.Errorf("-w9-subscribers: %q is not a positive count", v)
				break
			}
			o.w9Subscribers = append(o.w9Subscribers, n)
		}
	}
	if err == nil && !slices.Contains(lbKinds, o.fleetLB) {
		err = fmt.Errorf("-fleet-lb: unknown %q (known: %s)", o.fleetLB, strings.Join(lbKinds, ", "))
	}
	if err == nil && (o.w7For <= 0 || o.w7Workers < 1) {
		err = errors.New("-w7-for and -w7-workers must be positive")
	}
	if err == nil && (o.w8For <= 0 || o.w8Outage <= 0 || o.w8Recovery <= 0) {
		err = errors.New("-w8-for, -w8-outage and -w8-recovery must be positive")
	}
	if err == nil && (o.callEvents < 4 || o.callsOutage <= 0) {
		err = errors.New("-calls must be at least 4 and -calls-outage positive")
	}
	if err == nil && (o.fleetConc < 1 || o.fleetW1 < 1 || o.fleetW2Cold < 1 || o.fleetW2Warm < 1 || o.fleetBudgetFor <= 0) {
		err = errors.New("-fleet-c, -fleet-w1, -fleet-w2-cold, -fleet-w2-warm and -fleet-budget must be positive")
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		fs.SetOutput(stderr)
		fs.Usage()
		return o, err
	}
	o.redisURL = cmp.Or(o.redisURL, getenv("REDIS_URL"))
	return o, nil
}

// list splits a comma-separated flag and checks each item.
func list(name, value string, known []string) ([]string, error) {
	var out []string
	for _, v := range strings.Split(value, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		if !slices.Contains(known, v) {
			return nil, fmt.Errorf("%s: unknown %q (known: %s)", name, v, strings.Join(known, ", "))
		}
		out = append(out, v)
	}
	return out, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	if o.redisURL == "" && slices.Contains(o.paths, "real") {
		rs, err := redistest.Launch()
		if err != nil {
			return fmt.Errorf("the benchmark needs a real Redis: set REDIS_URL or install redis-server (%w)", err)
		}
		defer rs.Close()
		o.redisURL = redisURL(rs)
	}
	b := &bench{opts: o, getenv: getenv, server: o.server, out: stdout}
	if b.server == "" {
		dir, err := os.MkdirTemp("", "bench-server-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		t0 := time.Now()
		if b.server, err = buildServer(ctx, dir); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Built the server in %s.\n", time.Since(t0).Round(100*time.Millisecond))
	}
	redisShown := "none (naive path only)"
	if o.redisURL != "" {
		redisShown = redactURL(o.redisURL)
	}
	fmt.Fprintf(stdout, "Benchmark: emulator latency %s, Redis %s, %s\n\n", o.latency, redisShown, time.Now().UTC().Format(time.RFC3339))
	rows, err := b.run(ctx)
	if err != nil {
		return err
	}
	printRows(stdout, rows)
	fmt.Fprintln(stdout)
	if failed := b.printFloorsAndChecks(stdout, rows); failed > 0 {
		return fmt.Errorf("%w: %d of them", errChecksFailed, failed)
	}
	return nil
}

// redisURL is REDIS_URL for a private redis-server.
func redisURL(s *redistest.Server) string { return "redis://" + s.Addr + "/0" }

// redactURL hides a password in a Redis URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(a Redis URL that does not parse)"
	}
	return u.Redacted()
}
