// Package coalesce gathers the lookups of concurrent requests into shared
// fetches: when many calls ring at once (a campaign, the morning peak), each
// caller lookup would otherwise be one Intercom search. dataloader batches
// within one request; this batches across requests.
package coalesce

import (
	"context"
	"sync"
	"time"

	"github.com/talkdesk-intercom/api/internal/shared"
	"github.com/talkdesk-intercom/api/sources"
)

// Coalescer gathers lookups by group (callers choose groups so that a fetch
// never mixes what must stay apart: workspaces, the budget owners that pay
// for it). A lookup waits at most window for others to join it, and a
// gathering is fetched at once when its keys weigh max.
type Coalescer[V any] struct {
	window time.Duration
	max    int
	weight func(string) int
	fetch  func(context.Context, []string) (map[string]V, error)

	mu      sync.Mutex
	pending map[string]*gathering[V] // by group
}

// gathering is one group's keys on their way to one fetch.
type gathering[V any] struct {
	keys   []string
	weight int
	work   *shared.Work // the fetch, for every lookup of the gathering; joined and left under Coalescer.mu
	timer  *time.Timer
	done   chan struct{}
	found  map[string]V
	err    error
}

// New returns a coalescer of fetch: keys weigh weight(key) each (nil: 1).
// A window of 0 fetches every lookup at once, alone.
func New[V any](window time.Duration, max int, weight func(string) int, fetch func(context.Context, []string) (map[string]V, error)) *Coalescer[V] {
	if weight == nil {
		weight = func(string) int { return 1 }
	}
	return &Coalescer[V]{window: window, max: max, weight: weight, fetch: fetch, pending: map[string]*gathering[V]{}}
}

// Do fetches keys together with the keys of other lookups of group that
// arrive within the window.
func (c *Coalescer[V]) Do(ctx context.Context, group string, keys []string) (map[string]V, error) {
	w := 0
	for _, k := range keys {
		w += c.weight(k)
	}
	if c.window <= 0 || w >= c.max {
		return c.fetch(ctx, keys)
	}
	c.mu.Lock()
	g := c.pending[group]
	if g == nil || g.weight+w > c.max {
		if g != nil {
			c.sendLocked(group, g) // full: it goes now, a new one starts
		}
		g = &gathering[V]{done: make(chan struct{}), work: shared.New(ctx)}
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
	g.weight += w
	g.work.Join()
	if g.weight >= c.max {
		c.sendLocked(group, g)
	}
	c.mu.Unlock()

	select {
	case <-g.done:
		c.leave(group, g)
	case <-ctx.Done():
		c.leave(group, g)
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

// leave records that a lookup no longer waits for g: when none does, its
// fetch is cancelled (work nobody waits for stops) and it takes no more
// lookups.
func (c *Coalescer[V]) leave(group string, g *gathering[V]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g.work.Leave() {
		if c.pending[group] == g {
			delete(c.pending, group)
			g.timer.Stop()
			close(g.done) // never sent: nobody reads it
		}
	}
}

// sendLocked fetches g's keys (once) and takes it off the pending groups.
func (c *Coalescer[V]) sendLocked(group string, g *gathering[V]) {
	if c.pending[group] == g {
		delete(c.pending, group)
	}
	g.timer.Stop()
	keys := g.keys
	go func() {
		defer g.work.Finish()
		g.found, g.err = c.fetch(g.work.Context(), keys)
		close(g.done)
	}()
}

// Phones is what a source is handed to coalesce its caller lookups: each
// waits at most window for others of its budget owner (window 0: none waits).
func Phones(window time.Duration) sources.CoalescePhones {
	return func(search sources.PhoneLookup, max int, weight func(string) int) sources.PhoneLookup {
		c := New(window, max, weight, search)
		return func(ctx context.Context, phones []string) (map[string][]*sources.Contact, error) {
			return c.Do(ctx, sources.BudgetOwner(ctx), phones)
		}
	}
}
