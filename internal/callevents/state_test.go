package callevents

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
)

// stores are the state stores under test: in process, in Redis when the
// suite has one (TEST_REDIS_ADDR, as scripts/test.sh sets), and in a Redis
// Cluster when it has one (TEST_REDIS_CLUSTER_ADDRS): the scripts touch
// keys of one workspace's hash tag only.
func stores(t *testing.T) map[string]stateStore {
	out := map[string]stateStore{"memory": newMemoryState()}
	if addr := os.Getenv("TEST_REDIS_ADDR"); addr != "" {
		out["redis"] = redisState{client: redistest.Client(t, addr), timeout: 5 * time.Second}
	}
	if addrs := os.Getenv("TEST_REDIS_CLUSTER_ADDRS"); addrs != "" {
		out["cluster"] = redisState{client: redistest.ClusterClient(t, strings.Split(addrs, ",")), timeout: 5 * time.Second}
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
				if frozen, late, err := st.merge(context.Background(), ws, events[j]); err != nil || frozen || late != 0 {
					t.Fatalf("%s: merge: frozen %v, late %v, %v", name, frozen, late, err)
				}
			}
			rec, err := st.freeze(context.Background(), ws, "c")
			if err != nil {
				t.Fatal(err)
			}
			got := rec.events
			d := got[DispositionSet]
			if d.Disposition != "Refund" || d.Notes != "Call back Friday." || d.AgentEmail != "bob@example.com" || d.EndedAt == "" || len(got) != 1 {
				t.Fatalf("%s, order %v: %+v, want Refund (the later), the notes, bob (the greater)", name, order, got)
			}
			// After the freeze: a repeat is in the record, a new event is not.
			if frozen, late, err := st.merge(context.Background(), ws, events[order[0]]); err != nil || !frozen || late != 0 {
				t.Fatalf("%s: a repeat after the freeze: frozen %v, late %v, %v", name, frozen, late, err)
			}
			if _, late, err := st.merge(context.Background(), ws, Event{Event: DispositionSet, CallID: "c", Notes: "later"}); err != nil || late != 1 {
				t.Fatalf("%s: a new event after the freeze: late %v, %v, want generation 1", name, late, err)
			}
		}
	}
}

// What arrives after the record gathers in one late generation, kinds
// merged, until it closes; a repeat is known where it was; what comes after
// the close opens the next generation.
func TestLateEventsGatherInGenerations(t *testing.T) {
	ctx := context.Background()
	for name, st := range stores(t) {
		ws := fmt.Sprintf("late-%s-%d", name, time.Now().UnixNano())
		ended := Event{Event: CallEnded, CallID: "c", ContactPhone: "+14155550142"}
		if _, _, err := st.merge(ctx, ws, ended); err != nil {
			t.Fatal(err)
		}
		if _, err := st.freeze(ctx, ws, "c"); err != nil {
			t.Fatal(err)
		}
		disposition := Event{Event: DispositionSet, CallID: "c", Disposition: "Refund"}
		transcribed := Event{Event: VoicemailTranscribed, CallID: "c", Transcription: "Call me"}
		for _, e := range []Event{disposition, transcribed, disposition} {
			if _, late, err := st.merge(ctx, ws, e); err != nil || late != 1 {
				t.Fatalf("%s: %s late: generation %d, %v; want 1", name, e.Event, late, err)
			}
		}
		record, late, err := st.closeLate(ctx, ws, "c", 1)
		if err != nil || late.Disposition != "Refund" || late.Transcription != "Call me" || record.events[CallEnded].ContactPhone != "+14155550142" {
			t.Fatalf("%s: generation 1: %+v, record %+v, %v", name, late, record, err)
		}
		notes := Event{Event: DispositionSet, CallID: "c", Notes: "Friday"}
		if _, n, err := st.merge(ctx, ws, notes); err != nil || n != 2 {
			t.Fatalf("%s: after the close: generation %d, %v; want 2", name, n, err)
		}
		if _, n, _ := st.merge(ctx, ws, transcribed); n != 1 {
			t.Fatalf("%s: a repeat of generation 1's event: generation %d", name, n)
		}
		if _, again, _ := st.closeLate(ctx, ws, "c", 1); again.Notes != "" || again.Disposition != "Refund" {
			t.Fatalf("%s: generation 1 changed after its close: %+v", name, again)
		}
	}
}

// Erasing a contact leaves a tombstone for each of its calls: every event
// of the call is then erased, and the tombstone keeps the state's time to
// live. Erasing by number spares a call of another contact with it.
func TestForgetLeavesATombstone(t *testing.T) {
	ctx := context.Background()
	maria, number := contactName("id", "maria"), contactName("phone", "+14155550142")
	for name, st := range stores(t) {
		ws := fmt.Sprintf("forget-%s-%d", name, time.Now().UnixNano())
		for _, e := range []Event{
			{Event: CallEnded, CallID: "mine", ContactPhone: "+14155550142"},
			{Event: DispositionSet, CallID: "twins", ContactExternalID: "twin", ContactPhone: "+14155550142"},
			{Event: DispositionSet, CallID: "nobodys", ContactPhone: "+14155550142"},
		} {
			if _, _, err := st.merge(ctx, ws, e); err != nil {
				t.Fatal(err)
			}
			of := ""
			if e.ContactExternalID != "" {
				of = contactName("id", e.ContactExternalID)
			}
			if err := st.name(ctx, ws, e.CallID, of, []string{number}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.freeze(ctx, ws, "mine"); err != nil {
			t.Fatal(err)
		}
		if err := st.name(ctx, ws, "mine", maria, []string{maria}); err != nil {
			t.Fatal(err)
		}
		if err := st.forget(ctx, ws, []string{maria}, []string{number}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"mine", "nobodys"} {
			if _, _, err := st.merge(ctx, ws, Event{Event: VoicemailLeft, CallID: id}); !errors.Is(err, errErased) {
				t.Fatalf("%s: an event of erased call %s: %v, want errErased", name, id, err)
			}
			if _, err := st.freeze(ctx, ws, id); !errors.Is(err, errErased) {
				t.Fatalf("%s: freezing erased call %s: %v, want errErased", name, id, err)
			}
			if _, _, err := st.closeLate(ctx, ws, id, 1); !errors.Is(err, errErased) {
				t.Fatalf("%s: a late generation of erased call %s: %v, want errErased", name, id, err)
			}
		}
		if frozen, late, err := st.merge(ctx, ws, Event{Event: CallEnded, CallID: "twins"}); err != nil || frozen || late != 0 {
			t.Fatalf("%s: the other contact's call: frozen %v, late %d, %v; want it in flight", name, frozen, late, err)
		}
		if rec, err := st.freeze(ctx, ws, "twins"); err != nil || len(rec.events) != 2 {
			t.Fatalf("%s: the other contact's call: %+v, %v; want its two events", name, rec.events, err)
		}
		if rs, ok := st.(redisState); ok {
			key := redis.CallStateKey(ws, "mine")
			fields, _ := rs.client.HGetAll(ctx, key).Result()
			if ttl := rs.client.TTL(ctx, key).Val(); ttl <= 0 || ttl > stateTTL || len(fields) != 2 {
				t.Fatalf("tombstone %v, TTL %v: want frozen and erased, with the state's TTL", fields, ttl)
			}
		}
	}
}

// A contact's calls in Redis shrink as they are written: a call noted
// longer than a state's TTL ago goes. A plain set written before the calls
// were scored is kept, as a sorted set.
func TestContactCallsShrink(t *testing.T) {
	rs, ok := stores(t)["redis"].(redisState)
	if !ok {
		t.Skip("the contact sets are in Redis: set TEST_REDIS_ADDR (scripts/test.sh does)")
	}
	ctx := context.Background()
	ws := fmt.Sprintf("shrink-%d", time.Now().UnixNano())
	number, legacy := contactName("phone", "+14155550142"), contactName("phone", "+14155550100")
	key, legacyKey := redis.CallsOfContactKey(ws, number), redis.CallsOfContactKey(ws, legacy)
	rs.client.ZAdd(ctx, key, goredis.Z{Score: float64(time.Now().Add(-stateTTL - time.Hour).UnixMilli()), Member: "old"})
	rs.client.SAdd(ctx, legacyKey, "before")
	if err := rs.name(ctx, ws, "new", "", []string{number, legacy}); err != nil {
		t.Fatal(err)
	}
	if got := rs.client.ZRange(ctx, key, 0, -1).Val(); len(got) != 1 || got[0] != "new" {
		t.Fatalf("calls of the number: %v, want only the new one", got)
	}
	if got := rs.client.ZRange(ctx, legacyKey, 0, -1).Val(); len(got) != 2 {
		t.Fatalf("calls of the number noted before the upgrade: %v, want both", got)
	}
}

// lostTerminal: an event that ends a call, arriving at a frozen state that
// has no such event, is the one the state lost; a state written before
// fields were merged has it under its bare kind.
func TestLostTerminal(t *testing.T) {
	ended, voicemail := Event{Event: CallEnded, CallID: "c"}, Event{Event: VoicemailLeft, CallID: "c"}
	for _, tc := range []struct {
		name   string
		e      Event
		fields []string
		want   bool
	}{
		{"no terminal event kept", ended, []string{"frozen", "call_started.call_id"}, true},
		{"call_ended kept", ended, []string{"frozen", "call_ended.call_id"}, false},
		{"another terminal event kept", voicemail, []string{"frozen", "call_missed.call_id"}, false},
		{"call_ended kept in the format before merging", ended, []string{"frozen", "call_ended"}, false},
		{"call_missed kept in the format before merging", voicemail, []string{"frozen", "call_missed"}, false},
		{"an event that does not end a call", Event{Event: DispositionSet, CallID: "c"}, []string{"frozen"}, false},
	} {
		has := func(f string) bool { return slices.Contains(tc.fields, f) }
		if got := lostTerminal(tc.e, has); got != tc.want {
			t.Errorf("%s: lostTerminal = %v, want %v", tc.name, got, tc.want)
		}
	}
	// The same in the stores: a state from before the upgrade, frozen
	// with a bare call_ended, takes a redelivered call_ended as late.
	for name, st := range stores(t) {
		ws := fmt.Sprintf("bare-%s-%d", name, time.Now().UnixNano())
		old := `{"event":"call_ended","call_id":"c","contact_phone":"+14155550142"}`
		switch s := st.(type) {
		case redisState:
			s.client.HSet(context.Background(), redis.CallStateKey(ws, "c"), "frozen", "1", "call_ended", old)
			s.client.Expire(context.Background(), redis.CallStateKey(ws, "c"), time.Hour)
		case *memoryState:
			s.call(ws, "c").fields = map[string]string{"frozen": "1", "call_ended": old}
		}
		if frozen, late, err := st.merge(context.Background(), ws, Event{Event: CallEnded, CallID: "c", Notes: "again"}); err != nil || !frozen || late != 1 {
			t.Fatalf("%s: a call_ended at a state from before the upgrade: frozen %v, late %d, %v; want late 1", name, frozen, late, err)
		}
	}
}

// What of a call's record is written is kept with its state, and read back
// with it; a tombstone takes no mark.
func TestWrittenIsKeptWithTheState(t *testing.T) {
	ctx := context.Background()
	for name, st := range stores(t) {
		ws := fmt.Sprintf("written-%s-%d", name, time.Now().UnixNano())
		if _, _, err := st.merge(ctx, ws, Event{Event: CallMissed, CallID: "gone", ContactPhone: "+14155550142"}); err != nil {
			t.Fatal(err)
		}
		if err := st.name(ctx, ws, "gone", "", []string{"n"}); err != nil {
			t.Fatal(err)
		}
		if err := st.forget(ctx, ws, nil, []string{"n"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.merge(ctx, ws, Event{Event: CallMissed, CallID: "c2"}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"c2", "gone"} {
			if err := st.mark(ctx, ws, id, writtenRecord, "1", writtenTicketID, "215", writtenTicketRef, "1042", writtenFollowUp+"2", "1"); err != nil {
				t.Fatal(err)
			}
		}
		rec, err := st.freeze(ctx, ws, "c2")
		if w := rec.written; err != nil || !w.record || w.ticketID != "215" || w.ticketRef != "1042" || !w.followUps[2] || w.followUps[1] || len(rec.events) != 1 {
			t.Fatalf("%s: %+v, %v; want the marks read back", name, rec, err)
		}
		if _, err := st.freeze(ctx, ws, "gone"); !errors.Is(err, errErased) {
			t.Fatalf("%s: a marked tombstone: %v, want errErased", name, err)
		}
	}
}
