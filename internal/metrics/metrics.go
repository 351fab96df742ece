// Package metrics holds the server's Prometheus collectors on a registry of
// its own (no globals), so that tests can read the counters /metrics serves
// (the benchmark, cmd/bench, scrapes /metrics of the server binary).
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// Metrics are the product's counters and histograms.
type Metrics struct {
	Registry *prometheus.Registry

	UpstreamCalls   *prometheus.CounterVec   // endpoint, status
	UpstreamLatency *prometheus.HistogramVec // endpoint
	CacheResults    *prometheus.CounterVec   // kind, result: hit, miss, stale, negative_hit
	CacheLevel      *prometheus.CounterVec   // level: entries answered in process (local) without Redis
	CacheEvents     *prometheus.CounterVec   // what the event stream did: event, broken, whole
	// CacheInvalidations counts the entries invalidations touched: kind,
	// effect (marked_stale: kept to answer while Intercom fails; deleted:
	// made wrong by the change).
	CacheInvalidations *prometheus.CounterVec
	// StaleAnswers counts answers that served stale values (transport), and
	// StaleAge how stale the oldest value of each was.
	StaleAnswers    *prometheus.CounterVec
	StaleAge        prometheus.Histogram
	LoaderBatchSize *prometheus.HistogramVec // loader
	RedisRoundTrips *prometheus.CounterVec   // op
	RedisErrors     *prometheus.CounterVec   // op
	GraphQLLatency  *prometheus.HistogramVec // operation
	GraphQLRequests *prometheus.CounterVec   // operation, result
	// Readiness is what /readyz found: for each check (process, redis,
	// intercom), 1 on its current state and no other series.
	Readiness *prometheus.GaugeVec // check, state
	// InteractionUpdates counts the bridge's interaction_update answers by
	// how complete they were, and UnreadKinds the kinds missing from them:
	// Talkdesk's contract has no way to say a history is partial.
	InteractionUpdates *prometheus.CounterVec // answer: complete, partial, unavailable
	UnreadKinds        *prometheus.CounterVec // kind
	// ConnectionsRefused counts connections answered 503 and closed for
	// being over a cap (limit: MAX_CONNECTIONS, MAX_CONNECTIONS_PER_ADDRESS).
	ConnectionsRefused *prometheus.CounterVec // limit
}

// New registers every collector on a new registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: r,
		UpstreamCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "upstream_calls_total", Help: "Calls to upstream APIs by endpoint pattern and HTTP status (0: no response).",
		}, []string{"endpoint", "status"}),
		UpstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "upstream_call_duration_seconds", Help: "Latency of upstream calls by endpoint pattern.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"endpoint"}),
		CacheResults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cache_lookups_total", Help: "Cache lookups by entity kind and result (hit, negative_hit, miss, stale).",
		}, []string{"kind", "result"}),
		CacheLevel: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cache_level_hits_total", Help: "Cache entries answered by a level without asking the next (local: in process, no Redis).",
		}, []string{"level"}),
		CacheEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cache_events_total", Help: "The invalidation stream: events received, and times it broke and became whole again.",
		}, []string{"what"}),
		CacheInvalidations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cache_invalidations_total", Help: "Cache entries invalidated by entity kind and effect (marked_stale: kept to answer while Intercom fails; deleted: wrong after the change).",
		}, []string{"kind", "effect"}),
		StaleAnswers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stale_answers_total", Help: "Answers that served values no longer fresh because Intercom failed, refused or was not asked (extensions.stale), by transport.",
		}, []string{"transport"}),
		StaleAge: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "stale_answer_age_seconds", Help: "How long the oldest value of a stale answer had not been fresh (extensions.staleAgeSeconds).",
			Buckets: []float64{1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600},
		}),
		LoaderBatchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "loader_batch_size", Help: "Keys per dataloader batch.",
			Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 200},
		}, []string{"loader"}),
		RedisRoundTrips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redis_roundtrips_total", Help: "Round trips to Redis (a pipeline counts once) by operation.",
		}, []string{"op"}),
		RedisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redis_errors_total", Help: "Failed Redis operations by operation.",
		}, []string{"op"}),
		GraphQLLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "graphql_operation_duration_seconds", Help: "GraphQL operation latency by operation name.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"operation"}),
		GraphQLRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graphql_operations_total", Help: "GraphQL operations by operation name and result (ok, error).",
		}, []string{"operation", "result"}),
		Readiness: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "readiness_check", Help: "What /readyz last found, by check (process, redis, intercom) and state: 1 on each check's current state " +
				"(ok, off, skipped, breaker_open, rate_limited, rejected, unavailable, shutting_down). Only process=shutting_down makes /readyz fail.",
		}, []string{"check", "state"}),
		InteractionUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talkdesk_interaction_updates_total", Help: "Talkdesk interaction_update answers by answer: complete, partial (200 without some kinds), unavailable (no kind could be read).",
		}, []string{"answer"}),
		UnreadKinds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talkdesk_interaction_kinds_unread_total", Help: "Interaction kinds missing from Talkdesk interaction_update answers because they could not be read, by kind.",
		}, []string{"kind"}),
		ConnectionsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_connections_refused_total", Help: "Connections answered 503 and closed before a byte was read, by the cap they were over: MAX_CONNECTIONS, MAX_CONNECTIONS_PER_ADDRESS.",
		}, []string{"limit"}),
	}
	r.MustRegister(m.ConnectionsRefused, m.UpstreamCalls, m.UpstreamLatency, m.CacheResults, m.CacheLevel, m.CacheEvents,
		m.CacheInvalidations, m.StaleAnswers, m.StaleAge, m.LoaderBatchSize,
		m.RedisRoundTrips, m.RedisErrors, m.GraphQLLatency, m.GraphQLRequests, m.Readiness, m.InteractionUpdates, m.UnreadKinds)
	return m
}

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// ObserveUpstream records one upstream call; it fits intercom.Config.Observe.
func (m *Metrics) ObserveUpstream(endpoint string, status int, elapsed time.Duration) {
	m.UpstreamCalls.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
	m.UpstreamLatency.WithLabelValues(endpoint).Observe(elapsed.Seconds())
}

// SetReadiness records check's current state, replacing its previous one.
func (m *Metrics) SetReadiness(check, state string) {
	m.Readiness.DeletePartialMatch(prometheus.Labels{"check": check})
	m.Readiness.WithLabelValues(check, state).Set(1)
}

// Sum adds up every series of a counter vector, e.g. all upstream calls.
func Sum(c *prometheus.CounterVec) float64 {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	total := 0.0
	for m := range ch {
		var d dto.Metric
		if m.Write(&d) == nil && d.Counter != nil {
			total += d.Counter.GetValue()
		}
	}
	return total
}

// Value returns one series of a counter vector.
func Value(c *prometheus.CounterVec, labels ...string) float64 {
	var d dto.Metric
	if c.WithLabelValues(labels...).Write(&d) != nil || d.Counter == nil {
		return 0
	}
	return d.Counter.GetValue()
}

// Count returns how many observations a histogram vector holds, all series.
func Count(h *prometheus.HistogramVec) uint64 {
	ch := make(chan prometheus.Metric, 64)
	go func() { h.Collect(ch); close(ch) }()
	var n uint64
	for m := range ch {
		var d dto.Metric
		if m.Write(&d) == nil && d.Histogram != nil {
			n += d.Histogram.GetSampleCount()
		}
	}
	return n
}
