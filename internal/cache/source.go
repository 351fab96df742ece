package cache

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/talkdesk-intercom/api/internal/events"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/memo"
)

// TTLs says how long each kind of entry is fresh.
type TTLs struct {
	Contact  time.Duration // contacts by id
	Phone    time.Duration // caller lookups that found contacts
	Email    time.Duration // email lookups that found contacts
	Company  time.Duration // companies change rarely
	Negative time.Duration // lookups that found nothing
	// Interactions is how long a contact's history stays fresh.
	Interactions time.Duration
	// StaleFor is how long an entry is kept, once it is no longer fresh
	// (expired, or marked stale by an invalidation), to be served when the
	// upstream fails (CACHE_STALE_TTL).
	StaleFor time.Duration
}

// DefaultTTLs are the TTLs the server uses unless configured otherwise.
var DefaultTTLs = TTLs{
	Contact:      5 * time.Minute,
	Phone:        5 * time.Minute,
	Email:        5 * time.Minute,
	Company:      time.Hour,
	Negative:     time.Minute,
	Interactions: time.Minute,
	StaleFor:     24 * time.Hour,
}

// Config configures a caching Source.
type Config struct {
	Store Store
	// Interactions reads contacts' histories; nil when the source has none.
	Interactions sources.InteractionFinder
	// Workspace is the id of the workspace whose entries these are (the
	// Intercom workspace id): keys are namespaced by it; while it is not
	// known, nothing is cached.
	Workspace *sources.WorkspaceID
	TTL       TTLs
	Metrics   *metrics.Metrics
	Now       func() time.Time
	// Events, when set, receives every invalidation, so that every
	// replica's in-process level marks stale, or drops, what it touched.
	Events Publisher
}

// epocher is a store that counts the invalidations of a tenant's keys it
// has heard of (from any replica).
type epocher interface{ Epoch(tenant string) uint64 }

// epoch is the store's count of tenant's invalidations, 0 for a store that
// cannot hear other replicas' (one process is its own truth: its own Del is
// ordered with its own writes by the flight group).
func (c *Source) epoch(tenant string) uint64 {
	if e, ok := c.store.(epocher); ok {
		return e.Epoch(tenant)
	}
	return 0
}

// invalidateTimeout bounds an invalidation (a Redis script and a PUBLISH).
const invalidateTimeout = 2 * time.Second

// Publisher publishes changes to every replica (events.Bus).
type Publisher interface {
	Publish(ctx context.Context, ev events.Event) error
}

// Source is a caching decorator of a sources.Source.
type Source struct {
	next         sources.Source
	interactions sources.InteractionFinder
	store        Store
	workspaceID  *sources.WorkspaceID
	learning     atomic.Bool // a background /me is under way (see tenant)
	ttl          TTLs
	metrics      *metrics.Metrics
	now          func() time.Time
	flights      *flightGroup
	events       Publisher

	// workspace is /me, asked again once a minute (a revoked token is
	// noticed within a minute).
	workspace *memo.Memo[*sources.Workspace]
}

var _ sources.Source = (*Source)(nil)

// New wraps next with the cache.
func New(next sources.Source, cfg Config) *Source {
	if cfg.Workspace == nil {
		cfg.Workspace = &sources.WorkspaceID{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TTL == (TTLs{}) {
		cfg.TTL = DefaultTTLs
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	c := &Source{next: next, interactions: cfg.Interactions, store: cfg.Store, workspaceID: cfg.Workspace, ttl: cfg.TTL,
		metrics: cfg.Metrics, now: cfg.Now, flights: newFlightGroup(), events: cfg.Events}
	c.workspace = memo.New(memo.Config{TTL: time.Minute, Now: cfg.Now}, next.Validate)
	return c
}

// Entity kinds, as they appear in keys and metrics.
const (
	kindContact = "contact"
	kindPhone   = "phone"
	kindEmail   = "email"
	kindCompany = "company"
	kindTags    = "tags"
)

func (c *Source) ContactsByIDs(ctx context.Context, ids []string) (map[string]*sources.Contact, error) {
	return readThrough(ctx, c, kindContact, c.ttl.Contact, ids, c.next.ContactsByIDs)
}

func (c *Source) ContactsByPhones(ctx context.Context, phones []string) (map[string][]*sources.Contact, error) {
	return readThrough(ctx, c, kindPhone, c.ttl.Phone, phones, c.next.ContactsByPhones)
}

func (c *Source) ContactsByEmails(ctx context.Context, emails []string) (map[string][]*sources.Contact, error) {
	lower := lowerAll(emails)
	found, err := readThrough(ctx, c, kindEmail, c.ttl.Email, lower, c.next.ContactsByEmails)
	out := make(map[string][]*sources.Contact, len(emails))
	for i, e := range emails {
		if v, ok := found[lower[i]]; ok {
			out[e] = v
		}
	}
	return out, err
}

func (c *Source) CompaniesByIDs(ctx context.Context, ids []string) (map[string]*sources.Company, error) {
	return readThrough(ctx, c, kindCompany, c.ttl.Company, ids, c.next.CompaniesByIDs)
}

// SearchContacts is not cached (results depend on free text), but the
// contacts it returns prime the by-id cache.
func (c *Source) SearchContacts(ctx context.Context, text string, limit int) ([]*sources.Contact, error) {
	NoteUntracked(ctx) // a search is not cached: no key tells when its results change
	found, err := c.next.SearchContacts(ctx, text, limit)
	if err == nil {
		c.PrimeContacts(ctx, found)
	}
	return found, err
}

// ListContacts is not cached (a synchronisation wants the truth), but the
// contacts it returns prime the by-id cache.
func (c *Source) ListContacts(ctx context.Context, req sources.ContactPageRequest) (*sources.ContactPage, error) {
	NoteUntracked(ctx)
	page, err := c.next.ListContacts(ctx, req)
	if err == nil {
		c.PrimeContacts(ctx, page.Contacts)
	}
	return page, err
}

func (c *Source) ListAgents(ctx context.Context) ([]*sources.Agent, error) {
	NoteUntracked(ctx)
	return c.next.ListAgents(ctx)
}

// ListTags caches the workspace's tag list, as one entry, for the contact TTL.
func (c *Source) ListTags(ctx context.Context) ([]*sources.Tag, error) {
	found, err := readThrough(ctx, c, kindTags, c.ttl.Contact, []string{"all"},
		func(ctx context.Context, _ []string) (map[string][]*sources.Tag, error) {
			tags, err := c.next.ListTags(ctx)
			if err != nil {
				return nil, err
			}
			return map[string][]*sources.Tag{"all": tags}, nil
		})
	return found["all"], err
}

// Validate asks the upstream at most once a minute.
func (c *Source) Validate(ctx context.Context) (*sources.Workspace, error) {
	NoteUntracked(ctx)
	ws, err := c.workspace.Get(ctx)
	if err != nil {
		return nil, err
	}
	return ws, nil
}

// PrimeContacts writes contacts to the by-id cache in one pipeline.
func (c *Source) PrimeContacts(ctx context.Context, list []*sources.Contact) {
	prime(ctx, c, kindContact, c.ttl.Contact, list, func(ct *sources.Contact) string { return ct.ID })
}

// PrimeCompanies writes companies to the cache in one pipeline.
func (c *Source) PrimeCompanies(ctx context.Context, list []*sources.Company) {
	prime(ctx, c, kindCompany, c.ttl.Company, list, func(co *sources.Company) string { return co.ID })
}

// WarmCompanies reads every company of the workspace, a page at a time, into
// the cache: contacts' companies are then served without an Intercom call
// each. It returns how many companies it cached.
func (c *Source) WarmCompanies(ctx context.Context, lister sources.CompanyLister) (int, error) {
	n := 0
	for page := 1; ; page++ {
		list, more, err := lister.ListCompanies(ctx, page, 50)
		if err != nil {
			return n, err
		}
		c.PrimeCompanies(ctx, list)
		n += len(list)
		if !more {
			return n, nil
		}
	}
}

func prime[V any](ctx context.Context, c *Source, kind string, ttl time.Duration, list []V, id func(V) string) {
	tenant, err := c.tenant(ctx)
	if err != nil || len(list) == 0 {
		return
	}
	fresh := c.now().Add(ttl)
	items := make([]Item, 0, len(list))
	for _, v := range list {
		if b, err := encode(v, fresh, false); err == nil {
			items = append(items, Item{Key: redis.CacheKey(tenant, kind, id(v)), Value: b, TTL: ttl + c.ttl.StaleFor})
		}
	}
	_ = c.store.MSet(ctx, items)
}

// Invalidate stops trusting, in one round trip, the cached contacts and
// histories of ch.ContactIDs and the caller and email lookups of ch.Phones
// and ch.Emails (after an action or a webhook changed them). What is old is
// marked stale and kept, at most StaleFor, to answer while Intercom fails;
// what the change made wrong (ch's Deleted and Removed lists) is deleted.
func (c *Source) Invalidate(ctx context.Context, ch sources.Changed) error {
	// The change happened: its invalidation must not fail because the
	// client that made it hung up, or the webhook's deadline passed.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), invalidateTimeout)
	defer cancel()
	tenant, err := c.tenant(ctx)
	if err != nil {
		return nil
	}
	ch = c.withCachedPoints(ctx, tenant, ch)
	inv := Invalidation{At: c.now(), Keep: c.ttl.StaleFor}
	add := func(gone bool, id string, kinds ...string) {
		for _, kind := range kinds {
			key := redis.CacheKey(tenant, kind, id)
			if gone {
				inv.Gone = append(inv.Gone, key)
				c.metrics.CacheInvalidations.WithLabelValues(kind, "deleted").Inc()
			} else {
				inv.Stale = append(inv.Stale, key)
				c.metrics.CacheInvalidations.WithLabelValues(kind, "marked_stale").Inc()
			}
		}
	}
	deleted := set(ch.DeletedContactIDs)
	for _, id := range sources.UniqueIDs(append(slices.Clone(ch.ContactIDs), ch.DeletedContactIDs...)) {
		add(deleted[id], id, kindContact, kindInteractions)
	}
	removed := set(ch.RemovedPhones)
	for _, p := range sources.UniqueIDs(append(slices.Clone(ch.Phones), ch.RemovedPhones...)) {
		add(removed[p], p, kindPhone)
	}
	removed = set(lowerAll(ch.RemovedEmails))
	for _, e := range sources.UniqueIDs(append(lowerAll(ch.Emails), lowerAll(ch.RemovedEmails)...)) {
		add(removed[e], e, kindEmail)
	}
	if len(inv.Stale)+len(inv.Gone) == 0 {
		return nil
	}
	err = c.store.Invalidate(ctx, inv)
	if c.events != nil {
		// Published even when Redis failed: the replicas' in-process copies
		// must follow whatever Redis did. Keys names every key, so that a
		// replica of the previous release (which knows no Stale) drops them.
		ev := events.Event{Workspace: tenant, Changed: ch, Keys: append(slices.Clone(inv.Stale), inv.Gone...)}
		if len(inv.Stale) > 0 {
			ev.Stale, ev.StaleAt = inv.Stale, inv.At.UnixMilli()
		}
		if perr := c.events.Publish(ctx, ev); err == nil {
			err = perr
		}
	}
	return err
}

// withCachedPoints adds to ch the phones and emails the cached copies of
// its contacts hold: a contact's old number still finds it until that
// lookup is dropped too, and a webhook names only the new one. A deleted
// contact's old points are removed, an updated one's marked stale. One
// MGET; when it fails, ch is what the caller knew.
func (c *Source) withCachedPoints(ctx context.Context, tenant string, ch sources.Changed) sources.Changed {
	ids := sources.UniqueIDs(append(slices.Clone(ch.ContactIDs), ch.DeletedContactIDs...))
	if len(ids) == 0 {
		return ch
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = redis.CacheKey(tenant, kindContact, id)
	}
	raw, err := c.store.MGet(ctx, keys)
	if err != nil {
		return ch
	}
	deleted := set(ch.DeletedContactIDs)
	phones, emails := slices.Clone(ch.Phones), slices.Clone(ch.Emails)
	removedPhones, removedEmails := slices.Clone(ch.RemovedPhones), slices.Clone(ch.RemovedEmails)
	for i, id := range ids {
		e, ok := decode[*sources.Contact](raw[i])
		if !ok || e.Value == nil {
			continue
		}
		if deleted[id] {
			removedPhones, removedEmails = append(removedPhones, e.Value.Phones...), append(removedEmails, e.Value.Emails...)
		} else {
			phones, emails = append(phones, e.Value.Phones...), append(emails, e.Value.Emails...)
		}
	}
	ch.Phones, ch.Emails, ch.RemovedPhones, ch.RemovedEmails = phones, emails, removedPhones, removedEmails
	return ch
}

func set(list []string) map[string]bool {
	out := make(map[string]bool, len(list))
	for _, v := range list {
		out[v] = true
	}
	return out
}

// entry is the stored form of a value: the value, when it stops being fresh,
// and whether it records that nothing was found.
type entry[V any] struct {
	Value      V     `json:"v,omitempty"`
	FreshUntil int64 `json:"f"`
	Negative   bool  `json:"n,omitempty"`
	// staleSince is when an invalidation marked the entry stale (Unix ms),
	// 0 when none did; the mark is stored in front of the JSON (mark.go).
	staleSince int64
}

// fresh reports whether the entry answers without asking the upstream at
// now (Unix ms). A marked entry never does, whatever the clocks of the
// replicas that wrote and marked it.
func (e entry[V]) fresh(now int64) bool { return e.staleSince == 0 && now < e.FreshUntil }

// staleAge is how long the entry has not been fresh at now (Unix ms): since
// its TTL ran out, or an invalidation marked it, whichever came first. It
// is what a stale answer reports, and what StaleFor bounds.
func (e entry[V]) staleAge(now int64) time.Duration {
	since := e.FreshUntil
	if e.staleSince != 0 && e.staleSince < since {
		since = e.staleSince
	}
	return time.Duration(max(0, now-since)) * time.Millisecond
}

// servable reports whether the entry may answer, stale, at now (Unix ms): it
// holds a value, and has not been stale longer than staleFor (a store may
// keep it longer: the in-process level's TTL is its own).
func (e entry[V]) servable(now int64, staleFor time.Duration) bool {
	return !e.Negative && e.staleAge(now) <= staleFor
}

// encodingVersion prefixes every stored value.
const encodingVersion = '1'

func encode[V any](v V, freshUntil time.Time, negative bool) ([]byte, error) {
	b, err := json.Marshal(entry[V]{Value: v, FreshUntil: freshUntil.UnixMilli(), Negative: negative})
	if err != nil {
		return nil, err
	}
	return append([]byte{encodingVersion}, b...), nil
}

func decode[V any](b []byte) (entry[V], bool) {
	var e entry[V]
	staleSince, b := unmark(b)
	if len(b) < 2 || b[0] != encodingVersion || json.Unmarshal(b[1:], &e) != nil {
		return e, false
	}
	e.staleSince = staleSince
	return e, true
}

// readThrough is the cache algorithm shared by every batch method.
func readThrough[V any](ctx context.Context, c *Source, kind string, ttl time.Duration, ids []string,
	fetch func(context.Context, []string) (map[string]V, error)) (map[string]V, error) {
	ids = sources.UniqueIDs(ids)
	tenant, err := c.tenant(ctx)
	if err != nil || len(ids) == 0 {
		if err != nil {
			NoteUntracked(ctx)
		}
		return fetch(ctx, ids) // no tenant, no namespace: do not cache
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = redis.CacheKey(tenant, kind, id)
	}
	raw, err := c.store.MGet(ctx, keys)
	if err != nil {
		raw = make([][]byte, len(ids)) // a store failure is a miss for every key
	}

	now := c.now().UnixMilli()
	out := make(map[string]V, len(ids))
	stale := map[string]entry[V]{}
	var need []string
	for i, id := range ids {
		e, ok := decode[V](raw[i])
		switch {
		case !ok:
			c.count(kind, "miss")
			need = append(need, id)
		case e.fresh(now) && e.Negative:
			c.count(kind, "negative_hit")
			noteRead(ctx, keys[i], freshLeft(e.FreshUntil, now), raw[i])
		case e.fresh(now):
			c.count(kind, "hit")
			noteRead(ctx, keys[i], freshLeft(e.FreshUntil, now), raw[i])
			out[id] = e.Value
		default:
			c.count(kind, "expired")
			if e.servable(now, c.ttl.StaleFor) {
				stale[id] = e
			}
			need = append(need, id)
		}
	}
	if len(need) == 0 {
		return out, nil
	}

	// A fetch spends its owner's Intercom budget and may be refused for it
	// (its share, or bulk work): only calls with the same owner share one.
	vals, errs := c.flights.do(ctx, tenant+":"+kind+"\x00"+sources.BudgetOwner(ctx), need, func(ctx context.Context, keys []string) (map[string]any, error) {
		epoch := c.epoch(tenant)
		found, err := fetch(ctx, keys)
		if err != nil {
			return nil, err
		}
		var written map[string][]byte
		if c.epoch(tenant) == epoch {
			// An invalidation that overtook the fetch may have dropped
			// what it read: then it is answered, not kept.
			written = writeBack(ctx, c, tenant, kind, ttl, keys, found)
		}
		res := make(map[string]any, len(keys))
		for _, k := range keys {
			v, ok := found[k]
			res[k] = fetched[V]{value: v, none: !ok, raw: written[k]}
		}
		return res, nil
	})
	var firstErr error
	for _, id := range need {
		key := redis.CacheKey(tenant, kind, id)
		if v, ok := vals[id]; ok {
			f := v.(fetched[V])
			if f.none { // the upstream has none
				noteRead(ctx, key, min(ttl, c.ttl.Negative), f.raw)
				continue
			}
			out[id] = f.value
			noteRead(ctx, key, ttl, f.raw)
			continue
		}
		err, failed := errs[id]
		if !failed {
			noteRead(ctx, key, min(ttl, c.ttl.Negative), nil)
			continue // the upstream has none
		}
		if e, ok := stale[id]; ok && servesStale(err) && sources.StaleAllowed(ctx) {
			c.count(kind, "stale")
			noteStale(ctx, e.staleAge(c.now().UnixMilli()))
			out[id] = e.Value
			continue
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return out, firstErr
}

// writeBack stores what the upstream found and, as negative entries, what it
// did not, in one pipeline. Entries outlive their freshness by StaleFor so
// that they can be served if the upstream fails later.
// fetched is a value a fetch found (none: the upstream has none), with the
// bytes written back for it (nil when none were).
type fetched[V any] struct {
	value V
	none  bool
	raw   []byte
}

// writeBack writes what a fetch found, and "none" for the keys it did not
// find; it returns the bytes written for each key.
func writeBack[V any](ctx context.Context, c *Source, tenant, kind string, ttl time.Duration, keys []string, found map[string]V) map[string][]byte {
	now := c.now()
	written := make(map[string][]byte, len(keys))
	items := make([]Item, 0, len(keys))
	for _, id := range keys {
		v, ok := found[id]
		var b []byte
		var err error
		keep := ttl + c.ttl.StaleFor
		if ok && !isEmpty(v) {
			b, err = encode(v, now.Add(ttl), false)
		} else {
			b, err = encode[any](nil, now.Add(c.ttl.Negative), true)
			keep = c.ttl.Negative
		}
		if err == nil {
			items = append(items, Item{Key: redis.CacheKey(tenant, kind, id), Value: b, TTL: keep})
			written[id] = b
		}
	}
	_ = c.store.MSet(ctx, items)
	return written
}

// isEmpty reports whether a found value means "nothing": a lookup that
// matched no contact.
func isEmpty(v any) bool {
	list, ok := v.([]*sources.Contact)
	return ok && len(list) == 0
}

func (c *Source) count(kind, result string) {
	c.metrics.CacheResults.WithLabelValues(kind, result).Inc()
}

// tenant is the workspace id the keys are namespaced by. While it is not
// known, reads go to the source uncached, and the source is asked for its
// workspace in the background (one at a time), which teaches it the id: a
// read never waits for /me and then for its own call, each up to
// INTERCOM_TIMEOUT.
func (c *Source) tenant(ctx context.Context) (string, error) {
	if id, ok := c.workspaceID.Get(); ok {
		return id, nil
	}
	if c.learning.CompareAndSwap(false, true) {
		go func() {
			defer c.learning.Store(false)
			_, _ = c.next.Validate(context.WithoutCancel(ctx)) // bounded by the source's own timeout
		}()
	}
	return "", sources.Errorf(sources.EUpstreamUnavailable, "the workspace of this token is not known yet")
}

// servesStale says whether a failed read may be answered from a stale
// copy: only when Intercom failed, refused for its (or our) budget, or the
// breaker paused it. A caller that left gets nothing, and a token Intercom
// rejects must not go on reading what was cached under it.
func servesStale(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	switch sources.ErrorCode(err) {
	case sources.EUpstreamUnavailable, sources.ERateLimited, sources.EUnavailable:
		return true
	}
	return false
}

// lowerAll is emails as they are keyed: lower-cased.
func lowerAll(emails []string) []string {
	out := make([]string, len(emails))
	for i, e := range emails {
		out[i] = strings.ToLower(e)
	}
	return out
}
