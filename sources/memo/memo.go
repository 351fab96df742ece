// Package memo remembers one value of a workspace that is read rarely and
// asked for often: its id, its admins, its ticket types. Sources remember
// with it, and so do the services above them (the cache, the actions): it
// lives beside the sources because a source imports nothing of the
// application.
package memo

import (
	"context"
	"sync"
	"time"
)

// Config says how long a Memo keeps what it read.
type Config struct {
	// TTL is how long a value answers before the next call reads it again;
	// 0 keeps it for good.
	TTL time.Duration
	// FailureTTL is how long a failed read answers in place of reading again
	// (a token without access to a list is not asked on every call); 0: a
	// failure is not remembered and the next call reads again.
	FailureTTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Memo holds one value, read when first asked for and again once it is
// older than its TTL. A failed read keeps the value read before. It is
// safe for concurrent use.
type Memo[T any] struct {
	cfg  Config
	read func(context.Context) (T, error)

	mu       sync.Mutex
	v        T
	has      bool
	at       time.Time // when v was read or set
	err      error     // the last read's failure, until FailureTTL has passed
	failedAt time.Time
	flight   *flight[T]
}

// flight is a read in progress, shared by every caller that asks meanwhile.
type flight[T any] struct {
	done chan struct{}
	v    T
	err  error
}

// New returns a Memo that gets its value from read.
func New[T any](cfg Config, read func(context.Context) (T, error)) *Memo[T] {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Memo[T]{cfg: cfg, read: read}
}

// Get returns the value, reading it when there is none or it has expired.
// Callers that ask while a read is in flight share it. The read keeps ctx's
// values but not its cancellation, so that the caller who started it
// leaving does not fail the others. On failure Get returns the value read
// before, if any, with the error.
func (m *Memo[T]) Get(ctx context.Context) (T, error) {
	return m.GetUnless(ctx, nil)
}

// GetUnless is Get that also reads when stale says the value cannot answer
// (an id it lacks: a teammate added since).
func (m *Memo[T]) GetUnless(ctx context.Context, stale func(T) bool) (T, error) {
	m.mu.Lock()
	now := m.cfg.Now()
	switch {
	case m.has && (m.cfg.TTL <= 0 || now.Sub(m.at) < m.cfg.TTL) && (stale == nil || !stale(m.v)):
		v := m.v
		m.mu.Unlock()
		return v, nil
	case m.flight != nil:
		f := m.flight
		m.mu.Unlock()
		<-f.done
		return f.v, f.err
	case m.err != nil && now.Sub(m.failedAt) < m.cfg.FailureTTL:
		v, err := m.v, m.err
		m.mu.Unlock()
		return v, err
	}
	f := &flight[T]{done: make(chan struct{})}
	m.flight = f
	m.mu.Unlock()
	m.fill(context.WithoutCancel(ctx), f)
	return f.v, f.err
}

// fill runs one read and hands its result to the flight's callers.
func (m *Memo[T]) fill(ctx context.Context, f *flight[T]) {
	v, err := m.read(ctx)
	m.mu.Lock()
	now := m.cfg.Now()
	if err == nil {
		m.v, m.has, m.at, m.err = v, true, now, nil
	} else {
		m.err, m.failedAt = err, now
		v = m.v
	}
	m.flight = nil
	m.mu.Unlock()
	f.v, f.err = v, err
	close(f.done)
}

// Peek returns the value however old, without reading; ok is false when
// there is none yet.
func (m *Memo[T]) Peek() (v T, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.v, m.has
}

// Set stores v as if it had just been read: another call told it.
func (m *Memo[T]) Set(v T) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.v, m.has, m.at, m.err = v, true, m.cfg.Now(), nil
}
