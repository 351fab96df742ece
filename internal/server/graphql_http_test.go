package server

import (
	"bytes"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// The GraphQL over HTTP specification: media types, methods and status codes.
func TestGraphQLOverHTTP(t *testing.T) {
	env := newTestEnv(t)
	const good = `{"query":"{ workspace { id } }"}`
	tests := []struct {
		name, method, contentType, accept, body, query string
		wantStatus                                     int
		wantMedia                                      string
		wantCode                                       string
		// requestError: the operation never ran, so the answer has no data
		// entry at all (not "data": null).
		requestError bool
	}{
		{name: "POST, graphql-response+json", method: "POST", contentType: "application/json", accept: "application/graphql-response+json",
			body: good, wantStatus: 200, wantMedia: "application/graphql-response+json"},
		{name: "POST, legacy client without Accept", method: "POST", contentType: "application/json",
			body: good, wantStatus: 200, wantMedia: "application/json"},
		{name: "POST, Accept prefers json by q", method: "POST", contentType: "application/json", accept: "application/graphql-response+json;q=0.5, application/json",
			body: good, wantStatus: 200, wantMedia: "application/json"},
		{name: "POST, Accept */* is a legacy client", method: "POST", contentType: "application/json; charset=utf-8", accept: "*/*",
			body: good, wantStatus: 200, wantMedia: "application/json"},
		{name: "POST, Accept application/*", method: "POST", contentType: "application/json", accept: "application/*",
			body: good, wantStatus: 200, wantMedia: "application/json"},
		{name: "POST, Accept names graphql-response+json beside */*", method: "POST", contentType: "application/json", accept: "*/*, application/graphql-response+json",
			body: good, wantStatus: 200, wantMedia: "application/graphql-response+json"},
		{name: "GET without Accept", method: "GET", query: "query=" + url.QueryEscape("{ workspace { id } }"),
			wantStatus: 200, wantMedia: "application/json"},
		{name: "parse error without Accept", method: "POST", contentType: "application/json",
			body: `{"query":"{"}`, wantStatus: 200, wantMedia: "application/json", wantCode: "GRAPHQL_PARSE_FAILED", requestError: true},
		{name: "GET query", method: "GET", query: "query=" + url.QueryEscape("{ workspace { id } }"), accept: "application/json",
			wantStatus: 200, wantMedia: "application/json"},
		{name: "parse error, graphql-response+json is 400", method: "POST", contentType: "application/json", accept: "application/graphql-response+json",
			body: `{"query":"{ workspace { id }"}`, wantStatus: 400, wantMedia: "application/graphql-response+json", wantCode: "GRAPHQL_PARSE_FAILED", requestError: true},
		{name: "parse error, application/json is 200", method: "POST", contentType: "application/json", accept: "application/json",
			body: `{"query":"{ workspace { id }"}`, wantStatus: 200, wantMedia: "application/json", wantCode: "GRAPHQL_PARSE_FAILED", requestError: true},
		{name: "validation error is 400", method: "POST", contentType: "application/json", accept: "application/graphql-response+json",
			body: `{"query":"{ nope }"}`, wantStatus: 400, wantMedia: "application/graphql-response+json", wantCode: "GRAPHQL_VALIDATION_FAILED", requestError: true},
		{name: "variables of the wrong type are 400", method: "POST", contentType: "application/json", accept: "application/graphql-response+json",
			body: `{"query":"query($id: ID!) { contact(id: $id) { id } }","variables":{"id":{"x":1}}}`, wantStatus: 400, wantMedia: "application/graphql-response+json", requestError: true},
		{name: "body not JSON", method: "POST", contentType: "application/json", accept: "application/graphql-response+json",
			body: `{"query":`, wantStatus: 400, wantMedia: "application/graphql-response+json", wantCode: "BAD_REQUEST", requestError: true},
		{name: "no query", method: "POST", contentType: "application/json", accept: "application/graphql-response+json",
			body: `{"variables":{}}`, wantStatus: 400, wantMedia: "application/graphql-response+json", wantCode: "BAD_REQUEST", requestError: true},
		{name: "POST text/plain is 415", method: "POST", contentType: "text/plain", body: good,
			wantStatus: 415, wantMedia: "application/json", wantCode: "BAD_REQUEST"},
		{name: "Accept text/html is 406", method: "POST", contentType: "application/json", accept: "text/html", body: good,
			wantStatus: 406, wantMedia: "application/json", wantCode: "BAD_REQUEST"},
		{name: "PUT is 405", method: "PUT", contentType: "application/json", body: good,
			wantStatus: 405, wantMedia: "application/json", wantCode: "METHOD_NOT_ALLOWED"},
		{name: "GET mutation is 405", method: "GET", query: "query=" + url.QueryEscape(`mutation { addNote(input: {contactId: "x", body: "y"}) { note { id } } }`),
			accept: "application/graphql-response+json", wantStatus: 405, wantMedia: "application/graphql-response+json", wantCode: "METHOD_NOT_ALLOWED", requestError: true},
		{name: "GET with bad variables JSON", method: "GET", query: "query=" + url.QueryEscape("{ workspace { id } }") + "&variables=%7Bx",
			wantStatus: 400, wantMedia: "application/json", wantCode: "BAD_REQUEST"},
		{name: "body over the limit is 413", method: "POST", contentType: "application/json",
			body:       `{"query":"{ workspace { id } }","variables":{"pad":"` + strings.Repeat("x", 2<<20) + `"}}`,
			wantStatus: 413, wantMedia: "application/json", wantCode: "BODY_TOO_LARGE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, env.URL+"/graphql?"+tt.query, bytes.NewReader([]byte(tt.body)))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			r := do(t, req, nil)
			if r.Status != tt.wantStatus {
				t.Errorf("status = %d, want %d (errors %+v)", r.Status, tt.wantStatus, r.Errors)
			}
			if got := r.Header.Get("Content-Type"); !strings.HasPrefix(got, tt.wantMedia) {
				t.Errorf("Content-Type = %q, want %s", got, tt.wantMedia)
			}
			if tt.wantCode != "" && r.code() != tt.wantCode {
				t.Errorf("code = %q, want %s (%+v)", r.code(), tt.wantCode, r.Errors)
			}
			if tt.requestError && r.Data != nil {
				t.Errorf("a request error has a data entry: %s", r.Data)
			}
			if tt.wantStatus == 200 && tt.wantCode == "" && (len(r.Errors) > 0 || len(r.Data) == 0) {
				t.Errorf("want data without errors, got %s %+v", r.Data, r.Errors)
			}
		})
	}
}

func TestIntrospectionIsOn(t *testing.T) {
	env := newTestEnv(t)
	var data struct {
		Schema struct {
			QueryType struct{ Name string }
		} `json:"__schema"`
	}
	env.mustQuery(t, `{ __schema { queryType { name } } }`, nil, &data)
	if data.Schema.QueryType.Name != "Query" {
		t.Errorf("introspection: query type %q", data.Schema.QueryType.Name)
	}
}

// Intercom's failures reach the client as coded errors without internals.
func TestUpstreamFailuresAreCoded(t *testing.T) {
	// A different number in each case, so that no case is answered from the cache.
	cases := []struct {
		name, phone string
		faults      emulator.Faults
		code        string
	}{
		{"5xx", "+12025550101", emulator.Faults{ErrorRate: 1, ErrorStatus: 503}, "UPSTREAM_UNAVAILABLE"},
		{"connection reset", "+12025550103", emulator.Faults{ResetRate: 1}, "UPSTREAM_UNAVAILABLE"},
		{"429", "+12025550102", emulator.Faults{Fail429Next: 5}, "RATE_LIMITED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newTestEnv(t) // its own breaker and rate budget
			env.Intercom.Workspace.SetFaults(c.faults)
			defer env.Intercom.Workspace.SetFaults(emulator.Faults{})
			r := env.query(t, `query($p: String!) { contactsByPhone(phone: $p) { id } }`, map[string]any{"p": c.phone}, nil)
			if r.Status != 200 || r.code() != c.code {
				t.Fatalf("HTTP %d, code %q, want 200 and %s (%+v)", r.Status, r.code(), c.code, r.Errors)
			}
			msg := r.Errors[0].Message
			for _, leak := range []string{testToken, "127.0.0.1", "Bearer"} {
				if strings.Contains(msg, leak) {
					t.Errorf("error message %q leaks %q", msg, leak)
				}
			}
			if c.code == "RATE_LIMITED" && r.Errors[0].Extensions["retryAfterSeconds"] == nil {
				t.Errorf("RATE_LIMITED without retryAfterSeconds: %+v", r.Errors[0].Extensions)
			}
		})
	}
}

func TestHealthAndReadiness(t *testing.T) {
	env := newTestEnv(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(env.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: %d %s, want 200 JSON", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	// With Intercom gone, the replica is still ready: every replica would
	// see the same Intercom, and this one still serves what it has cached.
	// /readyz says what is wrong, and so do the metrics.
	down := newTestEnv(t)
	down.Intercom.Close()
	a := readyzUntil(t, down, "intercom", "UPSTREAM_UNAVAILABLE")
	if a.Status != "degraded" || !strings.Contains(a.Checks["intercom"], "Intercom") {
		t.Errorf("/readyz with Intercom down: %+v, want 200 degraded naming Intercom", a)
	}
	if !scraped(t, down, `readiness_check{check="intercom",state="unavailable"} 1`) {
		t.Error(`/metrics lacks readiness_check{check="intercom",state="unavailable"} 1`)
	}
}

// Unknown paths and wrong methods, on the server and on the bridge, are
// coded error answers.
func TestNotFoundAndWrongMethods(t *testing.T) {
	env := newTestEnv(t)
	tests := []struct {
		method, path string
		wantStatus   int
		wantCode     string
	}{
		{"GET", "/nope", http.StatusNotFound, "NOT_FOUND"},
		{"GET", "/talkdesk/nope", http.StatusNotFound, "NOT_FOUND"},
		{"POST", "/talkdesk/actions/nope", http.StatusNotFound, "NOT_FOUND"},
		{"GET", "/talkdesk/contact_sync", http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
		{"POST", "/talkdesk/integration.json", http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, env.URL+tt.path, strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			status, header, body := errorAnswer(t, req)
			if status != tt.wantStatus || body.Code != tt.wantCode || !strings.Contains(body.Message, path.Base(tt.path)) {
				t.Errorf("HTTP %d %+v, want %d %s naming what was asked for", status, body, tt.wantStatus, tt.wantCode)
			}
			if header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id on the response")
			}
		})
	}
}

func TestPlaygroundAndUnknownRoutes(t *testing.T) {
	env := newTestEnv(t)
	resp, err := http.Get(env.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(body.String(), "graphiql") {
		t.Errorf("GET /: %d, want the GraphiQL page", resp.StatusCode)
	}
	resp, err = http.Get(env.URL + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("GET /nope: %d %s, want 404 JSON", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id on the response")
	}
}
