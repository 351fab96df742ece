package model

import (
	"context"
	"encoding/json"
	"io"

	"github.com/99designs/gqlgen/graphql"

	"github.com/talkdesk-intercom/api/sources"
)

// MarshalJSONObject writes the JSON scalar (custom attributes) as the JSON
// object it holds, compact as the rest of the answer (an Encoder would end
// it with a newline), which the HTTP transport writes without compacting.
func MarshalJSONObject(v map[string]any) graphql.ContextMarshaler {
	return graphql.ContextWriterFunc(func(_ context.Context, w io.Writer) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
}

// UnmarshalJSONObject reads the JSON scalar. The schema takes it for custom
// attributes, which are an object: anything else is the caller's mistake
// (BAD_USER_INPUT naming the input field), not an internal error.
func UnmarshalJSONObject(ctx context.Context, v any) (map[string]any, error) {
	if m, ok := v.(map[string]any); ok {
		return m, nil
	}
	field := "the value"
	if pc := graphql.GetPathContext(ctx); pc != nil && pc.Field != nil {
		field = *pc.Field
	}
	return nil, sources.InputError(field, "%s must be a JSON object, got %s", field, jsonKind(v))
}

// jsonKind names the JSON type of a decoded value, for messages.
func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	default:
		return "a number"
	}
}
