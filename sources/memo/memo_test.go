package memo_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/sources/memo"
)

var errDown = errors.New("upstream down")

func TestMemo(t *testing.T) {
	// Each read answers the next of reads: a value, or errDown for 0.
	type call struct {
		at      time.Duration // on the clock, from the start
		set     int           // Set(set) instead of Get, when not 0
		stale   bool          // the caller says the value cannot answer
		want    int
		wantErr bool
		read    bool // whether this call read
	}
	cases := []struct {
		name  string
		cfg   memo.Config
		reads []int
		calls []call
	}{
		{"read once, kept for good without a TTL", memo.Config{}, []int{1, 2}, []call{
			{at: 0, want: 1, read: true},
			{at: 24 * time.Hour, want: 1},
		}},
		{"read again once the TTL has passed", memo.Config{TTL: time.Minute}, []int{1, 2}, []call{
			{at: 0, want: 1, read: true},
			{at: 59 * time.Second, want: 1},
			{at: time.Minute, want: 2, read: true},
			{at: 90 * time.Second, want: 2},
		}},
		{"stale reads again within the TTL", memo.Config{TTL: time.Minute}, []int{1, 2}, []call{
			{at: 0, want: 1, read: true},
			{at: time.Second, stale: true, want: 2, read: true},
			{at: 2 * time.Second, want: 2},
		}},
		{"errors are not remembered by default", memo.Config{TTL: time.Minute}, []int{0, 0, 3}, []call{
			{at: 0, wantErr: true, read: true},
			{at: 0, wantErr: true, read: true},
			{at: 0, want: 3, read: true},
		}},
		{"a failed refresh keeps the old value", memo.Config{TTL: time.Minute}, []int{1, 0, 3}, []call{
			{at: 0, want: 1, read: true},
			{at: time.Minute, want: 1, wantErr: true, read: true},
			{at: time.Minute, want: 3, read: true},
		}},
		{"a failure answers for FailureTTL", memo.Config{TTL: 10 * time.Minute, FailureTTL: time.Minute}, []int{1, 0, 3}, []call{
			{at: 0, want: 1, read: true},
			{at: 10 * time.Minute, want: 1, wantErr: true, read: true},
			{at: 10*time.Minute + 59*time.Second, want: 1, wantErr: true},
			{at: 11 * time.Minute, want: 3, read: true},
		}},
		{"a failure with nothing read before", memo.Config{FailureTTL: time.Minute}, []int{0, 2}, []call{
			{at: 0, want: 0, wantErr: true, read: true},
			{at: 30 * time.Second, want: 0, wantErr: true},
			{at: time.Minute, want: 2, read: true},
		}},
		{"Set answers as if read", memo.Config{TTL: time.Minute}, []int{1}, []call{
			{at: 0, set: 7},
			{at: 30 * time.Second, want: 7},
			{at: 90 * time.Second, want: 1, read: true},
		}},
		{"Set clears a remembered failure", memo.Config{FailureTTL: time.Hour}, []int{0}, []call{
			{at: 0, wantErr: true, read: true},
			{at: time.Second, set: 7},
			{at: 2 * time.Second, want: 7},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Date(2026, 3, 18, 15, 30, 0, 0, time.UTC)
			now := start
			tc.cfg.Now = func() time.Time { return now }
			reads := 0
			m := memo.New(tc.cfg, func(context.Context) (int, error) {
				if reads >= len(tc.reads) {
					t.Fatalf("read %d: only %d expected", reads+1, len(tc.reads))
				}
				v := tc.reads[reads]
				reads++
				if v == 0 {
					return 0, errDown
				}
				return v, nil
			})
			for i, c := range tc.calls {
				now = start.Add(c.at)
				before := reads
				if c.set != 0 {
					m.Set(c.set)
					continue
				}
				got, err := m.GetUnless(t.Context(), func(int) bool { return c.stale })
				if got != c.want || (err != nil) != c.wantErr || (reads > before) != c.read {
					t.Errorf("call %d at %v: got %d, %v, read %v; want %d, error %v, read %v",
						i+1, c.at, got, err, reads > before, c.want, c.wantErr, c.read)
				}
			}
		})
	}
}

func TestMemoPeek(t *testing.T) {
	m := memo.New(memo.Config{}, func(context.Context) (string, error) { return "ws1", nil })
	if v, ok := m.Peek(); ok || v != "" {
		t.Errorf("Peek before any read = %q, %v", v, ok)
	}
	if _, err := m.Get(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v, ok := m.Peek(); !ok || v != "ws1" {
		t.Errorf("Peek after a read = %q, %v", v, ok)
	}
}

// Concurrent callers share one read; the caller that started it leaving
// does not fail the others.
func TestMemoSharesOneRead(t *testing.T) {
	var reads atomic.Int32
	release := make(chan struct{})
	m := memo.New(memo.Config{TTL: time.Minute}, func(ctx context.Context) (int, error) {
		reads.Add(1)
		<-release
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 42, nil
	})
	first, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	results := make(chan error, 50)
	wg.Go(func() {
		_, err := m.Get(first)
		results <- err
	})
	for reads.Load() == 0 {
		time.Sleep(time.Millisecond) // the first caller's read is in flight
	}
	for range 49 {
		wg.Go(func() {
			v, err := m.Get(t.Context())
			if err == nil && v != 42 {
				t.Errorf("got %d, want 42", v)
			}
			results <- err
		})
	}
	cancel()
	time.Sleep(10 * time.Millisecond) // let the others join the flight
	close(release)
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Errorf("Get: %v", err)
		}
	}
	if n := reads.Load(); n != 1 {
		t.Errorf("%d reads, want 1", n)
	}
}
