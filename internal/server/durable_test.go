package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/talkdesk-intercom/api/internal/config"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// A Redis that may evict keys would lose idempotency records under memory
// pressure made by other data: the server refuses to start on one, or warns
// when told to.
func TestARedisThatMayEvictIsRefusedForIdempotency(t *testing.T) {
	r := redistest.Start(t)
	client := redistest.Client(t, r.Addr)
	ctx := context.Background()
	if err := client.ConfigSet(ctx, "maxmemory", "64mb").Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.ConfigSet(ctx, "maxmemory-policy", "volatile-lru").Err(); err != nil {
		t.Fatal(err)
	}
	start := func(settings ...string) (string, error) {
		env := map[string]string{"REDIS_URL": "redis://" + r.Addr + "/0"}
		for i := 0; i+1 < len(settings); i += 2 {
			env[settings[i]] = settings[i+1]
		}
		cfg, err := config.Load(nil, func(k string) string { return env[k] }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		app, err := New(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		if err == nil {
			app.Close()
		}
		return logs.String(), err
	}

	_, err := start()
	if err == nil || !strings.Contains(err.Error(), "maxmemory-policy volatile-lru") || !strings.Contains(err.Error(), "REDIS_EVICTION_CHECK") {
		t.Fatalf("start on an evicting Redis: %v; want a refusal naming the policy and REDIS_EVICTION_CHECK", err)
	}
	logs, err := start("REDIS_EVICTION_CHECK", "warn")
	if err != nil || !strings.Contains(logs, "may evict keys") {
		t.Fatalf("REDIS_EVICTION_CHECK=warn: %v; logs %q", err, logs)
	}

	// The same Redis is fine for the cache when the records live in one
	// that never evicts.
	durable := redistest.Start(t)
	if _, err := start("IDEMPOTENCY_REDIS_URL", "redis://"+durable.Addr+"/0"); err != nil {
		t.Fatalf("evicting cache Redis beside a durable one: %v", err)
	}
	// A durable Redis that evicts is refused whatever the cache's does.
	dc := redistest.Client(t, durable.Addr)
	if err := dc.ConfigSet(ctx, "maxmemory", "64mb").Err(); err != nil {
		t.Fatal(err)
	}
	if err := dc.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := start("IDEMPOTENCY_REDIS_URL", "redis://"+durable.Addr+"/0"); err == nil || !strings.Contains(err.Error(), "IDEMPOTENCY_REDIS_URL") {
		t.Fatalf("evicting durable Redis: %v; want a refusal naming IDEMPOTENCY_REDIS_URL", err)
	}
}

// The shape: the cache's Redis evicts under pressure (a common
// managed default), the idempotency records live in another that never
// does. Filling the cache's Redis far past its limit loses no record: the
// retries on another replica create nothing.
func TestIdempotencyRecordsSurvivePressureOnTheCacheRedis(t *testing.T) {
	cacheRedis := redistest.Start(t)
	cc := redistest.Client(t, cacheRedis.Addr)
	ctx := context.Background()
	if err := cc.ConfigSet(ctx, "maxmemory", "4mb").Err(); err != nil {
		t.Fatal(err)
	}
	if err := cc.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	durable := redistest.Start(t)
	settings := []string{"REDIS_URL", "redis://" + cacheRedis.Addr + "/0", "IDEMPOTENCY_REDIS_URL", "redis://" + durable.Addr + "/0"}

	a := newTestEnvWith(t, emulator.Options{}, settings...)
	b := newTestEnvOn(t, a.Intercom, settings...)
	ws := a.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	ticket := func(env *testEnv, i int) string { return keyedTicket(t, env, demo.ID, fmt.Sprintf("pressure-%d", i)) }
	first := make([]string, 5)
	for i := range first {
		first[i] = ticket(a, i)
	}
	// 40 MB of other data into a 4 MB Redis: it evicts what it can.
	junk := strings.Repeat("x", 64<<10)
	for i := range 640 {
		if err := cc.Set(ctx, fmt.Sprintf("junk:%d", i), junk, 0).Err(); err != nil {
			t.Fatalf("fill the cache Redis: %v", err)
		}
	}
	if info := cc.Info(ctx, "stats").Val(); strings.Contains(info, "evicted_keys:0\r") {
		t.Fatalf("the cache Redis evicted nothing: the test proves nothing")
	}
	for i := range first {
		if id := ticket(b, i); id != first[i] {
			t.Errorf("retry %d on the other replica answered ticket %s, want %s", i, id, first[i])
		}
		if n := ticketsTitled(ws, demo.ID, fmt.Sprintf("pressure-%d", i)); n != 1 {
			t.Errorf("key %d: %d tickets, want 1", i, n)
		}
	}
	if n := redistest.Client(t, durable.Addr).DBSize(ctx).Val(); n < 5 {
		t.Errorf("the durable Redis holds %d keys, want the 5 records at least", n)
	}
}

// The shape: concurrent retries of one action with one key, sent at
// once to one replica and to two, with Redis. Each attempt is answered
// with the one note, without a retry of the client's: none waits for the
// request's deadline.
func TestConcurrentRetriesOfOneActionAllGetItsAnswer(t *testing.T) {
	a := newTestEnvWith(t, emulator.Options{}, "REQUEST_TIMEOUT", "10s")
	b := newTestEnvOn(t, a.Intercom, "REQUEST_TIMEOUT", "10s")
	ws := a.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	for trial := range 8 {
		key := fmt.Sprintf("concurrent-note-%d", trial)
		body := fmt.Sprintf("Concurrent note %d", trial)
		ids := make([]string, 4)
		var wg sync.WaitGroup
		for i := range ids {
			env := a
			if trial%2 == 1 && i%2 == 1 {
				env = b // odd trials: two replicas
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				var out struct {
					AddNote struct{ Note *struct{ ID string } }
				}
				r := env.query(t, `mutation($k: String, $id: ID!, $b: String!) { addNote(input: {idempotencyKey: $k, contactId: $id, body: $b}) { note { id } } }`,
					map[string]any{"k": key, "id": demo.ID, "b": body}, &out)
				if r.code() != "" || out.AddNote.Note == nil {
					t.Errorf("trial %d attempt %d: code %q %+v", trial, i, r.code(), r.Errors)
					return
				}
				ids[i] = out.AddNote.Note.ID
			}()
		}
		wg.Wait()
		if !(ids[0] != "" && ids[0] == ids[1] && ids[1] == ids[2] && ids[2] == ids[3]) {
			t.Errorf("trial %d: answered notes %v, want one", trial, ids)
		}
		n := 0
		for _, note := range ws.Notes(demo.ID) {
			if strings.Contains(note.Body, body) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("trial %d: %d notes written, want 1", trial, n)
		}
	}
}

// The recommended one-Redis setup (noeviction, with a maxmemory) under
// pressure made through the service itself: registrations of large
// persisted queries, far more than the Redis has room for. They stop at
// PERSISTED_QUERIES_REDIS_MAX_BYTES, so the Redis never fills, the
// idempotency records made after the flood are written there, and the
// retries on another replica create nothing. (Without the bound the flood
// filled it, a noeviction Redis refused the records, and each replica kept
// its own in process.)
func TestIdempotencyRecordsSurviveRegistrationsThroughTheService(t *testing.T) {
	r := redistest.Start(t)
	client := redistest.Client(t, r.Addr)
	ctx := context.Background()
	if err := client.ConfigSet(ctx, "maxmemory", fmt.Sprint(8<<20)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	settings := []string{"REDIS_URL", "redis://" + r.Addr + "/0", "PERSISTED_QUERIES_REDIS_MAX_BYTES", fmt.Sprint(2 << 20)}
	a := newTestEnvWith(t, emulator.Options{}, settings...)
	b := newTestEnvOn(t, a.Intercom, settings...)

	pad := make([]byte, 15<<10)
	for i := range 300 { // 300 × 30 KB = 9 MB offered to an 8 MB Redis
		_, _ = rand.Read(pad)
		doc := "{ __typename } #" + hex.EncodeToString(pad)
		body := map[string]any{"query": doc, "extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha256Hex(doc)}}}
		if r, _ := a.postJSON(t, body); r.code() != "" {
			t.Fatalf("registration %d: %+v", i, r.Errors)
		}
	}
	// A full noeviction Redis answers OOM to writes.
	refusedWrites := func() string {
		for _, line := range strings.Split(client.Info(ctx, "errorstats").Val(), "\r\n") {
			if strings.HasPrefix(line, "errorstat_OOM:") {
				return line
			}
		}
		return ""
	}
	if oom := refusedWrites(); oom != "" {
		t.Fatalf("the Redis refused writes for want of memory after the registrations (%s): the bound did not hold", oom)
	}

	ws := a.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	ticket := func(env *testEnv, i int) string {
		return keyedTicket(t, env, demo.ID, fmt.Sprintf("service-pressure-%d", i))
	}
	for i := range 5 {
		first := ticket(a, i)
		if again := ticket(b, i); again != first {
			t.Errorf("retry %d on the other replica answered ticket %s, want %s", i, again, first)
		}
		if n := ticketsTitled(ws, demo.ID, fmt.Sprintf("service-pressure-%d", i)); n != 1 {
			t.Errorf("key %d: %d tickets, want 1", i, n)
		}
	}
	if n := len(client.Keys(ctx, "tdi:v2:{*}:idem:*").Val()); n < 5 {
		t.Errorf("Redis holds %d idempotency records, want the 5", n)
	}
	if oom := refusedWrites(); oom != "" {
		t.Errorf("the Redis refused writes for want of memory (%s)", oom)
	}
}

// keyedTicket opens a callback ticket for contactID under idempotencyKey
// key (its title too) and returns the ticket's id.
func keyedTicket(t *testing.T, env *testEnv, contactID, key string) string {
	t.Helper()
	var out createTicketJSON
	env.mustQuery(t, createTicketMutation, map[string]any{"input": map[string]any{
		"idempotencyKey": key, "contactId": contactID, "title": key, "ticketType": "Callback request"}}, &out)
	if out.CreateTicket.Ticket == nil {
		t.Fatalf("createTicket %s: %+v", key, out.CreateTicket.UserErrors)
	}
	return out.CreateTicket.Ticket.ID
}
