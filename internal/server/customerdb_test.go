package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/talkdesk-intercom/api/internal/config"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
	"github.com/talkdesk-intercom/api/sources/sqldb/sqldbtest"
)

// customerDBs runs a test against the server with the customer database on
// each engine, loaded with sqldbtest.Sample.
func customerDBs(t *testing.T, run func(t *testing.T, dbURL string)) {
	t.Run("sqlite", func(t *testing.T) { run(t, sqldbtest.SQLite(t, sqldbtest.Sample)) })
	t.Run("postgres", func(t *testing.T) {
		if testing.Short() {
			t.Skip("needs PostgreSQL: scripts/test.sh starts one")
		}
		run(t, sqldbtest.Postgres(t, sqldbtest.Sample))
	})
}

type callerAnswer struct {
	Caller struct {
		Phone  string `json:"phone"`
		People []struct {
			ID        string `json:"id"`
			Name      string `json:"name"`
			Rank      int    `json:"rank"`
			MatchedBy []struct {
				Identifier, Value, Source string
				Exact, Shared             bool
			} `json:"matchedBy"`
			Contacts []struct {
				ID     string `json:"id"`
				Source string `json:"source"`
				Name   string `json:"name"`
			} `json:"contacts"`
			Attributes []struct {
				Name, Value, Source string
			} `json:"attributes"`
			Interactions historyPage `json:"interactions"`
		} `json:"people"`
	} `json:"caller"`
}

type historyPage struct {
	TotalCount int `json:"totalCount"`
	PageInfo   struct {
		HasNextPage bool   `json:"hasNextPage"`
		EndCursor   string `json:"endCursor"`
	} `json:"pageInfo"`
	Nodes []struct {
		ID     string `json:"id"`
		Type   string `json:"type"`
		Kind   string `json:"kind"`
		Source string `json:"source"`
		Date   string `json:"date"`
		Status string `json:"status"`
	} `json:"nodes"`
}

const callerQuery = `query($phone: String!, $first: Int, $after: String, $types: [InteractionType!], $sources: [String!]) {
  caller(phone: $phone, defaultCountry: "US") { phone people { id name rank
    matchedBy { identifier value source exact shared }
    contacts { id source name }
    attributes { name value source }
    interactions(first: $first, after: $after, types: $types, sources: $sources) {
      totalCount pageInfo { hasNextPage endCursor } nodes { id type kind source date status } } } } }`

func (p callerAnswer) contactIDs(i int) []string {
	var out []string
	for _, c := range p.Caller.People[i].Contacts {
		out = append(out, c.ID)
	}
	return out
}

// sqlQueries is how many customer database queries the server has made.
func sqlQueries(t *testing.T, m *metrics.Metrics) int {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range families {
		if f.GetName() != "upstream_calls_total" {
			continue
		}
		for _, metric := range f.GetMetric() {
			if strings.HasPrefix(label(metric, "endpoint"), "sql:") {
				n += int(metric.GetCounter().GetValue())
			}
		}
	}
	return n
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// Maria Garcia calls: her Intercom contact and her database records are
// one person, with one timeline of both, paged with stable cursors; the
// existing queries answer as they did.
func TestCallerAcrossSources(t *testing.T) {
	customerDBs(t, func(t *testing.T, dbURL string) {
		env := newTestEnvWith(t, emulator.Options{}, "CUSTOMER_DB_URL", dbURL)
		var got callerAnswer
		env.mustQuery(t, callerQuery, map[string]any{"phone": "(415) 555-0142", "first": 100}, &got)
		if got.Caller.Phone != "+14155550142" || len(got.Caller.People) != 1 {
			t.Fatalf("caller: %+v", got.Caller)
		}
		maria := got.Caller.People[0]
		if maria.Name != "Maria Garcia" || maria.Rank != 1 || !strings.HasPrefix(maria.ID, "person_") {
			t.Errorf("person: %s %q rank %d", maria.ID, maria.Name, maria.Rank)
		}
		// Intercom's contact first; the old record joined through her email.
		if ids := got.contactIDs(0); len(ids) != 3 || ids[0] != emulator.DemoCallerID || ids[1] != "sql:c-maria" || ids[2] != "sql:c-maria-old" {
			t.Errorf("contacts: %v", ids)
		}
		var sawSQLPhone, sawEmail bool
		for _, m := range maria.MatchedBy {
			sawSQLPhone = sawSQLPhone || m.Identifier == "phone" && m.Source == "sql" && m.Value == "+14155550142" && m.Exact
			sawEmail = sawEmail || m.Identifier == "email" && m.Source == "sql" && m.Value == "maria.garcia@northwindtraders.com"
		}
		if !sawSQLPhone || !sawEmail {
			t.Errorf("matchedBy: %+v", maria.MatchedBy)
		}
		if !slices.ContainsFunc(maria.Attributes, func(a struct{ Name, Value, Source string }) bool {
			return a.Name == "plan" && a.Value == "Gold" && a.Source == "sql"
		}) {
			t.Errorf("attributes: %+v", maria.Attributes)
		}

		// One timeline of both sources, newest first.
		all := maria.Interactions
		bySource := map[string]int{}
		for i, n := range all.Nodes {
			bySource[n.Source]++
			if i > 0 && n.Date > all.Nodes[i-1].Date {
				t.Errorf("not newest first at %d: %s after %s", i, n.Date, all.Nodes[i-1].Date)
			}
			if n.Source == "sql" && (n.Type != "RECORD" || !strings.HasPrefix(n.ID, "sql:") || n.Kind == "") {
				t.Errorf("a database interaction: %+v", n)
			}
		}
		if bySource["sql"] != 4 || bySource["intercom"] == 0 || all.TotalCount != len(all.Nodes) {
			t.Errorf("timeline: %v of %d", bySource, all.TotalCount)
		}

		// Paged by 7 with the cursors: the same list.
		var paged []string
		after := ""
		for range 50 {
			var page callerAnswer
			vars := map[string]any{"phone": "+14155550142", "first": 7}
			if after != "" {
				vars["after"] = after
			}
			env.mustQuery(t, callerQuery, vars, &page)
			p := page.Caller.People[0].Interactions
			for _, n := range p.Nodes {
				paged = append(paged, n.ID)
			}
			if !p.PageInfo.HasNextPage {
				break
			}
			after = p.PageInfo.EndCursor
		}
		var want []string
		for _, n := range all.Nodes {
			want = append(want, n.ID)
		}
		if !slices.Equal(paged, want) {
			t.Errorf("paged timeline differs:\n got %v\nwant %v", paged, want)
		}

		// Only the database's records, by type and by source.
		for _, vars := range []map[string]any{{"types": []string{"RECORD"}}, {"sources": []string{"sql"}}} {
			vars["phone"], vars["first"] = "+14155550142", 100
			var only callerAnswer
			env.mustQuery(t, callerQuery, vars, &only)
			if n := only.Caller.People[0].Interactions; n.TotalCount != 4 || n.Nodes[0].Kind != "case" {
				t.Errorf("%v: %+v", vars, n)
			}
		}

		// The existing query is Intercom's, as before.
		var old struct {
			ContactsByPhone []struct{ ID, Name, Source string } `json:"contactsByPhone"`
		}
		env.mustQuery(t, `{ contactsByPhone(phone: "(415) 555-0142", defaultCountry: "US") { id name source } }`, nil, &old)
		if len(old.ContactsByPhone) != 1 || old.ContactsByPhone[0].ID != emulator.DemoCallerID || old.ContactsByPhone[0].Source != "intercom" {
			t.Errorf("contactsByPhone: %+v", old.ContactsByPhone)
		}

		// A database contact's own history, by id.
		var hist struct {
			Interactions historyPage `json:"interactions"`
		}
		env.mustQuery(t, `{ interactions(contactId: "sql:c-maria", first: 10) { totalCount nodes { id type kind source } } }`, nil, &hist)
		if hist.Interactions.TotalCount != 3 || hist.Interactions.Nodes[0].ID != "sql:case-77" {
			t.Errorf("interactions of sql:c-maria: %+v", hist.Interactions)
		}
	})
}

// Warm, a caller lookup asks the database nothing; cold, one query per
// view per round (the number, then what it found).
func TestCallerQueriesPerLookup(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "CUSTOMER_DB_URL", sqldbtest.SQLite(t, sqldbtest.Sample))
	before := sqlQueries(t, env.Metrics)
	q := `{ caller(phone: "+14155550142") { people { id contacts { id } } } }`
	env.mustQuery(t, q, nil, nil)
	cold := sqlQueries(t, env.Metrics) - before
	// The number (points + attributes), then her emails (points + attributes).
	if cold != 4 {
		t.Errorf("a cold lookup made %d queries, want 4 (two rounds of one lookup and one attributes query)", cold)
	}
	env.mustQuery(t, q, nil, nil)
	if warm := sqlQueries(t, env.Metrics) - before - cold; warm != 0 {
		t.Errorf("a warm lookup made %d queries, want 0", warm)
	}
}

// The callers of one request (a dashboard of people) go to the database
// together: one query per view per batch, not per caller.
func TestCallersOfOneRequestShareQueries(t *testing.T) {
	solo := `INSERT INTO shop_customers (id, full_name) VALUES ('c-solo-1', 'Solo One'), ('c-solo-2', 'Solo Two');
INSERT INTO shop_phones (customer_id, number) VALUES ('c-solo-1', '+14155550161'), ('c-solo-2', '+14155550162');`
	env := newTestEnvWith(t, emulator.Options{}, "CUSTOMER_DB_URL", sqldbtest.SQLite(t, sqldbtest.Sample, solo))
	before := sqlQueries(t, env.Metrics)
	// Three numbers only the database has, none with an email or another
	// number to follow: one round.
	var got map[string]struct {
		People []struct{ Name string }
	}
	env.mustQuery(t, `{ a: caller(phone: "+14155550161") { people { name } } b: caller(phone: "+14155550162") { people { name } }
		c: caller(phone: "+1 415-555-0199") { people { name } } }`, nil, &got)
	for alias, want := range map[string]string{"a": "Solo One", "b": "Solo Two", "c": "Sam Spelling"} {
		if p := got[alias].People; len(p) != 1 || p[0].Name != want {
			t.Errorf("%s: %+v, want %s", alias, p, want)
		}
	}
	// One batch: points and attributes (two, should a caller's field
	// start after the first batch left).
	if n := sqlQueries(t, env.Metrics) - before; n > 4 {
		t.Errorf("three callers in one request made %d queries, want 2 (one batch of points and attributes; 6 would be one per caller)", n)
	}
}

func TestCallerIdentityRules(t *testing.T) {
	customerDBs(t, func(t *testing.T, dbURL string) {
		env := newTestEnvWith(t, emulator.Options{}, "CUSTOMER_DB_URL", dbURL,
			"IDENTITY_BLOCKED_VALUES", "maria.garcia@northwindtraders.com")
		var got callerAnswer
		env.mustQuery(t, callerQuery, map[string]any{"phone": "+1 415 555 0142", "first": 1}, &got)
		if ids := got.contactIDs(0); len(got.Caller.People) != 1 || !slices.Equal(ids, []string{emulator.DemoCallerID, "sql:c-maria"}) {
			t.Errorf("a blocked email joins nobody: %v", ids)
		}

		// A switchboard: four contacts, found, never merged; ranked by
		// their last activity; each match says it is shared.
		env.mustQuery(t, callerQuery, map[string]any{"phone": "(415) 555-0100", "first": 1}, &got)
		var names []string
		for _, p := range got.Caller.People {
			names = append(names, p.Name)
			if len(p.Contacts) != 1 || !p.MatchedBy[0].Shared {
				t.Errorf("%s: contacts %v matchedBy %+v", p.Name, p.Contacts, p.MatchedBy)
			}
		}
		if strings.Join(names, ",") != "Gus Desk,Fay Desk,Eli Desk,Dana Desk" {
			t.Errorf("switchboard people: %v", names)
		}

		// A number stored as "(415) 555-0199" is found, not exact.
		env.mustQuery(t, callerQuery, map[string]any{"phone": "415-555-0199", "first": 1}, &got)
		if len(got.Caller.People) != 1 || got.Caller.People[0].Name != "Sam Spelling" || got.Caller.People[0].MatchedBy[0].Exact {
			t.Errorf("a stored spelling: %+v", got.Caller.People)
		}
	})
}

func TestMutationsRefuseDatabaseIDs(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "CUSTOMER_DB_URL", sqldbtest.SQLite(t, sqldbtest.Sample))
	notes := len(env.Intercom.Workspace.Notes(emulator.DemoCallerID))
	for name, q := range map[string]string{
		"contactId": `mutation { addNote(input: {contactId: "sql:c-maria", body: "hi"}) { note { id } } }`,
		"id":        `mutation { updateContact(input: {id: "sql:c-maria", name: "X"}) { contact { id } } }`,
	} {
		r := env.query(t, q, nil, nil)
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != name {
			t.Errorf("%s: %d %+v", name, r.Status, r.Errors)
		}
	}
	if n := len(env.Intercom.Workspace.Notes(emulator.DemoCallerID)); n != notes {
		t.Errorf("a note reached Intercom: %d notes, %d before", n, notes)
	}
}

// Text meant to break out of a SQL literal, through every input that
// reaches the database, finds nothing and changes nothing.
func TestCustomerDBInjection(t *testing.T) {
	customerDBs(t, func(t *testing.T, dbURL string) {
		env := newTestEnvWith(t, emulator.Options{}, "CUSTOMER_DB_URL", dbURL, "TALKDESK_RECORD_KINDS", "order")
		for _, evil := range []string{"sql:x' OR '1'='1", "sql:'); DROP TABLE shop_orders; --", `sql:c-maria' --`, "sql:\"]') OR 1=1 --"} {
			// An id is refused before any source, or finds nothing.
			var hist struct {
				Interactions historyPage `json:"interactions"`
			}
			r := env.query(t, `query($id: ID!) { interactions(contactId: $id) { totalCount nodes { id } } }`, map[string]any{"id": evil}, &hist)
			if r.code() != "BAD_USER_INPUT" && (len(r.Errors) > 0 || hist.Interactions.TotalCount != 0) {
				t.Errorf("%q: %+v, %d interactions", evil, r.Errors, hist.Interactions.TotalCount)
			}
			r = env.query(t, `query($p: String!) { caller(phone: $p) { people { id } } }`, map[string]any{"p": evil}, nil)
			if r.code() != "BAD_USER_INPUT" {
				t.Errorf("caller(%q): %+v", evil, r.Errors)
			}
			var got callerAnswer
			env.mustQuery(t, callerQuery, map[string]any{"phone": "+14155550142", "first": 100, "sources": []string{evil}}, &got)
			if got.Caller.People[0].Interactions.TotalCount != 0 {
				t.Errorf("sources: [%q] matched something", evil)
			}
		}
		// Emails reach the database from the bridge: a quoted local part is
		// a valid address that holds quotes.
		for _, email := range []string{`"x' OR '1'='1"@example.com`, `"'); DELETE FROM shop_orders; --"@example.com`} {
			body, _ := json.Marshal(map[string]any{"auth": testAuth(), "meta": map[string]any{"interaction_types": []string{"order"}},
				"data": map[string]any{"contact_emails": []string{email}}})
			r := bridgePost(t, env.URL+"/talkdesk/interaction_update", string(body))
			if r.Status != 200 || strings.TrimSpace(string(r.Body)) != "[]" {
				t.Errorf("bridge with %s: HTTP %d %s", email, r.Status, r.Body)
			}
		}
		var got callerAnswer
		env.mustQuery(t, callerQuery, map[string]any{"phone": "+14155550142", "first": 100, "types": []string{"RECORD"}}, &got)
		if got.Caller.People[0].Interactions.TotalCount != 4 {
			t.Errorf("the records are intact: %d", got.Caller.People[0].Interactions.TotalCount)
		}
	})
}

// The database stopped, then frozen: Intercom's data is still served,
// within the database's timeout, with one error naming the source.
func TestCustomerDBFailureIsolation(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL: scripts/test.sh starts one")
	}
	cluster := sqldbtest.Private(t)
	dbURL := sqldbtest.CreateDatabase(t, cluster.URL(), sqldbtest.Sample)
	env := newTestEnvWith(t, emulator.Options{}, "CUSTOMER_DB_URL", dbURL, "CUSTOMER_DB_TIMEOUT", "500ms",
		"CACHE_ENABLED", "false", "REQUEST_TIMEOUT", "30s")
	q := `{ caller(phone: "+14155550142") { people { name contacts { id source } interactions(first: 100) { totalCount nodes { source } } } } }`

	lookup := func(t *testing.T) (callerAnswer, gqlResponse, time.Duration) {
		t.Helper()
		var got callerAnswer
		start := time.Now()
		r := env.query(t, q, nil, &got)
		return got, r, time.Since(start)
	}
	check := func(t *testing.T) {
		t.Helper()
		got, r, took := lookup(t)
		if r.Status != 200 || len(got.Caller.People) != 1 || got.contactIDs(0)[0] != emulator.DemoCallerID || len(got.contactIDs(0)) != 1 {
			t.Fatalf("Intercom's Maria alone: HTTP %d %+v %+v", r.Status, got.Caller.People, r.Errors)
		}
		if got.Caller.People[0].Interactions.TotalCount == 0 {
			t.Error("Intercom's history is missing")
		}
		var sqlErrs int
		for _, e := range r.Errors {
			if e.Extensions["source"] == "sql" && e.Extensions["code"] == "UPSTREAM_UNAVAILABLE" {
				sqlErrs++
			}
		}
		if sqlErrs != 1 || len(r.Errors) != 1 {
			t.Errorf("errors: %+v, want one naming the sql source", r.Errors)
		}
		// Far below the request's 30 s: the lookup waited for the
		// database's 500 ms, not for the database.
		if took > 10*time.Second {
			t.Errorf("the answer took %s", took)
		}
	}

	got, r, _ := lookup(t)
	if len(r.Errors) != 0 || len(got.contactIDs(0)) != 3 {
		t.Fatalf("with the database up: %+v %+v", got.Caller.People, r.Errors)
	}
	t.Run("frozen", func(t *testing.T) {
		thaw, err := cluster.Freeze()
		if err != nil {
			t.Fatal(err)
		}
		defer thaw()
		check(t)
	})
	// Thawed, it serves again (a connection given up on is replaced).
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, r, _ = lookup(t)
		if len(r.Errors) == 0 && len(got.contactIDs(0)) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the thaw: %+v %+v", got.Caller.People, r.Errors)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Run("stopped", func(t *testing.T) {
		cluster.Stop()
		check(t)
	})
}

// The demo: no INTERCOM_TOKEN, no CUSTOMER_DB_URL. Maria Garcia is one
// person with her Intercom history and her orders in one timeline.
func TestDemoCustomerDB(t *testing.T) {
	cfg, err := config.Load(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	app, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	srv := httptest.NewServer(app.Handler())
	defer srv.Close()
	env := &testEnv{URL: srv.URL}
	var got callerAnswer
	env.mustQuery(t, callerQuery, map[string]any{"phone": "(415) 555-0142", "first": 100}, &got)
	if len(got.Caller.People) != 1 || got.Caller.People[0].Name != "Maria Garcia" {
		t.Fatalf("people: %+v", got.Caller.People)
	}
	kinds := map[string]int{}
	for _, n := range got.Caller.People[0].Interactions.Nodes {
		kinds[n.Source+"/"+n.Kind]++
	}
	if kinds["sql/order"] != 3 || kinds["sql/case"] != 1 || kinds["intercom/conversation"] == 0 {
		t.Errorf("Maria's timeline: %v", kinds)
	}
	var sw callerAnswer
	env.mustQuery(t, callerQuery, map[string]any{"phone": "(415) 555-0100", "first": 1}, &sw)
	if len(sw.Caller.People) != 4 {
		t.Errorf("the switchboard: %d people", len(sw.Caller.People))
	}
	b, _ := json.Marshal(sw)
	if !strings.Contains(string(b), `"Shared":true`) {
		t.Errorf("switchboard matches are shared: %s", b)
	}
}

// A trigger's NOTIFY tdi_changes drops what the cache holds of the contact
// at once, long before its TTL.
func TestCustomerDBNotifyInvalidates(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL: scripts/test.sh starts one")
	}
	dbURL := sqldbtest.Postgres(t, sqldbtest.Sample, `
CREATE FUNCTION tdi_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('tdi_changes', COALESCE(NEW.customer_id, OLD.customer_id)); RETURN NULL; END $$;
CREATE TRIGGER shop_facts_tdi AFTER INSERT OR UPDATE OR DELETE ON shop_facts FOR EACH ROW EXECUTE FUNCTION tdi_notify();`)
	env := newTestEnvWith(t, emulator.Options{}, "CUSTOMER_DB_URL", dbURL, "CUSTOMER_DB_CACHE_TTL", "1h")
	plan := func() string {
		var got callerAnswer
		env.mustQuery(t, callerQuery, map[string]any{"phone": "+14155550142", "first": 1}, &got)
		for _, a := range got.Caller.People[0].Attributes {
			if a.Name == "plan" {
				return a.Value
			}
		}
		return ""
	}
	if p := plan(); p != "Gold" {
		t.Fatalf("plan = %q", p)
	}
	// Without a notification the cache answers: the change is not seen.
	sqldbtest.Exec(t, dbURL, "ALTER TABLE shop_facts DISABLE TRIGGER shop_facts_tdi",
		"UPDATE shop_facts SET value = 'Silver' WHERE customer_id = 'c-maria' AND name = 'plan'",
		"ALTER TABLE shop_facts ENABLE TRIGGER shop_facts_tdi")
	if p := plan(); p != "Gold" {
		t.Fatalf("without a NOTIFY, plan = %q: the test does not exercise the cache", p)
	}
	deadline := time.Now().Add(15 * time.Second)
	for plan() != "Platinum" {
		if time.Now().After(deadline) {
			t.Fatal("the NOTIFY did not invalidate the cached contact")
		}
		// The trigger notifies; the listener may not be listening yet on
		// the first update, so each round updates again.
		sqldbtest.Exec(t, dbURL, "UPDATE shop_facts SET value = 'Platinum' WHERE customer_id = 'c-maria' AND name = 'plan'")
		time.Sleep(300 * time.Millisecond)
	}
}

// The bridge declares the database kinds of TALKDESK_RECORD_KINDS and
// answers interaction_update with the person's records beside Intercom's.
func TestBridgeServesDatabaseRecords(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{Phone: true}, "CUSTOMER_DB_URL", sqldbtest.SQLite(t, sqldbtest.Sample),
		"TALKDESK_RECORD_KINDS", "order, case_file")
	doc := get(t, env.URL+"/talkdesk/integration.json")
	var integration struct {
		InteractionTypes []string `json:"interaction_types"`
	}
	if err := json.Unmarshal([]byte(doc), &integration); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(integration.InteractionTypes, []string{"conversation", "ticket", "note", "call", "order", "case_file"}) {
		t.Errorf("interaction_types: %v", integration.InteractionTypes)
	}
	ask := func(t *testing.T, types []string, data map[string]any) []talkdeskInteraction {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"auth": testAuth(), "meta": map[string]any{"interaction_types": types}, "data": data})
		r := bridgePost(t, env.URL+"/talkdesk/interaction_update", string(body))
		if r.Status != 200 {
			t.Fatalf("HTTP %d %s", r.Status, r.Body)
		}
		var list []talkdeskInteraction
		r.decode(t, &list)
		return list
	}
	// Found by Intercom's id: her orders (joined through her number and
	// email, the old record's too) beside her notes, newest first.
	list := ask(t, []string{"note", "order"}, map[string]any{"contact_external_id": emulator.DemoCallerID})
	count := map[string]int{}
	for i, it := range list {
		count[it.Type]++
		if i > 0 && it.Date > list[i-1].Date {
			t.Errorf("not newest first: %s after %s", it.Date, list[i-1].Date)
		}
		if it.Type == "order" && (!strings.HasPrefix(it.ID, "sql:order-") || !slices.Contains([]string{"solved", "closed"}, it.Status) || it.Priority != "none") {
			t.Errorf("an order: %+v", it)
		}
	}
	if count["order"] != 3 || count["note"] == 0 || len(count) != 2 {
		t.Errorf("types answered: %v", count)
	}
	// Only the database's kind, by a number Intercom does not know.
	list = ask(t, []string{"order"}, map[string]any{"contact_phones": []string{"+14155550111"}})
	if len(list) != 1 || list[0].ID != "sql:order-2001" || list[0].Status != "solved" {
		t.Errorf("by the database's own number: %+v", list)
	}
	// A kind the database has but the setting does not declare is not served.
	if list := ask(t, []string{"case"}, map[string]any{"contact_external_id": emulator.DemoCallerID}); slices.ContainsFunc(list, func(it talkdeskInteraction) bool {
		return strings.HasPrefix(it.ID, "sql:")
	}) {
		t.Errorf("an undeclared kind was served: %+v", list)
	}
}

func TestRecordKindsThatClashAreRefused(t *testing.T) {
	for _, kind := range []string{"ticket", "Case", "notes"} {
		_, err := config.Load(nil, func(k string) string {
			return map[string]string{"TALKDESK_RECORD_KINDS": "order," + kind}[k]
		}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "TALKDESK_RECORD_KINDS") {
			t.Errorf("%s: %v", kind, err)
		}
	}
}

// --check-customer-db validates a database against the contract and exits,
// naming what is missing.
func TestCheckCustomerDBFlag(t *testing.T) {
	noEnv := func(string) string { return "" }
	var out strings.Builder
	good := sqldbtest.SQLite(t, sqldbtest.Sample)
	if err := run(context.Background(), []string{"--check-customer-db", "--customer-db-url", good}, noEnv, &out); err != nil {
		t.Fatalf("a database that matches: %v", err)
	}
	if !strings.Contains(out.String(), "matches the contract") {
		t.Errorf("output: %s", out.String())
	}
	bad := sqldbtest.SQLite(t, "DROP VIEW customer_contact_points")
	err := run(context.Background(), []string{"--check-customer-db", "--customer-db-url", bad}, noEnv, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "the view customer_contact_points is missing") {
		t.Errorf("a database without a view: %v", err)
	}
	// The server refuses to start on it too.
	cfg, _ := config.Load(nil, func(k string) string { return map[string]string{"CUSTOMER_DB_URL": bad}[k] }, io.Discard)
	if _, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil ||
		!strings.Contains(err.Error(), "customer_contact_points") {
		t.Errorf("New on a database without a view: %v", err)
	}
}
