package idempotency

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/bounded"
)

func TestMemoryStoreKeepsRecordsForTheirTTL(t *testing.T) {
	ctx := context.Background()
	start := time.Unix(1_700_000_000, 0)
	lease := start.Add(time.Minute).UnixMilli()
	tests := []struct {
		name         string
		stored       Record // Put with a day's TTL
		advance      time.Duration
		fingerprint  string
		wantOwned    bool
		wantPrevious string
		wantState    string
	}{
		{"done, within its TTL: replayed", Record{State: stateDone, Fingerprint: "a"}, 23 * time.Hour, "a", false, stateDone, stateDone},
		{"done, after its TTL: free again", Record{State: stateDone, Fingerprint: "a"}, 25 * time.Hour, "a", true, "", statePending},
		{"another input: not claimed", Record{State: stateDone, Fingerprint: "a"}, 0, "b", false, stateDone, stateDone},
		{"pending within its lease: not claimed", Record{State: statePending, Fingerprint: "a", LeaseUntil: lease}, 30 * time.Second, "a", false, statePending, statePending},
		{"pending past its lease: claimed", Record{State: statePending, Fingerprint: "a", LeaseUntil: lease}, 2 * time.Minute, "a", true, statePending, statePending},
		{"uncertain: claimed", Record{State: stateUncertain, Fingerprint: "a"}, time.Hour, "a", true, stateUncertain, statePending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := bounded.NewClock(start)
			m := newMemoryStore(clock)
			tt.stored.Started = start.UnixMilli()
			if err := m.Put(ctx, "key", tt.stored, 24*time.Hour); err != nil {
				t.Fatal(err)
			}
			clock.Advance(tt.advance)
			claim := Record{State: statePending, Fingerprint: tt.fingerprint, Started: clock.Now().UnixMilli()}
			cur, previous, owned, err := m.Claim(ctx, "key", claim, 24*time.Hour)
			if err != nil || owned != tt.wantOwned || previous != tt.wantPrevious || cur.State != tt.wantState {
				t.Fatalf("Claim: %+v previous %q owned %v %v, want state %q previous %q owned %v",
					cur, previous, owned, err, tt.wantState, tt.wantPrevious, tt.wantOwned)
			}
			// A claim over a live record keeps when its first attempt began.
			if owned && previous != "" && cur.Started != start.UnixMilli() {
				t.Errorf("Started %d, want the first attempt's %d", cur.Started, start.UnixMilli())
			}
			if err := m.Delete(ctx, "key"); err != nil {
				t.Fatal(err)
			}
			if _, previous, owned, _ := m.Claim(ctx, "key", claim, time.Hour); !owned || previous != "" {
				t.Errorf("after Delete: previous %q owned %v, want a free key", previous, owned)
			}
		})
	}
}

// flaky refuses its first fail writes, as Redis does during a failover.
type flaky struct {
	*MemoryStore
	mu   sync.Mutex
	fail int
}

func (f *flaky) Put(ctx context.Context, key string, rec Record, ttl time.Duration) error {
	f.mu.Lock()
	refuse := f.fail > 0
	f.fail--
	f.mu.Unlock()
	if refuse {
		return errors.New("redis: connection refused")
	}
	return f.MemoryStore.Put(ctx, key, rec, ttl)
}

// A result the primary refused reaches it once it answers again: other
// replicas must not find the key pending there for a whole lease.
func TestTieredOffersARefusedResultAgain(t *testing.T) {
	ctx := context.Background()
	primary := &flaky{MemoryStore: NewMemoryStore(), fail: 3}
	s := &Tiered{Primary: primary, Local: NewMemoryStore()}
	done := Record{State: stateDone, Fingerprint: "a"}
	if err := s.Put(ctx, "key", done, time.Hour); err == nil {
		t.Fatal("the first write was not refused")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		cur, previous, owned, _ := primary.Claim(ctx, "key", Record{State: statePending, Fingerprint: "a"}, time.Hour)
		if previous == stateDone && !owned && cur.State == stateDone {
			return
		}
		if owned {
			_ = primary.Delete(ctx, "key") // not there yet: undo the probe
		}
		if time.Now().After(deadline) {
			t.Fatal("the result never reached the primary")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// down fails its first fail claims, as a Redis master that died does until
// its replica takes over.
type down struct {
	*MemoryStore
	mu   sync.Mutex
	fail int
}

func (d *down) Claim(ctx context.Context, key string, rec Record, ttl time.Duration) (Record, string, bool, error) {
	d.mu.Lock()
	refuse := d.fail > 0
	d.fail--
	d.mu.Unlock()
	if refuse {
		return Record{}, "", false, errors.New("redis: connection refused")
	}
	return d.MemoryStore.Claim(ctx, key, rec, ttl)
}

// A claim waits out a short failover of the primary instead of deciding
// from this process's memory, which the other replicas cannot see.
func TestTieredClaimWaitsForAFailover(t *testing.T) {
	ctx := context.Background()
	primary := &down{MemoryStore: NewMemoryStore(), fail: 5}
	s := &Tiered{Primary: primary, Local: NewMemoryStore(), ClaimWait: ClaimWaitForFailover}
	rec := Record{State: statePending, Fingerprint: "a", LeaseUntil: time.Now().Add(time.Minute).UnixMilli()}
	if _, _, owned, err := s.Claim(ctx, "key", rec, time.Hour); err != nil || !owned {
		t.Fatalf("claim: owned %v, %v", owned, err)
	}
	// The primary holds it: another replica's claim is refused.
	if _, previous, owned, _ := primary.Claim(ctx, "key", rec, time.Hour); owned || previous != statePending {
		t.Errorf("the claim did not reach the primary: owned %v, previous %q", owned, previous)
	}
}

// Where nothing takes over from a dead Redis (ClaimWait 0), a claim does not
// wait for it: this process's memory decides at once.
func TestTieredClaimDoesNotWaitWithoutFailover(t *testing.T) {
	primary := &down{MemoryStore: NewMemoryStore(), fail: 1000}
	s := &Tiered{Primary: primary, Local: NewMemoryStore()}
	rec := Record{State: statePending, Fingerprint: "a", LeaseUntil: time.Now().Add(time.Minute).UnixMilli()}
	if _, _, owned, err := s.Claim(context.Background(), "key", rec, time.Hour); err != nil || !owned {
		t.Fatalf("claim: owned %v, %v", owned, err)
	}
	primary.mu.Lock()
	defer primary.mu.Unlock()
	if asked := 1000 - primary.fail; asked != 1 {
		t.Errorf("the claim asked a dead primary %d times, want once", asked)
	}
}
