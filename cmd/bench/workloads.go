package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/talkdesk-intercom/api/internal/abuse"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
	"github.com/talkdesk-intercom/api/sources/phone"
)

type bench struct {
	opts            options
	getenv          func(string) string
	server          string        // the server binary
	out             io.Writer     // where the benchmark says what it does
	uniqueCompanies int           // among the W2 dashboard's contacts
	withNotes       int           // W2 contacts with notes: one notes read each
	w2Budget        int           // the most upstream calls a cold W2 may cost
	abuseSent       int           // W5: abusive requests sent
	abuseUnexpected int           // W5: of those, answered with another code than the corpus says
	redisAwayNotes  string        // W6: notes sent and created per state, when they differ
	lbName          string        // fleet: the load balancer in the rows' labels
	lbVersion       string        // fleet: haproxy -v, when it is HAProxy
	clusterStart    time.Duration // fleet: how long the private Cluster took to start
	sqlSeeded       []string      // sql: how long each customer database took to seed
	peopleBytes     []int         // sources: the W2 people dashboard's answer, by setup
	fleetTook       time.Duration // fleet: the whole workload
	fleetBudget     *fleetBudget  // fleet: what the budget row saw
	flaky           *w8Result     // W8: what the flaky Intercom's phases saw
	cost            *w7Result     // W7: what the costly caller saw
	calls           *callsResult  // calls: what the burst of call events saw
	live            []w9Result    // W9: what each fan-out saw

	// respcache: CPU per request and hit ratio by row, and the hits served
	// just before the coherence row's changes.
	rc              map[string]rcStats
	rcCoherenceHits int
	// respcache: the executor's CPU target is measured against the server
	// of this revision, or (when it could not be built) against rcBefore.
	rcBeforeRev string
	rcBeforeWhy string // why rcBeforeRev was not measured
}

// row is one line of the table.
type row struct {
	workload, path string
	requests       int
	upstreamPerReq float64
	sqlPerReq      float64 // queries to the customer's database
	redisPerReq    float64
	p50, p99       time.Duration
	rps            float64
	upstreamTotal  int
	batchesPerReq  float64 // dataloader batches
	errors         int     // requests that failed (W5 counts them instead of stopping)
}

// measure runs n requests with the given concurrency and records latencies
// and the upstream calls and Redis round trips they caused, over the fleet.
func (f *fleet) measure(workload, path string, n, concurrency int, req func(i int) error) (row, error) {
	r, _, err := f.measureCounted(workload, path, n, concurrency, req)
	return r, err
}

// measureCounted is measure, which also gives what it counted: the
// latencies, the wall time and the fleet's counters' deltas.
func (f *fleet) measureCounted(workload, path string, n, concurrency int, req func(i int) error) (row, counted, error) {
	before, err := f.counters()
	if err != nil {
		return row{}, counted{}, err
	}
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	start := time.Now()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := req(i); err != nil {
					once.Do(func() { firstErr = err })
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	if firstErr != nil {
		return row{}, counted{}, fmt.Errorf("%s %s: %w", workload, path, firstErr)
	}
	after, err := f.counters()
	if err != nil {
		return row{}, counted{}, err
	}
	c := counted{lat: lat, wall: wall, delta: after.minus(before)}
	return c.row(workload, path), c, nil
}

// counted is what one or more measurements of a workload saw.
type counted struct {
	lat   []time.Duration
	wall  time.Duration
	delta counters
}

// add is c and d measured one after the other.
func (c counted) add(d counted) counted {
	return counted{lat: append(slices.Clone(c.lat), d.lat...), wall: c.wall + d.wall, delta: c.delta.plus(d.delta)}
}

// row is the table's line of what c saw.
func (c counted) row(workload, path string) row {
	n := len(c.lat)
	lat := slices.Sorted(slices.Values(c.lat))
	d := c.delta
	return row{
		workload: workload, path: path, requests: n,
		upstreamPerReq: float64(d.upstream) / float64(n),
		sqlPerReq:      d.sqlQueries / float64(n),
		redisPerReq:    d.redisRoundTrips / float64(n),
		p50:            lat[n/2], p99: lat[min(n-1, n*99/100)],
		rps: float64(n) / c.wall.Seconds(), upstreamTotal: d.upstream,
		batchesPerReq: float64(d.loaderBatches) / float64(n),
	}
}

const (
	callerQuery    = `query CallerLookup($p: String!) { contactsByPhone(phone: $p) { id name email phone url } }`
	dashboardQuery = `query Dashboard($ids: [ID!]!) { contactsByIds(ids: $ids) { id name phone company { name } companies { name }
		interactions(first: 5) { totalCount nodes { id type subject date status priority } } } }`
	// floorQuery costs the server nothing but HTTP, parsing and the
	// middleware: what every other row pays before it reads anything.
	floorQuery = `{ __typename }`
)

func (b *bench) run(ctx context.Context) ([]row, error) {
	var rows []row
	add := func(r row, err error) error {
		if err == nil {
			rows = append(rows, r)
		}
		return err
	}
	runs := func(w string) bool { return slices.Contains(b.opts.workloads, w) }
	for _, path := range b.opts.paths {
		// The naive path is slow by design: fewer requests tell the same story.
		scale := func(n int) int {
			if path == "naive" {
				return max(1, n/4)
			}
			return n
		}
		if runs("w1") || runs("floor") {
			for _, conc := range []int{1, 32} {
				if err := b.runCallerLookups(ctx, path, conc, scale(b.opts.w1), runs, add); err != nil {
					return nil, err
				}
			}
		}
		if runs("w2") {
			if err := b.runDashboard(ctx, path, scale, add); err != nil {
				return nil, err
			}
		}
		if runs("w3") {
			if err := b.runUnknownCallers(ctx, path, scale(b.opts.w3), add); err != nil {
				return nil, err
			}
		}
		if runs("w4") {
			if err := b.runRingStorm(ctx, path, add); err != nil {
				return nil, err
			}
		}
		if runs("coherence") && path == "real" {
			if err := b.runCoherence(ctx, add); err != nil {
				return nil, err
			}
		}
		if runs("w5") && path == "real" {
			if err := b.runAbuse(ctx, add); err != nil {
				return nil, err
			}
		}
		if runs("w6") && path == "real" {
			if err := b.runRedisAway(ctx, add); err != nil {
				return nil, err
			}
		}
		if runs("fleet") && path == "real" {
			if err := b.runFleet(ctx, add); err != nil {
				return nil, err
			}
		}
		if runs("w9") && path == "real" {
			if err := b.runLive(ctx, add); err != nil {
				return nil, err
			}
		}
		if runs("respcache") && path == "real" {
			if err := b.runResponseCache(ctx, add); err != nil {
				return nil, err
			}
		}
		if runs("w7") && path == "real" {
			if err := b.runCost(ctx, add); err != nil {
				return nil, err
			}
		}
		if runs("sql") && path == "real" {
			if err := b.runCustomerDB(ctx, add); err != nil {
				return nil, err
			}
		}
		if runs("sources") && path == "real" {
			if err := b.runSources(ctx, add); err != nil {
				return nil, err
			}
		}
		if runs("w8") && path == "real" {
			if err := b.runFlaky(ctx, add); err != nil {
				return nil, err
			}
		}
		if runs("calls") && path == "real" {
			if err := b.runCallEvents(ctx, add); err != nil {
				return nil, err
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return rows, nil
}

// runCallerLookups measures W1 cold then warm, and the floor on the same
// server; on the real path also warm with Redis hits only (the in-process
// level off).
func (b *bench) runCallerLookups(ctx context.Context, path string, conc, n int, runs func(string) bool, add func(row, error) error) error {
	f, err := b.startFleet(ctx, 1, path, nil)
	if err != nil {
		return err
	}
	defer f.close()
	name := fmt.Sprintf("W1 caller lookup, c=%d", conc)
	if runs("w1") {
		if err := b.coldThenWarm(f, name, path, conc, n, add); err != nil {
			return err
		}
	}
	if runs("w1") && path == "real" {
		redisOnly, err := b.startFleet(ctx, 1, path, map[string]string{"CACHE_LOCAL_ENABLED": "false", "RESPONSE_CACHE_ENABLED": "false"})
		if err != nil {
			return err
		}
		defer redisOnly.close()
		if err := b.coldThenWarm(redisOnly, name+", Redis only", path, conc, n, add); err != nil {
			return err
		}
	}
	if runs("floor") {
		return add(f.measure(fmt.Sprintf("floor: %s, c=%d", floorQuery, conc), path, warmRounds*n, conc, func(i int) error {
			return f.instance(i).query(floorQuery, nil)
		}))
	}
	return nil
}

// warmRounds is how many times warm rows and the floor look up their numbers.
const warmRounds = 4

// coldThenWarm looks up n seeded callers on f, then again.
func (b *bench) coldThenWarm(f *fleet, name, path string, conc, n int, add func(row, error) error) error {
	phones := seededPhones(f.em.Workspace, n)
	lookup := func(i int) error { return f.instance(i).query(callerQuery, map[string]any{"p": phones[i%len(phones)]}) }
	if err := add(f.measure(name+", cold", path, len(phones), conc, lookup)); err != nil {
		return err
	}
	if err := f.warmEveryReplica(len(phones), func(in *instance, i int) error {
		return in.query(callerQuery, map[string]any{"p": phones[i]})
	}); err != nil {
		return err
	}
	// Warm answers take microseconds: four rounds of the numbers make a
	// measurement longer than the noise.
	return add(f.measure(name+", warm", path, warmRounds*len(phones), conc, lookup))
}

const (
	w4Storm   = "W4 ring storm: 500 unknown numbers, c=100"
	coherence = "coherence: change on A, read on B (ms until B serves it)"
)

// runRingStorm measures W4: many distinct callers, unknown to the cache,
// ringing at once (a campaign, the morning peak).
func (b *bench) runRingStorm(ctx context.Context, path string, add func(row, error) error) error {
	f, err := b.startFleet(ctx, 1, path, nil)
	if err != nil {
		return err
	}
	defer f.close()
	numbers := make([]string, b.opts.w4)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+1202556%04d", i) // not in the seed
	}
	return add(f.measure(w4Storm, path, len(numbers), 100, func(i int) error {
		return f.instance(i).query(callerQuery, map[string]any{"p": numbers[i]})
	}))
}

// The coherence rows read a contact's name on one instance and change it
// on the other.
const (
	coherenceRead   = `query($id: ID!) { contact(id: $id) { name } }`
	coherenceChange = `mutation($id: ID!, $name: String!) { updateContact(input: {id: $id, name: $name}) { contact { name } } }`
)

// runCoherence measures how long after a change acknowledged by instance A
// instance B, which held the old value in process, serves the new one.
func (b *bench) runCoherence(ctx context.Context, add func(row, error) error) error {
	f, err := b.startFleet(ctx, 2, "real", nil)
	if err != nil {
		return err
	}
	defer f.close()
	a, bb := f.instance(0), f.instance(1)
	contacts := f.em.Workspace.Contacts()
	n := b.opts.coherence
	delays := make([]time.Duration, n)
	for i := range n {
		id := contacts[i%len(contacts)].ID
		for range 2 { // B holds it in process
			if _, err := bb.queryData(coherenceRead, map[string]any{"id": id}); err != nil {
				return err
			}
		}
		name := fmt.Sprintf("Renamed %d", i)
		if err := a.query(coherenceChange, map[string]any{"id": id, "name": name}); err != nil {
			return err
		}
		acked := time.Now()
		for {
			data, err := bb.queryData(coherenceRead, map[string]any{"id": id})
			if err != nil {
				return err
			}
			if strings.Contains(string(data), name) {
				delays[i] = time.Since(acked)
				break
			}
			if time.Since(acked) > 10*time.Second {
				return fmt.Errorf("coherence: B still serves the old name of %s 10 s after the change", id)
			}
		}
	}
	slices.Sort(delays)
	return add(row{workload: coherence, path: "real", requests: n, p50: delays[n/2], p99: delays[n-1]}, nil)
}

// runUnknownCallers measures W3: a few unknown numbers looked up over and
// over, as callers who are not customers ring again.
func (b *bench) runUnknownCallers(ctx context.Context, path string, n int, add func(row, error) error) error {
	f, err := b.startFleet(ctx, 1, path, nil)
	if err != nil {
		return err
	}
	defer f.close()
	unknown := make([]string, b.opts.w3Numbers)
	for i := range unknown {
		unknown[i] = fmt.Sprintf("+1202555%04d", 1000+i) // not in the seed
	}
	return add(f.measure("W3 unknown callers", path, n, 8, func(i int) error {
		return f.instance(i).query(callerQuery, map[string]any{"p": unknown[i%len(unknown)]})
	}))
}

const (
	w5Alone = "W5 abuse: W1 warm, c=4, alone"
	w5With  = "W5 abuse: W1 warm, c=4, during the corpus at 100 req/s"
)

// runAbuse measures W5: warm caller lookups alone, then again while two
// other clients send the abuse corpus over and over, as fast as one caller
// is allowed to. Lookups that fail are counted, not fatal: the row says how
// many.
func (b *bench) runAbuse(ctx context.Context, add func(row, error) error) error {
	f, err := b.startFleet(ctx, 1, "real", nil)
	if err != nil {
		return err
	}
	defer f.close()
	phones := seededPhones(f.em.Workspace, 64)
	var failed atomic.Int64
	lookup := func(i int) error {
		if err := f.instance(i).query(callerQuery, map[string]any{"p": phones[i%len(phones)]}); err != nil {
			failed.Add(1)
		}
		return nil
	}
	for i := range phones { // warm the cache
		_ = lookup(i)
	}
	failed.Store(0)
	alone, err := f.measure(w5Alone, "real", b.opts.w5, 4, lookup)
	alone.errors = int(failed.Swap(0))
	if err := add(alone, err); err != nil {
		return err
	}
	corpus := abuse.GraphQL()
	bodies := make([][]byte, len(corpus))
	for i, c := range corpus {
		bodies[i], _ = json.Marshal(map[string]any{"query": c.Query, "variables": c.Variables})
	}
	stop := make(chan struct{})
	var sent, unexpected atomic.Int64
	var wg sync.WaitGroup
	// Two clients, each at half of what one caller may send by default
	// (RATE_LIMIT_PER_MINUTE=6000: 100 requests a second).
	for a := range 2 {
		wg.Go(func() {
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for i := a; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				c := corpus[i%len(corpus)]
				if code := f.instance(i).abusiveRequest(bodies[i%len(corpus)]); code != c.Code {
					unexpected.Add(1)
				}
				sent.Add(1)
			}
		})
	}
	during, err := f.measure(w5With, "real", b.opts.w5, 4, lookup)
	close(stop)
	wg.Wait()
	during.errors = int(failed.Load())
	b.abuseSent, b.abuseUnexpected = int(sent.Load()), int(unexpected.Load())
	return add(during, err)
}

// W6: how much Redis away costs. Each state gets its own redis-server (the
// benchmark's shared one is never stopped) and a fresh fleet.
const (
	w6Timeout       = 100 * time.Millisecond // REDIS_TIMEOUT of the W6 servers
	addNoteMutation = `mutation AddNote($id: ID!, $k: String) { addNote(input: {contactId: $id, body: "Bench note", idempotencyKey: $k}) { note { id } } }`
)

var w6States = []string{"up", "down", "frozen"}

func w6Row(state, what string) string { return fmt.Sprintf("W6 Redis %s: %s", state, what) }

// runRedisAway measures W1 warm and addNote with Redis up, down (killed) and
// frozen (SIGSTOP): the servers must skip an absent Redis after one
// REDIS_TIMEOUT, and create each note exactly once.
func (b *bench) runRedisAway(ctx context.Context, add func(row, error) error) error {
	for _, state := range w6States {
		rp, err := redistest.Launch()
		if err != nil {
			return fmt.Errorf("W6 needs redis-server: %w", err)
		}
		f, err := b.startFleet(ctx, 1, "real", map[string]string{"REDIS_URL": redisURL(rp), "REDIS_TIMEOUT": w6Timeout.String()})
		if err != nil {
			rp.Close()
			return err
		}
		err = b.measureRedisAway(f, rp, state, add)
		if state == "frozen" {
			rp.Thaw()
		}
		f.close()
		rp.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) measureRedisAway(f *fleet, rp *redistest.Server, state string, add func(row, error) error) error {
	phones := seededPhones(f.em.Workspace, 64)
	lookup := func(i int) error { return f.instance(i).query(callerQuery, map[string]any{"p": phones[i%len(phones)]}) }
	for i := range phones { // warm the cache
		if err := lookup(i); err != nil {
			return err
		}
	}
	switch state {
	case "down":
		rp.Stop()
	case "frozen":
		rp.Freeze()
	}
	if err := add(f.measure(w6Row(state, "W1 warm"), "real", b.opts.w6, 1, lookup)); err != nil {
		return err
	}
	demo, _ := f.em.Workspace.DemoCaller()
	before := len(f.em.Workspace.Notes(demo.ID))
	run := fmt.Sprintf("w6-%s-%d", state, time.Now().UnixNano())
	if err := add(f.measure(w6Row(state, "addNote"), "real", b.opts.w6, 1, func(i int) error {
		return f.instance(i).query(addNoteMutation, map[string]any{"id": demo.ID, "k": fmt.Sprintf("%s-%d", run, i)})
	})); err != nil {
		return err
	}
	if created := len(f.em.Workspace.Notes(demo.ID)) - before; created != b.opts.w6 {
		b.redisAwayNotes += fmt.Sprintf("; Redis %s: %d notes sent, %d created", state, b.opts.w6, created)
	}
	return nil
}

// runDashboard measures W2: cold runs each on an empty cache (a fresh
// workspace and server), then warm runs.
func (b *bench) runDashboard(ctx context.Context, path string, scale func(int) int, add func(row, error) error) error {
	start := func() (*fleet, error) { return b.startFleet(ctx, 1, path, nil) }
	return b.dashboard(w2Dashboard, path, scale(b.opts.w2Cold), scale(b.opts.w2Warm), start, add)
}

const w2Dashboard = "W2 dashboard (50 contacts)"

// dashboard measures cold W2 dashboards, each on a fleet of its own (a fresh
// workspace: an empty cache), then warm ones on another fleet.
func (b *bench) dashboard(name, path string, coldRuns, warmRuns int, start func() (*fleet, error), add func(row, error) error) error {
	var cold []row
	for range coldRuns {
		f, err := start()
		if err != nil {
			return err
		}
		ids := b.dashboardIDs(f.em.Workspace)
		r, err := f.measure(name+", cold", path, 1, 1, func(i int) error {
			return f.instance(i).query(dashboardQuery, map[string]any{"ids": ids})
		})
		f.close()
		if err != nil {
			return err
		}
		cold = append(cold, r)
	}
	if err := add(mergeRows(cold), nil); err != nil {
		return err
	}
	f, err := start()
	if err != nil {
		return err
	}
	defer f.close()
	ids := b.dashboardIDs(f.em.Workspace)
	dashboard := func(in *instance, _ int) error { return in.query(dashboardQuery, map[string]any{"ids": ids}) }
	if err := dashboard(f.instance(0), 0); err != nil {
		return err
	}
	if err := f.warmEveryReplica(1, dashboard); err != nil {
		return err
	}
	return add(f.measure(name+", warm", path, warmRuns, 1, func(i int) error { return dashboard(f.instance(i), i) }))
}

// percentiles sorts ds (not empty) and returns its p50 and p99.
func percentiles(ds []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(ds)
	return ds[len(ds)/2], ds[min(len(ds)-1, len(ds)*99/100)]
}

// addRows adds rows measured together, or err when they could not be.
func addRows(add func(row, error) error, rows []row, err error) error {
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := add(r, nil); err != nil {
			return err
		}
	}
	return nil
}

// mergeRows combines single-request rows into one with percentiles.
func mergeRows(rs []row) row {
	out := rs[0]
	out.requests = len(rs)
	var lat []time.Duration
	up, sql, redis, batches, total := 0.0, 0.0, 0.0, 0.0, 0
	for _, r := range rs {
		lat = append(lat, r.p50)
		up += r.upstreamPerReq
		sql += r.sqlPerReq
		redis += r.redisPerReq
		batches += r.batchesPerReq
		total += r.upstreamTotal
	}
	out.batchesPerReq = batches / float64(len(rs))
	slices.Sort(lat)
	out.p50, out.p99 = lat[len(lat)/2], lat[len(lat)-1]
	out.upstreamPerReq, out.redisPerReq, out.upstreamTotal = up/float64(len(rs)), redis/float64(len(rs)), total
	out.sqlPerReq = sql / float64(len(rs))
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	out.rps = float64(len(lat)) / sum.Seconds()
	return out
}

// seededPhones returns up to n distinct numbers of seeded contacts, each
// written the way it is stored (the server normalises them).
func seededPhones(ws *emulator.Workspace, n int) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range ws.Contacts() {
		e164, err := phone.Normalize(c.Phone, c.LocationCountry)
		if c.Phone == "" || err != nil || seen[e164] {
			continue
		}
		seen[e164] = true
		out = append(out, e164)
		if len(out) == n {
			break
		}
	}
	return out
}

// dashboardIDs returns the W2 dashboard's 50 contacts and works out, from
// the seed, the most upstream calls a cold dashboard may cost.
func (b *bench) dashboardIDs(ws *emulator.Workspace) []string {
	var ids []string
	companies := map[string]bool{}
	for _, c := range ws.Contacts()[:50] {
		ids = append(ids, c.ID)
		for _, co := range c.CompanyIDs {
			companies[co] = true
		}
	}
	b.uniqueCompanies = len(companies)
	conversations, tickets, phoneConversations := 0, 0, 0
	b.withNotes = 0
	for _, id := range ids {
		convs := ws.Conversations(id)
		conversations += len(convs)
		tickets += len(ws.Tickets(id))
		if len(ws.Notes(id)) > 0 {
			b.withNotes++
		}
		for _, c := range convs {
			if c.SourceType == "phone_call" || c.SourceType == "phone_switch" {
				phoneConversations++
			}
		}
	}
	pages := func(n, per int) int { return max(1, (n+per-1)/per) }
	// 1 contact search, the companies, the conversation and ticket search
	// pages, one search of the phone conversations, the notes reads, the call
	// searches, and the admin list once.
	b.w2Budget = 1 + b.uniqueCompanies + pages(conversations, 150) + pages(tickets, 150) + 1 + b.withNotes +
		(phoneConversations+19)/20 + 1
	return ids
}
