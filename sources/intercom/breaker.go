package intercom

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/talkdesk-intercom/api/sources"
)

// breaker stops calling an Intercom that keeps failing. It counts calls,
// not attempts: a call and the retries of it are one outcome, its last
// attempt's (no answer or a 5xx is a failure). It opens when, over the last
// window (a rolling one, in tenths), at least minCalls calls ended and
// failurePercent of them or more failed: an Intercom that fails now and then
// is called on, retries absorbing its failures, while one that fails most
// calls is left alone. After cooldown it lets probes calls through: all of
// them succeeding closes it, any failing opens it again.
//
// Only Intercom's failures count: a call whose caller cancelled it or whose
// caller's deadline passed is excluded (neither success nor failure), and an
// excluded probe frees its half-open slot, so nothing can wedge the breaker
// in "probing". The client's own timeout (Config.Timeout) does count: that
// is Intercom being too slow.
type breaker struct {
	cb       *gobreaker.TwoStepCircuitBreaker[*http.Response]
	cooldown time.Duration

	mu       sync.Mutex
	openedAt time.Time
}

// breakerPolicy is when the breaker opens and how it closes (see breaker).
type breakerPolicy struct {
	failurePercent int
	minCalls       int
	window         time.Duration
	cooldown       time.Duration
	probes         int
}

// errBreakerOpen is the cause of the breaker's refusals: the call never
// reached Intercom, and the budgets it was counted in get it back.
var errBreakerOpen = errors.New("circuit breaker open")

// errFailedStatus marks a 5xx for the breaker; the response itself goes on.
var errFailedStatus = errors.New("intercom answered 5xx")

// errCallerGone marks a call its caller abandoned.
var errCallerGone = errors.New("the caller left")

func newBreaker(name string, p breakerPolicy) *breaker {
	b := &breaker{cooldown: p.cooldown}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[*http.Response](gobreaker.Settings{
		Name:         name,
		MaxRequests:  uint32(max(p.probes, 1)),
		Interval:     p.window,
		BucketPeriod: p.window / 10,
		Timeout:      p.cooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			ended := uint64(c.TotalSuccesses) + uint64(c.TotalFailures)
			byRatio := ended >= uint64(p.minCalls) && uint64(c.TotalFailures)*100 >= uint64(p.failurePercent)*ended
			// A dead Intercom opens it at once, without waiting for the
			// successes of before the outage to leave the window: twice the
			// minimum of calls failing in a row is (almost) never a flaky one.
			return byRatio || c.ConsecutiveFailures >= uint32(2*max(p.minCalls, 1))
		},
		IsExcluded: func(err error) bool { return errors.Is(err, errCallerGone) },
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
		return time.Second, false // probes may go
	}
	return 0, false
}

// call is one logical call to Intercom: a request and the retries of it.
type call struct {
	done    func(error) // the breaker's admission of the call; nil until an attempt got one
	outcome error       // of the last attempt that reached Intercom
}

// admit lets an attempt of c through, or says why not. A call's first
// attempt asks the breaker (while it is half-open, for one of its probes);
// a retry of an admitted call goes on unless the breaker has opened since.
func (b *breaker) admit(c *call) error {
	if c.done != nil {
		if b.cb.State() == gobreaker.StateOpen {
			return gobreaker.ErrOpenState
		}
		return nil
	}
	done, err := b.cb.Allow()
	c.done = done
	return err
}

// breakerCall is the outermost layer: it makes a request and the retries
// of it one call, whose outcome the breaker counts once, as it ends.
type breakerCall struct {
	next http.RoundTripper
}

func (t *breakerCall) RoundTrip(req *http.Request) (*http.Response, error) {
	c := &call{}
	resp, err := t.next.RoundTrip(req.WithContext(context.WithValue(req.Context(), callKey, c)))
	if c.done != nil {
		c.done(c.outcome)
	}
	return resp, err
}

// breakerTransport is asked for each attempt, under breakerCall: it refuses
// attempts while the breaker is open, and notes the outcome of those it
// lets through.
type breakerTransport struct {
	next http.RoundTripper
	b    *breaker
}

func (t *breakerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	c := ctx.Value(callKey).(*call)
	if err := t.b.admit(c); err != nil {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper closes the body, sent or not
		}
		wait, _ := t.b.open()
		return nil, &sources.Error{Code: sources.EUpstreamUnavailable, RetryAfterSeconds: max(1, ceilSeconds(wait)),
			Message: "Intercom is failing; calls are paused for a moment (circuit breaker open)", Err: errBreakerOpen}
	}
	resp, err := t.next.RoundTrip(req)
	switch {
	case callerGone(ctx):
		c.outcome = errCallerGone
	case err != nil:
		c.outcome = err
	case resp.StatusCode >= 500:
		c.outcome = errFailedStatus
	default:
		c.outcome = nil // a 429 is the governor's business, a 4xx the caller's
	}
	return resp, err
}
