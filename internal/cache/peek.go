package cache

import (
	"context"
	"time"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/sources"
)

// Reads answered from process memory alone. The loaders ask these before
// they batch: a fresh entry held in process (the in-process level, or the
// in-process store without Redis) answers at once, with no Redis round trip
// and no wait for other keys; anything else (a miss, an expired entry that
// may need refreshing or serving stale) goes through the batch as before.

// localReader is a store that can answer from process memory without I/O.
type localReader interface {
	MGetLocal(keys []string) [][]byte
}

// decodedReader is a store that also keeps what it holds in process
// decoded, so that a hit costs no decoding.
type decodedReader interface {
	PeekDecoded(key string, decode func([]byte) (any, bool)) (v any, raw []byte, ok bool)
}

// peek answers one key of kind from memory: answered is false when the
// entry is not in process or not fresh; found is false for a negative entry.
func peek[V any](ctx context.Context, c *Source, kind, id string) (v V, found, answered bool) {
	tenant, err := c.tenant(ctx)
	if err != nil {
		return v, false, false
	}
	key := redis.CacheKey(tenant, kind, id)
	var e entry[V]
	var raw []byte
	switch store := c.store.(type) {
	case decodedReader:
		d, b, ok := store.PeekDecoded(key, func(b []byte) (any, bool) { return decode[V](b) })
		if !ok {
			return v, false, false
		}
		e, raw = d.(entry[V]), b
	case localReader:
		var ok bool
		raw = store.MGetLocal([]string{key})[0]
		if e, ok = decode[V](raw); !ok {
			return v, false, false
		}
	default:
		return v, false, false
	}
	now := c.now().UnixMilli()
	if !e.fresh(now) {
		return v, false, false
	}
	noteRead(ctx, key, freshLeft(e.FreshUntil, now), raw)
	if e.Negative {
		c.count(kind, "negative_hit")
		return v, false, true
	}
	c.count(kind, "hit")
	return e.Value, true, true
}

// PeekContact is the contact with id from memory (nil: Intercom has none),
// when memory can answer.
func (c *Source) PeekContact(ctx context.Context, id string) (*sources.Contact, bool) {
	v, _, answered := peek[*sources.Contact](ctx, c, kindContact, id)
	return v, answered
}

// PeekPhone is the contacts with an E.164 number from memory, when memory
// can answer.
func (c *Source) PeekPhone(ctx context.Context, e164 string) ([]*sources.Contact, bool) {
	v, _, answered := peek[[]*sources.Contact](ctx, c, kindPhone, e164)
	if answered && v == nil {
		v = []*sources.Contact{}
	}
	return v, answered
}

// PeekCompany is the company with id from memory (nil: none), when memory
// can answer.
func (c *Source) PeekCompany(ctx context.Context, id string) (*sources.Company, bool) {
	v, _, answered := peek[*sources.Company](ctx, c, kindCompany, id)
	return v, answered
}

// PeekHistory is a contact's history of kinds since a time from memory,
// when memory holds a fresh history covering those kinds.
func (c *Source) PeekHistory(ctx context.Context, ref sources.ContactRef, kinds []sources.InteractionKind,
	since time.Time) ([]*sources.Interaction, bool) {
	if c.interactions == nil {
		return nil, false
	}
	wanted := kinds
	if len(wanted) == 0 {
		wanted = c.interactions.SupportedInteractionKinds()
	}
	h, found, answered := peek[history](ctx, c, kindInteractions, ref.ID)
	if !answered || !found || !h.covers(wanted) {
		return nil, false
	}
	return h.filter(wanted, since), true
}
