package emulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestGetContact(t *testing.T) {
	s := start(t, Options{})

	r := call(t, s, http.MethodGet, "/contacts/"+DemoCallerID, nil)
	wantStatus(t, r, http.StatusOK)
	c := decode[contactJSON](t, r)
	if c.Type != "contact" || c.ID != DemoCallerID || c.Name != DemoCallerName || c.Phone == nil || *c.Phone != DemoCallerPhone {
		t.Errorf("demo caller: got %+v", c)
	}
	if c.WorkspaceID != DefaultWorkspaceID || c.Location.Country != "United States" || c.Custom["job_title"] != "Head of Operations" {
		t.Errorf("demo caller details: got workspace %q, country %q, custom %v", c.WorkspaceID, c.Location.Country, c.Custom)
	}
	if c.Companies.Type != "list" || c.Companies.TotalCount != 2 || len(c.Companies.Data) != 2 || c.Companies.Data[0].Type != "company" {
		t.Errorf("companies: got %+v, want a list of 2 companies", c.Companies)
	}

	var raw map[string]any
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["formatted_phone"]; ok {
		t.Errorf("formatted_phone is in the contact body; Intercom only lets you search it")
	}
	for _, k := range []string{"external_id", "avatar", "owner_id", "social_profiles", "location", "tags", "notes", "signed_up_at", "last_seen_at"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("contact body: missing %q", k)
		}
	}

	t.Run("tags list stops at 10 with has_more", func(t *testing.T) {
		l := search(t, s, query(filter("name", "=", "Noah Williams")))
		if len(l.Data) != 1 {
			t.Fatalf("Noah Williams: got %d contacts, want 1", len(l.Data))
		}
		tags := l.Data[0].Tags
		if tags.TotalCount != 12 || len(tags.Data) != 10 || !tags.HasMore {
			t.Errorf("tags: got total %d, %d items, has_more %v; want 12, 10, true", tags.TotalCount, len(tags.Data), tags.HasMore)
		}
	})
	t.Run("unknown id is 404 User Not Found", func(t *testing.T) {
		msg := wantError(t, call(t, s, http.MethodGet, "/contacts/000000000000000000000000", nil), http.StatusNotFound, CodeNotFound)
		if msg != "User Not Found" {
			t.Errorf("message: got %q, want %q", msg, "User Not Found")
		}
	})
	t.Run("find_by_external_id", func(t *testing.T) {
		c := decode[contactJSON](t, call(t, s, http.MethodGet, "/contacts/find_by_external_id/"+DemoCallerExternalID, nil))
		if c.ID != DemoCallerID {
			t.Errorf("got id %q, want %q", c.ID, DemoCallerID)
		}
		wantError(t, call(t, s, http.MethodGet, "/contacts/find_by_external_id/nobody", nil), http.StatusNotFound, CodeNotFound)
	})
	t.Run("companies of a contact", func(t *testing.T) {
		type companies struct {
			Type       string `json:"type"`
			Data       []struct{ ID, Name, Type string }
			Companies  []struct{ ID string }
			TotalCount int `json:"total_count"`
		}
		got := decode[companies](t, call(t, s, http.MethodGet, "/contacts/"+DemoCallerID+"/companies", nil))
		want := []string{"Northwind Traders", "Contoso Labs"}
		if got.Type != "list" || got.TotalCount != 2 || len(got.Data) != 2 || len(got.Companies) != 2 ||
			got.Data[0].Name != want[0] || got.Data[1].Name != want[1] || got.Data[0].Type != "company" {
			t.Errorf("got %+v, want a list of %v", got, want)
		}
		wantError(t, call(t, s, http.MethodGet, "/contacts/nope/companies", nil), http.StatusNotFound, CodeNotFound)
	})
}

func TestListContactsPaging(t *testing.T) {
	s := start(t, Options{Contacts: 95})
	want := make([]string, 0, 95)
	for _, c := range s.Workspace.Contacts() {
		want = append(want, c.ID)
	}

	first := decode[listJSON](t, call(t, s, http.MethodGet, "/contacts", nil))
	if first.Pages.PerPage != 10 || len(first.Data) != 10 || first.TotalCount != 95 || first.Pages.TotalPages != 10 {
		t.Errorf("default page: got per_page %d, %d items, total %d, %d pages; want 10, 10, 95, 10",
			first.Pages.PerPage, len(first.Data), first.TotalCount, first.Pages.TotalPages)
	}

	for _, perPage := range []int{7, 50, 150} {
		t.Run("per_page "+strconv.Itoa(perPage), func(t *testing.T) {
			var got []string
			seen := map[string]bool{}
			path := "/contacts?per_page=" + strconv.Itoa(perPage)
			for page := 1; ; page++ {
				l := decode[listJSON](t, call(t, s, http.MethodGet, path, nil))
				if l.Type != "list" || l.Pages.Type != "pages" || l.Pages.Page != page {
					t.Fatalf("page %d: got type %q, pages %+v", page, l.Type, l.Pages)
				}
				for _, c := range l.Data {
					if seen[c.ID] {
						t.Fatalf("page %d: duplicate id %s", page, c.ID)
					}
					seen[c.ID] = true
					got = append(got, c.ID)
				}
				if l.Pages.Next == nil {
					break
				}
				if l.Pages.Next.PerPage != perPage {
					t.Errorf("next.per_page: got %d, want %d", l.Pages.Next.PerPage, perPage)
				}
				path = "/contacts?per_page=" + strconv.Itoa(perPage) + "&starting_after=" + url.QueryEscape(l.Pages.Next.StartingAfter)
			}
			if !slices.Equal(got, want) {
				t.Errorf("ids over all pages: got %d, want %d in the default order", len(got), len(want))
			}
		})
	}

	wantError(t, call(t, s, http.MethodGet, "/contacts?per_page=151", nil), http.StatusBadRequest, CodeParameterInvalid)
	wantError(t, call(t, s, http.MethodGet, "/contacts?starting_after=zzz", nil), http.StatusBadRequest, CodeClientError)
}

func TestContactHelpers(t *testing.T) {
	clock := NewClock(testNow)
	s := start(t, Options{Empty: true, Now: clock.Now})
	w := s.Workspace

	added := w.AddContact(Contact{Name: "Zoe Park", Email: "zoe@example.com", Phone: "020 7946 0123", LocationCountry: "GB",
		CustomAttributes: map[string]any{"shoe_size": 38, "vip": true}})
	if added.ID == "" || added.Role != "user" || !added.CreatedAt.Equal(testNow) || !added.UpdatedAt.Equal(testNow) {
		t.Errorf("AddContact defaults: got id %q role %q created %v updated %v", added.ID, added.Role, added.CreatedAt, added.UpdatedAt)
	}
	if added.FormattedPhone != "+442079460123" {
		t.Errorf("FormattedPhone: got %q, want +442079460123", added.FormattedPhone)
	}
	if got := names(search(t, s, query(filter("custom_attributes.shoe_size", ">=", 38)))); !slices.Equal(got, []string{"Zoe Park"}) {
		t.Errorf("new integer attribute searchable: got %q", got)
	}
	if got := names(search(t, s, query(filter("custom_attributes.vip", "=", true)))); !slices.Equal(got, []string{"Zoe Park"}) {
		t.Errorf("new boolean attribute searchable: got %q", got)
	}

	legacy := w.AddContact(Contact{Name: "Old Timer", Phone: "(650) 555-0199", LocationCountry: "US", Legacy: true})
	if legacy.FormattedPhone != "" {
		t.Errorf("legacy FormattedPhone: got %q, want empty", legacy.FormattedPhone)
	}

	clock.Advance(time.Hour)
	updated, ok := w.UpdateContact(added.ID, func(c *Contact) { c.Phone = "+1 415 555 0100"; c.LocationCountry = "US" })
	if !ok || !updated.UpdatedAt.Equal(testNow.Add(time.Hour)) || updated.FormattedPhone != "+14155550100" {
		t.Errorf("UpdateContact: got ok %v updated_at %v formatted %q", ok, updated.UpdatedAt, updated.FormattedPhone)
	}
	if c, _ := w.Contact(added.ID); c.Phone != "+1 415 555 0100" {
		t.Errorf("Contact after update: got phone %q", c.Phone)
	}
	if _, ok := w.UpdateContact("missing", func(*Contact) {}); ok {
		t.Errorf("UpdateContact of a missing id: got ok")
	}
	if !w.DeleteContact(added.ID) || w.DeleteContact(added.ID) {
		t.Errorf("DeleteContact: want true then false")
	}
	wantError(t, call(t, s, http.MethodGet, "/contacts/"+added.ID, nil), http.StatusNotFound, CodeNotFound)
	if got := len(w.Contacts()); got != 1 {
		t.Errorf("Contacts after delete: got %d, want 1", got)
	}

	// Returned copies do not alias the stored contact.
	c, _ := w.Contact(legacy.ID)
	c.TagIDs = append(c.TagIDs, "x")
	if again, _ := w.Contact(legacy.ID); len(again.TagIDs) != 0 {
		t.Errorf("Contact returned an aliased copy")
	}
}
