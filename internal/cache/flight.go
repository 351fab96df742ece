package cache

import (
	"context"
	"fmt"
	"sync"
)

// flightGroup collapses concurrent fetches of the same keys: the first caller
// of a key fetches it (in one batch with its other keys), later callers wait
// for that result instead of asking the upstream again. It is
// singleflight for batches.
type flightGroup struct {
	mu    sync.Mutex
	calls map[string]*flight
}

type flight struct {
	done  chan struct{}
	val   any
	found bool
	err   error
}

func newFlightGroup() *flightGroup { return &flightGroup{calls: map[string]*flight{}} }

// do returns, for each key, the fetched value (absent when the upstream has
// none) or an error. fetch runs detached from ctx's cancellation, because
// other requests may be waiting for its result.
func (g *flightGroup) do(ctx context.Context, namespace string, keys []string,
	fetch func(context.Context, []string) (map[string]any, error)) (map[string]any, map[string]error) {
	g.mu.Lock()
	var mine []string
	owned := map[string]*flight{}
	waiting := map[string]*flight{}
	for _, k := range keys {
		fk := namespace + "\x00" + k
		if f, ok := g.calls[fk]; ok {
			waiting[k] = f
			continue
		}
		f := &flight{done: make(chan struct{})}
		g.calls[fk] = f
		owned[k] = f
		mine = append(mine, k)
	}
	g.mu.Unlock()

	if len(mine) > 0 {
		res, err := g.run(context.WithoutCancel(ctx), mine, fetch)
		g.mu.Lock()
		for _, k := range mine {
			f := owned[k]
			f.val, f.found = res[k]
			if !f.found {
				f.err = err
			}
			delete(g.calls, namespace+"\x00"+k)
			close(f.done)
		}
		g.mu.Unlock()
	}

	vals := map[string]any{}
	errs := map[string]error{}
	collect := func(k string, f *flight) {
		switch {
		case f.err != nil:
			errs[k] = f.err
		case f.found:
			vals[k] = f.val
		}
	}
	for k, f := range owned {
		collect(k, f)
	}
	for k, f := range waiting {
		select {
		case <-f.done:
			collect(k, f)
		case <-ctx.Done():
			errs[k] = ctx.Err()
		}
	}
	return vals, errs
}

// run calls fetch, turning a panic into an error so that waiters are always
// released.
func (g *flightGroup) run(ctx context.Context, keys []string,
	fetch func(context.Context, []string) (map[string]any, error)) (res map[string]any, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, &panicError{p}
		}
	}()
	return fetch(ctx, keys)
}

type panicError struct{ v any }

func (p *panicError) Error() string { return "panic while fetching: " + fmt.Sprint(p.v) }
