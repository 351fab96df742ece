package resolvers_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/talkdesk-intercom/api/graph"
	"github.com/talkdesk-intercom/api/internal/actions"
	"github.com/talkdesk-intercom/api/internal/graphqlhttp"
	"github.com/talkdesk-intercom/api/internal/idempotency"
	"github.com/talkdesk-intercom/api/internal/loaders"
	"github.com/talkdesk-intercom/api/internal/tenants"
	"github.com/talkdesk-intercom/api/internal/workspace"
	"github.com/talkdesk-intercom/api/resolvers"
	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/intercom"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// The executable schema over the resolvers, served by gqlgen's handler with
// the service's error presenter, on a workspace whose Intercom is the
// emulator (over real HTTP, without a cache).

const token = "resolvers-test"

type env struct {
	ws   *emulator.Workspace
	demo emulator.Contact
	// api serves requests in the workspace; bare serves them without one
	// (a route that lacks the workspace middleware).
	api, bare *client.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	em, err := emulator.Start(emulator.Options{Token: token, Phone: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	id := &sources.WorkspaceID{}
	ic, err := intercom.New(intercom.Config{Token: token, BaseURL: em.URL, Workspace: id})
	if err != nil {
		t.Fatal(err)
	}
	tenant := &tenants.Tenant{Validator: ic, Source: ic, History: intercom.NewInteractions(ic, intercom.InteractionsConfig{}), ID: id}
	tenant.Actions = actions.New(actions.Config{Executor: ic, Finder: ic, Agents: ic, Workspace: ic,
		Guard:       idempotency.New(idempotency.NewMemoryStore(), idempotency.Options{}),
		WorkspaceID: tenant.ID})
	res := &workspace.Resolver{Main: tenant, Loaders: loaders.DefaultConfig}

	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{}}))
	srv.AddTransport(transport.POST{})
	srv.SetErrorPresenter(graphqlhttp.PresentError)
	inWorkspace := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, _ := res.Open(r.Context(), tenant)
		srv.ServeHTTP(w, r.WithContext(ctx))
	})
	demo, ok := em.Workspace.DemoCaller()
	if !ok {
		t.Fatal("the emulator has no demo caller")
	}
	return &env{ws: em.Workspace, demo: demo, api: client.New(inWorkspace), bare: client.New(srv)}
}

type gqlError struct {
	Message    string
	Path       []any
	Extensions map[string]any
}

func (e gqlError) code() string  { s, _ := e.Extensions["code"].(string); return s }
func (e gqlError) field() string { s, _ := e.Extensions["field"].(string); return s }

// query posts q with vars to c, decodes its data into data (when not nil)
// and returns its errors.
func query(t *testing.T, c *client.Client, q string, vars map[string]any, data any) []gqlError {
	t.Helper()
	var opts []client.Option
	for k, v := range vars {
		opts = append(opts, client.Var(k, v))
	}
	resp, err := c.RawPost(q, opts...)
	if err != nil {
		t.Fatalf("POST %s: %v", q, err)
	}
	var errs []gqlError
	if len(resp.Errors) > 0 {
		if err := json.Unmarshal(resp.Errors, &errs); err != nil {
			t.Fatalf("errors %s: %v", resp.Errors, err)
		}
	}
	if data != nil && resp.Data != nil {
		b, err := json.Marshal(resp.Data)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, data); err != nil {
			t.Fatalf("data %s: %v", b, err)
		}
	}
	return errs
}

// mustQuery is query that fails the test on any error.
func mustQuery(t *testing.T, c *client.Client, q string, vars map[string]any, data any) {
	t.Helper()
	if errs := query(t, c, q, vars, data); len(errs) > 0 {
		t.Fatalf("%s: errors %+v", q, errs)
	}
}

// A request whose context carries no workspace is a server fault: every
// field fails with INTERNAL, and nothing is asked of any workspace.
func TestNoWorkspaceIsAnInternalError(t *testing.T) {
	e := newEnv(t)
	cases := []struct{ name, query string }{
		{"contactsByPhone", `{ contactsByPhone(phone: "+1 415 555 0142") { id } }`},
		{"contact", `{ contact(id: "` + emulator.DemoCallerID + `") { id } }`},
		{"contactsByEmail", `{ contactsByEmail(email: "` + emulator.DemoCallerEmail + `") { id } }`},
		{"searchContacts", `{ searchContacts(text: "maria") { id } }`},
		{"contacts", `{ contacts(first: 5) { nodes { id } } }`},
		{"workspace", `{ workspace { id } }`},
		{"agents", `{ agents { id } }`},
		{"interactions", `{ interactions(contactId: "` + emulator.DemoCallerID + `") { totalCount } }`},
		{"createContact", `mutation { createContact(input: {email: "ada@example.org"}) { created userErrors { code } } }`},
		{"addNote", `mutation { addNote(input: {contactId: "` + emulator.DemoCallerID + `", body: "Hi"}) { note { id } } }`},
	}
	e.ws.ResetCalls()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := query(t, e.bare, c.query, nil, nil)
			if len(errs) != 1 {
				t.Fatalf("errors %+v, want one", errs)
			}
			if got, want := errs[0].code(), "INTERNAL"; got != want {
				t.Errorf("code %q (%s), want %q", got, errs[0].Message, want)
			}
		})
	}
	if got := e.ws.TotalCalls(); got != 0 {
		t.Errorf("requests without a workspace made %d Intercom calls, want 0", got)
	}
}

// Arguments are checked before anything is asked of Intercom: a bad one is
// BAD_USER_INPUT naming it.
func TestArgumentValidation(t *testing.T) {
	e := newEnv(t)
	tooManyIDs := make([]string, 101)
	for i := range tooManyIDs {
		tooManyIDs[i] = "id"
	}
	cases := []struct {
		name  string
		query string
		vars  map[string]any
		field string
	}{
		{"unparseable phone", `{ contactsByPhone(phone: "12") { id } }`, nil, "phone"},
		{"phone of letters", `{ contactsByPhone(phone: "call me maybe") { id } }`, nil, "phone"},
		{"bad default country", `{ contactsByPhone(phone: "415 555 0142", defaultCountry: "USA") { id } }`, nil, "defaultCountry"},
		{"search text too short", `{ searchContacts(text: " m ") { id } }`, nil, "text"},
		{"search text too long", `query($t: String!) { searchContacts(text: $t) { id } }`, map[string]any{"t": strings.Repeat("m", 101)}, "text"},
		{"search page of 0", `{ searchContacts(text: "maria", first: 0) { id } }`, nil, "first"},
		{"search page of 151", `{ searchContacts(text: "maria", first: 151) { id } }`, nil, "first"},
		{"contacts page of 0", `{ contacts(first: 0) { nodes { id } } }`, nil, "first"},
		{"contacts page of 151", `{ contacts(first: 151) { nodes { id } } }`, nil, "first"},
		{"contacts cursor not ours", `{ contacts(after: "not-a-cursor") { nodes { id } } }`, nil, "after"},
		{"interactions page of 101", `{ interactions(contactId: "` + emulator.DemoCallerID + `", first: 101) { totalCount } }`, nil, "first"},
		{"interactions cursor not ours", `{ interactions(contactId: "` + emulator.DemoCallerID + `", after: "x") { totalCount } }`, nil, "after"},
		{"interactions without contact", `{ interactions(contactId: "") { totalCount } }`, nil, "contactId"},
		{"contact without id", `{ contact(id: "") { id } }`, nil, "id"},
		{"too many ids", `query($ids: [ID!]!) { contactsByIds(ids: $ids) { id } }`, map[string]any{"ids": tooManyIDs}, "ids"},
		{"empty id among ids", `{ contactsByIds(ids: ["a", ""]) { id } }`, nil, "ids"},
		{"not an email", `{ contactsByEmail(email: "maria at northwind") { id } }`, nil, "email"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.ws.ResetCalls()
			errs := query(t, e.api, c.query, c.vars, nil)
			if len(errs) != 1 {
				t.Fatalf("errors %+v, want one", errs)
			}
			if got, want := errs[0].code(), "BAD_USER_INPUT"; got != want {
				t.Errorf("code %q (%s), want %q", got, errs[0].Message, want)
			}
			if got := errs[0].field(); got != c.field {
				t.Errorf("field %q (%s), want %q", got, errs[0].Message, c.field)
			}
			if got := e.ws.TotalCalls(); got != 0 {
				t.Errorf("%d Intercom calls for a bad argument, want 0", got)
			}
		})
	}
}

type contactJSON struct {
	ID         string
	ExternalID *string
	Role       string
	Name       string
	Title      *string
	Email      *string
	Emails     []string
	Phone      *string
	Phones     []string
	PhotoURL   *string
	Address    *string
	Location   struct{ Country, CountryCode, Region, City *string }
	Websites   []string
	Twitter    *string
	URL        *string
	Company    *struct{ ID, Name string }
	Companies  []struct{ ID, Name string }
	Tags       []struct {
		ID   string
		Name *string
	}
	CustomAttributes map[string]any
	NotesCount       int
	CreatedAt        *time.Time
	UpdatedAt        *time.Time
}

const contactFields = `id externalId role name title email emails phone phones photoUrl address
	location { country countryCode region city } websites twitter url
	company { id name } companies { id name } tags { id name } customAttributes notesCount createdAt updatedAt`

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// A contact is mapped field by field from what Intercom holds, whichever
// way it is found.
func TestContactMapping(t *testing.T) {
	e := newEnv(t)
	demo := e.demo
	lookups := []struct {
		name, query string
		vars        map[string]any
	}{
		{"contact", `query($id: ID!) { found: contact(id: $id) { ` + contactFields + ` } }`, map[string]any{"id": demo.ID}},
		{"contactsByPhone", `{ found: contactsByPhone(phone: "(415) 555-0142", defaultCountry: "US") { ` + contactFields + ` } }`, nil},
		{"contactsByEmail", `{ found: contactsByEmail(email: "Maria.Garcia@NorthwindTraders.com") { ` + contactFields + ` } }`, nil},
		{"contactsByIds", `query($id: ID!) { found: contactsByIds(ids: ["missing", $id]) { ` + contactFields + ` } }`, map[string]any{"id": demo.ID}},
	}
	companies := map[string]string{}
	for _, co := range e.ws.Companies() {
		companies[co.ID] = co.Name
	}
	tags := map[string]string{}
	for _, tg := range e.ws.Tags() {
		tags[tg.ID] = tg.Name
	}
	for _, l := range lookups {
		t.Run(l.name, func(t *testing.T) {
			var raw struct{ Found json.RawMessage }
			mustQuery(t, e.api, l.query, l.vars, &raw)
			var got contactJSON
			switch l.name {
			case "contact":
				if err := json.Unmarshal(raw.Found, &got); err != nil {
					t.Fatal(err)
				}
			case "contactsByIds":
				var list []*contactJSON
				if err := json.Unmarshal(raw.Found, &list); err != nil {
					t.Fatal(err)
				}
				if len(list) != 2 || list[0] != nil || list[1] == nil {
					t.Fatalf("contactsByIds = %s, want [null, the contact]", raw.Found)
				}
				got = *list[1]
			default:
				var list []contactJSON
				if err := json.Unmarshal(raw.Found, &list); err != nil {
					t.Fatal(err)
				}
				if len(list) != 1 {
					t.Fatalf("%d contacts, want 1: %s", len(list), raw.Found)
				}
				got = list[0]
			}
			checks := []struct{ what, got, want string }{
				{"id", got.ID, demo.ID},
				{"externalId", deref(got.ExternalID), emulator.DemoCallerExternalID},
				{"role", got.Role, "USER"},
				{"name", got.Name, emulator.DemoCallerName},
				{"title", deref(got.Title), "Head of Operations"},
				{"email", deref(got.Email), emulator.DemoCallerEmail},
				{"phone", deref(got.Phone), emulator.DemoCallerFormattedPhone},
				{"photoUrl", deref(got.PhotoURL), demo.AvatarURL},
				{"address", deref(got.Address), "San Francisco, California, United States"},
				{"countryCode", deref(got.Location.CountryCode), "US"},
				{"city", deref(got.Location.City), "San Francisco"},
				{"twitter", deref(got.Twitter), "mariagarcia_sf"},
				{"company", companyID(got.Company), demo.CompanyIDs[0]},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
			if !slices.Equal(got.Emails, []string{emulator.DemoCallerEmail}) || !slices.Equal(got.Phones, []string{emulator.DemoCallerFormattedPhone}) {
				t.Errorf("emails %v, phones %v", got.Emails, got.Phones)
			}
			if url := deref(got.URL); !strings.Contains(url, demo.ID) {
				t.Errorf("url %q does not point at the contact", url)
			}
			var companyIDs []string
			for _, co := range got.Companies {
				companyIDs = append(companyIDs, co.ID)
				if co.Name != companies[co.ID] {
					t.Errorf("company %s named %q, want %q", co.ID, co.Name, companies[co.ID])
				}
			}
			if !slices.Equal(companyIDs, demo.CompanyIDs) {
				t.Errorf("companies %v, want %v", companyIDs, demo.CompanyIDs)
			}
			var tagIDs []string
			for _, tg := range got.Tags {
				tagIDs = append(tagIDs, tg.ID)
				if deref(tg.Name) != tags[tg.ID] {
					t.Errorf("tag %s named %q, want %q", tg.ID, deref(tg.Name), tags[tg.ID])
				}
			}
			if !slices.Equal(tagIDs, demo.TagIDs) {
				t.Errorf("tags %v, want %v", tagIDs, demo.TagIDs)
			}
			if got, want := got.CustomAttributes["plan"], "enterprise"; got != want {
				t.Errorf("customAttributes.plan = %v, want %v", got, want)
			}
			if got, want := got.NotesCount, len(e.ws.Notes(demo.ID)); got != want {
				t.Errorf("notesCount %d, want %d", got, want)
			}
			if got.CreatedAt == nil || !got.CreatedAt.Equal(demo.CreatedAt) || got.UpdatedAt == nil || !got.UpdatedAt.Equal(demo.UpdatedAt) {
				t.Errorf("createdAt %v, updatedAt %v; want %v, %v", got.CreatedAt, got.UpdatedAt, demo.CreatedAt, demo.UpdatedAt)
			}
		})
	}
}

func companyID(c *struct{ ID, Name string }) string {
	if c == nil {
		return "<nil>"
	}
	return c.ID
}

// An unknown id is null, not an error; a number nobody has is an empty list.
func TestMissingContacts(t *testing.T) {
	e := newEnv(t)
	var data struct {
		Contact         *contactJSON
		ContactsByPhone []contactJSON
	}
	mustQuery(t, e.api, `{ contact(id: "no-such-contact") { id } contactsByPhone(phone: "+1 202 555 0199") { id } }`, nil, &data)
	if data.Contact != nil || data.ContactsByPhone == nil || len(data.ContactsByPhone) != 0 {
		t.Errorf("contact = %+v, contactsByPhone = %v; want null and []", data.Contact, data.ContactsByPhone)
	}
}

type interactionsJSON struct {
	TotalCount int
	PageInfo   struct {
		HasNextPage bool
		EndCursor   *string
	}
	Nodes []struct {
		ID, Type, Subject, Status, Priority string
		Date                                time.Time
		DurationSeconds                     *int
	}
}

const interactionFields = `totalCount pageInfo { hasNextPage endCursor }
	nodes { id type subject status priority date durationSeconds }`

// A contact's history is newest first, pages without gaps or repeats, and
// filters by kind.
func TestInteractions(t *testing.T) {
	e := newEnv(t)
	id := e.demo.ID
	page := func(t *testing.T, args string, vars map[string]any) interactionsJSON {
		t.Helper()
		var data struct{ Interactions interactionsJSON }
		mustQuery(t, e.api, `query($id: ID!, $after: String) { interactions(contactId: $id, after: $after`+args+`) { `+interactionFields+` } }`,
			vars, &data)
		return data.Interactions
	}

	all := page(t, ", first: 100", map[string]any{"id": id})
	if len(all.Nodes) < 6 || all.TotalCount != len(all.Nodes) || all.PageInfo.HasNextPage {
		t.Fatalf("history of %d (total %d, more %v): the demo caller should have a full history on one page",
			len(all.Nodes), all.TotalCount, all.PageInfo.HasNextPage)
	}
	kinds := map[string]int{}
	for i, n := range all.Nodes {
		kinds[n.Type]++
		if i > 0 && n.Date.After(all.Nodes[i-1].Date) {
			t.Errorf("interaction %d (%s, %s) is newer than the one before it (%s): want newest first", i, n.ID, n.Date, all.Nodes[i-1].Date)
		}
		if (n.Type == "CALL") != (n.DurationSeconds != nil) {
			t.Errorf("%s %s: durationSeconds %v, want it on calls only", n.Type, n.ID, n.DurationSeconds)
		}
		if n.Subject == "" || n.Status == "" || n.Priority == "" {
			t.Errorf("%s %s lacks a subject, status or priority: %+v", n.Type, n.ID, n)
		}
	}
	if got, want := kinds["NOTE"], len(e.ws.Notes(id)); got != want {
		t.Errorf("%d notes in the history, want %d", got, want)
	}

	t.Run("paging", func(t *testing.T) {
		var ids []string
		var after any
		for range len(all.Nodes) {
			p := page(t, ", first: 4", map[string]any{"id": id, "after": after})
			for _, n := range p.Nodes {
				ids = append(ids, n.ID)
			}
			if !p.PageInfo.HasNextPage {
				break
			}
			after = *p.PageInfo.EndCursor
		}
		var want []string
		for _, n := range all.Nodes {
			want = append(want, n.ID)
		}
		if !slices.Equal(ids, want) {
			t.Errorf("pages of 4 give %v, want %v", ids, want)
		}
	})
	t.Run("by kind", func(t *testing.T) {
		notes := page(t, ", first: 100, types: [NOTE]", map[string]any{"id": id})
		if notes.TotalCount != kinds["NOTE"] || len(notes.Nodes) != kinds["NOTE"] {
			t.Errorf("%d notes (total %d), want %d", len(notes.Nodes), notes.TotalCount, kinds["NOTE"])
		}
		for _, n := range notes.Nodes {
			if n.Type != "NOTE" {
				t.Errorf("a %s among the notes", n.Type)
			}
		}
	})
	t.Run("as a field of the contact", func(t *testing.T) {
		var data struct {
			Contact struct{ Interactions interactionsJSON }
		}
		mustQuery(t, e.api, `query($id: ID!) { contact(id: $id) { interactions(first: 100) { `+interactionFields+` } } }`,
			map[string]any{"id": id}, &data)
		got := data.Contact.Interactions
		if got.TotalCount != all.TotalCount || len(got.Nodes) != len(all.Nodes) || got.Nodes[0].ID != all.Nodes[0].ID {
			t.Errorf("Contact.interactions: %d of %d starting %s; want %d of %d starting %s",
				len(got.Nodes), got.TotalCount, got.Nodes[0].ID, len(all.Nodes), all.TotalCount, all.Nodes[0].ID)
		}
	})
}

// The contacts connection pages without gaps or repeats and counts the whole list.
func TestContactsConnection(t *testing.T) {
	e := newEnv(t)
	type connJSON struct {
		TotalCount *int
		PageInfo   struct {
			HasNextPage bool
			EndCursor   *string
		}
		Nodes []struct{ ID string }
	}
	get := func(t *testing.T, first int, after any) connJSON {
		t.Helper()
		var data struct{ Contacts connJSON }
		mustQuery(t, e.api, `query($first: Int, $after: String) { contacts(first: $first, after: $after) {
			totalCount pageInfo { hasNextPage endCursor } nodes { id } } }`, map[string]any{"first": first, "after": after}, &data)
		return data.Contacts
	}
	whole := get(t, 9, nil)
	if whole.TotalCount == nil || *whole.TotalCount != len(e.ws.Contacts()) || len(whole.Nodes) != 9 || !whole.PageInfo.HasNextPage {
		t.Fatalf("first page: %d nodes, total %v, more %v; want 9 of %d", len(whole.Nodes), whole.TotalCount, whole.PageInfo.HasNextPage, len(e.ws.Contacts()))
	}
	var ids []string
	var after any
	for range 3 {
		p := get(t, 3, after)
		for _, n := range p.Nodes {
			ids = append(ids, n.ID)
		}
		after = *p.PageInfo.EndCursor
	}
	var want []string
	for _, n := range whole.Nodes {
		want = append(want, n.ID)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("three pages of 3 give %v, want the page of 9 %v", ids, want)
	}
}

// The workspace and its agents are those of the token.
func TestWorkspaceAndAgents(t *testing.T) {
	e := newEnv(t)
	var data struct {
		Workspace struct {
			ID, Name string
			Region   *string
			Admin    struct{ ID string }
		}
		Agents []struct{ ID, Name string }
	}
	mustQuery(t, e.api, `{ workspace { id name region admin { id } } agents { id name } }`, nil, &data)
	if got, want := data.Workspace.ID, emulator.DefaultWorkspaceID; got != want {
		t.Errorf("workspace id %q, want %q", got, want)
	}
	if got, want := data.Workspace.Name, emulator.DefaultName; got != want {
		t.Errorf("workspace name %q, want %q", got, want)
	}
	if got, want := data.Workspace.Admin.ID, e.ws.Me().ID; got != want {
		t.Errorf("admin %q, want the token's %q", got, want)
	}
	if got, want := len(data.Agents), len(e.ws.Admins()); got != want {
		t.Errorf("%d agents, want %d", got, want)
	}
}

type userErrorJSON struct {
	Field         []string
	Message, Code string
}

// A mutation's input problems come back as userErrors naming the input
// field, with no GraphQL error and nothing written.
func TestMutationUserErrors(t *testing.T) {
	e := newEnv(t)
	id := e.demo.ID
	cases := []struct {
		name, mutation string
		vars           map[string]any
		want           string // field path:code
	}{
		{"createContact, bad email", `mutation { r: createContact(input: {email: "not an email"}) { contact { id } userErrors { field message code } } }`,
			nil, "input.email:BAD_USER_INPUT"},
		{"createContact, bad phone", `mutation { r: createContact(input: {phone: "12"}) { contact { id } userErrors { field message code } } }`,
			nil, "input.phone:BAD_USER_INPUT"},
		{"updateContact, unknown contact", `mutation { r: updateContact(input: {id: "nobody", name: "X"}) { contact { id } userErrors { field message code } } }`,
			nil, "input.id:NOT_FOUND"},
		{"addNote, empty body", `mutation($id: ID!) { r: addNote(input: {contactId: $id, body: ""}) { note { id } userErrors { field message code } } }`,
			map[string]any{"id": id}, "input.body:BAD_USER_INPUT"},
		{"tagContact, unknown contact", `mutation { r: tagContact(input: {contactId: "nobody", tag: "VIP"}) { contact { id } userErrors { field message code } } }`,
			nil, "input.contactId:NOT_FOUND"},
		{"createTicket, unknown type", `mutation($id: ID!) { r: createTicket(input: {contactId: $id, title: "X", ticketType: "Complaint"}) { ticket { id } userErrors { field message code } } }`,
			map[string]any{"id": id}, "input.ticketType:BAD_USER_INPUT"},
		{"logCall, unknown caller", `mutation($at: Time!) { r: logCall(input: {from: "+1 202 555 0188", to: "+1 800 555 0100", direction: INBOUND, startedAt: $at, durationSeconds: 10}) {
			contact { id } note { id } userErrors { field message code } } }`,
			map[string]any{"at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}, "input.from:NOT_FOUND"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.ws.ResetCalls()
			var data struct {
				R struct {
					Contact, Note, Ticket *struct{ ID string }
					UserErrors            []userErrorJSON
				}
			}
			mustQuery(t, e.api, c.mutation, c.vars, &data)
			var got []string
			for _, ue := range data.R.UserErrors {
				got = append(got, strings.Join(ue.Field, ".")+":"+ue.Code)
				if ue.Message == "" {
					t.Errorf("%v has no message", ue.Field)
				}
			}
			if !slices.Equal(got, []string{c.want}) {
				t.Errorf("userErrors %v, want [%s]", got, c.want)
			}
			if data.R.Contact != nil || data.R.Note != nil || data.R.Ticket != nil {
				t.Errorf("payload %+v, want no object", data.R)
			}
			for _, w := range []string{emulator.EndpointCreateContact, emulator.EndpointUpdateContact, emulator.EndpointCreateNote,
				emulator.EndpointCreateTicket, emulator.EndpointTagContact, emulator.EndpointCreateTag} {
				if n := e.ws.Calls(w); n != 0 {
					t.Errorf("%d calls to %s, want 0", n, w)
				}
			}
		})
	}
}

// A mutation that works answers its object and an empty userErrors list; a
// retry under the same key answers the same object, and the key reused for
// another input is a CONFLICT error, not a userError.
func TestMutationSucceedsAndKeysAreHonoured(t *testing.T) {
	e := newEnv(t)
	const m = `mutation($input: AddNoteInput!) { addNote(input: $input) { note { id body authorId } userErrors { code } } }`
	type addNoteJSON struct {
		AddNote struct {
			Note       *struct{ ID, Body, AuthorID string }
			UserErrors []userErrorJSON
		}
	}
	input := map[string]any{"idempotencyKey": "note-1", "contactId": e.demo.ID, "body": "Called about the invoice.\nWill pay Friday."}
	before := len(e.ws.Notes(e.demo.ID))
	var first, again addNoteJSON
	mustQuery(t, e.api, m, map[string]any{"input": input}, &first)
	n := first.AddNote.Note
	if n == nil || first.AddNote.UserErrors == nil || len(first.AddNote.UserErrors) != 0 {
		t.Fatalf("addNote = %+v, want a note and userErrors []", first.AddNote)
	}
	if got, want := n.Body, "<p>Called about the invoice.<br>Will pay Friday.</p>"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
	if got, want := n.AuthorID, e.ws.Me().ID; got != want {
		t.Errorf("author %q, want the token's admin %q", got, want)
	}
	mustQuery(t, e.api, m, map[string]any{"input": input}, &again)
	if again.AddNote.Note == nil || again.AddNote.Note.ID != n.ID {
		t.Errorf("retry answered %+v, want note %s", again.AddNote.Note, n.ID)
	}
	if got, want := len(e.ws.Notes(e.demo.ID)), before+1; got != want {
		t.Errorf("%d notes, want %d", got, want)
	}
	input["body"] = "Something else"
	errs := query(t, e.api, m, map[string]any{"input": input}, nil)
	if len(errs) != 1 || errs[0].code() != "CONFLICT" {
		t.Errorf("same key, other input: errors %+v, want one CONFLICT", errs)
	}
}

// The action catalogue is served without a call to Intercom.
func TestActionsCatalogue(t *testing.T) {
	e := newEnv(t)
	var data struct {
		Actions []struct {
			Name   string
			Inputs []struct{ Key string }
		}
	}
	e.ws.ResetCalls()
	mustQuery(t, e.api, `{ actions { name inputs { key } } }`, nil, &data)
	var names []string
	for _, a := range data.Actions {
		names = append(names, a.Name)
	}
	var want []string
	for _, d := range actions.Catalog() {
		want = append(want, d.Name)
	}
	if !slices.Equal(names, want) {
		t.Errorf("actions %v, want %v", names, want)
	}
	if got := e.ws.TotalCalls(); got != 0 {
		t.Errorf("%d Intercom calls, want 0", got)
	}
}
