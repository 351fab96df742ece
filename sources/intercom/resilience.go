package intercom

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/talkdesk-intercom/api/sources"
)

// Three guards stand between the client and Intercom:
//   - the governor keeps the workspace inside its rate limit, following
//     Intercom's X-RateLimit-* headers and its 10-second windows, so that this
//     service never causes a 429 storm, and shares each window out among
//     callers and between interactive and bulk work (see newGovernor): when
//     a budget is spent, calls fail fast with RATE_LIMITED and a retry-after
//     hint;
//   - the breaker stops calling an Intercom that keeps failing (5xx,
//     timeouts, resets), and lets one probe through after a cool-down;
//   - retries repeat safe calls (reads and searches, idempotent PUT/DELETE)
//     on 429/5xx/timeouts/resets with jittered backoff that honours
//     Retry-After, within the call's deadline. Creating writes are never
//     retried here: the idempotency guard above the client owns that.

// rateWindow is Intercom's enforcement window.
const rateWindow = 10 * time.Second

type governor struct {
	mu          sync.Mutex
	perWindow   int // our own budget per window
	callerShare int // most calls of a window one caller may make
	reserve     int // calls of a window that bulk work leaves to interactive calls
	// callerReserve is the part of a caller's own share that its bulk work
	// leaves to its interactive calls.
	callerReserve int
	windowStart   time.Time // start of the current local window
	used          int
	byCaller      map[string]int // calls per caller in the current window only
	remaining     int            // from X-RateLimit-Remaining; -1 until Intercom says
	resetAt       time.Time      // from X-RateLimit-Reset or Retry-After
}

// refusal says why the governor refused a call; admitted when it did not.
type refusal int

const (
	admitted               refusal = iota
	workspaceSpent                 // the workspace's window is spent (ours or Intercom's)
	callerShareSpent               // this caller has had its share of the window (for bulk work: all but its reserve)
	reservedForInteractive         // bulk work: only the workspace's interactive reserve is left
)

// newGovernor shares perMinute calls out by 10-second windows: one caller
// gets at most callerSharePercent of a window, and bulk work stops while only
// interactiveReservePercent of it is left (of the workspace's window, and of
// the caller's own share). Zero percentages take the defaults (50 and 30).
func newGovernor(perMinute, callerSharePercent, interactiveReservePercent int) *governor {
	if perMinute <= 0 {
		perMinute = 10_000 // a private app's limit
	}
	if callerSharePercent <= 0 || callerSharePercent > 100 {
		callerSharePercent = DefaultCallerShare
	}
	if interactiveReservePercent <= 0 || interactiveReservePercent >= 100 {
		interactiveReservePercent = DefaultInteractiveReserve
	}
	perWindow := max(1, perMinute/6)
	share := max(1, perWindow*callerSharePercent/100)
	// Reserves round down, so that bulk work gets at least one call of a
	// window when the budget is tiny.
	return &governor{perWindow: perWindow, callerShare: share,
		reserve: perWindow * interactiveReservePercent / 100, callerReserve: share * interactiveReservePercent / 100,
		byCaller: map[string]int{}, remaining: -1}
}

// take reserves one call for caller at priority p, or says why not and how
// long to wait. Calls without a caller are the service's own (start-up
// checks, cache warm-up): no share applies to them, the reserve does.
func (g *governor) take(now time.Time, caller string, p sources.CallPriority) (time.Duration, refusal) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(g.windowStart) >= rateWindow {
		g.windowStart, g.used = now, 0
		clear(g.byCaller) // callers are counted for one window: the map never outgrows it
	}
	wait := g.windowStart.Add(rateWindow).Sub(now)
	intercomSays := g.remaining >= 0 && now.Before(g.resetAt)
	if g.remaining == 0 && intercomSays {
		return g.resetAt.Sub(now), workspaceSpent
	}
	if g.used >= g.perWindow {
		return wait, workspaceSpent
	}
	share, reserve := g.callerShare, g.callerReserve
	if caller == "" {
		share, reserve = g.perWindow, 0
	}
	mine := g.byCaller[caller]
	if mine >= share || (p == sources.Bulk && share-mine <= reserve) {
		return wait, callerShareSpent
	}
	if p == sources.Bulk {
		left := g.perWindow - g.used
		if intercomSays && g.remaining < left {
			left, wait = g.remaining, g.resetAt.Sub(now)
		}
		if left <= g.reserve {
			return wait, reservedForInteractive
		}
	}
	g.used++
	g.byCaller[caller] = mine + 1
	if g.remaining > 0 {
		g.remaining--
	}
	return 0, admitted
}

// usedInWindow is how many calls the current window has admitted (this one
// included) and how long until it ends.
func (g *governor) usedInWindow(now time.Time) (int, time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.used, g.windowStart.Add(rateWindow).Sub(now)
}

// observe learns the workspace's remaining budget from a response.
func (g *governor) observe(status int, h http.Header, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r, err := strconv.Atoi(h.Get("X-RateLimit-Remaining")); err == nil && r >= 0 {
		g.remaining = r
		if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			g.resetAt = time.Unix(reset, 0)
		}
	}
	if status == http.StatusTooManyRequests {
		g.remaining = 0
		if d := retryAfter(h, status, now); d > 0 {
			g.resetAt = now.Add(time.Duration(d) * time.Second)
		} else if !g.resetAt.After(now) {
			g.resetAt = now.Add(time.Second)
		}
	}
}

// breaker is a circuit breaker: closed (calls flow), open (calls fail fast
// for cooldown), half-open (one probe decides).
type breaker struct {
	mu        sync.Mutex
	threshold int
	cooldown  time.Duration
	failures  int
	openUntil time.Time
	probing   bool
}

func newBreaker(threshold int, cooldown time.Duration) *breaker {
	return &breaker{threshold: threshold, cooldown: cooldown}
}

// allow says whether a call may go, or how long until the breaker probes.
func (b *breaker) allow(now time.Time) (wait time.Duration, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.openUntil.IsZero():
		return 0, true
	case now.Before(b.openUntil):
		return b.openUntil.Sub(now), false
	case b.probing:
		return time.Second, false
	default:
		b.probing = true // half-open: this call is the probe
		return 0, true
	}
}

// record tells the breaker how a call went.
func (b *breaker) record(failed bool, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !failed {
		b.failures, b.openUntil, b.probing = 0, time.Time{}, false
		return
	}
	b.failures++
	if b.probing || b.failures >= b.threshold {
		b.openUntil, b.probing = now.Add(b.cooldown), false
	}
}

// abandon tells the breaker that a call was cancelled by its caller: it
// counts neither way, and if it was the probe another call may probe.
func (b *breaker) abandon() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}

// upstreamFailed is what counts against the breaker: no answer, or a 5xx.
// A 429 is the governor's business, a 4xx the caller's.
func upstreamFailed(status int) bool { return status == 0 || status >= 500 }

// retryable says whether a failed attempt of a safe call is worth repeating.
func retryable(status int) bool {
	switch status {
	case 0, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return status == http.StatusInternalServerError
}

// backoff is the wait before retry n (from 1): exponential with full jitter,
// at least what the server asked for.
func backoff(n int, asked time.Duration) time.Duration {
	base := 100 * time.Millisecond << min(n-1, 5)
	d := time.Duration(rand.Int64N(int64(base))) + base/2
	return max(d, asked)
}
