package gcpace

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

// gogc is the collector's current GOGC percent.
func gogc() int64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// collectUntil runs collections until cond holds (a sentinel's cleanup runs
// on its own goroutine, shortly after the collection that freed it).
func collectUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC is %d", gogc())
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSmallLiveHeapGetsTheHeadroom(t *testing.T) {
	stop := Start(256<<20, false)
	collectUntil(t, func() bool { return gogc() > 1000 }) // a test's live heap is a few MB
	stop()
	if got := gogc(); got != defaultPercent {
		t.Fatalf("after stop GOGC is %d, want %d", got, defaultPercent)
	}
}

func TestLargeLiveHeapKeepsTheDefault(t *testing.T) {
	live := make([]byte, 64<<20)
	stop := Start(1<<20, false)
	defer stop()
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := gogc(); got != defaultPercent {
		t.Fatalf("GOGC is %d with %d MB live and 1 MB of headroom, want %d", got, len(live)>>20, defaultPercent)
	}
	runtime.KeepAlive(live)
}

func TestGOGCInTheEnvironmentWins(t *testing.T) {
	stop := Start(256<<20, true)
	defer stop()
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := gogc(); got != defaultPercent {
		t.Fatalf("GOGC is %d although the environment set it", got)
	}
}
