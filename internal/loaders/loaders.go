// Package loaders batches and de-duplicates the source reads of one request
// with graph-gophers/dataloader. Loaders are created per request by
// Middleware and never shared between requests: they cache within a request
// and batch under that request's credentials only.
package loaders

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/graph-gophers/dataloader/v7"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/sources"
)

// Config tunes batching. The defaults were measured with cmd/bench.
type Config struct {
	// Wait is how long a loader collects keys before it fetches them: the
	// longest, when Waits adapts it.
	Wait time.Duration
	// Waits, when set, adapts each loader's wait between its shortest and
	// Wait (see Waits).
	Waits *Waits
	// MaxBatch caps the keys of one batch (0: no cap).
	MaxBatch int
	// Timeout bounds a batch, which runs detached from the cancellation of
	// the request that started it (other requests' keys may be in it).
	Timeout time.Duration
	Metrics *metrics.Metrics
	// Prefetch, when set, runs before a load waits for its batch. It may
	// queue, without waiting, the loads that other fields are about to
	// make, so that they join the batches already collecting keys: the
	// executor resolves a list of contacts one contact after another, and
	// resolvers.Prefetch queues there what the whole list will ask for.
	Prefetch func(ctx context.Context)

	// request is the context of the request the loaders serve (set by
	// Middleware): when it ends, nobody waits for its batches any more.
	request context.Context
}

// DefaultConfig is what the server uses unless configured otherwise.
var DefaultConfig = Config{Wait: 5 * time.Millisecond, MaxBatch: 100, Timeout: 30 * time.Second}

// Unbatched is a configuration of no batching: each key its own source call
// at once (a batch of one, no wait), the naive path that LOADERS_ENABLED=false
// serves for comparison. Within a request a key is still read once.
func Unbatched(m *metrics.Metrics) Config { return Config{MaxBatch: 1, Metrics: m} }

// Loaders are one request's loaders.
type Loaders struct {
	cfg            Config
	history        sources.InteractionFinder
	contactByID    loader[string, *sources.Contact]
	contactsByTel  loader[string, []*sources.Contact]
	contactsByMail loader[string, []*sources.Contact]
	companyByID    loader[string, *sources.Company]
	histories      loader[historyKey, []*sources.Interaction]
	// tagNames reads the workspace's tag list once per request.
	tagNames func() (map[string]string, error)
	// memory answers some reads at once, from process memory; nil when
	// the source has none.
	memory        memory
	historyMemory historyMemory
	// prefetched holds the keys FirstPrefetch has seen.
	prefetched sync.Map
}

// memory is a source that can answer some reads at once from process
// memory (an in-process cache level): such reads skip the batch and its
// wait, so a warm screen pop waits for nothing. answered is false when the
// read needs the batch; a nil value answered means "none".
type memory interface {
	PeekContact(ctx context.Context, id string) (*sources.Contact, bool)
	PeekPhone(ctx context.Context, e164 string) ([]*sources.Contact, bool)
	PeekCompany(ctx context.Context, id string) (*sources.Company, bool)
}

type historyMemory interface {
	PeekHistory(ctx context.Context, ref sources.ContactRef, kinds []sources.InteractionKind, since time.Time) ([]*sources.Interaction, bool)
}

// New returns fresh loaders over source and history (the contacts'
// interactions; nil when the source has none).
func New(source sources.Source, history sources.InteractionFinder, cfg Config) *Loaders {
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultConfig.Timeout
	}
	l := &Loaders{
		cfg:            cfg,
		contactByID:    newLoader(cfg, "contact_by_id", source.ContactsByIDs),
		contactsByTel:  newLoader(cfg, "contacts_by_phone", source.ContactsByPhones),
		contactsByMail: newLoader(cfg, "contacts_by_email", source.ContactsByEmails),
		companyByID:    newLoader(cfg, "company_by_id", source.CompaniesByIDs),
	}
	if history != nil {
		clock := newBatchClock(cfg.Waits, "interactions_by_contact")
		l.histories = newLoaderOf(cfg, clock, historyBatch(cfg, clock, history))
	}
	l.history = history
	l.memory, _ = source.(memory)
	l.historyMemory, _ = history.(historyMemory)
	l.tagNames = sync.OnceValues(func() (map[string]string, error) {
		// Detached like a batch: the list serves every field that asks.
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
		defer cancel()
		tags, err := source.ListTags(ctx)
		names := make(map[string]string, len(tags))
		for _, t := range tags {
			names[t.ID] = t.Name
		}
		return names, err
	})
	return l
}

// TagName returns the name of the tag with id ("" when unknown).
func (l *Loaders) TagName(ctx context.Context, id string) (string, error) {
	names, err := l.tagNames()
	return names[id], err
}

// loader is a dataloader, the clock that adapts its wait, the hook that
// runs before a load of it waits (Config.Prefetch), and the keys queued in
// it so far: a key loaded again (a prefetched one, say, once its field
// asks for it) joins no batch, so it is no arrival for the clock.
type loader[K comparable, V any] struct {
	*dataloader.Loader[K, V]
	clock    *batchClock
	prefetch func(context.Context)
	queued   *sync.Map
}

func newLoaderOf[K comparable, V any](cfg Config, clock *batchClock, batch dataloader.BatchFunc[K, V]) loader[K, V] {
	return loader[K, V]{dataloader.NewBatchedLoader(batch, options[K, V](cfg, clock)...), clock, cfg.Prefetch, &sync.Map{}}
}

// forget drops key from the loader's cache (a transient failure), so that
// a later load in the request queues it again.
func (l loader[K, V]) forget(ctx context.Context, key K) {
	l.Clear(ctx, key)
	l.queued.Delete(key)
}

// beforeWait runs the prefetch hook, if any: a load is about to wait.
func (l loader[K, V]) beforeWait(ctx context.Context) {
	if l.prefetch != nil {
		l.prefetch(ctx)
	}
}

// load queues key, telling the clock when it is new to the request.
func (l loader[K, V]) load(ctx context.Context, key K) dataloader.Thunk[V] {
	if _, again := l.queued.LoadOrStore(key, struct{}{}); !again {
		l.clock.arrived()
	}
	return l.Load(ctx, key)
}

func newLoader[V any](cfg Config, name string, fetch func(context.Context, []string) (map[string]V, error)) loader[string, V] {
	clock := newBatchClock(cfg.Waits, name)
	return newLoaderOf(cfg, clock, batchFunc(cfg, clock, name, fetch))
}

// options are every loader's wait and batch capacity.
func options[K comparable, V any](cfg Config, clock *batchClock) []dataloader.Option[K, V] {
	wait := cfg.Wait
	if cfg.Waits != nil {
		wait = clock.wait
	}
	opts := []dataloader.Option[K, V]{dataloader.WithWait[K, V](wait)}
	if cfg.MaxBatch > 0 {
		opts = append(opts, dataloader.WithBatchCapacity[K, V](cfg.MaxBatch))
	}
	return opts
}

// startBatch records a batch's size and gives it its own deadline: the batch
// serves every field that loaded into it, not just the first, so it keeps
// the first caller's values and drops its cancellation; it stops when the
// request the loaders serve ends (its client left, its deadline passed).
//
// The batch is a span (child of the first caller's), ended by the returned
// cancel; batchFunc records on it how many keys were found.
func startBatch(ctx context.Context, cfg Config, name string, size int) (context.Context, context.CancelFunc) {
	cfg.Metrics.LoaderBatchSize.WithLabelValues(name).Observe(float64(size))
	ctx, span := otel.Tracer("github.com/talkdesk-intercom/api/internal/loaders").Start(ctx, "loader "+name,
		trace.WithAttributes(attribute.String("loader.name", name), attribute.Int("loader.keys", size)))
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Timeout)
	if cfg.request == nil {
		return ctx, func() { cancel(); span.End() }
	}
	stop := context.AfterFunc(cfg.request, cancel)
	return ctx, func() { stop(); cancel(); span.End() }
}

// batchFunc adapts a source's batch method: one result per key, in key
// order, with a NOT_FOUND error for each key the source does not have.
func batchFunc[V any](cfg Config, clock *batchClock, name string, fetch func(context.Context, []string) (map[string]V, error)) dataloader.BatchFunc[string, V] {
	return func(ctx context.Context, keys []string) []*dataloader.Result[V] {
		clock.sent()
		ctx, cancel := startBatch(ctx, cfg, name, len(keys))
		defer cancel()
		found, err := fetch(ctx, keys)
		trace.SpanFromContext(ctx).SetAttributes(attribute.Int("loader.hits", len(found)))
		results := make([]*dataloader.Result[V], len(keys))
		for i, k := range keys {
			switch v, ok := found[k]; {
			case ok:
				results[i] = &dataloader.Result[V]{Data: v}
			case err != nil:
				results[i] = &dataloader.Result[V]{Error: err}
			default:
				results[i] = &dataloader.Result[V]{Error: sources.Errorf(sources.ENotFound, "%s has no %s", name, k)}
			}
		}
		return results
	}
}

// load runs one key through a loader: the zero value where the source has
// none. A transient error is dropped from the loader's cache so that a later
// load in the same request tries again.
func load[V any](ctx context.Context, l loader[string, V], key string) (V, error) {
	th := l.load(ctx, key)
	l.beforeWait(ctx)
	v, err := await(ctx, th)
	switch {
	case sources.IsNotFound(err):
		var zero V
		return zero, nil
	case err != nil:
		l.forget(ctx, key)
	}
	return v, err
}

// await waits for a thunk, or for the request's deadline: the batch itself
// runs on for the other requests waiting on it, but this one stops waiting.
func await[V any](ctx context.Context, th dataloader.Thunk[V]) (V, error) {
	type result struct {
		v   V
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := th()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero V
		if errors.Is(ctx.Err(), context.Canceled) {
			return zero, &sources.Error{Code: sources.ECancelled, Message: "the request was cancelled", Err: ctx.Err()}
		}
		return zero, &sources.Error{Code: sources.EUpstreamUnavailable, Message: "the request's deadline passed while waiting for a source (Intercom or the customer database)", Err: ctx.Err()}
	}
}

// Contact returns the contact with id, or nil when there is none.
func (l *Loaders) Contact(ctx context.Context, id string) (*sources.Contact, error) {
	if l.memory != nil {
		if c, ok := l.memory.PeekContact(ctx, id); ok {
			return c, nil
		}
	}
	return load(ctx, l.contactByID, id)
}

// Contacts returns the contacts with these ids, in order, nil where there is
// none. All ids go into the loader before any is awaited, so they share a batch.
func (l *Loaders) Contacts(ctx context.Context, ids []string) ([]*sources.Contact, error) {
	var peek func(context.Context, string) (*sources.Contact, bool)
	if l.memory != nil {
		peek = l.memory.PeekContact
	}
	return loadMany(ctx, l.contactByID, ids, peek)
}

// loadMany loads every key in one batch and returns the values in key order,
// the zero value where the source has none. Keys that peek (when not nil)
// answers from memory do not join the batch.
func loadMany[V any](ctx context.Context, l loader[string, V], keys []string,
	peek func(context.Context, string) (V, bool)) ([]V, error) {
	out := make([]V, len(keys))
	thunks := make([]dataloader.Thunk[V], len(keys))
	waits := false
	for i, k := range keys {
		if peek != nil {
			if v, ok := peek(ctx, k); ok {
				out[i] = v
				continue
			}
		}
		thunks[i] = l.load(ctx, k)
		waits = true
	}
	if waits {
		l.beforeWait(ctx)
	}
	var firstErr error
	for i, th := range thunks {
		if th == nil {
			continue // answered from memory
		}
		v, err := await(ctx, th)
		switch {
		case err == nil:
			out[i] = v
		case sources.IsNotFound(err):
		default:
			l.forget(ctx, keys[i]) // transient: let a later load retry
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	return out, firstErr
}

// ContactsByPhone returns the contacts with an E.164 phone number.
func (l *Loaders) ContactsByPhone(ctx context.Context, e164 string) ([]*sources.Contact, error) {
	if l.memory != nil {
		if found, ok := l.memory.PeekPhone(ctx, e164); ok {
			return found, nil
		}
	}
	return load(ctx, l.contactsByTel, e164)
}

// ContactsByPhones returns the contacts of E.164 numbers, keyed by number,
// and ContactsByEmails those of emails (lower case), keyed by email: the
// shape of a source's lookups, through the loaders, so that the lookups of
// every field of the request that asks at about the same time go to the
// source in one batch (the callers of a dashboard of people, each resolved
// on its own).
func (l *Loaders) ContactsByPhones(ctx context.Context, phones []string) (map[string][]*sources.Contact, error) {
	var peek func(context.Context, string) ([]*sources.Contact, bool)
	if l.memory != nil {
		peek = l.memory.PeekPhone
	}
	found, err := loadMany(ctx, l.contactsByTel, phones, peek)
	return keyed(phones, found), err
}

// ContactsByEmails: see ContactsByPhones.
func (l *Loaders) ContactsByEmails(ctx context.Context, emails []string) (map[string][]*sources.Contact, error) {
	found, err := loadMany(ctx, l.contactsByMail, emails, nil)
	return keyed(emails, found), err
}

// keyed maps keys to their non-empty values.
func keyed(keys []string, values [][]*sources.Contact) map[string][]*sources.Contact {
	out := make(map[string][]*sources.Contact, len(keys))
	for i, k := range keys {
		if len(values[i]) > 0 {
			out[k] = values[i]
		}
	}
	return out
}

// Companies returns the companies with these ids, in order, skipping
// unknown ones. Each company is fetched once per request however many
// contacts share it.
func (l *Loaders) Companies(ctx context.Context, ids []string) ([]*sources.Company, error) {
	out := make([]*sources.Company, 0, len(ids))
	var peek func(context.Context, string) (*sources.Company, bool)
	if l.memory != nil {
		peek = l.memory.PeekCompany
	}
	found, err := loadMany(ctx, l.companyByID, ids, peek)
	for _, c := range found {
		if c != nil {
			out = append(out, c)
		}
	}
	return out, err
}

// PrefetchCompanies queues the companies with ids that memory does not
// hold, without waiting: a later Companies of them waits on that batch.
func (l *Loaders) PrefetchCompanies(ctx context.Context, ids []string) {
	for _, id := range ids {
		if l.memory != nil {
			if _, ok := l.memory.PeekCompany(ctx, id); ok {
				continue
			}
		}
		l.companyByID.load(ctx, id)
	}
}

// FirstPrefetch tells whether key is new to this request's prefetches, and
// remembers it: a prefetch hook runs before every wait, its work once.
func (l *Loaders) FirstPrefetch(key any) bool {
	_, seen := l.prefetched.LoadOrStore(key, struct{}{})
	return !seen
}

// ForRequest returns fresh loaders for the request whose context is ctx: their
// batches stop when it ends.
func ForRequest(ctx context.Context, source sources.Source, history sources.InteractionFinder, cfg Config) *Loaders {
	cfg.request = ctx
	return New(source, history, cfg)
}
