// Package shared is work done once for several waiters (a cache fill, a
// coalesced search): it runs detached from any one waiter's cancellation,
// since it serves them all, and is cancelled when the last waiter has gone
// (their clients left, their deadlines passed), so that work nobody waits
// for stops.
package shared

import "context"

// Work counts its waiters. It is not locked itself: its owner joins and
// leaves under the lock that also guards where it finds the work (a map of
// fetches in flight), so that nobody joins work being cancelled.
type Work struct {
	ctx     context.Context
	cancel  context.CancelFunc
	waiters int
}

// New starts work, with no waiter yet, for the first waiter whose context is
// ctx: the work keeps ctx's values (trace, caller) but not its cancellation.
func New(ctx context.Context) *Work {
	w := &Work{}
	w.ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return w
}

// Context is the work's: cancelled by the last Leave or by Finish.
func (w *Work) Context() context.Context { return w.ctx }

// Join adds a waiter.
func (w *Work) Join() { w.waiters++ }

// Leave removes a waiter and reports whether it was the last: the work is
// then cancelled, and its owner should stop offering it to new waiters.
func (w *Work) Leave() (last bool) {
	w.waiters--
	if w.waiters > 0 {
		return false
	}
	w.cancel()
	return true
}

// Finish releases the work's context once the work is done.
func (w *Work) Finish() { w.cancel() }
