package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/e2e"
	"github.com/talkdesk-intercom/api/internal/playground"
)

// TestPlaygroundExamplesRun sends every example tab to the real server in
// demo mode, as GraphiQL does, and wants an answer without errors and with
// something in it: the tabs must work on a developer's first click.
func TestPlaygroundExamplesRun(t *testing.T) {
	srv := e2e.Start(t)
	examples, err := playground.Examples()
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range examples {
		t.Run(ex.File, func(t *testing.T) {
			if strings.Contains(ex.Query, "subscription ") {
				runSubscriptionExample(t, srv.URL, ex)
				return
			}
			data := post(t, srv.URL+"/graphql", ex.Query, ex.Operation, ex.Variables)
			for field, value := range data {
				if isEmpty(value) {
					t.Errorf("%s is empty in the demo workspace: %s", field, value)
				}
			}
		})
	}
}

// TestSyncExamplePages follows the SyncContacts tab's instructions: put
// pageInfo.endCursor into "after" and run again.
func TestSyncExamplePages(t *testing.T) {
	srv := e2e.Start(t)
	ex := example(t, "SyncContacts")
	var vars map[string]any
	if err := json.Unmarshal(ex.Variables, &vars); err != nil {
		t.Fatal(err)
	}
	type page struct {
		Contacts struct {
			Nodes    []struct{ ID string }
			PageInfo struct {
				HasNextPage bool
				EndCursor   string
			}
		}
	}
	seen := map[string]bool{}
	for n := 1; n <= 3; n++ {
		raw, _ := json.Marshal(vars)
		var p page
		data, _ := json.Marshal(post(t, srv.URL+"/graphql", ex.Query, ex.Operation, raw))
		if err := json.Unmarshal(data, &p); err != nil {
			t.Fatal(err)
		}
		if len(p.Contacts.Nodes) == 0 || !p.Contacts.PageInfo.HasNextPage || p.Contacts.PageInfo.EndCursor == "" {
			t.Fatalf("page %d: %s, want contacts and a next page", n, data)
		}
		for _, c := range p.Contacts.Nodes {
			if seen[c.ID] {
				t.Fatalf("page %d repeats contact %s", n, c.ID)
			}
			seen[c.ID] = true
		}
		vars["after"] = p.Contacts.PageInfo.EndCursor
	}
}

// TestCurlExample runs examples/curl.sh against the real server in demo mode.
func TestCurlExample(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	srv := e2e.Start(t)
	root, err := e2e.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", filepath.Join(root, "examples", "curl.sh"))
	cmd.Env = append(cmd.Environ(), "GRAPHQL_URL="+srv.URL+"/graphql")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("examples/curl.sh: %v\n%s", err, out)
	}
	for _, want := range []string{"Maria Garcia", "+14155550142", "Northwind Traders", "Contoso Labs"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
	if bytes.Contains(out, []byte(`"errors"`)) {
		t.Errorf("the output has errors:\n%s", out)
	}
}

func example(t *testing.T, operation string) playground.Example {
	t.Helper()
	examples, err := playground.Examples()
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range examples {
		if ex.Operation == operation {
			return ex
		}
	}
	t.Fatalf("no playground example named %s", operation)
	return playground.Example{}
}

// post sends an operation as GraphiQL's fetcher does and returns its data,
// failing the test on any error.
func post(t *testing.T, url, query, operation string, variables json.RawMessage) map[string]json.RawMessage {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "operationName": operation, "variables": variables})
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, multipart/mixed")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct {
		Data   map[string]json.RawMessage `json:"data"`
		Errors []json.RawMessage          `json:"errors"`
	}
	if media, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); media == "multipart/mixed" {
		// @defer: the first part holds the data, deferred fields null;
		// the others fill them in. Every part must be free of errors.
		mr := multipart.NewReader(resp.Body, params["boundary"])
		for n := 0; ; n++ {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("part %d: %v", n, err)
			}
			var part struct {
				Data        map[string]json.RawMessage `json:"data"`
				Errors      []json.RawMessage          `json:"errors"`
				Incremental []struct {
					Errors []json.RawMessage `json:"errors"`
				} `json:"incremental"`
			}
			if err := json.NewDecoder(p).Decode(&part); err != nil {
				t.Fatalf("part %d is not JSON: %v", n, err)
			}
			if n == 0 {
				answer.Data = part.Data
			}
			answer.Errors = append(answer.Errors, part.Errors...)
			for _, inc := range part.Incremental {
				answer.Errors = append(answer.Errors, inc.Errors...)
			}
		}
	} else if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		t.Fatalf("HTTP %d, not a GraphQL response: %v", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || len(answer.Errors) > 0 || len(answer.Data) == 0 {
		t.Fatalf("HTTP %d, errors %s, data %v", resp.StatusCode, answer.Errors, answer.Data)
	}
	return answer.Data
}

// isEmpty reports whether a top-level field's value shows nothing: null, an
// empty list, or a connection without nodes.
func isEmpty(value json.RawMessage) bool {
	v := strings.TrimSpace(string(value))
	if v == "null" || v == "[]" {
		return true
	}
	// A connection (its own "nodes", not those of a field inside it) with
	// no node is empty.
	var conn map[string]json.RawMessage
	if !strings.HasPrefix(v, "{") || json.Unmarshal(value, &conn) != nil {
		return false
	}
	nodes, ok := conn["nodes"]
	return ok && strings.TrimSpace(string(nodes)) == "[]"
}

// runSubscriptionExample follows a subscription tab over SSE, adds a note to
// the demo caller through the Talkdesk bridge, and wants the event.
func runSubscriptionExample(t *testing.T, base string, ex playground.Example) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": ex.Query, "operationName": ex.Operation, "variables": ex.Variables})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	lines := bufio.NewReader(resp.Body)
	if first, err := lines.ReadString('\n'); err != nil || first != ":\n" {
		t.Fatalf("the stream did not start: %q %v", first, err)
	}
	var vars struct{ ID string }
	_ = json.Unmarshal(ex.Variables, &vars)
	// The subscription starts after the stream's first comment: until the
	// event arrives, add notes (a note added before it started is not seen).
	done := make(chan string, 1)
	go func() {
		for {
			line, err := lines.ReadString('\n')
			if err != nil {
				close(done)
				return
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				done <- data
				return
			}
		}
	}()
	for i := 0; ; i++ {
		// Each note its own: the bridge takes a repeated call for a retry.
		note := fmt.Sprintf(`{"auth": {"token": "demo"}, "meta": {"contact_external_id": %q}, "data": {"body": "Playground example (%d)"}}`, vars.ID, i)
		r, err := http.Post(base+"/talkdesk/actions/add_note", "application/json", strings.NewReader(note))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode >= 300 {
			t.Fatalf("add_note: HTTP %d", r.StatusCode)
		}
		select {
		case data, ok := <-done:
			if !ok || !strings.Contains(data, `"kind":"UPDATED"`) || strings.Contains(data, `"errors"`) {
				t.Fatalf("event: %q (open %v), want an UPDATED event", data, ok)
			}
			return
		case <-time.After(time.Second):
		case <-ctx.Done():
			t.Fatal("no event arrived")
		}
	}
}
