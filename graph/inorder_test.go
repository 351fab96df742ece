package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// marshalSliceInOrder answers as gqlgen's MarshalSliceConcurrently does:
// every element in its place, with its own index in the path, and a panic
// in one element is that element's null and an error, not the list's.
func TestMarshalSliceInOrder(t *testing.T) {
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter,
		func(ctx context.Context, err any) error { return fmt.Errorf("panic: %v", err) })
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{Alias: "nodes"}}})
	var paths []string
	got := marshalSliceInOrder(ctx, 3, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		paths = append(paths, graphql.GetFieldContext(ctx).Path().String())
		if i == 1 {
			panic("element one")
		}
		return graphql.MarshalInt(i)
	})
	var out bytes.Buffer
	got.MarshalGQL(&out)
	if out.String() != "[0,null,2]" {
		t.Errorf("list = %s, want [0,null,2]", out.String())
	}
	if fmt.Sprint(paths) != "[nodes[0] nodes[1] nodes[2]]" {
		t.Errorf("paths = %v", paths)
	}
	errs := graphql.GetErrors(ctx)
	var gqlErr *gqlerror.Error
	if len(errs) != 1 || !errors.As(errs[0], &gqlErr) || gqlErr.Path.String() != "nodes[1]" {
		t.Errorf("errors = %v, want one at nodes[1]", errs)
	}
	if empty := marshalSliceInOrder(ctx, 0, 0, false, nil); len(empty) != 0 {
		t.Errorf("an empty list = %v", empty)
	}
}

// resolveInOrder fills the field's place as gqlgen's ResolveConcurrently
// does once dispatched: the value, a panic as the field's null and error,
// and a null where the field may not be null counted invalid.
func TestResolveInOrder(t *testing.T) {
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter,
		func(ctx context.Context, err any) error { return fmt.Errorf("panic: %v", err) })
	oc := &graphql.OperationContext{RecoverFunc: func(ctx context.Context, err any) error { return fmt.Errorf("panic: %v", err) }}
	field := func(name string) graphql.CollectedField {
		return graphql.CollectedField{Field: &ast.Field{Name: name, Alias: name}}
	}
	fields := []graphql.CollectedField{field("value"), field("panics"), field("required"), field("optional")}
	out := graphql.NewFieldSet(fields)
	deferred := graphql.NewDeferredGroup(ctx)
	resolveInOrder(ctx, fields[0], out, oc, &deferred, 0, true, true, func(context.Context) graphql.Marshaler { return graphql.MarshalInt(7) })
	resolveInOrder(ctx, fields[1], out, oc, &deferred, 1, true, false, func(context.Context) graphql.Marshaler { panic("boom") })
	if out.Invalids != 0 {
		t.Errorf("a value and a nullable field's panic: %d invalid, want 0", out.Invalids)
	}
	resolveInOrder(ctx, fields[2], out, oc, &deferred, 2, true, true, func(context.Context) graphql.Marshaler { return graphql.Null })
	if out.Invalids != 1 {
		t.Errorf("a null where none may be: %d invalid, want 1", out.Invalids)
	}
	resolveInOrder(ctx, fields[3], out, oc, &deferred, 3, true, false, func(context.Context) graphql.Marshaler { return graphql.Null })
	out.Dispatch(ctx) // nothing was left for it
	var buf bytes.Buffer
	out.MarshalGQL(&buf)
	if got := buf.String(); got != `{"value":7,"panics":null,"required":null,"optional":null}` {
		t.Errorf("fields = %s", got)
	}
	if errs := graphql.GetErrors(ctx); len(errs) != 1 || !strings.Contains(errs[0].Error(), "boom") {
		t.Errorf("errors = %v, want the panic", errs)
	}
}

// fieldsInOrder writes what gqlgen's FieldSet writes, a repeated response
// key once, the first.
func TestFieldsInOrderWritesAsFieldSet(t *testing.T) {
	field := func(alias string) graphql.CollectedField {
		return graphql.CollectedField{Field: &ast.Field{Name: "f", Alias: alias}}
	}
	for _, aliases := range [][]string{{}, {"a"}, {"a", "b_2", "C"}, {"a", "a", "b"}, {"a", "b", "a"}} {
		fields := make([]graphql.CollectedField, len(aliases))
		for i, a := range aliases {
			fields[i] = field(a)
		}
		set := graphql.NewFieldSet(fields)
		for i := range fields {
			set.Values[i] = graphql.MarshalInt(i)
		}
		var want, got bytes.Buffer
		set.MarshalGQL(&want)
		fieldsInOrder{fields, set.Values}.MarshalGQL(&got)
		if got.String() != want.String() {
			t.Errorf("%v: %s, gqlgen writes %s", aliases, got.String(), want.String())
		}
	}
}
