package graphqlhttp

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/talkdesk-intercom/api/internal/web"
)

// A body over MAX_BODY_BYTES is refused as every other limit is: its code,
// 413, and the setting, its bound and (when declared) the size in
// extensions, in both media types. The body is refused before the schema
// is reached, so the transport runs without one.
func TestBodyOverTheLimitNamesMaxBodyBytes(t *testing.T) {
	const limit = 1024
	srv := httptest.NewServer(web.LimitBody(limit)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Transport{}.Do(w, r, nil)
	})))
	defer srv.Close()

	query := `{"query":"{ workspace { id } }","variables":{"pad":"` + strings.Repeat("x", 2*limit) + `"}}`
	for _, tc := range []struct {
		name, accept, media string
		chunked             bool // no Content-Length: the size is not known
	}{
		{"graphql-response+json", mediaGraphQLResponse, mediaGraphQLResponse, false},
		{"json", mediaJSON, mediaJSON, false},
		{"chunked", mediaJSON, mediaJSON, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(query)
			if tc.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, _ := http.NewRequest(http.MethodPost, srv.URL, body)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", tc.accept)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("status %d, want 413", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, tc.media) {
				t.Errorf("Content-Type %q, want %s", got, tc.media)
			}
			var got struct {
				Data   *json.RawMessage `json:"data"`
				Errors []struct {
					Message    string         `json:"message"`
					Extensions map[string]any `json:"extensions"`
				} `json:"errors"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if got.Data != nil || len(got.Errors) != 1 {
				t.Fatalf("want one error and no data, got %+v", got)
			}
			e := got.Errors[0]
			if e.Extensions["code"] != "BODY_TOO_LARGE" || e.Extensions["limit"] != "MAX_BODY_BYTES" || e.Extensions["max"] != float64(limit) {
				t.Errorf("extensions %v, want code BODY_TOO_LARGE, limit MAX_BODY_BYTES, max %d", e.Extensions, limit)
			}
			if v, ok := e.Extensions["value"]; tc.chunked == ok || (ok && v != float64(len(query))) {
				t.Errorf("extensions.value %v (present: %v), want the declared length %d only when declared", v, ok, len(query))
			}
			if !strings.Contains(e.Message, "MAX_BODY_BYTES") {
				t.Errorf("message %q does not name MAX_BODY_BYTES", e.Message)
			}
		})
	}
}

// The transport writes an executed answer exactly as encoding/json would
// (it skips re-scanning the data): errors first, data (null when none, HTML
// characters escaped), then label, path, hasNext and extensions when set.
func TestAnswerBytesAreEncodingJSONs(t *testing.T) {
	yes := true
	for _, resp := range []*graphql.Response{
		nil,
		{},
		{Data: json.RawMessage("{\"contact\":{\"name\":\"<b>Ann</b> & Co \u2028\",\"n\":1.5,\"l\":[true,null]}}")},
		{Data: json.RawMessage(`null`), Errors: gqlerror.List{{Message: "no <such> thing", Path: ast.Path{ast.PathName("contact"), ast.PathIndex(2)},
			Extensions: map[string]any{"code": "NOT_FOUND"}}}},
		{Data: json.RawMessage(`{}`), Label: "history", Path: ast.Path{ast.PathName("contactsByPhone"), ast.PathIndex(0)}, HasNext: &yes,
			Extensions: map[string]any{"cost": map[string]int{"requested": 3}, "stale": "<1s>"}},
		{Errors: gqlerror.List{{Message: "partial"}}, Data: json.RawMessage("{\"a\":\"\u2029\"}"), Extensions: map[string]any{"cached": true}},
	} {
		want, _ := json.Marshal(resp)
		got, err := encodeResponse(resp)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("encodeResponse = %s, %v\nwant %s", got, err, want)
		}
	}
}
