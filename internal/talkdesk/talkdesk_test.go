package talkdesk

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/actions"
	"github.com/talkdesk-intercom/api/sources"
)

func TestParseTime(t *testing.T) {
	want := time.Date(2012, 11, 20, 23, 1, 0, 0, time.UTC)
	for _, s := range []string{
		"2012-11-20 23:01:00 UTC", " 2012-11-20 23:01:00 UTC ", "2012-11-20T23:01:00Z", "2012-11-20T23:01:00.000Z",
		"2012-11-21T00:01:00+01:00", "2012-11-20 23:01:00 +0000", "2012-11-20 23:01:00", "2012-11-20T23:01:00", "1353452460",
	} {
		if got, ok := parseTime(s); !ok || !got.Equal(want) {
			t.Errorf("parseTime(%q) = %s, %v; want %s", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "yesterday", "2012-13-01", "20/11/2012"} {
		if _, ok := parseTime(s); ok {
			t.Errorf("parseTime(%q) accepted", s)
		}
	}
	if got, ok := parseTime("1970-01-01 00:00:00 UTC"); !ok || !got.IsZero() {
		t.Errorf("the epoch reads as %s, want the zero time (everything)", got)
	}
	if got := formatTime(want); got != "2012-11-20 23:01:00 UTC" {
		t.Errorf("formatTime = %q", got)
	}
	if got := formatTime(time.Time{}); got != "1970-01-01 00:00:00 UTC" {
		t.Errorf("formatTime(zero) = %q", got)
	}
}

func TestCheckpointOf(t *testing.T) {
	start := time.Date(2026, 5, 1, 12, 0, 0, 500, time.UTC)
	b := &Bridge{cfg: Config{SearchDelay: 5 * time.Minute}}
	given := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		max  time.Time
		want time.Time
	}{
		{"nothing sent: the checkpoint given", time.Time{}, given},
		{"older than the search delay: the newest update", start.Add(-time.Hour).Truncate(time.Second), start.Add(-time.Hour).Truncate(time.Second)},
		{"within the search delay: held back", start.Add(-time.Minute), start.Add(-5 * time.Minute).Truncate(time.Second)},
	} {
		if got := b.checkpointOf(syncContext{Start: start, Max: c.max}, given); !got.Equal(c.want) {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestEveryCatalogActionRuns(t *testing.T) {
	if missing := missingRunners(); len(missing) > 0 {
		t.Errorf("actions without a bridge runner: %v", missing)
	}
	if len(runners) != len(actions.Catalog()) {
		t.Errorf("%d runners for %d actions", len(runners), len(actions.Catalog()))
	}
}

func TestInBridgeTerms(t *testing.T) {
	err := inBridgeTerms(actions.Problems{
		{Field: "contactId", Message: "contactId is required", Code: sources.EBadUserInput},
		{Field: "adminId", Message: `no admin has id "9"`, Code: sources.ENotFound},
		{Field: "ticketType", Message: `"X" is not a ticket type`, Code: sources.EBadUserInput},
		{Field: "to", Message: "no contact has the number +1; set createContactIfUnknown to create a lead", Code: sources.ENotFound},
	})
	want := []string{
		"meta.contact_external_id is required",
		`meta.agent_external_id: no admin has id "9"`,
		`data.ticket_type: "X" is not a ticket type`,
		"data.to: no contact has the number +1; set data.create_contact_if_unknown to create a lead",
	}
	for i, p := range err.(actions.Problems) {
		if p.Message != want[i] {
			t.Errorf("problem %d: %q, want %q", i, p.Message, want[i])
		}
	}
}

// The derived idempotency key depends on the call's content, not its
// spelling: key order and white space do not change it.
func TestDerivedIdempotencyKey(t *testing.T) {
	decode := func(body string) *call {
		t.Helper()
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		env, err := decodeEnvelope(r)
		if err != nil {
			t.Fatal(err)
		}
		return &call{meta: env.meta, data: env.data}
	}
	a := decode(`{"auth":{"token":"a"},"meta":{"contact_external_id":"1","agent_external_id":"2"},"data":{"body":"hi","x":1.50}}`)
	b := decode(`{"data": {"x": 1.50, "body": "hi"}, "meta": {"agent_external_id": "2", "contact_external_id": "1"}, "auth": {"token": "b"}}`)
	c := decode(`{"auth":{"token":"a"},"meta":{"contact_external_id":"1","agent_external_id":"2"},"data":{"body":"hi!","x":1.50}}`)
	ka, kb, kc := idempotencyKey("", "add_note", true, a), idempotencyKey("", "add_note", true, b), idempotencyKey("", "add_note", true, c)
	if ka != kb || ka == kc || !strings.HasPrefix(ka, "talkdesk:") {
		t.Errorf("keys %s %s %s: want the first two equal, the third different", ka, kb, kc)
	}
	if k := idempotencyKey("", "create_ticket", true, a); k == ka {
		t.Error("another action has the same key")
	}
	if k := idempotencyKey(" td-42 ", "add_note", true, a); k != "td-42" {
		t.Errorf("the caller's key: %q", k)
	}
	if k := idempotencyKey("", "update_contact", false, a); k != "" {
		t.Errorf("an update got a derived key %q", k)
	}
}

// Whatever the body, decoding answers a value or a 400, never a panic.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range []string{`{"auth":{"token":"t"},"meta":{"offset":2},"data":{"a":[1,{"b":null}]}}`, `[]`, `null`, `{"auth":5}`, "\x00", `{"auth":{"token":"t","region":"EU"}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		env, err := decodeEnvelope(r)
		if err != nil {
			if status(err) != http.StatusBadRequest {
				t.Fatalf("%q: status %d, want 400", body, status(err))
			}
			return
		}
		for _, o := range []object{env.meta, env.data} {
			for k := range o.fields {
				_, _ = o.str(k)
				_, _ = o.strs(k)
				_, _ = o.boolean(k)
				_, _ = o.integer(k)
			}
		}
	})
}

// missingRunners lists the catalogue's actions without a runner.
func missingRunners() []string {
	var missing []string
	for _, name := range actionNames() {
		if _, ok := runners[name]; !ok {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	return missing
}

// status is the HTTP status the bridge answers for err.
func status(err error) int {
	code, _ := present(err)
	return code
}
