package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// The calls workload: Talkdesk's call events (POST /talkdesk/events): how fast they are
// accepted, how long a call_ended takes to become its record in Intercom,
// and a burst through an Intercom outage, applied once each.
const (
	callsAccept1     = "calls: events accepted, c=1"
	callsAccept      = "calls: events accepted, c=32"
	callsRecord      = "calls: call_ended → record in Intercom (settle 1s)"
	callsBurst       = "calls: a burst of events through an outage"
	callsSecret      = "bench-events-secret"
	callsSettle      = time.Second
	callsRecordCalls = 20
)

// callsResult is what the burst saw.
type callsResult struct {
	accepted, applied, calls, withOneRecord, duplicates, deadLetters int
	took                                                             time.Duration
}

func (b *bench) runCallEvents(ctx context.Context, add func(row, error) error) error {
	// RATE_LIMIT_PER_MINUTE back to its default (the fleet lifts it for the
	// other workloads): events with the secret are never limited for rate,
	// and these rows show it from one address.
	f, err := b.startFleet(ctx, 1, "real", map[string]string{"TALKDESK_EVENTS_SECRET": callsSecret,
		"CALL_EVENTS_SETTLE": callsSettle.String(), "CALL_EVENTS_WORKERS": "8", "RATE_LIMIT_PER_MINUTE": ""})
	if err != nil {
		return err
	}
	defer f.close()
	in := f.instances[0]
	callers := callsCallers(f.em.Workspace, b.opts.callEvents/4) // 4 events a call

	// Acceptance: call_started events, which write nothing in Intercom:
	// one sender (latency), then 32 (throughput).
	sent := 0 // events sent before the burst
	for _, conc := range []struct {
		name string
		n, c int
	}{{callsAccept1, max(4, b.opts.callEvents*3/10), 1}, {callsAccept, b.opts.callEvents, 32}} {
		sent += conc.n
		if err := add(f.measure(conc.name, "real", conc.n, conc.c, func(i int) error {
			return postCallEvent(in.url, map[string]any{"event": "call_started", "call_id": fmt.Sprintf("accept-%d-%d", conc.c, i),
				"contact_phone": callers[i%len(callers)].FormattedPhone, "talkdesk_number": "+18005550100"})
		})); err != nil {
			return err
		}
	}

	// From call_ended to its record, one call at a time.
	lat := make([]time.Duration, 0, callsRecordCalls)
	for i := range min(callsRecordCalls, len(callers)) {
		c := callers[i]
		id := fmt.Sprintf("record-%d", i)
		t0 := time.Now()
		if err := postCallEvent(in.url, callsEnded(id, c.FormattedPhone)); err != nil {
			return err
		}
		for callsRecords(f.em.Workspace, c.ID, id) == 0 {
			if time.Since(t0) > time.Minute {
				return fmt.Errorf("%s: no record of call %s after a minute", callsRecord, id)
			}
			time.Sleep(5 * time.Millisecond)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	if err := add(row{workload: callsRecord, path: "real", requests: len(lat), p50: lat[len(lat)/2], p99: lat[len(lat)-1]}, nil); err != nil {
		return err
	}

	// The rows above are counted applied before the burst starts: a
	// record is in Intercom a moment before its event is acknowledged and
	// counted, and the last one counted during the burst would be the
	// burst's (1001 applied of 1000).
	sent += len(lat)
	before, err := callsSettled(in, sent)
	if err != nil {
		return err
	}

	// The burst: calls started, ended, given a disposition and ended again,
	// while every Intercom call answers 503 for the first -calls-outage.
	res := &callsResult{calls: len(callers)}
	b.calls = res
	f.em.Workspace.SetFaults(emulator.Faults{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable})
	heal := time.AfterFunc(b.opts.callsOutage, func() { f.em.Workspace.SetFaults(emulator.Faults{}) })
	defer heal.Stop()
	t0, calls0 := time.Now(), f.em.Workspace.TotalCalls()
	burst, err := f.measure(callsBurst, "real", 4*len(callers), 32, func(i int) error {
		c, id := callers[i/4], fmt.Sprintf("burst-%d", i/4)
		ended := callsEnded(id, c.FormattedPhone)
		return postCallEvent(in.url, [](map[string]any){
			{"event": "call_started", "call_id": id, "contact_phone": c.FormattedPhone},
			ended,
			{"event": "disposition_set", "call_id": id, "disposition": "Bench " + id},
			ended,
		}[i%4])
	})
	if err != nil {
		return err
	}
	res.accepted = burst.requests
	for {
		now, err := callsCount(in)
		if err != nil {
			return err
		}
		res.applied, res.deadLetters = int(now.applied-before.applied), int(now.dead-before.dead)
		if res.applied+res.deadLetters >= res.accepted || time.Since(t0) > 3*time.Minute {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	res.took = time.Since(t0)
	for i, c := range callers {
		switch n := callsRecords(f.em.Workspace, c.ID, fmt.Sprintf("burst-%d", i)); {
		case n == 1:
			res.withOneRecord++
		case n > 1:
			res.duplicates += n - 1
		}
	}
	burst.errors = res.accepted - res.applied
	// The Intercom calls of applying the burst (refused ones included), not
	// only of accepting it.
	burst.upstreamTotal = f.em.Workspace.TotalCalls() - calls0
	burst.upstreamPerReq = float64(burst.upstreamTotal) / float64(burst.requests)
	return add(burst, nil)
}

// callsCallers are seeded contacts with distinct numbers.
func callsCallers(ws *emulator.Workspace, n int) []emulator.Contact {
	var out []emulator.Contact
	seen := map[string]bool{}
	for _, c := range ws.Contacts() {
		if c.FormattedPhone != "" && !seen[c.FormattedPhone] && len(out) < n {
			seen[c.FormattedPhone] = true
			out = append(out, c)
		}
	}
	return out
}

func callsEnded(id, phone string) map[string]any {
	return map[string]any{"event": "call_ended", "call_id": id, "direction": "inbound", "contact_phone": phone,
		"talkdesk_number": "+18005550100", "started_at": time.Now().UTC().Add(-5 * time.Minute).Format(time.RFC3339),
		"duration_seconds": 240, "recording_url": "https://recordings.example.com/" + id + ".mp3"}
}

// callsRecords counts the call records of call id on a contact.
func callsRecords(ws *emulator.Workspace, contactID, id string) int {
	n := 0
	for _, note := range ws.Notes(contactID) {
		if strings.Contains(note.Body, "Logged from Talkdesk") && strings.Contains(note.Body, "/"+id+".mp3") {
			n++
		}
	}
	return n
}

func postCallEvent(url string, event map[string]any) error {
	body, _ := json.Marshal(event)
	req, _ := http.NewRequest(http.MethodPost, url+"/talkdesk/events", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+callsSecret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := benchClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST /talkdesk/events: HTTP %d: %.300s", resp.StatusCode, b)
	}
	return nil
}

// callsCounted is the server's count of events applied and dead.
type callsCounted struct{ applied, dead float64 }

func callsCount(in *instance) (callsCounted, error) {
	applied, err := callsMetric(in, "call_events_applied_total")
	if err != nil {
		return callsCounted{}, err
	}
	dead, err := callsMetric(in, "call_events_dead_letters_total")
	return callsCounted{applied, dead}, err
}

// callsSettled waits until the server has counted n events applied or
// dead, and gives its counts.
func callsSettled(in *instance, n int) (callsCounted, error) {
	for t0 := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		c, err := callsCount(in)
		if err != nil {
			return callsCounted{}, err
		}
		if int(c.applied+c.dead) >= n {
			return c, nil
		}
		if time.Since(t0) > time.Minute {
			return callsCounted{}, fmt.Errorf("calls: %.0f of the %d events sent before the burst applied after a minute", c.applied+c.dead, n)
		}
	}
}

// callsMetric sums a counter of the instance's /metrics.
func callsMetric(in *instance, name string) (float64, error) {
	families, err := in.scrape()
	if err != nil {
		return 0, err
	}
	var sum float64
	if mf := families[name]; mf != nil {
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum, nil
}

// callChecks are the calls workload's targets: accepted in milliseconds, every accepted
// event of the burst applied, each call recorded exactly once.
func (b *bench) callChecks(find func(workload, path string) row) []check {
	var checks []check
	if r, r32 := find(callsAccept1, "real"), find(callsAccept, "real"); r.requests > 0 {
		// A few milliseconds at the median; the tail is the shared
		// machine's (Redis, the server and the benchmark on two cores).
		checks = append(checks, check{"calls: a call event is accepted (durably queued) with p50 under 2 ms and p99 under 25 ms (one sender)",
			r.p50 <= 2*time.Millisecond && r.p99 <= 25*time.Millisecond,
			fmt.Sprintf("c=1: p50 %s, p99 %s; c=32: p50 %s, p99 %s, %.0f events/s", r.p50.Round(100*time.Microsecond), r.p99.Round(100*time.Microsecond),
				r32.p50.Round(100*time.Microsecond), r32.p99.Round(100*time.Microsecond), r32.rps)})
	}
	if r := find(callsRecord, "real"); r.requests > 0 {
		checks = append(checks, check{"calls: a call_ended is its record in Intercom within the settle window + 2 s", r.p99 <= callsSettle+2*time.Second,
			fmt.Sprintf("p50 %s, worst of %d %s", r.p50.Round(time.Millisecond), r.requests, r.p99.Round(time.Millisecond))})
	}
	if res := b.calls; res != nil {
		checks = append(checks, check{fmt.Sprintf("calls: every event of the burst (%s of Intercom 503s first) accepted is applied", b.opts.callsOutage) + ", each call has exactly one record, 0 duplicates, 0 dead letters",
			res.applied == res.accepted && res.withOneRecord == res.calls && res.duplicates == 0 && res.deadLetters == 0,
			fmt.Sprintf("%d accepted, %d applied in %s; %d of %d calls with one record, %d duplicates, %d dead letters",
				res.accepted, res.applied, res.took.Round(100*time.Millisecond), res.withOneRecord, res.calls, res.duplicates, res.deadLetters)})
	}
	return checks
}
