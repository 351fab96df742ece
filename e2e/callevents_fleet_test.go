package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/e2e"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// Three replicas of the binary behind HAProxy on a private Redis Cluster:
// a burst of call events goes through HAProxy while Intercom answers 503
// for its first seconds, and a replica is killed (SIGKILL) holding events
// it had taken. The survivors take its events over; every call ends with
// exactly one record, carrying the disposition that came with it. A sender
// retries what it was not answered 202, as Talkdesk's notifier does.
func TestCallEventsFleetWithAReplicaKilled(t *testing.T) {
	e2e.Binary(t) // skipped under -short, before HAProxy is looked for
	haproxyBin(t)
	cluster := redistest.StartCluster(t)
	em, err := emulator.Start(emulator.Options{Token: testToken, WorkspaceID: uniqueWorkspaceID()})
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() { em.Close() })
	const secret = "fleet-events-secret-3d1f"
	settings := map[string]string{
		"INTERCOM_TOKEN": testToken, "INTERCOM_BASE_URL": em.URL,
		"REDIS_URL": redistest.ClusterURL(cluster.Addrs[:3]), "REDIS_TIMEOUT": "2s",
		"TALKDESK_EVENTS_SECRET": secret, "CALL_EVENTS_SETTLE": "300ms", "CALL_EVENTS_CLAIM_AFTER": "2s",
		"LOG_LEVEL": "info", "SHUTDOWN_TIMEOUT": "5s",
	}
	var fleet []*e2e.Server
	for i := range 3 {
		fleet = append(fleet, e2e.StartServer(t, fmt.Sprintf("replica%d", i+1), settings))
	}
	front := startHAProxy(t, fleet...)

	var callers []emulator.Contact
	seen := map[string]bool{}
	for _, c := range em.Workspace.Contacts() {
		if c.FormattedPhone != "" && !seen[c.FormattedPhone] && len(callers) < 100 {
			seen[c.FormattedPhone] = true
			callers = append(callers, c)
		}
	}
	send := func(event map[string]any) {
		t.Helper()
		body, _ := json.Marshal(event)
		for deadline := time.Now().Add(30 * time.Second); ; {
			req, _ := http.NewRequest("POST", front+"/talkdesk/events", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+secret)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					return
				}
				if resp.StatusCode < 500 {
					t.Fatalf("event %v: HTTP %d %s", event["call_id"], resp.StatusCode, b)
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("event %v: not accepted in 30 s (%v)", event["call_id"], err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Intercom fails until 2 s after the kill: the replica dies holding
	// every event it took.
	em.Workspace.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable})
	for i, c := range callers {
		if i == len(callers)/2 {
			fleet[1].Kill(t)
			t.Logf("killed %s", fleet[1].Name)
			heal := time.AfterFunc(2*time.Second, func() { em.Workspace.SetFaults(emulator.Faults{}) })
			defer heal.Stop()
		}
		id := fmt.Sprintf("fleet-%d", i)
		ended := map[string]any{"event": "call_ended", "call_id": id, "contact_phone": c.FormattedPhone,
			"talkdesk_number": "+18005550100", "started_at": "2026-03-02T14:05:00Z", "duration_seconds": 60,
			"recording_url": "https://recordings.example.com/" + id + ".mp3"}
		send(map[string]any{"event": "call_started", "call_id": id, "contact_phone": c.FormattedPhone})
		send(ended)
		send(map[string]any{"event": "disposition_set", "call_id": id, "disposition": "Fleet " + id})
		send(ended)
	}
	records := func(c emulator.Contact, id string) (n int, withDisposition bool) {
		for _, note := range em.Workspace.Notes(c.ID) {
			if strings.Contains(note.Body, "Logged from Talkdesk") && strings.Contains(note.Body, "/"+id+".mp3") {
				n++
				withDisposition = withDisposition || strings.Contains(note.Body, "Fleet "+id+"<")
			}
		}
		return n, withDisposition
	}
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; i < len(callers); {
		id := fmt.Sprintf("fleet-%d", i)
		if n, _ := records(callers[i], id); n == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("call %s has no record after 2 minutes", id)
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		i++
	}
	time.Sleep(3 * time.Second) // a duplicate, were there one, would be written by now
	for i, c := range callers {
		id := fmt.Sprintf("fleet-%d", i)
		if n, ok := records(c, id); n != 1 || !ok {
			t.Errorf("call %s: %d records (with its disposition: %v), want exactly 1 with it", id, n, ok)
		}
	}
	claimed := scrapeSum(t, fleet[0].URL, "call_events_claimed_total") + scrapeSum(t, fleet[2].URL, "call_events_claimed_total")
	if claimed == 0 {
		t.Fatal("the survivors took over no event: the killed replica held none")
	}
	t.Logf("%d calls, one record each; the survivors took over %v events", len(callers), claimed)
}
