package budget

import (
	"context"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources"
)

// A rolling deploy: replicas of the previous release have counted calls in
// the current window, under the name and in the fields they use (typed out
// here, not built by the code under test). A replica of this release counts
// against them, and its own calls are counted where they look.
func TestTheWindowOfThePreviousReleaseIsCountedAgainst(t *testing.T) {
	client := redistest.Client(t, redistest.Addr(t))
	r := New(client, redis.NewHealth(client, time.Second, nil))
	ctx := context.Background()
	ws := redistest.Unique("ws")
	// The window of 10 s that starts at 1900000000 (unix seconds).
	now := time.Unix(1900000003, 0)
	window := "tdi:v2:{" + ws + "}:budget:1900000000"
	// "all" is the workspace's count, "c:" and the first 8 bytes of the
	// SHA-256 of the caller's name (key-one) in hex its own.
	if err := client.HSet(ctx, window, "all", 18, "c:9b346041bc9a4957", 5).Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.Expire(ctx, window, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	ask := sources.BudgetAsk{Workspace: ws, Now: now, Window: 10 * time.Second, PerWindow: 20, CallerShare: 5}

	ask.Caller = "key-one"
	if ans, err := r.Take(ctx, ask); err != nil || ans.Refused != "caller" {
		t.Errorf("a caller whose share the previous release spent: %+v, %v; want refused (caller)", ans, err)
	}
	ask.Caller = ""
	for i, want := range []string{"", "", "workspace"} {
		if ans, err := r.Take(ctx, ask); err != nil || ans.Refused != want {
			t.Errorf("call %d after the previous release's 18 of 20: %+v, %v; want refused %q", i+1, ans, err, want)
		}
	}
	if all, err := client.HGet(ctx, window, "all").Int(); err != nil || all != 20 {
		t.Errorf("the window's count where the previous release reads it: %d, %v; want 20", all, err)
	}
}
