package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/talkdesk-intercom/api/internal/telemetry"
)

// Without an endpoint nothing is installed; with one, spans reach an
// OTLP/HTTP receiver at <endpoint>/v1/traces.
func TestSetup(t *testing.T) {
	prev := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	shutdown, err := telemetry.Setup(context.Background(), telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	shutdown(context.Background())
	if otel.GetTracerProvider() != prev {
		t.Error("a tracer provider was installed without an endpoint")
	}

	var got atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" && r.Header.Get("Content-Type") == "application/x-protobuf" {
			got.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	shutdown, err = telemetry.Setup(context.Background(), telemetry.Config{Endpoint: collector.URL, Protocol: "http/protobuf"})
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(context.Background(), "a span", trace.WithSpanKind(trace.SpanKindServer))
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got.Load() == 0 {
		t.Error("no spans reached the OTLP/HTTP receiver")
	}
}
