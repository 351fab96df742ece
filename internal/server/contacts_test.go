package server

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
	"github.com/talkdesk-intercom/api/sources/phone"
)

const contactFields = `id name role email phone phones emails title url photoUrl address twitter websites
	externalId notesCount createdAt updatedAt customAttributes tags { id name }
	location { country countryCode city region }
	company { id name } companies { id name website industry size plan url }`

type contactJSON struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Role      string   `json:"role"`
	Email     *string  `json:"email"`
	Phone     *string  `json:"phone"`
	Phones    []string `json:"phones"`
	Emails    []string `json:"emails"`
	URL       *string  `json:"url"`
	UpdatedAt string   `json:"updatedAt"`
	Company   *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"company"`
	Companies []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"companies"`
}

func TestContactsByPhoneRecognisesTheDemoCaller(t *testing.T) {
	env := newTestEnv(t)
	want, _ := env.Intercom.Workspace.DemoCaller()
	formats := []struct{ phone, country string }{
		{"(415) 555-0142", "US"},
		{"415.555.0142", "US"},
		{"+1 415 555 0142", ""},
		{"001 415-555-0142", ""},
		{"tel:+14155550142", ""},
		{"+14155550142", "GB"}, // an explicit country code wins over the default
	}
	for _, f := range formats {
		t.Run(f.phone, func(t *testing.T) {
			var data struct{ ContactsByPhone []contactJSON }
			env.mustQuery(t, `query($p: String!, $c: String) { contactsByPhone(phone: $p, defaultCountry: $c) { `+contactFields+` } }`,
				map[string]any{"p": f.phone, "c": f.country}, &data)
			if len(data.ContactsByPhone) != 1 {
				t.Fatalf("got %d contacts, want 1 (%s)", len(data.ContactsByPhone), want.Name)
			}
			got := data.ContactsByPhone[0]
			if got.ID != want.ID || got.Name != emulator.DemoCallerName {
				t.Errorf("got %s %q, want %s %q", got.ID, got.Name, want.ID, emulator.DemoCallerName)
			}
			if got.Phone == nil || *got.Phone != "+14155550142" {
				t.Errorf("phone = %s, want E.164 +14155550142", deref(got.Phone))
			}
			if got.URL == nil || !strings.HasSuffix(*got.URL, "/users/"+want.ID) || !strings.HasPrefix(*got.URL, "https://app.intercom.com/a/apps/") {
				t.Errorf("url = %s, want a link into Intercom's web app", deref(got.URL))
			}
			if len(got.Companies) != len(want.CompanyIDs) {
				t.Errorf("got %d companies, want %d", len(got.Companies), len(want.CompanyIDs))
			}
			if len(want.CompanyIDs) > 0 && (got.Company == nil || got.Company.ID != want.CompanyIDs[0]) {
				t.Errorf("company = %+v, want %s", got.Company, want.CompanyIDs[0])
			}
		})
	}
}

// Every seeded contact with a phone must be found by that phone, including
// legacy ones that only the phone-format fallback reaches.
func TestContactsByPhoneFindsEverySeededPhone(t *testing.T) {
	env := newTestEnv(t)
	byPhone := map[string][]string{} // E.164 → contact ids
	legacy := 0
	for _, c := range env.Intercom.Workspace.Contacts() {
		if c.Phone == "" {
			continue
		}
		e164, err := phone.Normalize(c.Phone, c.LocationCountry)
		if err != nil {
			t.Fatalf("seed phone %q (%s) does not normalise: %v", c.Phone, c.LocationCountry, err)
		}
		byPhone[e164] = append(byPhone[e164], c.ID)
		if c.Legacy {
			legacy++
		}
	}
	if legacy == 0 {
		t.Fatal("the seed has no legacy contact: the fallback is not exercised")
	}
	shared := 0
	for e164, ids := range byPhone {
		var data struct{ ContactsByPhone []contactJSON }
		env.mustQuery(t, `query($p: String!) { contactsByPhone(phone: $p) { id } }`, map[string]any{"p": e164}, &data)
		var got []string
		for _, c := range data.ContactsByPhone {
			got = append(got, c.ID)
		}
		slices.Sort(got)
		slices.Sort(ids)
		if !slices.Equal(got, ids) {
			t.Errorf("contactsByPhone(%s) = %v, want %v", e164, got, ids)
		}
		if len(ids) > 1 {
			shared++
		}
	}
	if shared == 0 {
		t.Error("no seeded phone is shared by two contacts")
	}
}

func TestContactsByPhoneUnknownNumberIsEmpty(t *testing.T) {
	env := newTestEnv(t)
	var data struct{ ContactsByPhone []contactJSON }
	env.mustQuery(t, `{ contactsByPhone(phone: "+1 202 555 0199") { id } }`, nil, &data)
	if len(data.ContactsByPhone) != 0 {
		t.Errorf("got %d contacts for an unknown number, want 0", len(data.ContactsByPhone))
	}
}

func TestContactsByPhoneRejectsBadNumbers(t *testing.T) {
	env := newTestEnv(t)
	tests := []struct {
		phone, country, field, mention string
	}{
		{"", "US", "phone", "empty"},
		{"hello", "US", "phone", "no digits"},
		{"415-555-0142", "", "phone", "country code"},
		{"12", "US", "phone", "too short"},
		{"000000", "CC", "phone", "unknown country code"},
		{"415-555-0142", "USA", "defaultCountry", "ISO 3166-1"},
	}
	for _, tt := range tests {
		t.Run(tt.phone+"/"+tt.country, func(t *testing.T) {
			calls := env.Intercom.Workspace.TotalCalls()
			r := env.query(t, `query($p: String!, $c: String) { contactsByPhone(phone: $p, defaultCountry: $c) { id } }`,
				map[string]any{"p": tt.phone, "c": tt.country}, nil)
			if r.Status != http.StatusOK || r.code() != "BAD_USER_INPUT" {
				t.Fatalf("HTTP %d, code %q, want 200 and BAD_USER_INPUT (%+v)", r.Status, r.code(), r.Errors)
			}
			if f := r.Errors[0].Extensions["field"]; f != tt.field {
				t.Errorf("field = %v, want %s", f, tt.field)
			}
			if !strings.Contains(r.Errors[0].Message, tt.mention) {
				t.Errorf("message %q does not say %q", r.Errors[0].Message, tt.mention)
			}
			if got := env.Intercom.Workspace.TotalCalls(); got != calls {
				t.Errorf("bad input reached Intercom (%d calls)", got-calls)
			}
		})
	}
}

func TestContactByID(t *testing.T) {
	env := newTestEnv(t)
	want, _ := env.Intercom.Workspace.DemoCaller()
	var data struct{ Contact *contactJSON }
	env.mustQuery(t, `query($id: ID!) { contact(id: $id) { `+contactFields+` } }`, map[string]any{"id": want.ID}, &data)
	if data.Contact == nil || data.Contact.ID != want.ID || data.Contact.Email == nil || *data.Contact.Email != want.Email {
		t.Fatalf("contact = %+v, want %s <%s>", data.Contact, want.ID, want.Email)
	}
	if want.UpdatedAt.UTC().Format(time.RFC3339) != data.Contact.UpdatedAt {
		t.Errorf("updatedAt = %s, want %s", data.Contact.UpdatedAt, want.UpdatedAt.UTC().Format(time.RFC3339))
	}

	data.Contact = nil
	env.mustQuery(t, `{ contact(id: "no-such-contact") { id } }`, nil, &data)
	if data.Contact != nil {
		t.Errorf("unknown id gave %+v, want null", data.Contact)
	}
	if r := env.query(t, `{ contact(id: "") { id } }`, nil, nil); r.code() != "BAD_USER_INPUT" {
		t.Errorf("empty id: code %q, want BAD_USER_INPUT", r.code())
	}
}

func TestContactsByEmail(t *testing.T) {
	env := newTestEnv(t)
	want, _ := env.Intercom.Workspace.DemoCaller()
	var data struct{ ContactsByEmail []contactJSON }
	env.mustQuery(t, `query($e: String!) { contactsByEmail(email: $e) { id emails } }`,
		map[string]any{"e": strings.ToUpper(want.Email)}, &data)
	if len(data.ContactsByEmail) != 1 || data.ContactsByEmail[0].ID != want.ID {
		t.Fatalf("contactsByEmail(%s) = %+v, want %s", strings.ToUpper(want.Email), data.ContactsByEmail, want.ID)
	}
	for _, bad := range []string{"", "not-an-email", "a@", "Maria <maria@example.com>"} {
		r := env.query(t, `query($e: String!) { contactsByEmail(email: $e) { id } }`, map[string]any{"e": bad}, nil)
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "email" {
			t.Errorf("contactsByEmail(%q): errors %+v, want BAD_USER_INPUT on field email", bad, r.Errors)
		}
	}
}

func TestSearchContacts(t *testing.T) {
	env := newTestEnv(t)
	var data struct{ SearchContacts []contactJSON }
	env.mustQuery(t, `{ searchContacts(text: "garcia", first: 50) { id name emails } }`, nil, &data)
	var want []string
	for _, c := range env.Intercom.Workspace.Contacts() {
		if strings.Contains(strings.ToLower(c.Name), "garcia") || strings.Contains(strings.ToLower(c.Email), "garcia") {
			want = append(want, c.ID)
		}
	}
	var got []string
	for _, c := range data.SearchContacts {
		got = append(got, c.ID)
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("searchContacts(garcia) = %v, want %v", got, want)
	}

	for _, q := range []string{`{ searchContacts(text: "a") { id } }`, `{ searchContacts(text: "ab", first: 0) { id } }`, `{ searchContacts(text: "ab", first: 151) { id } }`} {
		if r := env.query(t, q, nil, nil); r.code() != "BAD_USER_INPUT" {
			t.Errorf("%s: code %q, want BAD_USER_INPUT", q, r.code())
		}
	}
}

type connectionJSON struct {
	Contacts struct {
		TotalCount *int `json:"totalCount"`
		Edges      []struct {
			Cursor string      `json:"cursor"`
			Node   contactJSON `json:"node"`
		} `json:"edges"`
		PageInfo struct {
			HasNextPage bool    `json:"hasNextPage"`
			EndCursor   *string `json:"endCursor"`
		} `json:"pageInfo"`
	} `json:"contacts"`
}

const contactsPage = `query($first: Int, $after: String, $since: Time) {
	contacts(first: $first, after: $after, updatedSince: $since) {
		totalCount edges { cursor node { id updatedAt } } pageInfo { hasNextPage endCursor } } }`

// syncAll pages through the contacts connection as a synchroniser does.
func syncAll(t *testing.T, env *testEnv, first int, since *time.Time) []contactJSON {
	t.Helper()
	var all []contactJSON
	vars := map[string]any{"first": first}
	if since != nil {
		vars["since"] = since.Format(time.RFC3339)
	}
	for range 100 {
		var data connectionJSON
		env.mustQuery(t, contactsPage, vars, &data)
		for _, e := range data.Contacts.Edges {
			all = append(all, e.Node)
		}
		if !data.Contacts.PageInfo.HasNextPage {
			return all
		}
		vars["after"] = *data.Contacts.PageInfo.EndCursor
	}
	t.Fatal("paging did not end after 100 pages")
	return nil
}

func TestContactsConnectionPagesThroughEveryContact(t *testing.T) {
	env := newTestEnv(t)
	want := env.Intercom.Workspace.Contacts()
	all := syncAll(t, env, 70, nil)
	seen := map[string]bool{}
	for i, c := range all {
		if seen[c.ID] {
			t.Errorf("contact %s appears twice", c.ID)
		}
		seen[c.ID] = true
		if i > 0 && c.UpdatedAt < all[i-1].UpdatedAt {
			t.Errorf("contact %d (%s) is out of updatedAt order", i, c.UpdatedAt)
		}
	}
	if len(all) != len(want) {
		t.Errorf("synchronised %d contacts, the workspace holds %d", len(all), len(want))
	}
}

func TestContactsConnectionUpdatedSince(t *testing.T) {
	env := newTestEnv(t)
	since := time.Now().Add(-20 * 24 * time.Hour).Truncate(time.Second)
	var want []string
	for _, c := range env.Intercom.Workspace.Contacts() {
		if !c.UpdatedAt.Before(since) {
			want = append(want, c.ID)
		}
	}
	var got []string
	for _, c := range syncAll(t, env, 25, &since) {
		got = append(got, c.ID)
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("updatedSince %s: got %d contacts, want %d", since, len(got), len(want))
	}
}

// An edge's cursor resumes right after that edge, even mid-page.
func TestContactsConnectionEdgeCursor(t *testing.T) {
	env := newTestEnv(t)
	var page connectionJSON
	env.mustQuery(t, contactsPage, map[string]any{"first": 10}, &page)
	var rest connectionJSON
	env.mustQuery(t, contactsPage, map[string]any{"first": 5, "after": page.Contacts.Edges[3].Cursor}, &rest)
	for i := range 5 {
		if got, want := rest.Contacts.Edges[i].Node.ID, page.Contacts.Edges[4+i].Node.ID; got != want {
			t.Errorf("edge %d after cursor 3 = %s, want %s", i, got, want)
		}
	}
	if r := env.query(t, `{ contacts(after: "bogus") { nodes { id } } }`, nil, nil); r.code() != "BAD_USER_INPUT" {
		t.Errorf("bogus cursor: code %q, want BAD_USER_INPUT", r.code())
	}
	if r := env.query(t, `{ contacts(updatedSince: "yesterday") { nodes { id } } }`, nil, nil); r.code() != "BAD_USER_INPUT" {
		t.Errorf("bad time: code %q, want BAD_USER_INPUT (%+v)", r.code(), r.Errors)
	}
}

func TestWorkspaceAndAgents(t *testing.T) {
	env := newTestEnv(t)
	var data struct {
		Workspace struct {
			ID    string
			Admin struct{ ID, Name string }
		}
		Agents []struct{ ID, Name, Email string }
	}
	env.mustQuery(t, `{ workspace { id name region admin { id name } } agents { id name email jobTitle avatarUrl away } }`, nil, &data)
	if want := env.Intercom.Workspace.App().IDCode; data.Workspace.ID != want {
		t.Errorf("workspace id = %q, want %q", data.Workspace.ID, want)
	}
	if got, want := len(data.Agents), len(env.Intercom.Workspace.Admins()); got != want || got == 0 {
		t.Errorf("got %d agents, want %d", got, want)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}
