package intercom

import (
	"context"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/memo"
)

// Interaction retrieval: what a caller did before. Conversations and tickets
// are searched for a whole batch of contacts at once (contact_ids IN [...]),
// notes are read per contact and only for contacts that have some, and
// calls are read for the batch's phone-call conversations.
//
// Each kind has a file with its reads and its mapping: conversations.go,
// tickets.go, notes.go and calls.go. What the mappings share (status and
// priority, participants, links) is in mapping_interactions.go.

var _ sources.InteractionFinder = (*Interactions)(nil)

// Limits of the interaction reads.
const (
	maxListPages  = 200
	subjectLength = 120
	adminNamesTTL = 10 * time.Minute
)

// InteractionsConfig configures Interactions.
type InteractionsConfig struct {
	// PreviewLength bounds Interaction.Description, in runes. Default
	// sources.PreviewLength.
	PreviewLength int
}

// Interactions reads contacts' histories from one Intercom workspace through
// a Client: conversations, tickets, notes and Intercom Phone calls. Deep
// links name the workspace the Client learns from GET /me once. It
// remembers the admins' names (for ten minutes, to name assignees) and
// whether the workspace has Intercom Phone, so create one per Client and
// keep it. It is safe for concurrent use.
type Interactions struct {
	c          *Client
	preview    int
	adminNames *memo.Memo[map[string]string] // admin id -> name

	mu        sync.Mutex
	noPhoneAt time.Time // when the workspace last answered it has no Intercom Phone
}

// NewInteractions returns the interaction reader of c's workspace.
func NewInteractions(c *Client, cfg InteractionsConfig) *Interactions {
	x := &Interactions{c: c, preview: cfg.PreviewLength}
	if x.preview <= 0 {
		x.preview = sources.PreviewLength
	}
	// A token without access to admins is not asked again for a minute.
	x.adminNames = memo.New(memo.Config{TTL: adminNamesTTL, FailureTTL: time.Minute}, func(ctx context.Context) (map[string]string, error) {
		agents, err := c.ListAgents(ctx)
		if err != nil {
			return nil, err
		}
		names := make(map[string]string, len(agents))
		for _, a := range agents {
			names[a.ID] = a.Name
		}
		return names, nil
	})
	return x
}

// SupportedInteractionKinds lists conversations, tickets, notes and calls;
// calls leave the list for an hour once the workspace answers that it has no
// Intercom Phone.
func (x *Interactions) SupportedInteractionKinds() []sources.InteractionKind {
	kinds := sources.InteractionKinds()
	if x.phoneKnownMissing() {
		kinds = slices.DeleteFunc(kinds, func(k sources.InteractionKind) bool { return k == sources.KindCall })
	}
	return kinds
}

// InteractionsByContacts implements sources.InteractionFinder. For a batch
// it makes one conversation search and one ticket search per 100 contacts
// (more only when a search has more than 150 results to page through), one
// notes read per contact whose NotesCount is not 0 (at most
// Config.Concurrency at a time), and one call search per 20 phone-call
// conversations found. A since filter is sent to the searches with a day of
// overlap (Intercom matches dates by calendar day) and applied exactly here.
func (x *Interactions) InteractionsByContacts(ctx context.Context, contacts []sources.ContactRef, kinds []sources.InteractionKind,
	since time.Time) (map[string][]*sources.Interaction, error) {
	want, explicit, err := x.kindsToRead(kinds)
	if err != nil {
		return nil, err
	}
	refs := uniqueRefs(contacts)
	out := make(map[string][]*sources.Interaction, len(refs))
	for _, r := range refs {
		out[r.ID] = []*sources.Interaction{}
	}
	if len(refs) == 0 {
		return out, nil
	}
	ids := make([]string, len(refs))
	inBatch := make(map[string]bool, len(refs))
	for i, r := range refs {
		ids[i] = r.ID
		inBatch[r.ID] = true
	}
	b := &batch{x: x, ids: ids, inBatch: inBatch, since: since, results: map[sources.InteractionKind][]mapper{},
		failed: map[sources.InteractionKind]error{}}

	var wg sync.WaitGroup
	wg.Go(func() { x.ensureWorkspaceID(ctx) })
	wg.Go(func() { x.ensureAdminNames(ctx) })
	if want[sources.KindConversation] {
		wg.Go(func() { b.conversations(ctx) })
	}
	if want[sources.KindCall] {
		wg.Go(func() { b.phoneCalls(ctx, explicit) })
	}
	if want[sources.KindTicket] {
		wg.Go(func() { b.tickets(ctx) })
	}
	if want[sources.KindNote] {
		wg.Go(func() { b.notes(ctx, refs) })
	}
	wg.Wait()

	for _, k := range sources.InteractionKinds() {
		for _, m := range b.results[k] {
			for _, it := range m() {
				if !since.IsZero() && it.Date.Before(since) {
					continue
				}
				out[it.ContactID] = append(out[it.ContactID], it)
			}
		}
	}
	for id := range out {
		sources.SortInteractions(out[id])
	}
	if len(b.failed) > 0 {
		return out, &sources.PartialError{Failed: b.failed}
	}
	return out, nil
}

// kindsToRead validates kinds: empty means every supported kind. explicit
// reports whether calls were asked for by name.
func (x *Interactions) kindsToRead(kinds []sources.InteractionKind) (want map[sources.InteractionKind]bool, explicit bool, err error) {
	want = map[sources.InteractionKind]bool{}
	for _, k := range kinds {
		if !k.Valid() {
			return nil, false, sources.InputError("kinds", "%s is not an interaction kind: use conversation, ticket, note or call", sources.Quote(string(k)))
		}
		want[k] = true
	}
	if len(kinds) == 0 {
		for _, k := range x.SupportedInteractionKinds() {
			want[k] = true
		}
	}
	return want, len(kinds) > 0 && want[sources.KindCall], nil
}

func uniqueRefs(refs []sources.ContactRef) []sources.ContactRef {
	out := make([]sources.ContactRef, 0, len(refs))
	at := map[string]int{}
	for _, r := range refs {
		if r.ID == "" {
			continue
		}
		if i, seen := at[r.ID]; seen {
			// The same contact twice: read its notes if either says so.
			if r.NotesCount != 0 {
				out[i].NotesCount = r.NotesCount
			}
			continue
		}
		at[r.ID] = len(out)
		out = append(out, r)
	}
	return out
}

// batch is one InteractionsByContacts call in progress.
type batch struct {
	x       *Interactions
	ids     []string
	inBatch map[string]bool // ids as a set, for forBatch
	since   time.Time

	mu      sync.Mutex
	results map[sources.InteractionKind][]mapper
	failed  map[sources.InteractionKind]error
}

// mapper turns what a read brought back into interactions. Mappers run once
// every read is done, when the workspace id (for links) and the admins'
// names (for assignees) are known.
type mapper func() []*sources.Interaction

func (b *batch) fail(kind sources.InteractionKind, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failed[kind] = err
}

// add records the mapper of what a read of kind brought back.
func (b *batch) add(kind sources.InteractionKind, m mapper) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.results[kind] = append(b.results[kind], m)
}

// forBatch returns a copy of it for each contact of the batch among ids,
// once each. ids is an item's contacts, a short list: a linear look-back
// finds repeats without a map.
func (b *batch) forBatch(it *sources.Interaction, ids []string) []*sources.Interaction {
	var out []*sources.Interaction
	for i, id := range ids {
		if b.inBatch[id] && !slices.Contains(ids[:i], id) {
			cp := *it
			cp.ContactID = id
			out = append(out, &cp)
		}
	}
	return out
}

// searchQuery is contact_ids IN part, with the whole-day since filter (the
// exact bound is applied to the interactions).
func (b *batch) searchQuery(part []string, extra ...filter) filter {
	fs := append([]filter{in("contact_ids", part)}, extra...)
	if !b.since.IsZero() {
		fs = append(fs, onOrAfter("updated_at", b.since))
	}
	if len(fs) == 1 {
		return fs[0]
	}
	return and(fs...)
}

// searchBatch runs a search over the batch's contacts (searchChunks, then
// searchAll) and returns the items found, each once: an item whose contacts
// fall in two chunks is found by both.
func searchBatch[L, T any, P interface {
	*L
	pages() *wireListPages
	items() []T
}](ctx context.Context, b *batch, endpoint, path string, id func(*T) string, extra ...filter) ([]T, error) {
	var mu sync.Mutex
	var found []T
	seen := map[string]bool{}
	err := b.searchChunks(ctx, func(ctx context.Context, part []string) error {
		return searchAll(ctx, b.x.c, endpoint, path, b.searchQuery(part, extra...), func(page P) {
			mu.Lock()
			defer mu.Unlock()
			for _, w := range page.items() {
				if k := id(&w); !seen[k] {
					seen[k] = true
					found = append(found, w)
				}
			}
		})
	})
	return found, err
}

// searchChunks runs search for each chunk of at most 100 of the batch's
// ids, at most Config.Concurrency at a time; the first error stops them.
func (b *batch) searchChunks(ctx context.Context, search func(context.Context, []string) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.x.c.concurrency)
	for _, part := range chunk(b.ids, maxINValues) {
		g.Go(func() error { return search(gctx, part) })
	}
	return g.Wait()
}

// addFound records what a search of kind found (or its failure): each item
// mapped, and copied for each of its contacts in the batch.
func addFound[T any](b *batch, kind sources.InteractionKind, items []T, err error, toInteraction func(*T) (*sources.Interaction, []string)) {
	if err != nil {
		b.fail(kind, err)
		return
	}
	b.add(kind, func() (list []*sources.Interaction) {
		for i := range items {
			it, contacts := toInteraction(&items[i])
			list = append(list, b.forBatch(it, contacts)...)
		}
		return list
	})
}

// readOne reads one object by its path and maps it once the workspace id and
// the admins' names are known.
func readOne[T any](ctx context.Context, x *Interactions, endpoint, path string, toInteraction func(*T) *sources.Interaction) (*sources.Interaction, error) {
	var w T
	if err := x.c.do(ctx, "GET", endpoint, path, nil, nil, &w); err != nil {
		return nil, err
	}
	x.prepare(ctx)
	return toInteraction(&w), nil
}

func first(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

// prepare learns the workspace id and admin names, concurrently.
func (x *Interactions) prepare(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { x.ensureWorkspaceID(ctx) })
	wg.Go(func() { x.ensureAdminNames(ctx) })
	wg.Wait()
}

// ensureWorkspaceID learns the workspace id (the Client asks GET /me once).
// Failing, deep links are left out and the next call tries again.
func (x *Interactions) ensureWorkspaceID(ctx context.Context) {
	_, _ = x.c.linkWorkspace(ctx)
}

// ensureAdminNames refreshes the admins' names every ten minutes. Failing
// (a token without access to admins, say), assignees keep their ids and
// the names read before, if any, and the names are not asked for again for
// a minute.
func (x *Interactions) ensureAdminNames(ctx context.Context) {
	_, _ = x.adminNames.Get(ctx)
}

// adminName is an admin's name if the names are known, without asking for them.
func (x *Interactions) adminName(id string) string {
	names, _ := x.adminNames.Peek()
	return names[id]
}
