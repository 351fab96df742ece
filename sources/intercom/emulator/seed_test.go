package emulator

import (
	"bytes"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSeedDeterminism(t *testing.T) {
	opts := Options{Seed: 3, Contacts: 120, Now: func() time.Time { return testNow }}
	a, b := New(opts), New(opts)
	if !reflect.DeepEqual(a.Contacts(), b.Contacts()) || !reflect.DeepEqual(a.Companies(), b.Companies()) {
		t.Fatalf("same Options gave different data")
	}

	// Byte-identical over HTTP too.
	sa, sb := start(t, opts), start(t, opts)
	for _, path := range []string{"/contacts?per_page=150", "/companies?per_page=50", "/contacts/" + DemoCallerID, "/admins"} {
		ra, rb := call(t, sa, http.MethodGet, path, nil), call(t, sb, http.MethodGet, path, nil)
		if !bytes.Equal(ra.body, rb.body) {
			t.Errorf("GET %s: bodies differ between two workspaces with the same Options", path)
		}
	}

	other := New(Options{Seed: 4, Contacts: 120, Now: opts.Now})
	if reflect.DeepEqual(a.Contacts(), other.Contacts()) {
		t.Errorf("different seeds gave the same contacts")
	}
}

func TestSeedFacts(t *testing.T) {
	w := New(Options{Now: func() time.Time { return testNow }})
	contacts := w.Contacts()
	if len(contacts) != DefaultContacts || len(w.Companies()) != 40 || len(w.Admins()) != 6 || len(w.Tags()) != 12 {
		t.Fatalf("counts: got %d contacts, %d companies, %d admins, %d tags; want 300, 40, 6, 12",
			len(contacts), len(w.Companies()), len(w.Admins()), len(w.Tags()))
	}
	if me := w.Me(); me.ID != "7300001" || me.Name != "Sofia Almeida" {
		t.Errorf("Me: got %+v", me)
	}

	demo, ok := w.DemoCaller()
	if !ok || demo.Name != DemoCallerName || demo.Phone != DemoCallerPhone || demo.FormattedPhone != DemoCallerFormattedPhone ||
		demo.LocationCountry != "US" || demo.Email != DemoCallerEmail || len(demo.CompanyIDs) != 2 {
		t.Errorf("demo caller: got %+v", demo)
	}

	byName := map[string][]Contact{}
	phones := map[string]int{}
	countries := map[string]bool{}
	roles := map[string]int{}
	noPhone, legacy := 0, 0
	for _, c := range contacts {
		byName[c.Name] = append(byName[c.Name], c)
		countries[c.LocationCountry] = true
		roles[c.Role]++
		switch {
		case c.Phone == "":
			noPhone++
		case c.Legacy:
			legacy++
			if c.FormattedPhone != "" {
				t.Errorf("%s: legacy contact has formatted_phone %q", c.Name, c.FormattedPhone)
			}
		default:
			if !strings.HasPrefix(c.FormattedPhone, "+") {
				t.Errorf("%s: phone %q has no E.164 form (got %q)", c.Name, c.Phone, c.FormattedPhone)
			}
			phones[c.FormattedPhone]++
		}
		if len(c.CompanyIDs) > 3 {
			t.Errorf("%s: %d companies, want at most 3", c.Name, len(c.CompanyIDs))
		}
		if age := testNow.Sub(c.UpdatedAt); age < 0 || age > 90*24*time.Hour {
			t.Errorf("%s: updated_at %v not within the last 90 days", c.Name, c.UpdatedAt)
		}
		if !c.CreatedAt.Before(c.UpdatedAt) {
			t.Errorf("%s: created_at %v not before updated_at %v", c.Name, c.CreatedAt, c.UpdatedAt)
		}
	}
	if legacy != 3 || noPhone == 0 || roles["user"] == 0 || roles["lead"] == 0 || len(countries) < 10 {
		t.Errorf("spread: got %d legacy, %d without phone, roles %v, %d countries", legacy, noPhone, roles, len(countries))
	}
	for e, n := range phones {
		if n > 1 && e != "+12125550187" {
			t.Errorf("phone %s shared by %d contacts; only the Kims should share one", e, n)
		}
	}
	if phones["+12125550187"] != 2 {
		t.Errorf("shared phone: got %d contacts, want 2", phones["+12125550187"])
	}
	for name, phone := range map[string]string{
		"James Carter": "+1 415-555-0143", "Emily Chen": "415.555.0144", "Robert Johnson": "1-415-555-0145",
		"Oliver Smith": "+44 20 7946 0958", "Amelia Brown": "020 7946 0959", "João Silva": "+351 912 345 678",
		"Ana Costa": "00351912345679", "Lukas Müller": "+49 30 123456", "Lucas Oliveira": "+55 11 91234-5678",
		"Henry Walker": "(650) 555-0110",
	} {
		if !slices.ContainsFunc(byName[name], func(c Contact) bool { return c.Phone == phone }) {
			t.Errorf("%s: want a contact with phone %q", name, phone)
		}
	}

	t.Run("small seeds keep the curated contacts first", func(t *testing.T) {
		small := New(Options{Contacts: 3, Now: func() time.Time { return testNow }})
		if got := len(small.Contacts()); got != 3 {
			t.Fatalf("got %d contacts, want 3", got)
		}
		if _, ok := small.DemoCaller(); !ok {
			t.Errorf("demo caller missing from a 3-contact seed")
		}
	})
	t.Run("Empty", func(t *testing.T) {
		e := New(Options{Empty: true})
		if len(e.Contacts()) != 0 || len(e.Companies()) != 0 || len(e.Admins()) != 6 {
			t.Errorf("Empty: got %d contacts, %d companies, %d admins", len(e.Contacts()), len(e.Companies()), len(e.Admins()))
		}
	})
	t.Run("large seeds still get unique phones", func(t *testing.T) {
		big := New(Options{Contacts: 3000, Now: func() time.Time { return testNow }})
		seen := map[string]bool{}
		for _, c := range big.Contacts() {
			if c.FormattedPhone != "" && c.FormattedPhone != "+12125550187" {
				if seen[c.FormattedPhone] {
					t.Fatalf("duplicate phone %s", c.FormattedPhone)
				}
				seen[c.FormattedPhone] = true
			}
		}
	})
}
