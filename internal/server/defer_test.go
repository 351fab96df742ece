package server

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// The dashboard's query: the caller card first, its history and companies
// deferred (one more Intercom hop each, so the card need not wait for them).
const deferredDashboard = `query($phone: String!) {
  contactsByPhone(phone: $phone, defaultCountry: "US") {
    id name
    ... @defer(label: "history") { interactions(first: 5) { nodes { id type } } }
    ... @defer(label: "companies") { companies { id name } }
  }
}`

// deferPart is one part of an incremental answer, in gqlgen's format: over
// multipart/mixed the older incremental delivery (hasNext and
// incremental[]), over SSE one labelled payload per event.
type deferPart struct {
	Data    json.RawMessage `json:"data"`
	HasNext *bool           `json:"hasNext"`
	Errors  []gqlError      `json:"errors"`
	// Over SSE each deferred fragment is an event of its own, labelled.
	Label       string `json:"label"`
	Incremental []struct {
		Data  json.RawMessage `json:"data"`
		Label string          `json:"label"`
		Path  []any           `json:"path"`
	} `json:"incremental"`
}

// @defer over multipart/mixed: the first part holds the caller card alone;
// the deferred fragments follow, labelled, and the last part says hasNext
// false.
func TestDeferredDashboardOverMultipart(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{})
	demo, _ := env.Intercom.Workspace.DemoCaller()
	body, _ := json.Marshal(map[string]any{"query": deferredDashboard, "variables": map[string]any{"phone": demo.Phone}})
	req, _ := http.NewRequest("POST", env.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "multipart/mixed; deferSpec=20220824, application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	media, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK || err != nil || media != "multipart/mixed" {
		raw, _ := io.ReadAll(resp.Body)
		t.Fatalf("HTTP %d, %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	var parts []deferPart
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("part %d: %v", len(parts), err)
		}
		var part deferPart
		if err := json.NewDecoder(p).Decode(&part); err != nil {
			t.Fatalf("part %d is not JSON: %v", len(parts), err)
		}
		parts = append(parts, part)
	}
	checkDeferred(t, parts, demo.ID)
}

// @defer over SSE: the same parts, one event each.
func TestDeferredDashboardOverSSE(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{})
	demo, _ := env.Intercom.Workspace.DemoCaller()
	s := openSSE(t, env.URL, deferredDashboard, map[string]any{"phone": demo.Phone}, nil)
	var parts []deferPart
	for {
		ev, ok := s.event()
		if !ok || ev.Event == "complete" {
			break
		}
		var part deferPart
		if err := json.Unmarshal(ev.Data, &part); err != nil {
			t.Fatalf("event %d: %s", len(parts), ev.Data)
		}
		parts = append(parts, part)
	}
	checkDeferred(t, parts, demo.ID)
}

func checkDeferred(t *testing.T, parts []deferPart, contactID string) {
	t.Helper()
	if len(parts) < 2 {
		t.Fatalf("%d parts, want the card first and the deferred fragments after: %+v", len(parts), parts)
	}
	var first struct {
		ContactsByPhone []map[string]any
	}
	if err := json.Unmarshal(parts[0].Data, &first); err != nil || len(first.ContactsByPhone) != 1 ||
		first.ContactsByPhone[0]["id"] != contactID || parts[0].HasNext == nil || !*parts[0].HasNext {
		t.Fatalf("first part %s (hasNext %v), want the caller card alone", parts[0].Data, parts[0].HasNext)
	}
	// gqlgen writes deferred fields as null in the first part.
	if h := first.ContactsByPhone[0]["interactions"]; h != nil {
		t.Errorf("the first part holds the deferred history: %s", parts[0].Data)
	}
	labels := map[string]bool{}
	for _, p := range parts[1:] {
		if len(p.Errors) > 0 {
			t.Errorf("errors in a part: %+v", p.Errors)
		}
		for _, inc := range p.Incremental {
			labels[inc.Label] = true
		}
		if p.Label != "" {
			labels[p.Label] = true
		}
	}
	if !labels["history"] || !labels["companies"] {
		t.Errorf("deferred labels %v, want history and companies", labels)
	}
	if last := parts[len(parts)-1]; last.HasNext == nil || *last.HasNext {
		t.Errorf("the last part's hasNext is %v, want false", last.HasNext)
	}
}
