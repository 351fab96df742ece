package telemetry

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

const scope = "github.com/talkdesk-intercom/api/internal/telemetry"

// GraphQLTracer is a gqlgen extension that traces each operation, and each
// field that has a resolver of its own (the fields that reach a loader or a
// source; plain struct fields would add thousands of spans for nothing).
// Variables are never recorded: they hold callers' phone numbers and notes.
type GraphQLTracer struct{}

var (
	_ graphql.HandlerExtension    = GraphQLTracer{}
	_ graphql.ResponseInterceptor = GraphQLTracer{}
	_ graphql.FieldInterceptor    = GraphQLTracer{}
)

func (GraphQLTracer) ExtensionName() string                          { return "OpenTelemetry" }
func (GraphQLTracer) Validate(schema graphql.ExecutableSchema) error { return nil }

// InterceptResponse wraps the operation's execution (every field runs inside
// it), so its span is the parent of the resolvers' spans.
func (GraphQLTracer) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	oc := graphql.GetOperationContext(ctx)
	kind, name := "operation", oc.OperationName
	if oc.Operation != nil {
		kind = string(oc.Operation.Operation)
		if name == "" {
			name = oc.Operation.Name
		}
	}
	spanName := "graphql." + kind
	if name != "" {
		spanName += " " + name
	}
	ctx, span := otel.Tracer(scope).Start(ctx, spanName, trace.WithAttributes(
		attribute.String("graphql.operation.type", kind), attribute.String("graphql.operation.name", name)))
	defer span.End()
	resp := next(ctx)
	if resp != nil && len(resp.Errors) > 0 {
		span.SetStatus(codes.Error, resp.Errors[0].Message)
		span.SetAttributes(attribute.Int("graphql.errors", len(resp.Errors)))
	}
	return resp
}

func (GraphQLTracer) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !fc.IsResolver {
		return next(ctx)
	}
	ctx, span := otel.Tracer(scope).Start(ctx, "graphql.resolve "+fc.Object+"."+fc.Field.Name, trace.WithAttributes(
		attribute.String("graphql.field.path", fc.Path().String()),
		attribute.String("graphql.field.name", fc.Field.Name),
		attribute.String("graphql.field.type", fc.Object)))
	defer span.End()
	res, err := next(ctx)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return res, err
}
