// Package loadtest is the load of the fleet tests, in process (internal/server)
// and as processes behind HAProxy (e2e): clients that send requests until
// they are stopped, and the actions those clients saw acknowledged, to be
// found exactly once afterwards.
package loadtest

import (
	"maps"
	"sync"
)

// Run starts n clients, client w calling step(w, i) for i = 0, 1, … until
// the returned stop is called; stop waits for them.
func Run(n int, step func(client, i int)) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				step(w, i)
			}
		})
	}
	return func() { close(done); wg.Wait() }
}

// Acks are the idempotency keys clients saw acknowledged, with the id of
// the object each made. Safe for concurrent use.
type Acks struct {
	mu sync.Mutex
	m  map[string]string
}

// Add records that the action under key was acknowledged with id.
func (a *Acks) Add(key, id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string]string{}
	}
	a.m[key] = id
}

// All returns a copy of the acknowledged keys and ids.
func (a *Acks) All() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.m)
}

// Len is how many actions were acknowledged.
func (a *Acks) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.m)
}
