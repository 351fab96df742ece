package loaders_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/loaders"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// Concurrent loads within the wait window become one batch, and each caller
// gets its own key's result, in whatever order the source returned them.
func TestConcurrentLoadsShareOneBatchInKeyOrder(t *testing.T) {
	client, ws := loaders.Emulated(t)
	m := metrics.New()
	l := loaders.New(client, nil, loaders.Config{Wait: 20 * time.Millisecond, Metrics: m})
	all := ws.Contacts()
	ids := []string{all[7].ID, "missing-1", all[3].ID, all[250].ID, "missing-2", all[0].ID}
	ws.ResetCalls()
	got := make([]*sources.Contact, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = l.Contact(context.Background(), id)
		}()
	}
	wg.Wait()
	for i, id := range ids {
		if errs[i] != nil {
			t.Errorf("Contact(%s): %v", id, errs[i])
		}
		if want := id != "missing-1" && id != "missing-2"; (got[i] != nil) != want || (want && got[i].ID != id) {
			t.Errorf("Contact(%s) = %+v", id, got[i])
		}
	}
	if n := ws.Calls(emulator.EndpointSearchContacts); n != 1 {
		t.Errorf("%d searches, want 1 batch", n)
	}
}

func TestLoadManyIsOneBatchAndDeduplicates(t *testing.T) {
	client, ws := loaders.Emulated(t)
	l := loaders.New(client, nil, loaders.DefaultConfig)
	var ids []string
	for _, co := range ws.Companies()[:5] {
		ids = append(ids, co.ID, co.ID) // every company twice
	}
	ws.ResetCalls()
	got, err := l.Companies(context.Background(), ids)
	if err != nil || len(got) != len(ids) {
		t.Fatalf("Companies: %d, %v", len(got), err)
	}
	for i, c := range got {
		if c.ID != ids[i] {
			t.Errorf("company %d = %s, want %s (key order)", i, c.ID, ids[i])
		}
	}
	if n := ws.Calls(emulator.EndpointCompany); n != 5 {
		t.Errorf("%d company reads for 5 unique companies, want 5", n)
	}
}

// A transient failure is not remembered: the next load in the same request
// asks again and succeeds.
func TestTransientErrorsAreNotCached(t *testing.T) {
	client, ws := loaders.Emulated(t)
	l := loaders.New(client, nil, loaders.DefaultConfig)
	demo, _ := ws.DemoCaller()
	ws.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: 503})
	if _, err := l.Contact(context.Background(), demo.ID); sources.ErrorCode(err) != sources.EUpstreamUnavailable {
		t.Fatalf("first load: %v, want UPSTREAM_UNAVAILABLE", err)
	}
	ws.SetFaults(emulator.Faults{})
	c, err := l.Contact(context.Background(), demo.ID)
	if err != nil || c == nil || c.ID != demo.ID {
		t.Errorf("second load: %+v, %v; want the contact", c, err)
	}
}

// The batch runs detached from the first caller's cancellation: another
// request waiting on the same batch still gets its result.
func TestCancelledFirstCallerDoesNotFailTheBatch(t *testing.T) {
	client, ws := loaders.Emulated(t)
	ws.SetLatency(100 * time.Millisecond)
	l := loaders.New(client, nil, loaders.Config{Wait: 20 * time.Millisecond})
	all := ws.Contacts()
	first, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := l.Contact(first, all[0].ID)
		done <- err
	}()
	time.Sleep(5 * time.Millisecond) // the first caller opens the batch
	var second *sources.Contact
	var err error
	secondDone := make(chan struct{})
	go func() {
		second, err = l.Contact(context.Background(), all[1].ID)
		close(secondDone)
	}()
	time.Sleep(30 * time.Millisecond) // the batch has started fetching
	cancel()
	<-secondDone
	<-done
	if err != nil || second == nil || second.ID != all[1].ID {
		t.Errorf("second caller: %+v, %v; want its contact despite the first caller's cancellation", second, err)
	}
}

func TestUnbatchedLoadersCallTheSourcePerKey(t *testing.T) {
	client, ws := loaders.Emulated(t)
	l := loaders.New(client, nil, loaders.Unbatched(nil))
	all := ws.Contacts()
	ws.ResetCalls()
	got, err := l.Contacts(context.Background(), []string{all[0].ID, all[1].ID, all[2].ID})
	if err != nil || len(got) != 3 {
		t.Fatalf("Contacts: %v", err)
	}
	if n := ws.TotalCalls(); n != 3 {
		t.Errorf("%d calls, want 3 (one per key)", n)
	}
}
