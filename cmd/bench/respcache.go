package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/talkdesk-intercom/api/internal/loadtest"
)

// The response cache workload: warm W2 dashboards with the response cache
// and without it, at c=1 and c=8, with the server's CPU per request (from
// its own process_cpu_seconds_total) and the cache's hit ratio; and how
// long after a change both replicas of a fleet with the cache serve it.

func rcRow(conc int, on bool) string {
	state := "off"
	if on {
		state = "on"
	}
	return fmt.Sprintf("W2 warm, c=%d, response cache %s", conc, state)
}

// rcRedisRow is a warm W2 row of a replica that keeps no answer in process
// (RESPONSE_CACHE_MAX_BYTES=0): every answer comes from the Redis level.
func rcRedisRow(conc int) string {
	return fmt.Sprintf("W2 warm, c=%d, response cache from Redis", conc)
}

const rcCoherence = "coherence, response cache on: change on A, both A and B serve it (ms)"

// rcStats are what a response cache row measures beyond the table's columns.
type rcStats struct {
	cpuPerReq    time.Duration
	allocsPerReq float64 // heap allocations (the Go runtime's count), exact where CPU is noisy
	hitRatio     float64
}

// serverCounters sums, over f's server processes, a counter of /metrics
// (by label value when label is set).
func (f *fleet) serverCounter(name, label, value string) (float64, error) {
	total := 0.0
	for _, in := range f.instances {
		families, err := in.scrape()
		if err != nil {
			return 0, err
		}
		mf := families[name]
		if mf == nil {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" {
				match := false
				for _, l := range m.GetLabel() {
					match = match || (l.GetName() == label && l.GetValue() == value)
				}
				if !match {
					continue
				}
			}
			total += m.GetCounter().GetValue()
		}
	}
	return total, nil
}

func (b *bench) runResponseCache(ctx context.Context, add func(row, error) error) (err error) {
	b.rc = map[string]rcStats{}
	for _, mode := range []struct {
		settings map[string]string
		name     func(conc int) string
		hits     string // the counter of hits (and misses) of the level asked
	}{
		{map[string]string{"RESPONSE_CACHE_ENABLED": "false"}, func(c int) string { return rcRow(c, false) }, "response_cache_total"},
		{map[string]string{"RESPONSE_CACHE_ENABLED": "true"}, func(c int) string { return rcRow(c, true) }, "response_cache_total"},
		{map[string]string{"RESPONSE_CACHE_ENABLED": "true", "RESPONSE_CACHE_MAX_BYTES": "0"}, rcRedisRow, "response_cache_redis_total"},
	} {
		profile := b.opts.cpuProfile != "" && mode.settings["RESPONSE_CACHE_ENABLED"] == "false"
		settings := mode.settings
		if profile {
			settings = maps.Clone(settings)
			if settings["DEBUG_ADDR"], err = freeLoopbackAddr(); err != nil {
				return err
			}
		}
		f, err := b.startFleet(ctx, 1, "real", settings)
		if err != nil {
			return err
		}
		err = b.measureResponseCache(f, mode.name, mode.hits, add)
		if err == nil && profile {
			err = b.profileDashboards(f, "http://"+settings["DEBUG_ADDR"])
		}
		f.close()
		if err != nil {
			return err
		}
	}
	return b.responseCacheCoherence(ctx, add)
}

func (b *bench) measureResponseCache(f *fleet, name func(conc int) string, hitCounter string, add func(row, error) error) error {
	ids := b.dashboardIDs(f.em.Workspace)
	dashboard := func(i int) error { return f.instance(i).query(dashboardQuery, map[string]any{"ids": ids}) }
	// Warm: the entity cache first, then (a request later, once the
	// workspace id is known) the answer.
	for i := range 3 {
		if err := dashboard(i); err != nil {
			return err
		}
	}
	for _, conc := range []int{1, 8} {
		cpu0, err := f.serverCounter("process_cpu_seconds_total", "", "")
		if err != nil {
			return err
		}
		hits0, _ := f.serverCounter(hitCounter, "result", "hit")
		miss0, _ := f.serverCounter(hitCounter, "result", "miss")
		allocs0, _ := f.serverCounter("go_memstats_mallocs_total", "", "")
		r, err := f.measure(name(conc), "real", b.opts.rcWarm, conc, dashboard)
		if err := add(r, err); err != nil {
			return err
		}
		cpu1, err := f.serverCounter("process_cpu_seconds_total", "", "")
		if err != nil {
			return err
		}
		hits1, _ := f.serverCounter(hitCounter, "result", "hit")
		miss1, _ := f.serverCounter(hitCounter, "result", "miss")
		allocs1, _ := f.serverCounter("go_memstats_mallocs_total", "", "")
		s := rcStats{
			cpuPerReq:    time.Duration((cpu1 - cpu0) / float64(r.requests) * float64(time.Second)),
			allocsPerReq: (allocs1 - allocs0) / float64(r.requests),
		}
		if asked := (hits1 - hits0) + (miss1 - miss0); asked > 0 {
			s.hitRatio = (hits1 - hits0) / asked
		}
		b.rc[name(conc)] = s
	}
	return nil
}

// profileDashboards writes -cpuprofile: the server's CPU profile over 5 s
// of warm W2 dashboards at c=8, taken from its DEBUG_ADDR listener.
func (b *bench) profileDashboards(f *fleet, debugURL string) error {
	const seconds = 5
	ids := b.dashboardIDs(f.em.Workspace)
	stop := loadtest.Run(8, func(int, int) { _ = f.instance(0).query(dashboardQuery, map[string]any{"ids": ids}) })
	defer stop()
	resp, err := benchClient.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", debugURL, seconds))
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("cpu profile: HTTP %d", resp.StatusCode)
	}
	out, err := os.Create(b.opts.cpuProfile)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// freeLoopbackAddr is a loopback address with a port free a moment ago.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// responseCacheCoherence measures, on two replicas with the response cache,
// how long after a change acknowledged by A both A and B serve it, each
// having served the old answer from its response cache just before.
func (b *bench) responseCacheCoherence(ctx context.Context, add func(row, error) error) error {
	f, err := b.startFleet(ctx, 2, "real", map[string]string{"RESPONSE_CACHE_ENABLED": "true"})
	if err != nil {
		return err
	}
	defer f.close()
	a, bb := f.instance(0), f.instance(1)
	contacts := f.em.Workspace.Contacts()
	n := b.opts.coherence
	delays := make([]time.Duration, n)
	hits0, _ := f.serverCounter("response_cache_total", "result", "hit")
	for i := range n {
		id := contacts[i%len(contacts)].ID
		for range 3 { // both hold the answer
			for _, in := range []*instance{a, bb} {
				if _, err := in.queryData(coherenceRead, map[string]any{"id": id}); err != nil {
					return err
				}
			}
		}
		name := fmt.Sprintf("Renamed %d", i)
		if err := a.query(coherenceChange, map[string]any{"id": id, "name": name}); err != nil {
			return err
		}
		acked := time.Now()
		for _, in := range []*instance{a, bb} {
			for {
				data, err := in.queryData(coherenceRead, map[string]any{"id": id})
				if err != nil {
					return err
				}
				if strings.Contains(string(data), name) {
					break
				}
				if time.Since(acked) > 10*time.Second {
					return fmt.Errorf("coherence: %s still serves the old name of %s 10 s after the change", in.url, id)
				}
			}
		}
		delays[i] = time.Since(acked)
	}
	hits1, _ := f.serverCounter("response_cache_total", "result", "hit")
	b.rcCoherenceHits = int(hits1 - hits0)
	slices.Sort(delays)
	return add(row{workload: rcCoherence, path: "real", requests: n, p50: delays[n/2], p99: delays[n-1]}, nil)
}

// responseCacheChecks are the response cache's targets (issue: warm
// dashboards at the speed of a response cache, and still coherent).
func (b *bench) responseCacheChecks(find func(workload, path string) row) []check {
	on1, off1 := find(rcRow(1, true), "real"), find(rcRow(1, false), "real")
	on8, off8 := find(rcRow(8, true), "real"), find(rcRow(8, false), "real")
	if on1.requests == 0 {
		return nil
	}
	s := func(conc int, on bool) rcStats { return b.rc[rcRow(conc, on)] }
	// Before the response cache, a warm W2 cost the server about 4 ms of
	// CPU (measured for the issue); the target for the executor is half.
	const before = 4 * time.Millisecond
	coh := find(rcCoherence, "real")
	us := func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
	return []check{
		{"W2 warm with the response cache: p50 ≤ 1 ms at c=1 and CPU ≤ 0.3 ms a request",
			on1.p50 <= time.Millisecond && s(1, true).cpuPerReq <= 300*time.Microsecond && s(8, true).cpuPerReq <= 300*time.Microsecond,
			fmt.Sprintf("c=1: p50 %s, p99 %s, %.0f req/s, CPU %s/req; c=8: p50 %s, p99 %s, %.0f req/s, CPU %s/req",
				us(on1.p50), us(on1.p99), on1.rps, us(s(1, true).cpuPerReq), us(on8.p50), us(on8.p99), on8.rps, us(s(8, true).cpuPerReq))},
		{"W2 warm with the response cache: hit ratio ≥ 99 %, zero upstream calls",
			s(1, true).hitRatio >= 0.99 && s(8, true).hitRatio >= 0.99 && on1.upstreamTotal+on8.upstreamTotal == 0,
			fmt.Sprintf("hit ratio %.3f at c=1, %.3f at c=8; %d upstream calls", s(1, true).hitRatio, s(8, true).hitRatio, on1.upstreamTotal+on8.upstreamTotal)},
		b.responseCacheRedisCheck(find, before),
		{fmt.Sprintf("W2 warm without the response cache: CPU per request at least halved from %s", before),
			s(1, false).cpuPerReq <= before/2 && s(8, false).cpuPerReq <= before/2,
			fmt.Sprintf("c=1: p50 %s, %.0f req/s, CPU %s/req; c=8: p50 %s, %.0f req/s, CPU %s/req; %.0f allocations/req",
				us(off1.p50), off1.rps, us(s(1, false).cpuPerReq), us(off8.p50), off8.rps, us(s(8, false).cpuPerReq), s(1, false).allocsPerReq)},
		{"coherence with the response cache: a change on A is served by A and B within 1 s, each having answered from its cache",
			coh.requests > 0 && coh.p99 <= time.Second && b.rcCoherenceHits >= 4*coh.requests,
			fmt.Sprintf("p50 %s, p99 %s over %d changes; %d response cache hits before the changes", us(coh.p50), us(coh.p99), coh.requests, b.rcCoherenceHits)},
	}
}

// responseCacheRedisCheck is the Redis level's target: a replica that holds
// no answer serves warm dashboards another built (or it built before it
// restarted) with one Redis round trip, at most a quarter of the
// executor's CPU (before), and at c=1 at least twice its requests a
// second and half its p50 (the executor's rows of this run).
func (b *bench) responseCacheRedisCheck(find func(workload, path string) row, before time.Duration) check {
	r1, r8, off1 := find(rcRedisRow(1), "real"), find(rcRedisRow(8), "real"), find(rcRow(1, false), "real")
	s1, s8 := b.rc[rcRedisRow(1)], b.rc[rcRedisRow(8)]
	us := func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
	return check{fmt.Sprintf("W2 warm from the response cache's Redis level: hit ratio ≥ 99 %%, zero upstream calls, ≤ 1 Redis round trip and ≤ %s CPU a request, c=1 p50 at most half and req/s at least twice the executor's", us(before/4)),
		r1.requests > 0 && s1.hitRatio >= 0.99 && s8.hitRatio >= 0.99 && r1.upstreamTotal+r8.upstreamTotal == 0 &&
			r1.redisPerReq <= 1.01 && r8.redisPerReq <= 1.01 && s1.cpuPerReq <= before/4 && s8.cpuPerReq <= before/4 &&
			r1.p50 <= off1.p50/2 && r1.rps >= 2*off1.rps,
		fmt.Sprintf("c=1: p50 %s, p99 %s, %.0f req/s, CPU %s/req, %.2f Redis round trips/req; c=8: p50 %s, p99 %s, %.0f req/s, CPU %s/req, %.2f Redis round trips/req; hit ratio %.3f and %.3f; %d upstream calls",
			us(r1.p50), us(r1.p99), r1.rps, us(s1.cpuPerReq), r1.redisPerReq, us(r8.p50), us(r8.p99), r8.rps, us(s8.cpuPerReq), r8.redisPerReq,
			s1.hitRatio, s8.hitRatio, r1.upstreamTotal+r8.upstreamTotal)}
}
