package cache

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/sources"
)

// Interactions are cached as one entry per contact (key kind
// "interactions"), holding the whole history of the kinds read: a request
// with `since` filters after reading, and one invalidation marks a contact's
// history stale when an action or a webhook changes it. Histories change often: their TTL
// is short.

const kindInteractions = "interactions"

// history is the cached form: which kinds it covers and their items.
type history struct {
	Kinds []sources.InteractionKind `json:"k"`
	Items []*sources.Interaction    `json:"i"`
}

func (h history) covers(kinds []sources.InteractionKind) bool {
	for _, k := range kinds {
		if !slices.Contains(h.Kinds, k) {
			return false
		}
	}
	return true
}

// filter keeps the items of kinds dated at or after since.
func (h history) filter(kinds []sources.InteractionKind, since time.Time) []*sources.Interaction {
	out := make([]*sources.Interaction, 0, len(h.Items)) // one allocation: a warm history is read per field
	for _, it := range h.Items {
		if slices.Contains(kinds, it.Kind) && !it.Date.Before(since) {
			out = append(out, it)
		}
	}
	return out
}

// SupportedInteractionKinds is the source's.
func (c *Source) SupportedInteractionKinds() []sources.InteractionKind {
	if c.interactions == nil {
		return nil
	}
	return c.interactions.SupportedInteractionKinds()
}

// InteractionsByContacts reads histories through the cache: one MGET for the
// batch, one upstream call per kind for the contacts it missed, one
// pipelined write-back. Kinds that fail upstream are not cached; a history
// that is no longer fresh is served (flagged stale) when the upstream fails
// altogether.
func (c *Source) InteractionsByContacts(ctx context.Context, refs []sources.ContactRef, kinds []sources.InteractionKind,
	since time.Time) (map[string][]*sources.Interaction, error) {
	if c.interactions == nil {
		return nil, sources.Errorf(sources.EForbidden, "this source has no interactions")
	}
	tenant, err := c.tenant(ctx)
	if err != nil || len(refs) == 0 {
		if err != nil {
			NoteUntracked(ctx)
		}
		return c.interactions.InteractionsByContacts(ctx, refs, kinds, since)
	}
	wanted := kinds
	if len(wanted) == 0 {
		wanted = c.interactions.SupportedInteractionKinds()
	}
	keys := make([]string, len(refs))
	for i, r := range refs {
		keys[i] = redis.CacheKey(tenant, kindInteractions, r.ID)
	}
	raw, err := c.store.MGet(ctx, keys)
	if err != nil {
		raw = make([][]byte, len(refs))
	}
	now := c.now().UnixMilli()
	out := make(map[string][]*sources.Interaction, len(refs))
	stale := map[string]entry[history]{}
	var need []sources.ContactRef
	for i, r := range refs {
		e, ok := decode[history](raw[i])
		switch {
		case ok && e.fresh(now) && e.Value.covers(wanted):
			c.count(kindInteractions, "hit")
			noteRead(ctx, keys[i], freshLeft(e.FreshUntil, now), raw[i])
			out[r.ID] = e.Value.filter(wanted, since)
		case ok && e.Value.covers(wanted):
			c.count(kindInteractions, "expired")
			if e.servable(now, c.ttl.StaleFor) && sources.StaleAllowed(ctx) {
				stale[r.ID] = e
			}
			need = append(need, r)
		default:
			c.count(kindInteractions, "miss")
			need = append(need, r)
		}
	}
	if len(need) == 0 {
		return out, nil
	}

	// Read whole histories (no since) so that the entry serves any later since.
	epoch := c.epoch(tenant)
	found, err := c.interactions.InteractionsByContacts(ctx, need, kinds, time.Time{})
	var partial *sources.PartialError
	if err != nil && !errors.As(err, &partial) {
		now := c.now().UnixMilli()
		for _, r := range need {
			if e, ok := stale[r.ID]; ok && servesStale(err) {
				c.count(kindInteractions, "stale")
				noteStale(ctx, e.staleAge(now))
				out[r.ID] = e.Value.filter(wanted, since)
			}
		}
		if len(out) == len(refs) {
			return out, nil
		}
		return out, err
	}
	covered := wanted
	if partial != nil {
		covered = slices.DeleteFunc(slices.Clone(wanted), func(k sources.InteractionKind) bool {
			return slices.Contains(partial.Kinds(), k)
		})
	}
	fresh := c.now().Add(c.ttl.Interactions)
	items := make([]Item, 0, len(need))
	unread := 0 // contacts missing the kinds that failed
	for _, r := range need {
		h := history{Kinds: covered, Items: found[r.ID]}
		out[r.ID] = h.filter(wanted, since)
		if partial != nil {
			// The kinds that failed come from the stale copy when there is
			// one: a stale card beats a hole in the history.
			if e, ok := stale[r.ID]; ok {
				c.count(kindInteractions, "stale")
				noteStale(ctx, e.staleAge(c.now().UnixMilli()))
				out[r.ID] = append(out[r.ID], e.Value.filter(partial.Kinds(), since)...)
				sources.SortInteractions(out[r.ID])
				continue // the stale copy stays whole for the next read: nothing is written back
			}
			unread++
		}
		until, ttl := fresh, c.ttl.Interactions+c.ttl.StaleFor
		if len(h.Items) == 0 {
			// An empty history (an unknown id, a new lead) is remembered like
			// a lookup that found nothing, and not kept stale for a day: any
			// id a client sends would otherwise hold its key that long.
			neg := min(c.ttl.Interactions, c.ttl.Negative)
			until, ttl = c.now().Add(neg), neg
		}
		b, err := encode(h, until, false)
		if err != nil || len(covered) == 0 {
			b = nil // not written back
		}
		noteRead(ctx, redis.CacheKey(tenant, kindInteractions, r.ID), until.Sub(c.now()), b)
		if b != nil {
			items = append(items, Item{Key: redis.CacheKey(tenant, kindInteractions, r.ID), Value: b, TTL: ttl})
		}
	}
	if partial != nil && unread == 0 {
		err = nil // every failed kind was served stale
	}
	if c.epoch(tenant) == epoch { // see readThrough
		_ = c.store.MSet(ctx, items)
	}
	return out, err
}
