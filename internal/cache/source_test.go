package cache_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/cache"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/intercom"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

const token = "cache-test-token"

// fixture is a cache in front of the real client in front of the emulator.
type fixture struct {
	cache    *cache.Source
	client   *intercom.Client
	intercom *emulator.Workspace
	metrics  *metrics.Metrics
	clock    *emulator.Clock
	tenant   string // the workspace the keys are namespaced by
}

// stores are the two stores every behaviour is checked against.
func stores(t *testing.T) map[string]func(*metrics.Metrics) cache.Store {
	addr := redistest.Addr(t)
	return map[string]func(*metrics.Metrics) cache.Store{
		"redis": func(m *metrics.Metrics) cache.Store {
			return cache.NewRedisStore(redistest.Client(t, addr), time.Second, m)
		},
		"memory": func(*metrics.Metrics) cache.Store { return cache.NewMemoryStore(0) },
	}
}

func newFixture(t *testing.T, store func(*metrics.Metrics) cache.Store, opts emulator.Options) *fixture {
	t.Helper()
	opts.Token = token
	em, err := emulator.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	client, err := intercom.New(intercom.Config{Token: token, BaseURL: em.URL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	clk := emulator.NewClock(time.Now())
	tenant := redistest.Unique("tenant")
	c := cache.New(client, cache.Config{
		Store:     store(m),
		Workspace: sources.KnownWorkspaceID(tenant),
		TTL:       cache.DefaultTTLs,
		Metrics:   m,
		Now:       clk.Now,
	})
	return &fixture{cache: c, client: client, intercom: em.Workspace, metrics: m, clock: clk, tenant: tenant}
}

func (f *fixture) upstreamCallsDuring(fn func()) int {
	before := f.intercom.TotalCalls()
	fn()
	return f.intercom.TotalCalls() - before
}

func (f *fixture) roundTrips(op string) float64 {
	return metrics.Value(f.metrics.RedisRoundTrips, op)
}

func TestBatchIsOneMGETColdAndZeroUpstreamWarm(t *testing.T) {
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, store, emulator.Options{})
			var ids []string
			for _, c := range f.intercom.Contacts()[:50] {
				ids = append(ids, c.ID)
			}
			ctx := context.Background()
			cold := f.upstreamCallsDuring(func() {
				got, err := f.cache.ContactsByIDs(ctx, ids)
				if err != nil || len(got) != 50 {
					t.Fatalf("cold: %d contacts, %v", len(got), err)
				}
			})
			if cold != 1 {
				t.Errorf("cold batch of 50: %d upstream calls, want 1", cold)
			}
			mgets := f.roundTrips("mget")
			warm := f.upstreamCallsDuring(func() {
				got, err := f.cache.ContactsByIDs(ctx, ids)
				if err != nil || len(got) != 50 {
					t.Fatalf("warm: %d contacts, %v", len(got), err)
				}
			})
			if warm != 0 {
				t.Errorf("warm batch of 50: %d upstream calls, want 0", warm)
			}
			if name == "redis" {
				if got := f.roundTrips("mget") - mgets; got != 1 {
					t.Errorf("warm batch: %v MGETs, want 1", got)
				}
				if got := f.roundTrips("pipeline_set"); got != 1 {
					t.Errorf("cold batch: %v pipelined writes, want 1", got)
				}
			}
			if hits := metrics.Value(f.metrics.CacheResults, "contact", "hit"); hits != 50 {
				t.Errorf("%v hits, want 50", hits)
			}
		})
	}
}

func TestUnknownCallersAreNegativelyCached(t *testing.T) {
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, store, emulator.Options{})
			ctx := context.Background()
			unknown := []string{"+12025550111", "+12025550112"}
			first := f.upstreamCallsDuring(func() {
				got, err := f.cache.ContactsByPhones(ctx, unknown)
				if err != nil || len(got) != 0 {
					t.Fatalf("unknown callers: %v, %v", got, err)
				}
			})
			if first != 1 {
				t.Errorf("first lookup: %d upstream calls, want 1", first)
			}
			again := f.upstreamCallsDuring(func() {
				for range 10 {
					if _, err := f.cache.ContactsByPhones(ctx, unknown); err != nil {
						t.Fatal(err)
					}
				}
			})
			if again != 0 {
				t.Errorf("repeated lookups within the negative TTL: %d upstream calls, want 0", again)
			}
			f.clock.Advance(cache.DefaultTTLs.Negative + time.Second)
			expired := f.upstreamCallsDuring(func() { f.cache.ContactsByPhones(ctx, unknown) })
			if expired != 1 {
				t.Errorf("after the negative TTL: %d upstream calls, want 1", expired)
			}
		})
	}
}

func TestConcurrentIdenticalMissesShareOneUpstreamCall(t *testing.T) {
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, store, emulator.Options{Latency: 100 * time.Millisecond})
			var wg sync.WaitGroup
			var found atomic.Int32
			calls := f.upstreamCallsDuring(func() {
				for range 20 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						got, err := f.cache.ContactsByPhones(context.Background(), []string{"+14155550142"})
						if err == nil && len(got["+14155550142"]) == 1 {
							found.Add(1)
						}
					}()
				}
				wg.Wait()
			})
			if calls != 1 {
				t.Errorf("20 concurrent lookups of one number: %d upstream calls, want 1", calls)
			}
			if found.Load() != 20 {
				t.Errorf("%d of 20 lookups found the caller", found.Load())
			}
		})
	}
}

func TestStaleEntryIsServedWhenUpstreamFails(t *testing.T) {
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, store, emulator.Options{})
			demo, _ := f.intercom.DemoCaller()
			if _, err := f.cache.ContactsByIDs(context.Background(), []string{demo.ID}); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(cache.DefaultTTLs.Contact + time.Minute) // expired, still kept
			f.intercom.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: 503})

			ctx, marker := cache.WithStaleMarker(context.Background())
			got, err := f.cache.ContactsByIDs(ctx, []string{demo.ID, "never-cached"})
			if got[demo.ID] == nil || got[demo.ID].Name != demo.Name {
				t.Errorf("stale contact not served: %+v", got)
			}
			if sources.ErrorCode(err) != sources.EUpstreamUnavailable {
				t.Errorf("uncached key with upstream down: %v, want UPSTREAM_UNAVAILABLE", err)
			}
			if !marker.Served() {
				t.Error("the stale serve was not marked")
			}
			if n := metrics.Value(f.metrics.CacheResults, "contact", "stale"); n != 1 {
				t.Errorf("%v stale serves counted, want 1", n)
			}

			// Once Intercom answers again, the entry is refreshed.
			f.intercom.SetFaults(emulator.Faults{})
			ctx, marker = cache.WithStaleMarker(context.Background())
			if _, err := f.cache.ContactsByIDs(ctx, []string{demo.ID}); err != nil || marker.Served() {
				t.Errorf("after recovery: %v, stale %v", err, marker.Served())
			}
		})
	}
}

// Two workspaces on one Redis: entries of one are invisible to the other,
// even for the same id.
func TestTenantsDoNotShareEntries(t *testing.T) {
	addr := redistest.Addr(t)
	store := func(m *metrics.Metrics) cache.Store {
		return cache.NewRedisStore(redistest.Client(t, addr), time.Second, m)
	}
	a := newFixture(t, store, emulator.Options{})
	b := newFixture(t, store, emulator.Options{Empty: true})
	demo, _ := a.intercom.DemoCaller()
	if got, _ := a.cache.ContactsByIDs(context.Background(), []string{demo.ID}); got[demo.ID] == nil {
		t.Fatal("tenant A does not find its own contact")
	}
	calls := b.upstreamCallsDuring(func() {
		got, err := b.cache.ContactsByIDs(context.Background(), []string{demo.ID})
		if err != nil || got[demo.ID] != nil {
			t.Errorf("tenant B sees tenant A's contact: %+v, %v", got[demo.ID], err)
		}
	})
	if calls == 0 {
		t.Error("tenant B was answered from tenant A's cache")
	}
}

// Redis dies mid-test: reads still succeed from Intercom; when Redis is back,
// the cache works again by itself.
func TestRedisKilledAndRestarted(t *testing.T) {
	srv := redistest.Start(t)
	var redisStore *cache.RedisStore
	f := newFixture(t, func(m *metrics.Metrics) cache.Store {
		redisStore = cache.NewRedisStore(redistest.Client(t, srv.Addr), 50*time.Millisecond, m)
		return redisStore
	}, emulator.Options{})
	ctx := context.Background()
	demo, _ := f.intercom.DemoCaller()
	lookup := func() {
		t.Helper()
		got, err := f.cache.ContactsByIDs(ctx, []string{demo.ID})
		if err != nil || got[demo.ID] == nil {
			t.Fatalf("lookup: %+v, %v", got, err)
		}
	}
	lookup()

	srv.Stop()
	start := time.Now()
	calls := f.upstreamCallsDuring(func() {
		for range 5 {
			lookup()
		}
	})
	if calls != 5 {
		t.Errorf("with Redis down: %d upstream calls for 5 lookups, want 5", calls)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("5 lookups with Redis down took %s", elapsed)
	}
	if metrics.Sum(f.metrics.RedisErrors) == 0 {
		t.Error("Redis errors were not counted")
	}
	if err := redisStore.Ping(ctx); err == nil {
		t.Error("Ping succeeded with Redis down")
	}

	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for redisStore.Ping(ctx) != nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	lookup() // refills the empty Redis
	if calls := f.upstreamCallsDuring(lookup); calls != 0 {
		t.Errorf("after Redis returned: %d upstream calls, want 0 (served from Redis)", calls)
	}
}

func TestCompanyWarmup(t *testing.T) {
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, store, emulator.Options{})
			em := f.intercom
			n, err := f.cache.WarmCompanies(context.Background(), f.client)
			if err != nil || n != len(em.Companies()) {
				t.Fatalf("WarmCompanies = %d, %v; want %d", n, err, len(em.Companies()))
			}
			var ids []string
			for _, c := range em.Companies() {
				ids = append(ids, c.ID)
			}
			calls := f.upstreamCallsDuring(func() {
				got, err := f.cache.CompaniesByIDs(context.Background(), ids)
				if err != nil || len(got) != len(ids) {
					t.Errorf("CompaniesByIDs after warm-up: %d, %v", len(got), err)
				}
			})
			if calls != 0 {
				t.Errorf("%d upstream calls after warm-up, want 0", calls)
			}
		})
	}
}

// While the workspace's id is not known, reads go to Intercom uncached and
// never wait for /me: the cache asks its source in the background, once
// however many reads find the id unknown, and the client learns the id from
// the answer into the one copy the cache was handed.
func TestUnknownWorkspaceIsLearntInTheBackground(t *testing.T) {
	em, err := emulator.Start(emulator.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	id := &sources.WorkspaceID{}
	client, err := intercom.New(intercom.Config{Token: token, BaseURL: em.URL, Timeout: 5 * time.Second, Workspace: id})
	if err != nil {
		t.Fatal(err)
	}
	c := cache.New(client, cache.Config{Store: cache.NewMemoryStore(0), Workspace: id})
	contact := em.Workspace.Contacts()[0]
	em.Workspace.SetLatency(50 * time.Millisecond) // /me is still on its way during the reads below
	for range 5 {
		found, err := c.ContactsByIDs(context.Background(), []string{contact.ID})
		if err != nil || found[contact.ID] == nil {
			t.Fatalf("read while the workspace is unknown: %v, %v", found, err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, known := id.Get(); !known && time.Now().Before(deadline); _, known = id.Get() {
		time.Sleep(5 * time.Millisecond)
	}
	if got, known := id.Get(); !known || got != em.Workspace.App().IDCode {
		t.Fatalf("workspace id %q (known %v), want %q", got, known, em.Workspace.App().IDCode)
	}
	if n := em.Workspace.Calls("GET /me"); n != 1 {
		t.Errorf("%d calls to /me, want 1", n)
	}
	if _, err := c.ContactsByIDs(context.Background(), []string{contact.ID}); err != nil {
		t.Fatal(err)
	}
	before := em.Workspace.TotalCalls()
	if _, err := c.ContactsByIDs(context.Background(), []string{contact.ID}); err != nil {
		t.Fatal(err)
	}
	if n := em.Workspace.TotalCalls() - before; n != 0 {
		t.Errorf("%d Intercom calls for a read once the id is known, want 0 (cached)", n)
	}
}
