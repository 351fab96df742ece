package intercom_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/intercom"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
	"github.com/talkdesk-intercom/api/sources/phone"
)

const token = "client-test-token"

func start(t *testing.T) (*intercom.Client, *emulator.Workspace) {
	t.Helper()
	return startWith(t, intercom.Config{})
}

func startWith(t *testing.T, cfg intercom.Config) (*intercom.Client, *emulator.Workspace) {
	t.Helper()
	em, err := emulator.Start(emulator.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	cfg.Token, cfg.BaseURL = token, em.URL
	c, err := intercom.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, em.Workspace
}

func TestNewValidatesConfig(t *testing.T) {
	if _, err := intercom.New(intercom.Config{}); err == nil {
		t.Error("New without a token succeeded")
	}
	if _, err := intercom.New(intercom.Config{Token: "x", BaseURL: "ftp://example"}); err == nil {
		t.Error("New with an ftp base URL succeeded")
	}
	for region, want := range map[string]string{"us": "https://api.intercom.io", "EU": "https://api.eu.intercom.io", "au": "https://api.au.intercom.io"} {
		if got, ok := intercom.RegionBaseURL(region); !ok || got != want {
			t.Errorf("RegionBaseURL(%s) = %s, want %s", region, got, want)
		}
	}
	if _, ok := intercom.RegionBaseURL("mars"); ok {
		t.Error("RegionBaseURL(mars) succeeded")
	}
}

func TestValidateAndHeaders(t *testing.T) {
	var mu sync.Mutex
	var endpoints []string
	c, ws := startWith(t, intercom.Config{Observe: func(endpoint string, status int, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		endpoints = append(endpoints, endpoint)
	}})
	got, err := c.Validate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != emulator.DefaultWorkspaceID || got.Admin.ID != ws.Me().ID {
		t.Errorf("Validate = %+v, want workspace %s admin %s", got, emulator.DefaultWorkspaceID, ws.Me().ID)
	}
	if v := ws.LastVersion(); v != "2.16" {
		t.Errorf("Intercom-Version sent = %q, want 2.16", v)
	}
	if !slices.Equal(endpoints, []string{"GET /me"}) {
		t.Errorf("observed %v, want [GET /me]", endpoints)
	}
}

func TestErrorsAreCoded(t *testing.T) {
	em, err := emulator.Start(emulator.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	bad, _ := intercom.New(intercom.Config{Token: "wrong", BaseURL: em.URL})
	_, err = bad.Validate(context.Background())
	if sources.ErrorCode(err) != sources.EUnauthenticated || strings.Contains(err.Error(), "wrong") {
		t.Errorf("bad token: %v, want UNAUTHENTICATED without the token", err)
	}
	good, _ := intercom.New(intercom.Config{Token: token, BaseURL: em.URL})
	if _, err := good.Contact(context.Background(), "nope"); sources.ErrorCode(err) != sources.ENotFound {
		t.Errorf("unknown contact: %v, want NOT_FOUND", err)
	}
	em.Workspace.SetFaults(emulator.Faults{Fail429Next: 5})
	_, err = good.Validate(context.Background())
	var coded *sources.Error
	if sources.ErrorCode(err) != sources.ERateLimited || !asError(err, &coded) || coded.RetryAfterSeconds <= 0 {
		t.Errorf("429: %v, want RATE_LIMITED with a retry-after", err)
	}
	em.Workspace.SetFaults(emulator.Faults{SlowRate: 1, SlowDelay: 2 * time.Second})
	slow, _ := intercom.New(intercom.Config{Token: token, BaseURL: em.URL, Timeout: 100 * time.Millisecond})
	if _, err := slow.Validate(context.Background()); sources.ErrorCode(err) != sources.EUpstreamUnavailable || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("slow upstream: %v, want UPSTREAM_UNAVAILABLE timed out", err)
	}
}

func asError(err error, target **sources.Error) bool {
	e, ok := err.(*sources.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestContactsByIDs(t *testing.T) {
	c, ws := start(t)
	all := ws.Contacts()
	ids := []string{all[0].ID, all[1].ID, all[2].ID, "missing-id"}
	ws.ResetCalls()
	got, err := c.ContactsByIDs(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range all[:3] {
		if got[want.ID] == nil || got[want.ID].Name != want.Name {
			t.Errorf("contact %s = %+v, want %q", want.ID, got[want.ID], want.Name)
		}
	}
	if _, ok := got["missing-id"]; ok {
		t.Error("a missing id is in the result")
	}
	// One search for the batch, one read for the id the search missed.
	if s, g := ws.Calls(emulator.EndpointSearchContacts), ws.Calls(emulator.EndpointContact); s != 1 || g != 1 {
		t.Errorf("calls: %d searches and %d reads, want 1 and 1", s, g)
	}
}

func TestContactsByPhones(t *testing.T) {
	c, ws := start(t)
	demo, _ := ws.DemoCaller()
	var legacy emulator.Contact
	for _, ct := range ws.Contacts() {
		if ct.Legacy && ct.Phone != "" {
			legacy = ct
			break
		}
	}
	legacyE164, err := phone.Normalize(legacy.Phone, legacy.LocationCountry)
	if err != nil {
		t.Fatal(err)
	}
	ws.ResetCalls()
	got, err := c.ContactsByPhones(context.Background(), []string{"+14155550142", legacyE164, "+12025550199"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got["+14155550142"]) != 1 || got["+14155550142"][0].ID != demo.ID {
		t.Errorf("demo caller: %+v", got["+14155550142"])
	}
	if len(got[legacyE164]) != 1 || got[legacyE164][0].ID != legacy.ID {
		t.Errorf("legacy contact %q (%s): %+v", legacy.Phone, legacyE164, got[legacyE164])
	}
	if len(got["+12025550199"]) != 0 {
		t.Errorf("unknown number matched %+v", got["+12025550199"])
	}
	// One search for all three: formatted_phone IN [...] OR phone IN [spellings].
	if n := ws.Calls(emulator.EndpointSearchContacts); n != 1 {
		t.Errorf("%d searches, want 1", n)
	}

	// An API version without formatted_phone goes straight to the fallback.
	old, ws2 := startWith(t, intercom.Config{Version: "2.11"})
	got, err = old.ContactsByPhones(context.Background(), []string{"+14155550142"})
	if err != nil || len(got["+14155550142"]) != 1 {
		t.Errorf("version 2.11: %v, %+v", err, got)
	}
	if n := ws2.Calls(emulator.EndpointSearchContacts); n != 1 {
		t.Errorf("version 2.11: %d searches, want 1", n)
	}
}

func TestContactsByEmailsAndSearch(t *testing.T) {
	c, ws := start(t)
	demo, _ := ws.DemoCaller()
	got, err := c.ContactsByEmails(context.Background(), []string{strings.ToUpper(demo.Email), "nobody@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if l := got[strings.ToUpper(demo.Email)]; len(l) != 1 || l[0].ID != demo.ID {
		t.Errorf("by email: %+v", got)
	}
	found, err := c.SearchContacts(context.Background(), "Garcia", 5)
	if err != nil || len(found) == 0 || len(found) > 5 {
		t.Fatalf("SearchContacts: %v, %d results", err, len(found))
	}
	for _, ct := range found {
		if !strings.Contains(strings.ToLower(ct.Name+ct.Emails[0]), "garcia") {
			t.Errorf("%q <%v> does not contain garcia", ct.Name, ct.Emails)
		}
	}
}

func TestListContactsPagesInUpdatedOrder(t *testing.T) {
	c, ws := start(t)
	var all []*sources.Contact
	cursor := ""
	for {
		page, err := c.ListContacts(context.Background(), sources.ContactPageRequest{Cursor: cursor, Limit: 120})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != len(ws.Contacts()) {
			t.Errorf("Total = %d, want %d", page.Total, len(ws.Contacts()))
		}
		all = append(all, page.Contacts...)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(all) != len(ws.Contacts()) {
		t.Errorf("listed %d contacts, want %d", len(all), len(ws.Contacts()))
	}
	if !slices.IsSortedFunc(all, func(a, b *sources.Contact) int { return a.UpdatedAt.Compare(b.UpdatedAt) }) {
		t.Error("contacts are not in ascending updated_at order")
	}
}

// Intercom matches dates by calendar day: the client must still return every
// contact changed at or after `since`, and none before, even late in a day.
func TestListContactsUpdatedSinceIsExact(t *testing.T) {
	c, ws := start(t)
	all := ws.Contacts()
	for _, since := range []time.Time{all[10].UpdatedAt, all[10].UpdatedAt.Add(time.Second), time.Now().Add(-time.Hour)} {
		want := 0
		for _, ct := range all {
			if !ct.UpdatedAt.Before(since) {
				want++
			}
		}
		got := 0
		cursor := ""
		for {
			page, err := c.ListContacts(context.Background(), sources.ContactPageRequest{UpdatedSince: since, Cursor: cursor, Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			for _, ct := range page.Contacts {
				if ct.UpdatedAt.Before(since) {
					t.Errorf("contact updated %s is before %s", ct.UpdatedAt, since)
				}
			}
			got += len(page.Contacts)
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		if got != want {
			t.Errorf("since %s: %d contacts, want %d", since, got, want)
		}
	}
}

func TestCompaniesAndAgents(t *testing.T) {
	c, ws := start(t)
	var owner emulator.Contact
	for _, ct := range ws.Contacts() {
		if len(ct.CompanyIDs) >= 2 {
			owner = ct
			break
		}
	}
	list, err := c.ContactCompanies(context.Background(), owner.ID)
	if err != nil || len(list) != len(owner.CompanyIDs) {
		t.Fatalf("ContactCompanies(%s) = %d, %v; want %d", owner.ID, len(list), err, len(owner.CompanyIDs))
	}
	ws.ResetCalls()
	ids := append(slices.Clone(owner.CompanyIDs), "missing-company")
	got, err := c.CompaniesByIDs(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range owner.CompanyIDs {
		want, _ := ws.Company(id)
		if got[id] == nil || got[id].Name != want.Name || !strings.Contains(got[id].URL, "/companies/"+id) {
			t.Errorf("company %s = %+v, want %q", id, got[id], want.Name)
		}
	}
	if n := ws.Calls(emulator.EndpointCompany); n != len(ids) {
		t.Errorf("%d company reads, want %d", n, len(ids))
	}
	agents, err := c.ListAgents(context.Background())
	if err != nil || len(agents) != len(ws.Admins()) {
		t.Errorf("ListAgents = %d, %v; want %d", len(agents), err, len(ws.Admins()))
	}
}

// The live API differs from its description in places (NOTES.md): ids as
// numbers, avatars as strings or objects, companies under "companies".
func TestLenientDecoding(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/contacts/123":
			json.NewEncoder(w).Encode(map[string]any{
				"type": "contact", "id": 123, "workspace_id": "ws1", "role": "user", "name": " Ann ",
				"phone": "020 7946 0958", "location": map[string]any{"country": "United Kingdom", "country_code": "GBR"},
				"created_at": "1700000000", "updated_at": 1700000001.0, "custom_attributes": map[string]any{"job_title": "CTO"},
				"social_profiles": map[string]any{"data": []any{map[string]any{"name": "Twitter", "url": "https://twitter.com/ann_x"}}},
				"companies":       map[string]any{"data": []any{map[string]any{"id": 77}}, "total_count": 1},
				"notes":           map[string]any{"total_count": 3}, "avatar": nil,
			})
		case "/admins":
			json.NewEncoder(w).Encode(map[string]any{"admins": []any{
				map[string]any{"id": 9, "name": "A", "avatar": "https://img/a.png"},
				map[string]any{"id": "10", "name": "B", "avatar": map[string]any{"image_url": "https://img/b.png"}},
			}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, _ := intercom.New(intercom.Config{Token: "t", BaseURL: srv.URL})
	ct, err := c.Contact(context.Background(), "123")
	if err != nil {
		t.Fatal(err)
	}
	if ct.ID != "123" || ct.Name != "Ann" || ct.Phones[0] != "+442079460958" || ct.Location.CountryCode != "GB" ||
		ct.CreatedAt.Unix() != 1700000000 || ct.Title != "CTO" || ct.Twitter != "ann_x" || ct.CompanyIDs[0] != "77" ||
		ct.NotesCount != 3 || ct.URL != "https://app.intercom.com/a/apps/ws1/users/123" {
		t.Errorf("decoded %+v", ct)
	}
	agents, err := c.ListAgents(context.Background())
	if err != nil || agents[0].ID != "9" || agents[0].AvatarURL != "https://img/a.png" || agents[1].AvatarURL != "https://img/b.png" {
		t.Errorf("agents %+v, %v", agents, err)
	}
}

func TestRegionalDeepLinks(t *testing.T) {
	for base, app := range map[string]string{
		"https://api.eu.intercom.io": "https://app.eu.intercom.com",
		"https://api.au.intercom.io": "https://app.au.intercom.com",
		"https://api.intercom.io":    "https://app.intercom.com",
	} {
		if got := intercom.AppURLFor(base); got != app {
			t.Errorf("AppURLFor(%s) = %s, want %s", base, got, app)
		}
	}
}
