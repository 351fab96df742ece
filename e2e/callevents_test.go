package e2e_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/e2e"
)

// documentedCallEnded is the call_ended example of docs/call-events.md.
const documentedCallEnded = `{
  "event": "call_ended", "call_id": "CA-2026-0001", "direction": "inbound",
  "contact_phone": "+14155550142", "talkdesk_number": "+18005550100", "agent_email": "ana.lopez@example.com",
  "started_at": "2026-03-02T14:05:00Z", "answered_at": "2026-03-02T14:05:09Z", "ended_at": "2026-03-02T14:09:42Z",
  "duration_seconds": 282, "recording_url": "https://recordings.example.com/CA-2026-0001.mp3",
  "disposition": "Resolved", "notes": "Asked about the March invoice."}`

// The "done when", on the server binary in demo mode as the docs
// run it: the documented call_ended posted twice leaves one call record on
// Maria Garcia's history; a call_missed from an unknown number leaves one
// lead with one callback ticket.
func TestCallEventsInTheDemo(t *testing.T) {
	srv := e2e.StartServer(t, "server", map[string]string{"LOG_LEVEL": "info", "CALL_EVENTS_SETTLE": "500ms"})
	postEvent := func(body string) {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/talkdesk/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer demo")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusAccepted || !bytes.Contains(b, []byte(`"accepted":true`)) {
			t.Fatalf("POST /talkdesk/events: HTTP %d %s", resp.StatusCode, b)
		}
	}
	postEvent(documentedCallEnded)
	postEvent(documentedCallEnded)
	postEvent(`{"event": "call_missed", "call_id": "CA-2026-0002", "contact_phone": "+15125550199",
		"talkdesk_number": "+18005550100", "started_at": "2026-03-02T16:00:00Z"}`)

	type contact struct {
		Role         string
		Interactions struct {
			Nodes []struct{ Type, Subject, Description string }
		}
	}
	lookup := func(phone string) []contact {
		t.Helper()
		q := `query($p: String!) { contactsByPhone(phone: $p) { role interactions(first: 50) { nodes { type subject description } } } }`
		body, _ := json.Marshal(map[string]any{"query": q, "variables": map[string]any{"p": phone}})
		resp, err := http.Post(srv.URL+"/graphql", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Data struct{ ContactsByPhone []contact }
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out.Data.ContactsByPhone
	}
	count := func(c contact, kind, text string) int {
		n := 0
		for _, i := range c.Interactions.Nodes {
			if i.Type == kind && strings.Contains(i.Subject+" "+i.Description, text) {
				n++
			}
		}
		return n
	}
	// The records are written after the settle window; what the cache
	// holds is invalidated by the actions that wrote them.
	deadline := time.Now().Add(30 * time.Second)
	for {
		maria, lead := lookup("+14155550142"), lookup("+15125550199")
		if len(maria) == 1 && count(maria[0], "NOTE", "CA-2026-0001.mp3") > 0 && len(lead) == 1 && count(lead[0], "TICKET", "Call back") > 0 {
			time.Sleep(time.Second) // a second record, were there one, would be written by now
			maria, lead = lookup("+14155550142"), lookup("+15125550199")
			if n := count(maria[0], "NOTE", "CA-2026-0001.mp3"); n != 1 {
				t.Fatalf("%d call records on Maria Garcia's history, want 1", n)
			}
			if len(lead) != 1 || lead[0].Role != "LEAD" || count(lead[0], "TICKET", "Call back +15125550199") != 1 || len(lead[0].Interactions.Nodes) != 1 {
				t.Fatalf("the unknown number: %+v, want one lead with one callback ticket", lead)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: Maria %+v, the unknown number %+v", maria, lead)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
