package redis

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ErrUnavailable is returned while Redis is away (see Health).
var ErrUnavailable = errors.New("redis unavailable")

// Health bounds every Redis call by one timeout, and remembers that
// Redis is away: after a call fails, calls fail fast with ErrUnavailable
// while a background probe pings Redis until it answers. A request
// therefore pays at most one timeout when Redis dies or freezes, and every
// user sharing the Health (the cache, the idempotency records, the fleet
// budget, webhook de-duplication, the callers' allowances) skips Redis
// together. go-redis reconnects by itself; the probe only says when.
type Health struct {
	client  goredis.UniversalClient
	timeout time.Duration
	every   time.Duration // between probes
	// onChange, when set, is told when Redis goes away (err says why) and
	// when it returns (err is nil): one line each, not one per call.
	onChange func(up bool, err error)

	down      atomic.Bool
	downSince atomic.Int64 // unix nanos of the failure that made it away
	probing   atomic.Bool
}

// NewHealth watches client; timeout bounds each call (default 100 ms).
func NewHealth(client goredis.UniversalClient, timeout time.Duration, onChange func(up bool, err error)) *Health {
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	return &Health{client: client, timeout: timeout, every: 250 * time.Millisecond, onChange: onChange}
}

// Client is the watched client.
func (h *Health) Client() goredis.UniversalClient { return h.client }

// Up says whether Redis answered the last call or probe.
func (h *Health) Up() bool { return !h.down.Load() }

// AwaySince is when Redis went away, zero while it answers.
func (h *Health) AwaySince() time.Time {
	if !h.down.Load() {
		return time.Time{}
	}
	return time.Unix(0, h.downSince.Load())
}

// Calls is what Health does, as the packages that call Redis through it
// take it: each call within the service's Redis timeout, failing fast while
// Redis is away (their tests run calls as they come).
type Calls interface {
	Do(ctx context.Context, fn func(ctx context.Context) error) error
}

var _ Calls = (*Health)(nil)

// Do runs fn with a context bounded by the timeout and detached from ctx's
// cancellation (a write-back must not be cut short because the client went
// away, and the timeout is ours to choose), or fails fast while Redis is
// away. goredis.Nil and Redis's error replies (a script's error) mean Redis
// answered: they pass through and count as up.
func (h *Health) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	if h.down.Load() {
		return ErrUnavailable
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.timeout)
	defer cancel()
	err := fn(ctx)
	if err != nil && !answered(err) {
		h.wentAway(err)
	}
	return err
}

func answered(err error) bool {
	var reply goredis.Error // goredis.Nil is one too
	return errors.As(err, &reply)
}

func (h *Health) wentAway(err error) {
	h.downSince.CompareAndSwap(0, time.Now().UnixNano())
	if !h.down.CompareAndSwap(false, true) {
		return
	}
	if h.onChange != nil {
		h.onChange(false, err)
	}
	if h.probing.CompareAndSwap(false, true) {
		go h.probe()
	}
}

// probe pings Redis until it answers (or the client is closed).
func (h *Health) probe() {
	defer h.probing.Store(false)
	for {
		time.Sleep(h.every)
		ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
		err := h.client.Ping(ctx).Err()
		cancel()
		switch {
		case err == nil:
			h.cameBack()
			return
		case errors.Is(err, goredis.ErrClosed):
			return
		}
	}
}

func (h *Health) cameBack() {
	h.downSince.Store(0)
	if h.down.CompareAndSwap(true, false) && h.onChange != nil {
		h.onChange(true, nil)
	}
}

// Ping checks Redis directly, even while it is thought away, so that
// readiness sees recovery at once; a failed ping (not one whose caller
// left) counts as Redis going away.
func (h *Health) Ping(ctx context.Context) error {
	pingCtx, cancel := context.WithTimeout(ctx, h.timeout*5)
	defer cancel()
	if err := h.client.Ping(pingCtx).Err(); err != nil {
		if ctx.Err() == nil && !answered(err) {
			h.wentAway(err)
		}
		return err
	}
	h.cameBack()
	return nil
}
