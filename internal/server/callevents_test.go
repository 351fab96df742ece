package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

const eventsSecret = "talkdesk-events-secret-91c2"

// callEventsEnv is a server whose call events settle quickly.
func callEventsEnv(t *testing.T, opts emulator.Options, settings ...string) *testEnv {
	t.Helper()
	base := []string{"TALKDESK_EVENTS_SECRET", eventsSecret, "CALL_EVENTS_SETTLE", "300ms", "CALL_EVENTS_CLAIM_AFTER", "2s"}
	return newTestEnvWith(t, opts, append(base, settings...)...)
}

// eventAnswer is the answer to POST /talkdesk/events.
type eventAnswer struct {
	Status   int
	Accepted bool   `json:"accepted"`
	ID       string `json:"id"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	Problems []struct {
		Field string `json:"field"`
	} `json:"problems"`
}

func postEvent(t *testing.T, env *testEnv, secret string, body any, header ...string) eventAnswer {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case string:
		raw = []byte(b)
	default:
		raw, _ = json.Marshal(b)
	}
	req, _ := http.NewRequest("POST", env.URL+"/talkdesk/events", bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /talkdesk/events: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := eventAnswer{Status: resp.StatusCode}
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("POST /talkdesk/events: HTTP %d, body is not JSON: %q", resp.StatusCode, b)
	}
	return a
}

func mustAccept(t *testing.T, env *testEnv, event map[string]any) {
	t.Helper()
	if a := postEvent(t, env, eventsSecret, event); a.Status != http.StatusAccepted || !a.Accepted || a.ID == "" {
		t.Fatalf("event %v: HTTP %d %+v, want 202 accepted", event["event"], a.Status, a)
	}
}

// callEnded is the documented call_ended example (docs/call-events.md),
// on Maria Garcia's number.
func callEnded(callID string) map[string]any {
	return map[string]any{
		"event": "call_ended", "call_id": callID, "direction": "inbound",
		"contact_phone": "+14155550142", "talkdesk_number": "+18005550100",
		"agent_email": "ana.lopez@example.com", "started_at": "2026-03-02T14:05:00Z",
		"answered_at": "2026-03-02T14:05:09Z", "ended_at": "2026-03-02T14:09:42Z",
		"duration_seconds": 282, "recording_url": "https://recordings.example.com/" + callID + ".mp3",
	}
}

// metricSum adds up the samples of a counter GET /metrics serves, with the
// labels that contain label (all when "").
func metricSum(t *testing.T, env *testEnv, name, label string) float64 {
	t.Helper()
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(get(t, env.URL+"/metrics")))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") || !strings.Contains(line, label) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// settled waits until n events were applied, skipped or dead-lettered.
func settled(t *testing.T, env *testEnv, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		done := metricSum(t, env, "call_events_applied_total", "") + metricSum(t, env, "call_events_dead_letters_total", "")
		if done >= float64(n) {
			if done > float64(n) {
				t.Fatalf("%v events done, only %d accepted", done, n)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %v of %d events applied", within, done, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// callRecords are the notes on a contact that record a call from Talkdesk
// and carry marker.
func callRecords(env *testEnv, contactID, marker string) []emulator.Note {
	var out []emulator.Note
	for _, n := range env.Intercom.Workspace.Notes(contactID) {
		if strings.Contains(n.Body, "Logged from Talkdesk") && strings.Contains(n.Body, marker) {
			out = append(out, n)
		}
	}
	return out
}

func notesHaving(env *testEnv, contactID, text string) int {
	n := 0
	for _, note := range env.Intercom.Workspace.Notes(contactID) {
		if strings.Contains(note.Body, text) {
			n++
		}
	}
	return n
}

func TestCallEventsRefusals(t *testing.T) {
	env := callEventsEnv(t, emulator.Options{}, "CALL_EVENTS_MAX_BODY_BYTES", "1024")
	ok := callEnded("c-refusals")
	for _, tt := range []struct {
		name, secret string
		body         any
		status       int
		code, field  string
	}{
		{"no secret", "", ok, 401, "UNAUTHENTICATED", ""},
		{"wrong secret", "not-the-secret", ok, 401, "UNAUTHENTICATED", ""},
		{"not JSON", eventsSecret, "{event:", 400, "BAD_REQUEST", ""},
		{"two objects", eventsSecret, `{"event":"call_ended","call_id":"a"} {}`, 400, "BAD_REQUEST", ""},
		{"missing event", eventsSecret, map[string]any{"call_id": "c1"}, 400, "BAD_USER_INPUT", "event"},
		{"unknown event", eventsSecret, map[string]any{"event": "call_exploded", "call_id": "c1"}, 400, "BAD_USER_INPUT", "event"},
		{"missing call_id", eventsSecret, map[string]any{"event": "call_ended"}, 400, "BAD_USER_INPUT", "call_id"},
		{"call_id a number", eventsSecret, map[string]any{"event": "call_ended", "call_id": 42}, 400, "BAD_USER_INPUT", "call_id"},
		{"duration not an integer", eventsSecret, map[string]any{"event": "call_ended", "call_id": "c1", "duration_seconds": "long"}, 400, "BAD_USER_INPUT", "duration_seconds"},
		{"duration a fraction", eventsSecret, map[string]any{"event": "call_ended", "call_id": "c1", "duration_seconds": 1.5}, 400, "BAD_USER_INPUT", "duration_seconds"},
		{"bad time", eventsSecret, map[string]any{"event": "call_ended", "call_id": "c1", "ended_at": "yesterday"}, 400, "BAD_USER_INPUT", "ended_at"},
		{"bad direction", eventsSecret, map[string]any{"event": "call_ended", "call_id": "c1", "direction": "sideways"}, 400, "BAD_USER_INPUT", "direction"},
		{"contact_external_id not an id", eventsSecret, map[string]any{"event": "call_ended", "call_id": "c1", "contact_external_id": "tdi:v1:{ws}:*"}, 400, "BAD_USER_INPUT", "contact_external_id"},
		{"contact_external_id too long", eventsSecret, map[string]any{"event": "call_ended", "call_id": "c1", "contact_external_id": strings.Repeat("a", 129)}, 400, "BAD_USER_INPUT", "contact_external_id"},
		{"notes an object", eventsSecret, map[string]any{"event": "call_ended", "call_id": "c1", "notes": map[string]any{}}, 400, "BAD_USER_INPUT", "notes"},
		{"too large", eventsSecret, map[string]any{"event": "call_ended", "call_id": "c1", "notes": strings.Repeat("x", 2000)}, 413, "BODY_TOO_LARGE", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := postEvent(t, env, tt.secret, tt.body)
			if a.Status != tt.status || a.Code != tt.code {
				t.Fatalf("HTTP %d %s (%s), want %d %s", a.Status, a.Code, a.Message, tt.status, tt.code)
			}
			if tt.field != "" && (len(a.Problems) != 1 || a.Problems[0].Field != tt.field || !strings.Contains(a.Message, tt.field)) {
				t.Fatalf("problems %+v, message %q: want the field %s named", a.Problems, a.Message, tt.field)
			}
		})
	}
	t.Run("unknown fields are ignored, a quoted duration is read", func(t *testing.T) {
		body := map[string]any{"event": "call_started", "call_id": "c-extra", "queue": "sales", "ring_groups": []string{"a"}, "duration_seconds": "12"}
		if a := postEvent(t, env, eventsSecret, body); a.Status != http.StatusAccepted {
			t.Fatalf("HTTP %d %+v, want 202", a.Status, a)
		}
	})
	if strings.Contains(env.Logs.String(), eventsSecret) {
		t.Fatal("the events secret appears in the server's logs")
	}
}

func TestCallEventsOffWithoutSecret(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{})
	a := postEvent(t, env, "anything", callEnded("c-off"))
	if a.Status != http.StatusServiceUnavailable || a.Code != "UNAVAILABLE" || !strings.Contains(a.Message, "TALKDESK_EVENTS_SECRET") {
		t.Fatalf("HTTP %d %+v, want 503 UNAVAILABLE naming TALKDESK_EVENTS_SECRET", a.Status, a)
	}
}

func TestCallEventsMultiTenantNeedsTheWorkspace(t *testing.T) {
	env := callEventsEnv(t, emulator.Options{}, "MULTI_TENANT", "true")
	a := postEvent(t, env, eventsSecret, callEnded("c-mt"))
	if a.Status != http.StatusBadRequest || !strings.Contains(a.Message, "X-Intercom-Token") {
		t.Fatalf("without X-Intercom-Token: HTTP %d %+v, want 400 naming the header", a.Status, a)
	}
	a = postEvent(t, env, eventsSecret, callEnded("c-mt"), "X-Intercom-Token", "not-a-token")
	if a.Status != http.StatusUnauthorized {
		t.Fatalf("with a token Intercom rejects: HTTP %d %+v, want 401", a.Status, a)
	}
	mustAcceptWith(t, env, callEnded("c-mt"), "X-Intercom-Token", testToken)
	settled(t, env, 1, 20*time.Second)
	if got := len(callRecords(env, emulator.DemoCallerID, "c-mt.mp3")); got != 1 {
		t.Fatalf("%d call records in the token's workspace, want 1", got)
	}
}

func mustAcceptWith(t *testing.T, env *testEnv, event map[string]any, header ...string) {
	t.Helper()
	if a := postEvent(t, env, eventsSecret, event, header...); a.Status != http.StatusAccepted {
		t.Fatalf("HTTP %d %+v, want 202", a.Status, a)
	}
}

// The documented example twice, with its disposition before it and a
// repeat of that: one call record, with the disposition, on Maria Garcia.
func TestCallEndedTwiceIsOneRecord(t *testing.T) {
	env := callEventsEnv(t, emulator.Options{})
	disposition := map[string]any{"event": "disposition_set", "call_id": "c-twice", "disposition": "Resolved", "notes": "Asked about the March invoice."}
	mustAccept(t, env, disposition)
	mustAccept(t, env, callEnded("c-twice"))
	mustAccept(t, env, callEnded("c-twice"))
	mustAccept(t, env, disposition)
	settled(t, env, 4, 20*time.Second)
	records := callRecords(env, emulator.DemoCallerID, "c-twice.mp3")
	if len(records) != 1 {
		t.Fatalf("%d call records on Maria Garcia, want 1", len(records))
	}
	for _, want := range []string{"Inbound call", "Resolved", "March invoice", "4m42s", "+18005550100", "ana.lopez@example.com"} {
		if !strings.Contains(records[0].Body, want) {
			t.Errorf("the record lacks %q: %s", want, records[0].Body)
		}
	}
	if n := notesHaving(env, emulator.DemoCallerID, "Follow-up to Talkdesk call c-twice"); n != 0 {
		t.Errorf("%d follow-ups, want none: everything came within the settle window", n)
	}
}

// Events of one call in any order, repeated, give one record; what comes
// after the settle window is one follow-up (repeats of it too).
func TestCallEventsAnyOrderAndLate(t *testing.T) {
	env := callEventsEnv(t, emulator.Options{})
	id := "c-order"
	events := []map[string]any{
		{"event": "disposition_set", "call_id": id, "disposition": "Sale"},
		{"event": "call_answered", "call_id": id, "contact_phone": "+14155550142"},
		callEnded(id),
		{"event": "call_started", "call_id": id, "contact_phone": "+14155550142", "talkdesk_number": "+18005550100"},
	}
	for _, order := range [][]int{{2, 0, 1, 3}, {0, 3, 2, 1, 2, 0}} {
		for _, i := range order {
			mustAccept(t, env, events[i])
		}
	}
	settled(t, env, 10, 20*time.Second)
	records := callRecords(env, emulator.DemoCallerID, id+".mp3")
	if len(records) != 1 || !strings.Contains(records[0].Body, "Sale") {
		t.Fatalf("%d call records (%v), want 1 with the disposition", len(records), records)
	}
	// Late events, distinct and repeated, within one settle window: one
	// follow-up carries them all.
	late := map[string]any{"event": "disposition_set", "call_id": id, "disposition": "Refund promised", "notes": "Call back Friday."}
	lateRecording := map[string]any{"event": "call_ended", "call_id": id, "recording_url": "https://recordings.example.com/" + id + "-full.mp3"}
	mustAccept(t, env, late)
	mustAccept(t, env, lateRecording)
	mustAccept(t, env, late)
	settled(t, env, 13, 20*time.Second)
	if n := len(callRecords(env, emulator.DemoCallerID, id+".mp3")); n != 1 {
		t.Fatalf("%d call records after a late event, want still 1", n)
	}
	if n := notesHaving(env, emulator.DemoCallerID, "Follow-up to Talkdesk call "+id); n != 1 {
		t.Fatalf("%d follow-up notes, want 1", n)
	}
	for _, want := range []string{"Refund promised", id + "-full.mp3"} {
		if n := notesHaving(env, emulator.DemoCallerID, want); n != 1 {
			t.Fatalf("%s is in %d notes, want 1 (the follow-up)", want, n)
		}
	}
}

// A missed call from a number no contact has: one lead, one callback
// ticket with the voicemail; the transcription that comes later is one
// follow-up that names the ticket.
func TestMissedCallFromUnknownNumber(t *testing.T) {
	env := callEventsEnv(t, emulator.Options{})
	const number = "+15125550199"
	id := "c-missed"
	missed := map[string]any{"event": "call_missed", "call_id": id, "direction": "inbound", "contact_phone": number,
		"talkdesk_number": "+18005550100", "started_at": "2026-03-02T16:00:00Z"}
	voicemail := map[string]any{"event": "voicemail_left", "call_id": id, "contact_phone": number, "voicemail_url": "https://voicemail.example.com/" + id + ".mp3"}
	mustAccept(t, env, missed)
	mustAccept(t, env, voicemail)
	mustAccept(t, env, missed)
	settled(t, env, 3, 20*time.Second)
	var leads []emulator.Contact
	for _, c := range env.Intercom.Workspace.Contacts() {
		if c.FormattedPhone == number || c.Phone == number {
			leads = append(leads, c)
		}
	}
	if len(leads) != 1 || leads[0].Role != "lead" {
		t.Fatalf("contacts with %s: %+v, want one lead", number, leads)
	}
	tickets := env.Intercom.Workspace.Tickets(leads[0].ID)
	if len(tickets) != 1 {
		t.Fatalf("%d tickets for the lead, want 1 callback ticket", len(tickets))
	}
	if tk := tickets[0]; tk.TicketTypeID != "103" || !strings.Contains(tk.Description, id+".mp3") || !strings.Contains(tk.Title, "Call back "+number) {
		t.Fatalf("ticket %+v: want a Callback request with the voicemail link", tk)
	}
	transcribed := map[string]any{"event": "voicemail_transcribed", "call_id": id, "transcription": "Hi, please call me back about my order."}
	mustAccept(t, env, transcribed)
	mustAccept(t, env, transcribed)
	settled(t, env, 5, 20*time.Second)
	// The follow-up is one note on the callback ticket (a reply of type
	// note), naming the call; none on the contact.
	ticket, _ := env.Intercom.Workspace.Ticket(tickets[0].ID)
	var followUps []emulator.TicketPart
	for _, p := range ticket.Parts {
		if p.PartType == "note" && strings.Contains(p.Body, "please call me back") {
			followUps = append(followUps, p)
		}
	}
	if len(followUps) != 1 || !strings.Contains(followUps[0].Body, "Follow-up to Talkdesk call "+id) {
		t.Fatalf("the ticket's follow-ups: %+v, want one note naming the call", ticket.Parts)
	}
	if n := notesHaving(env, leads[0].ID, "please call me back"); n != 0 {
		t.Fatalf("the transcription is in %d notes on the contact, want 0: it is on the ticket", n)
	}
	if n := len(env.Intercom.Workspace.Tickets(leads[0].ID)); n != 1 {
		t.Fatalf("%d tickets, want still 1", n)
	}
}

// A withheld number writes nothing (no lead for "anonymous"); a ticket
// type the workspace lacks is a dead letter with its reason, readable by
// the admin endpoint.
func TestCallEventsSkippedAndDeadLetters(t *testing.T) {
	env := callEventsEnv(t, emulator.Options{}, "CALL_EVENTS_CALLBACK_TICKET_TYPE", "Ring back", "API_KEYS", "admin-key-5b1e")
	before := len(env.Intercom.Workspace.Contacts())
	mustAccept(t, env, map[string]any{"event": "call_missed", "call_id": "c-anon", "contact_phone": "anonymous", "talkdesk_number": "+18005550100"})
	mustAccept(t, env, map[string]any{"event": "call_abandoned", "call_id": "c-dead", "contact_phone": "+14155550142", "talkdesk_number": "+18005550100"})
	settled(t, env, 2, 20*time.Second)
	if got := len(env.Intercom.Workspace.Contacts()); got != before {
		t.Fatalf("%d contacts, want %d: a withheld number is no lead", got, before)
	}
	if metricSum(t, env, "call_events_skipped_total", "") != 1 || metricSum(t, env, "call_events_dead_letters_total", "") != 1 {
		t.Fatalf("skipped %v, dead letters %v: want 1 each", metricSum(t, env, "call_events_skipped_total", ""), metricSum(t, env, "call_events_dead_letters_total", ""))
	}
	req, _ := http.NewRequest("GET", env.URL+"/admin/call-events", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without an API key: %v %v, want 401", resp.StatusCode, err)
	}
	req.Header.Set("X-API-Key", "admin-key-5b1e")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Backlog     int64 `json:"backlog"`
		DeadLetters []struct {
			Event struct {
				CallID string `json:"call_id"`
			} `json:"event"`
			Reason string `json:"reason"`
		} `json:"dead_letters"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /admin/call-events: HTTP %d, %v", resp.StatusCode, err)
	}
	if len(st.DeadLetters) != 1 || st.DeadLetters[0].Event.CallID != "c-dead" || !strings.Contains(st.DeadLetters[0].Reason, "Ring back") || st.Backlog != 0 {
		t.Fatalf("status %+v: want the c-dead event with a reason naming the ticket type, no backlog", st)
	}
}

// A burst of 1,000 events (250 calls, each started, given a disposition
// and ended twice) while Intercom answers 503: every accepted event is
// applied once it recovers, and each call has exactly one record.
func TestCallEventsBurstThroughOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("a burst through an outage: run without -short")
	}
	// On the default allowance of requests: events with the secret are
	// never limited for rate.
	env := callEventsEnv(t, emulator.Options{}, "CALL_EVENTS_WORKERS", "8")
	var callers []emulator.Contact
	seen := map[string]bool{}
	for _, c := range env.Intercom.Workspace.Contacts() {
		if c.FormattedPhone != "" && !seen[c.FormattedPhone] && len(callers) < 250 {
			seen[c.FormattedPhone] = true
			callers = append(callers, c)
		}
	}
	env.Intercom.Workspace.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable})
	recovered := time.AfterFunc(3*time.Second, func() { env.Intercom.Workspace.SetFaults(emulator.Faults{}) })
	defer recovered.Stop()
	accepted := 0
	for i, c := range callers {
		id := fmt.Sprintf("burst-%d", i)
		ended := callEnded(id)
		ended["contact_phone"] = c.FormattedPhone
		for _, e := range []map[string]any{
			{"event": "call_started", "call_id": id, "contact_phone": c.FormattedPhone},
			ended,
			{"event": "disposition_set", "call_id": id, "disposition": "Burst " + id},
			ended,
		} {
			mustAccept(t, env, e)
			accepted++
		}
	}
	settled(t, env, accepted, 3*time.Minute)
	if dead := metricSum(t, env, "call_events_dead_letters_total", ""); dead != 0 {
		t.Fatalf("%v dead letters, want 0", dead)
	}
	for i, c := range callers {
		id := fmt.Sprintf("burst-%d", i)
		records := callRecords(env, c.ID, id+".mp3")
		if len(records) != 1 || !strings.Contains(records[0].Body, "Burst "+id+"<") {
			t.Fatalf("call %s: %d records, want exactly 1 with its disposition", id, len(records))
		}
	}
	if metricSum(t, env, "call_events_retries_total", "") == 0 {
		t.Fatal("no retries: the outage was not seen")
	}
}

// A replica that dies holding events (Intercom was failing, it was
// retrying them) loses none: another replica takes them over once they
// have gone CALL_EVENTS_CLAIM_AFTER without news, and applies each once.
func TestCallEventsTakenOverFromADeadReplica(t *testing.T) {
	if testRedisURL() == "" {
		t.Skip("replicas share their queue through Redis: set TEST_REDIS_ADDR (scripts/test.sh does)")
	}
	em, err := emulator.Start(emulator.Options{Token: testToken, WorkspaceID: uniqueWorkspaceID()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	settings := []string{"TALKDESK_EVENTS_SECRET", eventsSecret, "CALL_EVENTS_SETTLE", "100ms", "CALL_EVENTS_CLAIM_AFTER", "2s"}
	first := newTestEnvOn(t, em, settings...)
	em.Workspace.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable})
	const calls = 40
	for i := range calls {
		mustAccept(t, first, callEnded(fmt.Sprintf("dies-%d", i)))
	}
	for deadline := time.Now().Add(20 * time.Second); metricSum(t, first, "call_events_retries_total", "") < calls; {
		if time.Now().After(deadline) {
			t.Fatalf("the first replica retried %v events, want all %d held", metricSum(t, first, "call_events_retries_total", ""), calls)
		}
		time.Sleep(50 * time.Millisecond)
	}
	first.Server.Close()
	first.App.Close() // the replica dies holding every event
	em.Workspace.SetFaults(emulator.Faults{})

	second := newTestEnvOn(t, em, settings...)
	settled(t, second, calls, time.Minute)
	if claimed := metricSum(t, second, "call_events_claimed_total", ""); claimed < calls {
		t.Fatalf("the second replica claimed %v events, want all %d", claimed, calls)
	}
	for i := range calls {
		if n := len(callRecords(second, emulator.DemoCallerID, fmt.Sprintf("dies-%d.mp3", i))); n != 1 {
			t.Fatalf("call dies-%d: %d records, want 1", i, n)
		}
	}
}

// The screen pop: a call_started reaches the dashboards that wait for
// calls of its agent (or its number), with who is calling, before the agent
// picks up; another agent's dashboard hears nothing of it.
func TestARingingCallIsPushedToTheAgentsDashboard(t *testing.T) {
	env := callEventsEnv(t, emulator.Options{})
	streamWhole(t, env)
	const incoming = `subscription($agent: String, $number: String) {
		incomingCall(agentEmail: $agent, talkdeskNumber: $number) { callId phone talkdeskNumber agentEmail contacts { id name } caller { people { name } } } }`
	c := connectWS(t, env.URL, nil)
	c.subscribe("ann", incoming, map[string]any{"agent": "Ann@Example.com"})
	c.subscribe("line", incoming, map[string]any{"number": "(800) 555-0100"})
	c.subscribe("bob", incoming, map[string]any{"agent": "bob@example.com"})
	c.subscribe("bad", `subscription { incomingCall(talkdeskNumber: "12") { callId } }`, nil)
	if m := c.read(); m.ID != "bad" || !strings.Contains(string(m.Payload), `"code":"BAD_USER_INPUT"`) {
		t.Errorf("a two-digit number filter: %s %s, want an error BAD_USER_INPUT", m.Type, m.Payload)
	}

	mustAccept(t, env, map[string]any{"event": "call_started", "call_id": "ring-1", "direction": "inbound",
		"contact_phone": "+1 415-555-0142", "talkdesk_number": "+18005550100", "agent_email": "ann@example.com"})
	type call struct {
		IncomingCall struct {
			CallID, Phone, TalkdeskNumber, AgentEmail string
			Contacts                                  []struct{ ID, Name string }
			Caller                                    *struct{ People []struct{ Name string } }
		}
	}
	for _, id := range []string{"ann", "line"} {
		var got call
		c.next(id, &got)
		in := got.IncomingCall
		if in.CallID != "ring-1" || in.Phone != "+14155550142" || in.AgentEmail != "ann@example.com" ||
			len(in.Contacts) != 1 || in.Contacts[0].Name != "Maria Garcia" || in.Caller == nil || len(in.Caller.People) == 0 {
			t.Errorf("%s: incomingCall = %+v, want ring-1 from Maria Garcia", id, in)
		}
	}
	// Bob's dashboard was not told: the next call, his, is the first he hears.
	mustAccept(t, env, map[string]any{"event": "call_started", "call_id": "ring-2", "direction": "inbound",
		"contact_phone": "+14155550199", "talkdesk_number": "+18005550111", "agent_email": "bob@example.com"})
	var bob call
	c.next("bob", &bob)
	if bob.IncomingCall.CallID != "ring-2" || len(bob.IncomingCall.Contacts) != 0 {
		t.Errorf("bob: incomingCall = %+v, want ring-2 from an unknown number", bob.IncomingCall)
	}
}

// Talkdesk sends every account's events from a few addresses: on default
// settings, a burst from one address past its allowance of requests
// (RATE_LIMIT_PER_MINUTE) is all accepted when it carries the secret,
// while junk with a wrong secret from the same address is throttled after
// AUTH_FAILURES_PER_MINUTE and takes no valid event down with it.
func TestValidCallEventsAreNotLimitedByAddress(t *testing.T) {
	env := callEventsEnv(t, emulator.Options{})
	post := func(secret, callID string) int {
		body, _ := json.Marshal(map[string]any{"event": "call_answered", "call_id": callID})
		req, _ := http.NewRequest("POST", env.URL+"/talkdesk/events", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// Past the default allowance by address (a burst of 600, then 100 a
	// second) whatever the pace of this machine: 16 senders, 1,500 events.
	const valid, senders = 1500, 16
	statuses := make(chan int, valid)
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := s; i < valid; i += senders {
				statuses <- post(eventsSecret, fmt.Sprintf("burst-%d", i))
			}
		}()
	}
	// Junk from the same address meanwhile: 401 for the first
	// AUTH_FAILURES_PER_MINUTE (30), then 429, and 401 again for each
	// failure the allowance refills (one every 2 s): 90 are more than
	// refill in the time this machine takes to send them.
	var junk []int
	for i := range 90 {
		junk = append(junk, post("not-the-secret", fmt.Sprintf("junk-%d", i)))
	}
	wg.Wait()
	close(statuses)
	accepted := 0
	for st := range statuses {
		if st == http.StatusAccepted {
			accepted++
		} else {
			t.Errorf("a valid event: HTTP %d, want 202", st)
		}
	}
	for i, st := range junk {
		if i < 30 && st != http.StatusUnauthorized || st != http.StatusUnauthorized && st != http.StatusTooManyRequests {
			t.Fatalf("junk %d: HTTP %d, want 401 (429 only past the allowance of 30)", i+1, st)
		}
	}
	if !slices.Contains(junk, http.StatusTooManyRequests) {
		t.Fatalf("junk: %v, want 429 once the allowance is spent", junk)
	}
	// The address is throttled for junk, never for valid events.
	if st := post(eventsSecret, "after-junk"); st != http.StatusAccepted {
		t.Fatalf("a valid event after the junk: HTTP %d, want 202", st)
	}
	settled(t, env, accepted+1, time.Minute)
}

// Two disposition_set events of one call, one with the disposition and
// one with the notes, in either order of arrival: one record carries both.
func TestTwoDispositionsOfOneCallAreMerged(t *testing.T) {
	env := callEventsEnv(t, emulator.Options{})
	for _, first := range []string{"disposition", "notes"} {
		id := "c-merge-" + first
		parts := map[string]map[string]any{
			"disposition": {"event": "disposition_set", "call_id": id, "disposition": "Resolved"},
			"notes":       {"event": "disposition_set", "call_id": id, "notes": "Asked about the March invoice."},
		}
		second := map[string]string{"disposition": "notes", "notes": "disposition"}[first]
		mustAccept(t, env, parts[first])
		mustAccept(t, env, parts[second])
		mustAccept(t, env, callEnded(id))
	}
	settled(t, env, 6, 20*time.Second)
	for _, first := range []string{"disposition", "notes"} {
		records := callRecords(env, emulator.DemoCallerID, "c-merge-"+first+".mp3")
		if len(records) != 1 || !strings.Contains(records[0].Body, "Resolved") || !strings.Contains(records[0].Body, "March invoice") {
			t.Fatalf("%s first: %d records %v, want 1 with the disposition and the notes", first, len(records), records)
		}
	}
}
