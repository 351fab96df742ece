package callevents

import "github.com/prometheus/client_golang/prometheus"

// serviceMetrics are the call events' collectors (GET /metrics).
type serviceMetrics struct {
	Requests    *prometheus.CounterVec   // result: accepted, or the refusal's code
	AcceptTime  prometheus.Histogram     // how long accepting took (queued, replicated)
	Applied     *prometheus.CounterVec   // event
	Lag         *prometheus.HistogramVec // event: from accepted to applied
	Effects     *prometheus.CounterVec   // effect: call_record, callback_ticket, lead, follow_up
	Retries     prometheus.Counter
	DeadLetters prometheus.Counter
	Skipped     prometheus.Counter
	Claimed     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *serviceMetrics {
	m := &serviceMetrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "call_events_requests_total", Help: "POST /talkdesk/events by result: accepted, or the refusal's code.",
		}, []string{"result"}),
		AcceptTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "call_events_accept_duration_seconds", Help: "Time to accept a call event: read, checked, durably queued.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		Applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "call_events_applied_total", Help: "Call events applied (or found to need nothing), by event.",
		}, []string{"event"}),
		Lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "call_events_apply_lag_seconds", Help: "Time from a call event's acceptance to its application (the settle window included), by event.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 30, 60, 300, 900, 3600},
		}, []string{"event"}),
		Effects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "call_events_effects_total", Help: "What applying call events wrote, by effect (call_record, callback_ticket, lead, follow_up); a replay of an effect already written counts again.",
		}, []string{"effect"}),
		Retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "call_events_retries_total", Help: "Attempts at applying a call event that failed and were retried.",
		}),
		DeadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "call_events_dead_letters_total", Help: "Call events given up on (dead letters, readable at GET /admin/call-events).",
		}),
		Skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "call_events_skipped_total", Help: "Calls with no contact to write on: a withheld or blocked number, or an unknown one with leads off.",
		}),
		Claimed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "call_events_claimed_total", Help: "Call events taken over from a replica that went silent.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Requests, m.AcceptTime, m.Applied, m.Lag, m.Effects, m.Retries, m.DeadLetters, m.Skipped, m.Claimed)
	}
	return m
}
