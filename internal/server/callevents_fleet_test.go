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
		"CALL_EVENTS_SETTLE", "300ms", "CALL_EVENTS_CLAIM_AFTER", "2s", "RATE_LIMIT_PER_MINUTE", "0"}
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
	deadline := time.Now().Add(2 * time.Minute)
	for {
		done := 0.0
		for _, env := range []*testEnv{a, b} {
			done += metricSum(t, env, "call_events_applied_total", "") + metricSum(t, env, "call_events_dead_letters_total", "")
		}
		if done >= float64(accepted) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v of %d accepted events applied", done, accepted)
		}
		time.Sleep(100 * time.Millisecond)
	}
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
