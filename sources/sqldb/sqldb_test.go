package sqldb_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/sqldb"
	"github.com/talkdesk-intercom/api/sources/sqldb/sqldbtest"
)

// engines runs a test on SQLite and on PostgreSQL, each database loaded
// with the contract and scripts.
func engines(t *testing.T, run func(t *testing.T, url string), scripts ...string) {
	t.Run("sqlite", func(t *testing.T) { run(t, sqldbtest.SQLite(t, scripts...)) })
	t.Run("postgres", func(t *testing.T) {
		if testing.Short() {
			t.Skip("needs PostgreSQL: scripts/test.sh starts one")
		}
		run(t, sqldbtest.Postgres(t, scripts...))
	})
}

// queries counts the queries of each view.
type queries struct {
	mu     sync.Mutex
	byView map[string]int
}

func (q *queries) observe(view string, ok bool, _ time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.byView == nil {
		q.byView = map[string]int{}
	}
	q.byView[view]++
}

func (q *queries) take() map[string]int {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.byView
	q.byView = nil
	return out
}

func open(t *testing.T, url string, q *queries) *sqldb.DB {
	t.Helper()
	cfg := sqldb.Config{URL: url, Timeout: 5 * time.Second}
	if q != nil {
		cfg.Observe = q.observe
	}
	db, err := sqldb.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := db.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if q != nil {
		q.take() // the contract's checks
	}
	return db
}

func TestLookupsOneQueryPerBatch(t *testing.T) {
	engines(t, func(t *testing.T, url string) {
		q := &queries{}
		db := open(t, url, q)
		ctx := context.Background()

		// Ten numbers, one a spelling stored as "(415) 555-0199": one query.
		phones := []string{"+14155550142", "+14155550199", "+14155550100", "+14155550111"}
		for i := range 6 {
			phones = append(phones, "+1202555010"+string(rune('0'+i)))
		}
		got, err := db.ContactsByPhones(ctx, phones)
		if err != nil {
			t.Fatal(err)
		}
		if n := q.take(); n[sqldb.ViewPoints] != 1 || n[sqldb.ViewAttributes] != 1 || len(n) != 2 {
			t.Errorf("queries for a batch of %d numbers = %v, want one of %s and one of %s", len(phones), n, sqldb.ViewPoints, sqldb.ViewAttributes)
		}
		names := func(list []*sources.Contact) []string {
			var out []string
			for _, c := range list {
				out = append(out, c.ID)
			}
			return out
		}
		want := map[string]string{
			"+14155550142": "sql:c-maria",
			"+14155550199": "sql:c-spelled",
			"+14155550100": "sql:c-desk-1 sql:c-desk-2 sql:c-desk-3 sql:c-desk-4",
			"+14155550111": "sql:c-desk-1",
		}
		for phone, ids := range want {
			if g := strings.Join(names(got[phone]), " "); g != ids {
				t.Errorf("%s: got %q, want %q", phone, g, ids)
			}
		}
		if len(got) != len(want) {
			t.Errorf("got %d numbers with contacts, want %d", len(got), len(want))
		}
		maria := got["+14155550142"][0]
		if maria.Name != "Maria Garcia" || maria.Source != sqldb.Name || maria.Emails[0] != "maria.garcia@northwindtraders.com" ||
			maria.CustomAttributes["plan"] != "Gold" || maria.CustomAttributes["company"] != "Northwind Traders" || maria.UpdatedAt.Year() != 2026 {
			t.Errorf("maria = %+v", maria)
		}
		if spelled := got["+14155550199"][0]; spelled.Phones[0] != "(415) 555-0199" {
			t.Errorf("a spelling is kept as stored: %v", spelled.Phones)
		}

		byEmail, err := db.ContactsByEmails(ctx, []string{"maria.garcia@northwindtraders.com", "nobody@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if g := strings.Join(names(byEmail["maria.garcia@northwindtraders.com"]), " "); g != "sql:c-maria sql:c-maria-old" {
			t.Errorf("by email (any case): %q", g)
		}
		if n := q.take(); n[sqldb.ViewPoints] != 1 {
			t.Errorf("queries for emails = %v", n)
		}

		byID, err := db.ContactsByIDs(ctx, []string{"sql:c-maria", "sql:c-desk-2", "sql:nope", "123", "sql:"})
		if err != nil {
			t.Fatal(err)
		}
		if len(byID) != 2 || byID["sql:c-desk-2"].Name != "Eli Desk" {
			t.Errorf("by ids: %v", byID)
		}
		if n := q.take(); n[sqldb.ViewContacts] != 1 {
			t.Errorf("queries for ids = %v", n)
		}

		refs := []sources.ContactRef{sources.ContactRefByID("sql:c-maria"), sources.ContactRefByID("sql:c-desk-1"), sources.ContactRefByID("sql:c-noreply")}
		hist, err := db.InteractionsByContacts(ctx, refs, nil, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if n := q.take(); n[sqldb.ViewInteractions] != 1 || len(n) != 1 {
			t.Errorf("queries for three histories = %v", n)
		}
		var ids []string
		for _, it := range hist["sql:c-maria"] {
			ids = append(ids, it.ID+"/"+it.SourceKind+"/"+string(it.Status)+"/"+string(it.Priority))
		}
		if g := strings.Join(ids, " "); g != "sql:case-77/case/open/high sql:order-1002/order/solved/none sql:order-1001/order/solved/none" {
			t.Errorf("maria's history, newest first: %s", g)
		}
		if len(hist["sql:c-desk-1"]) != 1 || hist["sql:c-noreply"] == nil || len(hist["sql:c-noreply"]) != 0 {
			t.Errorf("histories: %v", hist)
		}
		since, _ := time.Parse(time.RFC3339, "2026-11-21T00:00:00Z")
		recent, err := db.InteractionsByContacts(ctx, refs[:1], []sources.InteractionKind{sources.KindRecord}, since)
		if err != nil || len(recent["sql:c-maria"]) != 2 {
			t.Errorf("since: %v %v", recent, err)
		}
		none, err := db.InteractionsByContacts(ctx, refs[:1], []sources.InteractionKind{sources.KindTicket}, time.Time{})
		if err != nil || len(none["sql:c-maria"]) != 0 || q.take()[sqldb.ViewInteractions] != 1 {
			t.Errorf("only Intercom's kinds asked: no query, nothing found: %v %v", none, err)
		}
	}, sqldbtest.Sample)
}

// Every input reaches the database as a parameter: text that would break
// out of a quoted literal finds nothing and changes nothing.
func TestInjectionThroughInputs(t *testing.T) {
	engines(t, func(t *testing.T, url string) {
		db := open(t, url, nil)
		ctx := context.Background()
		evil := []string{
			"x' OR '1'='1", "'); DROP TABLE shop_customers; --", `"]') OR 1=1 --`, "sql:c-maria' OR 'a'='a",
			"sql:x'; DELETE FROM shop_orders; --", "sql:\x00", `sql:"],["c-maria`,
		}
		byID, err := db.ContactsByIDs(ctx, evil)
		if err != nil || len(byID) != 0 {
			t.Errorf("ids: %v %v", byID, err)
		}
		byEmail, err := db.ContactsByEmails(ctx, evil)
		if err != nil || len(byEmail) != 0 {
			t.Errorf("emails: %v %v", byEmail, err)
		}
		refs := make([]sources.ContactRef, len(evil))
		for i, e := range evil {
			refs[i] = sources.ContactRefByID(e)
		}
		hist, err := db.InteractionsByContacts(ctx, refs, nil, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		for id, list := range hist {
			if len(list) != 0 {
				t.Errorf("%q found %d interactions", id, len(list))
			}
		}
		still, err := db.ContactsByIDs(ctx, []string{"sql:c-maria"})
		if err != nil || still["sql:c-maria"] == nil {
			t.Errorf("the data is intact: %v %v", still, err)
		}
		h, _ := db.InteractionsByContacts(ctx, []sources.ContactRef{sources.ContactRefByID("sql:c-maria")}, nil, time.Time{})
		if len(h["sql:c-maria"]) != 3 {
			t.Errorf("orders intact: %d", len(h["sql:c-maria"]))
		}
	}, sqldbtest.Sample)
}

func TestCheckNamesWhatIsMissing(t *testing.T) {
	cases := []struct {
		name, script, want string
	}{
		{"missing view", "DROP VIEW customer_interactions", "the view customer_interactions is missing"},
		{"missing column", "DROP VIEW customer_contacts; CREATE VIEW customer_contacts AS SELECT id, full_name AS name, company_name AS company, job_title AS title, updated_at FROM shop_customers",
			"the view customer_contacts has no column url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			engines(t, func(t *testing.T, url string) {
				db, err := sqldb.Open(context.Background(), sqldb.Config{URL: url})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				err = db.Check(context.Background())
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("Check() = %v, want an error containing %q", err, tc.want)
				}
			}, tc.script)
		})
	}
	t.Run("optional attributes", func(t *testing.T) {
		engines(t, func(t *testing.T, url string) {
			db := open(t, url, nil)
			if db.HasAttributes() {
				t.Error("customer_attributes was dropped, yet found")
			}
			got, err := db.ContactsByIDs(context.Background(), []string{"sql:c-maria"})
			if err != nil || got["sql:c-maria"].CustomAttributes["plan"] != nil {
				t.Errorf("without attributes: %v %v", got, err)
			}
		}, sqldbtest.Sample, "DROP VIEW customer_attributes")
	})
}

// The source cannot write, whatever runs through it.
func TestReadOnly(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		if testing.Short() {
			t.Skip("needs PostgreSQL")
		}
		url := sqldbtest.Postgres(t, sqldbtest.Sample)
		db := open(t, url, nil)
		if err := sqldb.ExecForTest(db, "DELETE FROM shop_orders"); err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("a write through the source: %v, want a read-only transaction's refusal", err)
		}
	})
	t.Run("sqlite", func(t *testing.T) {
		db := open(t, sqldbtest.SQLite(t, sqldbtest.Sample), nil)
		if err := sqldb.ExecForTest(db, "DELETE FROM shop_orders"); err == nil {
			t.Error("a write through the source succeeded")
		}
	})
}

// Every PostgreSQL session of the source is read-only, bounded by the
// timeout and plans its statements once (they look keys up in an array
// parameter: the plan does not depend on the keys): none of it costs a
// round trip per query.
func TestPostgresSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	db := open(t, sqldbtest.Postgres(t, sqldbtest.Sample), nil)
	for name, want := range map[string]string{"default_transaction_read_only": "on", "statement_timeout": "5s", "plan_cache_mode": "force_generic_plan"} {
		if got, err := sqldb.SettingForTest(db, name); err != nil || got != want {
			t.Errorf("%s = %q (%v), want %q", name, got, err, want)
		}
	}
}

// A view dropped after the check fails the lookups that read it, coded, and
// the error names it without quoting the database. A lookup's attributes
// go in one pipeline with its points: where the database cannot tell
// which statement failed, both are named.
func TestViewDroppedAfterCheck(t *testing.T) {
	engines(t, func(t *testing.T, url string) {
		db := open(t, url, nil)
		ctx := context.Background()
		if got, err := db.ContactsByIDs(ctx, []string{"sql:c-desk-1"}); err != nil || got["sql:c-desk-1"] == nil {
			t.Fatalf("before the drop: %v %v", got, err)
		}
		if strings.HasPrefix(url, "sqlite:") {
			if err := sqldb.CreateSQLite(ctx, strings.TrimPrefix(url, "sqlite:"), "DROP VIEW customer_attributes"); err != nil {
				t.Fatal(err)
			}
		} else {
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, "DROP VIEW customer_attributes"); err != nil {
				t.Fatal(err)
			}
		}
		for name, read := range map[string]func() error{
			"phones": func() error { _, err := db.ContactsByPhones(ctx, []string{"+14155550142"}); return err },
			"ids":    func() error { _, err := db.ContactsByIDs(ctx, []string{"sql:c-maria"}); return err },
		} {
			err := read()
			msg := sources.ErrorMessage(err)
			if sources.ErrorCode(err) != sources.EUpstreamUnavailable || !strings.Contains(msg, sqldb.ViewAttributes) ||
				strings.Contains(msg, "exist") || strings.Contains(msg, "no such") {
				t.Errorf("%s after the drop: %v (%s), want UPSTREAM_UNAVAILABLE naming %s and not quoting the database", name, err, msg, sqldb.ViewAttributes)
			}
		}
	}, sqldbtest.Sample)
}

func TestStatusAndPriorityRule(t *testing.T) {
	for in, want := range map[string]sources.Status{"": sources.StatusClosed, "Delivered": sources.StatusSolved,
		"in_progress": sources.StatusOpen, "waiting": sources.StatusPending, "weird": sources.StatusClosed, "new": sources.StatusNew} {
		if got := sqldb.Status(in); got != want {
			t.Errorf("Status(%q) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]sources.Priority{"": sources.PriorityNone, "Medium": sources.PriorityNormal,
		"critical": sources.PriorityUrgent, "p2": sources.PriorityHigh, "zzz": sources.PriorityNone} {
		if got := sqldb.Priority(in); got != want {
			t.Errorf("Priority(%q) = %s, want %s", in, got, want)
		}
	}
}
