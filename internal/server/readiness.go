package server

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/web"
	"github.com/talkdesk-intercom/api/sources"
)

// readiness answers /readyz: whether this process can serve. It has started
// (a configuration that is not valid, or a token Intercom rejects, stops it
// at start), it is not shutting down, and Redis answers or is knowingly
// skipped. Only shutting down makes it fail (503).
//
// Intercom's state is reported, never a reason to fail: an Intercom that is
// down, throttling or paused by the circuit breaker is the same for every
// replica, so a balancer that pulled this one would pull them all, and a
// replica still serves cached cards, the other workspaces and the bridge's
// callers' tokens. A caller's spent share of the budget is that caller's
// alone and is not asked about at all: the probe's own call is the
// service's, with no caller.
type readiness struct {
	stopping    func() bool
	redis       *redis.Health // nil without REDIS_URL
	intercom    sources.CredentialValidator
	breakerOpen func() (time.Duration, bool)
	metrics     *metrics.Metrics
	background  context.Context // the Intercom checks run in it, so that Close ends them

	// A probe every second must not become an Intercom call every second
	// per replica: that would be paid from the workspace's budget.
	redisEvery, intercomEvery time.Duration
	// intercomWait is how long a probe waits for an Intercom check under
	// way before it answers with the last one: a slow Intercom must not
	// make the probe itself time out.
	intercomWait time.Duration

	redisMu      sync.Mutex // held while Redis is pinged: a slow ping must not hold up Intercom's report
	redisChecked time.Time
	redisState   string
	redisReport  string

	mu             sync.Mutex
	intercomAsked  time.Time
	intercomState  string
	intercomReport string
	intercomDone   chan struct{} // closed when the check under way ends; nil when none is
}

// The states of a check, as readiness_check labels them.
const (
	stateOK           = "ok"
	stateOff          = "off"
	stateSkipped      = "skipped"
	stateUnavailable  = "unavailable"
	stateBreakerOpen  = "breaker_open"
	stateRateLimited  = "rate_limited"
	stateRejected     = "rejected"
	stateChecking     = "checking"
	stateShuttingDown = "shutting_down"
)

func newReadiness(background context.Context, stopping func() bool, health *redis.Health, intercom sources.CredentialValidator,
	breakerOpen func() (time.Duration, bool), m *metrics.Metrics) *readiness {
	return &readiness{stopping: stopping, redis: health, intercom: intercom, breakerOpen: breakerOpen, metrics: m,
		background: background, redisEvery: 2 * time.Second, intercomEvery: 10 * time.Second, intercomWait: 500 * time.Millisecond,
		intercomState: stateChecking, intercomReport: "checking: Intercom has not answered this replica's check yet"}
}

// serve is a web.Handle handler: 200 while this process can serve ("ready",
// or "degraded" when a check reports a problem), 503 once it shuts down.
func (rd *readiness) serve(w http.ResponseWriter, r *http.Request) error {
	checks, degraded, stopping := rd.check(r.Context())
	if stopping {
		web.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{
			"status": "stopping", "code": sources.EUnavailable, "checks": checks,
			"message": "not ready: this replica is shutting down",
		})
		return nil
	}
	status := "ready"
	if degraded {
		status = "degraded"
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"status": status, "checks": checks})
	return nil
}

// check reports each check in words and in metrics, whether one reports a
// problem, and whether the process is shutting down.
func (rd *readiness) check(ctx context.Context) (checks map[string]string, degraded, stopping bool) {
	checks = map[string]string{"process": stateOK}
	stopping = rd.stopping()
	processState := stateOK
	if stopping {
		checks["process"], processState = "shutting down: finishing in-flight requests", stateShuttingDown
	}
	rd.metrics.SetReadiness("process", processState)

	redisState, redisReport := rd.checkRedis()
	checks["redis"] = redisReport
	rd.metrics.SetReadiness("redis", redisState)

	intercomState, intercomReport := rd.checkIntercom(ctx)
	checks["intercom"] = intercomReport
	rd.metrics.SetReadiness("intercom", intercomState)
	degraded = (redisState != stateOK && redisState != stateOff) || intercomState != stateOK
	return checks, degraded, stopping
}

// checkRedis pings Redis at most every redisEvery. While Redis is known to
// be away there is nothing to ask: every user skips it, and the Health's
// own probe says when it is back.
func (rd *readiness) checkRedis() (state, report string) {
	if rd.redis == nil {
		return stateOff, "off: no REDIS_URL; caches, budgets and idempotency records are this process's own"
	}
	rd.redisMu.Lock()
	defer rd.redisMu.Unlock()
	if rd.redis.Up() && time.Since(rd.redisChecked) < rd.redisEvery && rd.redisState == stateOK {
		return rd.redisState, rd.redisReport
	}
	if rd.redis.Up() {
		// Detached from the probe: one that hangs up must not count as
		// Redis going away.
		if err := rd.redis.Ping(rd.background); err == nil {
			rd.redisChecked, rd.redisState, rd.redisReport = time.Now(), stateOK, "ok"
			return rd.redisState, rd.redisReport
		}
	}
	rd.redisChecked = time.Now()
	if since := rd.redis.AwaySince(); !since.IsZero() {
		rd.redisState = stateSkipped
		rd.redisReport = fmt.Sprintf("skipped: Redis has not answered for %s; serving from Intercom, with idempotency records in process, until it is back",
			time.Since(since).Round(time.Second))
	} else {
		rd.redisState, rd.redisReport = stateUnavailable, "unavailable: Redis did not answer the check"
	}
	return rd.redisState, rd.redisReport
}

// checkIntercom reports the configured workspace: an open breaker at once,
// without a call it would refuse anyway; otherwise the last /me check,
// started again when older than intercomEvery.
func (rd *readiness) checkIntercom(ctx context.Context) (state, report string) {
	if wait, open := rd.breakerOpen(); open {
		return stateBreakerOpen, fmt.Sprintf("%s: Intercom kept failing; calls to the configured workspace are paused for up to %s (circuit breaker open)",
			sources.EUpstreamUnavailable, wait.Round(time.Second))
	}
	rd.mu.Lock()
	done := rd.intercomDone
	if done == nil && time.Since(rd.intercomAsked) >= rd.intercomEvery {
		done = make(chan struct{})
		rd.intercomDone, rd.intercomAsked = done, time.Now()
		go rd.askIntercom(done)
	}
	rd.mu.Unlock()
	if done != nil {
		wait := time.NewTimer(rd.intercomWait)
		defer wait.Stop()
		select {
		case <-done:
		case <-wait.C:
		case <-ctx.Done():
		}
	}
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return rd.intercomState, rd.intercomReport
}

// askIntercom asks /me as the service's own bulk call: no caller's share
// applies, and it never takes the reserve kept for screen pops.
func (rd *readiness) askIntercom(done chan struct{}) {
	ctx, cancel := context.WithTimeout(sources.WithPriority(rd.background, sources.Bulk), 5*time.Second)
	defer cancel()
	_, err := rd.intercom.Validate(ctx)
	state, report := stateOK, "ok"
	if err != nil {
		report = sources.ErrorCode(err) + ": " + sources.ErrorMessage(err)
		switch sources.ErrorCode(err) {
		case sources.ERateLimited:
			state = stateRateLimited
		case sources.EUnauthenticated, sources.EForbidden:
			state = stateRejected
			report += " (the configured token; workspaces of callers' own tokens are not affected)"
		default:
			state = stateUnavailable
		}
	}
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.intercomState, rd.intercomReport, rd.intercomDone = state, report, nil
	close(done)
}
