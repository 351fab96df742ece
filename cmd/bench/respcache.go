package main

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/talkdesk-intercom/api/internal/loadtest"
	"github.com/talkdesk-intercom/api/internal/process"
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
	before, dir, err := b.buildBefore(ctx)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, mode := range []struct {
		settings map[string]string
		name     func(conc int) string
		hits     string // the counter of hits (and misses) of the level asked
	}{
		{map[string]string{"RESPONSE_CACHE_ENABLED": "false"}, func(c int) string { return rcRow(c, false) }, "response_cache_total"},
		{map[string]string{"RESPONSE_CACHE_ENABLED": "true"}, func(c int) string { return rcRow(c, true) }, "response_cache_total"},
		{map[string]string{"RESPONSE_CACHE_ENABLED": "true", "RESPONSE_CACHE_MAX_BYTES": "0"}, rcRedisRow, "response_cache_redis_total"},
	} {
		off := mode.settings["RESPONSE_CACHE_ENABLED"] == "false"
		profile := b.opts.cpuProfile != "" && off
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
		measured := []rcMeasured{{f, mode.name}}
		if off && before != "" {
			// The server of the revision the target is set against, on the
			// same settings (those it does not know, it ignores).
			fb, err := b.startFleetOf(ctx, before, 1, "real", mode.settings)
			if err != nil {
				f.close()
				return err
			}
			measured = append(measured, rcMeasured{fb, b.rcBeforeRow})
		}
		err = b.measureResponseCache(measured, mode.hits, add)
		for _, m := range measured[1:] {
			m.f.close()
		}
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

// rcMeasured is a fleet measured by a response cache row, and the row's name.
type rcMeasured struct {
	f    *fleet
	name func(conc int) string
}

// rcBeforeRow is the row of the server of rcBeforeRev.
func (b *bench) rcBeforeRow(conc int) string { return rcRevisionRow(conc, b.rcBeforeRev) }

func rcRevisionRow(conc int, rev string) string {
	return fmt.Sprintf("W2 warm, c=%d, response cache off, the code of %s", conc, rev)
}

// rcTurns is how many turns the fleets measured side by side take: each
// row's requests are sent in that many parts, the fleets' parts in turn, so
// that the machine's noise (it moves by a quarter from minute to minute on a
// shared host) falls on both alike.
const rcTurns = 4

// measureResponseCache measures each fleet's warm W2 row at c=1 and at c=8;
// fleets side by side (more than one) are measured in turns.
func (b *bench) measureResponseCache(fleets []rcMeasured, hitCounter string, add func(row, error) error) error {
	reqs := make([]func(i int) error, len(fleets))
	for k, m := range fleets {
		ids := b.dashboardIDs(m.f.em.Workspace)
		reqs[k] = func(i int) error { return m.f.instance(i).query(dashboardQuery, map[string]any{"ids": ids}) }
		// Warm: the entity cache first, then (a request later, once the
		// workspace id is known) the answer.
		for i := range 3 {
			if err := reqs[k](i); err != nil {
				return err
			}
		}
	}
	turns := 1
	if len(fleets) > 1 {
		turns = rcTurns
	}
	for _, conc := range []int{1, 8} {
		seen := make([]counted, len(fleets))
		for range turns {
			for k, m := range fleets {
				n := max(1, b.opts.rcWarm/turns)
				_, c, err := m.f.measureCounted(m.name(conc), "real", n, conc, reqs[k])
				if err != nil {
					return err
				}
				seen[k] = seen[k].add(c)
			}
		}
		for k, m := range fleets {
			c := seen[k]
			if err := add(c.row(m.name(conc), "real"), nil); err != nil {
				return err
			}
			n := float64(len(c.lat))
			s := rcStats{
				cpuPerReq:    time.Duration(c.delta.cpuSeconds / n * float64(time.Second)),
				allocsPerReq: c.delta.mallocs / n,
			}
			hits, misses := c.delta.results[hitCounter+"/hit"], c.delta.results[hitCounter+"/miss"]
			if hits+misses > 0 {
				s.hitRatio = hits / (hits + misses)
			}
			b.rc[m.name(conc)] = s
		}
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
	// CPU on the machine the issue measured: the target for the executor
	// is half of that. Machines differ by twice that much, so the target is
	// half of what the code the issue measured costs here, beside this
	// code in the same run, when it could be built.
	const before = 4 * time.Millisecond
	before1, before8 := before, before
	beforeName := before.String()
	if b.rcBeforeWhy == "" && b.rcBeforeRev != "" {
		before1, before8 = b.rc[b.rcBeforeRow(1)].cpuPerReq, b.rc[b.rcBeforeRow(8)].cpuPerReq
		beforeName = fmt.Sprintf("the code of %s, measured beside it in turns", b.rcBeforeRev)
	} else if b.rcBeforeRev != "" {
		beforeName += fmt.Sprintf(" (the code of %s could not be measured here: %s)", b.rcBeforeRev, b.rcBeforeWhy)
	}
	allocs := fmt.Sprintf("%.0f allocations/req", s(1, false).allocsPerReq)
	if ref, ok := b.rc[b.rcBeforeRow(1)]; ok {
		allocs += fmt.Sprintf(" against %.0f", ref.allocsPerReq)
	}
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
		{fmt.Sprintf("W2 warm without the response cache: CPU per request at least halved from %s", beforeName),
			s(1, false).cpuPerReq <= before1/2 && s(8, false).cpuPerReq <= before8/2,
			fmt.Sprintf("c=1: p50 %s, %.0f req/s, CPU %s/req against %s (%.2f×); c=8: p50 %s, %.0f req/s, CPU %s/req against %s (%.2f×); %s",
				us(off1.p50), off1.rps, us(s(1, false).cpuPerReq), us(before1), ratio(s(1, false).cpuPerReq, before1),
				us(off8.p50), off8.rps, us(s(8, false).cpuPerReq), us(before8), ratio(s(8, false).cpuPerReq, before8), allocs)},
		{"coherence with the response cache: a change on A is served by A and B within 1 s, each having answered from its cache",
			coh.requests > 0 && coh.p99 <= time.Second && b.rcCoherenceHits >= 4*coh.requests,
			fmt.Sprintf("p50 %s, p99 %s over %d changes; %d response cache hits before the changes", us(coh.p50), us(coh.p99), coh.requests, b.rcCoherenceHits)},
	}
}

// responseCacheRedisCheck is the Redis level's target: a replica that holds
// no answer serves warm dashboards another built (or it built before it
// restarted) with one Redis round trip, at most a quarter of the
// executor's CPU (before), and at c=1 at least twice the requests a second
// and half the p50 of the executor the issue measured (the -before rows of
// this run, or this code's when they were not measured), and better than
// this code's executor: a hit from Redis must still cost less than
// building the answer again.
func (b *bench) responseCacheRedisCheck(find func(workload, path string) row, before time.Duration) check {
	r1, r8, off1 := find(rcRedisRow(1), "real"), find(rcRedisRow(8), "real"), find(rcRow(1, false), "real")
	s1, s8 := b.rc[rcRedisRow(1)], b.rc[rcRedisRow(8)]
	ref, refName := off1, "the executor's"
	if b.rcBeforeWhy == "" && b.rcBeforeRev != "" {
		ref, refName = find(b.rcBeforeRow(1), "real"), fmt.Sprintf("those of the executor of %s, and better than this code's", b.rcBeforeRev)
	}
	us := func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
	return check{fmt.Sprintf("W2 warm from the response cache's Redis level: hit ratio ≥ 99 %%, zero upstream calls, ≤ 1 Redis round trip and ≤ %s CPU a request, c=1 p50 at most half and req/s at least twice %s", us(before/4), refName),
		r1.requests > 0 && s1.hitRatio >= 0.99 && s8.hitRatio >= 0.99 && r1.upstreamTotal+r8.upstreamTotal == 0 &&
			r1.redisPerReq <= 1.01 && r8.redisPerReq <= 1.01 && s1.cpuPerReq <= before/4 && s8.cpuPerReq <= before/4 &&
			r1.p50 <= ref.p50/2 && r1.rps >= 2*ref.rps && r1.p50 < off1.p50 && r1.rps > off1.rps,
		fmt.Sprintf("c=1: p50 %s, p99 %s, %.0f req/s, CPU %s/req, %.2f Redis round trips/req; c=8: p50 %s, p99 %s, %.0f req/s, CPU %s/req, %.2f Redis round trips/req; hit ratio %.3f and %.3f; %d upstream calls; executor at c=1: p50 %s and %.0f req/s (this code), %s and %.0f req/s (the reference)",
			us(r1.p50), us(r1.p99), r1.rps, us(s1.cpuPerReq), r1.redisPerReq, us(r8.p50), us(r8.p99), r8.rps, us(s8.cpuPerReq), r8.redisPerReq,
			s1.hitRatio, s8.hitRatio, r1.upstreamTotal+r8.upstreamTotal, us(off1.p50), off1.rps, us(ref.p50), ref.rps)}
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// buildBefore builds the server of -before (the code the executor's target
// is set against) from the module's git history, without touching the
// checkout: its files come out of git archive (dir holds them, and the
// binary: the caller removes it). It gives "" when -before is
// empty, or when the revision cannot be built here (no git, a shallow
// clone): the target then falls back to the 4 ms the issue measured, and
// the check says why.
func (b *bench) buildBefore(ctx context.Context) (bin, dir string, err error) {
	b.rcBeforeRev = b.opts.before
	if b.opts.before == "" {
		return "", "", nil
	}
	if dir, err = os.MkdirTemp("", "bench-before-"); err != nil {
		return "", "", err
	}
	t0 := time.Now()
	if bin, err = buildRevision(ctx, b.opts.before, dir); err != nil {
		b.rcBeforeWhy = err.Error()
		return "", dir, nil
	}
	fmt.Fprintf(b.out, "Built the server of %s in %s.\n", b.opts.before, time.Since(t0).Round(100*time.Millisecond))
	return bin, dir, nil
}

// buildRevision extracts the module at rev into dir/src and builds its
// server into dir.
func buildRevision(ctx context.Context, rev, dir string) (string, error) {
	root, err := process.ModuleRoot()
	if err != nil {
		return "", err
	}
	src := filepath.Join(dir, "src")
	cmd := exec.CommandContext(ctx, "git", "-C", root, "archive", "--format=tar", rev)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("git archive %s: %w", rev, err)
	}
	untarErr := untar(out, src)
	_, _ = io.Copy(io.Discard, out) // what untar left: git archive must finish writing before Wait
	if err := cmd.Wait(); err != nil {
		return "", fmt.Errorf("git archive %s: %v: %s", rev, err, strings.TrimSpace(stderr.String()))
	}
	if untarErr != nil {
		return "", untarErr
	}
	return process.Build(ctx, src, dir, false)
}

// untar writes a tar stream of the repository's own files (directories and
// regular files: the module has no other kind) under dir.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if !filepath.IsLocal(h.Name) {
			return fmt.Errorf("untar: %q is not a path inside the module", h.Name)
		}
		path := filepath.Join(dir, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o755|0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}
