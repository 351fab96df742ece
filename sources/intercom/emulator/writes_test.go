package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Tests of the write endpoints: every route and failure mode over real HTTP.

// errCase is a request that must fail with status and code (and, when set,
// a message containing msg and the field).
type errCase struct {
	name   string
	method string
	path   string
	body   any
	status int
	code   string
	msg    string
	field  string
}

func runErrCases(t *testing.T, s *Server, cases []errCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, s, tc.method, tc.path, tc.body)
			msg := wantError(t, r, tc.status, tc.code)
			if tc.msg != "" && !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q does not contain %q", msg, tc.msg)
			}
			if tc.field != "" {
				if f := decode[errorJSON](t, r).Errors[0].Field; f != tc.field {
					t.Errorf("field %q, want %q", f, tc.field)
				}
			}
		})
	}
}

func startClock(t *testing.T, opts Options) (*Server, *Clock) {
	t.Helper()
	clock := NewClock(testNow)
	opts.Now = clock.Now
	return start(t, opts), clock
}

func TestCreateContact(t *testing.T) {
	s := start(t, Options{})
	w := s.Workspace
	before := len(w.Contacts())

	r := call(t, s, http.MethodPost, "/contacts", map[string]any{
		"role": "user", "email": "Ada.Lovelace@analytical.example", "phone": "(415) 555-0199", "name": "Ada Lovelace",
		"external_id": "usr_ada", "custom_attributes": map[string]any{"job_title": "Analyst", "seats": 4242, "trial_ends_at": testNow.Unix()},
	})
	wantStatus(t, r, http.StatusOK)
	c := decode[contactJSON](t, r)
	if len(c.ID) != 24 || c.Type != "contact" || c.WorkspaceID != DefaultWorkspaceID || c.Role != "user" || c.Name != "Ada Lovelace" ||
		c.Phone == nil || *c.Phone != "(415) 555-0199" || c.ExternalID == nil || *c.ExternalID != "usr_ada" {
		t.Fatalf("created contact: %+v", c)
	}
	if c.CreatedAt != testNow.Unix() || c.UpdatedAt != testNow.Unix() {
		t.Errorf("created_at %d updated_at %d, want both %d", c.CreatedAt, c.UpdatedAt, testNow.Unix())
	}
	if c.Custom["seats"] != float64(4242) || c.Custom["job_title"] != "Analyst" {
		t.Errorf("custom attributes: %v", c.Custom)
	}
	stored, ok := w.Contact(c.ID)
	if !ok || stored.FormattedPhone != "+14155550199" || stored.CustomAttributes["seats"] != int64(4242) {
		t.Errorf("stored: %v %+v", ok, stored)
	}
	if n := len(w.Contacts()); n != before+1 {
		t.Errorf("%d contacts, want %d", n, before+1)
	}
	// Searchable at once (Intercom may take minutes), by every index.
	for _, q := range []map[string]any{
		filter("formatted_phone", "=", "+14155550199"),
		filter("email", "=", "ada.lovelace@analytical.example"),
		filter("external_id", "=", "usr_ada"),
		filter("custom_attributes.seats", "=", 4242),
	} {
		if got := ids(search(t, s, query(q))); !slices.Equal(got, []string{c.ID}) {
			t.Errorf("search %v: %v, want [%s]", q, got, c.ID)
		}
	}
	wantStatus(t, call(t, s, http.MethodGet, "/contacts/"+c.ID, nil), http.StatusOK)

	t.Run("lead with a role only", func(t *testing.T) {
		c := decode[contactJSON](t, call(t, s, http.MethodPost, "/contacts", map[string]any{"role": "lead"}))
		if c.Role != "lead" || c.ID == "" {
			t.Errorf("lead: %+v", c)
		}
	})
	t.Run("role defaults to user", func(t *testing.T) {
		c := decode[contactJSON](t, call(t, s, http.MethodPost, "/contacts", map[string]any{"email": "someone@new.example"}))
		if c.Role != "user" {
			t.Errorf("role %q, want user", c.Role)
		}
	})
	t.Run("leads may share a user's email", func(t *testing.T) {
		r := call(t, s, http.MethodPost, "/contacts", map[string]any{"role": "lead", "email": DemoCallerEmail})
		wantStatus(t, r, http.StatusOK)
		r = call(t, s, http.MethodPost, "/contacts", map[string]any{"role": "lead", "email": DemoCallerEmail})
		wantStatus(t, r, http.StatusOK)
	})

	count := len(w.Contacts())
	runErrCases(t, s, []errCase{
		{"duplicate user email ignores case", "POST", "/contacts", map[string]any{"email": strings.ToUpper(DemoCallerEmail)},
			409, CodeConflict, "A contact matching those details already exists with id=" + DemoCallerID, ""},
		{"duplicate external_id", "POST", "/contacts", map[string]any{"role": "user", "external_id": DemoCallerExternalID, "email": "other@x.example"},
			409, CodeConflict, "id=" + DemoCallerID, ""},
		{"bad role", "POST", "/contacts", map[string]any{"role": "admin", "email": "a@b.example"}, 400, CodeParameterInvalid, "role must be one of user, lead", "role"},
		{"null role", "POST", "/contacts", map[string]any{"role": nil, "email": "a@b.example"}, 400, CodeParameterInvalid, "role", "role"},
		{"unknown custom attribute", "POST", "/contacts", map[string]any{"email": "a@b.example", "custom_attributes": map[string]any{"shoe_size": 42}},
			400, CodeParameterInvalid, "Custom attribute 'shoe_size' does not exist", "custom_attributes"},
		{"custom attribute of the wrong type", "POST", "/contacts", map[string]any{"email": "a@b.example", "custom_attributes": map[string]any{"seats": "ten"}},
			400, CodeParameterInvalid, "'seats' is of type integer", "custom_attributes"},
		{"date attribute as text", "POST", "/contacts", map[string]any{"email": "a@b.example", "custom_attributes": map[string]any{"trial_ends_at": "tomorrow"}},
			400, CodeParameterInvalid, "'trial_ends_at' is of type date", "custom_attributes"},
		{"custom_attributes not an object", "POST", "/contacts", map[string]any{"email": "a@b.example", "custom_attributes": []any{1}},
			400, CodeParameterInvalid, "must be an object", "custom_attributes"},
		{"malformed JSON", "POST", "/contacts", `{"email":`, 400, CodeBadRequest, "not valid JSON", ""},
		{"not an object", "POST", "/contacts", `["a@b.example"]`, 400, CodeBadRequest, "must be a JSON object", ""},
		{"nothing to create", "POST", "/contacts", map[string]any{"name": "Nobody"}, 400, CodeParameterNotFound, "email, an external_id or a role", "email"},
		{"empty body", "POST", "/contacts", "", 400, CodeParameterNotFound, "", ""},
		{"empty email only", "POST", "/contacts", map[string]any{"email": "", "external_id": nil}, 400, CodeParameterNotFound, "", "email"},
		{"bad email", "POST", "/contacts", map[string]any{"email": "not-an-email"}, 400, CodeParameterInvalid, "not valid", "email"},
		{"email_verified without email", "POST", "/contacts", map[string]any{"role": "lead", "email_verified": true}, 400, CodeParameterInvalid, "together with an email", "email_verified"},
		{"name of the wrong type", "POST", "/contacts", map[string]any{"email": "a@b.example", "name": 7}, 400, CodeParameterInvalid, "name must be a string", "name"},
		{"timestamp of the wrong type", "POST", "/contacts", map[string]any{"email": "a@b.example", "signed_up_at": "2024-01-01"}, 400, CodeParameterInvalid, "Unix timestamp", "signed_up_at"},
	})
	if n := len(w.Contacts()); n != count {
		t.Errorf("refused creates changed the workspace: %d contacts, want %d", n, count)
	}
	if n := w.Calls(EndpointCreateContact); n < 20 {
		t.Errorf("Calls(%s) = %d", EndpointCreateContact, n)
	}
}

func TestUpdateContact(t *testing.T) {
	s, clock := startClock(t, Options{})
	w := s.Workspace
	var legacy Contact
	for _, c := range w.Contacts() {
		if c.Legacy && c.Phone != "" {
			legacy = c
			break
		}
	}
	if legacy.ID == "" {
		t.Fatal("no legacy contact with a phone")
	}
	clock.Advance(time.Hour)

	r := call(t, s, http.MethodPut, "/contacts/"+legacy.ID, map[string]any{"phone": "+1 415 555 0177", "name": "Renamed",
		"custom_attributes": map[string]any{"plan": "Gold", "job_title": nil}})
	wantStatus(t, r, http.StatusOK)
	c := decode[contactJSON](t, r)
	if c.ID != legacy.ID || c.Name != "Renamed" || *c.Phone != "+1 415 555 0177" || c.UpdatedAt != testNow.Add(time.Hour).Unix() {
		t.Errorf("updated: %+v", c)
	}
	if c.CreatedAt != legacy.CreatedAt.Unix() {
		t.Errorf("created_at changed: %d, want %d", c.CreatedAt, legacy.CreatedAt.Unix())
	}
	if _, ok := c.Custom["job_title"]; ok || c.Custom["plan"] != "Gold" {
		t.Errorf("custom attributes are merged, null removes: %v", c.Custom)
	}
	stored, _ := w.Contact(legacy.ID)
	if stored.FormattedPhone != "+14155550177" || stored.Legacy {
		t.Errorf("phone not re-indexed: %+v", stored)
	}
	if got := ids(search(t, s, query(filter("formatted_phone", "=", "+14155550177")))); !slices.Equal(got, []string{legacy.ID}) {
		t.Errorf("search by the new phone: %v", got)
	}
	// The listing order (created_at, id) is unchanged; the update is found by updated_at.
	if got := ids(search(t, s, query(filter("updated_at", ">", testNow.Add(-day).Unix())))); !slices.Contains(got, legacy.ID) {
		t.Errorf("updated contact not found by updated_at: %v", got)
	}

	t.Run("an empty update still bumps updated_at", func(t *testing.T) {
		clock.Advance(time.Minute)
		c := decode[contactJSON](t, call(t, s, http.MethodPut, "/contacts/"+DemoCallerID, map[string]any{}))
		if c.UpdatedAt != testNow.Add(time.Hour+time.Minute).Unix() {
			t.Errorf("updated_at %d", c.UpdatedAt)
		}
	})
	t.Run("a user may keep its own email", func(t *testing.T) {
		wantStatus(t, call(t, s, http.MethodPut, "/contacts/"+DemoCallerID, map[string]any{"email": DemoCallerEmail}), http.StatusOK)
	})

	other := w.Contacts()[5]
	runErrCases(t, s, []errCase{
		{"unknown contact", "PUT", "/contacts/000000000000000000000000", map[string]any{"name": "x"}, 404, CodeNotFound, "User Not Found", ""},
		{"another user's email", "PUT", "/contacts/" + other.ID, map[string]any{"email": strings.ToUpper(DemoCallerEmail)}, 409, CodeConflict, "id=" + DemoCallerID, ""},
		{"bad role", "PUT", "/contacts/" + other.ID, map[string]any{"role": "visitor"}, 400, CodeParameterInvalid, "role", "role"},
		{"unknown custom attribute", "PUT", "/contacts/" + other.ID, map[string]any{"custom_attributes": map[string]any{"nope": 1}}, 400, CodeParameterInvalid, "'nope' does not exist", ""},
		{"malformed JSON", "PUT", "/contacts/" + other.ID, `{`, 400, CodeBadRequest, "", ""},
	})
	if got, _ := w.Contact(other.ID); got.Email != other.Email || !got.UpdatedAt.Equal(other.UpdatedAt) {
		t.Errorf("refused updates changed the contact: %+v", got)
	}
	if n := w.Calls(EndpointUpdateContact); n != 8 {
		t.Errorf("Calls(%s) = %d, want 8", EndpointUpdateContact, n)
	}
}

func TestAttachCompany(t *testing.T) {
	s, clock := startClock(t, Options{})
	w := s.Workspace
	c := w.Contacts()[10]
	var co Company
	for _, x := range w.Companies() {
		if !slices.Contains(c.CompanyIDs, x.ID) {
			co = x
			break
		}
	}
	users := func() int {
		n := 0
		for _, x := range w.Contacts() {
			if slices.Contains(x.CompanyIDs, co.ID) {
				n++
			}
		}
		return n
	}
	want := users() + 1
	clock.Advance(time.Minute)
	for range 2 { // attaching twice is harmless
		r := call(t, s, http.MethodPost, "/contacts/"+c.ID+"/companies", map[string]any{"id": co.ID})
		wantStatus(t, r, http.StatusOK)
		var body struct {
			Type      string `json:"type"`
			ID        string `json:"id"`
			UserCount int    `json:"user_count"`
		}
		body = decode[struct {
			Type      string `json:"type"`
			ID        string `json:"id"`
			UserCount int    `json:"user_count"`
		}](t, r)
		if body.Type != "company" || body.ID != co.ID || body.UserCount != want {
			t.Errorf("answer: %+v, want company %s with %d users", body, co.ID, want)
		}
	}
	got, _ := w.Contact(c.ID)
	if len(got.CompanyIDs) != len(c.CompanyIDs)+1 || !slices.Contains(got.CompanyIDs, co.ID) || !got.UpdatedAt.Equal(testNow.Add(time.Minute)) {
		t.Errorf("contact after attach: companies %v, updated %v", got.CompanyIDs, got.UpdatedAt)
	}
	l := search(t, s, query(filter("company_id", "=", co.ID)))
	if !slices.Contains(ids(l), c.ID) {
		t.Errorf("company_id search misses the contact")
	}
	runErrCases(t, s, []errCase{
		{"unknown contact", "POST", "/contacts/000000000000000000000000/companies", map[string]any{"id": co.ID}, 404, CodeNotFound, "User Not Found", ""},
		{"unknown company", "POST", "/contacts/" + c.ID + "/companies", map[string]any{"id": "123"}, 404, CodeCompanyNotFound, "Company Not Found", ""},
		{"no company", "POST", "/contacts/" + c.ID + "/companies", nil, 400, CodeParameterNotFound, "company not specified", "id"},
	})
	if n := w.Calls(EndpointAttachCompany); n != 5 {
		t.Errorf("Calls(%s) = %d, want 5", EndpointAttachCompany, n)
	}
}

type tagJSON struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	Name      string `json:"name"`
	AppliedAt *int64 `json:"applied_at"`
	AppliedBy *struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"applied_by"`
}

func TestCreateTag(t *testing.T) {
	s := start(t, Options{Contacts: 20})
	w := s.Workspace
	n := len(w.Tags())

	created := decode[tagJSON](t, call(t, s, http.MethodPost, "/tags", map[string]any{"name": "Callback wanted"}))
	if created.Type != "tag" || created.Name != "Callback wanted" || created.ID != "9100013" {
		t.Errorf("new tag: %+v, want id 9100013", created)
	}
	if len(w.Tags()) != n+1 {
		t.Errorf("%d tags, want %d", len(w.Tags()), n+1)
	}
	for _, name := range []string{"callback WANTED", " Callback wanted "} {
		again := decode[tagJSON](t, call(t, s, http.MethodPost, "/tags", map[string]any{"name": name}))
		if again.ID != created.ID || again.Name != "Callback wanted" {
			t.Errorf("POST /tags %q: %+v, want the existing tag", name, again)
		}
	}
	if vip := decode[tagJSON](t, call(t, s, http.MethodPost, "/tags", map[string]any{"name": "vip"})); vip.ID != "9100001" || vip.Name != "VIP" {
		t.Errorf("seeded tag by name: %+v", vip)
	}
	list := decode[struct {
		Data []tagJSON `json:"data"`
	}](t, call(t, s, http.MethodGet, "/tags", nil))
	if len(list.Data) != n+1 || list.Data[n].ID != created.ID {
		t.Errorf("GET /tags after create: %+v", list.Data)
	}
	renamed := decode[tagJSON](t, call(t, s, http.MethodPost, "/tags", map[string]any{"id": created.ID, "name": "Call back"}))
	if renamed.ID != created.ID || renamed.Name != "Call back" {
		t.Errorf("rename: %+v", renamed)
	}
	if got := w.AddTag("CALL BACK"); got.ID != created.ID {
		t.Errorf("AddTag by name: %+v", got)
	}
	runErrCases(t, s, []errCase{
		{"no name", "POST", "/tags", map[string]any{"test": "invalid"}, 400, CodeParameterInvalid, "invalid tag parameters", "name"},
		{"blank name", "POST", "/tags", map[string]any{"name": "  "}, 400, CodeParameterInvalid, "invalid tag parameters", ""},
		{"name of the wrong type", "POST", "/tags", map[string]any{"name": 5}, 400, CodeParameterInvalid, "invalid tag parameters", ""},
		{"rename an unknown tag", "POST", "/tags", map[string]any{"id": "1", "name": "x"}, 404, CodeNotFound, "Resource Not Found", ""},
		{"tagging users is not emulated", "POST", "/tags", map[string]any{"name": "x", "users": []any{map[string]any{"id": "1"}}}, 400, CodeParameterInvalid, "", "users"},
	})
	if len(w.Tags()) != n+1 {
		t.Errorf("refused calls created tags: %v", w.Tags())
	}
}

func TestTagAndUntagContact(t *testing.T) {
	s, clock := startClock(t, Options{Contacts: 40})
	w := s.Workspace
	c := w.Contacts()[20]
	tag := w.AddTag("Called today")
	clock.Advance(time.Minute)

	for range 2 { // tagging twice is harmless
		r := call(t, s, http.MethodPost, "/contacts/"+c.ID+"/tags", map[string]any{"id": tag.ID})
		wantStatus(t, r, http.StatusOK)
		got := decode[tagJSON](t, r)
		if got.Type != "tag" || got.ID != tag.ID || got.Name != tag.Name || got.AppliedAt == nil || *got.AppliedAt != clock.Now().Unix() ||
			got.AppliedBy == nil || got.AppliedBy.Type != "admin" || got.AppliedBy.ID != w.Me().ID {
			t.Errorf("tag answer: %+v", got)
		}
	}
	got, _ := w.Contact(c.ID)
	if n := len(slices.DeleteFunc(slices.Clone(got.TagIDs), func(id string) bool { return id != tag.ID })); n != 1 || !got.UpdatedAt.Equal(clock.Now()) {
		t.Errorf("contact tags %v (tag %s %d times), updated %v", got.TagIDs, tag.ID, n, got.UpdatedAt)
	}
	if l := search(t, s, query(filter("tag_id", "=", tag.ID))); !slices.Equal(ids(l), []string{c.ID}) {
		t.Errorf("tag_id search: %v", ids(l))
	}
	// A numeric id, as the description's own examples send it.
	num, _ := strconv.Atoi(w.Tags()[1].ID)
	wantStatus(t, call(t, s, http.MethodPost, "/contacts/"+c.ID+"/tags", map[string]any{"id": num}), http.StatusOK)

	clock.Advance(time.Minute)
	r := call(t, s, http.MethodDelete, "/contacts/"+c.ID+"/tags/"+tag.ID, nil)
	wantStatus(t, r, http.StatusOK)
	if got := decode[tagJSON](t, r); got.ID != tag.ID || got.Name != tag.Name {
		t.Errorf("untag answer: %+v", got)
	}
	got, _ = w.Contact(c.ID)
	if slices.Contains(got.TagIDs, tag.ID) || !got.UpdatedAt.Equal(clock.Now()) {
		t.Errorf("after untag: tags %v, updated %v", got.TagIDs, got.UpdatedAt)
	}

	runErrCases(t, s, []errCase{
		{"tag: unknown contact", "POST", "/contacts/000000000000000000000000/tags", map[string]any{"id": tag.ID}, 404, CodeNotFound, "User Not Found", ""},
		{"tag: unknown tag", "POST", "/contacts/" + c.ID + "/tags", map[string]any{"id": "123"}, 404, CodeNotFound, "Resource Not Found", ""},
		{"tag: no id", "POST", "/contacts/" + c.ID + "/tags", map[string]any{}, 400, CodeParameterNotFound, "tag not specified", "id"},
		{"tag: id of the wrong type", "POST", "/contacts/" + c.ID + "/tags", map[string]any{"id": true}, 400, CodeParameterInvalid, "", "id"},
		{"untag: not attached", "DELETE", "/contacts/" + c.ID + "/tags/" + tag.ID, nil, 404, CodeNotFound, "Resource Not Found", ""},
		{"untag: unknown tag", "DELETE", "/contacts/" + c.ID + "/tags/1", nil, 404, CodeNotFound, "Resource Not Found", ""},
		{"untag: unknown contact", "DELETE", "/contacts/000000000000000000000000/tags/" + tag.ID, nil, 404, CodeNotFound, "User Not Found", ""},
	})
	if a, b := w.Calls(EndpointTagContact), w.Calls(EndpointUntagContact); a != 7 || b != 4 {
		t.Errorf("Calls: tag %d, untag %d; want 7 and 4", a, b)
	}
}

type noteJSON struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	CreatedAt int64  `json:"created_at"`
	Body      string `json:"body"`
	Contact   struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"contact"`
	Author *struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"author"`
}

func TestCreateNote(t *testing.T) {
	s := start(t, Options{})
	w := s.Workspace
	demoNotes := len(w.Notes(DemoCallerID))
	admin := w.Admins()[2]

	cases := []struct {
		name     string
		body     map[string]any
		wantBody string
		author   string
	}{
		{"plain text is wrapped and escaped", map[string]any{"body": "Called back & left a message", "admin_id": admin.ID},
			"<p>Called back &amp; left a message</p>", admin.ID},
		{"HTML is kept", map[string]any{"body": "<p>Line one<br>Line two</p>", "admin_id": admin.ID}, "<p>Line one<br>Line two</p>", admin.ID},
		{"numeric admin id", map[string]any{"body": "x", "admin_id": json.Number(admin.ID)}, "<p>x</p>", admin.ID},
		{"no admin: the token's admin", map[string]any{"body": "y"}, "<p>y</p>", w.Me().ID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, s, http.MethodPost, "/contacts/"+DemoCallerID+"/notes", tc.body)
			wantStatus(t, r, http.StatusOK)
			n := decode[noteJSON](t, r)
			if n.Type != "note" || n.ID == "" || n.Body != tc.wantBody || n.CreatedAt != testNow.Unix() ||
				n.Contact.ID != DemoCallerID || n.Author == nil || n.Author.ID != tc.author || n.Author.Type != "admin" {
				t.Errorf("note: %+v (author %+v)", n, n.Author)
			}
			if first := w.Notes(DemoCallerID)[0]; first.ID != n.ID {
				t.Errorf("newest note is %s, want %s", first.ID, n.ID)
			}
			list := decode[struct {
				Data       []noteJSON `json:"data"`
				TotalCount int        `json:"total_count"`
			}](t, call(t, s, http.MethodGet, "/contacts/"+DemoCallerID+"/notes", nil))
			if len(list.Data) == 0 || list.Data[0].ID != n.ID || list.TotalCount != len(w.Notes(DemoCallerID)) {
				t.Errorf("GET notes: first %v, total %d", list.Data[0].ID, list.TotalCount)
			}
		})
	}
	if got := len(w.Notes(DemoCallerID)); got != demoNotes+len(cases) {
		t.Errorf("%d notes, want %d", got, demoNotes+len(cases))
	}
	c := decode[struct {
		Notes addressList `json:"notes"`
	}](t, call(t, s, http.MethodGet, "/contacts/"+DemoCallerID, nil))
	if c.Notes.TotalCount != demoNotes+len(cases) {
		t.Errorf("notes.total_count %d, want %d", c.Notes.TotalCount, demoNotes+len(cases))
	}

	runErrCases(t, s, []errCase{
		{"unknown contact", "POST", "/contacts/000000000000000000000000/notes", map[string]any{"body": "x"}, 404, CodeNotFound, "User Not Found", ""},
		{"unknown admin", "POST", "/contacts/" + DemoCallerID + "/notes", map[string]any{"body": "x", "admin_id": "123"}, 404, CodeNotFound, "Resource Not Found", ""},
		{"no body", "POST", "/contacts/" + DemoCallerID + "/notes", map[string]any{"admin_id": admin.ID}, 400, CodeParameterNotFound, "body is required", "body"},
		{"blank body", "POST", "/contacts/" + DemoCallerID + "/notes", map[string]any{"body": " "}, 400, CodeParameterNotFound, "", "body"},
		{"body of the wrong type", "POST", "/contacts/" + DemoCallerID + "/notes", map[string]any{"body": []any{}}, 400, CodeParameterInvalid, "", "body"},
	})
	if got := len(w.Notes(DemoCallerID)); got != demoNotes+len(cases) {
		t.Errorf("refused notes were stored: %d notes", got)
	}
	if n := w.Calls(EndpointCreateNote); n != len(cases)+5 {
		t.Errorf("Calls(%s) = %d", EndpointCreateNote, n)
	}
}

type createdTicketJSON struct {
	Type             string         `json:"type"`
	ID               string         `json:"id"`
	TicketID         string         `json:"ticket_id"`
	Open             bool           `json:"open"`
	CreatedAt        int64          `json:"created_at"`
	TicketAttributes map[string]any `json:"ticket_attributes"`
	TicketState      struct {
		Category string `json:"category"`
	} `json:"ticket_state"`
	TicketType struct {
		ID       string `json:"id"`
		Archived bool   `json:"archived"`
	} `json:"ticket_type"`
	Contacts struct {
		Contacts []struct {
			ID string `json:"id"`
		} `json:"contacts"`
	} `json:"contacts"`
	AdminAssigneeID int64 `json:"admin_assignee_id"`
}

func newTicketRequest(typeID, contactID, title string) map[string]any {
	return map[string]any{
		"ticket_type_id":    typeID,
		"contacts":          []any{map[string]any{"id": contactID}},
		"ticket_attributes": map[string]any{"_default_title_": title, "_default_description_": "Customer called about " + title},
	}
}

func TestCreateTicket(t *testing.T) {
	s := start(t, Options{})
	w := s.Workspace
	before := len(w.Tickets(DemoCallerID))
	typeID := w.TicketTypes()[2].ID

	r := call(t, s, http.MethodPost, "/tickets", newTicketRequest(typeID, DemoCallerID, "Call back about the invoice"))
	wantStatus(t, r, http.StatusOK)
	tk := decode[createdTicketJSON](t, r)
	if tk.Type != "ticket" || tk.ID == "" || tk.TicketID == "" || !tk.Open || tk.TicketState.Category != "submitted" ||
		tk.CreatedAt != testNow.Unix() || tk.TicketType.ID != typeID || len(tk.Contacts.Contacts) != 1 || tk.Contacts.Contacts[0].ID != DemoCallerID ||
		tk.TicketAttributes["_default_title_"] != "Call back about the invoice" ||
		tk.TicketAttributes["_default_description_"] != "Customer called about Call back about the invoice" {
		t.Fatalf("ticket: %+v", tk)
	}
	if got := w.Tickets(DemoCallerID); len(got) != before+1 || got[len(got)-1].ID != tk.ID {
		t.Errorf("Tickets(demo) has %d, want %d ending with %s", len(got), before+1, tk.ID)
	}
	if got := decode[createdTicketJSON](t, call(t, s, http.MethodGet, "/tickets/"+tk.ID, nil)); got.ID != tk.ID || got.TicketID != tk.TicketID {
		t.Errorf("GET /tickets/%s: %+v", tk.ID, got)
	}
	found := decode[struct {
		Tickets []createdTicketJSON `json:"tickets"`
	}](t, call(t, s, http.MethodPost, "/tickets/search", map[string]any{"query": group("AND",
		filter("contact_ids", "=", DemoCallerID), filter("created_at", ">", testNow.Add(-day).Unix()))}))
	if len(found.Tickets) == 0 || found.Tickets[len(found.Tickets)-1].ID != tk.ID {
		t.Errorf("search since yesterday: %+v, want the new ticket last", found.Tickets)
	}

	t.Run("by external_id, with created_at and assignment", func(t *testing.T) {
		at := testNow.Add(-time.Hour).Unix()
		body := map[string]any{"ticket_type_id": json.Number(typeID), "contacts": []any{map[string]any{"external_id": DemoCallerExternalID}},
			"ticket_attributes": map[string]any{"_default_title_": "x"}, "created_at": at,
			"assignment": map[string]any{"admin_assignee_id": w.Admins()[1].ID}, "admin_id": w.Me().ID, "skip_notifications": true}
		got := decode[createdTicketJSON](t, call(t, s, http.MethodPost, "/tickets", body))
		if got.CreatedAt != at || got.Contacts.Contacts[0].ID != DemoCallerID || strconv.FormatInt(got.AdminAssigneeID, 10) != w.Admins()[1].ID ||
			got.TicketAttributes["_default_description_"] != nil {
			t.Errorf("ticket: %+v", got)
		}
	})
	t.Run("an unknown email creates a lead", func(t *testing.T) {
		n := len(w.Contacts())
		body := map[string]any{"ticket_type_id": typeID, "contacts": []any{map[string]any{"email": "new.caller@example.com"}},
			"ticket_attributes": map[string]any{"_default_title_": "x"}}
		got := decode[createdTicketJSON](t, call(t, s, http.MethodPost, "/tickets", body))
		c, ok := w.Contact(got.Contacts.Contacts[0].ID)
		if !ok || c.Role != "lead" || c.Email != "new.caller@example.com" || len(w.Contacts()) != n+1 {
			t.Errorf("contact %+v (%v), %d contacts", c, ok, len(w.Contacts()))
		}
	})

	archived := w.AddTicketType(TicketType{Name: "Old process", Archived: true})
	if archived.ID != "105" {
		t.Errorf("AddTicketType id %s, want 105", archived.ID)
	}
	tickets := len(w.Tickets(""))
	good := newTicketRequest(typeID, DemoCallerID, "t")
	with := func(k string, v any) map[string]any { return withField(good, k, v) }
	runErrCases(t, s, []errCase{
		{"unknown ticket type", "POST", "/tickets", newTicketRequest("999", DemoCallerID, "t"), 400, CodeParameterInvalid, "Ticket type 999 not found", "ticket_type_id"},
		{"archived ticket type", "POST", "/tickets", newTicketRequest(archived.ID, DemoCallerID, "t"), 400, CodeParameterInvalid, "archived", "ticket_type_id"},
		{"no ticket type", "POST", "/tickets", with("ticket_type_id", nil), 400, CodeParameterNotFound, "ticket_type_id is required", "ticket_type_id"},
		{"no contacts", "POST", "/tickets", with("contacts", nil), 400, CodeParameterNotFound, "contacts is required", "contacts"},
		{"empty contacts", "POST", "/tickets", with("contacts", []any{}), 400, CodeParameterNotFound, "contacts is required", "contacts"},
		{"two contacts", "POST", "/tickets", with("contacts", []any{map[string]any{"id": DemoCallerID}, map[string]any{"id": DemoCallerID}}),
			400, CodeParameterInvalid, "only one contact", "contacts"},
		{"contact without an id", "POST", "/tickets", with("contacts", []any{map[string]any{"name": "x"}}), 400, CodeParameterInvalid, "", "contacts"},
		{"unknown contact", "POST", "/tickets", newTicketRequest(typeID, "000000000000000000000000", "t"), 404, CodeNotFound, "User Not Found", ""},
		{"unknown external_id", "POST", "/tickets", with("contacts", []any{map[string]any{"external_id": "nobody"}}), 404, CodeNotFound, "User Not Found", ""},
		{"no title", "POST", "/tickets", with("ticket_attributes", map[string]any{"_default_description_": "d"}), 400, CodeParameterInvalid, "Missing required ticket attributes", "ticket_attributes"},
		{"unknown attribute", "POST", "/tickets", with("ticket_attributes", map[string]any{"_default_title_": "t", "severity": "high"}), 400, CodeParameterInvalid, "'severity' does not exist", ""},
		{"title of the wrong type", "POST", "/tickets", with("ticket_attributes", map[string]any{"_default_title_": 1}), 400, CodeParameterInvalid, "must be a string", ""},
		{"malformed JSON", "POST", "/tickets", `{"ticket_type_id":`, 400, CodeBadRequest, "", ""},
	})
	if n := len(w.Tickets("")); n != tickets {
		t.Errorf("refused tickets were stored: %d, want %d", n, tickets)
	}
	types := decode[struct {
		Data []struct {
			ID       string `json:"id"`
			Archived bool   `json:"archived"`
		} `json:"data"`
	}](t, call(t, s, http.MethodGet, "/ticket_types", nil))
	if last := types.Data[len(types.Data)-1]; last.ID != archived.ID || !last.Archived {
		t.Errorf("GET /ticket_types: last %+v, want the archived type", last)
	}
}

func TestReplyTicket(t *testing.T) {
	s := start(t, Options{})
	w := s.Workspace
	tk := decode[createdTicketJSON](t, call(t, s, http.MethodPost, "/tickets", newTicketRequest(w.TicketTypes()[2].ID, DemoCallerID, "Call back")))
	admin := w.Admins()[1]
	r := call(t, s, http.MethodPost, "/tickets/"+tk.ID+"/reply", map[string]any{"message_type": "note", "type": "admin", "admin_id": admin.ID, "body": "Follow-up: <call>"})
	wantStatus(t, r, http.StatusOK)
	part := decode[struct {
		Type     string `json:"type"`
		ID       string `json:"id"`
		PartType string `json:"part_type"`
		Body     string `json:"body"`
		Author   struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		} `json:"author"`
	}](t, r)
	if part.Type != "ticket_part" || part.ID == "" || part.PartType != "note" || part.Body != "<p>Follow-up: &lt;call&gt;</p>" || part.Author.Type != "admin" || part.Author.ID != admin.ID {
		t.Fatalf("reply: %+v", part)
	}
	got, _ := w.Ticket(tk.ID)
	if n := len(got.Parts); n != 1 || got.Parts[0].ID != part.ID || got.Parts[0].PartType != "note" {
		t.Fatalf("the ticket's parts: %+v, want the note", got.Parts)
	}
	listed := decode[struct {
		TicketParts struct {
			TicketParts []struct {
				ID string `json:"id"`
			} `json:"ticket_parts"`
		} `json:"ticket_parts"`
	}](t, call(t, s, http.MethodGet, "/tickets/"+tk.ID, nil))
	if ps := listed.TicketParts.TicketParts; len(ps) != 1 || ps[0].ID != part.ID {
		t.Errorf("GET /tickets/%s parts: %+v, want the note", tk.ID, ps)
	}
	good := map[string]any{"message_type": "note", "type": "admin", "admin_id": admin.ID, "body": "b"}
	with := func(k string, v any) map[string]any { return withField(good, k, v) }
	path := "/tickets/" + tk.ID + "/reply"
	runErrCases(t, s, []errCase{
		{"unknown ticket", "POST", "/tickets/999999/reply", good, 404, CodeNotFound, "Ticket not found", ""},
		{"no body", "POST", path, with("body", nil), 400, CodeParameterNotFound, "body is required", "body"},
		{"no message_type", "POST", path, with("message_type", nil), 400, CodeParameterNotFound, "message_type is required", "message_type"},
		{"a quick reply", "POST", path, with("message_type", "quick_reply"), 400, CodeParameterInvalid, "comment or note", "message_type"},
		{"on a contact's behalf", "POST", path, with("type", "user"), 400, CodeParameterInvalid, "type must be admin", "type"},
		{"no admin", "POST", path, with("admin_id", nil), 400, CodeParameterNotFound, "admin_id is required", "admin_id"},
		{"unknown admin", "POST", path, with("admin_id", "424242"), 404, CodeNotFound, "Resource Not Found", ""},
	})
	if got, _ := w.Ticket(tk.ID); len(got.Parts) != 1 {
		t.Errorf("refused replies were stored: %d parts", len(got.Parts))
	}
}

func TestIsWrite(t *testing.T) {
	for _, e := range []string{EndpointCreateContact, EndpointUpdateContact, EndpointAttachCompany, EndpointCreateTag,
		EndpointTagContact, EndpointUntagContact, EndpointCreateNote, EndpointCreateTicket, EndpointReplyTicket} {
		if !IsWrite(e) {
			t.Errorf("IsWrite(%q) = false", e)
		}
	}
	for _, e := range []string{EndpointMe, EndpointContact, EndpointSearchContacts, EndpointSearchTickets, EndpointSearchPhoneCalls, EndpointUnmatched} {
		if IsWrite(e) {
			t.Errorf("IsWrite(%q) = true", e)
		}
	}
}

// post sends a POST with its own client (timeout) and reports the status, or
// the transport error.
func post(t *testing.T, s *Server, hc *http.Client, path string, body string) (int, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Workspace.Token())
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

// eventually polls cond for up to 2 s.
func eventually(cond func() bool) bool {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}

func TestWriteFaults(t *testing.T) {
	body := `{"ticket_type_id":"101","contacts":[{"id":"` + DemoCallerID + `"}],"ticket_attributes":{"_default_title_":"t"}}`
	only := []string{EndpointCreateTicket}
	tests := []struct {
		name       string
		faults     Faults
		timeout    time.Duration
		wantStatus int  // 0: the client sees no answer
		wantStored bool // the ticket exists afterwards
	}{
		{"no fault", Faults{}, 0, 200, true},
		{"503 before the write", Faults{FailNext: 1, ErrorStatus: 503, Endpoints: only}, 0, 503, false},
		{"503 after the write", Faults{FailNext: 1, ErrorStatus: 503, FailAfterWrite: true, Endpoints: only}, 0, 503, true},
		{"429 is never after the write", Faults{Fail429Next: 1, FailAfterWrite: true, Endpoints: only}, 0, 429, false},
		{"reset before the write", Faults{ResetRate: 1, Endpoints: only}, 0, 0, false},
		{"reset after the write", Faults{ResetRate: 1, FailAfterWrite: true, Endpoints: only}, 0, 0, true},
		{"slow before the write: the client gives up, nothing is written", Faults{SlowRate: 1, SlowDelay: 400 * time.Millisecond, Endpoints: only},
			100 * time.Millisecond, 0, false},
		{"slow after the write: the client gives up, the ticket exists", Faults{SlowRate: 1, SlowDelay: 2 * time.Second, SlowAfterWrite: true, Endpoints: only},
			100 * time.Millisecond, 0, true},
		{"slow after the write, patient client", Faults{SlowRate: 1, SlowDelay: 100 * time.Millisecond, SlowAfterWrite: true, Endpoints: only},
			0, 200, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, Options{Contacts: 5})
			w := s.Workspace
			w.SetFaults(tc.faults)
			before := len(w.Tickets(""))
			hc := &http.Client{Timeout: tc.timeout, Transport: &http.Transport{}}
			status, err := post(t, s, hc, "/tickets", body)
			if status != tc.wantStatus || (tc.wantStatus == 0) != (err != nil) {
				t.Fatalf("status %d, err %v; want status %d", status, err, tc.wantStatus)
			}
			if w.Calls(EndpointCreateTicket) != 1 {
				t.Errorf("Calls = %d, want 1", w.Calls(EndpointCreateTicket))
			}
			stored := func() bool { return len(w.Tickets("")) == before+1 }
			if tc.wantStored {
				if !eventually(stored) {
					t.Errorf("the ticket was not stored")
				}
				return
			}
			time.Sleep(tc.faults.SlowDelay + 50*time.Millisecond) // a handler that ran late would have written by now
			if stored() {
				t.Errorf("the ticket was stored")
			}
		})
	}

	t.Run("reads are delayed before, with SlowAfterWrite too", func(t *testing.T) {
		s := start(t, Options{Contacts: 5})
		s.Workspace.SetFaults(Faults{SlowRate: 1, SlowDelay: 300 * time.Millisecond, SlowAfterWrite: true})
		hc := &http.Client{Timeout: 100 * time.Millisecond}
		before := s.Workspace.Contacts()
		_, err := post(t, s, hc, "/contacts/search", `{"query":{"field":"role","operator":"=","value":"user"}}`)
		if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(fmtErr(err), "Client.Timeout") {
			t.Errorf("search with a slow fault: err %v, want a client timeout", err)
		}
		if len(s.Workspace.Contacts()) != len(before) {
			t.Error("a search changed the workspace")
		}
	})
	t.Run("rate limit and auth apply to writes", func(t *testing.T) {
		s := start(t, Options{Contacts: 5, RateLimit: 1})
		wantStatus(t, call(t, s, http.MethodPost, "/tags", map[string]any{"name": "a"}), 200)
		wantError(t, call(t, s, http.MethodPost, "/tags", map[string]any{"name": "b"}), 429, CodeRateLimited)
		wantError(t, callWith(t, s, http.MethodPost, "/tags", map[string]any{"name": "c"}, "wrong", nil), 401, CodeUnauthorized)
		if w := s.Workspace; w.AddTag("b").ID != "9100014" { // "b" was never created
			t.Errorf("tags: %v", w.Tags())
		}
	})
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestConcurrentWrites runs writes and reads side by side under -race.
func TestConcurrentWrites(t *testing.T) {
	s := start(t, Options{Contacts: 30})
	w := s.Workspace
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			email := "parallel" + strconv.Itoa(i) + "@example.com"
			c := decode[contactJSON](t, call(t, s, http.MethodPost, "/contacts", map[string]any{"email": email}))
			tag := decode[tagJSON](t, call(t, s, http.MethodPost, "/tags", map[string]any{"name": "Shared"}))
			wantStatus(t, call(t, s, http.MethodPost, "/contacts/"+c.ID+"/tags", map[string]any{"id": tag.ID}), 200)
			wantStatus(t, call(t, s, http.MethodPost, "/contacts/"+c.ID+"/notes", map[string]any{"body": "n"}), 200)
			wantStatus(t, call(t, s, http.MethodPost, "/tickets", newTicketRequest("101", c.ID, "t")), 200)
			wantStatus(t, call(t, s, http.MethodPut, "/contacts/"+c.ID, map[string]any{"name": "P " + strconv.Itoa(i)}), 200)
			search(t, s, query(filter("email", "$", "@example.com")))
		})
	}
	wg.Wait()
	shared := 0
	for _, tg := range w.Tags() {
		if tg.Name == "Shared" {
			shared++
		}
	}
	if shared != 1 {
		t.Errorf("%d tags named Shared, want 1", shared)
	}
	if l := search(t, s, query(filter("email", "^", "parallel"))); len(l.Data) != 8 {
		t.Errorf("%d parallel contacts, want 8", len(l.Data))
	}
}

// withField is a copy of body with field k set to v, or left out when v is
// nil: one bad field of an otherwise good request.
func withField(body map[string]any, k string, v any) map[string]any {
	m := maps.Clone(body)
	if v == nil {
		delete(m, k)
	} else {
		m[k] = v
	}
	return m
}
