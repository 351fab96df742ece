package intercom

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/talkdesk-intercom/api/sources"
)

// breaker stops calling an Intercom that keeps failing: after threshold
// consecutive failures (no answer, or a 5xx) it opens for cooldown, then
// lets one probe through, whose outcome closes or reopens it.
//
// Only Intercom's failures count: a call whose caller cancelled it or whose
// caller's deadline passed is excluded (neither success nor failure), and an
// excluded probe frees the half-open slot, so nothing can wedge the breaker
// in "probing". The client's own timeout (Config.Timeout) does count: that
// is Intercom being too slow.
type breaker struct {
	cb       *gobreaker.CircuitBreaker[*http.Response]
	cooldown time.Duration

	mu       sync.Mutex
	openedAt time.Time
}

// errBreakerOpen is the cause of the breaker's refusals: the governor gives
// back the call it had admitted, which never reached Intercom.
var errBreakerOpen = errors.New("circuit breaker open")

// errFailedStatus marks a 5xx for the breaker; the response itself goes on.
var errFailedStatus = errors.New("intercom answered 5xx")

// callerGoneError marks a call its caller abandoned (err may be nil when
// the answer came anyway).
type callerGoneError struct{ err error }

func (e callerGoneError) Error() string { return "the caller left" }

func newBreaker(name string, threshold int, cooldown time.Duration) *breaker {
	b := &breaker{cooldown: cooldown}
	b.cb = gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
		Name:        name,
		MaxRequests: 1,
		Timeout:     cooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(threshold) },
		IsExcluded:  func(err error) bool { return errors.As(err, new(callerGoneError)) },
		OnStateChange: func(_ string, _, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				b.mu.Lock()
				b.openedAt = time.Now()
				b.mu.Unlock()
			}
		},
	})
	return b
}

// open says whether calls are refused now, and for how long at most.
func (b *breaker) open() (time.Duration, bool) {
	switch b.cb.State() {
	case gobreaker.StateOpen:
		b.mu.Lock()
		wait := time.Until(b.openedAt.Add(b.cooldown))
		b.mu.Unlock()
		return max(wait, time.Second), true
	case gobreaker.StateHalfOpen:
		return time.Second, false // a probe may go
	}
	return 0, false
}

type breakerTransport struct {
	next http.RoundTripper
	b    *breaker
}

func (t *breakerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.b.cb.Execute(func() (*http.Response, error) {
		resp, err := t.next.RoundTrip(req)
		switch {
		case callerGone(req.Context()):
			return resp, callerGoneError{err}
		case err != nil:
			return resp, err
		case resp.StatusCode >= 500:
			return resp, errFailedStatus
		}
		return resp, nil // a 429 is the governor's business, a 4xx the caller's
	})
	switch {
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		if req.Body != nil {
			req.Body.Close() // a RoundTripper closes the body, sent or not
		}
		wait, _ := t.b.open()
		return nil, &sources.Error{Code: sources.EUpstreamUnavailable, RetryAfterSeconds: max(1, ceilSeconds(wait)),
			Message: "Intercom is failing; calls are paused for a moment (circuit breaker open)", Err: errBreakerOpen}
	case errors.Is(err, errFailedStatus):
		return resp, nil
	}
	var gone callerGoneError
	if errors.As(err, &gone) {
		return resp, gone.err
	}
	return resp, err
}
