package callevents

import (
	"encoding/json"
	"testing"

	"github.com/talkdesk-intercom/api/sources"
)

// Parse never panics, and what it accepts is an event the workers can
// take: a known kind, a call id within its bound, times that parse, and a
// queue entry that reads back as itself.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"event":"call_ended","call_id":"CA-1","duration_seconds":282,"started_at":"2026-03-02T14:05:00Z"}`,
		`{"event":"call_missed","call_id":"x","duration_seconds":"12","direction":"OUTBOUND"}`,
		`{"event":"disposition_set","call_id":"c","notes":null,"extra":[1,2,{"a":"b"}]}`,
		`{"event":"call_ended","call_id":"c","contact_external_id":"65f1a2b3c4d5e6f708091a2b"}`,
		`{"event":"call_ended","call_id":"c","contact_external_id":"a b/c\u0000*"}`,
		`{"event":"call_started"}`, `[]`, `{} {}`, `{"call_id":7}`, `{"event":"call_ended","call_id":"\u0000"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := Parse(body)
		if err != nil {
			if code := sources.ErrorCode(err); code != sources.EBadRequest && code != sources.EBadUserInput {
				t.Fatalf("refused with %s: %v", code, err)
			}
			return
		}
		if !known(e.Event) || e.CallID == "" || len([]rune(e.CallID)) > MaxCallID {
			t.Fatalf("accepted %+v", e)
		}
		if e.ContactExternalID != "" && sources.CheckID("contact_external_id", e.ContactExternalID) != nil {
			t.Fatalf("accepted contact_external_id %q, which is no id", e.ContactExternalID)
		}
		if e.Direction != "" && e.Direction != "inbound" && e.Direction != "outbound" {
			t.Fatalf("accepted direction %q", e.Direction)
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(b)
		if err != nil || seenField(again) != seenField(e) {
			t.Fatalf("the queued event %s reads back as %+v (%v)", b, again, err)
		}
	})
}

// A call's record does not depend on the order its events came in: each
// field comes from the latest event in a call's life that has it.
func TestCallOfPrecedence(t *testing.T) {
	duration := 90
	events := map[string]Event{
		CallStarted:    {Event: CallStarted, CallID: "c", ContactPhone: "+14155550142", Notes: "from the start"},
		CallEnded:      {Event: CallEnded, CallID: "c", Disposition: "Callback", Notes: "at the end", DurationSeconds: &duration},
		DispositionSet: {Event: DispositionSet, CallID: "c", Disposition: "Resolved"},
	}
	c := callOf("c", events)
	if c.Disposition != "Resolved" || c.Notes != "at the end" || c.ContactPhone != "+14155550142" ||
		c.DurationSeconds == nil || *c.DurationSeconds != 90 || !c.ended || c.callback() || c.Direction != "inbound" {
		t.Fatalf("callOf = %+v", c)
	}
}
