// Package telemetry sets up OpenTelemetry tracing: spans for each HTTP
// request (otelhttp), the GraphQL operation and its resolvers that reach a
// source (GraphQLTracer), each loader batch, each Redis command (redisotel)
// and each Intercom call (sources/intercom's transport), exported over OTLP.
//
// It is configured by the standard OTEL_* variables and is off, installing
// nothing, when no OTLP endpoint is set.
package telemetry

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// ServiceName is the service.name of the spans unless OTEL_SERVICE_NAME says
// otherwise.
const ServiceName = "talkdesk-intercom"

// Config names where traces go: the OTLP endpoints and protocol of the
// OTEL_EXPORTER_OTLP_* variables (package config reads them).
type Config struct {
	Endpoint       string // OTEL_EXPORTER_OTLP_ENDPOINT: a base URL
	TracesEndpoint string // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: the full URL
	Protocol       string // http/protobuf (default) or grpc
}

// Enabled says whether traces are exported.
func (c Config) Enabled() bool { return c.Endpoint != "" || c.TracesEndpoint != "" }

// Setup installs a tracer provider exporting to cfg's endpoint as the
// global one, and the W3C trace-context propagator. Without an endpoint it
// installs nothing. shutdown flushes the spans not yet sent.
func Setup(ctx context.Context, cfg Config) (shutdown func(context.Context) error, err error) {
	if !cfg.Enabled() {
		return func(context.Context) error { return nil }, nil
	}
	exp, err := exporter(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry exporter: %w", err)
	}
	// From the environment: OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES.
	res, err := resource.New(ctx, resource.WithAttributes(attribute.String("service.name", ServiceName)),
		resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithHost())
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry resource: %w", err)
	}
	// The sampler comes from OTEL_TRACES_SAMPLER (default: parent-based,
	// always on), the batching from OTEL_BSP_*.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp.Shutdown, nil
}

// exporter sends to the traces endpoint as given, or to the base endpoint's
// /v1/traces (OTLP/HTTP's rule for the base variable). Headers, TLS and
// timeouts come from the OTEL_EXPORTER_OTLP_* variables the exporter reads.
func exporter(ctx context.Context, cfg Config) (sdktrace.SpanExporter, error) {
	if cfg.Protocol == "grpc" {
		return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(cmpOr(cfg.TracesEndpoint, cfg.Endpoint)))
	}
	u := cfg.TracesEndpoint
	if u == "" {
		u = strings.TrimRight(cfg.Endpoint, "/") + "/v1/traces"
	}
	return otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
