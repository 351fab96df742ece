package intercom

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/sources"
)

// The governor shares each window out: a caller gets its share, bulk work
// leaves a reserve to interactive calls (of the workspace's window and of
// the caller's own share), and every count starts again with the window.
func TestGovernorSharesTheBudget(t *testing.T) {
	const (
		in   = sources.Interactive
		bulk = sources.Bulk
	)
	type step struct {
		at     time.Duration // since the first call
		caller string
		p      sources.CallPriority
		n      int // calls, each wanting want
		want   refusal
	}
	// 60 a minute: 10 calls a window; at 50% and 30%, a caller's share is 5
	// (1 of it kept for its interactive calls) and the workspace's reserve 3.
	cases := []struct {
		name                 string
		perMinute, share, rs int
		steps                []step
	}{
		{"one caller gets its share, others still theirs", 60, 50, 30, []step{
			{0, "A", in, 5, admitted},
			{0, "A", in, 1, callerShareSpent},
			{0, "B", in, 5, admitted},
			{0, "C", in, 1, workspaceSpent},
		}},
		{"a caller's bulk work leaves it an interactive reserve", 60, 50, 30, []step{
			{0, "A", bulk, 4, admitted},
			{0, "A", bulk, 1, callerShareSpent},
			{0, "A", in, 1, admitted},
			{0, "A", in, 1, callerShareSpent},
		}},
		{"bulk work leaves the workspace an interactive reserve", 60, 50, 30, []step{
			{0, "A", bulk, 4, admitted},
			{0, "B", bulk, 3, admitted},
			{0, "B", bulk, 1, reservedForInteractive},
			{0, "C", bulk, 1, reservedForInteractive},
			{0, "C", in, 3, admitted},
			{0, "D", in, 1, workspaceSpent},
		}},
		{"shares start again with the window", 60, 50, 30, []step{
			{0, "A", in, 5, admitted},
			{9 * time.Second, "A", in, 1, callerShareSpent},
			{10 * time.Second, "A", in, 5, admitted},
			{10 * time.Second, "A", bulk, 1, callerShareSpent},
		}},
		{"the service's own calls have no share, but leave the reserve", 60, 50, 30, []step{
			{0, "", bulk, 7, admitted},
			{0, "", bulk, 1, reservedForInteractive},
			{0, "", in, 3, admitted},
			{0, "", in, 1, workspaceSpent},
		}},
		{"a share of 100% is the whole window", 60, 100, 30, []step{
			{0, "A", in, 10, admitted},
			{0, "A", in, 1, workspaceSpent},
		}},
		{"a tiny budget still lets bulk work call", 6, 50, 30, []step{
			{0, "A", bulk, 1, admitted},
			{0, "B", in, 1, workspaceSpent},
		}},
	}
	start := time.Unix(1_700_000_000, 0)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newGovernor(tc.perMinute, tc.share, tc.rs)
			for i, s := range tc.steps {
				for range s.n {
					wait, got, _ := g.takeIn(start.Add(s.at), s.caller, s.p)
					if got != s.want {
						t.Fatalf("step %d (%q %v): refusal %d, want %d", i, s.caller, s.p, got, s.want)
					}
					if got != admitted && (wait <= 0 || wait > rateWindow) {
						t.Errorf("step %d: wait %s, want until the window ends", i, wait)
					}
				}
			}
		})
	}
}

// Intercom's X-RateLimit-Remaining counts too: bulk work stops when what
// Intercom says is left is the reserve, and waits for Intercom's reset.
func TestGovernorKeepsTheReserveOfIntercomsBudget(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	g := newGovernor(600, 50, 30) // 100 a window: reserve 30
	h := http.Header{}
	h.Set("X-RateLimit-Remaining", "32")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(now.Add(4*time.Second).Unix(), 10))
	g.observe(http.StatusOK, h, now)
	for i, want := range []refusal{admitted, admitted, reservedForInteractive} {
		wait, got, _ := g.takeIn(now, "A", sources.Bulk)
		if got != want {
			t.Fatalf("bulk call %d: refusal %d, want %d", i, got, want)
		}
		if got != admitted && wait != 4*time.Second {
			t.Errorf("bulk call %d: wait %s, want Intercom's reset in 4s", i, wait)
		}
	}
	if _, got, _ := g.takeIn(now, "B", sources.Interactive); got != admitted {
		t.Errorf("interactive call within Intercom's reserve: refusal %d", got)
	}
}

// Only callers that made a call this window are remembered: refused ones
// leave nothing behind, and the window's end forgets everyone.
func TestGovernorForgetsCallersEachWindow(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	g := newGovernor(60, 50, 30)
	for i := range 1000 {
		g.takeIn(now, "caller-"+strconv.Itoa(i), sources.Interactive)
	}
	if n := len(g.byCaller); n != g.perWindow {
		t.Errorf("%d callers remembered, want %d (one per admitted call)", n, g.perWindow)
	}
	g.takeIn(now.Add(rateWindow), "late", sources.Interactive)
	if n := len(g.byCaller); n != 1 {
		t.Errorf("%d callers remembered in a new window, want 1", n)
	}
}
