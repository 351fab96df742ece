package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/talkdesk-intercom/api/internal/haproxy"
	"github.com/talkdesk-intercom/api/internal/process"
	"github.com/talkdesk-intercom/api/internal/redistest"
)

// The benchmark keeps working against the real server binary: a tiny run of
// every workload on both paths. Its timings are read by people, never
// asserted here: a run this small under the race detector may miss its
// targets, which makes the command exit non-zero but is no test failure.
func TestBenchmarkRuns(t *testing.T) {
	var out bytes.Buffer
	args := []string{"-latency", "1ms", "-w1", "8", "-w2-cold", "2", "-w2-warm", "2", "-w3", "20", "-w3-numbers", "5", "-w4", "30", "-coherence", "2", "-w5", "20", "-w6", "5",
		"-fleet-w1", "8", "-fleet-w2-cold", "1", "-fleet-w2-warm", "2", "-fleet-budget", "1s",
		"-w8-for", "1s", "-w8-outage", "1s", "-w8-recovery", "2s", "-w7-for", "500ms", "-calls", "40", "-calls-outage", "500ms", "-w9-defer", "2", "-w9-subscribers", "5", "-respcache-warm", "4",
		"-redis-url", "redis://" + redistest.Addr(t)}
	// No -server: the command builds the module's server itself.
	getenv := func(string) string { return "" }
	if err := run(context.Background(), args, getenv, &out, io.Discard); err != nil && !errors.Is(err, errChecksFailed) {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	table := out.String()
	for _, path := range []string{"naive", "real"} {
		for _, workload := range []string{
			"floor: { __typename }, c=1", "floor: { __typename }, c=32",
			"W1 caller lookup, c=1, cold", "W1 caller lookup, c=1, warm",
			"W1 caller lookup, c=32, cold", "W1 caller lookup, c=32, warm",
			"W2 dashboard (50 contacts), cold", "W2 dashboard (50 contacts), warm",
			"W3 unknown callers", w4Storm,
		} {
			if cells(table, workload, path) == nil {
				t.Errorf("no row %q on the %s path:\n%s", workload, path, table)
			}
		}
		if path == "real" {
			for _, state := range w6States {
				for _, what := range []string{"W1 warm", "addNote"} {
					if cells(table, w6Row(state, what), path) == nil {
						t.Errorf("no row %q:\n%s", w6Row(state, what), table)
					}
				}
			}
		}
	}
	for _, workload := range []string{w5Alone, w5With, coherence, "W1 caller lookup, c=1, Redis only, warm", callsAccept1, callsAccept, callsRecord, callsBurst, w9DeferFirst, w9DeferLast, w9Fanout(5),
		rcRow(1, false), rcRow(8, false), rcRow(1, true), rcRow(8, true), rcRedisRow(1), rcRedisRow(8), rcCoherence,
		srcW1Row(srcAlone, "cold"), srcW1Row(srcBoth, "cold"), srcW1Row(srcAlone, "warm"), srcW1Row(srcBoth, "warm"),
		srcW2Row(srcAlone, "cold"), srcW2Row(srcBoth, "cold"), srcW2Row(srcAlone, "warm"), srcW2Row(srcBoth, "warm"),
		sqlSmall, sqlMillion, sqlFloor} {
		if cells(table, workload, "real") == nil {
			t.Errorf("no row %q:\n%s", workload, table)
		}
	}
	// The code the executor's target is set against, built from the
	// module's history beside this code; a checkout without that history
	// (a shallow clone) says so in the check instead.
	if exec.Command("git", "cat-file", "-e", "e23d4a1^{commit}").Run() == nil {
		for _, conc := range []int{1, 8} {
			if cells(table, rcRevisionRow(conc, "e23d4a1"), "real") == nil {
				t.Errorf("no row %q:\n%s", rcRevisionRow(conc, "e23d4a1"), table)
			}
		}
	} else if !strings.Contains(table, "the code of e23d4a1 could not be measured here") {
		t.Errorf("without e23d4a1 in the history, the check does not say it was not measured:\n%s", table)
	}
	// The fleet rows, behind HAProxy when it is installed.
	kind, err := chooseBalancer(lbAuto)
	if err != nil {
		t.Fatal(err)
	}
	lb := balancerName(kind)
	for _, replicas := range []int{1, 3} {
		for _, workload := range []string{
			fleetW1(lb, replicas, 32) + ", cold", fleetW1(lb, replicas, 32) + ", warm", fleetW1(lb, replicas, 32) + ", Redis only, warm",
			fleetFloor(lb, replicas, 32), fleetW2(lb, replicas) + ", cold", fleetW2(lb, replicas) + ", warm",
		} {
			if cells(table, workload, "real") == nil {
				t.Errorf("no row %q:\n%s", workload, table)
			}
		}
	}
	if cells(table, fleetBudgetRow(lb, fleetBudgetConc), "real") == nil || !strings.Contains(table, "fleet budget: at most 100 Intercom calls") {
		t.Errorf("no fleet budget row or check:\n%s", table)
	}
	for _, phase := range []string{w8PhaseHealthy, w8PhaseHalf, w8PhaseOutage, w8PhaseRecovery} {
		if cells(table, w8Row(phase, w8Warm), "real") == nil {
			t.Errorf("no row %q:\n%s", w8Row(phase, w8Warm), table)
		}
	}
	if !strings.Contains(table, "W8 recovery:") {
		t.Errorf("no W8 recovery check:\n%s", table)
	}
	if !strings.Contains(table, "Checks:") {
		t.Errorf("no checks:\n%s", table)
	}
	// The counters come from the servers' /metrics: a warm lookup on the
	// real path with the in-process level off reads Redis in one batch, so
	// both columns count something unless a metric was renamed.
	if c := cells(table, "W1 caller lookup, c=1, Redis only, warm", "real"); c != nil {
		for _, col := range []int{colRedis, colBatches} {
			if v, err := strconv.ParseFloat(c[col], 64); err != nil || v == 0 {
				t.Errorf("warm W1 on the real path: column %d is %q, want a count above zero", col, c[col])
			}
		}
	}
}

// Columns of the table, as printRows writes them.
const (
	colRedis   = 6
	colBatches = 7
)

// cells returns the cells of the table's row for a workload and a path.
func cells(table, workload, path string) []string {
	for _, line := range strings.Split(table, "\n") {
		c := strings.Split(line, "|")
		for i := range c {
			c[i] = strings.TrimSpace(c[i])
		}
		if len(c) > colBatches && c[0] == workload && c[1] == path {
			return c
		}
	}
	return nil
}

func TestUnknownWorkload(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-workloads", "w1,w99"}, func(string) string { return "" }, io.Discard, &stderr)
	if err == nil || !strings.Contains(stderr.String(), `unknown "w99"`) {
		t.Fatalf("got %v and %q, want an unknown workload on stderr", err, stderr.String())
	}
}

func TestUnknownLoadBalancer(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-fleet-lb", "nginx"}, func(string) string { return "" }, io.Discard, &stderr)
	if err == nil || !strings.Contains(stderr.String(), `-fleet-lb: unknown "nginx"`) {
		t.Fatalf("got %v and %q, want an unknown load balancer on stderr", err, stderr.String())
	}
}

// Each load balancer sends requests round the backends, and the Go proxy
// sends a request whose backend is down to the next one.
func TestBalancers(t *testing.T) {
	kinds := []string{lbGo}
	if _, err := exec.LookPath("haproxy"); err == nil {
		kinds = append(kinds, lbHAProxy)
	}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			if kind == lbHAProxy {
				haproxy.ForTest(t)
			}
			var hits [3]atomic.Int64
			var urls []string
			for i := range hits {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path != "/healthz" {
						hits[i].Add(1)
					}
					_, _ = io.WriteString(w, `{"status":"ok"}`)
				}))
				t.Cleanup(srv.Close)
				urls = append(urls, srv.URL)
			}
			lb, err := startBalancer(context.Background(), kind, urls)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(lb.close)
			post := func() int {
				resp, err := benchClient.Post(lb.url+"/graphql", "application/json", strings.NewReader(`{"query":"{ __typename }"}`))
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode
			}
			for range 9 {
				if code := post(); code != http.StatusOK {
					t.Fatalf("HTTP %d through %s", code, lb.name)
				}
			}
			for i := range hits {
				if n := hits[i].Load(); n != 3 {
					t.Errorf("backend %d got %d of 9 requests, want 3 (round robin)", i, n)
				}
			}
			if kind != lbGo {
				return // HAProxy's redispatch waits for its retries: HAProxy's own business
			}
			port, err := process.FreePort() // nothing listens there
			if err != nil {
				t.Fatal(err)
			}
			lb.close()
			lb, err = startBalancer(context.Background(), kind, []string{urls[0], "http://127.0.0.1:" + strconv.Itoa(port), urls[2]})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(lb.close)
			for range 6 {
				if code := post(); code != http.StatusOK {
					t.Errorf("HTTP %d with a backend down, want every request sent to another", code)
				}
			}
		})
	}
}
