package emulator

import (
	"net/http"
	"strconv"
	"testing"
)

func TestCompanies(t *testing.T) {
	s := start(t, Options{})
	w := s.Workspace
	all := w.Companies()
	if len(all) != 40 {
		t.Fatalf("Companies: got %d, want 40", len(all))
	}

	type company struct {
		Type      string `json:"type"`
		ID        string `json:"id"`
		CompanyID string `json:"company_id"`
		Name      string `json:"name"`
		UserCount int    `json:"user_count"`
	}
	type companyList struct {
		Type       string    `json:"type"`
		Data       []company `json:"data"`
		TotalCount int       `json:"total_count"`
		Pages      struct {
			Page       int `json:"page"`
			PerPage    int `json:"per_page"`
			TotalPages int `json:"total_pages"`
			Next       *struct {
				PerPage int `json:"per_page"`
			} `json:"next"`
		} `json:"pages"`
	}

	t.Run("get by id", func(t *testing.T) {
		got := decode[company](t, call(t, s, http.MethodGet, "/companies/"+all[0].ID, nil))
		if got.Type != "company" || got.ID != all[0].ID || got.CompanyID != "acct_1001" || got.Name != "Northwind Traders" || got.UserCount == 0 {
			t.Errorf("got %+v, want Northwind Traders (acct_1001) with users", got)
		}
		msg := wantError(t, call(t, s, http.MethodGet, "/companies/nope", nil), http.StatusNotFound, CodeCompanyNotFound)
		if msg != "Company Not Found" {
			t.Errorf("message: got %q, want %q", msg, "Company Not Found")
		}
	})
	t.Run("list all pages", func(t *testing.T) {
		seen := map[string]bool{}
		for page := 1; ; page++ {
			l := decode[companyList](t, call(t, s, http.MethodGet, "/companies?per_page=15&page="+strconv.Itoa(page), nil))
			if l.Type != "list" || l.TotalCount != 40 || l.Pages.TotalPages != 3 || l.Pages.Page != page {
				t.Fatalf("page %d: got type %q total %d pages %+v", page, l.Type, l.TotalCount, l.Pages)
			}
			for _, c := range l.Data {
				if seen[c.ID] {
					t.Fatalf("duplicate company %s", c.ID)
				}
				seen[c.ID] = true
			}
			if (l.Pages.Next == nil) != (page == 3) {
				t.Fatalf("page %d: next %v, want it only before the last page", page, l.Pages.Next)
			}
			if page == 3 {
				break
			}
		}
		if len(seen) != 40 {
			t.Errorf("companies over all pages: got %d, want 40", len(seen))
		}
	})
	t.Run("filter by company_id", func(t *testing.T) {
		l := decode[companyList](t, call(t, s, http.MethodGet, "/companies?company_id=acct_1002", nil))
		if len(l.Data) != 1 || l.Data[0].Name != "Contoso Labs" {
			t.Errorf("got %+v, want Contoso Labs", l.Data)
		}
		wantError(t, call(t, s, http.MethodGet, "/companies?company_id=acct_9999", nil), http.StatusNotFound, CodeCompanyNotFound)
	})
	t.Run("default per_page is 15", func(t *testing.T) {
		l := decode[companyList](t, call(t, s, http.MethodGet, "/companies", nil))
		if l.Pages.PerPage != 15 || len(l.Data) != 15 {
			t.Errorf("got per_page %d with %d items, want 15", l.Pages.PerPage, len(l.Data))
		}
	})
}

func TestTags(t *testing.T) {
	s := start(t, Options{Empty: true})
	r := call(t, s, http.MethodGet, "/tags", nil)
	wantStatus(t, r, http.StatusOK)
	l := decode[struct {
		Type string `json:"type"`
		Data []struct {
			Type, ID, Name string
		} `json:"data"`
	}](t, r)
	if l.Type != "list" || len(l.Data) != 12 || l.Data[0].ID != "9100001" || l.Data[0].Name != "VIP" || l.Data[0].Type != "tag" {
		t.Errorf("GET /tags = %s", r.body)
	}
}
