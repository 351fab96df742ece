package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// The fair share of the Intercom budget, as callers meet it. With 120 calls
// a minute (20 a 10-second window) and the default settings, one API key may
// spend 10 calls of a window, 7 of them on bulk work (searches, contact
// syncs), and bulk work stops while 6 calls of the window are left.
const (
	fairKeyA = "fair-key-a-2f81"
	fairKeyB = "fair-key-b-2f81"
	fairKeyC = "fair-key-c-2f81"
)

func newFairEnv(t *testing.T, settings ...string) *testEnv {
	t.Helper()
	return newTestEnvWith(t, emulator.Options{}, append([]string{"INTERCOM_RATE_LIMIT", "120",
		"API_KEYS", fairKeyA + "," + fairKeyB + "," + fairKeyC}, settings...)...)
}

// phonesOf returns n distinct caller numbers of the workspace, so that no
// lookup is answered from another's cache entry.
func phonesOf(t *testing.T, ws *emulator.Workspace, n int) []string {
	t.Helper()
	seen := map[string]bool{}
	var phones []string
	for _, c := range ws.Contacts() {
		if p := c.FormattedPhone; p != "" && !seen[p] && len(phones) < n {
			seen[p] = true
			phones = append(phones, p)
		}
	}
	if len(phones) < n {
		t.Fatalf("the workspace has %d phones, want %d", len(phones), n)
	}
	return phones
}

// floodSearches sends one request of n aliased searchContacts with key and
// returns how many were refused; every refusal must be RATE_LIMITED with a
// retry-after hint.
func floodSearches(t *testing.T, env *testEnv, key string, n int) int {
	t.Helper()
	var q strings.Builder
	q.WriteString("{")
	for i := range n {
		fmt.Fprintf(&q, ` s%d: searchContacts(text: "an", first: 1) { id }`, i)
	}
	q.WriteString(" }")
	r := env.post(t, q.String(), map[string]string{"X-API-Key": key})
	if r.Status != http.StatusOK {
		t.Fatalf("flood of %d searches: HTTP %d %+v", n, r.Status, r.Errors)
	}
	refused := 0
	for _, e := range r.Errors {
		if omitted, ok := e.Extensions["omittedErrors"].(float64); ok {
			// The answer's error list is capped: the rest are summed up.
			if e.Extensions["code"] != "RATE_LIMITED" {
				t.Fatalf("summary of omitted errors: %v; want RATE_LIMITED", e.Extensions)
			}
			refused += int(omitted)
			continue
		}
		retry, _ := e.Extensions["retryAfterSeconds"].(float64)
		if e.Extensions["code"] != "RATE_LIMITED" || retry < 1 || retry > 10 {
			t.Fatalf("refused search: %q, extensions %v; want RATE_LIMITED with retryAfterSeconds 1 to 10", e.Message, e.Extensions)
		}
		refused++
	}
	return refused
}

// lookUp is a screen pop: a caller lookup by phone that must succeed.
func lookUp(t *testing.T, env *testEnv, key, phone string) {
	t.Helper()
	r := env.post(t, `{ contactsByPhone(phone: "`+phone+`") { id } }`, map[string]string{"X-API-Key": key})
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("caller lookup by %s: HTTP %d %+v", key[:10], r.Status, r.Errors)
	}
	if !strings.Contains(string(r.Data), `"id"`) {
		t.Errorf("caller lookup of %s found no contact: %s", phone, r.Data)
	}
}

// One caller's flood of searches spends its share only: the others' caller
// lookups succeed, and so does its own (its share keeps an interactive
// reserve).
func TestFairShareOneCallerCannotSpendTheWorkspacesBudget(t *testing.T) {
	env := newFairEnv(t)
	phones := phonesOf(t, env.Intercom.Workspace, 2)
	before := env.Intercom.Workspace.Calls(emulator.EndpointSearchContacts)

	const n = 100
	refused := floodSearches(t, env, fairKeyA, n)
	if refused == 0 || refused == n {
		t.Fatalf("%d of %d searches refused, want some served and the rest RATE_LIMITED", refused, n)
	}
	if spent := env.Intercom.Workspace.Calls(emulator.EndpointSearchContacts) - before; spent != n-refused {
		t.Errorf("%d searches reached Intercom for %d served", spent, n-refused)
	}
	lookUp(t, env, fairKeyB, phones[0])
	lookUp(t, env, fairKeyA, phones[1])
}

// Bulk work of several callers stops while the interactive reserve is left:
// searches and contact syncs are refused, caller lookups of every caller
// still succeed.
func TestFairShareBulkWorkLeavesInteractiveReadsWorking(t *testing.T) {
	env := newFairEnv(t)
	phones := phonesOf(t, env.Intercom.Workspace, 3)
	for _, key := range []string{fairKeyA, fairKeyB, fairKeyC} {
		if refused := floodSearches(t, env, key, 50); refused == 0 {
			t.Fatalf("50 searches by %s were all served", key[:10])
		}
	}
	sync := env.post(t, `{ contacts(first: 5) { nodes { id } } }`, map[string]string{"X-API-Key": fairKeyC})
	if sync.code() != "RATE_LIMITED" {
		t.Errorf("a contact sync page after the floods: code %q, want RATE_LIMITED", sync.code())
	}
	for i, key := range []string{fairKeyA, fairKeyB, fairKeyC} {
		lookUp(t, env, key, phones[i])
	}
}

// The bridge's callers are named by their auth.api_key: a contact sync
// spends its caller's bulk share, and that caller's interaction retrieval
// (a screen pop) still succeeds.
func TestFairShareOnTheBridge(t *testing.T) {
	env := newFairEnv(t, "TALKDESK_PAGE_SIZE", "2") // a page costs a list and its companies' reads
	phones := phonesOf(t, env.Intercom.Workspace, 2)
	auth := func(key string) string { return `{"token": "` + testToken + `", "api_key": "` + key + `"}` }
	var last bridgeReply
	served := 0
	for range 30 {
		last = bridgePost(t, env.URL+"/talkdesk/contact_sync", `{"auth": `+auth(fairKeyA)+`, "meta": {}}`)
		if last.Status != http.StatusOK {
			break
		}
		served++
	}
	if served == 0 {
		t.Errorf("no contact sync page was served")
	}
	if last.Status != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("30 contact sync pages: last HTTP %d (Retry-After %q) %s; want 429 with Retry-After",
			last.Status, last.Header.Get("Retry-After"), last.Body)
	}
	for i, key := range []string{fairKeyA, fairKeyB} {
		r := bridgePost(t, env.URL+"/talkdesk/interaction_update",
			`{"auth": `+auth(key)+`, "meta": {"interaction_types": ["note"]}, "data": {"contact_phones": ["`+phones[i]+`"]}}`)
		if r.Status != http.StatusOK {
			t.Errorf("interaction retrieval by %s after the syncs: HTTP %d %s", key[:10], r.Status, r.Body)
		}
	}
}

// At the default budget (10,000 calls a minute), one caller's 2,000 aliased
// searches (20 requests of 100, the most aliases a request may have) spend
// at most its share of the window, and the other caller's lookup, and its
// own, still succeed.
func TestCallerLookupWhileAnotherCallerSends2000Searches(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "API_KEYS", fairKeyA+","+fairKeyB)
	phones := phonesOf(t, env.Intercom.Workspace, 2)
	before := env.Intercom.Workspace.Calls(emulator.EndpointSearchContacts)
	refused := 0
	for range 20 {
		refused += floodSearches(t, env, fairKeyA, 100)
	}
	spent := env.Intercom.Workspace.Calls(emulator.EndpointSearchContacts) - before
	// A window is 1,666 calls; one caller's share is half of it, and bulk
	// work keeps 30% of the share for the caller's screen pops.
	if spent+refused != 2000 || spent > 2*833 {
		t.Errorf("%d searches reached Intercom and %d were refused, of 2,000", spent, refused)
	}
	lookUp(t, env, fairKeyB, phones[0])
	lookUp(t, env, fairKeyA, phones[1])
}
