package intercom

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/sources"
)

// fakeUpstream answers each RoundTrip with answer(req).
type fakeUpstream struct {
	calls  atomic.Int32
	answer func(req *http.Request) (*http.Response, error)
}

func (f *fakeUpstream) RoundTrip(req *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	return f.answer(req)
}

func answer(status int, header ...string) func(*http.Request) (*http.Response, error) {
	return func(req *http.Request) (*http.Response, error) {
		h := http.Header{}
		for i := 0; i+1 < len(header); i += 2 {
			h.Set(header[i], header[i+1])
		}
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader("{}")), Request: req}, nil
	}
}

// hang waits for the request's context, as an Intercom slower than the caller.
func hang(req *http.Request) (*http.Response, error) {
	<-req.Context().Done()
	return nil, req.Context().Err()
}

func get(t *testing.T, ctx context.Context, path string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://intercom.test"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func send(t *testing.T, rt http.RoundTripper, ctx context.Context) (int, error) {
	t.Helper()
	resp, err := rt.RoundTrip(get(t, ctx, "/admins"))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func refusedByBreaker(err error) bool {
	var e *sources.Error
	return errors.As(err, &e) && e.Code == sources.EUpstreamUnavailable && e.RetryAfterSeconds >= 1
}

// testPolicy opens the breaker after 3 calls that all failed, and closes
// it after one probe.
func testPolicy(cooldown time.Duration) breakerPolicy {
	return breakerPolicy{failurePercent: 50, minCalls: 3, window: time.Minute, cooldown: cooldown, probes: 1}
}

func TestBreaker(t *testing.T) {
	const cooldown = 50 * time.Millisecond
	setup := func() (*fakeUpstream, *breaker, http.RoundTripper) {
		up := &fakeUpstream{answer: answer(503)}
		b := newBreaker("test", testPolicy(cooldown))
		return up, b, &breakerCall{next: &breakerTransport{next: up, b: b}}
	}
	open := func(t *testing.T, rt http.RoundTripper) {
		t.Helper()
		for range 3 {
			send(t, rt, context.Background())
		}
		if _, err := send(t, rt, context.Background()); !refusedByBreaker(err) {
			t.Fatalf("after 3 failures: %v, want the breaker open", err)
		}
	}

	t.Run("callers that hang up are not Intercom's failures", func(t *testing.T) {
		up, b, rt := setup()
		up.answer = hang
		for range 6 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
			send(t, rt, ctx)
			cancel()
			ctx, cancel = context.WithCancel(context.Background())
			go cancel()
			send(t, rt, ctx)
		}
		if _, isOpen := b.open(); isOpen {
			t.Fatal("12 abandoned calls opened the breaker")
		}
		up.answer = answer(200)
		if _, err := send(t, rt, context.Background()); err != nil {
			t.Errorf("after abandoned calls: %v", err)
		}
	})

	t.Run("the client's own timeout is Intercom's failure", func(t *testing.T) {
		up, b, rt := setup()
		up.answer = hang
		for range 3 {
			ctx, cancel := context.WithTimeoutCause(context.Background(), 5*time.Millisecond, errCallTimeout)
			send(t, rt, ctx)
			cancel()
		}
		if _, isOpen := b.open(); !isOpen {
			t.Fatal("3 calls Intercom left unanswered past the timeout did not open the breaker")
		}
	})

	t.Run("half-open success closes it", func(t *testing.T) {
		up, b, rt := setup()
		open(t, rt)
		up.answer = answer(200)
		time.Sleep(cooldown + 10*time.Millisecond)
		for i := range 3 {
			if _, err := send(t, rt, context.Background()); err != nil {
				t.Fatalf("call %d after the cool-down: %v", i, err)
			}
		}
		if _, isOpen := b.open(); isOpen {
			t.Error("a successful probe left the breaker open")
		}
	})

	t.Run("half-open failure reopens it", func(t *testing.T) {
		up, _, rt := setup()
		open(t, rt)
		time.Sleep(cooldown + 10*time.Millisecond)
		if status, err := send(t, rt, context.Background()); status != 503 || err != nil {
			t.Fatalf("probe: %d %v, want Intercom's 503", status, err)
		}
		before := up.calls.Load()
		if _, err := send(t, rt, context.Background()); !refusedByBreaker(err) {
			t.Errorf("after a failed probe: %v, want the breaker open", err)
		}
		if up.calls.Load() != before {
			t.Error("a reopened breaker let a call through")
		}
	})

	t.Run("an abandoned probe frees the slot", func(t *testing.T) {
		up, _, rt := setup()
		open(t, rt)
		time.Sleep(cooldown + 10*time.Millisecond)
		up.answer = hang
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		send(t, rt, ctx) // the probe: its caller hangs up
		cancel()
		up.answer = answer(200)
		if _, err := send(t, rt, context.Background()); err != nil {
			t.Errorf("after an abandoned probe: %v, want the next call to probe", err)
		}
	})

	// The governor is asked first: a probe it refuses never reaches the
	// breaker, which then still lets the next admitted call probe.
	t.Run("a probe the governor refuses cannot wedge it", func(t *testing.T) {
		up := &fakeUpstream{answer: answer(503)}
		b := newBreaker("test", testPolicy(cooldown))
		g := newGovernor(60, 100, 30) // 10 calls a window
		rt := &breakerCall{next: &governorTransport{next: &breakerTransport{next: up, b: b}, g: g}}
		open(t, rt)
		time.Sleep(cooldown + 10*time.Millisecond)
		g.mu.Lock()
		g.used = g.perWindow // the window is spent
		g.mu.Unlock()
		var coded *sources.Error
		if _, err := send(t, rt, context.Background()); !errors.As(err, &coded) || coded.Code != sources.ERateLimited {
			t.Fatalf("probe with the budget spent: %v, want RATE_LIMITED", err)
		}
		g.mu.Lock()
		g.used = 0
		g.mu.Unlock()
		// While the breaker is open, refused calls spend nothing of the budget.
		probe, err := b.cb.Allow()
		if err != nil {
			t.Fatalf("no probe after the cool-down: %v", err)
		}
		probe(errFailedStatus) // a failed probe reopens it
		for range 20 {
			if _, err := send(t, rt, context.Background()); !refusedByBreaker(err) {
				t.Fatalf("reopened breaker: %v", err)
			}
		}
		g.mu.Lock()
		used := g.used
		g.mu.Unlock()
		if used != 0 {
			t.Errorf("%d calls of the budget spent on calls the breaker refused, want 0", used)
		}
		time.Sleep(cooldown + 10*time.Millisecond)
		up.answer = answer(200)
		for i := range 3 {
			if _, err := send(t, rt, context.Background()); err != nil {
				t.Fatalf("call %d once the budget is back: %v", i, err)
			}
		}
	})
}

func TestRetries(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name     string
		header   []string
		min, max time.Duration // of the wait before the retry
	}{
		{"Retry-After in seconds", []string{"Retry-After", "2"}, 2 * time.Second, 2 * time.Second},
		{"Retry-After as an HTTP date", []string{"Retry-After", now.Add(3 * time.Second).UTC().Format(http.TimeFormat)}, 1 * time.Second, 3 * time.Second},
		{"no Retry-After: jittered backoff", nil, 50 * time.Millisecond, 150 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up := &fakeUpstream{}
			up.answer = func(req *http.Request) (*http.Response, error) {
				if up.calls.Load() == 1 {
					return answer(503, tc.header...)(req)
				}
				if got := attemptOf(req.Context()); got != 2 {
					t.Errorf("second attempt is told attempt %d", got)
				}
				return answer(200)(req)
			}
			var waited []time.Duration
			rt := &retryTransport{next: up, maxAttempts: 3, sleep: func(_ context.Context, d time.Duration) error {
				waited = append(waited, d)
				return nil
			}}
			if status, err := send(t, rt, context.Background()); status != 200 || err != nil {
				t.Fatalf("got %d %v, want 200 after a retry", status, err)
			}
			if len(waited) != 1 || waited[0] < tc.min || waited[0] > tc.max {
				t.Errorf("waited %v, want one wait in [%s, %s]", waited, tc.min, tc.max)
			}
		})
	}

	t.Run("never past the deadline", func(t *testing.T) {
		up := &fakeUpstream{answer: answer(503, "Retry-After", "30")}
		rt := &retryTransport{next: up, maxAttempts: 3}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		if status, _ := send(t, rt, ctx); status != 503 {
			t.Errorf("got %d, want Intercom's 503 at once", status)
		}
		if d := time.Since(start); d > 100*time.Millisecond || up.calls.Load() != 1 {
			t.Errorf("%d calls in %s, want 1 at once: the wait asked would pass the deadline", up.calls.Load(), d)
		}
	})

	t.Run("creating writes and refusals are not retried", func(t *testing.T) {
		up := &fakeUpstream{answer: answer(503)}
		rt := &retryTransport{next: up, maxAttempts: 3, sleep: func(context.Context, time.Duration) error { return nil }}
		req, _ := http.NewRequest(http.MethodPost, "http://intercom.test/contacts", strings.NewReader("{}"))
		if resp, err := rt.RoundTrip(req); err != nil || resp.StatusCode != 503 || up.calls.Load() != 1 {
			t.Errorf("POST /contacts: %v, %d calls, want one", err, up.calls.Load())
		}
		up.calls.Store(0)
		up.answer = func(*http.Request) (*http.Response, error) { return nil, refusedError(workspaceSpent, time.Second) }
		if _, err := send(t, rt, context.Background()); sources.ErrorCode(err) != sources.ERateLimited || up.calls.Load() != 1 {
			t.Errorf("refused: %v, %d calls, want the refusal after one", err, up.calls.Load())
		}
	})

	t.Run("searches resend their body", func(t *testing.T) {
		var bodies []string
		up := &fakeUpstream{}
		up.answer = func(req *http.Request) (*http.Response, error) {
			b, _ := io.ReadAll(req.Body)
			bodies = append(bodies, string(b))
			if len(bodies) == 1 {
				return nil, errors.New("connection reset")
			}
			return answer(200)(req)
		}
		rt := &retryTransport{next: up, maxAttempts: 3, sleep: func(context.Context, time.Duration) error { return nil }}
		req, _ := http.NewRequest(http.MethodPost, "http://intercom.test/contacts/search", strings.NewReader(`{"q":1}`))
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
		if len(bodies) != 2 || bodies[1] != `{"q":1}` {
			t.Errorf("bodies sent %q, want the search twice", bodies)
		}
	})
}
