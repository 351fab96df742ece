package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/talkdesk-intercom/api/internal/cache"
	"github.com/talkdesk-intercom/api/internal/web"
	"github.com/talkdesk-intercom/api/sources"
)

// readiness answers /readyz from a recent check of Intercom and the cache
// store, so that a probe every second does not become an Intercom call every
// second. Intercom failing makes the server unavailable; the cache store
// failing only degrades it (reads go to Intercom).
type readiness struct {
	source sources.CredentialValidator
	store  cache.Store // nil when caching is off
	// breakerOpen says whether the main workspace's calls are paused
	// (sources/intercom's circuit breaker).
	breakerOpen func() (time.Duration, bool)
	maxAge      time.Duration
	mu          sync.Mutex
	checked     time.Time
	status      int
	body        map[string]any
}

func newReadiness(source sources.CredentialValidator, store cache.Store, breakerOpen func() (time.Duration, bool)) *readiness {
	return &readiness{source: source, store: store, breakerOpen: breakerOpen, maxAge: 2 * time.Second}
}

func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, body := rd.check(r.Context())
	web.WriteJSON(w, status, body)
}

func (rd *readiness) check(ctx context.Context) (int, map[string]any) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if time.Since(rd.checked) < rd.maxAge {
		return rd.status, rd.body
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	checks := map[string]string{"intercom": "ok", "cache": "ok"}
	status, state := http.StatusOK, "ready"
	if rd.store == nil {
		checks["cache"] = "off"
	} else if err := rd.store.Ping(ctx); err != nil {
		checks["cache"] = "unavailable: serving from Intercom"
		state = "degraded"
	}
	// An open breaker is reported as such, without a call it would refuse
	// anyway.
	if wait, open := rd.breakerOpen(); open {
		checks["intercom"] = fmt.Sprintf("%s: Intercom kept failing; calls are paused for up to %s (circuit breaker open)",
			sources.EUpstreamUnavailable, wait.Round(time.Second))
		status, state = http.StatusServiceUnavailable, "unavailable"
	} else if _, err := rd.source.Validate(ctx); err != nil {
		checks["intercom"] = sources.ErrorCode(err) + ": " + sources.ErrorMessage(err)
		status, state = http.StatusServiceUnavailable, "unavailable"
	}
	rd.checked, rd.status = time.Now(), status
	rd.body = map[string]any{"status": state, "checks": checks}
	return rd.status, rd.body
}
