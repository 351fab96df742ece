// Package sqldb is the customer's own database as a source: contacts, their
// phone numbers and emails, their history (orders, payments, cases) and
// free-form facts, read through four views whose names and columns are a
// fixed contract (contract.sql, docs/customer-database.md).
//
// It reads only: every query is parameterised, runs in a read-only
// transaction and is bounded by a timeout on both sides (the context here,
// statement_timeout on PostgreSQL's side). It is batch-first: one query per
// view per batch of ids, numbers or emails, whatever the batch's size.
//
// Two engines: PostgreSQL through pgx's pool (postgres://…), and SQLite
// through a pure-Go driver (sqlite:PATH), which the demo uses and which
// needs no server.
package sqldb

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver: pure Go, no cgo

	"github.com/talkdesk-intercom/api/sources"
)

// Name is the source's name: Contact.Source, Interaction.Source, and the
// prefix of every id it hands out ("sql:7001").
const Name = "sql"

// Prefix starts the id of every contact and interaction of this source, so
// that ids of several sources never collide and a mutation can tell an id
// that is not Intercom's.
const Prefix = Name + ":"

// The views of the contract.
const (
	ViewContacts     = "customer_contacts"
	ViewPoints       = "customer_contact_points"
	ViewInteractions = "customer_interactions"
	ViewAttributes   = "customer_attributes" // optional
)

// Config configures the source.
type Config struct {
	// URL is postgres://… (or postgresql://…) or sqlite:PATH.
	URL string
	// Timeout bounds every query (default 2s).
	Timeout time.Duration
	// MaxConns bounds the pool's connections (default 8).
	MaxConns int
	// HistoryLimit is how many interactions of a contact are read, the
	// most recent (default 100).
	HistoryLimit int
	// MatchLimit is how many contacts one phone spelling or email may
	// find (default 50): a switchboard number on a million rows must not
	// fill memory.
	MatchLimit int
	// Observe, when set, is told of every query: the view it read, whether
	// it succeeded, how long it took.
	Observe func(view string, ok bool, elapsed time.Duration)
}

// DB is the customer's database as a source. It implements
// sources.ContactFinder and sources.InteractionFinder.
type DB struct {
	cfg        Config
	engine     engine
	attributes atomic.Bool // customer_attributes exists (Check tells)
}

var (
	_ sources.ContactFinder     = (*DB)(nil)
	_ sources.InteractionFinder = (*DB)(nil)
)

// engine is what differs between PostgreSQL and SQLite: how a query runs,
// and how a list of keys is one parameter.
type engine interface {
	query(ctx context.Context, q string, args ...any) (rows, error)
	// pipeline runs statements in order, handing each one's rows to read
	// (which closes them), and stops at the first error.
	pipeline(ctx context.Context, stmts []statement, read func(i int, r rows) error) error
	// list is the SQL of "x is one of the list in parameter n".
	list(column string, n int) string
	// arg is the value of a list parameter.
	arg(keys []string) any
	close()
	name() string
}

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Open connects to the database of cfg.URL. It makes no query: Check
// validates the contract.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	cfg.Timeout = cmp.Or(cfg.Timeout, 2*time.Second)
	cfg.MaxConns = cmp.Or(cfg.MaxConns, 8)
	cfg.HistoryLimit = cmp.Or(cfg.HistoryLimit, 100)
	cfg.MatchLimit = cmp.Or(cfg.MatchLimit, 50)
	db := &DB{cfg: cfg}
	var err error
	switch {
	case strings.HasPrefix(cfg.URL, "postgres://"), strings.HasPrefix(cfg.URL, "postgresql://"):
		db.engine, err = openPostgres(ctx, cfg)
	case strings.HasPrefix(cfg.URL, "sqlite:"):
		db.engine, err = openSQLite(strings.TrimPrefix(cfg.URL, "sqlite:"), cfg)
	default:
		return nil, errors.New("CUSTOMER_DB_URL: use postgres://user:password@host:5432/db or sqlite:PATH")
	}
	if err != nil {
		return nil, err
	}
	return db, nil
}

// Close closes the pool.
func (db *DB) Close() { db.engine.close() }

// Engine names the engine: "postgres" or "sqlite".
func (db *DB) Engine() string { return db.engine.name() }

// Timeout is the bound of every query.
func (db *DB) Timeout() time.Duration { return db.cfg.Timeout }

// RedactedURL is a database URL without its password, for logs.
func RedactedURL(raw string) string {
	if strings.HasPrefix(raw, "sqlite:") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}

// postgres runs queries on a pgx pool whose sessions are read-only and
// bounded by statement_timeout.
type postgres struct{ pool *pgxpool.Pool }

func openPostgres(ctx context.Context, cfg Config) (engine, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return nil, errors.New("CUSTOMER_DB_URL: not a PostgreSQL connection URL")
	}
	pc.MaxConns = int32(cfg.MaxConns)
	// One connection stays open (and its prepared statements with it):
	// the first call after a quiet half hour does not pay for a new
	// session (pgx closes idle ones after MaxConnIdleTime).
	pc.MinConns = 1
	pc.ConnConfig.ConnectTimeout = cfg.Timeout
	// Every statement runs in a read-only transaction (a write is refused
	// by the server, whatever the query), without a BEGIN and COMMIT round
	// trip each; the server stops a statement that outlives the timeout
	// even when this side has already given up on it.
	pc.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	pc.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(cfg.Timeout.Milliseconds())
	// Every statement looks rows up by keys in one array parameter: its
	// plan does not depend on the keys. pgx prepares each statement once
	// per connection; a generic plan is then made once too, where the
	// default (auto) re-plans every execution, each a fresh custom plan
	// (planning took longer than running on the benchmark's lookups). Set
	// after connecting, not as a startup parameter: a server before
	// PostgreSQL 12, or a pooler that does not pass it on, would refuse the
	// whole session for it; there it is skipped.
	pc.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, _ = c.Exec(ctx, "SET plan_cache_mode = force_generic_plan")
		return nil
	}
	pc.ConnConfig.RuntimeParams["application_name"] = "talkdesk-intercom"
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("CUSTOMER_DB_URL: %s", sources.ErrorMessage(err))
	}
	return &postgres{pool: pool}, nil
}

func (p *postgres) query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := p.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgRows{r}, nil
}

// pipeline sends the statements in one batch: one round trip for all
// (pgx's pipeline mode), one implicit transaction.
func (p *postgres) pipeline(ctx context.Context, stmts []statement, read func(i int, r rows) error) error {
	if len(stmts) == 1 {
		r, err := p.query(ctx, stmts[0].sql, stmts[0].args...)
		if err != nil {
			return err
		}
		return read(0, r)
	}
	b := &pgx.Batch{}
	for _, st := range stmts {
		b.Queue(st.sql, st.args...)
	}
	br := p.pool.SendBatch(ctx, b)
	for i := range stmts {
		r, err := br.Query()
		if err != nil {
			_ = br.Close()
			return err
		}
		if err := read(i, pgRows{r}); err != nil {
			_ = br.Close()
			return err
		}
	}
	return br.Close()
}

// list compares with every element of one text[] parameter: the statement
// is the same whatever the batch's size, so it is prepared once.
func (p *postgres) list(column string, n int) string { return fmt.Sprintf("%s = ANY($%d)", column, n) }
func (p *postgres) arg(keys []string) any            { return keys }
func (p *postgres) close()                           { p.pool.Close() }
func (p *postgres) name() string                     { return "postgres" }

type pgRows struct{ pgx.Rows }

func (r pgRows) Close() { r.Rows.Close() }

// sqlite runs queries on database/sql with the pure-Go driver, opened
// read-only.
type sqlite struct{ db *sql.DB }

func openSQLite(path string, cfg Config) (engine, error) {
	if path == "" {
		return nil, errors.New("CUSTOMER_DB_URL: sqlite: needs a file path (sqlite:/var/lib/customers.db)")
	}
	// mode=ro and query_only: nothing this source runs can write.
	dsn := "file:" + path + "?mode=ro&_pragma=query_only(1)&_pragma=busy_timeout(" + fmt.Sprint(cfg.Timeout.Milliseconds()) + ")"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("CUSTOMER_DB_URL: %w", err)
	}
	db.SetMaxOpenConns(cfg.MaxConns)
	return &sqlite{db: db}, nil
}

func (s *sqlite) query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

// pipeline runs the statements one after another: SQLite is in process,
// there is no round trip to save.
func (s *sqlite) pipeline(ctx context.Context, stmts []statement, read func(i int, r rows) error) error {
	for i, st := range stmts {
		r, err := s.query(ctx, st.sql, st.args...)
		if err != nil {
			return err
		}
		if err := read(i, r); err != nil {
			return err
		}
	}
	return nil
}

// list reads the keys from one JSON array parameter: like PostgreSQL's
// ANY, one statement whatever the batch's size.
func (s *sqlite) list(column string, n int) string {
	return fmt.Sprintf("%s IN (SELECT value FROM json_each(?%d))", column, n)
}

func (s *sqlite) arg(keys []string) any {
	b, _ := json.Marshal(keys) // strings always marshal
	return string(b)
}

func (s *sqlite) close()       { _ = s.db.Close() }
func (s *sqlite) name() string { return "sqlite" }

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// statement is one query of a view, and what reads each of its rows.
type statement struct {
	view string
	sql  string
	args []any
	scan func(rows) error
}

// run runs one query of view under the source's timeout, calls scan for
// each row, and reports the query to Observe.
func (db *DB) run(ctx context.Context, view, q string, args []any, scan func(rows) error) error {
	return db.runAll(ctx, statement{view: view, sql: q, args: args, scan: scan})
}

// runAll runs statements in order under one timeout, as one round trip on
// PostgreSQL (a pipeline), and reports each to Observe: the queries of one
// batch that do not depend on each other's rows go together. Its error is
// coded UPSTREAM_UNAVAILABLE and never carries the database's own message
// to a caller (it may quote data); the detail is kept for the logs.
func (db *DB) runAll(ctx context.Context, stmts ...statement) error {
	ctx, cancel := context.WithTimeout(ctx, db.cfg.Timeout)
	defer cancel()
	start := time.Now()
	done := 0 // statements read whole
	err := db.engine.pipeline(ctx, stmts, func(i int, r rows) error {
		defer r.Close()
		for r.Next() {
			if err := stmts[i].scan(r); err != nil {
				return err
			}
		}
		if err := r.Err(); err != nil {
			return err
		}
		done++
		if db.cfg.Observe != nil {
			db.cfg.Observe(stmts[i].view, true, time.Since(start))
		}
		return nil
	})
	if err != nil {
		// The first statement not read whole failed, or one after it: a
		// pipeline prepares its new statements together, before any runs.
		failed := stmts[done:]
		if len(failed) == 0 {
			failed = stmts // all were read: the pipeline's end failed
		}
		var views []string
		for _, st := range failed {
			views = append(views, st.view)
		}
		if db.cfg.Observe != nil && done < len(stmts) {
			// Each statement read whole was observed as a success.
			db.cfg.Observe(views[0], false, time.Since(start))
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			return &sources.Error{Code: sources.ECancelled, Message: "the request was cancelled", Err: err}
		}
		return &sources.Error{Code: sources.EUpstreamUnavailable,
			Message: fmt.Sprintf("the customer database failed on %s", strings.Join(views, " or ")), Err: err}
	}
	return nil
}

// CreateSQLite creates (or opens) the SQLite database at path for writing
// and runs scripts in it, in order: the demo and the tests load the
// contract and their rows this way. The source itself never writes.
func CreateSQLite(ctx context.Context, path string, scripts ...string) error {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, s := range scripts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}
