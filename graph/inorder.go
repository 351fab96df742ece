package graph

import (
	"context"
	"io"
	"slices"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
)

// marshalSliceInOrder marshals a list's elements one after another on the
// caller's goroutine. cmd/gqlgen puts it in place of gqlgen's
// graphql.MarshalSliceConcurrently for lists of objects that never wait
// (no resolver in them, nor under them): it takes the same arguments and
// gives the same answer, errors and paths included, without a goroutine
// per element.
func marshalSliceInOrder(ctx context.Context, length int, _ int64, omitPanicHandler bool,
	marshalElement func(ctx context.Context, i int) graphql.Marshaler,
) graphql.Array {
	ret := make(graphql.Array, length)
	for i := range length {
		childCtx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i})
		if omitPanicHandler {
			ret[i] = marshalElement(childCtx, i)
			continue
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					graphql.AddError(childCtx, graphql.Recover(childCtx, r))
					ret[i] = graphql.Null
				}
			}()
			ret[i] = marshalElement(childCtx, i)
		}()
	}
	return ret
}

// resolveInOrder resolves field i of an object that cmd/gqlgen was told to
// resolve in order (-in-order), on the caller's goroutine, where gqlgen
// would have given it a goroutine of its own: it takes the place of
// out.ResolveConcurrently, with the same arguments after the object's
// context and the collected field. A deferred field still goes to gqlgen,
// to travel in a later payload, in the object's group of deferred fields,
// made then (cmd/gqlgen leaves it empty until a field is deferred). The
// field's result counts as gqlgen counts it: a null it may not be nulls the
// object.
func resolveInOrder(ctx context.Context, field graphql.CollectedField, out *graphql.FieldSet,
	oc *graphql.OperationContext, deferred *graphql.DeferredGroup, i int, recoverFromPanic, nonNull bool,
	resolve func(ctx context.Context) graphql.Marshaler,
) {
	if field.IsDeferred() {
		if deferred.Defers == nil {
			*deferred = graphql.NewDeferredGroup(ctx)
		}
		out.ResolveConcurrently(oc, deferred, i, recoverFromPanic, nonNull, resolve)
		return
	}
	v := resolveRecovering(ctx, oc, recoverFromPanic, resolve)
	out.Values[i] = v
	invalid := graphql.RequiredNull
	if nonNull {
		invalid = graphql.Null
	}
	if v == invalid {
		atomic.AddUint32(&out.Invalids, 1)
	}
}

// resolveRecovering runs resolve; when recoverFromPanic is true, a panic is
// the field's error and its null.
func resolveRecovering(ctx context.Context, oc *graphql.OperationContext, recoverFromPanic bool,
	resolve func(ctx context.Context) graphql.Marshaler) (res graphql.Marshaler) {
	if recoverFromPanic {
		defer func() {
			if r := recover(); r != nil {
				oc.Error(ctx, oc.Recover(ctx, r))
				res = graphql.Null
			}
		}()
	}
	return resolve(ctx)
}

// fieldsInOrder is an object's answer: its fields' values in the order of
// its selection, each response key once (the first). cmd/gqlgen has object
// functions return it where gqlgen returns the *graphql.FieldSet, whose
// MarshalGQL writes the same bytes but builds a map of the keys written for
// every object (350 maps on a warm 50-contact dashboard). A key is a
// GraphQL name (letters, digits, underscores): it needs no escaping.
type fieldsInOrder struct {
	fields []graphql.CollectedField
	values []graphql.Marshaler
}

func (o fieldsInOrder) MarshalGQL(w io.Writer) {
	io.WriteString(w, "{")
	for i, f := range o.fields {
		if slices.ContainsFunc(o.fields[:i], func(g graphql.CollectedField) bool { return g.Alias == f.Alias }) {
			continue
		}
		if i > 0 {
			io.WriteString(w, `,"`)
		} else {
			io.WriteString(w, `"`)
		}
		io.WriteString(w, f.Alias)
		io.WriteString(w, `":`)
		o.values[i].MarshalGQL(w)
	}
	io.WriteString(w, "}")
}
