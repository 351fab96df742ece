package emulator

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// names returns the names of the contacts in l, sorted.
func names(l listJSON) []string {
	out := make([]string, len(l.Data))
	for i, c := range l.Data {
		out[i] = c.Name
	}
	slices.Sort(out)
	return out
}

func TestSearchSemantics(t *testing.T) {
	s := start(t, Options{})
	w := s.Workspace
	count := func(pred func(c Contact) bool) int {
		n := 0
		for _, c := range w.Contacts() {
			if pred(c) {
				n++
			}
		}
		return n
	}

	tests := []struct {
		name      string
		query     any
		wantNames []string           // exact set of names, if set
		wantCount func(Contact) bool // the matches, computed from the model, if set
	}{
		{name: "id =", query: filter("id", "=", DemoCallerID), wantNames: []string{DemoCallerName}},
		{name: "formatted_phone = finds a phone stored as (415) 555-0142",
			query: filter("formatted_phone", "=", DemoCallerFormattedPhone), wantNames: []string{DemoCallerName}},
		{name: "phone = matches the stored string exactly",
			query: filter("phone", "=", DemoCallerPhone), wantNames: []string{DemoCallerName}},
		{name: "phone = on another format misses", query: filter("phone", "=", "+14155550142"), wantNames: []string{}},
		{name: "legacy contact missing from formatted_phone",
			query: filter("formatted_phone", "=", "+16505550110"), wantNames: []string{}},
		{name: "legacy contact found by phone IN common formats",
			query:     filter("phone", "IN", []string{"+16505550110", "(650) 555-0110", "650-555-0110", "+1 650-555-0110"}),
			wantNames: []string{"Henry Walker"}},
		{name: "shared phone gives two contacts", query: filter("formatted_phone", "=", "+12125550187"),
			wantNames: []string{"Daniel Kim", "Grace Kim"}},
		{name: "national GB format indexed as E.164", query: filter("formatted_phone", "=", "+442079460959"),
			wantNames: []string{"Amelia Brown"}},
		{name: "00-prefixed PT format indexed as E.164", query: filter("formatted_phone", "=", "+351912345679"),
			wantNames: []string{"Ana Costa"}},
		{name: "email = ignores case", query: filter("email", "=", "JAMES.CARTER@contoso-labs.COM"), wantNames: []string{"James Carter"}},
		{name: "email IN ignores case", query: filter("email", "IN", []string{"nobody@example.com", "Maria.Garcia@NorthwindTraders.com"}),
			wantNames: []string{DemoCallerName}},
		{name: "name = is exact", query: filter("name", "=", "maria garcia"), wantNames: []string{}},
		{name: "name ~ contains, ignoring case", query: filter("name", "~", "GARCIA"),
			wantCount: func(c Contact) bool { return strings.Contains(strings.ToLower(c.Name), "garcia") }},
		{name: "email ^ starts with", query: filter("email", "^", "maria.garcia@"), wantNames: []string{DemoCallerName}},
		{name: "email $ ends with", query: filter("email", "$", "@sapo.pt"),
			wantCount: func(c Contact) bool { return strings.HasSuffix(c.Email, "@sapo.pt") }},
		{name: "phone !~ excludes and keeps contacts without phone", query: filter("phone", "!~", "555"),
			wantCount: func(c Contact) bool { return !strings.Contains(c.Phone, "555") }},
		{name: "role != user", query: filter("role", "!=", "user"),
			wantCount: func(c Contact) bool { return c.Role != "user" }},
		{name: "role NIN", query: filter("role", "NIN", []string{"lead"}),
			wantCount: func(c Contact) bool { return c.Role != "lead" }},
		{name: "email = null finds contacts without email", query: filter("email", "=", nil),
			wantCount: func(c Contact) bool { return c.Email == "" }},
		{name: "external_id != null", query: filter("external_id", "!=", nil),
			wantCount: func(c Contact) bool { return c.ExternalID != "" }},
		{name: "email_domain =", query: filter("email_domain", "=", "NorthwindTraders.com"),
			wantCount: func(c Contact) bool { return strings.HasSuffix(c.Email, "@northwindtraders.com") }},
		{name: "location.country =", query: filter("location.country", "=", "Portugal"),
			wantCount: func(c Contact) bool { return c.LocationCountry == "PT" }},
		{name: "location.city =", query: filter("location.city", "=", "Palo Alto"), wantNames: []string{"Henry Walker"}},
		{name: "tag_id =", query: filter("tag_id", "=", "9100012"),
			wantCount: func(c Contact) bool { return slices.Contains(c.TagIDs, "9100012") }},
		{name: "tag_id !=", query: filter("tag_id", "!=", "9100001"),
			wantCount: func(c Contact) bool { return !slices.Contains(c.TagIDs, "9100001") }},
		{name: "company_id by your own id", query: filter("company_id", "=", "acct_1001"),
			wantCount: func(c Contact) bool { return slices.Contains(c.CompanyIDs, w.Companies()[0].ID) }},
		{name: "custom string attribute", query: filter("custom_attributes.job_title", "=", "Head of Operations"),
			wantCount: func(c Contact) bool { return c.CustomAttributes["job_title"] == "Head of Operations" }},
		{name: "custom integer >", query: filter("custom_attributes.seats", ">", 100),
			wantCount: func(c Contact) bool { n, ok := c.CustomAttributes["seats"].(int64); return ok && n > 100 }},
		{name: "custom integer <=", query: filter("custom_attributes.seats", "<=", 10),
			wantCount: func(c Contact) bool { n, ok := c.CustomAttributes["seats"].(int64); return ok && n <= 10 }},
		{name: "boolean =", query: filter("unsubscribed_from_emails", "=", true),
			wantCount: func(c Contact) bool { return c.UnsubscribedFromEmails }},
		{name: "AND", query: group("AND", filter("location.country", "=", "United States"), filter("phone", "~", "415")),
			wantCount: func(c Contact) bool { return c.LocationCountry == "US" && strings.Contains(c.Phone, "415") }},
		{name: "OR", query: group("OR", filter("name", "=", "Ana Costa"), filter("name", "=", "João Silva")),
			wantNames: []string{"Ana Costa", "João Silva"}},
		{name: "two levels: (A OR B) AND (C OR D)",
			query: group("AND",
				group("OR", filter("location.country", "=", "Germany"), filter("location.country", "=", "France")),
				group("OR", filter("role", "=", "lead"), filter("phone", "=", nil))),
			wantCount: func(c Contact) bool {
				return (c.LocationCountry == "DE" || c.LocationCountry == "FR") && (c.Role == "lead" || c.Phone == "")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := search(t, s, query(tt.query))
			if want := min(got.TotalCount, 150); len(got.Data) != want {
				t.Fatalf("items on the first page: got %d, want %d of total_count %d", len(got.Data), want, got.TotalCount)
			}
			if tt.wantNames != nil {
				want := slices.Sorted(slices.Values(tt.wantNames))
				if g := names(got); !slices.Equal(g, want) {
					t.Errorf("names: got %q, want %q", g, want)
				}
			}
			if tt.wantCount != nil {
				want := count(tt.wantCount)
				if got.TotalCount != want {
					t.Errorf("matches: got %d, want %d", got.TotalCount, want)
				}
				if want == 0 {
					t.Errorf("test data has no match: the case proves nothing")
				}
			}
		})
	}
}

func TestSearchErrors(t *testing.T) {
	s := start(t, Options{Contacts: 30})
	sixteen := make([]any, 16)
	fifteen := make([]any, 15)
	for i := range sixteen {
		sixteen[i] = filter("name", "=", "x")
	}
	copy(fifteen, sixteen)

	tests := []struct {
		name     string
		body     any
		status   int
		code     string
		contains string // in the message
	}{
		{"malformed JSON", `{"query": {`, 400, CodeBadRequest, "not valid JSON"},
		{"body not an object", `[1,2]`, 400, CodeBadRequest, "JSON object"},
		{"missing query", map[string]any{}, 400, CodeBadRequest, "'query' is required"},
		{"filter without operator", query(map[string]any{"field": "email", "value": "x"}), 400, CodeBadRequest, "operator"},
		{"filter without field", query(map[string]any{"operator": "=", "value": "x"}), 400, CodeBadRequest, "field"},
		{"unknown field", query(filter("favourite_colour", "=", "red")), 400, CodeInvalidField, "favourite_colour"},
		{"unknown custom attribute", query(filter("custom_attributes.shoe_size", "=", "9")), 400, CodeInvalidField, "shoe_size"},
		{"unknown operator", query(filter("email", "LIKE", "x")), 400, CodeInvalidOperator, "LIKE"},
		{"lower-case group operator", query(map[string]any{"operator": "and", "value": []any{filter("email", "=", "x")}}), 400, CodeInvalidOperator, "and"},
		{"> on a string", query(filter("email", ">", "x")), 400, CodeInvalidOperator, "string field 'email'"},
		{">= on a date", query(filter("updated_at", ">=", 1700000000)), 400, CodeInvalidOperator, "date field 'updated_at'"},
		{"<= on a date", query(filter("created_at", "<=", 1700000000)), 400, CodeInvalidOperator, "date"},
		{"!= on a date", query(filter("created_at", "!=", 1700000000)), 400, CodeInvalidOperator, "date"},
		{"IN on a date", query(filter("updated_at", "IN", []int{1700000000})), 400, CodeInvalidOperator, "date"},
		{"NIN on a date", query(filter("updated_at", "NIN", []int{1700000000})), 400, CodeInvalidOperator, "date"},
		{"IN on tag_id", query(filter("tag_id", "IN", []string{"9100001"})), 400, CodeInvalidOperator, "tag_id"},
		{"string for a date", query(filter("created_at", ">", "foobar")), 400, CodeInvalidValue, "UNIX timestamp"},
		{"number for a string", query(filter("email", "=", 42)), 400, CodeInvalidValue, "must be a string"},
		{"scalar for IN", query(filter("email", "IN", "a@b.c")), 400, CodeInvalidValue, "array"},
		{"array for =", query(filter("email", "=", []string{"a@b.c"})), 400, CodeInvalidValue, "IN"},
		{"role not user or lead", query(filter("role", "=", "admin")), 400, CodeInvalidValue, "user or lead"},
		{"16 filters in a group", query(group("OR", sixteen...)), 400, CodeBadRequest, "at most 15"},
		{"empty group", query(group("AND")), 400, CodeBadRequest, "at least one"},
		{"group value not an array", query(map[string]any{"operator": "AND", "value": "x"}), 400, CodeBadRequest, "array of filters"},
		{"three levels of nesting", query(group("AND", group("OR", group("AND", filter("email", "=", "x"))))), 400, CodeBadRequest, "nested too deeply"},
		{"bad sort order", map[string]any{"query": filter("role", "=", "user"), "sort": map[string]any{"field": "created_at", "order": "desc"}},
			400, CodeInvalidSortOrder, "Invalid sort order 'desc'. Must be one of: ascending, descending"},
		{"unknown sort field", map[string]any{"query": filter("role", "=", "user"), "sort": map[string]any{"field": "nope"}}, 400, CodeInvalidField, "nope"},
		{"per_page over 150", map[string]any{"query": filter("role", "=", "user"), "pagination": map[string]any{"per_page": 151}}, 400, CodeParameterInvalid, "per_page"},
		{"per_page zero", map[string]any{"query": filter("role", "=", "user"), "pagination": map[string]any{"per_page": 0}}, 400, CodeParameterInvalid, "per_page"},
		{"garbage cursor", map[string]any{"query": filter("role", "=", "user"), "pagination": map[string]any{"starting_after": "bm9wZQ"}}, 400, CodeClientError, "starting_after"},
		{"empty cursor is a 500 as live", map[string]any{"query": filter("role", "=", "user"), "pagination": map[string]any{"starting_after": ""}}, 500, CodeServerError, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, s, http.MethodPost, "/contacts/search", tt.body)
			msg := wantError(t, r, tt.status, tt.code)
			if !strings.Contains(msg, tt.contains) {
				t.Errorf("message: got %q, want it to contain %q", msg, tt.contains)
			}
		})
	}

	t.Run("15 filters in a group and 2 levels are fine", func(t *testing.T) {
		search(t, s, query(group("AND", group("OR", fifteen...), filter("role", "=", "user"))))
	})
	t.Run("cursor from another sort is rejected", func(t *testing.T) {
		first := search(t, s, map[string]any{"query": filter("role", "=", "user"), "pagination": map[string]any{"per_page": 2}})
		r := call(t, s, http.MethodPost, "/contacts/search", map[string]any{
			"query":      filter("role", "=", "user"),
			"sort":       map[string]any{"field": "name", "order": "ascending"},
			"pagination": map[string]any{"per_page": 2, "starting_after": first.Pages.Next.StartingAfter},
		})
		wantError(t, r, http.StatusBadRequest, CodeClientError)
	})
}

// TestSearchDates checks calendar-day matching in the workspace time zone.
func TestSearchDates(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no tzdata: %v", err)
	}
	s := start(t, Options{Empty: true, Timezone: ny})
	w := s.Workspace
	at := func(d, h, m int) time.Time { return time.Date(2026, time.March, d, h, m, 0, 0, ny) }
	for _, c := range []struct {
		name string
		t    time.Time
	}{
		{"d10-late", at(10, 23, 30)}, // 03:30 UTC on the 11th: still the 10th in New York
		{"d11-early", at(11, 0, 0)},
		{"d11-noon", at(11, 12, 0)},
		{"d11-last", at(11, 23, 59)},
		{"d12-early", at(12, 0, 30)},
	} {
		w.AddContact(Contact{Name: c.name, Email: c.name + "@example.com", CreatedAt: c.t.Add(-time.Hour), UpdatedAt: c.t})
	}
	noon11 := at(11, 12, 0).Unix()
	nineAM11 := at(11, 9, 0).Unix()

	tests := []struct {
		name  string
		query any
		want  []string
	}{
		{"= is the whole day", filter("updated_at", "=", nineAM11), []string{"d11-early", "d11-last", "d11-noon"}},
		{"> starts at the next day, not at the instant", filter("updated_at", ">", nineAM11), []string{"d12-early"}},
		{"< ends before the day starts", filter("updated_at", "<", noon11), []string{"d10-late"}},
		{"value as a string of digits", filter("updated_at", "=", strconv.FormatInt(nineAM11, 10)), []string{"d11-early", "d11-last", "d11-noon"}},
		{"combined range", group("AND", filter("updated_at", ">", at(9, 8, 0).Unix()), filter("updated_at", "<", at(12, 8, 0).Unix())),
			[]string{"d10-late", "d11-early", "d11-last", "d11-noon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := names(search(t, s, query(tt.query)))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("UTC workspace puts the late contact on another day", func(t *testing.T) {
		u := start(t, Options{Empty: true})
		u.Workspace.AddContact(Contact{Name: "d10-late", UpdatedAt: at(10, 23, 30)})
		got := names(search(t, u, query(filter("updated_at", "=", time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC).Unix()))))
		if want := []string{"d10-late"}; !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

// TestSearchPaging walks all pages of a sorted search through the cursor.
func TestSearchPaging(t *testing.T) {
	s := start(t, Options{})
	w := s.Workspace

	for _, tc := range []struct {
		name string
		sort map[string]any
		less func(a, b Contact) int
	}{
		{"default order", nil, func(a, b Contact) int { return contactLess(&a, &b) }},
		{"updated_at descending", map[string]any{"field": "updated_at"}, func(a, b Contact) int {
			if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []string
			all := w.Contacts()
			slices.SortFunc(all, tc.less)
			for _, c := range all {
				if c.Role == "user" {
					want = append(want, c.ID)
				}
			}
			var got []string
			after := ""
			for page := 1; ; page++ {
				body := map[string]any{"query": filter("role", "=", "user"), "pagination": map[string]any{"per_page": 13}}
				if tc.sort != nil {
					body["sort"] = tc.sort
				}
				if after != "" {
					body["pagination"].(map[string]any)["starting_after"] = after
				}
				l := search(t, s, body)
				if l.Pages.Page != page || l.Pages.PerPage != 13 || l.TotalCount != len(want) || l.Pages.TotalPages != (len(want)+12)/13 {
					t.Fatalf("page %d: got pages %+v total_count %d, want page %d of %d, total %d", page, l.Pages, l.TotalCount, page, (len(want)+12)/13, len(want))
				}
				got = append(got, ids(l)...)
				if l.Pages.Next == nil {
					break
				}
				after = l.Pages.Next.StartingAfter
			}
			if !slices.Equal(got, want) {
				t.Errorf("ids over all pages: got %d ids, want %d in order (first diff at %d)", len(got), len(want), firstDiff(got, want))
			}
		})
	}

	t.Run("default per_page is 50", func(t *testing.T) {
		l := search(t, s, map[string]any{"query": filter("role", "=", "user")})
		if l.Pages.PerPage != 50 || len(l.Data) != 50 {
			t.Errorf("got per_page %d with %d items, want 50", l.Pages.PerPage, len(l.Data))
		}
	})
	t.Run("cursor survives a deletion before it", func(t *testing.T) {
		l := search(t, s, map[string]any{"query": filter("role", "=", "lead"), "pagination": map[string]any{"per_page": 3}})
		w.DeleteContact(l.Data[2].ID)
		next := search(t, s, map[string]any{"query": filter("role", "=", "lead"), "pagination": map[string]any{"per_page": 3, "starting_after": l.Pages.Next.StartingAfter}})
		if slices.Contains(ids(next), l.Data[0].ID) || len(next.Data) != 3 {
			t.Errorf("next page after delete: got %v", ids(next))
		}
	})
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestSearchSortAscending(t *testing.T) {
	s := start(t, Options{Contacts: 60})
	l := search(t, s, map[string]any{
		"query": filter("role", "=", "user"),
		"sort":  map[string]any{"field": "name", "order": "ascending"},
	})
	got := make([]string, len(l.Data))
	for i, c := range l.Data {
		got[i] = strings.ToLower(c.Name)
	}
	if !slices.IsSorted(got) {
		t.Errorf("names not ascending: %q", got)
	}
}
