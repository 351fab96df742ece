package intercom_test

import (
	"context"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/intercom"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

func TestSafeCallsAreRetried(t *testing.T) {
	c, ws := start(t)
	for _, f := range []emulator.Faults{
		{FailNext: 2, ErrorStatus: 503},
		{FailNext: 2, ErrorStatus: 500},
		{ResetRate: 0.5},
	} {
		ws.SetFaults(f)
		ws.ResetCalls()
		if _, err := c.ListAgents(context.Background()); err != nil {
			t.Errorf("faults %+v: %v, want success after retries", f, err)
		}
		if n := ws.Calls(emulator.EndpointAdmins); n < 2 && f.ResetRate == 0 {
			t.Errorf("faults %+v: %d calls, want a retry", f, n)
		}
	}
	// Searches are reads: retried too.
	ws.SetFaults(emulator.Faults{FailNext: 1, ErrorStatus: 502})
	if _, err := c.SearchContacts(context.Background(), "garcia", 5); err != nil {
		t.Errorf("search after one 502: %v", err)
	}
}

func TestRetriesStopAtTheDeadline(t *testing.T) {
	c, ws := startWith(t, intercom.Config{Timeout: 300 * time.Millisecond})
	ws.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: 503})
	start := time.Now()
	_, err := c.ListAgents(context.Background())
	if sources.ErrorCode(err) != sources.EUpstreamUnavailable {
		t.Errorf("got %v, want UPSTREAM_UNAVAILABLE", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("a call with a 300ms deadline took %s", elapsed)
	}
}

// After sustained failure the breaker opens: calls fail fast without
// reaching Intercom; after the cool-down one probe goes through and closes it.
func TestBreakerOpensAndProbes(t *testing.T) {
	c, ws := startWith(t, intercom.Config{BreakerMinCalls: 3, BreakerCooldown: 200 * time.Millisecond, BreakerProbes: 1, MaxAttempts: 1})
	ws.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: 503})
	for range 3 {
		c.ListAgents(context.Background())
	}
	ws.ResetCalls()
	_, err := c.ListAgents(context.Background())
	var coded *sources.Error
	if !asError(err, &coded) || coded.Code != sources.EUpstreamUnavailable || coded.RetryAfterSeconds < 1 {
		t.Errorf("open breaker: %v, want UPSTREAM_UNAVAILABLE with a retry-after", err)
	}
	if n := ws.TotalCalls(); n != 0 {
		t.Errorf("open breaker let %d calls through", n)
	}
	ws.SetFaults(emulator.Faults{})
	time.Sleep(250 * time.Millisecond)
	if _, err := c.ListAgents(context.Background()); err != nil {
		t.Errorf("probe after the cool-down: %v", err)
	}
	if _, err := c.ListAgents(context.Background()); err != nil {
		t.Errorf("closed breaker: %v", err)
	}
}

// Calls their callers cancelled are no failure of Intercom's: however many,
// they do not open the breaker (readEach cancels a batch's other reads when
// one is refused by the governor).
func TestBreakerIgnoresCancelledCalls(t *testing.T) {
	c, _ := startWith(t, intercom.Config{BreakerMinCalls: 2, MaxAttempts: 1})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for range 3 {
		c.ListAgents(cancelled)
	}
	if _, err := c.ListAgents(context.Background()); err != nil {
		t.Errorf("after cancelled calls: %v, want success", err)
	}
}

// The governor follows Intercom's X-RateLimit-Remaining: once the window's
// budget is spent, calls fail fast instead of provoking 429s.
func TestGovernorFollowsIntercomsBudget(t *testing.T) {
	em, err := emulator.Start(emulator.Options{Token: token, RateLimit: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	c, _ := intercom.New(intercom.Config{Token: token, BaseURL: em.URL})
	for range 5 {
		if _, err := c.ListAgents(context.Background()); err != nil {
			t.Fatalf("within budget: %v", err)
		}
	}
	before := em.Workspace.TotalCalls()
	_, err = c.ListAgents(context.Background())
	var coded *sources.Error
	if !asError(err, &coded) || coded.Code != sources.ERateLimited || coded.RetryAfterSeconds < 1 {
		t.Errorf("budget spent: %v, want RATE_LIMITED with a retry-after", err)
	}
	if n := em.Workspace.TotalCalls() - before; n != 0 {
		t.Errorf("%d calls reached Intercom after its budget was spent, want 0", n)
	}
}

// The service's own budget applies even before Intercom says anything.
func TestOwnRateBudget(t *testing.T) {
	c, ws := startWith(t, intercom.Config{RateLimitPerMinute: 18}) // 3 per 10-second window
	for range 3 {
		if _, err := c.ListAgents(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	ws.ResetCalls()
	if _, err := c.ListAgents(context.Background()); sources.ErrorCode(err) != sources.ERateLimited {
		t.Errorf("over budget: %v, want RATE_LIMITED", err)
	}
	if ws.TotalCalls() != 0 {
		t.Error("an over-budget call reached Intercom")
	}
}
