package intercom

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/talkdesk-intercom/api/internal/budget"
	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

const emulatorToken = "breaker-test-token"

// againstEmulator is a client of an emulated Intercom, over real HTTP.
func againstEmulator(t *testing.T, cfg Config) (*Client, *emulator.Workspace) {
	t.Helper()
	em, err := emulator.Start(emulator.Options{Token: emulatorToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	cfg.Token, cfg.BaseURL = emulatorToken, em.URL
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, em.Workspace
}

// governorOf is the governor in c's chain of layers.
func governorOf(c *Client) *governor {
	return c.http.Transport.(*breakerCall).next.(*retryTransport).next.(*governorTransport).g
}

// Half of the calls failing, never two in a row, opens the breaker once
// enough calls have ended: the ratio trips it, not a run of failures. After
// its cool-down its probes close it.
func TestBreakerTripsOnTheFailureRatio(t *testing.T) {
	const cooldown = 200 * time.Millisecond
	c, ws := againstEmulator(t, Config{MaxAttempts: 1, BreakerFailurePercent: 50, BreakerMinCalls: 10,
		BreakerWindow: time.Minute, BreakerCooldown: cooldown, BreakerProbes: 3})
	ctx := context.Background()
	for i := range 10 {
		if _, isOpen := c.BreakerOpen(); isOpen {
			t.Fatalf("open after %d calls, half of them failed: want it closed until 10 have ended", i)
		}
		if i%2 == 1 {
			ws.SetFaults(emulator.Faults{FailNext: 1, ErrorStatus: 503})
		}
		_, err := c.ListAgents(ctx)
		if failed := err != nil; failed != (i%2 == 1) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if _, isOpen := c.BreakerOpen(); !isOpen {
		t.Fatal("5 of 10 calls failed: want the breaker open")
	}
	ws.ResetCalls()
	if _, err := c.ListAgents(ctx); sources.ErrorCode(err) != sources.EUpstreamUnavailable || ws.TotalCalls() != 0 {
		t.Fatalf("open breaker: %v, %d calls reached Intercom; want refused, none", err, ws.TotalCalls())
	}

	// Half-open: a few probes go at once, the rest wait for their word.
	time.Sleep(cooldown + 20*time.Millisecond)
	ws.SetLatency(300 * time.Millisecond) // the probes are still out when the others ask
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	for range 6 {
		wg.Go(func() {
			if _, err := c.ListAgents(ctx); err != nil {
				mu.Lock()
				refused++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ws.TotalCalls() != 3 || refused != 3 {
		t.Errorf("half-open: %d calls reached Intercom, %d refused; want the 3 probes through, 3 refused", ws.TotalCalls(), refused)
	}
	if state := c.breaker.cb.State(); state != gobreaker.StateClosed {
		t.Errorf("after 3 successful probes the breaker is %s, want closed", state)
	}
	ws.SetLatency(0)
	if _, err := c.ListAgents(ctx); err != nil {
		t.Errorf("closed again: %v", err)
	}
}

// A flaky Intercom, half of its answers failing, is called on: a read and
// its retries are one call, which mostly succeeds, and the breaker stays
// closed.
func TestBreakerToleratesAFlakyIntercom(t *testing.T) {
	c, ws := againstEmulator(t, Config{})
	ws.SetFaults(emulator.Faults{ErrorRate: 0.5, ErrorStatus: 503})
	failed := 0
	for range 20 {
		if _, err := c.ListAgents(context.Background()); err != nil {
			failed++
		}
		if _, isOpen := c.BreakerOpen(); isOpen {
			t.Fatalf("the breaker opened at half of the answers failing (%d of the calls so far failed)", failed)
		}
	}
	if failed > 8 {
		t.Errorf("%d of 20 reads failed at half of the answers failing: the retries should save most", failed)
	}
}

// A safe read and its retries count once, as their last attempt.
func TestBreakerCountsARetriedReadOnce(t *testing.T) {
	c, ws := againstEmulator(t, Config{MaxAttempts: 3})
	ws.SetFaults(emulator.Faults{FailNext: 2, ErrorStatus: 503})
	if _, err := c.ListAgents(context.Background()); err != nil {
		t.Fatalf("read after two failed attempts: %v", err)
	}
	if n := ws.TotalCalls(); n != 3 {
		t.Fatalf("%d attempts reached Intercom, want 3", n)
	}
	if got := c.breaker.cb.Counts(); got.Requests != 1 || got.TotalSuccesses != 1 || got.TotalFailures != 0 {
		t.Errorf("the breaker counted %+v, want one call, a success", got)
	}
	ws.SetFaults(emulator.Faults{FailNext: 3, ErrorStatus: 503})
	if _, err := c.ListAgents(context.Background()); err == nil {
		t.Fatal("three failed attempts: want the read failed")
	}
	if got := c.breaker.cb.Counts(); got.Requests != 2 || got.TotalSuccesses != 1 || got.TotalFailures != 1 {
		t.Errorf("the breaker counted %+v, want two calls, one failed", got)
	}
}

// Calls the breaker refuses, and calls that fail before they leave the
// process, spend nothing: neither of the replica's governor nor of the
// fleet's count in Redis, which counts exactly the calls that reached
// Intercom.
func TestCallsNotMadeSpendNoBudget(t *testing.T) {
	client := redistest.Client(t, redistest.Addr(t))
	fleet := budget.New(client, redis.NewHealth(client, time.Second, nil))
	ws := redistest.Unique("ws")
	ctx := context.Background()
	// The whole test runs in one window of the fleet's count.
	if left := time.Until(time.Now().Truncate(rateWindow).Add(rateWindow)); left < 3*time.Second {
		time.Sleep(left)
	}
	window := redis.BudgetWindowKey(ws, time.Now().Truncate(rateWindow))
	counted := func() int {
		t.Helper()
		n, _ := client.HGet(ctx, window, "all").Int()
		return n
	}

	c, up := againstEmulator(t, Config{Fleet: fleet, Workspace: sources.KnownWorkspaceID(ws),
		MaxAttempts: 1, BreakerMinCalls: 3, BreakerCooldown: time.Minute})
	up.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: 503})
	for range 3 {
		c.ListAgents(ctx)
	}
	if _, isOpen := c.BreakerOpen(); !isOpen {
		t.Fatal("3 failed calls did not open the breaker")
	}
	g := governorOf(c)
	usedBefore, _ := g.usedInWindow(time.Now())
	g.mu.Lock()
	remainingBefore := g.remaining // Intercom's X-RateLimit-Remaining, as last told
	g.mu.Unlock()
	before := counted()
	// A count whose answer came too late (a busy machine) is counted again
	// with the next call: over by one at most, never under.
	if made := up.TotalCalls(); before < made || before > made+1 {
		t.Errorf("the fleet counted %d calls, %d reached Intercom", before, made)
	}
	for range 40 {
		if _, err := c.ListAgents(ctx); sources.ErrorCode(err) != sources.EUpstreamUnavailable {
			t.Fatalf("open breaker: %v, want UPSTREAM_UNAVAILABLE", err)
		}
	}
	if used, _ := g.usedInWindow(time.Now()); used != usedBefore {
		t.Errorf("the governor counted %d calls after 40 refusals, %d before", used, usedBefore)
	}
	g.mu.Lock()
	remainingAfter := g.remaining
	g.mu.Unlock()
	if remainingBefore <= 0 || remainingAfter != remainingBefore {
		t.Errorf("Intercom's remaining budget as the governor counts it: %d after 40 refusals, %d before; want it told and unchanged",
			remainingAfter, remainingBefore)
	}
	if after := counted(); after != before {
		t.Errorf("the fleet counted %d calls after 40 refusals, %d before", after, before)
	}

	// Nothing listens where this client calls: no call leaves the process.
	dead, err := New(Config{Token: emulatorToken, BaseURL: "http://127.0.0.1:1", Fleet: fleet,
		Workspace: sources.KnownWorkspaceID(ws), MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dead.ListAgents(ctx); sources.ErrorCode(err) != sources.EUpstreamUnavailable {
		t.Fatalf("no Intercom to call: %v, want UPSTREAM_UNAVAILABLE", err)
	}
	if used, _ := governorOf(dead).usedInWindow(time.Now()); used != 0 {
		t.Errorf("the governor counted %d calls that could not be sent", used)
	}
	if after := counted(); after != before {
		t.Errorf("the fleet counted %d calls after 2 that could not be sent, %d before", after, before)
	}
}
