package emulator

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
)

// Reading the JSON bodies of the write endpoints. Bodies are decoded into
// generic values (numbers as json.Number) and checked field by field, so
// that a wrong type gets the error Intercom gives for a bad parameter rather
// than a decoder message.

const maxWriteBody = 1 << 20

// readObject reads a JSON object body. An empty body is an empty object, so
// that a missing parameter is reported as such rather than as bad JSON.
func readObject(r *http.Request) (map[string]any, *apiError) {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxWriteBody))
	dec.UseNumber()
	var body any
	if err := dec.Decode(&body); err != nil {
		if errors.Is(err, io.EOF) {
			return map[string]any{}, nil
		}
		return nil, badRequest("Request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, badRequest("Request body is not valid JSON: unexpected data after the top-level object")
	}
	switch obj := body.(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return obj, nil
	}
	return nil, badRequest("Request body must be a JSON object")
}

// paramInvalid is Intercom's 400 for a parameter of the wrong type or value.
func paramInvalid(field, format string, args ...any) *apiError {
	e := errorf(http.StatusBadRequest, CodeParameterInvalid, format, args...)
	e.Field = field
	return e
}

// paramMissing is Intercom's 400 for a required parameter that is absent.
func paramMissing(field, format string, args ...any) *apiError {
	e := errorf(http.StatusBadRequest, CodeParameterNotFound, format, args...)
	e.Field = field
	return e
}

// param is an optional scalar of a body: set when the key is present, null
// when its value is JSON null.
type param[T any] struct {
	set, null bool
	v         T
}

// given reports whether the parameter carries a value (present, not null).
func (p param[T]) given() bool { return p.set && !p.null }

func lookup(obj map[string]any, name string) (any, bool) {
	v, ok := obj[name]
	return v, ok
}

// stringParam reads an optional string.
func stringParam(obj map[string]any, name string) (param[string], *apiError) {
	v, ok := lookup(obj, name)
	switch x := v.(type) {
	case nil:
		return param[string]{set: ok, null: ok}, nil
	case string:
		return param[string]{set: true, v: x}, nil
	}
	return param[string]{}, paramInvalid(name, "%s must be a string, got %s", name, describe(v))
}

// idParam reads an optional id: a string or an integer (the description's
// own examples send ids such as admin_id and tag ids as JSON numbers).
func idParam(obj map[string]any, name string) (param[string], *apiError) {
	v, ok := lookup(obj, name)
	switch x := v.(type) {
	case nil:
		return param[string]{set: ok, null: ok}, nil
	case string:
		return param[string]{set: true, v: strings.TrimSpace(x)}, nil
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return param[string]{set: true, v: x.String()}, nil
		}
	}
	return param[string]{}, paramInvalid(name, "%s must be a string id, got %s", name, describe(v))
}

// timeParam reads an optional Unix timestamp (an integer).
func timeParam(obj map[string]any, name string) (param[time.Time], *apiError) {
	v, ok := lookup(obj, name)
	switch x := v.(type) {
	case nil:
		return param[time.Time]{set: ok, null: ok}, nil
	case json.Number:
		if n, err := x.Int64(); err == nil && n >= 0 {
			return param[time.Time]{set: true, v: time.Unix(n, 0).UTC()}, nil
		}
	}
	return param[time.Time]{}, paramInvalid(name, "%s must be a Unix timestamp in seconds, got %s", name, describe(v))
}

// boolParam reads an optional boolean.
func boolParam(obj map[string]any, name string) (param[bool], *apiError) {
	v, ok := lookup(obj, name)
	switch x := v.(type) {
	case nil:
		return param[bool]{set: ok, null: ok}, nil
	case bool:
		return param[bool]{set: true, v: x}, nil
	}
	return param[bool]{}, paramInvalid(name, "%s must be true or false, got %s", name, describe(v))
}

// objectParam reads an optional JSON object; null counts as absent.
func objectParam(obj map[string]any, name string) (map[string]any, bool, *apiError) {
	v, _ := lookup(obj, name)
	switch x := v.(type) {
	case nil:
		return nil, false, nil
	case map[string]any:
		return x, true, nil
	}
	return nil, false, paramInvalid(name, "%s must be an object, got %s", name, describe(v))
}

// requiredID reads an id member that must be there and not empty; missing is
// Intercom's message when it is not.
func requiredID(obj map[string]any, name, missing string) (string, *apiError) {
	id, apiErr := idParam(obj, name)
	if apiErr != nil {
		return "", apiErr
	}
	if !id.given() || id.v == "" {
		return "", paramMissing(name, "%s", missing)
	}
	return id.v, nil
}
