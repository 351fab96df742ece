package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// A dashboard query over HTTP arrives as one trace: the server span, the
// GraphQL operation under it, the resolvers that reach a source under that,
// their loader batches, and the Redis commands and Intercom calls of the
// batches; its id is in every log line of the request and in the errors.
func TestDashboardQueryIsOneTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) })

	rds := redistest.Start(t)
	// The endpoint only switches tracing on: spans go to the global provider set above.
	env := newTestEnvWith(t, emulator.Options{}, "REDIS_URL", "redis://"+rds.Addr, "OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	demo, _ := env.Intercom.Workspace.DemoCaller()
	exp.Reset()

	const dashboard = `query Dashboard($ids: [ID!]!, $p: String!) {
		contactsByIds(ids: $ids) { id name company { name } interactions(first: 5) { totalCount nodes { id type } } }
		bad: contactsByPhone(phone: $p) { id } }`
	body, _ := json.Marshal(map[string]any{"query": dashboard, "variables": map[string]any{"ids": []string{demo.ID}, "p": "not a phone"}})
	resp, err := http.Post(env.URL+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Errors []struct {
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if err := tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}

	// go-redis dials and sets up new connections (HELLO, CLIENT SETINFO)
	// outside any request's context, the event stream's subscription among
	// them: those spans are roots of their own, no part of the request's.
	spans := slices.DeleteFunc(exp.GetSpans(), func(s tracetest.SpanStub) bool {
		return s.Name == "redis.dial" || s.Name == "hello" || s.Name == "redis.pipeline client"
	})
	byID := map[string]tracetest.SpanStub{}
	traces := map[string]bool{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID().String()] = s
		traces[s.SpanContext.TraceID().String()] = true
		for _, a := range s.Attributes {
			if v := a.Value.Emit(); strings.Contains(v, testToken) || strings.Contains(v, "Bearer") {
				t.Errorf("span %q attribute %s holds a secret: %s", s.Name, a.Key, v)
			}
		}
	}
	if len(traces) != 1 {
		var lines []string
		for _, s := range spans {
			lines = append(lines, s.SpanContext.TraceID().String()[:6]+" "+s.Name)
		}
		t.Fatalf("%d traces for one request, want 1:\n%s", len(traces), strings.Join(lines, "\n"))
	}
	// ancestors lists a span's ancestors' names, nearest first.
	ancestors := func(s tracetest.SpanStub) []string {
		var out []string
		for p, ok := byID[s.Parent.SpanID().String()]; ok; p, ok = byID[p.Parent.SpanID().String()] {
			out = append(out, p.Name)
		}
		return out
	}
	find := func(prefix string) []tracetest.SpanStub {
		var out []tracetest.SpanStub
		for _, s := range spans {
			if strings.HasPrefix(s.Name, prefix) {
				out = append(out, s)
			}
		}
		return out
	}
	// Each kind of span, and what it must sit under.
	for _, want := range []struct{ span, under string }{
		{"POST /graphql", ""},
		{"graphql.query Dashboard", "POST /graphql"},
		{"graphql.resolve Query.contactsByIds", "graphql.query Dashboard"},
		{"graphql.resolve Contact.interactions", "graphql.resolve Query.contactsByIds"},
		{"loader ", "graphql.query Dashboard"},
		{"intercom ", "loader "},
		{"mget", "loader "},
	} {
		found := find(want.span)
		if len(found) == 0 {
			t.Errorf("no span %q among %v", want.span, names(spans))
			continue
		}
		if want.under == "" {
			if up := ancestors(found[0]); len(up) != 0 {
				t.Errorf("%q is under %v, want the root", want.span, up)
			}
			continue
		}
		if !slices.ContainsFunc(ancestors(found[0]), func(n string) bool { return strings.HasPrefix(n, want.under) }) {
			t.Errorf("%q is under %v, want under %q", found[0].Name, ancestors(found[0]), want.under)
		}
	}
	if calls := find("intercom "); len(calls) > 0 {
		attrs := map[string]bool{}
		for _, a := range calls[0].Attributes {
			attrs[string(a.Key)] = true
		}
		for _, k := range []string{"intercom.endpoint", "intercom.attempt", "http.response.status_code", "intercom.ratelimit.remaining"} {
			if !attrs[k] {
				t.Errorf("Intercom call span %q lacks %s", calls[0].Name, k)
			}
		}
	}
	if batches := find("loader "); len(batches) > 0 {
		attrs := map[string]bool{}
		for _, a := range batches[0].Attributes {
			attrs[string(a.Key)] = true
		}
		if !attrs["loader.keys"] || !attrs["loader.hits"] {
			t.Errorf("loader span %q lacks keys or hits: %v", batches[0].Name, batches[0].Attributes)
		}
	}

	var traceID string
	for id := range traces {
		traceID = id
	}
	if len(out.Errors) == 0 || out.Errors[0].Extensions["traceId"] != traceID {
		t.Errorf("errors %+v, want extensions.traceId %s", out.Errors, traceID)
	}
	logged := 0
	for _, line := range strings.Split(env.Logs.String(), "\n") {
		if strings.Contains(line, `"path":"/graphql"`) {
			logged++
			if !strings.Contains(line, `"trace_id":"`+traceID+`"`) {
				t.Errorf("the request's log line has no trace id: %s", line)
			}
		}
	}
	if logged == 0 {
		t.Error("no log line of the request")
	}
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
