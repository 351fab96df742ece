package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// The shape: registrations of large persisted documents that differ
// only by a comment. A document over MAX_QUERY_BYTES is refused; those
// under it are kept within PERSISTED_QUERIES_MAX_BYTES, so the heap does
// not grow with what clients send (it grew to 2.1 GB before).
func TestPersistedDocumentsAreBoundedByBytes(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "REDIS_URL", "", "PERSISTED_QUERIES_MAX_BYTES", "2097152")
	register := func(doc string) gqlResponse {
		ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha256Hex(doc)}}
		r, _ := env.postJSON(t, map[string]any{"query": doc, "extensions": ext})
		return r
	}
	padded := func(n int) string {
		b := make([]byte, n/2)
		_, _ = rand.Read(b)
		return "{ __typename } #" + hex.EncodeToString(b)
	}

	r := register(padded(250 << 10))
	if r.code() != "QUERY_TOO_LARGE" || errExt(t, r)["limit"] != "MAX_QUERY_BYTES" {
		t.Fatalf("a 250 KB document: code %q %+v, want QUERY_TOO_LARGE naming MAX_QUERY_BYTES", r.code(), r.Errors)
	}

	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	// A dashboard's document, registered and then used by its hash.
	hot := `query Hot { workspace { id } }`
	if r := register(hot); r.code() != "" {
		t.Fatalf("register: %+v", r.Errors)
	}
	byHash := func() gqlResponse {
		ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha256Hex(hot)}}
		r, _ := env.postJSON(t, map[string]any{"extensions": ext})
		return r
	}
	for range 5 {
		byHash()
	}

	before := heap()
	for range 400 { // 400 × 30 KB = 12 MB offered to a 2 MB store
		if r := register(padded(30 << 10)); r.code() != "" {
			t.Fatalf("a 30 KB document: %+v", r.Errors)
		}
	}
	// 2 MB of documents and at most QUERY_CACHE_MAX_BYTES (32 MB) of
	// parsed ones, which weigh four times their text: about 8 MB of these.
	if grown := int64(heap()) - int64(before); grown > 16<<20 {
		t.Errorf("the heap grew by %d MB for 12 MB of registrations into a 2 MB store", grown>>20)
	}
	// The document in use is still served by its hash alone.
	if r := byHash(); r.code() != "" {
		t.Errorf("the dashboard's document after the flood: %+v", r.Errors)
	}
}

// A GET carries in its URL what a POST carries in its body: a URL longer
// than MAX_BODY_BYTES is refused before anything is decoded.
func TestALongGETIsRefused(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "MAX_BODY_BYTES", "4096")
	q := "{ __typename } #" + strings.Repeat("x", 8000)
	req, _ := http.NewRequest("GET", env.URL+"/graphql?query="+url.QueryEscape(q), nil)
	req.Header.Set("Accept", "application/graphql-response+json")
	r := do(t, req, nil)
	if r.Status != http.StatusRequestURITooLong || r.code() != "BODY_TOO_LARGE" || errExt(t, r)["limit"] != "MAX_BODY_BYTES" {
		t.Fatalf("HTTP %d, code %q, %+v; want 414 BODY_TOO_LARGE naming MAX_BODY_BYTES", r.Status, r.code(), r.Errors)
	}
	req, _ = http.NewRequest("GET", env.URL+"/graphql?query="+url.QueryEscape("{ __typename }"), nil)
	req.Header.Set("Accept", "application/graphql-response+json")
	var data map[string]any
	if r := do(t, req, &data); r.Status != 200 || data["__typename"] != "Query" {
		b, _ := json.Marshal(r)
		t.Errorf("a short GET: %s", b)
	}
}

// Ids become cache keys: only ids of a valid form do, and an unknown
// contact's empty history is remembered for the negative TTL, not a day
// (207 requests with 200 KB ids added 47.5 MB to Redis before).
func TestIdsAreValidatedBeforeTheyBecomeKeys(t *testing.T) {
	redisAddr := redistest.Addr(t)
	env := newTestEnvWith(t, emulator.Options{}, "REDIS_URL", "redis://"+redisAddr+"/0", "CACHE_NEGATIVE_TTL", "30s")
	for name, id := range map[string]string{
		"a 200 KB id":      strings.Repeat("a", 200<<10),
		"an id with space": "6650f0a1 c2b3",
		"a JSON id":        `{"$gt":""}`,
	} {
		for _, q := range []string{
			`query($id: ID!) { interactions(contactId: $id) { totalCount } }`,
			`query($id: ID!) { contact(id: $id) { id } }`,
			`query($id: ID!) { contactsByIds(ids: [$id]) { id } }`,
		} {
			r := env.query(t, q, map[string]any{"id": id}, nil)
			if r.code() != "BAD_USER_INPUT" {
				t.Errorf("%s in %.40s…: code %q, want BAD_USER_INPUT", name, q, r.code())
			}
		}
	}

	unknown := "000000000000000000000000"
	var data struct{ Interactions struct{ TotalCount int } }
	env.mustQuery(t, historyQuery, map[string]any{"id": unknown}, &data)
	if data.Interactions.TotalCount != 0 {
		t.Fatalf("an unknown contact has %d interactions", data.Interactions.TotalCount)
	}
	key := redis.CacheKey(env.Intercom.Workspace.App().IDCode, "interactions", unknown)
	ttl := redistest.Client(t, redisAddr).TTL(context.Background(), key).Val()
	if ttl <= 0 || ttl > 30*time.Second {
		t.Errorf("the unknown contact's empty history is kept %v in Redis, want at most CACHE_NEGATIVE_TTL (30s)", ttl)
	}
}

// Registrations shared in Redis are bounded in bytes for the fleet
// (PERSISTED_QUERIES_REDIS_MAX_BYTES): the documents of a flood past it
// stay in the process that ran them, every request is still answered, and
// another replica asks for a document it cannot find, as Apollo's clients
// expect (they send it again). Before, 300 registrations added 79 MB to
// the Redis that holds idempotency records.
func TestPersistedDocumentsInRedisAreBoundedByBytes(t *testing.T) {
	rs := redistest.Start(t) // its own Redis: the documents' keys and their count are the fleet's
	em, err := emulator.Start(emulator.Options{Token: testToken, WorkspaceID: uniqueWorkspaceID()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	const capBytes = 1 << 20
	settings := []string{"REDIS_URL", "redis://" + rs.Addr + "/0", "PERSISTED_QUERIES_REDIS_MAX_BYTES", strconv.Itoa(capBytes)}
	a, b := newTestEnvOn(t, em, settings...), newTestEnvOn(t, em, settings...)
	send := func(env *testEnv, doc string, withDoc bool) gqlResponse {
		body := map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha256Hex(doc)}}}
		if withDoc {
			body["query"] = doc
		}
		r, _ := env.postJSON(t, body)
		return r
	}
	padded := func(n int) string {
		p := make([]byte, n/2)
		_, _ = rand.Read(p)
		return "{ __typename } #" + hex.EncodeToString(p)
	}

	hot := `query Hot { workspace { id } }`
	if r := send(a, hot, true); r.code() != "" {
		t.Fatalf("register: %+v", r.Errors)
	}
	var last string
	for range 80 { // 80 × 30 KB = 2.4 MB offered to a 1 MB bound
		last = padded(30 << 10)
		if r := send(a, last, true); r.code() != "" || string(r.Data) != `{"__typename":"Query"}` {
			t.Fatalf("a 30 KB registration: %s %+v", r.Data, r.Errors)
		}
	}

	ctx := context.Background()
	client := redistest.Client(t, rs.Addr)
	// The bound counts keys and documents; Redis's allocator rounds each
	// up to its size class, a quarter more at worst.
	var stored, held, docs int64
	iter := client.Scan(ctx, 0, "tdi:v1:apq:*", 100).Iterator()
	for iter.Next(ctx) {
		n, err := client.MemoryUsage(ctx, iter.Val()).Result()
		if err != nil {
			t.Fatal(err)
		}
		held += n
		stored += int64(len(iter.Val())) + client.StrLen(ctx, iter.Val()).Val()
		docs++
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if docs < 10 || stored > capBytes || held > capBytes*5/4 {
		t.Errorf("Redis holds %d documents of %d bytes in %d bytes of memory, want some and at most %d (%d of memory)",
			docs, stored, held, capBytes, capBytes*5/4)
	}

	// The documents kept in Redis serve every replica by hash; one past
	// the bound serves the replica that ran it, and the other asks for it.
	if r := send(b, hot, false); r.code() != "" {
		t.Errorf("the first document by its hash on another replica: %+v", r.Errors)
	}
	if r := send(a, last, false); r.code() != "" {
		t.Errorf("the last document by its hash on the replica that ran it: %+v", r.Errors)
	}
	if r := send(b, last, false); r.code() != "PERSISTED_QUERY_NOT_FOUND" || r.Errors[0].Message != "PersistedQueryNotFound" {
		t.Errorf("the last document by its hash on another replica: %+v, want PersistedQueryNotFound", r.Errors)
	}
	if r := send(b, last, true); r.code() != "" || string(r.Data) != `{"__typename":"Query"}` {
		t.Errorf("the last document sent again: %s %+v", r.Data, r.Errors)
	}
}
