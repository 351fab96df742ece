package server

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// Two replicas on a Redis Cluster whose masters each have a replica: every
// event is answered 202 only once a Redis replica has it (WAIT). The
// master of the workspace's slot is killed mid-burst; its replica takes
// over. Every event a sender saw accepted (a sender retries a refusal, as
// Talkdesk does) is applied, and each call has exactly one record.
func TestCallEventsThroughARedisFailover(t *testing.T) {
	cluster := redistest.StartCluster(t) // private: a master is killed below
	settings := []string{"REDIS_URL", redistest.ClusterURL(cluster.Addrs[:3]), "TALKDESK_EVENTS_SECRET", eventsSecret,
		"CALL_EVENTS_SETTLE", "300ms", "CALL_EVENTS_CLAIM_AFTER", "2s"}
	a := newTestEnvWith(t, emulator.Options{}, settings...)
	b := newTestEnvOn(t, a.Intercom, settings...)
	wsID := a.Intercom.Workspace.App().IDCode

	accepted, refused := 0, 0
	send := func(env *testEnv, event map[string]any) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; {
			r := postEvent(t, env, eventsSecret, event)
			if r.Status == http.StatusAccepted {
				accepted++
				return
			}
			if r.Status != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("event %v: HTTP %d %+v", event["call_id"], r.Status, r)
			}
			refused++
			time.Sleep(200 * time.Millisecond)
		}
	}
	const calls = 60
	for i := range calls {
		if i == calls/2 {
			t.Logf("killed master %s; its replica takes over", cluster.KillMasterOf(t, redis.Tag(wsID)))
		}
		ended := callEnded(fmt.Sprintf("failover-%d", i))
		send(a, ended)
		send(b, ended) // the same event again, to the other replica
	}
	t.Logf("%d events accepted, %d refusals retried during the failover", accepted, refused)
	// An event applied on the old master whose acknowledgement the failover
	// lost is applied again (and replays): the applied counts may pass the
	// accepted one before the last records are written, so the records are
	// what is waited for.
	for i, deadline := 0, time.Now().Add(2*time.Minute); i < calls; {
		if len(callRecords(a, emulator.DemoCallerID, fmt.Sprintf("failover-%d.mp3", i))) > 0 {
			i++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("call failover-%d has no record after 2 minutes", i)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // a second record, were there one, would be written by now
	for _, env := range []*testEnv{a, b} {
		if dead := metricSum(t, env, "call_events_dead_letters_total", ""); dead != 0 {
			t.Fatalf("%v dead letters, want 0", dead)
		}
	}
	for i := range calls {
		if n := len(callRecords(a, emulator.DemoCallerID, fmt.Sprintf("failover-%d.mp3", i))); n != 1 {
			t.Errorf("call failover-%d: %d records, want 1", i, n)
		}
	}
}
