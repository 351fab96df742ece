package server

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// Tests of the call events' settings, over HTTP against the real server and
// the emulator.

// callStatus reads GET /admin/call-events.
type callStatus struct {
	Backlog     int64 `json:"backlog"`
	DeadLetters []struct {
		Event struct {
			Event  string `json:"event"`
			CallID string `json:"call_id"`
		} `json:"event"`
		Reason string `json:"reason"`
	} `json:"dead_letters"`
}

func adminCallStatus(t *testing.T, env *testEnv) callStatus {
	t.Helper()
	resp, err := http.Get(env.URL + "/admin/call-events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st callStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/call-events: HTTP %d, %v", resp.StatusCode, err)
	}
	return st
}

// contactsWithPhone are the workspace's contacts with number.
func contactsWithPhone(env *testEnv, number string) []emulator.Contact {
	var out []emulator.Contact
	for _, c := range env.Intercom.Workspace.Contacts() {
		if c.FormattedPhone == number || c.Phone == number {
			out = append(out, c)
		}
	}
	return out
}

// CALL_EVENTS_CREATE_LEADS=false: a call from a number no contact has
// writes nothing and is counted as skipped (no lead, no record, no
// ticket); a call from a known contact is still written.
func TestCallEventsWithLeadsOff(t *testing.T) {
	env := callEventsEnv(t, emulator.Options{}, "CALL_EVENTS_CREATE_LEADS", "false")
	const unknown = "+15125550177"
	contacts := len(env.Intercom.Workspace.Contacts())
	ended := callEnded("c-noleads")
	ended["contact_phone"] = unknown
	mustAccept(t, env, ended)
	mustAccept(t, env, map[string]any{"event": "call_missed", "call_id": "c-noleads-missed", "contact_phone": unknown, "talkdesk_number": "+18005550100"})
	mustAccept(t, env, callEnded("c-known"))
	settled(t, env, 3, 20*time.Second)
	if n := len(env.Intercom.Workspace.Contacts()); n != contacts {
		t.Fatalf("%d contacts, want %d: no lead with CALL_EVENTS_CREATE_LEADS=false", n, contacts)
	}
	if got := metricSum(t, env, "call_events_skipped_total", ""); got != 2 {
		t.Fatalf("call_events_skipped_total = %v, want 2 (the unknown number's two calls)", got)
	}
	if n := len(callRecords(env, emulator.DemoCallerID, "c-known.mp3")); n != 1 {
		t.Fatalf("%d records for the known caller, want 1", n)
	}
	if dead := metricSum(t, env, "call_events_dead_letters_total", ""); dead != 0 {
		t.Fatalf("%v dead letters, want 0: a skipped call is no failure", dead)
	}
}

// CALL_EVENTS_BLOCKED_NUMBERS: a blocked number (as written in the
// setting, or in another format of the same number) never becomes a lead;
// a contact that has a blocked number still gets its call; a number not
// blocked does become a lead.
func TestCallEventsBlockedNumbers(t *testing.T) {
	env := callEventsEnv(t, emulator.Options{}, "CALL_EVENTS_BLOCKED_NUMBERS", "+15125550188, (512) 555-0166, +14155550142",
		"CALL_EVENTS_DEFAULT_COUNTRY", "US")
	contacts := len(env.Intercom.Workspace.Contacts())
	for _, tt := range []struct{ id, number string }{{"c-blocked-1", "+15125550188"}, {"c-blocked-2", "512-555-0166"}} {
		mustAccept(t, env, map[string]any{"event": "call_missed", "call_id": tt.id, "contact_phone": tt.number, "talkdesk_number": "+18005550100"})
	}
	mustAccept(t, env, callEnded("c-blocked-known")) // Maria Garcia's number, blocked
	mustAccept(t, env, map[string]any{"event": "call_missed", "call_id": "c-not-blocked", "contact_phone": "+15125550199", "talkdesk_number": "+18005550100"})
	settled(t, env, 4, 20*time.Second)
	for _, number := range []string{"+15125550188", "+15125550166"} {
		if got := contactsWithPhone(env, number); len(got) != 0 {
			t.Errorf("contacts with the blocked number %s: %+v, want none", number, got)
		}
	}
	if n := len(callRecords(env, emulator.DemoCallerID, "c-blocked-known.mp3")); n != 1 {
		t.Errorf("%d records on the contact with a blocked number, want 1", n)
	}
	if got := contactsWithPhone(env, "+15125550199"); len(got) != 1 || got[0].Role != "lead" {
		t.Errorf("contacts with a number not blocked: %+v, want one lead", got)
	}
	if n := len(env.Intercom.Workspace.Contacts()); n != contacts+1 {
		t.Errorf("%d contacts, want %d (one lead)", n, contacts+1)
	}
	if got := metricSum(t, env, "call_events_skipped_total", ""); got != 2 {
		t.Errorf("call_events_skipped_total = %v, want 2", got)
	}
}

// CALL_EVENTS_MAX_BACKLOG: while Intercom fails and the workers hold what
// they took, events past the backlog are 503 with Retry-After naming the
// setting; once Intercom is back, every accepted event is applied and the
// queue takes events again.
func TestCallEventsBacklogFull(t *testing.T) {
	const backlog, inFlight = 3, 1
	env := callEventsEnv(t, emulator.Options{}, "CALL_EVENTS_MAX_BACKLOG", "3", "CALL_EVENTS_MAX_IN_FLIGHT", "1")
	env.Intercom.Workspace.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable})
	accepted := 0
	var full eventAnswer
	// A worker holds at most inFlight events (off the queue without Redis,
	// still in the stream with it): the backlog is full after at most
	// backlog+inFlight events.
	for i := 0; i <= backlog+inFlight; i++ {
		a := postEvent(t, env, eventsSecret, callEnded("c-backlog-"+string(rune('a'+i))))
		if a.Status == http.StatusAccepted {
			accepted++
			continue
		}
		full = a
		break
	}
	if full.Status != http.StatusServiceUnavailable || full.Code != "UNAVAILABLE" || !strings.Contains(full.Message, "CALL_EVENTS_MAX_BACKLOG") {
		t.Fatalf("after %d accepted: HTTP %d %+v, want 503 UNAVAILABLE naming CALL_EVENTS_MAX_BACKLOG", accepted, full.Status, full)
	}
	if accepted < backlog || accepted > backlog+inFlight {
		t.Fatalf("%d accepted before the backlog was full, want %d to %d", accepted, backlog, backlog+inFlight)
	}
	req, _ := http.NewRequest("POST", env.URL+"/talkdesk/events", strings.NewReader(`{"event":"call_ended","call_id":"c-backlog-z"}`))
	req.Header.Set("Authorization", "Bearer "+eventsSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a full backlog: HTTP %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	env.Intercom.Workspace.SetFaults(emulator.Faults{})
	settled(t, env, accepted, time.Minute)
	mustAccept(t, env, callEnded("c-backlog-after"))
	settled(t, env, accepted+1, 20*time.Second)
	if st := adminCallStatus(t, env); st.Backlog != 0 || len(st.DeadLetters) != 0 {
		t.Fatalf("status %+v: want an empty backlog, no dead letters", st)
	}
}

// CALL_EVENTS_RETRY_FOR: an event that keeps failing (Intercom answers 503
// throughout) is retried for that long, then becomes a dead letter with its
// reason: counted in the metrics, listed by the admin endpoint.
func TestCallEventsRetryForRunsOut(t *testing.T) {
	env := callEventsEnv(t, emulator.Options{}, "CALL_EVENTS_RETRY_FOR", "1s")
	env.Intercom.Workspace.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable})
	mustAccept(t, env, callEnded("c-retry-for"))
	settled(t, env, 1, 30*time.Second)
	if got := metricSum(t, env, "call_events_dead_letters_total", ""); got != 1 {
		t.Fatalf("call_events_dead_letters_total = %v, want 1", got)
	}
	if got := metricSum(t, env, "call_events_retries_total", ""); got < 1 {
		t.Fatalf("call_events_retries_total = %v, want retries before giving up", got)
	}
	st := adminCallStatus(t, env)
	if len(st.DeadLetters) != 1 || st.DeadLetters[0].Event.CallID != "c-retry-for" || !strings.Contains(st.DeadLetters[0].Reason, "still failing after 1s") || st.Backlog != 0 {
		t.Fatalf("status %+v: want the event dead-lettered, its reason saying it kept failing for 1s", st)
	}
	env.Intercom.Workspace.SetFaults(emulator.Faults{})
	if n := len(callRecords(env, emulator.DemoCallerID, "c-retry-for.mp3")); n != 0 {
		t.Fatalf("%d records of a dead-lettered call, want 0", n)
	}
}

// CALL_EVENTS_DEAD_LETTER_RETENTION: a dead letter is listed until it is
// older than the retention, then it is no longer listed, and deleted.
func TestCallEventsDeadLettersExpire(t *testing.T) {
	env := callEventsEnv(t, emulator.Options{}, "CALL_EVENTS_CALLBACK_TICKET_TYPE", "Ring back", "CALL_EVENTS_DEAD_LETTER_RETENTION", "5s")
	mustAccept(t, env, map[string]any{"event": "call_abandoned", "call_id": "c-expires", "contact_phone": "+14155550142", "talkdesk_number": "+18005550100"})
	settled(t, env, 1, 20*time.Second)
	if st := adminCallStatus(t, env); len(st.DeadLetters) != 1 || st.DeadLetters[0].Event.CallID != "c-expires" {
		t.Fatalf("status %+v: want the dead letter listed within its retention", st)
	}
	for deadline := time.Now().Add(30 * time.Second); len(adminCallStatus(t, env).DeadLetters) != 0; {
		if time.Now().After(deadline) {
			t.Fatal("the dead letter is still listed long after its retention (5s)")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A dead letter older than CALL_EVENTS_DEAD_LETTER_RETENTION is deleted
// from Redis, not only no longer listed (each replica drops the expired
// letters of its workspaces every CALL_EVENTS_CLAIM_AFTER/3), while a newer
// one stays.
func TestCallEventsExpiredDeadLettersAreDeleted(t *testing.T) {
	addr := os.Getenv("TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("reads the dead letters in Redis: set TEST_REDIS_ADDR (scripts/test.sh does)")
	}
	env := callEventsEnv(t, emulator.Options{}, "CALL_EVENTS_CALLBACK_TICKET_TYPE", "Ring back", "CALL_EVENTS_DEAD_LETTER_RETENTION", "1m")
	client := goredis.NewClient(&goredis.Options{Addr: addr})
	defer client.Close()
	ctx := context.Background()
	key := redis.CallEventsDeadLetters(env.Intercom.Workspace.App().IDCode)
	old, _ := json.Marshal(map[string]any{"id": "1-0", "event": map[string]any{"event": "call_abandoned", "call_id": "c-old"}, "reason": "test", "at": time.Now().Add(-2 * time.Minute)})
	client.RPush(ctx, key, old)
	mustAccept(t, env, map[string]any{"event": "call_abandoned", "call_id": "c-fresh", "contact_phone": "+14155550142", "talkdesk_number": "+18005550100"})
	settled(t, env, 1, 20*time.Second)
	for deadline := time.Now().Add(20 * time.Second); client.LLen(ctx, key).Val() != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("%d dead letters in Redis, want only the one within its retention", client.LLen(ctx, key).Val())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if left := client.LIndex(ctx, key, 0).Val(); !strings.Contains(left, "c-fresh") {
		t.Fatalf("left in Redis: %s, want the newer letter", left)
	}
}

// A contact deleted in Intercom (a signed contact.deleted webhook) is
// erased from what call events keep: the dead letters that name it go, and
// its calls' states become tombstones, so a late event of its call writes
// nothing (no follow-up, no lead re-created for its number). Another
// contact's dead letter stays.
func TestDeletedContactIsErasedFromCallEvents(t *testing.T) {
	env := callEventsEnv(t, emulator.Options{}, "INTERCOM_CLIENT_SECRET", testClientSecret, "CALL_EVENTS_CALLBACK_TICKET_TYPE", "Ring back")
	ws := env.Intercom.Workspace
	maria, _ := ws.DemoCaller()
	var other emulator.Contact
	for _, c := range ws.Contacts() {
		if c.FormattedPhone != "" && c.FormattedPhone != maria.FormattedPhone {
			other = c
			break
		}
	}
	mustAccept(t, env, map[string]any{"event": "call_abandoned", "call_id": "c-del-dead", "contact_phone": maria.FormattedPhone, "talkdesk_number": "+18005550100"})
	mustAccept(t, env, map[string]any{"event": "call_abandoned", "call_id": "c-del-other", "contact_external_id": other.ID, "contact_phone": other.FormattedPhone, "talkdesk_number": "+18005550100"})
	mustAccept(t, env, callEnded("c-del-record"))
	settled(t, env, 3, 20*time.Second)
	if st := adminCallStatus(t, env); len(st.DeadLetters) != 2 {
		t.Fatalf("status %+v: want two dead letters", st)
	}
	if n := len(callRecords(env, maria.ID, "c-del-record.mp3")); n != 1 {
		t.Fatalf("%d records, want 1", n)
	}

	ws.DeleteContact(maria.ID)
	notifyContact(t, env, "contact.deleted", map[string]any{"item": map[string]any{"type": "contact", "id": maria.ID, "phone": maria.FormattedPhone}})
	st := adminCallStatus(t, env)
	if len(st.DeadLetters) != 1 || st.DeadLetters[0].Event.CallID != "c-del-other" {
		t.Fatalf("status %+v: want only the other contact's dead letter", st)
	}
	// The call's state is a tombstone: a late disposition writes nothing.
	mustAccept(t, env, map[string]any{"event": "disposition_set", "call_id": "c-del-record", "disposition": "Resolved"})
	settled(t, env, 4, 20*time.Second)
	if got := contactsWithPhone(env, maria.FormattedPhone); len(got) != 0 {
		t.Fatalf("contacts with the deleted contact's number: %+v, want none", got)
	}
	if got := metricSum(t, env, "call_events_effects_total", "follow_up"); got != 0 {
		t.Fatalf("%v follow-ups, want none", got)
	}
}

// A contact deleted after its call was recorded: its call's state becomes a
// tombstone, so a redelivered call_ended and a voicemail_left of that call
// have no effect (no lead for the number, no second record, no ticket, no
// dead letter). Another contact with the same number keeps its call in
// flight: the disposition it had before the deletion is in its record.
func TestErasedCallStaysErased(t *testing.T) {
	env := callEventsEnv(t, emulator.Options{}, "INTERCOM_CLIENT_SECRET", testClientSecret)
	ws := env.Intercom.Workspace
	maria, _ := ws.DemoCaller()
	twin := ws.AddContact(emulator.Contact{Name: "Twin Garcia", Phone: maria.FormattedPhone})
	voicemail := map[string]any{"event": "voicemail_left", "call_id": "c-erased", "contact_phone": maria.FormattedPhone, "talkdesk_number": "+18005550100", "voicemail_url": "https://voicemail.example.com/c-erased.mp3"}
	mustAccept(t, env, callEnded("c-erased"))
	mustAccept(t, env, map[string]any{"event": "disposition_set", "call_id": "c-twin", "contact_external_id": twin.ID, "contact_phone": maria.FormattedPhone, "disposition": "Twin kept"})
	settled(t, env, 2, 20*time.Second)
	if n := len(callRecords(env, maria.ID, "c-erased.mp3")); n != 1 {
		t.Fatalf("%d records, want 1", n)
	}

	ws.DeleteContact(maria.ID)
	notifyContact(t, env, "contact.deleted", map[string]any{"item": map[string]any{"type": "contact", "id": maria.ID, "phone": maria.FormattedPhone}})
	mustAccept(t, env, callEnded("c-erased"))
	mustAccept(t, env, voicemail)
	twinEnded := callEnded("c-twin")
	twinEnded["contact_external_id"] = twin.ID
	mustAccept(t, env, twinEnded)
	settled(t, env, 5, 20*time.Second)
	if got := contactsWithPhone(env, maria.FormattedPhone); len(got) != 1 || got[0].ID != twin.ID {
		t.Fatalf("contacts with the deleted contact's number: %+v, want only the other contact", got)
	}
	for _, effect := range []string{"lead", "callback_ticket", "follow_up"} {
		if got := metricSum(t, env, "call_events_effects_total", effect); got != 0 {
			t.Fatalf("%v %s effects, want none", got, effect)
		}
	}
	if got := metricSum(t, env, "call_events_effects_total", "call_record"); got != 2 {
		t.Fatalf("%v call records written, want 2 (the erased call's first, the other contact's)", got)
	}
	if st := adminCallStatus(t, env); len(st.DeadLetters) != 0 {
		t.Fatalf("status %+v: want no dead letter", st)
	}
	records := callRecords(env, twin.ID, "c-twin.mp3")
	if len(records) != 1 || !strings.Contains(records[0].Body, "Twin kept") {
		t.Fatalf("the other contact's records %+v: want 1 with its disposition", records)
	}
}

// The idempotency records of a call's effects last a day, its state two:
// an event a day late (here: the records deleted, and the replica that
// mirrored them in its memory gone) finds what its call's state says is
// written, and writes it not again. A redelivered call_ended
// writes no second record; a redelivered call_missed and a late
// transcription open no second ticket (the transcription is one follow-up
// on the first).
func TestCallEventsAfterTheIdempotencyRecordsExpired(t *testing.T) {
	addr := os.Getenv("TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("deletes idempotency records in Redis: set TEST_REDIS_ADDR (scripts/test.sh does)")
	}
	first := callEventsEnv(t, emulator.Options{})
	ws := first.Intercom.Workspace
	maria, _ := ws.DemoCaller()
	missed := map[string]any{"event": "call_missed", "call_id": "c-day-missed", "contact_phone": maria.FormattedPhone, "talkdesk_number": "+18005550100"}
	mustAccept(t, first, callEnded("c-day-ended"))
	mustAccept(t, first, missed)
	settled(t, first, 2, 20*time.Second)
	first.Server.Close()
	first.App.Close()

	client := goredis.NewClient(&goredis.Options{Addr: addr})
	defer client.Close()
	ctx := context.Background()
	keys, err := client.Keys(ctx, redis.IdempotencyKey(ws.App().IDCode, "*", "*")).Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("idempotency records: %v, %v; want some", keys, err)
	}
	client.Del(ctx, keys...)
	env := newTestEnvOn(t, first.Intercom, "TALKDESK_EVENTS_SECRET", eventsSecret, "CALL_EVENTS_SETTLE", "300ms", "CALL_EVENTS_CLAIM_AFTER", "2s")

	mustAccept(t, env, callEnded("c-day-ended"))
	mustAccept(t, env, missed)
	mustAccept(t, env, map[string]any{"event": "voicemail_transcribed", "call_id": "c-day-missed", "transcription": "Please call me back"})
	settled(t, env, 3, 20*time.Second)
	if n := len(callRecords(env, maria.ID, "c-day-ended.mp3")); n != 1 {
		t.Fatalf("%d records of the call, want 1", n)
	}
	var tickets []emulator.Ticket
	for _, tk := range ws.Tickets(maria.ID) {
		if strings.Contains(tk.Title+tk.Description, "c-day-missed") {
			tickets = append(tickets, tk)
		}
	}
	if len(tickets) != 1 {
		t.Fatalf("%d callback tickets of the call, want 1", len(tickets))
	}
	if got := metricSum(t, env, "call_events_effects_total", "follow_up"); got != 1 {
		t.Fatalf("%v follow-ups, want 1 (the transcription)", got)
	}
}
