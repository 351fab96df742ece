// Package bounded is what the service's bounded maps share. Each of them
// (callers' rate-limit buckets, the tenant registry and its rejected tokens,
// the in-process cache, webhook de-duplication, the idempotency mirror) is a
// cache of github.com/maypok86/otter/v2, made by New.
//
// Otter rather than hashicorp/golang-lru/v2: every entry can have its own
// TTL (the cache's kinds and the idempotency records need that; golang-lru's
// expirable LRU has one TTL per cache and no clock to inject), a cache can
// be bounded by weight as well as by count (the in-process level of the
// two-level cache will be bounded in bytes), reads do not take a global lock,
// and a Clock can be injected, so tests expire entries without waiting.
//
// Its eviction is W-TinyLFU, not strict LRU: a full cache drops the entries
// least likely to be used again, judged by recency and frequency, so an
// entry in steady use is kept and idle ones go first.
package bounded

import (
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// New is otter.Must with two things every bounded map here wants.
//
// Maintenance (applying reads and writes to the eviction policy, evicting,
// expiring) runs on the goroutine that calls the cache. Otter's default
// hands it to other goroutines, and then a key in steady use can be
// evicted: with one caller active among a run of new ones, a limiter of 100
// buckets lost the active caller's bucket within a few hundred newcomers
// with the default executor, and never inline, where every write leaves the
// policy up to date before it returns. What an inline executor forbids,
// calling the cache from inside a Compute, none of the callers does.
//
// clock, when not nil, replaces the wall clock (tests).
func New[K comparable, V any](o otter.Options[K, V], clock *Clock) *otter.Cache[K, V] {
	o.Executor = func(fn func()) { fn() }
	if clock != nil {
		o.Clock = clock
	}
	return otter.Must(&o)
}

// Clock is an otter.Clock that moves only when told, for tests. It never
// ticks: the caches then do without periodic clean-ups, which changes
// nothing they show, since an expired entry is never read.
type Clock struct{ nanos atomic.Int64 }

// NewClock returns a clock that stands at start.
func NewClock(start time.Time) *Clock {
	c := &Clock{}
	c.nanos.Store(start.UnixNano())
	return c
}

// NowNano is the clock's time in nanoseconds since the Unix epoch.
func (c *Clock) NowNano() int64 { return c.nanos.Load() }

// Tick never ticks.
func (c *Clock) Tick(time.Duration) <-chan time.Time { return nil }

// Now is the clock's time, for the code beside a cache that reads the time
// too.
func (c *Clock) Now() time.Time { return time.Unix(0, c.nanos.Load()) }

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) { c.nanos.Add(int64(d)) }
