package access

import (
	"math"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/talkdesk-intercom/api/internal/bounded"
)

// Budget gives each caller a bucket of cost points: an operation spends its
// complexity (the cost model's estimate, package cost) from it, and the
// bucket refills at a steady rate up to its size. It is the leaky bucket of
// Shopify's and GitHub's GraphQL APIs, named as Shopify names it
// (maximumAvailable, currentlyAvailable, restoreRate): a request count alone
// lets one caller send its whole allowance as the costliest operation the
// limits admit.
//
// A budget is this replica's, not the fleet's: it guards what a caller
// makes one process do (CPU, memory, the size of answers), which another
// replica's spending does not take from. The request allowance (Limiter)
// and Intercom's budget are what the fleet shares.
//
// Like Limiter, it remembers at most maxCallers buckets and forgets idle
// ones first.
type Budget struct {
	maximum float64 // points a bucket holds when full
	rate    float64 // points restored per second
	buckets *otter.Cache[string, bucket]
	now     func() time.Time
}

// ThrottleStatus is a caller's bucket as an answer shows it.
type ThrottleStatus struct {
	MaximumAvailable   int `json:"maximumAvailable"`
	CurrentlyAvailable int `json:"currentlyAvailable"`
	RestoreRate        int `json:"restoreRate"`
}

// NewBudget returns a budget of maximum points per caller, restored at
// perSecond; perSecond <= 0 disables it (nil).
func NewBudget(maximum, perSecond int) *Budget { return newBudget(maximum, perSecond, maxCallers) }

func newBudget(maximum, perSecond, callers int) *Budget {
	if perSecond <= 0 {
		return nil
	}
	return &Budget{maximum: float64(maximum), rate: float64(perSecond),
		buckets: bounded.New(otter.Options[string, bucket]{MaximumSize: callers}, nil), now: time.Now}
}

// Spend takes cost points from caller's bucket when it holds them. It
// returns the bucket after the spending, and when it does not hold them,
// how long until it will. A nil budget spends nothing and refuses nothing.
func (b *Budget) Spend(caller string, cost int) (status ThrottleStatus, wait time.Duration, ok bool) {
	if b == nil {
		return ThrottleStatus{}, 0, true
	}
	now := b.now()
	need := float64(max(cost, 0))
	var left float64
	b.buckets.Compute(caller, func(k bucket, found bool) (bucket, otter.ComputeOp) {
		if !found {
			k = bucket{tokens: b.maximum, at: now}
		}
		k.tokens = min(b.maximum, k.tokens+now.Sub(k.at).Seconds()*b.rate)
		k.at = now
		if k.tokens >= need {
			k.tokens -= need
			ok = true
		} else {
			wait = time.Duration((need - k.tokens) / b.rate * float64(time.Second))
		}
		left = k.tokens
		return k, otter.WriteOp
	})
	return ThrottleStatus{MaximumAvailable: int(b.maximum), CurrentlyAvailable: int(math.Floor(left)), RestoreRate: int(b.rate)}, wait, ok
}
