package callevents

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// stores are the state stores under test: in process, and in Redis when
// the suite has one (TEST_REDIS_ADDR, as scripts/test.sh sets).
func stores(t *testing.T) map[string]stateStore {
	out := map[string]stateStore{"memory": newMemoryState()}
	if addr := os.Getenv("TEST_REDIS_ADDR"); addr != "" {
		client := goredis.NewClient(&goredis.Options{Addr: addr})
		t.Cleanup(func() { client.Close() })
		out["redis"] = redisState{client: client, timeout: 5 * time.Second}
	}
	return out
}

func permutations(n int) [][]int {
	if n == 1 {
		return [][]int{{0}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

// Events of one kind merge field by field, with the same outcome in every
// order of arrival: an empty field erases nothing; of two values, the
// later event's wins, and without times the greater value.
func TestSameKindEventsMergeFieldByField(t *testing.T) {
	events := []Event{
		{Event: DispositionSet, CallID: "c", Disposition: "Sale"},
		{Event: DispositionSet, CallID: "c", Notes: "Call back Friday."},
		{Event: DispositionSet, CallID: "c", Disposition: "Refund", EndedAt: "2026-03-02T14:10:00Z"},
		{Event: DispositionSet, CallID: "c", AgentEmail: "ana@example.com"},
		{Event: DispositionSet, CallID: "c", AgentEmail: "bob@example.com"},
	}
	for name, st := range stores(t) {
		for i, order := range permutations(len(events)) {
			ws := fmt.Sprintf("merge-%s-%d-%d", name, time.Now().UnixNano(), i)
			for _, j := range order {
				if frozen, in, err := st.merge(context.Background(), ws, events[j]); err != nil || frozen || !in {
					t.Fatalf("%s: merge: frozen %v, in %v, %v", name, frozen, in, err)
				}
			}
			got, err := st.freeze(context.Background(), ws, "c")
			if err != nil {
				t.Fatal(err)
			}
			d := got[DispositionSet]
			if d.Disposition != "Refund" || d.Notes != "Call back Friday." || d.AgentEmail != "bob@example.com" || d.EndedAt == "" || len(got) != 1 {
				t.Fatalf("%s, order %v: %+v, want Refund (the later), the notes, bob (the greater)", name, order, got)
			}
			// After the freeze: a repeat is in the record, a new event is not.
			if frozen, in, err := st.merge(context.Background(), ws, events[order[0]]); err != nil || !frozen || !in {
				t.Fatalf("%s: a repeat after the freeze: frozen %v, in %v, %v", name, frozen, in, err)
			}
			late := Event{Event: DispositionSet, CallID: "c", Notes: "later"}
			if frozen, in, err := st.merge(context.Background(), ws, late); err != nil || !frozen || in {
				t.Fatalf("%s: a new event after the freeze: frozen %v, in %v, %v", name, frozen, in, err)
			}
		}
	}
}
