package actions

import (
	"context"
	"sync"
	"time"
)

// recentReads are workspace lists the actions check input against (admins,
// ticket types): they change rarely, so they are read at most every five
// minutes, and again at once when the caller knows the copy is too old.
const recentFor = 5 * time.Minute

type recent[T any] struct {
	mu   sync.Mutex
	v    T
	read time.Time
}

// get returns the list, reading it when absent, older than recentFor, or
// when stale says the copy cannot answer.
func (r *recent[T]) get(ctx context.Context, now time.Time, stale func(T) bool, read func(context.Context) (T, error)) (T, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.read.IsZero() || now.Sub(r.read) > recentFor || (stale != nil && stale(r.v)) {
		v, err := read(ctx)
		if err != nil {
			return v, err
		}
		r.v, r.read = v, now
	}
	return r.v, nil
}
