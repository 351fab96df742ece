package talkdesk

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/talkdesk-intercom/api/sources"
)

// Every call of Talkdesk's is a JSON object with three members:
//
//	auth  the integration's authentication fields: token (the Intercom
//	      access token), region (us, eu or au; optional) and, when this
//	      server requires API keys, api_key
//	meta  what Talkdesk knows about the call (checkpoint, offset, contact
//	      and agent ids, interaction types); optional
//	data  the fields of the call (an action's inputs, the contact whose
//	      interactions are asked for); optional
//
// A body that is not a JSON object, lacks auth, or holds a member of the
// wrong type is a 400 that names the member, never a 500.

type credentials struct {
	token, region, apiKey string
}

type envelope struct {
	auth credentials
	meta object
	data object
}

func decodeEnvelope(r *http.Request) (envelope, error) {
	var env envelope
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return env, sources.Errorf(sources.EBodyTooLarge, "the body is larger than %d bytes", tooLarge.Limit)
		}
		return env, badRequest("", "the body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return env, badRequest("", `the body is empty: send a JSON object such as {"auth": {"token": "..."}}`)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		// Unmarshal checks the whole body is valid JSON before decoding, so
		// a SyntaxError means it is not JSON; any other failure (or null)
		// means it is JSON but not an object.
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return env, badRequest("", "the body is not valid JSON")
		}
		return env, badRequest("", "the body must be a JSON object, got %s", describe(body))
	}
	auth, err := decodeObject("auth", top["auth"])
	if err != nil {
		return env, err
	}
	if auth.fields == nil {
		return env, badRequest("auth", `auth is required: an object with the integration's authentication fields, e.g. {"auth": {"token": "<Intercom access token>"}}`)
	}
	if env.auth.token, err = auth.strictString("token"); err != nil {
		return env, err
	}
	if env.auth.region, err = auth.strictString("region"); err != nil {
		return env, err
	}
	if env.auth.apiKey, err = auth.strictString("api_key"); err != nil {
		return env, err
	}
	env.auth.token = strings.TrimSpace(env.auth.token)
	env.auth.region = strings.ToLower(strings.TrimSpace(env.auth.region))
	if env.meta, err = decodeObject("meta", top["meta"]); err != nil {
		return env, err
	}
	if env.data, err = decodeObject("data", top["data"]); err != nil {
		return env, err
	}
	return env, nil
}

// object is a member of the envelope. Its fields are read with the types
// the contract gives them, leniently where Talkdesk's configuration may type
// a value either way (an id as a number, a boolean as "true").
type object struct {
	name   string
	fields map[string]json.RawMessage // nil when the member is absent or null
}

// decodeObject reads an optional JSON object; absent and null give an empty
// object.
func decodeObject(name string, raw json.RawMessage) (object, error) {
	o := object{name: name}
	if isNull(raw) {
		return o, nil
	}
	if raw[0] != '{' {
		return o, badRequest(name, "%s must be an object, got %s", name, describe(raw))
	}
	if err := json.Unmarshal(raw, &o.fields); err != nil {
		return o, badRequest(name, "%s is not a valid object", name)
	}
	return o, nil
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// describe names the JSON type of a value, for messages.
func describe(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

func (o object) path(key string) string { return o.name + "." + key }

// value returns a field that is present and not null.
func (o object) value(key string) (json.RawMessage, bool) {
	v, ok := o.fields[key]
	if !ok || isNull(v) {
		return nil, false
	}
	return bytes.TrimSpace(v), true
}

// has reports whether a field is present and not null.
func (o object) has(key string) bool {
	_, ok := o.value(key)
	return ok
}

// strictString reads a field that must be a string ("" when absent).
func (o object) strictString(key string) (string, error) {
	v, ok := o.value(key)
	if !ok {
		return "", nil
	}
	var s string
	if v[0] != '"' || json.Unmarshal(v, &s) != nil {
		return "", badRequest(o.path(key), "%s must be a string, got %s", o.path(key), describe(v))
	}
	return s, nil
}

// str reads a string field; a number is taken as its decimal text (ids
// and offsets may arrive as numbers). "" when absent.
func (o object) str(key string) (string, error) {
	v, ok := o.value(key)
	if !ok {
		return "", nil
	}
	if s, ok := scalarText(v); ok {
		return s, nil
	}
	return "", badRequest(o.path(key), "%s must be a string, got %s", o.path(key), describe(v))
}

// optionalStr is str for fields whose absence differs from "" (an update).
func (o object) optionalStr(key string) (*string, error) {
	if !o.has(key) {
		return nil, nil
	}
	s, err := o.str(key)
	return &s, err
}

// strs reads a list of strings; a single string is taken as a list of one.
// Null and empty elements are skipped.
func (o object) strs(key string) ([]string, error) {
	v, ok := o.value(key)
	if !ok {
		return nil, nil
	}
	if v[0] != '[' {
		if s, ok := scalarText(v); ok {
			return nonEmptyStrings([]string{s}), nil
		}
		return nil, badRequest(o.path(key), "%s must be an array of strings, got %s", o.path(key), describe(v))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		return nil, badRequest(o.path(key), "%s must be an array of strings", o.path(key))
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		if isNull(it) {
			continue
		}
		s, ok := scalarText(bytes.TrimSpace(it))
		if !ok {
			return nil, badRequest(o.path(key), "%s[%d] must be a string, got %s", o.path(key), i, describe(it))
		}
		out = append(out, s)
	}
	return nonEmptyStrings(out), nil
}

// boolean reads true/false, also as "true"/"false", "yes"/"no", 1/0.
func (o object) boolean(key string) (bool, error) {
	v, ok := o.value(key)
	if !ok {
		return false, nil
	}
	text, _ := scalarText(v)
	switch strings.ToLower(strings.TrimSpace(text)) {
	case "true", "yes", "1", "on":
		return true, nil
	case "false", "no", "0", "off", "":
		return false, nil
	}
	return false, badRequest(o.path(key), "%s must be true or false, got %s", o.path(key), describe(v))
}

// integer reads a whole number, also as a string of digits.
func (o object) integer(key string) (int, error) {
	v, ok := o.value(key)
	if !ok {
		return 0, nil
	}
	text, ok := scalarText(v)
	if ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err == nil && f == math.Trunc(f) && math.Abs(f) <= math.MaxInt32 {
			return int(f), nil
		}
	}
	return 0, badRequest(o.path(key), "%s must be a whole number, got %s", o.path(key), describe(v))
}

// attributes reads a field that must be a JSON object (custom attributes),
// numbers kept as written; nil when absent.
func (o object) attributes(key string) (map[string]any, error) {
	v, ok := o.value(key)
	if !ok {
		return nil, nil
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	if v[0] != '{' || dec.Decode(&m) != nil {
		return nil, badRequest(o.path(key), "%s must be a JSON object, got %s", o.path(key), describe(v))
	}
	return m, nil
}

// canonical is the object as plain JSON values (numbers kept as written):
// its JSON encoding has sorted keys and no insignificant white space.
func (o object) canonical() map[string]any {
	out := make(map[string]any, len(o.fields))
	for k, raw := range o.fields {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) == nil {
			out[k] = v
		}
	}
	return out
}

// scalarText returns a JSON string's value or a number's or boolean's text.
func scalarText(v json.RawMessage) (string, bool) {
	switch {
	case len(v) == 0:
		return "", false
	case v[0] == '"':
		var s string
		return s, json.Unmarshal(v, &s) == nil
	case v[0] == '-' || (v[0] >= '0' && v[0] <= '9'):
		return string(v), true
	case string(v) == "true" || string(v) == "false":
		return string(v), true
	}
	return "", false
}

func nonEmptyStrings(list []string) []string {
	out := list[:0]
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// badRequest is a 400 naming the member at fault.
func badRequest(field, format string, args ...any) error {
	return sources.InputError(field, format, args...)
}
