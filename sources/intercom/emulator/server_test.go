package emulator

import (
	"errors"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestAuth(t *testing.T) {
	s := start(t, Options{Token: "secret", Contacts: 5})
	tests := []struct {
		name   string
		header string
		status int
	}{
		{"no header", "", http.StatusUnauthorized},
		{"wrong token", "Bearer nope", http.StatusUnauthorized},
		{"basic scheme", "Basic secret", http.StatusUnauthorized},
		{"right token", "Bearer secret", http.StatusOK},
		{"scheme is case-insensitive", "bearer secret", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.header != "" {
				hdr["Authorization"] = tt.header
			}
			r := callWith(t, s, http.MethodGet, "/contacts", nil, "", hdr)
			if tt.status == http.StatusOK {
				wantStatus(t, r, http.StatusOK)
				return
			}
			if msg := wantError(t, r, tt.status, CodeUnauthorized); msg != "Access Token Invalid" {
				t.Errorf("message: got %q, want %q", msg, "Access Token Invalid")
			}
		})
	}
}

func TestHeadersAndVersion(t *testing.T) {
	s := start(t, Options{Contacts: 5})
	w := s.Workspace

	r := callWith(t, s, http.MethodGet, "/me", nil, w.Token(), map[string]string{"Intercom-Version": "2.16"})
	wantStatus(t, r, http.StatusOK)
	for _, h := range []string{"X-Request-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
		if r.header.Get(h) == "" {
			t.Errorf("header %s: missing", h)
		}
	}
	wantReset := testNow.Truncate(10 * time.Second).Add(10 * time.Second).Unix()
	if got := r.header.Get("X-RateLimit-Reset"); got != strconv.FormatInt(wantReset, 10) {
		t.Errorf("X-RateLimit-Reset: got %s, want %d", got, wantReset)
	}
	if got := w.LastVersion(); got != "2.16" {
		t.Errorf("LastVersion: got %q, want 2.16", got)
	}

	r = callWith(t, s, http.MethodGet, "/me", nil, w.Token(), map[string]string{"Intercom-Version": "9.9"})
	wantError(t, r, http.StatusBadRequest, CodeVersionInvalid)
	if got := w.LastVersion(); got != "9.9" {
		t.Errorf("LastVersion: got %q, want 9.9", got)
	}
	for _, v := range []string{"2.11", "Unstable", "Preview"} {
		wantStatus(t, callWith(t, s, http.MethodGet, "/me", nil, w.Token(), map[string]string{"Intercom-Version": v}), http.StatusOK)
	}

	wantError(t, call(t, s, http.MethodGet, "/nowhere", nil), http.StatusNotFound, CodeNotFound)
	wantError(t, call(t, s, http.MethodDelete, "/contacts/"+DemoCallerID, nil), http.StatusNotFound, CodeNotFound)
}

func TestMeAndAdmins(t *testing.T) {
	s := start(t, Options{Empty: true, WorkspaceID: "ws42", Region: "EU"})
	type me struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		App  struct {
			Type     string `json:"type"`
			IDCode   string `json:"id_code"`
			Region   string `json:"region"`
			Timezone string `json:"timezone"`
		} `json:"app"`
	}
	got := decode[me](t, call(t, s, http.MethodGet, "/me", nil))
	if got.Type != "admin" || got.ID != "7300001" || got.App.Type != "app" || got.App.IDCode != "ws42" || got.App.Region != "EU" || got.App.Timezone != "UTC" {
		t.Errorf("/me: got %+v, want admin 7300001 of app ws42 in EU/UTC", got)
	}

	type adminList struct {
		Type   string `json:"type"`
		Admins []struct {
			ID     string  `json:"id"`
			Avatar *string `json:"avatar"`
		} `json:"admins"`
	}
	list := decode[adminList](t, call(t, s, http.MethodGet, "/admins?display_avatar=true", nil))
	if list.Type != "admin.list" || len(list.Admins) != 6 || list.Admins[0].Avatar == nil {
		t.Errorf("/admins: got type %q with %d admins, want admin.list with 6 and avatars", list.Type, len(list.Admins))
	}
	wantStatus(t, call(t, s, http.MethodGet, "/admins/7300003", nil), http.StatusOK)
	wantError(t, call(t, s, http.MethodGet, "/admins/1", nil), http.StatusNotFound, CodeAdminNotFound)
}

func TestRateLimit(t *testing.T) {
	clock := NewClock(testNow)
	s := start(t, Options{Contacts: 5, RateLimit: 3, Now: clock.Now})

	for i := range 3 {
		r := call(t, s, http.MethodGet, "/me", nil)
		wantStatus(t, r, http.StatusOK)
		if got, want := r.header.Get("X-RateLimit-Remaining"), strconv.Itoa(2-i); got != want {
			t.Errorf("request %d: X-RateLimit-Remaining got %s, want %s", i, got, want)
		}
	}
	r := call(t, s, http.MethodGet, "/me", nil)
	wantError(t, r, http.StatusTooManyRequests, CodeRateLimited)
	if got := r.header.Get("X-RateLimit-Remaining"); got != "0" {
		t.Errorf("X-RateLimit-Remaining: got %s, want 0", got)
	}
	if got := r.header.Get("Retry-After"); got != "10" { // testNow is on a window boundary
		t.Errorf("Retry-After: got %q, want 10", got)
	}

	clock.Advance(10 * time.Second)
	wantStatus(t, call(t, s, http.MethodGet, "/me", nil), http.StatusOK)

	t.Run("unauthorized requests do not spend the budget", func(t *testing.T) {
		clock.Advance(10 * time.Second)
		for range 5 {
			wantStatus(t, callWith(t, s, http.MethodGet, "/me", nil, "bad", nil), http.StatusUnauthorized)
		}
		wantStatus(t, call(t, s, http.MethodGet, "/me", nil), http.StatusOK)
	})
}

func TestFaults(t *testing.T) {
	s := start(t, Options{Contacts: 5})
	w := s.Workspace
	get := func(t *testing.T, path string) response {
		t.Helper()
		return call(t, s, http.MethodGet, path, nil)
	}

	t.Run("FailNext", func(t *testing.T) {
		w.SetFaults(Faults{FailNext: 2})
		t.Cleanup(func() { w.SetFaults(Faults{}) })
		wantError(t, get(t, "/me"), http.StatusInternalServerError, CodeServerError)
		wantError(t, get(t, "/me"), http.StatusInternalServerError, CodeServerError)
		wantStatus(t, get(t, "/me"), http.StatusOK)
	})
	t.Run("FailNext with ErrorStatus 503", func(t *testing.T) {
		w.SetFaults(Faults{FailNext: 1, ErrorStatus: http.StatusServiceUnavailable})
		t.Cleanup(func() { w.SetFaults(Faults{}) })
		wantError(t, get(t, "/me"), http.StatusServiceUnavailable, CodeServiceUnavail)
		wantStatus(t, get(t, "/me"), http.StatusOK)
	})
	t.Run("Fail429Next", func(t *testing.T) {
		w.SetFaults(Faults{Fail429Next: 1})
		t.Cleanup(func() { w.SetFaults(Faults{}) })
		r := get(t, "/me")
		wantError(t, r, http.StatusTooManyRequests, CodeRateLimited)
		if r.header.Get("Retry-After") == "" || r.header.Get("X-RateLimit-Reset") == "" {
			t.Errorf("429 headers: got Retry-After %q, X-RateLimit-Reset %q, want both", r.header.Get("Retry-After"), r.header.Get("X-RateLimit-Reset"))
		}
		wantStatus(t, get(t, "/me"), http.StatusOK)
	})
	t.Run("ErrorRate 1", func(t *testing.T) {
		w.SetFaults(Faults{ErrorRate: 1, ErrorStatus: http.StatusBadGateway})
		t.Cleanup(func() { w.SetFaults(Faults{}) })
		wantError(t, get(t, "/me"), http.StatusBadGateway, "bad_gateway")
	})
	t.Run("Endpoints limits the faults", func(t *testing.T) {
		w.SetFaults(Faults{ErrorRate: 1, Endpoints: []string{EndpointContact}})
		t.Cleanup(func() { w.SetFaults(Faults{}) })
		wantStatus(t, get(t, "/me"), http.StatusOK)
		wantError(t, get(t, "/contacts/"+DemoCallerID), http.StatusInternalServerError, CodeServerError)
	})
	t.Run("SlowRate", func(t *testing.T) {
		w.SetFaults(Faults{SlowRate: 1, SlowDelay: 60 * time.Millisecond})
		t.Cleanup(func() { w.SetFaults(Faults{}) })
		begin := time.Now()
		wantStatus(t, get(t, "/me"), http.StatusOK)
		if got := time.Since(begin); got < 60*time.Millisecond {
			t.Errorf("slow request took %v, want at least 60ms", got)
		}
	})
	t.Run("SetLatency", func(t *testing.T) {
		w.SetLatency(40 * time.Millisecond)
		t.Cleanup(func() { w.SetLatency(0) })
		begin := time.Now()
		wantStatus(t, get(t, "/me"), http.StatusOK)
		if got := time.Since(begin); got < 40*time.Millisecond {
			t.Errorf("request took %v, want at least 40ms", got)
		}
	})
	t.Run("ResetRate", func(t *testing.T) {
		w.SetFaults(Faults{ResetRate: 1})
		t.Cleanup(func() { w.SetFaults(Faults{}) })
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/me", nil)
		req.Header.Set("Authorization", "Bearer "+w.Token())
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got status %d, want a transport error", resp.StatusCode)
		}
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Logf("transport error (not ECONNRESET on this platform): %v", err)
		}
	})
	t.Run("ErrorRate is repeatable per seed", func(t *testing.T) {
		run := func() []int {
			s := start(t, Options{Contacts: 1, Seed: 7})
			s.Workspace.SetFaults(Faults{ErrorRate: 0.5})
			var got []int
			for range 30 {
				got = append(got, call(t, s, http.MethodGet, "/me", nil).status)
			}
			return got
		}
		a, b := run(), run()
		fails := 0
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("run 1 %v, run 2 %v: want equal", a, b)
			}
			if a[i] != http.StatusOK {
				fails++
			}
		}
		if fails == 0 || fails == len(a) {
			t.Errorf("ErrorRate 0.5: got %d failures of %d, want some but not all", fails, len(a))
		}
	})
}

func TestCallCounters(t *testing.T) {
	s := start(t, Options{Contacts: 5})
	w := s.Workspace
	call(t, s, http.MethodGet, "/contacts/"+DemoCallerID, nil)
	call(t, s, http.MethodGet, "/contacts/unknown", nil)
	call(t, s, http.MethodPost, "/contacts/search", query(filter("role", "=", "user")))
	callWith(t, s, http.MethodGet, "/me", nil, "bad-token", nil)
	call(t, s, http.MethodGet, "/nowhere", nil)

	want := map[string]int{EndpointContact: 2, EndpointSearchContacts: 1, EndpointMe: 1, EndpointUnmatched: 1}
	for ep, n := range want {
		if got := w.Calls(ep); got != n {
			t.Errorf("Calls(%q): got %d, want %d", ep, got, n)
		}
	}
	if got := w.TotalCalls(); got != 5 {
		t.Errorf("TotalCalls: got %d, want 5", got)
	}
	if got := w.CallCounts(); len(got) != len(want) {
		t.Errorf("CallCounts: got %v, want %v", got, want)
	}
	w.ResetCalls()
	if got := w.TotalCalls() + w.Calls(EndpointContact); got != 0 {
		t.Errorf("after ResetCalls: got %d calls, want 0", got)
	}
}
