package sources

import (
	"context"
	"strconv"
	"time"
)

// Who spends a source's call budget, and how urgently: the transports say it
// where a request enters (through the context, so that it reaches the source
// through caches and loader batches); a source with a budget (Intercom's rate
// limit) reads it when it admits a call.

// CallPriority says how much a call can wait when the budget is short
// (unlike a ticket's Priority, it is about our calls, not the customer).
type CallPriority int

const (
	// Interactive calls have someone waiting on them: a caller lookup, a
	// contact, its history, an action. The default.
	Interactive CallPriority = iota
	// Bulk calls are syncs and searches: they may only use the budget while
	// a reserve is left for interactive calls.
	Bulk
)

type priorityKey struct{}

// WithPriority marks the calls made under ctx.
func WithPriority(ctx context.Context, p CallPriority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// PriorityFrom is the priority of the calls made under ctx: Interactive
// unless marked otherwise.
func PriorityFrom(ctx context.Context) CallPriority {
	p, _ := ctx.Value(priorityKey{}).(CallPriority)
	return p
}

type callerKey struct{}

// WithCaller names who the calls made under ctx are made for: an opaque id
// (a hash of an API key, a client address), never a secret.
func WithCaller(ctx context.Context, caller string) context.Context {
	return context.WithValue(ctx, callerKey{}, caller)
}

// BudgetOwner names who pays for the calls made under ctx, for those that
// share calls (a cache's fetch, coalesced lookups): only calls of one owner
// may share one, which may be refused for that owner's budget.
func BudgetOwner(ctx context.Context) string {
	return CallerFrom(ctx) + ":" + strconv.Itoa(int(PriorityFrom(ctx)))
}

// CallerFrom is the caller named by WithCaller, "" when none was.
func CallerFrom(ctx context.Context) string {
	c, _ := ctx.Value(callerKey{}).(string)
	return c
}

// FleetBudget is a count of a workspace's calls shared by every replica of
// the service (in Redis: package internal/budget), handed to a source with a
// rate limit when it is built, so that the budget and each caller's share
// hold for the fleet, not per replica.
type FleetBudget interface {
	// Take asks for one call of the window holding a.Now. The error is
	// non-nil when the count could not tell: the replica decides alone.
	Take(ctx context.Context, a BudgetAsk) (BudgetAnswer, error)
	// GiveBack returns one call Take admitted that never left the process
	// (the breaker refused it, or it failed before it was sent), so that
	// calls not made spend nothing of the fleet's budget. A call is given
	// back at most once; a window that has ended is left alone.
	GiveBack(ctx context.Context, r BudgetReturn) error
	// AwaySince is when the count stopped answering, zero while it answers.
	AwaySince() time.Time
}

// BudgetAsk is one call's question to the fleet's count.
type BudgetAsk struct {
	Workspace string
	// Caller is who the call is for ("" for the service's own calls: no
	// share applies to them).
	Caller      string
	Now         time.Time
	Window      time.Duration
	PerWindow   int // the workspace's budget of a window
	CallerShare int // the most calls of a window one caller may make
	// HoldNext is how many more calls of the next window to set aside for
	// the asking replica alone.
	HoldNext int
	// Uncounted are calls the replica made before it could ask (before it
	// knew the workspace): counted in this window, whatever the answer.
	Uncounted int
}

// BudgetAnswer is the fleet's word on one call.
type BudgetAnswer struct {
	// Refused is "" when the call is admitted, else whose budget is spent:
	// "workspace" or "caller".
	Refused string
	Wait    time.Duration // until the window ends
	// HeldNext calls of the next window were set aside for the replica
	// (at most BudgetAsk.HoldNext; fewer when the next window is nearly spent).
	HeldNext int
	// Receipt names the count an admitted call was counted in, for
	// GiveBack: a count lost and started afresh since is not given back to.
	Receipt string
}

// BudgetReturn gives back one call of the fleet's count (see GiveBack).
type BudgetReturn struct {
	Workspace string
	Caller    string        // as asked
	Taken     time.Time     // the BudgetAsk.Now of the call
	Now       time.Time     // when it is given back
	Window    time.Duration // as asked
	Receipt   string        // the BudgetAnswer.Receipt of the call
}
