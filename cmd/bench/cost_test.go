package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/talkdesk-intercom/api/internal/redistest"
)

// W7 runs alone (-workloads w7): its three rows and its check, and the
// costly caller's query is the costliest the limits admit.
func TestW7Runs(t *testing.T) {
	var out bytes.Buffer
	args := []string{"-workloads", "w7", "-paths", "real", "-latency", "1ms", "-w7-for", "1s", "-redis-url", "redis://" + redistest.Addr(t)}
	if err := run(context.Background(), args, func(string) string { return "" }, &out, io.Discard); err != nil && !errors.Is(err, errChecksFailed) {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	table := out.String()
	for _, workload := range []string{w7Alone, w7With, w7Heavy} {
		if cells(table, workload, "real") == nil {
			t.Errorf("no row %q:\n%s", workload, table)
		}
	}
	if !strings.Contains(table, "W7: W1 warm while another caller spends its whole cost budget") {
		t.Errorf("no W7 check:\n%s", table)
	}
	m := regexp.MustCompile(`(\d+) aliases of contactsByIds × 100 contacts .*complexity (\d+) \(MAX_QUERY_COMPLEXITY (\d+)\)`).FindStringSubmatch(table)
	if m == nil {
		t.Fatalf("no description of the costly query:\n%s", table)
	}
	aliases, _ := strconv.Atoi(m[1])
	complexity, _ := strconv.Atoi(m[2])
	limit, _ := strconv.Atoi(m[3])
	if aliases < 2 || complexity > limit || complexity*10 < limit*9 {
		t.Errorf("the costly query: %d aliases of complexity %d, MAX_QUERY_COMPLEXITY %d; want the most that fit under the limit", aliases, complexity, limit)
	}
}
