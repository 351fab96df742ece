package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/sources/phone"
)

func printRows(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "workload\tpath\trequests\terrors\tupstream calls/req\tSQL queries/req\tRedis round trips/req\tloader batches/req\tp50\tp99\treq/s\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t%s\t%.0f\t\n", r.workload, r.path, r.requests, r.errors,
			r.upstreamPerReq, r.sqlPerReq, r.redisPerReq, r.batchesPerReq, r.p50.Round(100*time.Microsecond), r.p99.Round(100*time.Microsecond), r.rps)
	}
	tw.Flush()
}

// printFloorsAndChecks prints the floors and the checks, and returns how
// many checks failed.
func (b *bench) printFloorsAndChecks(w io.Writer, rows []row) int {
	find := func(workload, path string) row {
		for _, r := range rows {
			if r.workload == workload && r.path == path {
				return r
			}
		}
		return row{}
	}
	// Contacts, then (in parallel) their companies and their histories,
	// where calls are found through the phone conversations: depth 3.
	floorW2 := 3 * b.opts.latency
	fmt.Fprintf(w, "Floors: W1 cold = 1 × %s = %s; W2 cold = %s × depth 3 (contacts → conversations → calls; companies, tickets, notes in parallel) = %s\n",
		b.opts.latency, b.opts.latency, b.opts.latency, floorW2)
	if rate, err := redisGetRate(b.opts.redisURL); err == nil {
		fmt.Fprintf(w, "redis-benchmark GET on this machine: %s requests/s\n", rate)
	} else {
		fmt.Fprintf(w, "redis-benchmark: not run (%v)\n", err)
	}
	w1warm := find("W1 caller lookup, c=1, warm", "real")
	w2cold := find("W2 dashboard (50 contacts), cold", "real")
	w2warm := find("W2 dashboard (50 contacts), warm", "real")
	w2naive := find("W2 dashboard (50 contacts), cold", "naive")
	w3 := find("W3 unknown callers", "real")
	w1cold := find("W1 caller lookup, c=1, cold", "real")
	w1warm32 := find("W1 caller lookup, c=32, warm", "real")
	floor32 := find("floor: "+floorQuery+", c=32", "real")
	w1redis := find("W1 caller lookup, c=1, Redis only, warm", "real")
	w4 := find(w4Storm, "real")
	coh := find(coherence, "real")
	// A search holds 100 spellings of numbers; a US number has 13.
	perSearch := 100 / len(phone.Variants("+12025560000"))
	// A check is printed when the workload it reads ran.
	var checks []check
	add := func(ran bool, name string, ok bool, got string) {
		if ran {
			checks = append(checks, check{name, ok, got})
		}
	}
	add(w1warm.requests > 0, "warm W1: zero upstream calls, at most 1 Redis round trip per lookup", w1warm.upstreamTotal == 0 && w1warm.redisPerReq <= 1,
		fmt.Sprintf("%d upstream, %.2f round trips", w1warm.upstreamTotal, w1warm.redisPerReq))
	add(w2cold.requests > 0, "cold W2 p50 within 1.5× its floor", w2cold.p50 <= floorW2*3/2, fmt.Sprintf("p50 %s, 1.5× floor %s", w2cold.p50.Round(time.Millisecond), floorW2*3/2))
	add(w2cold.requests > 0, "cold W2 upstream calls: 1 per batchable kind (and page) + 1 per unique company and per contact with notes (naive > 100)",
		w2cold.upstreamPerReq <= float64(b.w2Budget) && (w2naive.requests == 0 || w2naive.upstreamPerReq > 100),
		fmt.Sprintf("real %.0f of a budget of %d (%d unique companies, %d contacts with notes), naive %.0f",
			w2cold.upstreamPerReq, b.w2Budget, b.uniqueCompanies, b.withNotes, w2naive.upstreamPerReq))
	add(w2warm.requests > 0, "warm W2: zero upstream calls, at most 1 Redis round trip per loader batch", w2warm.upstreamTotal == 0 && w2warm.redisPerReq <= w2warm.batchesPerReq,
		fmt.Sprintf("%d upstream, %.2f round trips and %.2f loader batches per query", w2warm.upstreamTotal, w2warm.redisPerReq, w2warm.batchesPerReq))
	add(w3.requests > 0, "W3: at most 1 upstream call per distinct unknown number", w3.upstreamTotal <= b.opts.w3Numbers,
		fmt.Sprintf("%d calls for %d lookups of %d numbers", w3.upstreamTotal, w3.requests, b.opts.w3Numbers))
	add(w1warm.requests > 0, "warm W1, in-process hit: p50 ≤ 0.5 ms at c=1, and req/s at c=32 at least half the floor's", w1warm.p50 <= 500*time.Microsecond && w1warm32.rps >= floor32.rps/2,
		fmt.Sprintf("p50 %s; %.0f req/s against the floor's %.0f", w1warm.p50.Round(10*time.Microsecond), w1warm32.rps, floor32.rps))
	add(w1redis.requests > 0, "warm W1, Redis hit only: p50 ≤ 1.5 ms at c=1", w1redis.p50 <= 1500*time.Microsecond,
		fmt.Sprintf("p50 %s", w1redis.p50.Round(10*time.Microsecond)))
	add(w2warm.requests > 0, "warm W2: p50 ≤ 5 ms", w2warm.p50 <= 5*time.Millisecond, fmt.Sprintf("p50 %s", w2warm.p50.Round(100*time.Microsecond)))
	// Callers that ring together drift apart after the first wave, so
	// some searches go out before they are full: a quarter more.
	add(w4.requests > 0, fmt.Sprintf("W4: at most 1.25 searches per %d numbers (100 spellings a search, 13 a US number), p99 within 2× a single cold lookup", perSearch),
		w4.upstreamTotal <= (w4.requests+perSearch-1)/perSearch*5/4 && w4.p99 <= 2*w1cold.p50,
		fmt.Sprintf("%d searches for %d numbers; p50 %s, p99 %s against a cold lookup's %s", w4.upstreamTotal, w4.requests,
			w4.p50.Round(time.Millisecond), w4.p99.Round(time.Millisecond), w1cold.p50.Round(time.Millisecond)))
	add(coh.requests > 0, "coherence: a change on one instance is served by another within 1 s", coh.p99 <= time.Second,
		fmt.Sprintf("p50 %s, max %s over %d changes", coh.p50.Round(10*time.Microsecond), coh.p99.Round(10*time.Microsecond), coh.requests))
	if w5 := find(w5With, "real"); w5.requests > 0 {
		// The corpus is refused, but reading and refusing 200 KB documents
		// at one caller's full allowance takes a share of a core: W1's tail
		// may grow by that much, its median may not.
		alone := find(w5Alone, "real")
		checks = append(checks, check{"W5: W1 during the abuse corpus: zero errors, p50 within 1.25× (+0.5 ms) and p99 within 2.5× (+5 ms) of W1 alone; every abusive request refused as the corpus says",
			w5.errors == 0 && w5.p50 <= alone.p50*5/4+500*time.Microsecond && w5.p99 <= alone.p99*5/2+5*time.Millisecond && b.abuseUnexpected == 0,
			fmt.Sprintf("p50 %s alone, %s during; p99 %s alone, %s during; %d errors; %d abusive requests, %d answered otherwise than expected",
				alone.p50.Round(100*time.Microsecond), w5.p50.Round(100*time.Microsecond),
				alone.p99.Round(100*time.Microsecond), w5.p99.Round(100*time.Microsecond), w5.errors, b.abuseSent, b.abuseUnexpected)})
	}
	if up := find(w6Row("up", "W1 warm"), "real"); up.requests > 0 {
		for _, state := range w6States[1:] {
			var got []string
			ok := b.redisAwayNotes == ""
			for _, what := range []string{"W1 warm", "addNote"} {
				base, r := find(w6Row("up", what), "real"), find(w6Row(state, what), "real")
				ok = ok && r.requests > 0 && r.p50 <= base.p50+w6Timeout && r.p99 <= base.p99+w6Timeout
				got = append(got, fmt.Sprintf("%s p50 %s (up %s), p99 %s (up %s)", what, r.p50.Round(100*time.Microsecond),
					base.p50.Round(100*time.Microsecond), r.p99.Round(100*time.Microsecond), base.p99.Round(100*time.Microsecond)))
			}
			checks = append(checks, check{fmt.Sprintf("W6: Redis %s costs W1 warm and addNote at most REDIS_TIMEOUT (%s) more than Redis up, p50 and p99; every note created once", state, w6Timeout),
				ok, strings.Join(got, "; ") + b.redisAwayNotes})
		}
	}
	checks = append(checks, b.fleetChecks(w, find)...)
	checks = append(checks, b.costChecks(w, find)...)
	checks = append(checks, b.flakyChecks(w)...)
	checks = append(checks, b.customerDBChecks(find)...)
	checks = append(checks, b.sourcesChecks(find)...)
	checks = append(checks, b.callChecks(find)...)
	checks = append(checks, b.liveChecks(find)...)
	checks = append(checks, b.responseCacheChecks(find)...)
	fmt.Fprintln(w, "\nChecks:")
	failed := 0
	for _, c := range checks {
		mark := "ok  "
		if !c.ok {
			mark = "FAIL"
			failed++
		}
		fmt.Fprintf(w, "  %s %s (%s)\n", mark, c.name, c.got)
	}
	return failed
}

// check is one line of the checks: a target and whether the run met it.
type check struct {
	name string
	ok   bool
	got  string
}

var redisGetLine = regexp.MustCompile(`GET: ([0-9.]+) requests per second`)

// redisGetRate runs redis-benchmark's GET test against the benchmark's Redis.
func redisGetRate(redisURL string) (string, error) {
	bin, err := exec.LookPath("redis-benchmark")
	if err != nil {
		return "", errors.New("redis-benchmark is not installed")
	}
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return "", err
	}
	host, port, _ := net.SplitHostPort(opts.Addr)
	args := []string{"-h", host, "-p", port, "-t", "get", "-n", "100000", "-q"}
	if opts.Password != "" {
		args = append(args, "-a", opts.Password)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if m := redisGetLine.FindSubmatch(out); m != nil {
		return string(m[1]), nil
	}
	return "", fmt.Errorf("redis-benchmark: %v", err)
}
