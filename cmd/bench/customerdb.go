package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
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
// table.
const (
	sqlSmall   = "SQL part of a caller lookup, 1k contacts"
	sqlMillion = "SQL part of a caller lookup, 1M contacts"
	sqlLookups = 1000
)

// customerDBSeed fills the contract's example tables with n contacts, each
// with a number (+1202 and seven digits), an email, two orders and a fact.
func customerDBSeed(n int) []string {
	return []string{
		fmt.Sprintf(`INSERT INTO shop_customers SELECT 'c' || g, 'Customer ' || g, NULL, NULL, NULL, now() - g * interval '1 minute'
			FROM generate_series(1, %d) g`, n),
		fmt.Sprintf(`INSERT INTO shop_phones SELECT 'c' || g, '+1202' || lpad(g::text, 7, '0') FROM generate_series(1, %d) g`, n),
		fmt.Sprintf(`INSERT INTO shop_emails SELECT 'c' || g, 'customer' || g || '@example.com' FROM generate_series(1, %d) g`, n),
		fmt.Sprintf(`INSERT INTO shop_orders SELECT 'o' || g, 'c' || (1 + g %% %d), 'Order ' || g, 'paid', now() - g * interval '1 second'
			FROM generate_series(1, %d) g`, n, 2*n),
		fmt.Sprintf(`INSERT INTO shop_facts SELECT 'c' || g, 'plan', 'Gold' FROM generate_series(1, %d) g`, n),
		`ANALYZE`,
	}
}

func (b *bench) runCustomerDB(ctx context.Context, add func(row, error) error) error {
	dir, err := os.MkdirTemp("", "bench-pg-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cluster, err := sqldbtest.StartCluster(dir)
	if err != nil {
		return fmt.Errorf("the sql workload needs PostgreSQL (Debian's postgresql: initdb, pg_ctl): %w", err)
	}
	defer cluster.Stop()
	for _, size := range []struct {
		name string
		n    int
	}{{sqlSmall, 1000}, {sqlMillion, 1_000_000}} {
		t0 := time.Now()
		url, err := createBenchDB(ctx, cluster.URL(), fmt.Sprintf("bench_%d", size.n), customerDBSeed(size.n))
		if err != nil {
			return err
		}
		b.sqlSeeded = append(b.sqlSeeded, fmt.Sprintf("%d contacts seeded in %s", size.n, time.Since(t0).Round(100*time.Millisecond)))
		if err := add(measureCustomerDB(ctx, url, size.name, size.n)); err != nil {
			return err
		}
	}
	return nil
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

// measureCustomerDB runs sqlLookups lookups of random contacts, one at a
// time, through the source (no cache: every lookup is cold).
func measureCustomerDB(ctx context.Context, url, name string, n int) (row, error) {
	var queries atomic.Int64
	db, err := sqldb.Open(ctx, sqldb.Config{URL: url, Timeout: 5 * time.Second,
		Observe: func(string, bool, time.Duration) { queries.Add(1) }})
	if err != nil {
		return row{}, err
	}
	defer db.Close()
	if err := db.Check(ctx); err != nil {
		return row{}, err
	}
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	lookup := func() error {
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
	for range 20 { // warm the pool and the prepared statements
		if err := lookup(); err != nil {
			return row{}, err
		}
	}
	queries.Store(0)
	lat := make([]time.Duration, sqlLookups)
	start := time.Now()
	for i := range lat {
		t0 := time.Now()
		if err := lookup(); err != nil {
			return row{}, fmt.Errorf("%s: %w", name, err)
		}
		lat[i] = time.Since(t0)
	}
	wall := time.Since(start)
	slices.Sort(lat)
	return row{workload: name, path: "real", requests: sqlLookups,
		sqlPerReq: float64(queries.Load()) / sqlLookups,
		p50:       lat[sqlLookups/2], p99: lat[sqlLookups*99/100], rps: float64(sqlLookups) / wall.Seconds()}, nil
}

// customerDBChecks are the targets of the sql workload.
func (b *bench) customerDBChecks(find func(workload, path string) row) []check {
	big, small := find(sqlMillion, "real"), find(sqlSmall, "real")
	if big.requests == 0 {
		return nil
	}
	return []check{{
		name: "sql: a caller lookup's SQL part on a million contacts: p99 under 5 ms, one query per view per batch (5: points+attributes twice, interactions once), and within 2× (+1 ms) of a thousand contacts",
		ok:   big.p99 < 5*time.Millisecond && big.sqlPerReq == 5 && big.p50 <= small.p50*2+time.Millisecond,
		got: fmt.Sprintf("1M: p50 %s, p99 %s, %.1f queries per lookup; 1k: p50 %s, p99 %s; %v",
			big.p50.Round(10*time.Microsecond), big.p99.Round(10*time.Microsecond), big.sqlPerReq,
			small.p50.Round(10*time.Microsecond), small.p99.Round(10*time.Microsecond), b.sqlSeeded),
	}}
}
