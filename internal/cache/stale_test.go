package cache_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/cache"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/intercom"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

const demoPhone = emulator.DemoCallerFormattedPhone

// warmDemo caches the demo caller by id, by number and by email, and
// returns it.
func (f *fixture) warmDemo(t *testing.T) emulator.Contact {
	t.Helper()
	demo, _ := f.intercom.DemoCaller()
	ctx := context.Background()
	if got, err := f.cache.ContactsByIDs(ctx, []string{demo.ID}); err != nil || got[demo.ID] == nil {
		t.Fatalf("by id: %v, %v", got, err)
	}
	if got, err := f.cache.ContactsByPhones(ctx, []string{demoPhone}); err != nil || len(got[demoPhone]) == 0 {
		t.Fatalf("by number: %v, %v", got, err)
	}
	if got, err := f.cache.ContactsByEmails(ctx, []string{demo.Email}); err != nil || len(got[demo.Email]) == 0 {
		t.Fatalf("by email: %v, %v", got, err)
	}
	return demo
}

// failIntercom makes every Intercom answer a 503 until the test ends.
func (f *fixture) failIntercom(t *testing.T) {
	f.intercom.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: 503})
	t.Cleanup(func() { f.intercom.SetFaults(emulator.Faults{}) })
}

// An invalidation keeps the value, no longer fresh: with Intercom healthy the
// next read asks it and answers fresh; with Intercom failing the read
// answers the kept value, flagged stale with how long it has not been fresh
// (since the invalidation, the earlier of the two here).
func TestAnInvalidatedValueIsKeptStale(t *testing.T) {
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, store, emulator.Options{})
			demo := f.warmDemo(t)
			ctx := context.Background()
			invalidate := func() {
				t.Helper()
				f.clock.Advance(10 * time.Second) // still fresh by its TTL
				if err := f.cache.Invalidate(ctx, sources.Changed{ContactIDs: []string{demo.ID}, Phones: []string{demoPhone}}); err != nil {
					t.Fatal(err)
				}
			}

			invalidate()
			calls := f.upstreamCallsDuring(func() {
				sctx, marker := cache.WithStaleMarker(ctx)
				got, err := f.cache.ContactsByIDs(sctx, []string{demo.ID})
				if err != nil || got[demo.ID] == nil || marker.Served() {
					t.Errorf("with Intercom healthy: %v, %v, stale %v; want the contact, fresh", got, err, marker.Served())
				}
			})
			if calls != 1 {
				t.Errorf("a read after the invalidation: %d Intercom calls, want 1 (it is not fresh)", calls)
			}

			invalidate()
			f.clock.Advance(30 * time.Second)
			f.failIntercom(t)
			sctx, marker := cache.WithStaleMarker(ctx)
			got, err := f.cache.ContactsByIDs(sctx, []string{demo.ID})
			if err != nil || got[demo.ID] == nil || got[demo.ID].Name != demo.Name {
				t.Fatalf("with Intercom failing: %v, %v; want the last-known contact", got, err)
			}
			if !marker.Served() || marker.Age() != 30*time.Second {
				t.Errorf("stale %v, age %s; want stale, 30s (since the invalidation)", marker.Served(), marker.Age())
			}
			sctx, marker = cache.WithStaleMarker(ctx)
			if found, err := f.cache.ContactsByPhones(sctx, []string{demoPhone}); err != nil || len(found[demoPhone]) != 1 || !marker.Served() {
				t.Errorf("caller lookup with Intercom failing: %v, %v, stale %v; want the last-known card, stale", found, err, marker.Served())
			}
			if n := metrics.Value(f.metrics.CacheInvalidations, "contact", "marked_stale"); n != 2 {
				t.Errorf("%v contacts marked stale, want 2", n)
			}
			if n := metrics.Value(f.metrics.CacheResults, "contact", "stale"); n != 1 {
				t.Errorf("%v stale contacts served, want 1", n)
			}

			// A second invalidation does not make the value look younger.
			if err := f.cache.Invalidate(ctx, sources.Changed{ContactIDs: []string{demo.ID}}); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(5 * time.Second)
			sctx, marker = cache.WithStaleMarker(ctx)
			if _, err := f.cache.ContactsByIDs(sctx, []string{demo.ID}); err != nil || marker.Age() != 35*time.Second {
				t.Errorf("after a second invalidation: %v, age %s; want 35s (the first mark stands)", err, marker.Age())
			}

		})
	}
}

// What a change made wrong is deleted, not kept: a deleted contact, the
// lookups of a phone and an email the contact no longer has. A read of them
// with Intercom failing is an error, never a stale answer; nor is a stale
// value served past CACHE_STALE_TTL, or to an action.
func TestWrongOrTooOldValuesAreNeverServedStale(t *testing.T) {
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			refused := func(t *testing.T, ctx context.Context, what string, read func(context.Context) (int, error)) {
				t.Helper()
				sctx, marker := cache.WithStaleMarker(ctx)
				n, err := read(sctx)
				if err == nil || n != 0 || marker.Served() {
					t.Errorf("%s with Intercom failing: %d found, %v, stale %v; want an error and nothing served", what, n, err, marker.Served())
				}
			}
			t.Run("deleted contact", func(t *testing.T) {
				f := newFixture(t, store, emulator.Options{})
				demo := f.warmDemo(t)
				if err := f.cache.Invalidate(ctx, sources.Changed{ContactIDs: []string{demo.ID}, DeletedContactIDs: []string{demo.ID},
					Phones: []string{demoPhone}, RemovedPhones: []string{demoPhone}}); err != nil {
					t.Fatal(err)
				}
				f.failIntercom(t)
				refused(t, ctx, "the deleted contact", func(ctx context.Context) (int, error) {
					got, err := f.cache.ContactsByIDs(ctx, []string{demo.ID})
					return len(got), err
				})
				refused(t, ctx, "its number's lookup", func(ctx context.Context) (int, error) {
					got, err := f.cache.ContactsByPhones(ctx, []string{demoPhone})
					return len(got), err
				})
				if n := metrics.Value(f.metrics.CacheInvalidations, "contact", "deleted"); n != 1 {
					t.Errorf("%v contacts deleted, want 1", n)
				}
			})
			t.Run("removed phone and email", func(t *testing.T) {
				f := newFixture(t, store, emulator.Options{})
				demo := f.warmDemo(t)
				if err := f.cache.Invalidate(ctx, sources.Changed{ContactIDs: []string{demo.ID},
					Phones: []string{demoPhone}, RemovedPhones: []string{demoPhone},
					Emails: []string{demo.Email}, RemovedEmails: []string{strings.ToUpper(demo.Email)}}); err != nil {
					t.Fatal(err)
				}
				f.failIntercom(t)
				refused(t, ctx, "the removed number's lookup", func(ctx context.Context) (int, error) {
					got, err := f.cache.ContactsByPhones(ctx, []string{demoPhone})
					return len(got), err
				})
				refused(t, ctx, "the removed email's lookup", func(ctx context.Context) (int, error) {
					got, err := f.cache.ContactsByEmails(ctx, []string{demo.Email})
					return len(got), err
				})
				sctx, marker := cache.WithStaleMarker(ctx)
				if got, err := f.cache.ContactsByIDs(sctx, []string{demo.ID}); err != nil || got[demo.ID] == nil || !marker.Served() {
					t.Errorf("the contact itself (old, not wrong): %v, %v; want it, stale", got, err)
				}
			})
			t.Run("past CACHE_STALE_TTL", func(t *testing.T) {
				f := newFixture(t, store, emulator.Options{})
				demo := f.warmDemo(t)
				if err := f.cache.Invalidate(ctx, sources.Changed{ContactIDs: []string{demo.ID}}); err != nil {
					t.Fatal(err)
				}
				f.clock.Advance(cache.DefaultTTLs.StaleFor + time.Second)
				f.failIntercom(t)
				refused(t, ctx, "a contact stale for longer than CACHE_STALE_TTL", func(ctx context.Context) (int, error) {
					got, err := f.cache.ContactsByIDs(ctx, []string{demo.ID})
					return len(got), err
				})
			})
			t.Run("an action's read", func(t *testing.T) {
				f := newFixture(t, store, emulator.Options{})
				demo := f.warmDemo(t)
				if err := f.cache.Invalidate(ctx, sources.Changed{ContactIDs: []string{demo.ID}}); err != nil {
					t.Fatal(err)
				}
				f.failIntercom(t)
				refused(t, sources.WithoutStale(ctx), "an action's read", func(ctx context.Context) (int, error) {
					got, err := f.cache.ContactsByIDs(ctx, []string{demo.ID})
					return len(got), err
				})
			})
		})
	}
}

// In Redis an invalidation is one script, on a single node and on a
// Cluster (every key of a workspace shares its hash tag: one slot): the
// old values marked and kept at most CACHE_STALE_TTL, the wrong ones and
// the negative entries deleted, in one round trip.
func TestRedisMarksStaleInOneRoundTrip(t *testing.T) {
	t.Run("single node", func(t *testing.T) {
		checkOneScript(t, redistest.Client(t, redistest.Addr(t)))
	})
	t.Run("cluster", func(t *testing.T) {
		client, err := redis.Open(redistest.ClusterURL(redistest.ClusterAddrs(t)[:1]), true, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = client.Close() })
		checkOneScript(t, client)
	})
}

func checkOneScript(t *testing.T, client goredis.UniversalClient) {
	t.Helper()
	f := newFixture(t, func(m *metrics.Metrics) cache.Store { return cache.NewRedisStore(client, time.Second, m) }, emulator.Options{})
	demo := f.warmDemo(t)
	ctx := context.Background()
	const unknown = "+12025550111"
	if got, err := f.cache.ContactsByPhones(ctx, []string{unknown}); err != nil || len(got) != 0 {
		t.Fatalf("unknown number: %v, %v", got, err)
	}
	before := f.roundTrips("mark_stale")
	if err := f.cache.Invalidate(ctx, sources.Changed{ContactIDs: []string{demo.ID}, Phones: []string{demoPhone, unknown},
		Emails: []string{demo.Email}, RemovedEmails: []string{demo.Email}}); err != nil {
		t.Fatal(err)
	}
	if n := f.roundTrips("mark_stale") - before; n != 1 {
		t.Errorf("%v round trips for one invalidation, want 1", n)
	}
	if n := metrics.Sum(f.metrics.RedisErrors) + f.roundTrips("pipeline_mark_stale"); n != 0 {
		t.Errorf("%v Redis errors or fallbacks", n)
	}
	key := func(kind, id string) string { return redis.CacheKey(f.tenant, kind, id) }
	for _, k := range []string{key("contact", demo.ID), key("phone", demoPhone)} {
		v, err := client.Get(ctx, k).Result()
		if err != nil || !strings.HasPrefix(v, "s") || !strings.Contains(v, demo.Name) {
			t.Errorf("%s after the invalidation: %.40q, %v; want the value marked stale", k, v, err)
		}
		ttl, err := client.PTTL(ctx, k).Result()
		if err != nil || ttl > cache.DefaultTTLs.StaleFor || ttl < cache.DefaultTTLs.StaleFor-time.Minute {
			t.Errorf("%s kept for %s, %v; want CACHE_STALE_TTL (%s)", k, ttl, err, cache.DefaultTTLs.StaleFor)
		}
	}
	for _, k := range []string{key("phone", unknown), key("email", strings.ToLower(demo.Email))} {
		if n, err := client.Exists(ctx, k).Result(); err != nil || n != 0 {
			t.Errorf("%s after the invalidation: exists %d, %v; want deleted", k, n, err)
		}
	}
	f.failIntercom(t)
	sctx, marker := cache.WithStaleMarker(ctx)
	if got, err := f.cache.ContactsByPhones(sctx, []string{demoPhone}); err != nil || len(got[demoPhone]) != 1 || !marker.Served() {
		t.Errorf("caller lookup with Intercom failing: %v, %v, stale %v; want the last-known card, stale", got, err, marker.Served())
	}
}

// The in-process level marks its copies too: with Redis away and Intercom
// failing, the last-known card held in process still answers, stale.
func TestTheInProcessLevelKeepsItsStaleCopies(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixture(t, func(m *metrics.Metrics) cache.Store {
		tl := cache.NewTwoLevel(cache.NewRedisStore(redistest.Client(t, srv.Addr), 100*time.Millisecond, m),
			cache.LocalConfig{MaxEntries: 1000, MaxBytes: 1 << 20, TTL: time.Minute}, m)
		tl.Reset(true) // the event stream is whole
		return tl
	}, emulator.Options{})
	demo := f.warmDemo(t)
	ctx := context.Background()
	if err := f.cache.Invalidate(ctx, sources.Changed{ContactIDs: []string{demo.ID}, Phones: []string{demoPhone}}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	srv.Stop()
	f.failIntercom(t)
	sctx, marker := cache.WithStaleMarker(ctx)
	got, err := f.cache.ContactsByPhones(sctx, []string{demoPhone})
	if err != nil || len(got[demoPhone]) != 1 || got[demoPhone][0].Name != demo.Name {
		t.Fatalf("with Redis and Intercom away: %v, %v; want the last-known card", got, err)
	}
	if !marker.Served() || marker.Age() != time.Minute {
		t.Errorf("stale %v, age %s; want stale, 1m0s", marker.Served(), marker.Age())
	}
}

// A history whose read fails for some kinds only (Intercom's ticket search
// answering 503) is completed from its stale copy: the kinds that were read
// are fresh, the failed ones come from the copy, the answer is flagged stale
// and is no error. Without a copy the failed kinds are reported.
func TestAPartlyFailedHistoryIsCompletedFromItsStaleCopy(t *testing.T) {
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			em, err := emulator.Start(emulator.Options{Token: token})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { em.Close() })
			client, err := intercom.New(intercom.Config{Token: token, BaseURL: em.URL, Timeout: 5 * time.Second, BreakerMinCalls: 1000})
			if err != nil {
				t.Fatal(err)
			}
			history := intercom.NewInteractions(client, intercom.InteractionsConfig{})
			c := cache.New(client, cache.Config{Store: store(metrics.New()), Interactions: history,
				Workspace: sources.KnownWorkspaceID(redistest.Unique("tenant"))})
			demo, _ := em.Workspace.DemoCaller()
			ref := sources.ContactRefByID(demo.ID)
			ctx := context.Background()
			all, err := c.InteractionsByContacts(ctx, []sources.ContactRef{ref}, nil, time.Time{})
			tickets := 0
			for _, it := range all[demo.ID] {
				if it.Kind == sources.KindTicket {
					tickets++
				}
			}
			if err != nil || tickets == 0 {
				t.Fatalf("the demo caller's history: %d items, %d tickets, %v; want some tickets", len(all[demo.ID]), tickets, err)
			}
			if err := c.Invalidate(ctx, sources.Changed{ContactIDs: []string{demo.ID}}); err != nil {
				t.Fatal(err)
			}
			em.Workspace.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: 503, Endpoints: []string{emulator.EndpointSearchTickets}})
			sctx, marker := cache.WithStaleMarker(ctx)
			got, err := c.InteractionsByContacts(sctx, []sources.ContactRef{ref}, nil, time.Time{})
			if err != nil || len(got[demo.ID]) != len(all[demo.ID]) || !marker.Served() {
				t.Fatalf("with the ticket search failing: %d items, stale %v, %v; want all %d, stale, no error",
					len(got[demo.ID]), marker.Served(), err, len(all[demo.ID]))
			}
			for i := 1; i < len(got[demo.ID]); i++ {
				if sources.CompareInteractions(got[demo.ID][i-1], got[demo.ID][i]) > 0 {
					t.Fatalf("the completed history is out of order at %d", i)
				}
			}

			// The stale copy stays whole: a second read while the ticket
			// search still fails is completed again.
			sctx, marker = cache.WithStaleMarker(ctx)
			again, err := c.InteractionsByContacts(sctx, []sources.ContactRef{ref}, nil, time.Time{})
			if err != nil || len(again[demo.ID]) != len(all[demo.ID]) || !marker.Served() {
				t.Errorf("a second read with the ticket search failing: %d items, stale %v, %v; want all %d, stale",
					len(again[demo.ID]), marker.Served(), err, len(all[demo.ID]))
			}

			// Another contact, never read before: nothing stale to complete it with.
			other := em.Workspace.Contacts()[1]
			_, err = c.InteractionsByContacts(ctx, []sources.ContactRef{sources.ContactRefByID(other.ID)}, nil, time.Time{})
			var partial *sources.PartialError
			if !errors.As(err, &partial) || !slices.Contains(partial.Kinds(), sources.KindTicket) {
				t.Errorf("a history with no stale copy: %v; want a partial error naming tickets", err)
			}
		})
	}
}
