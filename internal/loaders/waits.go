package loaders

import (
	"sync"
	"sync/atomic"
	"time"
)

// Waits adapts how long each loader collects keys before it fetches them,
// shared by every request: a fixed wait makes a screen pop that asks for one
// key wait for keys that never come, and a short one splits a dashboard's
// keys into several fetches.
//
// Each loader starts at the longest wait and, batch after batch, shortens
// it while no key arrives late (after a batch of that loader went out in
// the same request); a late key doubles it. So a loader that sees one key
// at a time settles near the shortest wait, and one fed by fifty resolvers
// running side by side keeps what they need to join one batch.
//
// A wait below a millisecond is rounded to none: Go's timers sleep about a
// millisecond at least when the process is idle (the poller's resolution),
// so a 100 µs wait costs a screen pop 1 ms; a wait of zero dispatches at
// once. A loader that needs to wait grows from a millisecond.
//
// dataloader's wait is fixed per loader: the loaders of a request are built
// with the waits of the moment.
type Waits struct {
	min, max time.Duration
	mu       sync.Mutex
	byName   map[string]time.Duration
	onTime   map[string]int // batches in a row with no key late
}

// NewWaits adapts waits between min and max.
func NewWaits(min, max time.Duration) *Waits {
	return &Waits{min: min, max: max, byName: map[string]time.Duration{}, onTime: map[string]int{}}
}

// of is the current wait of a loader.
func (w *Waits) of(name string) time.Duration {
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if d, ok := w.byName[name]; ok {
		return d
	}
	return w.max
}

// dispatched records that a batch went out with no key late for the batch
// before it: try a shorter wait.
//
// Below a millisecond it drops to none only after many batches in a row
// with no key late: a loader that needs its millisecond must not lose it
// every other request.
func (w *Waits) dispatched(name string) {
	w.adjust(name, func(d time.Duration, streak int) time.Duration {
		if d = d * 3 / 4; d < timerResolution {
			if streak < dropAfter {
				return timerResolution
			}
			return 0
		}
		return d
	}, 1)
}

// late records that a key came after its loader's batch had gone out.
func (w *Waits) late(name string) {
	w.adjust(name, func(d time.Duration, _ int) time.Duration { return max(2*d, timerResolution) }, 0)
}

// dropAfter is how many on-time batches in a row a loader needs before its
// wait drops to none.
const dropAfter = 20

// timerResolution is about the shortest sleep a Go timer gives an idle
// process.
const timerResolution = time.Millisecond

// adjust sets name's wait to f of it; onTime 1 extends the streak of
// on-time batches, 0 ends it.
func (w *Waits) adjust(name string, f func(d time.Duration, streak int) time.Duration, onTime int) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	d, ok := w.byName[name]
	if !ok {
		d = w.max
	}
	streak := (w.onTime[name] + onTime) * onTime
	w.onTime[name] = streak
	w.byName[name] = min(w.max, max(w.min, f(d, streak)))
}

// batchClock is one loader's record within one request: when its last batch
// went out, to tell a late key.
type batchClock struct {
	name   string
	wait   time.Duration
	waits  *Waits
	sentAt atomic.Int64 // unix nanos of the last batch; 0 before any
	late   atomic.Bool  // a key came late for the last batch
}

func newBatchClock(waits *Waits, name string) *batchClock {
	return &batchClock{name: name, wait: waits.of(name), waits: waits}
}

// arrived is told of every key as it is loaded.
func (c *batchClock) arrived() {
	if c == nil || c.waits == nil {
		return
	}
	sent := c.sentAt.Load()
	// A key within one wait of the last batch would have joined it had the
	// wait been longer.
	if sent != 0 && time.Now().UnixNano()-sent < int64(max(c.wait, timerResolution)) && c.late.CompareAndSwap(false, true) {
		c.waits.late(c.name)
	}
}

// sent is told when a batch goes out.
func (c *batchClock) sent() {
	if c == nil || c.waits == nil {
		return
	}
	if c.sentAt.Swap(time.Now().UnixNano()) == 0 || !c.late.Swap(false) {
		c.waits.dispatched(c.name)
	}
}
