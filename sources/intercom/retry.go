package intercom

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/talkdesk-intercom/api/sources"
)

// retryTransport repeats safe calls (reads, searches, idempotent PUT and
// DELETE) that failed in a way worth repeating (no answer, 429, 5xx), with
// jittered backoff that honours Retry-After, and never past the call's
// deadline. Creating writes are never retried here: the idempotency guard
// above the client owns that. Refusals of the layers below (the governor,
// the breaker) are not retried either: they already say how long to wait.
type retryTransport struct {
	next        http.RoundTripper
	maxAttempts int
	// sleep waits d or until ctx is done (tests shorten it).
	sleep func(ctx context.Context, d time.Duration) error
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !safe(req) || t.maxAttempts <= 1 {
		return t.next.RoundTrip(req)
	}
	ctx := req.Context()
	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 {
			r = req.Clone(context.WithValue(ctx, attemptKey, attempt))
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = body
			}
		}
		resp, err := t.next.RoundTrip(r)
		var refused *sources.Error
		if errors.As(err, &refused) {
			return nil, err
		}
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		if (err == nil && !retryable(status)) || attempt >= t.maxAttempts || ctx.Err() != nil {
			return resp, err
		}
		now := time.Now()
		var h http.Header
		if resp != nil {
			h = resp.Header
		}
		wait := backoff(attempt, retryAfter(h, status, now))
		if deadline, ok := ctx.Deadline(); ok && now.Add(wait).After(deadline) {
			return resp, err // no time left for another attempt
		}
		if t.wait(ctx, wait) != nil {
			return resp, err // the caller left, or its deadline came: the last outcome stands
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}

func (t *retryTransport) wait(ctx context.Context, d time.Duration) error {
	if t.sleep != nil {
		return t.sleep(ctx, d)
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// safe says whether repeating req cannot do anything twice. Intercom's
// searches are POSTs that only read.
func safe(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
		return true
	}
	return req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/search")
}

// retryable says whether a failed attempt of a safe call is worth repeating;
// status 0 is no answer.
func retryable(status int) bool {
	switch status {
	case 0, http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// backoff is the wait before retry n (from 1): exponential with jitter, at
// least what the server asked for.
func backoff(n int, asked time.Duration) time.Duration {
	base := 100 * time.Millisecond << min(n-1, 5)
	d := time.Duration(rand.Int64N(int64(base))) + base/2
	return max(d, asked)
}

// retryAfter reads Retry-After in both of its forms (seconds, or an HTTP
// date), and for a 429 X-RateLimit-Reset (Unix time); every Intercom answer
// carries the latter, so it only means "wait" when the limit was hit.
func retryAfter(h http.Header, status int, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			return time.Duration(s) * time.Second
		}
		if at, err := http.ParseTime(v); err == nil {
			return max(at.Sub(now), 0)
		}
	}
	if status != http.StatusTooManyRequests {
		return 0
	}
	if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
		if d := time.Unix(reset, 0).Sub(now); d > 0 {
			return d
		}
		return time.Second
	}
	return 0
}
