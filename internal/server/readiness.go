package server

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
// second. Intercom failing makes the server unavailable (503, UNAVAILABLE);
// the cache store failing only degrades it (reads go to Intercom).
type readiness struct {
	source sources.CredentialValidator
	store  cache.Store // nil when caching is off
	// breakerOpen says whether the main workspace's calls are paused
	// (sources/intercom's circuit breaker).
	breakerOpen func() (time.Duration, bool)
	maxAge      time.Duration
	mu          sync.Mutex
	checked     time.Time
	checks      map[string]string
	err         error // why the server is not ready; nil when it is
}

func newReadiness(source sources.CredentialValidator, store cache.Store, breakerOpen func() (time.Duration, bool)) *readiness {
	return &readiness{source: source, store: store, breakerOpen: breakerOpen, maxAge: 2 * time.Second}
}

// serve is a web.Handle handler: a server that is not ready answers an error.
func (rd *readiness) serve(w http.ResponseWriter, r *http.Request) error {
	checks, err := rd.check(r.Context())
	if err != nil {
		return err
	}
	state := "ready"
	if checks["cache"] != "ok" && checks["cache"] != "off" {
		state = "degraded"
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"status": state, "checks": checks})
	return nil
}

func (rd *readiness) check(ctx context.Context) (map[string]string, error) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if time.Since(rd.checked) < rd.maxAge {
		return rd.checks, rd.err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	checks := map[string]string{"intercom": "ok", "cache": "ok"}
	if rd.store == nil {
		checks["cache"] = "off"
	} else if err := rd.store.Ping(ctx); err != nil {
		checks["cache"] = "unavailable: serving from Intercom"
	}
	rd.err = nil
	// An open breaker is reported as such, without a call it would refuse
	// anyway.
	if wait, open := rd.breakerOpen(); open {
		checks["intercom"] = fmt.Sprintf("%s: Intercom kept failing; calls are paused for up to %s (circuit breaker open)",
			sources.EUpstreamUnavailable, wait.Round(time.Second))
		rd.err = sources.Errorf(sources.EUnavailable, "not ready: Intercom: %s (cache: %s)", checks["intercom"], checks["cache"])
	} else if _, err := rd.source.Validate(ctx); err != nil {
		checks["intercom"] = sources.ErrorCode(err) + ": " + sources.ErrorMessage(err)
		rd.err = sources.Errorf(sources.EUnavailable, "not ready: Intercom: %s (cache: %s)", checks["intercom"], checks["cache"])
	}
	rd.checked, rd.checks = time.Now(), checks
	return rd.checks, rd.err
}
