package intercom

import (
	"context"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/talkdesk-intercom/api/sources"
)

// The governor keeps the workspace inside its rate limit, following
// Intercom's X-RateLimit-* headers and its 10-second windows, so that this
// service never causes a 429 storm, and shares each window out among
// callers and between interactive and bulk work (see newGovernor): when a
// budget is spent, calls fail fast with RATE_LIMITED and a retry-after hint.
// It is one layer of the call path (transport.go).

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

// governorUnit is a call the governor admitted: what giveBack returns.
type governorUnit struct {
	caller string
	window time.Time // the window it was counted in
	// fromIntercomCount says it was also taken off Intercom's own remaining count
	// (X-RateLimit-Remaining, as last told).
	fromIntercomCount bool
}

// takeIn reserves one call for caller at priority p, or says why not and
// how long to wait, and tells what the call took (see giveBack). Calls
// without a caller are the service's own (start-up checks, cache warm-up):
// no share applies to them, the reserve does.
func (g *governor) takeIn(now time.Time, caller string, p sources.CallPriority) (time.Duration, refusal, governorUnit) {
	g.mu.Lock()
	defer g.mu.Unlock()
	before := g.remaining
	wait, why := g.takeLocked(now, caller, p)
	return wait, why, governorUnit{caller: caller, window: g.windowStart, fromIntercomCount: g.remaining < before}
}

// giveBack returns a call admitted that never reached Intercom (the breaker
// refused it, or it failed before it was sent), so that a paused workspace
// does not spend its budget on nothing: to the window it was counted in
// (one since ended is left alone), and to Intercom's remaining count, which
// Intercom's next answer tells afresh anyway.
func (g *governor) giveBack(u governorUnit) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if u.fromIntercomCount && g.remaining >= 0 {
		g.remaining++
	}
	if !g.windowStart.Equal(u.window) {
		return
	}
	g.used = max(g.used-1, 0)
	if n := g.byCaller[u.caller]; n > 1 {
		g.byCaller[u.caller] = n - 1
	} else {
		delete(g.byCaller, u.caller)
	}
}

func (g *governor) takeLocked(now time.Time, caller string, p sources.CallPriority) (time.Duration, refusal) {
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
			g.resetAt = now.Add(d)
		} else if !g.resetAt.After(now) {
			g.resetAt = now.Add(time.Second)
		}
	}
}

// governorTransport asks the governor before each attempt, for the caller
// and at the priority the request's context carries, then the fleet's
// count, and tells the governor what Intercom said of the budget. An
// attempt that fails before its request was written (the breaker refused
// it, the connection could not be made, its caller left first) never
// reached Intercom: its unit goes back to both.
type governorTransport struct {
	next  http.RoundTripper
	g     *governor
	fleet *fleetCount // nil: this replica's count alone
}

func (t *governorTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	caller := sources.CallerFrom(ctx)
	now := time.Now()
	wait, why, taken := t.g.takeIn(now, caller, sources.PriorityFrom(ctx))
	var unit fleetUnit
	if why == admitted {
		if unit, why, wait = t.fleet.take(ctx, t.g, now, caller); why != admitted {
			t.g.giveBack(taken) // not sent: the replica's unit is not spent
		}
	}
	if why != admitted {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, refusedError(why, wait)
	}
	var sent atomic.Bool
	resp, err := t.next.RoundTrip(req.WithContext(httptrace.WithClientTrace(ctx,
		&httptrace.ClientTrace{WroteHeaders: func() { sent.Store(true) }})))
	if err != nil && !sent.Load() {
		t.g.giveBack(taken)
		t.fleet.giveBack(ctx, unit, time.Now())
	}
	if resp != nil {
		t.g.observe(resp.StatusCode, resp.Header, time.Now())
	}
	return resp, err
}

// fleetCount is the fleet's count of a workspace's calls (a
// sources.FleetBudget, in Redis), asked once this replica's governor has
// admitted a call: the budget and each caller's share then hold for every
// replica together, whenever Redis is configured, however many replicas
// FLEET_REPLICAS says there are.
// Until the workspace id is known (the first /me) the governor's word
// stands, and the calls it admits are counted in Redis with the first call
// after.
//
// While Redis answers, each call also sets aside a few calls of the next
// window for this replica (holds): about half of what it has spent in this
// window, at most half its share. When Redis cannot count, a replica spends
// only what it holds, so a failover never lets the fleet go over; an idle
// replica holds little, so little is left unspent when the fleet is busy.
// Once Redis has been away for the whole of the previous window nobody
// holds anything of this one, and each replica takes its share of it,
// 1/FLEET_REPLICAS, counted in Redis when it is back. A replica told it is
// the only one (FLEET_REPLICAS=1) has nobody to wait for: once its holds
// are spent it takes its share (the whole window) at once, and those calls
// too are counted in Redis when it is back, so that a fleet left on the
// default still counts every call together.
type fleetCount struct {
	budget    sources.FleetBudget // nil without Redis
	replicas  int                 // FLEET_REPLICAS
	share     int                 // calls of a window this replica takes alone once nobody holds any
	workspace func() (string, bool)
	holds     holds
	uncounted atomic.Int64 // calls Redis has not counted yet: made before the workspace was known, or alone
}

// fleetUnit is where the fleet's count took a call from, so that a call
// that never leaves the process can give it back there.
type fleetUnit struct {
	from    unitSource
	ws      string
	caller  string
	taken   time.Time
	receipt string // the count's in Redis (sources.BudgetAnswer.Receipt)
}

type unitSource int

const (
	notCounted unitSource = iota // no fleet, or refused
	inRedis                      // counted in Redis
	held                         // one of the replica's held calls
	uncounted                    // to be counted in Redis with a later call
	takenAlone                   // uncounted, and one of the replica's share while Redis is away
)

func (f *fleetCount) take(ctx context.Context, g *governor, now time.Time, caller string) (fleetUnit, refusal, time.Duration) {
	if f == nil || f.budget == nil {
		return fleetUnit{}, admitted, 0
	}
	ws, ok := f.workspace()
	if !ok || ws == "" {
		f.uncounted.Add(1)
		return fleetUnit{from: uncounted}, admitted, 0
	}
	share := g.callerShare
	if caller == "" {
		share = g.perWindow
	}
	window := now.Truncate(rateWindow)
	wait := window.Add(rateWindow).Sub(now)
	want := f.holds.want(window, f.share/2)
	uncountedCalls := f.uncounted.Swap(0)
	ans, err := f.budget.Take(ctx, sources.BudgetAsk{Workspace: ws, Caller: caller, Now: now, Window: rateWindow,
		PerWindow: g.perWindow, CallerShare: share, HoldNext: want, Uncounted: int(uncountedCalls)})
	unit := fleetUnit{ws: ws, caller: caller, taken: now}
	if err != nil {
		f.uncounted.Add(uncountedCalls)
		f.holds.asked(window, want, 0)
		switch away := f.budget.AwaySince(); {
		case f.holds.spend(window):
			unit.from = held
			return unit, admitted, 0
		case (f.replicas <= 1 || !away.IsZero() && !away.After(window.Add(-rateWindow))) && f.holds.alone(window, f.share):
			f.uncounted.Add(1)
			unit.from = takenAlone
			return unit, admitted, 0
		default:
			return unit, workspaceSpent, wait
		}
	}
	f.holds.asked(window, want, ans.HeldNext)
	switch ans.Refused {
	case "":
		f.holds.count(window)
		unit.from, unit.receipt = inRedis, ans.Receipt
		return unit, admitted, 0
	case "caller":
		return unit, callerShareSpent, ans.Wait
	default:
		if f.holds.spend(window) {
			unit.from = held
			return unit, admitted, 0
		}
		return unit, workspaceSpent, ans.Wait
	}
}

// giveBack returns a call that never left the process to where take took
// it from, unless its window has ended.
func (f *fleetCount) giveBack(ctx context.Context, u fleetUnit, now time.Time) {
	if f == nil {
		return
	}
	window := u.taken.Truncate(rateWindow)
	switch u.from {
	case inRedis:
		f.holds.uncount(window)
		// An error leaves the call counted: the fleet's count is then over
		// what was spent, never under.
		_ = f.budget.GiveBack(ctx, sources.BudgetReturn{Workspace: u.ws, Caller: u.caller, Taken: u.taken, Now: now,
			Window: rateWindow, Receipt: u.receipt})
	case held:
		f.holds.unspend(window)
	case takenAlone:
		f.holds.unalone(window)
		f.uncount()
	case uncounted:
		f.uncount()
	}
}

// uncount takes one call off those Redis has not counted yet; one a call
// has since taken to Redis stays counted there.
func (f *fleetCount) uncount() {
	for {
		n := f.uncounted.Load()
		if n <= 0 || f.uncounted.CompareAndSwap(n, n-1) {
			return
		}
	}
}

// holds are the calls of the current and the next window that Redis has
// counted already and set aside for this replica alone.
type holds struct {
	mu     sync.Mutex
	window time.Time // the current window's start
	left   int       // held calls of the window not yet spent
	next   int       // calls held of the next window
	asking int       // calls of the next window asked for by calls still waiting for Redis
	spent  int       // calls Redis admitted to this replica in the window: what the next hold is sized by
	solo   int       // calls the replica took alone in the window (see fleetCount)
}

// roll moves to window (of the caller's clock), which may be the next one.
func (h *holds) roll(window time.Time) {
	switch {
	case !window.After(h.window):
	case window.Equal(h.window.Add(rateWindow)):
		h.window, h.left, h.next, h.asking, h.spent, h.solo = window, h.next, 0, 0, 0, 0
	default:
		h.window, h.left, h.next, h.asking, h.spent, h.solo = window, 0, 0, 0, 0, 0
	}
}

// want is how many more calls of the window after window to ask Redis to
// hold: half of what the replica spent in window, at least one, at most
// most.
func (h *holds) want(window time.Time, most int) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.roll(window)
	if !window.Equal(h.window) {
		return 0 // another call has moved on to the next window
	}
	n := max(0, min(most, max(1, (h.spent+1)/2))-h.next-h.asking)
	h.asking += n
	return n
}

// asked records what Redis held of the next window for a call of window
// that asked for want calls (0 when Redis did not answer).
func (h *holds) asked(window time.Time, want, held int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.roll(window)
	switch {
	case window.Equal(h.window):
		h.asking = max(0, h.asking-want)
		h.next += held
	case window.Add(rateWindow).Equal(h.window): // the window turned meanwhile
		h.left += held
	}
}

// spend takes one held call of window.
func (h *holds) spend(window time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.roll(window)
	if window.Equal(h.window) && h.left > 0 {
		h.left--
		return true
	}
	return false
}

// alone takes one of the share calls of window the replica may make alone.
func (h *holds) alone(window time.Time, share int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.roll(window)
	if window.Equal(h.window) && h.solo < share {
		h.solo++
		return true
	}
	return false
}

// count notes a call Redis admitted to this replica in window.
func (h *holds) count(window time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.roll(window)
	if window.Equal(h.window) {
		h.spent++
	}
}

// uncount takes back a call count noted: it never left, so it sizes no hold.
func (h *holds) uncount(window time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.roll(window)
	if window.Equal(h.window) && h.spent > 0 {
		h.spent--
	}
}

// unspend gives back a held call of window that spend took.
func (h *holds) unspend(window time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.roll(window)
	if window.Equal(h.window) {
		h.left++
	}
}

// unalone gives back a call of window that alone took.
func (h *holds) unalone(window time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.roll(window)
	if window.Equal(h.window) && h.solo > 0 {
		h.solo--
	}
}

func refusedError(why refusal, wait time.Duration) *sources.Error {
	e := &sources.Error{Code: sources.ERateLimited, RetryAfterSeconds: max(1, ceilSeconds(wait))}
	switch why {
	case callerShareSpent:
		e.Message = "this caller has spent its share of the workspace's Intercom budget; retry after the window resets"
	case reservedForInteractive:
		e.Message = "the rest of the workspace's Intercom budget is kept for interactive reads (caller lookups, contacts); searches and syncs may retry after the window resets"
	default:
		e.Message = "the Intercom rate budget of this workspace is spent; retry after the window resets"
	}
	return e
}

func ceilSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}
