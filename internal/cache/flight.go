package cache

import (
	"context"
	"fmt"
	"sync"

	"github.com/talkdesk-intercom/api/internal/shared"
)

// flightGroup collapses concurrent fetches of the same keys: the first caller
// of a key fetches it (in one batch with its other keys), later callers wait
// for that result instead of asking the upstream again. It is
// singleflight for batches.
//
// A fetch serves everyone waiting for it: it is shared work (package
// shared), cancelled when every caller waiting for it has gone.
type flightGroup struct {
	mu    sync.Mutex
	calls map[string]*flight
}

type flight struct {
	done  chan struct{}
	val   any
	found bool
	err   error
	batch *flightBatch
}

// flightBatch is one fetch and the callers still waiting for it.
type flightBatch struct {
	work *shared.Work // joined and left under flightGroup.mu
	keys []string     // the group's keys of its flights
}

func newFlightGroup() *flightGroup { return &flightGroup{calls: map[string]*flight{}} }

// do returns, for each key, the fetched value (absent when the upstream has
// none) or an error.
func (g *flightGroup) do(ctx context.Context, namespace string, keys []string,
	fetch func(context.Context, []string) (map[string]any, error)) (map[string]any, map[string]error) {
	g.mu.Lock()
	var mine []string
	joined := map[string]*flight{}
	var batch *flightBatch
	for _, k := range keys {
		fk := namespace + "\x00" + k
		if f, ok := g.calls[fk]; ok {
			joined[k] = f
			f.batch.work.Join()
			continue
		}
		if batch == nil {
			batch = &flightBatch{work: shared.New(ctx)}
		}
		f := &flight{done: make(chan struct{}), batch: batch}
		g.calls[fk] = f
		joined[k] = f
		batch.work.Join()
		batch.keys = append(batch.keys, fk)
		mine = append(mine, k)
	}
	g.mu.Unlock()

	if len(mine) > 0 {
		owned := make(map[string]*flight, len(mine))
		for _, k := range mine {
			owned[k] = joined[k]
		}
		go func() {
			defer batch.work.Finish()
			res, err := g.run(batch.work.Context(), mine, fetch)
			g.mu.Lock()
			defer g.mu.Unlock()
			for _, k := range mine {
				f := owned[k]
				f.val, f.found = res[k]
				if !f.found {
					f.err = err
				}
				if fk := namespace + "\x00" + k; g.calls[fk] == f {
					delete(g.calls, fk)
				}
				close(f.done)
			}
		}()
	}

	vals := map[string]any{}
	errs := map[string]error{}
	for k, f := range joined {
		select {
		case <-f.done:
			switch {
			case f.err != nil:
				errs[k] = f.err
			case f.found:
				vals[k] = f.val
			}
		case <-ctx.Done():
			errs[k] = ctx.Err()
		}
		g.leave(f)
	}
	return vals, errs
}

// leave records that one caller no longer waits for f, and cancels f's fetch
// when nobody does.
func (g *flightGroup) leave(f *flight) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f.batch.work.Leave() {
		// Nobody waits: the fetch stops, and a caller arriving now starts
		// a fetch of its own rather than join one being cancelled.
		for _, fk := range f.batch.keys {
			if g.calls[fk] != nil && g.calls[fk].batch == f.batch {
				delete(g.calls, fk)
			}
		}
	}
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
