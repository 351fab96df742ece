// Package gcpace paces Go's garbage collector by bytes as well as by
// percent.
//
// Go collects when the heap has grown by GOGC percent (100 by default) of
// what the last collection left live. This service keeps a small live heap
// (tens of MB: caches, connections) and makes much short-lived garbage (a
// warm 50-contact dashboard allocates about 1 MB), so at the default it
// collects every few dozen requests and the collector takes about a third
// of the CPU. Start lets the heap grow by at least a fixed number of bytes
// between collections: with 20 MB live and 64 MB of headroom it sets GOGC
// to 320; once the live heap is larger than the headroom (thousands of open
// subscriptions, say), GOGC's own 100 applies again. The memory it adds is
// bounded by the headroom, and GOMEMLIMIT, when set, still caps the whole.
//
// Written here rather than taken from a GOGC tuner library: those aim at a
// share of a memory limit, which a process without one (go run . on a
// laptop) does not have; a headroom in bytes needs no limit.
package gcpace

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// defaultPercent is GOGC's default, the least Start ever sets.
const defaultPercent = 100

// Start paces the collector with headroom bytes, until stop is called. It
// does nothing when headroom is not positive or when GOGC is set in the
// environment (the operator has chosen).
func Start(headroom int64, gogcSet bool) (stop func()) {
	if headroom <= 0 || gogcSet {
		return func() {}
	}
	p := &pacer{headroom: headroom, percent: defaultPercent}
	p.arm()
	return p.stop
}

type pacer struct {
	headroom int64
	mu       sync.Mutex // the fields below, and SetGCPercent
	stopped  bool
	percent  int
}

// arm allocates a sentinel that the next collection finds unreachable: its
// cleanup then runs once per collection. (32 bytes: smaller pointer-free
// objects may share a block with others and outlive their collection.)
func (p *pacer) arm() {
	runtime.AddCleanup(new([32]byte), (*pacer).collected, p)
}

// collected sets GOGC for the next cycle from what this one left live.
func (p *pacer) collected() {
	percent := defaultPercent
	if live := liveHeap(); live > 0 {
		percent = max(defaultPercent, int(p.headroom*100/live))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	// A change under a tenth is not worth the runtime's bookkeeping.
	if percent*10 < p.percent*9 || percent*10 > p.percent*11 {
		p.percent = percent
		debug.SetGCPercent(percent)
	}
	p.arm()
}

func (p *pacer) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		p.stopped = true
		debug.SetGCPercent(defaultPercent)
	}
}

// liveHeap is what the last collection left live on the heap, in bytes.
func liveHeap() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}
