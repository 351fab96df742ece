// Package callevents turns Talkdesk's call events (its HTTP Notifier, or a
// Webhook Trigger of Talkdesk Connections, POSTing to /talkdesk/events) into
// Intercom history: one call record per call, callback tickets for missed
// calls, leads for unknown numbers.
//
// An event is accepted once it is durably queued (a Redis stream per
// workspace, read by a consumer group; without Redis, a queue in process),
// and applied later by workers, with retries, at bulk priority on the
// Intercom budget. Every effect is an action of package actions under an
// idempotency key derived from the call's id, and a call's events gather in
// one state record that is frozen when its record is written: events may come
// in any order, and more than once, with the same outcome.
package callevents

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/talkdesk-intercom/api/sources"
)

// Event kinds (the body's "event").
const (
	CallStarted          = "call_started"
	CallAnswered         = "call_answered"
	CallEnded            = "call_ended"
	CallMissed           = "call_missed"
	CallAbandoned        = "call_abandoned"
	VoicemailLeft        = "voicemail_left"
	VoicemailTranscribed = "voicemail_transcribed"
	DispositionSet       = "disposition_set"
)

var kinds = []string{CallStarted, CallAnswered, CallEnded, CallMissed, CallAbandoned, VoicemailLeft, VoicemailTranscribed, DispositionSet}

// Event is one call event, as the template in docs/call-events.md writes it.
// Every field but DurationSeconds is a string in the body; times are RFC
// 3339 (kept as sent: the state record keeps the text).
type Event struct {
	Event             string `json:"event"`
	CallID            string `json:"call_id"`
	Direction         string `json:"direction,omitempty"`
	ContactPhone      string `json:"contact_phone,omitempty"`
	ContactExternalID string `json:"contact_external_id,omitempty"`
	TalkdeskNumber    string `json:"talkdesk_number,omitempty"`
	AgentEmail        string `json:"agent_email,omitempty"`
	AgentExternalID   string `json:"agent_external_id,omitempty"`
	StartedAt         string `json:"started_at,omitempty"`
	AnsweredAt        string `json:"answered_at,omitempty"`
	EndedAt           string `json:"ended_at,omitempty"`
	DurationSeconds   *int   `json:"duration_seconds,omitempty"`
	RecordingURL      string `json:"recording_url,omitempty"`
	VoicemailURL      string `json:"voicemail_url,omitempty"`
	Transcription     string `json:"transcription,omitempty"`
	Disposition       string `json:"disposition,omitempty"`
	Notes             string `json:"notes,omitempty"`
}

// MaxCallID is the longest call_id: the idempotency keys derived from it
// must stay within the 255 characters of a key.
const MaxCallID = 128

// maxText bounds a free-text field (notes, transcription): Intercom's note
// bodies are bounded too.
const maxText = 20_000

// field is one of the body's string fields and the Event field it fills.
type field struct {
	name string
	dst  *string
}

// stringFields are the body's string fields, in the template's order (a
// body with two bad fields is told about the first).
func (e *Event) stringFields() []field {
	return []field{
		{"event", &e.Event}, {"call_id", &e.CallID}, {"direction", &e.Direction},
		{"contact_phone", &e.ContactPhone}, {"contact_external_id", &e.ContactExternalID},
		{"talkdesk_number", &e.TalkdeskNumber}, {"agent_email", &e.AgentEmail}, {"agent_external_id", &e.AgentExternalID},
		{"started_at", &e.StartedAt}, {"answered_at", &e.AnsweredAt}, {"ended_at", &e.EndedAt},
		{"recording_url", &e.RecordingURL}, {"voicemail_url", &e.VoicemailURL}, {"transcription", &e.Transcription},
		{"disposition", &e.Disposition}, {"notes", &e.Notes},
	}
}

// Parse reads one event body. Unknown fields are ignored (an administrator's
// template may carry more); a field of the wrong type, a missing event or
// call_id, an unknown event, a bad time or direction is a BAD_USER_INPUT
// error naming the field. null and "" are a field left out (Talkdesk fills a
// template's missing variable with an empty string).
func Parse(body []byte) (Event, error) {
	var e Event
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return e, sources.Errorf(sources.EBadRequest, "the body must be one JSON object (the call event)")
	}
	if dec.More() {
		return e, sources.Errorf(sources.EBadRequest, "the body must be one JSON object (the call event), not several")
	}
	for _, f := range e.stringFields() {
		v, ok := raw[f.name]
		if !ok || string(v) == "null" {
			continue
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			return e, sources.InputError(f.name, "%s must be a string", f.name)
		}
		*f.dst = strings.TrimSpace(*f.dst)
		if !utf8.ValidString(*f.dst) {
			return e, sources.InputError(f.name, "%s must be UTF-8 text", f.name)
		}
	}
	if v, ok := raw["duration_seconds"]; ok && string(v) != "null" && string(v) != `""` {
		var n int
		if err := json.Unmarshal(v, &n); err != nil {
			// A template may quote the variable: "42" is read as 42.
			var s string
			if json.Unmarshal(v, &s) != nil || json.Unmarshal([]byte(strings.TrimSpace(s)), &n) != nil {
				return e, sources.InputError("duration_seconds", "duration_seconds must be an integer number of seconds")
			}
		}
		if n < 0 || n > 24*3600 {
			return e, sources.InputError("duration_seconds", "duration_seconds must be between 0 and 86400, got %d", n)
		}
		e.DurationSeconds = &n
	}
	return e, e.check()
}

func (e *Event) check() error {
	switch {
	case e.Event == "":
		return sources.InputError("event", "event is required: one of %s", strings.Join(kinds, ", "))
	case !known(e.Event):
		return sources.InputError("event", "%s is not a call event: use one of %s", sources.Quote(e.Event), strings.Join(kinds, ", "))
	case e.CallID == "":
		return sources.InputError("call_id", "call_id is required")
	case utf8.RuneCountInString(e.CallID) > MaxCallID:
		return sources.InputError("call_id", "call_id must be at most %d characters", MaxCallID)
	}
	if e.ContactExternalID != "" {
		// It becomes part of a cache key: only an id may.
		if err := sources.CheckID("contact_external_id", e.ContactExternalID); err != nil {
			return err
		}
	}
	switch strings.ToLower(e.Direction) {
	case "", "inbound", "outbound":
		e.Direction = strings.ToLower(e.Direction)
	default:
		return sources.InputError("direction", "%s is not a direction: use inbound or outbound", sources.Quote(e.Direction))
	}
	for _, f := range []field{{"started_at", &e.StartedAt}, {"answered_at", &e.AnsweredAt}, {"ended_at", &e.EndedAt}} {
		if v := *f.dst; v != "" {
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				return sources.InputError(f.name, "%s must be an RFC 3339 time such as 2026-03-02T14:05:00Z, got %s", f.name, sources.Quote(v))
			}
		}
	}
	for _, f := range []field{{"transcription", &e.Transcription}, {"notes", &e.Notes}} {
		if n := utf8.RuneCountInString(*f.dst); n > maxText {
			return sources.InputError(f.name, "%s must be at most %d characters, got %d", f.name, maxText, n)
		}
	}
	return nil
}

func known(kind string) bool {
	for _, k := range kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// terminal says whether an event ends a call's ringing: its record (the call
// record, a callback ticket) is written a settle window after it.
func terminal(kind string) bool {
	switch kind {
	case CallEnded, CallMissed, CallAbandoned, VoicemailLeft:
		return true
	}
	return false
}

// String names the event for logs: never its contents (phone numbers).
func (e Event) String() string { return fmt.Sprintf("%s of call %s", e.Event, e.CallID) }
