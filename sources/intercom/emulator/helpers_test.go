package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

// testNow is the fixed clock of most tests: a Wednesday, mid-afternoon UTC.
var testNow = time.Date(2026, time.March, 18, 15, 30, 0, 0, time.UTC)

// start runs a server for the test; a nil Now is replaced by testNow.
func start(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// call sends one request with the server's token (or token, if not "").
func call(t *testing.T, s *Server, method, path string, body any) response {
	t.Helper()
	return callWith(t, s, method, path, body, s.Workspace.Token(), nil)
}

func callWith(t *testing.T, s *Server, method, path string, body any, token string, hdr map[string]string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("marshal body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %T: %v\nbody: %s", v, err, r.body)
	}
	return v
}

// The test views of response bodies.
type (
	contactJSON struct {
		Type        string  `json:"type"`
		ID          string  `json:"id"`
		WorkspaceID string  `json:"workspace_id"`
		ExternalID  *string `json:"external_id"`
		Role        string  `json:"role"`
		Name        string  `json:"name"`
		Email       string  `json:"email"`
		Phone       *string `json:"phone"`
		UpdatedAt   int64   `json:"updated_at"`
		CreatedAt   int64   `json:"created_at"`
		Location    struct {
			Country string `json:"country"`
		} `json:"location"`
		Tags      addressList    `json:"tags"`
		Companies addressList    `json:"companies"`
		Custom    map[string]any `json:"custom_attributes"`
		Raw       map[string]any `json:"-"`
	}
	listJSON struct {
		Type       string        `json:"type"`
		Data       []contactJSON `json:"data"`
		TotalCount int           `json:"total_count"`
		Pages      struct {
			Type       string `json:"type"`
			Page       int    `json:"page"`
			PerPage    int    `json:"per_page"`
			TotalPages int    `json:"total_pages"`
			Next       *struct {
				PerPage       int    `json:"per_page"`
				StartingAfter string `json:"starting_after"`
			} `json:"next"`
		} `json:"pages"`
	}
	errorJSON struct {
		Type      string `json:"type"`
		RequestID string `json:"request_id"`
		Errors    []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"errors"`
	}
)

// wantError checks an Intercom error.list answer and returns its message.
func wantError(t *testing.T, r response, status int, code string) string {
	t.Helper()
	if r.status != status {
		t.Fatalf("status: got %d, want %d (body %s)", r.status, status, r.body)
	}
	e := decode[errorJSON](t, r)
	if e.Type != "error.list" || len(e.Errors) != 1 {
		t.Fatalf("error body: got %s, want one error in an error.list", r.body)
	}
	if got := e.Errors[0].Code; got != code {
		t.Fatalf("error code: got %q, want %q (message %q)", got, code, e.Errors[0].Message)
	}
	if e.RequestID == "" || e.RequestID != r.header.Get("X-Request-Id") {
		t.Errorf("request_id: got %q, want the X-Request-Id header %q", e.RequestID, r.header.Get("X-Request-Id"))
	}
	return e.Errors[0].Message
}

func wantStatus(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status: got %d, want %d (body %s)", r.status, status, r.body)
	}
}

// search posts a search and returns the decoded list (status must be 200).
func search(t *testing.T, s *Server, body any) listJSON {
	t.Helper()
	r := call(t, s, http.MethodPost, "/contacts/search", body)
	wantStatus(t, r, http.StatusOK)
	return decode[listJSON](t, r)
}

func ids(l listJSON) []string {
	out := make([]string, len(l.Data))
	for i, c := range l.Data {
		out[i] = c.ID
	}
	return out
}

func filter(field, op string, value any) map[string]any {
	return map[string]any{"field": field, "operator": op, "value": value}
}

func group(op string, filters ...any) map[string]any {
	if filters == nil {
		filters = []any{}
	}
	return map[string]any{"operator": op, "value": filters}
}

func query(q any) map[string]any {
	return map[string]any{"query": q, "pagination": map[string]any{"per_page": 150}}
}
