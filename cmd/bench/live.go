package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/talkdesk-intercom/api/internal/events"
)

// W9, live dashboards: the deferred cold dashboard (time to its first part
// and to its last), and one change delivered to many WebSocket subscribers
// of one contact on one instance. The subscribers are clients in this
// process, the server another.

const (
	w9DeferFirst = "W9 deferred dashboard, cold: first part"
	w9DeferLast  = "W9 deferred dashboard, cold: last part"
)

func w9Fanout(n int) string {
	return fmt.Sprintf("W9 one change to %d WebSocket subscribers: delivery lag", n)
}

// w9Result is what the fan-out rows saw beyond latencies.
type w9Result struct {
	subscribers, received int
	rssBefore, rssIdle    float64 // server resident bytes before the subscribers, and with them idle
	rssPeak               float64 // after the change was delivered
	fanoutPerSecond       float64
	// The delivery lag is from the event's append (the time its sequence
	// carries, as the server's own delivery-lag metric counts it) to
	// receipt. The change's own request comes before: addNote makes two to
	// three Intercom calls of the emulator's latency each. appended is when
	// the event was appended, after the request was sent; sent50 and sent99
	// are from sending the request to receipt.
	appended       time.Duration
	sent50, sent99 time.Duration
}

const deferredDashboardQuery = `query($phone: String!) { contactsByPhone(phone: $phone) { id name email phone
  ... @defer(label: "companies") { companies { name } }
  ... @defer(label: "history") { interactions(first: 5) { nodes { id type subject date } } } } }`

func (b *bench) runLive(ctx context.Context, add func(row, error) error) error {
	// The subscribers need a descriptor each, here and in the server (which
	// inherits this limit).
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < lim.Max {
		lim.Cur = min(lim.Max, 30_000)
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	// The subscribers are one caller at one address, on purpose: the
	// connection limits are raised to hold them all.
	f, err := b.startFleet(ctx, 1, "real", map[string]string{"STREAM_MAX_CONNECTIONS_PER_CALLER": "20000", "STREAM_MAX_CONNECTIONS": "20000",
		"MAX_CONNECTIONS": "20500", "MAX_CONNECTIONS_PER_ADDRESS": "20500"})
	if err != nil {
		return err
	}
	defer f.close()
	in := f.instances[0]
	// Each cold dashboard a caller of its own: nothing about it is cached.
	phones := seededPhones(f.em.Workspace, b.opts.w9Defer)
	first, last := make([]time.Duration, len(phones)), make([]time.Duration, len(phones))
	before, err := f.counters()
	if err != nil {
		return err
	}
	for i, p := range phones {
		if first[i], last[i], err = deferredDashboard(in.url, p); err != nil {
			return fmt.Errorf("W9 deferred dashboard: %w", err)
		}
	}
	after, err := f.counters()
	if err != nil {
		return err
	}
	for _, r := range []struct {
		name string
		lat  []time.Duration
	}{{w9DeferFirst, first}, {w9DeferLast, last}} {
		slices.Sort(r.lat)
		n := len(r.lat)
		if err := add(row{workload: r.name, path: "real", requests: n, p50: r.lat[n/2], p99: r.lat[min(n-1, n*99/100)],
			upstreamTotal: after.upstream - before.upstream, upstreamPerReq: float64(after.upstream-before.upstream) / float64(n)}, nil); err != nil {
			return err
		}
	}
	demo, _ := f.em.Workspace.DemoCaller()
	for _, n := range b.opts.w9Subscribers {
		r, res, err := fanout(ctx, in, demo.ID, n)
		if err := add(r, err); err != nil {
			return err
		}
		b.live = append(b.live, res)
	}
	return nil
}

// deferredDashboard runs the deferred dashboard over multipart/mixed and
// returns when its first and last parts arrived.
func deferredDashboard(base, phone string) (first, last time.Duration, err error) {
	body, _ := json.Marshal(map[string]any{"query": deferredDashboardQuery, "variables": map[string]any{"phone": phone}})
	req, _ := http.NewRequest("POST", base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "multipart/mixed")
	t0 := time.Now()
	resp, err := benchClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("HTTP %d, %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for n := 0; ; n++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			if n < 2 {
				return 0, 0, fmt.Errorf("%d parts, want the card and the deferred ones", n)
			}
			return first, last, nil
		}
		if err != nil {
			return 0, 0, err
		}
		part, _ := io.ReadAll(p)
		if bytes.Contains(part, []byte(`"errors"`)) {
			return 0, 0, fmt.Errorf("part %d: %.300s", n, part)
		}
		if n == 0 {
			first = time.Since(t0)
		}
		last = time.Since(t0)
	}
}

// fanout opens n WebSocket subscriptions to one contact, adds a note to it,
// and measures when each subscriber receives the event.
func fanout(ctx context.Context, in *instance, contactID string, n int) (row, w9Result, error) {
	res := w9Result{subscribers: n}
	name := w9Fanout(n)
	res.rssBefore, _ = in.gauge("process_resident_memory_bytes")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(in.url, "http") + "/graphql"
	sub, _ := json.Marshal(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{
		"query": `subscription($id: ID!) { contactChanged(id: $id) { sequence kind contact { id notesCount } } }`, "variables": map[string]any{"id": contactID}}})
	conns := make([]*websocket.Conn, n)
	var mu sync.Mutex
	var firstErr error
	fail := func(err error) {
		mu.Lock()
		firstErr = cmpErr(firstErr, err)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 64 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				c, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
				if err != nil {
					fail(err)
					return
				}
				conns[i] = c
				if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"connection_init"}`)); err != nil {
					fail(err)
					return
				}
				if _, msg, err := c.Read(ctx); err != nil || !bytes.Contains(msg, []byte("connection_ack")) {
					fail(fmt.Errorf("no connection_ack: %v %s", err, msg))
					return
				}
				if err := c.Write(ctx, websocket.MessageText, sub); err != nil {
					fail(err)
					return
				}
			}
		})
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				_ = c.CloseNow()
			}
		}
	}()
	if firstErr != nil {
		return row{}, res, fmt.Errorf("%s: %w", name, firstErr)
	}
	// Every subscription is running when the server counts them.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if got, _ := in.gauge("graphql_subscriptions"); int(got) >= n {
			break
		}
		if time.Now().After(deadline) {
			return row{}, res, fmt.Errorf("%s: the server runs fewer subscriptions than %d", name, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	res.rssIdle, _ = in.gauge("process_resident_memory_bytes")

	lat := make([]time.Duration, n)
	seqs := make([]string, n)
	var received atomic.Int64
	var t0 time.Time
	start := make(chan struct{})
	readCtx, stopReading := context.WithTimeout(ctx, time.Minute)
	defer stopReading()
	for i, c := range conns {
		wg.Go(func() {
			<-start
			for {
				_, msg, err := c.Read(readCtx)
				if err != nil {
					return
				}
				if bytes.Contains(msg, []byte(`"next"`)) {
					lat[i] = time.Since(t0)
					seqs[i] = sequenceOf(msg)
					if received.Add(1) == int64(n) {
						stopReading()
					}
					return
				}
			}
		})
	}
	t0 = time.Now()
	close(start)
	err := in.query(`mutation($id: ID!) { addNote(input: {contactId: $id, body: "W9 fan-out"}) { note { id } } }`, map[string]any{"id": contactID})
	if err != nil {
		stopReading()
		wg.Wait()
		return row{}, res, fmt.Errorf("%s: addNote: %w", name, err)
	}
	wg.Wait()
	wall := time.Since(t0)
	res.received = int(received.Load())
	res.rssPeak, _ = in.gauge("process_resident_memory_bytes")
	res.fanoutPerSecond = float64(res.received) / wall.Seconds()
	var fromAppend, fromSent []time.Duration
	for i, seq := range seqs {
		if seq != "" && lat[i] > 0 {
			at := events.SeqTime(seq).Sub(t0)
			res.appended = max(res.appended, at)
			fromAppend = append(fromAppend, lat[i]-at)
			fromSent = append(fromSent, lat[i])
		}
	}
	if len(fromAppend) == 0 {
		return row{}, res, fmt.Errorf("%s: no subscriber received the event", name)
	}
	p50, p99 := percentiles(fromAppend)
	res.sent50, res.sent99 = percentiles(fromSent)
	return row{workload: name, path: "real", requests: n, errors: n - len(fromAppend),
		p50: p50, p99: p99, rps: res.fanoutPerSecond}, res, nil
}

// sequenceOf is the sequence an event message carries ("" when none),
// read without decoding the message: the client shares the server's cores.
func sequenceOf(msg []byte) string {
	const field = `"sequence":"`
	i := bytes.Index(msg, []byte(field))
	if i < 0 {
		return ""
	}
	rest := msg[i+len(field):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// gauge reads one unlabelled gauge of the instance's /metrics.
func (in *instance) gauge(name string) (float64, error) {
	families, err := in.scrape()
	if err != nil {
		return 0, err
	}
	mf := families[name]
	if mf == nil || len(mf.GetMetric()) == 0 {
		return 0, fmt.Errorf("no %s in /metrics", name)
	}
	return mf.GetMetric()[0].GetGauge().GetValue(), nil
}

// liveChecks are W9's targets.
func (b *bench) liveChecks(find func(workload, path string) row) []check {
	var checks []check
	if first := find(w9DeferFirst, "real"); first.requests > 0 {
		limit := b.opts.latency * 6 / 5
		checks = append(checks, check{"W9: first part of a cold deferred dashboard within 1.2× one upstream hop (p50)",
			first.p50 <= limit, fmt.Sprintf("p50 %s, last part p50 %s; 1.2 × %s = %s", first.p50.Round(time.Millisecond),
				find(w9DeferLast, "real").p50.Round(time.Millisecond), b.opts.latency, limit)})
	}
	for _, res := range b.live {
		r := find(w9Fanout(res.subscribers), "real")
		target, memTarget := 100*time.Millisecond, 0.0
		if res.subscribers >= 10_000 {
			target, memTarget = 500*time.Millisecond, 600<<20
		}
		ok := res.received == res.subscribers && r.p99 <= target && (memTarget == 0 || res.rssPeak <= memTarget)
		idle := (res.rssIdle - res.rssBefore) / float64(res.subscribers)
		checks = append(checks, check{fmt.Sprintf("W9: %d subscribers all receive the change, lag p99 ≤ %s%s", res.subscribers, target,
			map[bool]string{true: ", server RSS ≤ 600 MB", false: ""}[memTarget > 0]), ok,
			fmt.Sprintf("%d received; from the event's append to receipt p50 %s, p99 %s (from sending the change, whose own request "+
				"appended its event after %s: p50 %s, p99 %s); server RSS %.0f MB (%.0f MB before; %.1f kB per idle subscription); %.0f events/s fanned out",
				res.received, r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond), res.appended.Round(time.Millisecond),
				res.sent50.Round(time.Millisecond), res.sent99.Round(time.Millisecond), res.rssPeak/(1<<20), res.rssBefore/(1<<20),
				idle/1024, res.fanoutPerSecond)})
	}
	return checks
}
