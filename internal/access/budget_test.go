package access

import (
	"sync"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/bounded"
)

func TestBudgetSpendsAndRestoresEachCaller(t *testing.T) {
	clock := bounded.NewClock(time.Unix(1_700_000_000, 0))
	b := newBudget(1000, 100, 100) // 1,000 points, 100 restored a second
	b.now = clock.Now

	status, _, ok := b.Spend("key:a", 600)
	if !ok || status != (ThrottleStatus{MaximumAvailable: 1000, CurrentlyAvailable: 400, RestoreRate: 100}) {
		t.Fatalf("first spend: %+v ok %v; want 400 left of 1000", status, ok)
	}
	status, wait, ok := b.Spend("key:a", 600)
	if ok || status.CurrentlyAvailable != 400 || wait != 2*time.Second {
		t.Errorf("over what is left: %+v wait %v ok %v; want refused, nothing spent, 2 s until 600 are there", status, wait, ok)
	}
	if status, _, ok := b.Spend("key:b", 1000); !ok || status.CurrentlyAvailable != 0 {
		t.Errorf("another caller: %+v ok %v; want its own full budget", status, ok)
	}
	clock.Advance(2 * time.Second)
	if status, _, ok := b.Spend("key:a", 600); !ok || status.CurrentlyAvailable != 0 {
		t.Errorf("after 2 s: %+v ok %v; want 600 restored and spent", status, ok)
	}
	clock.Advance(time.Hour)
	if status, _, _ := b.Spend("key:a", 0); status.CurrentlyAvailable != 1000 {
		t.Errorf("after an hour: %d available, want the maximum (1000)", status.CurrentlyAvailable)
	}
	if _, _, ok := NewBudget(1000, 0).Spend("key:a", 1_000_000); !ok {
		t.Error("a budget restored at 0 a second is off: it refuses nothing")
	}
}

func TestInFlightCapsEachCaller(t *testing.T) {
	f := NewInFlight(2)
	r1, ok1 := f.Acquire("key:a")
	r2, ok2 := f.Acquire("key:a")
	_, ok3 := f.Acquire("key:a")
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("three at once with a cap of 2: %v %v %v", ok1, ok2, ok3)
	}
	if _, ok := f.Acquire("key:b"); !ok {
		t.Error("another caller refused: the cap is per caller")
	}
	r1()
	r1() // a second release gives nothing back twice
	if _, ok := f.Acquire("key:a"); !ok {
		t.Error("refused after a release")
	}
	if _, ok := f.Acquire("key:a"); ok {
		t.Error("a double release gave back two places")
	}
	r2()
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if release, ok := f.Acquire("key:c"); ok {
				release()
			}
		})
	}
	wg.Wait()
	if _, ok := f.running["key:c"]; ok {
		t.Error("a caller with nothing running is still remembered")
	}
	if release, ok := NewInFlight(0).Acquire("key:a"); !ok || release == nil {
		t.Error("a cap of 0 is off: it refuses nothing")
	}
}
