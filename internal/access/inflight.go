package access

import "sync"

// InFlight caps the operations each caller has running at once in this
// replica. A rate and a budget bound what a caller spends over a second; a
// burst of costly operations sent together would still all run together,
// their goroutines and answers held at once, and take the cores from every
// other caller until they end. Over the cap an operation is refused at once
// (not queued: a queue would hold the request and its body instead).
//
// Only callers with operations running are remembered, so its size is
// bounded by the requests the server holds open.
type InFlight struct {
	max     int
	mu      sync.Mutex
	running map[string]int
}

// NewInFlight caps each caller at max running operations; max <= 0
// disables the cap (nil).
func NewInFlight(max int) *InFlight {
	if max <= 0 {
		return nil
	}
	return &InFlight{max: max, running: map[string]int{}}
}

// Max is the cap (0 when disabled).
func (f *InFlight) Max() int {
	if f == nil {
		return 0
	}
	return f.max
}

// Acquire takes one of caller's places, or reports that it has none left.
// Call release exactly once when the operation is over. A nil InFlight
// admits everything.
func (f *InFlight) Acquire(caller string) (release func(), ok bool) {
	if f == nil {
		return func() {}, true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running[caller] >= f.max {
		return nil, false
	}
	f.running[caller]++
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.running[caller]--; f.running[caller] <= 0 {
				delete(f.running, caller)
			}
		})
	}, true
}
