package access

import (
	"fmt"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/bounded"
)

// drain spends caller's burst at the clock's time.
func drain(t *testing.T, l *Limiter, caller string) {
	t.Helper()
	for range int(l.burst) {
		if _, ok := l.Allow(caller); !ok {
			t.Fatalf("%s refused within its burst", caller)
		}
	}
}

func TestLimiterRefillsEachCallerContinuously(t *testing.T) {
	// 60 a minute: a burst of 10, one token a second.
	tests := []struct {
		name     string
		advance  time.Duration
		wantOK   bool
		wantWait time.Duration
	}{
		{"burst spent", 0, false, time.Second},
		{"half a token back", 500 * time.Millisecond, false, 500 * time.Millisecond},
		{"a token back", time.Second, true, 0},
		{"a long idle refills only the burst", time.Hour, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := bounded.NewClock(time.Unix(1_700_000_000, 0))
			l := newLimiter(60, 100)
			l.now = clock.Now
			drain(t, l, "ip:a")
			clock.Advance(tt.advance)
			wait, ok := l.Allow("ip:a")
			if ok != tt.wantOK || wait != tt.wantWait {
				t.Errorf("Allow: wait %v ok %v, want %v %v", wait, ok, tt.wantWait, tt.wantOK)
			}
			if _, ok := l.Allow("ip:b"); !ok {
				t.Error("another caller refused: buckets are per caller")
			}
		})
	}
}

func TestFullLimiterForgetsIdleCallersOnly(t *testing.T) {
	const callers = 100
	tests := []struct {
		name string
		// newcomers is how many unknown callers arrive once the limiter
		// holds callers spent buckets.
		newcomers int
		// minKept is how many of the idle callers' spent buckets must
		// still be kept.
		minKept int
	}{
		{"one more caller", 1, callers - 2},
		{"a tenth more", callers / 10, callers - callers/10 - 1},
		{"ten times as many", 10 * callers, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := bounded.NewClock(time.Unix(1_700_000_000, 0))
			l := newLimiter(60, callers)
			l.now = clock.Now
			drain(t, l, "active")
			for i := range callers - 1 {
				drain(t, l, fmt.Sprint("idle", i))
			}
			if _, ok := l.Allow("active"); ok { // still calling: the most recent
				t.Fatal("the active caller got its burst back")
			}
			for i := range tt.newcomers {
				if _, ok := l.Allow(fmt.Sprint("new", i)); !ok {
					t.Fatalf("newcomer %d refused", i)
				}
				if _, ok := l.Allow("active"); ok {
					t.Fatalf("after %d newcomers the active caller got its burst back", i+1)
				}
			}
			kept := 0
			for i := range callers - 1 {
				// Quietly: asking the limiter would make buckets, and evict.
				if _, ok := l.buckets.GetEntryQuietly(fmt.Sprint("idle", i)); ok {
					kept++
				}
			}
			if kept < tt.minKept {
				t.Errorf("%d of %d idle callers' buckets kept, want at least %d: the limiter forgot too many at once",
					kept, callers-1, tt.minKept)
			}
			l.buckets.CleanUp()
			if n := l.buckets.EstimatedSize(); n > callers {
				t.Errorf("%d buckets kept, want at most %d", n, callers)
			}
		})
	}
}
