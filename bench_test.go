package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/talkdesk-intercom/api/internal/redistest"
)

// The benchmark command keeps working: a tiny run of every workload on both
// paths. (Its numbers are read by people from `go run . bench`, never
// asserted here: a run this small under the race detector may miss its
// targets, which makes the command exit non-zero but is no test failure.)
func TestBenchmarkRuns(t *testing.T) {
	var out bytes.Buffer
	args := []string{"-latency", "1ms", "-w1", "8", "-w2-cold", "2", "-w2-warm", "2", "-w3", "20", "-w3-numbers", "5", "-w5", "20",
		"-redis-url", "redis://" + redistest.Addr(t)}
	if err := run(context.Background(), append([]string{"bench"}, args...), os.Getenv, &out); err != nil && !errors.Is(err, errChecksFailed) {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	for _, want := range []string{"W1 caller lookup, c=32, warm", "W2 dashboard (50 contacts), cold", "W3 unknown callers", w5With, "Checks:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the benchmark's output lacks %q:\n%s", want, out.String())
		}
	}
}
