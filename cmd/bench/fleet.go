package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/talkdesk-intercom/api/internal/process"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// The server's own counters, as internal/metrics names them on /metrics.
const (
	metricRedisRoundTrips = "redis_roundtrips_total"
	metricLoaderBatchSize = "loader_batch_size" // a histogram: its sample count is the number of batches
	// The customer database's queries are upstream calls
	// (metricUpstreamCalls) of endpoints "sql:<view>"
	// (internal/server/customerdb.go).
	sqlEndpointPrefix = "sql:"
)

// benchToken is the emulator's token for the benchmark's workspaces; it is a
// throwaway value, but like any token it is only ever passed in the
// environment of the server processes, never printed.
const benchToken = "bench"

// buildServer compiles the server from the module's root into dir, once per
// run, so that the benchmark measures the binary that is deployed.
func buildServer(ctx context.Context, dir string) (string, error) {
	root, err := process.ModuleRoot()
	if err != nil {
		return "", fmt.Errorf("find the server's module (run the benchmark from it: go run ./cmd/bench, or pass -server): %v", err)
	}
	return process.Build(ctx, root, dir, false)
}

// fleet is one Intercom workspace (an emulator in this process, so a fresh
// tenant with a cold cache) and the server instances in front of it, which
// share the benchmark's Redis on the real path, and maybe a load balancer in
// front of them.
type fleet struct {
	em        *emulator.Server
	instances []*instance
	lb        *balancer // nil: requests go round the instances from here
	front     *instance // the load balancer's address, for requests only
}

// instance is one running server process, or the load balancer in front
// of them (proc nil), which requests are sent to.
type instance struct {
	url  string
	proc *process.Server
}

// pathSettings are the settings that make a path: the naive path has no
// loaders and no cache at all, the real path caches in the benchmark's Redis.
func (b *bench) pathSettings(path string) map[string]string {
	if path == "naive" {
		// Unbatched, each field's reads go out at once and in parallel: the
		// workspace's own budget must not refuse the calls being counted.
		return map[string]string{"CACHE_ENABLED": "false", "LOADERS_ENABLED": "false", "INTERCOM_RATE_LIMIT": "1000000"}
	}
	return map[string]string{"REDIS_URL": b.opts.redisURL}
}

// startEmulator starts a fresh workspace.
func (b *bench) startEmulator() (*emulator.Server, error) {
	return emulator.Start(emulator.Options{
		Token: benchToken, Latency: b.opts.latency, RateLimit: 1_000_000, Phone: true,
		WorkspaceID: fmt.Sprintf("bench-%d-%d", os.Getpid(), time.Now().UnixNano()),
	})
}

// startFleet starts a fresh workspace and n server instances for it with the
// path's settings, then extra (which wins; an empty value removes a setting).
func (b *bench) startFleet(ctx context.Context, n int, path string, extra map[string]string) (*fleet, error) {
	return b.startFleetOf(ctx, b.server, n, path, extra)
}

// startFleetOn is startFleet on a workspace already started; the fleet
// closes it.
func (b *bench) startFleetOn(ctx context.Context, em *emulator.Server, n int, path string, extra map[string]string) (*fleet, error) {
	return b.startFleetBinary(ctx, b.server, em, n, path, extra)
}

// startFleetOf is startFleet on the server binary bin.
func (b *bench) startFleetOf(ctx context.Context, bin string, n int, path string, extra map[string]string) (*fleet, error) {
	em, err := b.startEmulator()
	if err != nil {
		return nil, err
	}
	return b.startFleetBinary(ctx, bin, em, n, path, extra)
}

// startFleetBinary is startFleetOn with the server binary bin.
func (b *bench) startFleetBinary(ctx context.Context, bin string, em *emulator.Server, n int, path string, extra map[string]string) (*fleet, error) {
	f := &fleet{em: em}
	settings := map[string]string{
		"INTERCOM_TOKEN": benchToken, "INTERCOM_BASE_URL": em.URL,
		// The benchmark is one caller sending on purpose more than a caller may.
		"RATE_LIMIT_PER_MINUTE": "0", "INTERCOM_CALLER_SHARE": "100",
		"COST_RESTORE_RATE": "0", "MAX_CONCURRENT_REQUESTS_PER_CALLER": "0",
		"LOG_LEVEL": "warn", "SHUTDOWN_TIMEOUT": "5s",
	}
	for _, k := range []string{"LOADER_WAIT", "LOADER_MIN_WAIT", "LOADER_MAX_BATCH", "FETCH_CONCURRENCY", "CALLER_LOOKUP_COALESCE_WINDOW"} {
		if v := b.getenv(k); v != "" {
			settings[k] = v
		}
	}
	maps.Copy(settings, b.pathSettings(path))
	maps.Copy(settings, extra)
	for range n {
		in, err := startInstance(ctx, bin, settings)
		if err != nil {
			f.close()
			return nil, err
		}
		f.instances = append(f.instances, in)
	}
	return f, nil
}

// startBehind puts a load balancer of kind (lbHAProxy or lbGo) in front of
// f: from then on every request of a workload goes through it.
func (f *fleet) startBehind(ctx context.Context, kind string) error {
	var urls []string
	for _, in := range f.instances {
		urls = append(urls, in.url)
	}
	lb, err := startBalancer(ctx, kind, urls)
	if err != nil {
		return err
	}
	f.lb, f.front = lb, &instance{url: lb.url}
	return nil
}

// instance returns the instance that serves request i: requests go round
// the fleet, as behind a load balancer, or through the fleet's own one.
func (f *fleet) instance(i int) *instance {
	if f.front != nil {
		return f.front
	}
	return f.instances[i%len(f.instances)]
}

// warmEveryReplica sends requests 0..n-1 to each replica directly when the
// fleet is behind a load balancer: a replica's in-process level holds only
// what it served itself, and a warm row through the balancer measures a
// fleet where every replica has served every key before (as one replica
// has when it is alone). Without a balancer it does nothing.
func (f *fleet) warmEveryReplica(n int, req func(in *instance, i int) error) error {
	if f.front == nil {
		return nil
	}
	for _, in := range f.instances {
		var next atomic.Int64
		var firstErr error
		var once sync.Once
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
					if err := req(in, i); err != nil {
						once.Do(func() { firstErr = err })
					}
				}
			})
		}
		wg.Wait()
		if firstErr != nil {
			return fmt.Errorf("warm %s: %w", in.url, firstErr)
		}
	}
	return nil
}

func (f *fleet) close() {
	if f.lb != nil {
		f.lb.close()
	}
	var wg sync.WaitGroup
	for _, in := range f.instances {
		wg.Go(in.proc.Stop)
	}
	wg.Wait()
	f.em.Close()
}

// startInstance runs the server binary with exactly these settings (an
// empty value leaves one unset; nothing of the benchmark's own environment
// but what a process needs) on a free loopback port and waits until /readyz
// says it is ready. Its output is kept only for the error should it fail
// to start.
func startInstance(ctx context.Context, bin string, settings map[string]string) (*instance, error) {
	proc, err := process.Start(ctx, bin, settings, nil)
	if err != nil {
		return nil, err
	}
	return &instance{url: proc.URL, proc: proc}, nil
}

// counters are what a measurement subtracts: the calls the workspace
// received, and the fleet's own counters from /metrics, all read in one
// scrape of each server.
type counters struct {
	upstream        int
	sqlQueries      float64
	redisRoundTrips float64
	loaderBatches   uint64
	cpuSeconds      float64            // process_cpu_seconds_total
	mallocs         float64            // go_memstats_mallocs_total: heap allocations
	results         map[string]float64 // the response cache's levels' counts, by "counter/result"
}

// minus is c since an earlier reading.
func (c counters) minus(earlier counters) counters {
	d := counters{upstream: c.upstream - earlier.upstream, sqlQueries: c.sqlQueries - earlier.sqlQueries,
		redisRoundTrips: c.redisRoundTrips - earlier.redisRoundTrips, loaderBatches: c.loaderBatches - earlier.loaderBatches,
		cpuSeconds: c.cpuSeconds - earlier.cpuSeconds, mallocs: c.mallocs - earlier.mallocs, results: map[string]float64{}}
	for k, v := range c.results {
		d.results[k] = v - earlier.results[k]
	}
	return d
}

// plus is two deltas of counters added up.
func (c counters) plus(d counters) counters {
	s := counters{upstream: c.upstream + d.upstream, sqlQueries: c.sqlQueries + d.sqlQueries,
		redisRoundTrips: c.redisRoundTrips + d.redisRoundTrips, loaderBatches: c.loaderBatches + d.loaderBatches,
		cpuSeconds: c.cpuSeconds + d.cpuSeconds, mallocs: c.mallocs + d.mallocs, results: maps.Clone(c.results)}
	if s.results == nil {
		s.results = map[string]float64{}
	}
	for k, v := range d.results {
		s.results[k] += v
	}
	return s
}

func (f *fleet) counters() (counters, error) {
	c := counters{upstream: f.em.Workspace.TotalCalls(), results: map[string]float64{}}
	for _, in := range f.instances {
		families, err := in.scrape()
		if err != nil {
			return counters{}, err
		}
		if mf := families["process_cpu_seconds_total"]; mf != nil && len(mf.GetMetric()) > 0 {
			c.cpuSeconds += mf.GetMetric()[0].GetCounter().GetValue()
		}
		if mf := families["go_memstats_mallocs_total"]; mf != nil && len(mf.GetMetric()) > 0 {
			c.mallocs += mf.GetMetric()[0].GetCounter().GetValue()
		}
		for _, name := range []string{"response_cache_total", "response_cache_redis_total"} {
			for _, m := range families[name].GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "result" {
						c.results[name+"/"+l.GetValue()] += m.GetCounter().GetValue()
					}
				}
			}
		}
		if mf := families[metricRedisRoundTrips]; mf != nil {
			for _, m := range mf.GetMetric() {
				c.redisRoundTrips += m.GetCounter().GetValue()
			}
		}
		if mf := families[metricUpstreamCalls]; mf != nil {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "endpoint" && strings.HasPrefix(l.GetValue(), sqlEndpointPrefix) {
						c.sqlQueries += m.GetCounter().GetValue()
					}
				}
			}
		}
		if mf := families[metricLoaderBatchSize]; mf != nil {
			for _, m := range mf.GetMetric() {
				c.loaderBatches += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return c, nil
}

// scrape reads the instance's /metrics as Prometheus does.
func (in *instance) scrape() (map[string]*dto.MetricFamily, error) {
	resp, err := benchClient.Get(in.url + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/metrics: HTTP %d", in.url, resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read %s/metrics: %w", in.url, err)
	}
	return families, nil
}

var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}, Timeout: time.Minute}

// query sends one GraphQL request and fails on any error in the answer.
func (in *instance) query(q string, vars map[string]any) error {
	_, err := in.queryData(q, vars)
	return err
}

// queryData is query that returns the answer's data.
func (in *instance) queryData(q string, vars map[string]any) (json.RawMessage, error) {
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	resp, err := benchClient.Post(in.url+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || bytes.Contains(b, []byte(`"errors"`)) {
		return nil, fmt.Errorf("HTTP %d: %.300s", resp.StatusCode, b)
	}
	var out struct{ Data json.RawMessage }
	err = json.Unmarshal(b, &out)
	return out.Data, err
}

// abusiveRequest sends one request of the abuse corpus and returns the code
// of its first error ("" when answered).
func (in *instance) abusiveRequest(body []byte) string {
	resp, err := benchClient.Post(in.url+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		return "transport error"
	}
	defer resp.Body.Close()
	var out struct {
		Errors []struct {
			Extensions struct{ Code string } `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Errors) == 0 {
		return ""
	}
	return out.Errors[0].Extensions.Code
}
