package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/sqldb"
	"github.com/talkdesk-intercom/api/sources/sqldb/sqldbtest"
)

// The customer database workload ("sql"): the SQL part of a cold caller
// lookup (the number, then the email it found, then the person's
// timeline: what identity resolution and Person.interactions ask the
// database) on a private PostgreSQL seeded with generate_series, at a
// thousand contacts and at a million: the cost must not grow with the
// table. Beside them, the floor: the same round trips doing nothing, what
// the machine's own noise costs.
const (
	sqlSmall   = "SQL part of a caller lookup, 1k contacts"
	sqlMillion = "SQL part of a caller lookup, 1M contacts"
	sqlFloor   = "SQL floor: 3 round trips of SELECT 1, 1M contacts"
	sqlLookups = 1000
	// sqlRoundTrips is a lookup's round trips: the number (its points and
	// attributes in one pipeline), the email, the timeline.
	sqlRoundTrips = 3
)

// customerDBSeed fills the contract's example tables with n contacts, each
// with a number (+1202 and seven digits), an email, two orders and a fact,
// and leaves them as a database in use is: vacuumed, analysed, written out.
func customerDBSeed(n int) []string {
	return []string{
		fmt.Sprintf(`INSERT INTO shop_customers SELECT 'c' || g, 'Customer ' || g, NULL, NULL, NULL, now() - g * interval '1 minute'
			FROM generate_series(1, %d) g`, n),
		fmt.Sprintf(`INSERT INTO shop_phones SELECT 'c' || g, '+1202' || lpad(g::text, 7, '0') FROM generate_series(1, %d) g`, n),
		fmt.Sprintf(`INSERT INTO shop_emails SELECT 'c' || g, 'customer' || g || '@example.com' FROM generate_series(1, %d) g`, n),
		fmt.Sprintf(`INSERT INTO shop_orders SELECT 'o' || g, 'c' || (1 + g %% %d), 'Order ' || g, 'paid', now() - g * interval '1 second'
			FROM generate_series(1, %d) g`, n, 2*n),
		fmt.Sprintf(`INSERT INTO shop_facts SELECT 'c' || g, 'plan', 'Gold' FROM generate_series(1, %d) g`, n),
		// A customer's database is not loaded a second before the calls:
		// without these, autovacuum's pass over the freshly inserted
		// tables, the first reads' hint bits and the checkpoint of the load
		// ran during the measurement (the million's p99 was 9 ms where the
		// floor's was 1.4 ms).
		`VACUUM ANALYZE`,
		`CHECKPOINT`,
	}
}

// startPostgres starts a private PostgreSQL for a workload; stop stops it
// and removes its files.
func startPostgres(workload string) (cluster *sqldbtest.Cluster, stop func(), err error) {
	dir, err := os.MkdirTemp("", "bench-pg-")
	if err != nil {
		return nil, nil, err
	}
	cluster, err = sqldbtest.StartCluster(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("the %s workload needs PostgreSQL (Debian's postgresql: initdb, pg_ctl): %w", workload, err)
	}
	return cluster, func() { cluster.Stop(); _ = os.RemoveAll(dir) }, nil
}

func (b *bench) runCustomerDB(ctx context.Context, add func(row, error) error) error {
	cluster, stop, err := startPostgres("sql")
	if err != nil {
		return err
	}
	defer stop()
	var urls []string
	for _, n := range []int{1000, 1_000_000} {
		t0 := time.Now()
		url, err := createBenchDB(ctx, cluster.URL(), fmt.Sprintf("bench_%d", n), customerDBSeed(n))
		if err != nil {
			return err
		}
		b.sqlSeeded = append(b.sqlSeeded, fmt.Sprintf("%d contacts seeded in %s", n, time.Since(t0).Round(100*time.Millisecond)))
		urls = append(urls, url)
	}
	rows, err := measureCustomerDB(ctx, urls[0], urls[1])
	return addRows(add, rows, err)
}

// createBenchDB creates a database on the cluster, loads the contract and
// runs seed in it.
func createBenchDB(ctx context.Context, admin, name string, seed []string) (string, error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	url := fmt.Sprintf("%s/%s?sslmode=disable", admin[:len(admin)-len("/postgres?sslmode=disable")], name)
	db, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer db.Close(ctx)
	for _, s := range append([]string{sqldb.Contract}, seed...) {
		if _, err := db.Exec(ctx, s); err != nil {
			return "", fmt.Errorf("seed %s: %w", name, err)
		}
	}
	return url, nil
}

// measureCustomerDB runs sqlLookups lookups of random contacts on each
// database, one at a time, through the source (no cache: every lookup is
// cold), and as many times the floor: the lookup's round trips with no
// work (SELECT 1 on a connection of its own to the million-contact
// database). The three go in turns of 50, so that the machine's noise
// falls on each alike.
func measureCustomerDB(ctx context.Context, small, million string) ([]row, error) {
	var queries [2]atomic.Int64
	var lookups [2]func() error
	for k, db := range []struct {
		url string
		n   int
	}{{small, 1000}, {million, 1_000_000}} {
		src, err := sqldb.Open(ctx, sqldb.Config{URL: db.url, Timeout: 5 * time.Second,
			Observe: func(string, bool, time.Duration) { queries[k].Add(1) }})
		if err != nil {
			return nil, err
		}
		defer src.Close()
		if err := src.Check(ctx); err != nil {
			return nil, err
		}
		lookups[k] = customerDBLookup(ctx, src, db.n)
	}
	conn, err := pgx.Connect(ctx, million)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	floor := func() error {
		for range sqlRoundTrips {
			var one int
			if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
				return err
			}
		}
		return nil
	}
	names := []string{sqlSmall, sqlMillion, sqlFloor}
	reqs := []func() error{lookups[0], lookups[1], floor}
	for _, req := range reqs { // warm the pools and the prepared statements
		for range 20 {
			if err := req(); err != nil {
				return nil, err
			}
		}
	}
	queries[0].Store(0)
	queries[1].Store(0)
	inTurn := make([]func(int) error, len(reqs))
	for k, req := range reqs {
		inTurn[k] = func(int) error { return req() }
	}
	lat, busy, err := inTurns(names, inTurn, sqlLookups, 50)
	if err != nil {
		return nil, err
	}
	out := make([]row, len(reqs))
	for k, l := range lat {
		p50, p99 := percentiles(l)
		out[k] = row{workload: names[k], path: "real", requests: len(l),
			p50: p50, p99: p99, rps: float64(len(l)) / busy[k].Seconds()}
		if k < 2 {
			out[k].sqlPerReq = float64(queries[k].Load()) / float64(len(l))
		}
	}
	return out, nil
}

// customerDBLookup is the SQL part of a cold caller lookup of a random
// contact among the n seeded: the number, then the email it found (what
// identity resolution asks), then the person's timeline (what
// Person.interactions asks).
func customerDBLookup(ctx context.Context, db *sqldb.DB, n int) func() error {
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	return func() error {
		g := 1 + rng.IntN(n)
		e164 := fmt.Sprintf("+1202%07d", g)
		found, err := db.ContactsByPhones(ctx, []string{e164})
		if err != nil {
			return err
		}
		if len(found[e164]) != 1 {
			return fmt.Errorf("%s: %d contacts, want 1", e164, len(found[e164]))
		}
		c := found[e164][0]
		if _, err := db.ContactsByEmails(ctx, c.Emails); err != nil {
			return err
		}
		hist, err := db.InteractionsByContacts(ctx, []sources.ContactRef{sources.ContactRefOf(c)}, nil, time.Time{})
		if err != nil {
			return err
		}
		if len(hist[c.ID]) == 0 {
			return fmt.Errorf("%s has no orders", c.ID)
		}
		return nil
	}
}

// customerDBChecks are the targets of the sql workload.
func (b *bench) customerDBChecks(find func(workload, path string) row) []check {
	big, small, floor := find(sqlMillion, "real"), find(sqlSmall, "real"), find(sqlFloor, "real")
	if big.requests == 0 {
		return nil
	}
	return []check{{
		name: "sql: a caller lookup's SQL part on a million contacts: p99 under 5 ms, one query per view per batch (5: points+attributes twice, interactions once, in 3 round trips), and within 2× (+1 ms) of a thousand contacts",
		ok:   big.p99 < 5*time.Millisecond && big.sqlPerReq == 5 && big.p50 <= small.p50*2+time.Millisecond,
		got: fmt.Sprintf("1M: p50 %s, p99 %s, %.1f queries per lookup; 1k: p50 %s, p99 %s; the floor of 3 round trips: p50 %s, p99 %s; %v",
			big.p50.Round(10*time.Microsecond), big.p99.Round(10*time.Microsecond), big.sqlPerReq,
			small.p50.Round(10*time.Microsecond), small.p99.Round(10*time.Microsecond),
			floor.p50.Round(10*time.Microsecond), floor.p99.Round(10*time.Microsecond), b.sqlSeeded),
	}}
}
