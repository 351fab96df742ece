package cache

import (
	"context"
	"sync"
	"time"
)

// coalescer gathers the cold lookups of concurrent requests into shared
// fetches: when many calls ring at once (a campaign, the morning peak), each
// caller lookup would otherwise be one Intercom search. A lookup waits at
// most window for others to join it, and a group is fetched at once when it
// holds max keys. Groups never mix workspaces, nor the budget owners that
// pay for the fetch (caller and priority).
//
// dataloader batches within one request; this batches across requests.
type coalescer[V any] struct {
	window time.Duration
	max    int
	fetch  func(context.Context, []string) (map[string]V, error)

	mu      sync.Mutex
	pending map[string]*gathering[V] // by group
}

// gathering is one group's keys on their way to one fetch.
type gathering[V any] struct {
	keys  []string
	ctx   context.Context // the first lookup's, detached: the fetch serves everyone
	timer *time.Timer
	done  chan struct{}
	found map[string]V
	err   error
}

func newCoalescer[V any](window time.Duration, max int, fetch func(context.Context, []string) (map[string]V, error)) *coalescer[V] {
	return &coalescer[V]{window: window, max: max, fetch: fetch, pending: map[string]*gathering[V]{}}
}

// do fetches keys together with the keys of other lookups of group that
// arrive within the window.
func (c *coalescer[V]) do(ctx context.Context, group string, keys []string) (map[string]V, error) {
	if c.window <= 0 || len(keys) >= c.max {
		return c.fetch(ctx, keys)
	}
	c.mu.Lock()
	g := c.pending[group]
	if g == nil || len(g.keys)+len(keys) > c.max {
		if g != nil {
			c.sendLocked(group, g) // full: it goes now, a new one starts
		}
		g = &gathering[V]{ctx: context.WithoutCancel(ctx), done: make(chan struct{})}
		c.pending[group] = g
		g.timer = time.AfterFunc(c.window, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.pending[group] == g {
				c.sendLocked(group, g)
			}
		})
	}
	g.keys = append(g.keys, keys...)
	if len(g.keys) >= c.max {
		c.sendLocked(group, g)
	}
	c.mu.Unlock()

	select {
	case <-g.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if g.err != nil {
		return nil, g.err
	}
	out := make(map[string]V, len(keys))
	for _, k := range keys {
		if v, ok := g.found[k]; ok {
			out[k] = v
		}
	}
	return out, nil
}

// sendLocked fetches g's keys (once) and takes it off the pending groups.
func (c *coalescer[V]) sendLocked(group string, g *gathering[V]) {
	if c.pending[group] == g {
		delete(c.pending, group)
	}
	g.timer.Stop()
	keys := g.keys
	go func() {
		g.found, g.err = c.fetch(g.ctx, keys)
		close(g.done)
	}()
}
