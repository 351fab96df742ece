package loaders

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/talkdesk-intercom/api/sources"
)

// historyKey asks for one contact's history of some kinds since a time. Keys
// that share kinds and since are read in one batch (one upstream call per
// kind for all their contacts).
type historyKey struct {
	ref   sources.ContactRef
	kinds string // sorted, comma-separated; "" for every supported kind
	since int64  // unix nanoseconds; 0 for all time
}

func newHistoryKey(ref sources.ContactRef, kinds []sources.InteractionKind, since time.Time) historyKey {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	slices.Sort(names)
	k := historyKey{ref: ref, kinds: strings.Join(slices.Compact(names), ",")}
	if !since.IsZero() {
		k.since = since.UnixNano()
	}
	return k
}

func (k historyKey) query() ([]sources.InteractionKind, time.Time) {
	var kinds []sources.InteractionKind
	if k.kinds != "" {
		for _, n := range strings.Split(k.kinds, ",") {
			kinds = append(kinds, sources.InteractionKind(n))
		}
	}
	var since time.Time
	if k.since != 0 {
		since = time.Unix(0, k.since)
	}
	return kinds, since
}

// historyBatch reads each group of keys (same kinds and since) with one call,
// the groups side by side. A partial failure gives every key of its group its
// (partial) history and the error.
func historyBatch(cfg Config, clock *batchClock, history sources.InteractionFinder) dataloader.BatchFunc[historyKey, []*sources.Interaction] {
	return func(ctx context.Context, keys []historyKey) []*dataloader.Result[[]*sources.Interaction] {
		clock.sent()
		ctx, cancel := startBatch(ctx, cfg, "interactions_by_contact", len(keys))
		defer cancel()
		type group struct {
			kinds string
			since int64
		}
		groups := map[group][]int{}
		for i, k := range keys {
			g := group{k.kinds, k.since}
			groups[g] = append(groups[g], i)
		}
		results := make([]*dataloader.Result[[]*sources.Interaction], len(keys))
		var wg sync.WaitGroup
		for _, idx := range groups {
			wg.Go(func() {
				refs := make([]sources.ContactRef, len(idx))
				for j, i := range idx {
					refs[j] = keys[i].ref
				}
				kinds, since := keys[idx[0]].query()
				found, err := history.InteractionsByContacts(ctx, refs, kinds, since)
				for _, i := range idx { // each group writes its own keys' results
					list, ok := found[keys[i].ref.ID]
					if !ok && err == nil {
						list = []*sources.Interaction{}
					}
					results[i] = &dataloader.Result[[]*sources.Interaction]{Data: list, Error: err}
				}
			})
		}
		wg.Wait()
		return results
	}
}

// Interactions returns a contact's history (newest first) of kinds since a
// time. With a *sources.PartialError the list holds the kinds that worked.
func (l *Loaders) Interactions(ctx context.Context, ref sources.ContactRef, kinds []sources.InteractionKind, since time.Time) ([]*sources.Interaction, error) {
	if l.history == nil {
		return nil, sources.Errorf(sources.EForbidden, "this source has no interactions")
	}
	if l.historyMemory != nil {
		if list, ok := l.historyMemory.PeekHistory(ctx, ref, kinds, since); ok {
			return list, nil
		}
	}
	key := newHistoryKey(ref, kinds, since)
	th := l.histories.load(ctx, key)
	l.histories.beforeWait(ctx)
	list, err := await(ctx, th)
	if err != nil {
		l.histories.forget(ctx, key) // never keep a failure for the rest of the request
	}
	return list, err
}

// PrefetchInteractions queues a contact's history of kinds since a time,
// unless memory holds it, without waiting: a later Interactions of it
// waits on that batch.
func (l *Loaders) PrefetchInteractions(ctx context.Context, ref sources.ContactRef, kinds []sources.InteractionKind, since time.Time) {
	if l.history == nil {
		return
	}
	if l.historyMemory != nil {
		if _, ok := l.historyMemory.PeekHistory(ctx, ref, kinds, since); ok {
			return
		}
	}
	l.histories.load(ctx, newHistoryKey(ref, kinds, since))
}
