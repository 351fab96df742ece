package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/internal/webhooks"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
	"github.com/talkdesk-intercom/api/sources/phone"
)

// waitCoherent waits until the server's in-process cache level hears the
// invalidation stream (it is bypassed until then).
func waitCoherent(t *testing.T, env *testEnv, wholeBefore float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for metrics.Value(env.Metrics.CacheEvents, "whole") <= wholeBefore {
		if time.Now().After(deadline) {
			t.Fatal("the invalidation stream never became whole")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// replicas starts two servers on one emulator and one Redis.
func replicas(t *testing.T, redisURL string, settings ...string) (a, b *testEnv) {
	t.Helper()
	settings = append([]string{"REDIS_URL", redisURL, "INTERCOM_CLIENT_SECRET", testClientSecret}, settings...)
	a = newTestEnvWith(t, emulator.Options{}, settings...)
	b = newTestEnvOn(t, a.Intercom, settings...)
	waitCoherent(t, a, 0)
	waitCoherent(t, b, 0)
	return a, b
}

const contactNameQuery = `query($id: ID!) { contact(id: $id) { name } }`

func contactName(t *testing.T, env *testEnv, id string) string {
	t.Helper()
	var data struct{ Contact struct{ Name string } }
	env.mustQuery(t, contactNameQuery, map[string]any{"id": id}, &data)
	return data.Contact.Name
}

// A warm caller lookup answered in process makes no Redis round trip.
func TestInProcessHitsMakeNoRedisCall(t *testing.T) {
	a, _ := replicas(t, "redis://"+redistest.Addr(t))
	demo, _ := a.Intercom.Workspace.DemoCaller()
	const q = `query($p: String!) { contactsByPhone(phone: $p, defaultCountry: "US") { id name } }`
	a.mustQuery(t, q, map[string]any{"p": demo.Phone}, nil) // cold: Intercom, then Redis and process
	trips, upstream := metrics.Sum(a.Metrics.RedisRoundTrips), a.Intercom.Workspace.TotalCalls()
	for range 5 {
		var data struct{ ContactsByPhone []struct{ ID string } }
		a.mustQuery(t, q, map[string]any{"p": demo.Phone}, &data)
		if len(data.ContactsByPhone) == 0 || data.ContactsByPhone[0].ID != demo.ID {
			t.Fatalf("warm lookup found %+v, want %s", data.ContactsByPhone, demo.ID)
		}
	}
	if got := metrics.Sum(a.Metrics.RedisRoundTrips) - trips; got != 0 {
		t.Errorf("5 warm lookups made %v Redis round trips, want 0", got)
	}
	if got := a.Intercom.Workspace.TotalCalls() - upstream; got != 0 {
		t.Errorf("5 warm lookups made %d Intercom calls, want 0", got)
	}
}

// eventually reads the contact's name on env until it is want, and fails if
// that takes more than a second: a replica hears another's invalidations
// through Redis pub/sub, within milliseconds but not synchronously.
func eventually(t *testing.T, env *testEnv, id, want string) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		got := contactName(t, env, id)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a second after the change, the replica still reads %q, want %q", got, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// A change through replica A, or reported to replica A by a webhook, is read
// at once on A and within a second on B, though B held the old value in
// process.
func TestChangesReachEveryReplica(t *testing.T) {
	a, b := replicas(t, "redis://"+redistest.Addr(t), "RESPONSE_CACHE_ENABLED", "false") // the in-process level is what is tested
	ws := a.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	original := contactName(t, b, demo.ID) // B caches it in process
	if got := contactName(t, b, demo.ID); got != original {
		t.Fatalf("B's second read: %q, want %q", got, original)
	}
	if metrics.Value(b.Metrics.CacheLevel, "local") == 0 {
		t.Fatal("B's second read was not answered in process: the test does not exercise the in-process level")
	}

	// An action on A.
	var upd struct {
		UpdateContact struct{ Contact struct{ Name string } }
	}
	a.mustQuery(t, `mutation($id: ID!) { updateContact(input: {id: $id, name: "Maria via A"}) { contact { name } } }`,
		map[string]any{"id": demo.ID}, &upd)
	if got := contactName(t, a, demo.ID); got != "Maria via A" {
		t.Errorf("after its own action, A reads %q", got)
	}
	eventually(t, b, demo.ID, "Maria via A")

	// A change in Intercom, reported to A by a signed webhook.
	ws.UpdateContact(demo.ID, func(c *emulator.Contact) { c.Name = "Maria in Intercom" })
	if got := contactName(t, b, demo.ID); got != "Maria via A" {
		t.Fatalf("before the webhook B reads %q: the test does not exercise B's cache", got)
	}
	body, _ := json.Marshal(map[string]any{
		"type": "notification_event", "id": "notif_replicas", "topic": "contact.user.updated",
		"app_id": ws.App().IDCode, "data": map[string]any{"item": map[string]any{"type": "contact", "id": demo.ID}},
	})
	if status := deliver(t, a, body, webhooks.Sign(testClientSecret, body)); status != http.StatusOK {
		t.Fatalf("webhook: %d", status)
	}
	if got := contactName(t, a, demo.ID); got != "Maria in Intercom" {
		t.Errorf("after the webhook, A reads %q", got)
	}
	eventually(t, b, demo.ID, "Maria in Intercom")
}

// When Redis restarts, the in-process level is dropped and bypassed until
// the invalidation stream is whole again: a change made while B could not
// hear it is not served from B's memory.
func TestRedisRestartDropsTheInProcessLevel(t *testing.T) {
	redis := redistest.Start(t)
	a, b := replicas(t, "redis://"+redis.Addr)
	ws := a.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	original := contactName(t, b, demo.ID)
	whole := metrics.Value(b.Metrics.CacheEvents, "whole")

	redis.Stop()
	// While Redis is down, a change reaches Intercom (and A's webhook
	// cannot tell B).
	ws.UpdateContact(demo.ID, func(c *emulator.Contact) { c.Name = "Maria while Redis was down" })
	deadline := time.Now().Add(10 * time.Second)
	for metrics.Value(b.Metrics.CacheEvents, "broken") == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if metrics.Value(b.Metrics.CacheEvents, "broken") == 0 {
		t.Fatal("B never noticed that the invalidation stream broke")
	}
	redis.Restart()
	waitCoherent(t, b, whole)
	// Redis came back empty; B's memory was dropped: the read goes to Intercom.
	if got := contactName(t, b, demo.ID); got == original {
		t.Errorf("after the Redis restart B still serves %q from memory", got)
	}
}

// Cold caller lookups of one workspace that ring together share Intercom
// searches, as many numbers a search as its IN lists hold.
func TestColdCallerLookupsCoalesce(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "CALLER_LOOKUP_COALESCE_WINDOW", "300ms")
	before := env.Intercom.Workspace.Calls(emulator.EndpointSearchContacts)
	const callers = 30
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			r := env.query(t, `query($p: String!) { contactsByPhone(phone: $p) { id } }`,
				map[string]any{"p": fmt.Sprintf("+1202555%04d", 3000+i)}, nil) // unknown numbers
			if r.Status != http.StatusOK || len(r.Errors) > 0 {
				t.Errorf("lookup %d: HTTP %d %+v", i, r.Status, r.Errors)
			}
		})
	}
	wg.Wait()
	// A search holds 100 spellings; a US number has 13: 7 numbers a search.
	perSearch := 100 / len(phone.Variants("+12025553000"))
	if searches, want := env.Intercom.Workspace.Calls(emulator.EndpointSearchContacts)-before, (callers+perSearch-1)/perSearch; searches > want {
		t.Errorf("%d cold lookups cost %d Intercom searches, want at most %d (%d numbers a search)", callers, searches, want, perSearch)
	}
}
