package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
