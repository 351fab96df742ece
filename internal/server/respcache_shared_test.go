package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/internal/webhooks"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// The shared level of the response cache: answers one replica built are
// served by another from Redis. Replica B keeps nothing in process
// (RESPONSE_CACHE_MAX_BYTES=0), so that every answer it serves from the
// cache comes from Redis.

const sharedDashboard = `query Dashboard($ids: [ID!]!) { contactsByIds(ids: $ids) { id name phone company { name } companies { name }
	interactions(first: 5) { totalCount nodes { id type subject date status priority } } } }`

// sharedReplicas are A (both levels) and B (the Redis level alone) on one
// Redis.
func sharedReplicas(t *testing.T, redisURL string, settings ...string) (a, b *testEnv) {
	t.Helper()
	settings = append([]string{"REDIS_URL", redisURL, "INTERCOM_CLIENT_SECRET", testClientSecret}, settings...)
	a = newTestEnvWith(t, emulator.Options{}, settings...)
	b = newTestEnvOn(t, a.Intercom, append(settings, "RESPONSE_CACHE_MAX_BYTES", "0")...)
	waitCoherent(t, a, 0)
	waitCoherent(t, b, 0)
	return a, b
}

// sharedCount is env's response_cache_redis_total of result.
func sharedCount(t *testing.T, env *testEnv, result string) float64 {
	t.Helper()
	prefix := `response_cache_redis_total{result="` + result + `"} `
	for _, line := range strings.Split(get(t, env.URL+"/metrics"), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return n
		}
	}
	return 0
}

// dashboardIDs are up to n contacts of ws, the demo caller first.
func dashboardIDs(ws *emulator.Workspace, n int) []any {
	demo, _ := ws.DemoCaller()
	ids := []any{demo.ID}
	for _, c := range ws.Contacts() {
		if len(ids) < n && c.ID != demo.ID {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// A dashboard A built is served by B from Redis, with no Intercom call and
// no execution, byte for byte the data B would have executed.
func TestSharedResponseCacheServesAnotherReplicasAnswer(t *testing.T) {
	a, b := sharedReplicas(t, "redis://"+redistest.Addr(t))
	ws := a.Intercom.Workspace
	vars := map[string]any{"ids": dashboardIDs(ws, 50)}
	warm(t, a, sharedDashboard, vars)
	calls := ws.TotalCalls()
	hits := sharedCount(t, b, "hit")
	for i := range 3 {
		r := askGQL(t, b, sharedDashboard, vars)
		if !r.Cached || len(r.Errors) > 0 {
			t.Fatalf("request %d on B: cached %v: %s", i+1, r.Cached, r.Body)
		}
		gold := askGQL(t, a, sharedDashboard, vars)
		if string(gold.Body) != string(r.Body) {
			t.Errorf("B's answer from Redis differs from A's:\n got %s\nwant %s", r.Body, gold.Body)
		}
	}
	if got := ws.TotalCalls() - calls; got != 0 {
		t.Errorf("B made %d Intercom calls, want 0", got)
	}
	if got := sharedCount(t, b, "hit") - hits; got != 3 {
		t.Errorf("B's Redis level counted %v hits, want 3", got)
	}
}

// An action on A and a signed webhook to A each make the answers built
// from the contact they changed no answer, in Redis for every replica at
// once: B (which reads only Redis's answers) never serves the old name
// from the cache once A acknowledged the change, and serves the new one
// within a second; a replica started after the change does not either.
// Another contact's answer stays in Redis.
func TestSharedResponseCacheDropsWhatAChangeTouches(t *testing.T) {
	a, b := sharedReplicas(t, "redis://"+redistest.Addr(t))
	ws := a.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	var other emulator.Contact
	for _, c := range ws.Contacts() {
		if c.ID != demo.ID {
			other = c
			break
		}
	}
	for _, id := range []string{demo.ID, other.ID} {
		warm(t, a, nameQuery, map[string]any{"id": id})
		warm(t, b, nameQuery, map[string]any{"id": id})
	}
	// until, counting the old answers that came from the cache apart.
	untilNew := func(env *testEnv, want string) (stale, cachedStale int) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for {
			r := askGQL(t, env, nameQuery, map[string]any{"id": demo.ID})
			if r.name(t) == want {
				return stale, cachedStale
			}
			stale++
			if r.Cached {
				cachedStale++
			}
			if time.Now().After(deadline) {
				t.Fatalf("a second after the change the replica still answers %s (%d stale answers)", r.Body, stale)
			}
			time.Sleep(time.Millisecond)
		}
	}
	otherStillShared := func(when string) {
		t.Helper()
		if r := askGQL(t, b, nameQuery, map[string]any{"id": other.ID}); !r.Cached {
			t.Errorf("%s: another contact's answer is no longer in Redis: %s", when, r.Body)
		}
	}
	check := func(what, want string) {
		t.Helper()
		if got := askGQL(t, a, nameQuery, map[string]any{"id": demo.ID}).name(t); got != want {
			t.Errorf("after the %s, A answers %q", what, got)
		}
		stale, cachedStale := untilNew(b, want)
		t.Logf("%s: B answered the old name %d times (%d from the response cache) before the new one", what, stale, cachedStale)
		if cachedStale > 0 {
			t.Errorf("%s: B served the old answer from the response cache %d times after A acknowledged the change", what, cachedStale)
		}
		fresh := newTestEnvOn(t, a.Intercom, "REDIS_URL", b.Services.cfg.Redis.URL, "INTERCOM_CLIENT_SECRET", testClientSecret)
		if r := askGQL(t, fresh, nameQuery, map[string]any{"id": demo.ID}); r.name(t) != want {
			t.Errorf("%s: a replica started after it answers %s", what, r.Body)
		}
		otherStillShared("after the " + what)
		warm(t, b, nameQuery, map[string]any{"id": demo.ID}) // shared again
	}

	r := askGQL(t, a, `mutation($id: ID!) { updateContact(input: {id: $id, name: "Maria via A"}) { contact { name } } }`,
		map[string]any{"id": demo.ID})
	if len(r.Errors) > 0 {
		t.Fatalf("updateContact: %s", r.Body)
	}
	check("action", "Maria via A")

	ws.UpdateContact(demo.ID, func(c *emulator.Contact) { c.Name = "Maria in Intercom" })
	if r := askGQL(t, b, nameQuery, map[string]any{"id": demo.ID}); !r.Cached || r.name(t) != "Maria via A" {
		t.Fatalf("before the webhook B answers %s: the test does not exercise the shared level", r.Body)
	}
	body, _ := json.Marshal(map[string]any{
		"type": "notification_event", "id": "notif_shared", "topic": "contact.user.updated",
		"app_id": ws.App().IDCode, "data": map[string]any{"item": map[string]any{"type": "contact", "id": demo.ID}},
	})
	if status := deliver(t, a, body, webhooks.Sign(testClientSecret, body)); status != http.StatusOK {
		t.Fatalf("webhook: %d", status)
	}
	check("webhook", "Maria in Intercom")
	// The first replica to ask after a change finds the answer's values
	// changed, and drops it.
	if n := sharedCount(t, a, "changed") + sharedCount(t, b, "changed"); n < 2 {
		t.Errorf("the replicas found %v answers whose values changed, want at least one per change", n)
	}
}

// While Redis is away the shared level is bypassed (answers are executed,
// never an error), and once it is back answers are shared again.
func TestSharedResponseCacheBypassesRedisWhileAway(t *testing.T) {
	redis := redistest.Start(t)
	// A value a replica fetched while Redis was away is held in process
	// alone, and an answer built from it can be checked against nothing in
	// Redis: it is shared once that copy expires (CACHE_LOCAL_TTL).
	a, b := sharedReplicas(t, "redis://"+redis.Addr, "REDIS_TIMEOUT", "200ms", "CACHE_LOCAL_TTL", "2s")
	ws := a.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	vars := map[string]any{"id": demo.ID}
	warm(t, a, nameQuery, vars)
	warm(t, b, nameQuery, vars)

	redis.Stop()
	ws.UpdateContact(demo.ID, func(c *emulator.Contact) { c.Name = "Maria while Redis was down" })
	errors := sharedCount(t, b, "error")
	for i := range 3 {
		r := askGQL(t, b, nameQuery, vars)
		if r.Status != http.StatusOK || len(r.Errors) > 0 || r.Cached {
			t.Fatalf("request %d while Redis is away: HTTP %d, cached %v: %s", i+1, r.Status, r.Cached, r.Body)
		}
	}
	if sharedCount(t, b, "error") == errors && metrics.Value(b.Metrics.CacheEvents, "broken") == 0 {
		t.Errorf("B neither asked Redis nor noticed it away")
	}

	redis.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r := askGQL(t, b, nameQuery, vars); r.Cached {
			if r.name(t) != "Maria while Redis was down" {
				t.Errorf("after Redis came back B answers %s from the cache", r.Body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("answers were never shared again after Redis came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An answer in Redis is the answer of one workspace and one set of
// credentials: another API key, or another workspace's token, executes.
func TestSharedResponseCacheIsPerCaller(t *testing.T) {
	addr := redistest.Addr(t) // one Redis: without TEST_REDIS_ADDR each call starts a server of its own
	a, b := sharedReplicas(t, "redis://"+addr, "API_KEYS", "key-one-0123456789,key-two-0123456789")
	demo, _ := a.Intercom.Workspace.DemoCaller()
	vars := map[string]any{"id": demo.ID}
	warm(t, a, nameQuery, vars, "X-API-Key", "key-one-0123456789")
	if r := askGQL(t, b, nameQuery, vars, "X-API-Key", "key-two-0123456789"); r.Cached {
		t.Errorf("key two was served key one's answer from Redis")
	}
	if r := askGQL(t, b, nameQuery, vars, "X-API-Key", "key-one-0123456789"); !r.Cached {
		t.Errorf("key one's answer was not served from Redis on B: %s", r.Body)
	}

	// Multi-tenant: two workspaces (two emulators, two tokens) on one Redis.
	url := "redis://" + addr
	one := newTestEnvWith(t, emulator.Options{}, "MULTI_TENANT", "true", "REDIS_URL", url)
	two := newTestEnvWith(t, emulator.Options{}, "MULTI_TENANT", "true", "REDIS_URL", url, "RESPONSE_CACHE_MAX_BYTES", "0")
	warm(t, one, nameQuery, vars, "X-Intercom-Token", testToken)
	if r := askGQL(t, two, nameQuery, vars, "X-Intercom-Token", testToken); r.Cached {
		t.Errorf("another workspace with the same token and document was served the first one's answer: %s", r.Body)
	}
	// Keys hold no credentials.
	client := redistest.Client(t, addr)
	keys, _ := client.Keys(context.Background(), "tdi:v2:*:answer:*").Result()
	if len(keys) == 0 {
		t.Fatal("no answer in Redis")
	}
	for _, k := range keys {
		if strings.Contains(k, "key-one") || strings.Contains(k, testToken) {
			t.Errorf("answer key %q holds a credential", k)
		}
	}
}

// Many distinct documents keep what the fleet stores in Redis within
// RESPONSE_CACHE_REDIS_MAX_BYTES: past it new answers stay in process.
func TestSharedResponseCacheIsBoundedByBytes(t *testing.T) {
	const max = 1 << 20
	redis := redistest.Start(t) // private: its memory is counted
	env := newTestEnvWith(t, emulator.Options{}, "REDIS_URL", "redis://"+redis.Addr, "RESPONSE_CACHE_REDIS_MAX_BYTES", strconv.Itoa(max))
	demo, _ := env.Intercom.Workspace.DemoCaller()
	client := redistest.Client(t, redis.Addr)
	held := func() int64 {
		keys, err := client.Keys(context.Background(), "tdi:v2:*:answer:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, k := range keys {
			vals, _ := client.HVals(context.Background(), k).Result()
			for _, v := range vals {
				n += int64(len(v))
			}
		}
		return n
	}
	for i := range 400 {
		r := askGQL(t, env, distinctDocument(i, 12), map[string]any{"id": demo.ID})
		if r.Status != http.StatusOK || len(r.Errors) > 0 {
			t.Fatalf("query %d: HTTP %d %s", i, r.Status, r.Body)
		}
		if i == 0 {
			t.Logf("answers of %d bytes", len(r.Body))
		}
		if i%50 == 49 {
			if n := held(); n > max {
				t.Fatalf("after %d documents Redis holds %d bytes of answers, over %d", i+1, n, max)
			}
		}
	}
	if n := sharedCount(t, env, "full"); n == 0 {
		t.Errorf("no answer was refused: the documents did not reach the bound")
	}
	if n := sharedCount(t, env, "stored"); n < 50 {
		t.Errorf("only %v answers stored in Redis", n)
	}
}

// The shared level on a Redis Cluster: an answer and the entries it was
// built from share the workspace's slot; a change drops it.
func TestSharedResponseCacheOnRedisCluster(t *testing.T) {
	a, b := sharedReplicas(t, redistest.ClusterURL(redistest.ClusterAddrs(t)[:3]))
	ws := a.Intercom.Workspace
	vars := map[string]any{"ids": dashboardIDs(ws, 10)}
	warm(t, a, sharedDashboard, vars)
	calls := ws.TotalCalls()
	if r := askGQL(t, b, sharedDashboard, vars); !r.Cached {
		t.Fatalf("B did not serve A's answer from the Cluster: %s", r.Body)
	}
	if got := ws.TotalCalls() - calls; got != 0 {
		t.Errorf("B made %d Intercom calls", got)
	}
	demo, _ := ws.DemoCaller()
	r := askGQL(t, a, `mutation($id: ID!) { updateContact(input: {id: $id, name: "Maria on the Cluster"}) { contact { name } } }`,
		map[string]any{"id": demo.ID})
	if len(r.Errors) > 0 {
		t.Fatalf("updateContact: %s", r.Body)
	}
	if r := askGQL(t, b, sharedDashboard, vars); r.Cached {
		t.Errorf("after the change B served the dashboard from the cache: %s", r.Body)
	}
	if errs := metrics.Sum(a.Metrics.RedisErrors) + metrics.Sum(b.Metrics.RedisErrors); errs != 0 {
		t.Errorf("%v Redis errors (CROSSSLOT?)", errs)
	}
	if n := sharedCount(t, a, "error") + sharedCount(t, b, "error"); n != 0 {
		t.Errorf("%v errors of the shared level", n)
	}
}

// A change published by a replica that did not count it in Redis (one of
// an earlier release, during a rolling deploy, or one that could not reach
// Redis then) is counted by the replicas that hear it: the answers built
// from what it changed are no longer served from Redis.
func TestSharedResponseCacheCountsAnEventItsPublisherDidNot(t *testing.T) {
	addr := redistest.Addr(t)
	a, b := sharedReplicas(t, "redis://"+addr)
	ws := a.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	vars := map[string]any{"id": demo.ID}
	warm(t, a, nameQuery, vars)
	if r := askGQL(t, b, nameQuery, vars); !r.Cached {
		t.Fatalf("B does not serve A's answer from Redis: %s", r.Body)
	}
	client := redistest.Client(t, addr)
	wsID := ws.App().IDCode
	ev, _ := json.Marshal(map[string]any{"w": wsID, "k": []string{redis.CacheKey(wsID, "contact", demo.ID)}})
	if err := client.Publish(context.Background(), redis.EventsChannel(wsID), ev).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for askGQL(t, b, nameQuery, vars).Cached {
		if time.Now().After(deadline) {
			t.Fatal("a second after an uncounted change of its contact, B still serves the answer from Redis")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
