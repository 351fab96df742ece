package server

import (
	"slices"
	"testing"

	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

const dashboardQuery = `query Dashboard($ids: [ID!]!) {
	contactsByIds(ids: $ids) { id name phone company { id name } companies { id name } } }`

// The agent dashboard: 50 contacts with their companies. Cold, it costs one
// contact search plus one read per unique company; warm, nothing upstream and
// one MGET per loader batch.
func TestDashboardOf50ContactsCostsOneCallPerBatchableKind(t *testing.T) {
	// A generous loader wait: how many batches form must not depend on how
	// fast this machine runs the resolvers (-race slows them down).
	env := newTestEnvWith(t, emulator.Options{}, "REDIS_URL", "redis://"+redistest.Addr(t), "LOADER_WAIT", "50ms",
		"CACHE_LOCAL_ENABLED", "false", "RESPONSE_CACHE_ENABLED", "false") // Redis batching itself: no in-process level (or whole answer) in front of it
	ws := env.Intercom.Workspace
	var ids []string
	companies := map[string]bool{}
	for _, c := range ws.Contacts()[:50] {
		ids = append(ids, c.ID)
		for _, co := range c.CompanyIDs {
			companies[co] = true
		}
	}
	ids = append(ids, "no-such-contact")

	type result struct {
		ContactsByIds []*struct {
			ID        string
			Company   *struct{ ID string }
			Companies []struct{ ID string }
		}
	}
	check := func(data result) {
		t.Helper()
		if len(data.ContactsByIds) != 51 || data.ContactsByIds[50] != nil {
			t.Fatalf("got %d contacts (last %+v), want 50 and a null", len(data.ContactsByIds), data.ContactsByIds[50])
		}
		for i, c := range data.ContactsByIds[:50] {
			want, _ := ws.Contact(ids[i])
			var got []string
			for _, co := range c.Companies {
				got = append(got, co.ID)
			}
			if c.ID != ids[i] || !slices.Equal(got, want.CompanyIDs) {
				t.Errorf("contact %d = %s with companies %v, want %s with %v", i, c.ID, got, ids[i], want.CompanyIDs)
			}
		}
	}

	ws.ResetCalls()
	var cold result
	env.mustQuery(t, dashboardQuery, map[string]any{"ids": ids}, &cold)
	check(cold)
	counts := ws.CallCounts()
	if got, want := ws.TotalCalls(), 1+len(companies)+1; got != want {
		t.Errorf("cold: %d upstream calls %v, want %d (1 search + %d unique companies + 1 read of the id the search missed)",
			got, counts, want, len(companies))
	}
	if counts[emulator.EndpointSearchContacts] != 1 || counts[emulator.EndpointCompany] != len(companies) {
		t.Errorf("cold calls by endpoint: %v", counts)
	}

	ws.ResetCalls()
	mgets := metrics.Value(env.Metrics.RedisRoundTrips, "mget")
	trips := metrics.Sum(env.Metrics.RedisRoundTrips)
	var warm result
	env.mustQuery(t, dashboardQuery, map[string]any{"ids": ids}, &warm)
	check(warm)
	if n := ws.TotalCalls(); n != 0 {
		t.Errorf("warm: %d upstream calls %v, want 0", n, ws.CallCounts())
	}
	// Two loader batches (contacts, companies): two MGETs and nothing else.
	if got := metrics.Value(env.Metrics.RedisRoundTrips, "mget") - mgets; got != 2 {
		t.Errorf("warm: %v MGETs, want 2", got)
	}
	if got := metrics.Sum(env.Metrics.RedisRoundTrips) - trips; got != 2 {
		t.Errorf("warm: %v Redis round trips, want 2", got)
	}
}

func TestContactsByIdsValidation(t *testing.T) {
	env := newTestEnv(t)
	many := make([]string, 101)
	for i := range many {
		many[i] = "x"
	}
	for _, ids := range [][]string{many, {"a", ""}} {
		if r := env.query(t, dashboardQuery, map[string]any{"ids": ids}, nil); r.code() != "BAD_USER_INPUT" {
			t.Errorf("ids %d: code %q, want BAD_USER_INPUT", len(ids), r.code())
		}
	}
}

func TestMetricsEndpoint(t *testing.T) {
	env := newTestEnv(t)
	env.mustQuery(t, `query CallerLookup { contactsByPhone(phone: "+14155550142") { id } }`, nil, nil)
	body := get(t, env.URL+"/metrics")
	for _, want := range []string{
		`upstream_calls_total{endpoint="POST /contacts/search",status="200"}`,
		`graphql_operation_duration_seconds_count{operation="CallerLookup"} 1`,
		`cache_lookups_total{kind="phone",result="miss"} 1`,
		`loader_batch_size_count{loader="contacts_by_phone"} 1`,
	} {
		if !contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
