package main

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/talkdesk-intercom/api/internal/web"
	"github.com/talkdesk-intercom/api/sources"
)

// readiness answers /readyz from a recent check of the source, so that a
// probe every second does not become an Intercom call every second.
type readiness struct {
	source  sources.CredentialValidator
	maxAge  time.Duration
	mu      sync.Mutex
	checked time.Time
	err     error
}

func newReadiness(source sources.CredentialValidator) *readiness {
	return &readiness{source: source, maxAge: 10 * time.Second}
}

func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	err := rd.check(r.Context())
	if err != nil {
		web.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{
			"status": "unavailable",
			"checks": map[string]string{"intercom": sources.ErrorCode(err) + ": " + sources.ErrorMessage(err)},
		})
		return
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": map[string]string{"intercom": "ok"}})
}

func (rd *readiness) check(ctx context.Context) error {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if time.Since(rd.checked) < rd.maxAge {
		return rd.err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, rd.err = rd.source.Validate(ctx)
	rd.checked = time.Now()
	return rd.err
}
