package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
	"github.com/talkdesk-intercom/api/sources/phone"
)

// faultTally counts what the fault suite saw.
type faultTally struct {
	mu        sync.Mutex
	sent      int
	succeeded int
	stale     int
	rejected  map[string]int // by code (or HTTP status when there is none)
	internals []string       // 5xx bodies that leak internals
}

func (f *faultTally) record(status int, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent++
	var r struct {
		Data       json.RawMessage `json:"data"`
		Errors     []gqlError      `json:"errors"`
		Extensions map[string]any  `json:"extensions"`
	}
	_ = json.Unmarshal(body, &r)
	if r.Extensions["stale"] == true {
		f.stale++
	}
	if status == 200 && len(r.Errors) == 0 {
		f.succeeded++
	} else {
		code := fmt.Sprintf("HTTP %d", status)
		if len(r.Errors) > 0 {
			if c, ok := r.Errors[0].Extensions["code"].(string); ok {
				code = c
			}
		}
		f.rejected[code]++
	}
	text := string(body)
	for _, leak := range []string{"goroutine ", "panic", ".go:", testToken, "runtime."} {
		if strings.Contains(text, leak) {
			f.internals = append(f.internals, fmt.Sprintf("HTTP %d leaks %q: %.200s", status, leak, text))
		}
	}
}

// The fault suite: the real server (run, as main calls it) against the
// emulator with injected faults and a real Redis that dies and comes back,
// then SIGTERM under load. It prints what it saw.
func TestFaultSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault suite takes about 30 s")
	}
	rds := redistest.Start(t)
	em, err := emulator.Start(emulator.Options{Token: testToken, WorkspaceID: uniqueWorkspaceID()})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	ws := em.Workspace
	addr := freeAddr(t)
	env := map[string]string{
		"ADDR": addr, "INTERCOM_TOKEN": testToken, "INTERCOM_BASE_URL": em.URL, "REDIS_URL": "redis://" + rds.Addr,
		"INTERCOM_TIMEOUT": "1s", "REQUEST_TIMEOUT": "5s", "RATE_LIMIT_PER_MINUTE": "0",
		"CACHE_CONTACT_TTL": "2s", "LOG_FORMAT": "json", "SHUTDOWN_TIMEOUT": "10s",
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	logs := &syncWriter{w: &bytes.Buffer{}}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, nil, func(k string) string { return env[k] }, io.MultiWriter(logs, suiteLog(t)))
	}()
	base := "http://" + addr
	waitReady(t, base+"/healthz")

	client := &http.Client{Timeout: 15 * time.Second}
	tally := &faultTally{rejected: map[string]int{}}
	post := func(query string, vars map[string]any) (int, []byte) {
		b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		resp, err := client.Post(base+"/graphql", "application/json", bytes.NewReader(b))
		if err != nil {
			tally.record(0, []byte(err.Error()))
			return 0, nil
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		tally.record(resp.StatusCode, body)
		return resp.StatusCode, body
	}

	var phones []string
	for _, c := range ws.Contacts()[:40] {
		if p, err := phone.Normalize(c.Phone, c.LocationCountry); err == nil {
			phones = append(phones, p)
		}
	}
	const lookup = `query($p: String!) { contactsByPhone(phone: $p) { id name } }`
	for _, p := range phones { // warm the cache
		post(lookup, map[string]any{"p": p})
	}
	demo, _ := ws.DemoCaller()

	// Actions: each key is retried by its "client" until acknowledged.
	var acked sync.Map // key → ticket id
	var keySeq atomic.Int64
	createTicket := func(key string) {
		status, body := post(createTicketMutation, map[string]any{"input": map[string]any{
			"idempotencyKey": key, "contactId": demo.ID, "title": "Fault " + key, "ticketType": "Callback request"}})
		var r struct {
			Data createTicketJSON `json:"data"`
		}
		if status == 200 && json.Unmarshal(body, &r) == nil && r.Data.CreateTicket.Ticket != nil {
			acked.Store(key, r.Data.CreateTicket.Ticket.ID)
		}
	}
	var keys []string
	var keysMu sync.Mutex

	load := func(d time.Duration) {
		var wg sync.WaitGroup
		deadline := time.Now().Add(d)
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 7))
				for i := 0; time.Now().Before(deadline) && i < 200; i++ {
					switch rng.IntN(10) {
					case 0:
						key := fmt.Sprintf("k%d", keySeq.Add(1))
						keysMu.Lock()
						keys = append(keys, key)
						keysMu.Unlock()
						createTicket(key)
					case 1:
						post(`query($id: ID!) { contact(id: $id) { id interactions(first: 3) { nodes { id } } } }`, map[string]any{"id": demo.ID})
					default:
						post(lookup, map[string]any{"p": phones[rng.IntN(len(phones))]})
					}
				}
			}()
		}
		wg.Wait()
	}

	phases := []struct {
		name   string
		faults emulator.Faults
		during func()
	}{
		{"30% 5xx (writes applied, then the error)", emulator.Faults{ErrorRate: 0.3, ErrorStatus: 500, FailAfterWrite: true}, nil},
		{"429 bursts", emulator.Faults{Fail429Next: 30}, nil},
		{"2 s latency spikes", emulator.Faults{SlowRate: 0.3, SlowDelay: 2 * time.Second, SlowAfterWrite: true}, nil},
		{"connection resets", emulator.Faults{ResetRate: 0.3, FailAfterWrite: true}, nil},
		{"Redis killed and restarted", emulator.Faults{}, func() { rds.Stop(); time.Sleep(time.Second); rds.Restart() }},
	}
	for _, ph := range phases {
		ws.SetFaults(ph.faults)
		if ph.during != nil {
			go ph.during()
		}
		before := tally.sent
		load(3 * time.Second)
		t.Logf("phase %q: %d requests", ph.name, tally.sent-before)
	}
	ws.SetFaults(emulator.Faults{})
	time.Sleep(2 * time.Second) // late answers of the slow phase land

	// A patient client retries every unacknowledged action until it is
	// acknowledged: the breaker and the rate governor need a few seconds to
	// let calls through again.
	patience := time.Now().Add(60 * time.Second)
	for _, key := range keys {
		for time.Now().Before(patience) {
			if _, ok := acked.Load(key); ok {
				break
			}
			createTicket(key)
			if _, ok := acked.Load(key); !ok {
				time.Sleep(250 * time.Millisecond)
			}
		}
	}
	ackedCount, created := 0, 0
	for _, key := range keys {
		n := ticketsTitled(ws, demo.ID, "Fault "+key)
		created += n
		if _, ok := acked.Load(key); ok {
			ackedCount++
			if n != 1 {
				t.Errorf("acknowledged action %s exists %d times", key, n)
			}
		} else {
			t.Errorf("action %s was never acknowledged (%d objects)", key, n)
		}
	}

	// SIGTERM under load: requests in flight when the stop comes complete.
	ws.SetLatency(700 * time.Millisecond)
	var inflight sync.WaitGroup
	var completed, failedInFlight atomic.Int32
	for i := range 8 {
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			status, _ := post(lookup, map[string]any{"p": fmt.Sprintf("+1202555%04d", 3000+i)}) // uncached: goes to Intercom
			if status == 200 {
				completed.Add(1)
			} else {
				failedInFlight.Add(1)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	stop() // what SIGTERM does in main
	inflight.Wait()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v after the stop", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the server did not stop")
	}
	if failedInFlight.Load() > 0 {
		t.Errorf("%d in-flight requests failed during graceful shutdown", failedInFlight.Load())
	}

	for _, leak := range tally.internals {
		t.Error(leak)
	}
	if strings.Contains(logs.String(), `"panic"`) || strings.Contains(logs.String(), "goroutine ") {
		t.Error("the server panicked during the fault suite")
	}
	if tally.rejected["HTTP 500"] > 0 {
		t.Errorf("%d answers were HTTP 500", tally.rejected["HTTP 500"])
	}
	codes := []string{}
	for code, n := range tally.rejected {
		codes = append(codes, fmt.Sprintf("%s %d", code, n))
	}
	fmt.Printf("fault suite: %d requests sent, %d succeeded, %d served stale, rejected: %s; actions: %d attempted, %d acknowledged, %d objects created; graceful shutdown: %d in-flight requests completed\n",
		tally.sent, tally.succeeded, tally.stale, strings.Join(codes, ", "), len(keys), ackedCount, created, completed.Load())
	if tally.succeeded == 0 || tally.sent-tally.succeeded > tally.sent*3/4 {
		t.Errorf("only %d of %d requests succeeded", tally.succeeded, tally.sent)
	}
}
