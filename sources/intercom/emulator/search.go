package emulator

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The search engine: Intercom's query language (the description's "Search"
// sections of contacts, conversations and tickets) over any record type. A
// searcher[T] knows the fields of one object type; compiling, sorting and
// cursor paging are shared, so every search endpoint has the same operators,
// limits, errors and calendar-day date matching.

// Search limits, from the description's "Nesting & Limitations".
const (
	maxNesting         = 2  // levels of AND/OR groups
	maxFiltersPerGroup = 15 // filters in one AND/OR group
	searchDefaultPage  = 50
	maxSearchBody      = 1 << 20
)

// attrType is the data type of a searchable field; it decides the operators
// and value types a filter may use.
type attrType int

const (
	typeString    attrType = iota
	typeDate               // matched by calendar day in the workspace time zone
	typeNumber             // integer (or decimal) fields and custom attributes
	typeBoolean            //
	typeIDSet              // tag_id, segment_id: only = and !=
	typeCompany            // company_id: = != IN NIN over the contact's companies
	typeStringSet          // a list of ids (contact_ids, teammate_ids): = != IN NIN, any element matches
)

func (t attrType) String() string {
	return [...]string{"string", "date", "integer", "boolean", "id", "id", "string"}[t]
}

// inferAttrType guesses a custom attribute's type from a stored value; as in
// Intercom, numeric attributes named *_at or *_date are dates.
func inferAttrType(name string, v any) attrType {
	switch v.(type) {
	case bool:
		return typeBoolean
	case int64, float64, json.Number:
		if strings.HasSuffix(name, "_at") || strings.HasSuffix(name, "_date") {
			return typeDate
		}
		return typeNumber
	}
	return typeString
}

// fieldValue is one record's value of a field. For dates n holds Unix
// seconds.
type fieldValue struct {
	null bool
	s    string
	n    float64
	b    bool
	set  []string
}

func strVal(s string) fieldValue { return fieldValue{null: s == "", s: s} }

func dateVal(t time.Time) fieldValue {
	if t.IsZero() {
		return fieldValue{null: true}
	}
	return fieldValue{n: float64(t.Unix())}
}

// numVal is an integer field; zero is a value, not null (Intercom's
// admin_assignee_id is 0 when unassigned).
func numVal(n int64) fieldValue { return fieldValue{n: float64(n)} }

// idNumVal is an integer id held as a decimal string, "" being 0.
func idNumVal(id string) fieldValue {
	n, _ := strconv.ParseInt(id, 10, 64)
	return numVal(n)
}

func boolVal(b bool) fieldValue { return fieldValue{b: b} }

func setVal(ids []string) fieldValue { return fieldValue{set: ids} }

var nullVal = fieldValue{null: true}

// field is one searchable (and maybe sortable) field of records of type T.
type field[T any] struct {
	name string
	typ  attrType
	get  func(T) fieldValue
	fold bool     // = != IN NIN ignore case (email addresses)
	enum []string // the only accepted values (role, state)
	ops  []string // the operators accepted, when not those of typ
	// words makes = != IN NIN match any one word of the value, as
	// conversations' and tickets' source.body does (the description:
	// `=` "support" finds "I need support").
	words bool
}

// fieldTable builds a map of fields with typed helpers.
type fieldTable[T any] map[string]field[T]

func (m fieldTable[T]) add(f field[T]) { m[f.name] = f }

// lookup finds a field of an object type ("conversation", "ticket") by
// name, or answers Intercom's error for a field it does not search on.
func (m fieldTable[T]) lookup(object string) func(name string) (field[T], *apiError) {
	return func(name string) (field[T], *apiError) {
		if f, ok := m[name]; ok {
			return f, nil
		}
		return field[T]{}, fieldError(name, "'%s' is not a searchable %s field", name, object)
	}
}

func (m fieldTable[T]) str(name string, get func(T) string) {
	m.add(field[T]{name: name, typ: typeString, get: func(r T) fieldValue { return strVal(get(r)) }})
}

func (m fieldTable[T]) date(name string, get func(T) time.Time) {
	m.add(field[T]{name: name, typ: typeDate, get: func(r T) fieldValue { return dateVal(get(r)) }})
}

func (m fieldTable[T]) boolean(name string, get func(T) bool) {
	m.add(field[T]{name: name, typ: typeBoolean, get: func(r T) fieldValue { return boolVal(get(r)) }})
}

func (m fieldTable[T]) number(name string, get func(T) fieldValue) {
	m.add(field[T]{name: name, typ: typeNumber, get: get})
}

func (m fieldTable[T]) set(name string, get func(T) []string) {
	m.add(field[T]{name: name, typ: typeStringSet, get: func(r T) fieldValue { return setVal(get(r)) }})
}

func fieldError(name, format string, args ...any) *apiError {
	e := errorf(http.StatusBadRequest, CodeInvalidField, format, args...)
	e.Field = name
	return e
}

func badRequest(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, CodeBadRequest, format, args...)
}

// predicate is a compiled filter.
type predicate[T any] func(T) bool

// validOps lists the operators each field type accepts (description's
// "Accepted Operators").
var validOps = map[attrType][]string{
	typeString:    {"=", "!=", "IN", "NIN", "~", "!~", "^", "$"},
	typeDate:      {"=", "<", ">"},
	typeNumber:    {"=", "!=", "IN", "NIN", "<", ">", "<=", ">="},
	typeBoolean:   {"=", "!=", "IN", "NIN"},
	typeIDSet:     {"=", "!="},
	typeCompany:   {"=", "!=", "IN", "NIN"},
	typeStringSet: {"=", "!=", "IN", "NIN"},
}

var allOps = []string{"=", "!=", "IN", "NIN", "<", "<=", ">", ">=", "~", "!~", "^", "$"}

// searcher searches the records of one object type.
type searcher[T any] struct {
	object string // "contact", "conversation", "ticket": in messages and cursors
	field  func(name string) (field[T], *apiError)
	tz     *time.Location
	// companyIDs expands a company_id filter value (an Intercom id or your
	// own company_id) to the Intercom ids it names; contacts only.
	companyIDs func(value string) []string
	// order is the key of the default order (created_at, then id).
	order func(T) sortKey
}

// compile turns a query object into a predicate, enforcing Intercom's
// limits; depth is the number of AND/OR groups around q.
func (s *searcher[T]) compile(q any, depth int) (predicate[T], *apiError) {
	obj, ok := q.(map[string]any)
	if !ok {
		return nil, badRequest("Each filter must be a JSON object with field, operator and value, or operator and a value array")
	}
	op, ok := obj["operator"].(string)
	if !ok {
		return nil, badRequest("Filter is missing a string 'operator'")
	}
	if op == "AND" || op == "OR" {
		return s.compileGroup(op, obj, depth+1)
	}
	name, ok := obj["field"].(string)
	if !ok || name == "" {
		if _, isList := obj["value"].([]any); isList && !slices.Contains(allOps, op) {
			return nil, errorf(http.StatusBadRequest, CodeInvalidOperator, "Unsupported operator '%s' for a group of filters: use AND or OR", op)
		}
		return nil, badRequest("Filter is missing a string 'field'")
	}
	f, apiErr := s.field(name)
	if apiErr != nil {
		return nil, apiErr
	}
	if !slices.Contains(allOps, op) {
		return nil, errorf(http.StatusBadRequest, CodeInvalidOperator, "Unsupported operator '%s'; operators are %s", op, strings.Join(allOps, " "))
	}
	ops := f.ops
	if ops == nil {
		ops = validOps[f.typ]
	}
	if !slices.Contains(ops, op) {
		msg := fmt.Sprintf("Operator '%s' is not supported on %s field '%s'; use one of %s", op, f.typ, name, strings.Join(ops, " "))
		if f.typ == typeDate {
			msg = fmt.Sprintf("Operator '%s' is not supported on date field '%s': dates are matched by calendar day and accept only %s", op, name,
				strings.Join(ops[:len(ops)-1], ", ")+" and "+ops[len(ops)-1])
		}
		e := errorf(http.StatusBadRequest, CodeInvalidOperator, "%s", msg)
		e.Field = name
		return nil, e
	}
	value, present := obj["value"]
	if !present {
		return nil, valueError(name, "Filter on '%s' is missing 'value'", name)
	}
	return s.compileFilter(f, op, value)
}

func (s *searcher[T]) compileGroup(op string, obj map[string]any, level int) (predicate[T], *apiError) {
	if level > maxNesting {
		return nil, badRequest("Search query is nested too deeply: at most %d levels of AND/OR groups are allowed", maxNesting)
	}
	items, ok := obj["value"].([]any)
	if !ok {
		return nil, badRequest("The value of an %s filter must be an array of filters", op)
	}
	if len(items) == 0 {
		return nil, badRequest("An %s filter must contain at least one filter", op)
	}
	if len(items) > maxFiltersPerGroup {
		return nil, badRequest("Too many filters in an %s group: %d given, at most %d are allowed", op, len(items), maxFiltersPerGroup)
	}
	preds := make([]predicate[T], len(items))
	for i, it := range items {
		p, apiErr := s.compile(it, level)
		if apiErr != nil {
			return nil, apiErr
		}
		preds[i] = p
	}
	if op == "AND" {
		return func(r T) bool {
			for _, p := range preds {
				if !p(r) {
					return false
				}
			}
			return true
		}, nil
	}
	return func(r T) bool {
		for _, p := range preds {
			if p(r) {
				return true
			}
		}
		return false
	}, nil
}

func valueError(name, format string, args ...any) *apiError {
	e := errorf(http.StatusBadRequest, CodeInvalidValue, format, args...)
	e.Field = name
	return e
}

// describe renders a JSON value for an error message.
func describe(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (s *searcher[T]) compileFilter(f field[T], op string, value any) (predicate[T], *apiError) {
	list := op == "IN" || op == "NIN"
	var values []any
	if list {
		arr, ok := value.([]any)
		if !ok {
			return nil, valueError(f.name, "Operator '%s' on '%s' needs an array value, got %s", op, f.name, describe(value))
		}
		values = arr
	} else {
		if _, isArr := value.([]any); isArr {
			return nil, valueError(f.name, "Operator '%s' on '%s' needs a single value, not an array (use IN or NIN)", op, f.name)
		}
		values = []any{value}
	}
	switch f.typ {
	case typeString:
		return compileString(f, op, values)
	case typeDate:
		return s.compileDate(f, op, value)
	case typeNumber:
		return compileNumber(f, op, values)
	case typeBoolean:
		return compileBool(f, op, values)
	default:
		return s.compileIDSet(f, op, values)
	}
}

func compileString[T any](f field[T], op string, values []any) (predicate[T], *apiError) {
	norm := func(s string) string {
		if f.fold || f.words {
			return strings.ToLower(s)
		}
		return s
	}
	want := make([]string, 0, len(values))
	nullWanted := false
	for _, v := range values {
		switch x := v.(type) {
		case string:
			if f.enum != nil && !slices.Contains(f.enum, x) {
				return nil, valueError(f.name, "'%s' accepts only %s, got %q", f.name, orList(f.enum), x)
			}
			want = append(want, norm(x))
		case nil:
			// = null and != null test for an unknown value.
			if op != "=" && op != "!=" {
				return nil, valueError(f.name, "Operator '%s' on '%s' needs a string value, got null", op, f.name)
			}
			nullWanted = true
		default:
			return nil, valueError(f.name, "Value for string field '%s' must be a string, got %s", f.name, describe(v))
		}
	}
	get := f.get
	if nullWanted {
		isNull := func(r T) bool { return get(r).null }
		if op == "=" {
			return isNull, nil
		}
		return func(r T) bool { return !isNull(r) }, nil
	}
	// equal reports whether the value (or, for words fields, one of its
	// words) is one of want.
	equal := func(v fieldValue) bool { return slices.Contains(want, norm(v.s)) }
	if f.words {
		equal = func(v fieldValue) bool {
			return slices.ContainsFunc(words(v.s), func(w string) bool { return slices.Contains(want, w) })
		}
	}
	// Partial-match operators ignore case, as Intercom's do.
	lower := func(r T) (string, bool) {
		v := get(r)
		return strings.ToLower(v.s), !v.null
	}
	switch op {
	case "=", "IN":
		return func(r T) bool {
			v := get(r)
			return !v.null && equal(v)
		}, nil
	case "!=", "NIN":
		return func(r T) bool {
			v := get(r)
			return v.null || !equal(v)
		}, nil
	}
	needle := strings.ToLower(want[0])
	match := map[string]func(s, sub string) bool{
		"~": strings.Contains, "!~": strings.Contains, "^": strings.HasPrefix, "$": strings.HasSuffix,
	}[op]
	if op == "!~" {
		return func(r T) bool {
			s, ok := lower(r)
			return !ok || !match(s, needle)
		}, nil
	}
	return func(r T) bool {
		s, ok := lower(r)
		return ok && match(s, needle)
	}, nil
}

// words splits a text (HTML tags removed) into lower-case words.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(plainText(s)), func(r rune) bool {
		return !(r == '\'' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 0x7f)
	})
}

func orList(values []string) string {
	if len(values) <= 2 {
		return strings.Join(values, " or ")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

// unixValue accepts what Intercom accepts for a date: a JSON integer or a
// string of digits (the description's own example sends "1306054154").
func unixValue(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// compileDate matches by calendar day in the workspace time zone: = is the
// whole day, > starts at the next day, < ends before that day; where a field
// accepts them, >= starts at the day and <= ends with it.
func (s *searcher[T]) compileDate(f field[T], op string, value any) (predicate[T], *apiError) {
	ts, ok := unixValue(value)
	if !ok {
		return nil, valueError(f.name, "Value for date field '%s' must be a UNIX timestamp, got %s", f.name, describe(value))
	}
	t := time.Unix(ts, 0).In(s.tz)
	y, m, d := t.Date()
	dayStart := float64(time.Date(y, m, d, 0, 0, 0, 0, s.tz).Unix())
	nextDay := float64(time.Date(y, m, d+1, 0, 0, 0, 0, s.tz).Unix())
	get := f.get
	in := func(r T, lo, hi float64) bool {
		v := get(r)
		return !v.null && v.n >= lo && v.n < hi
	}
	const inf = 1e300
	switch op {
	case "=":
		return func(r T) bool { return in(r, dayStart, nextDay) }, nil
	case ">":
		return func(r T) bool { return in(r, nextDay, inf) }, nil
	case ">=":
		return func(r T) bool { return in(r, dayStart, inf) }, nil
	case "<=":
		return func(r T) bool { return in(r, -inf, nextDay) }, nil
	default: // "<"
		return func(r T) bool { return in(r, -inf, dayStart) }, nil
	}
}

func compileNumber[T any](f field[T], op string, values []any) (predicate[T], *apiError) {
	want := make([]float64, 0, len(values))
	for _, v := range values {
		var n float64
		var err error = errors.New("not a number")
		switch x := v.(type) {
		case json.Number:
			n, err = x.Float64()
		case string:
			n, err = strconv.ParseFloat(strings.TrimSpace(x), 64)
		}
		if err != nil {
			return nil, valueError(f.name, "Value for integer field '%s' must be a number, got %s", f.name, describe(v))
		}
		want = append(want, n)
	}
	get := f.get
	return func(r T) bool {
		v := get(r)
		switch op {
		case "!=", "NIN":
			return v.null || !slices.Contains(want, v.n)
		}
		if v.null {
			return false
		}
		switch op {
		case "<":
			return v.n < want[0]
		case "<=":
			return v.n <= want[0]
		case ">":
			return v.n > want[0]
		case ">=":
			return v.n >= want[0]
		}
		return slices.Contains(want, v.n) // = and IN
	}, nil
}

func compileBool[T any](f field[T], op string, values []any) (predicate[T], *apiError) {
	want := make([]bool, 0, len(values))
	for _, v := range values {
		switch x := v.(type) {
		case bool:
			want = append(want, x)
		case string:
			b, err := strconv.ParseBool(x)
			if err != nil {
				return nil, valueError(f.name, "Value for boolean field '%s' must be true or false, got %q", f.name, x)
			}
			want = append(want, b)
		default:
			return nil, valueError(f.name, "Value for boolean field '%s' must be true or false, got %s", f.name, describe(v))
		}
	}
	get := f.get
	negate := op == "!=" || op == "NIN"
	return func(r T) bool {
		v := get(r)
		hit := !v.null && slices.Contains(want, v.b)
		return hit != negate
	}, nil
}

// compileIDSet handles fields whose value is a set of ids: tag_id,
// segment_id, company_id (whose values may be the Intercom id or your own
// company_id) and lists such as contact_ids. A record matches = and IN when
// any of its ids is one of the values, != and NIN when none is.
func (s *searcher[T]) compileIDSet(f field[T], op string, values []any) (predicate[T], *apiError) {
	want := map[string]bool{}
	for _, v := range values {
		str, ok := v.(string)
		if !ok {
			return nil, valueError(f.name, "Value for '%s' must be a string id, got %s", f.name, describe(v))
		}
		want[str] = true
		if f.typ == typeCompany && s.companyIDs != nil {
			for _, id := range s.companyIDs(str) {
				want[id] = true
			}
		}
	}
	get := f.get
	negate := op == "!=" || op == "NIN"
	return func(r T) bool {
		hit := slices.ContainsFunc(get(r).set, func(id string) bool { return want[id] })
		return hit != negate
	}, nil
}

// ---- sorting and cursors ----

// sortSpec orders results; the zero value is the default order (created_at,
// then id, ascending).
type sortSpec[T any] struct {
	field string
	desc  bool
	get   func(T) fieldValue
}

type sortKey struct {
	null bool
	num  bool
	n    float64
	s    string
	id   string
}

// createdKey is the default order's key of a record.
func createdKey(created time.Time, id string) sortKey {
	return sortKey{num: true, n: float64(created.Unix()), id: id}
}

func (s *searcher[T]) key(spec sortSpec[T], r T) sortKey {
	def := s.order(r)
	if spec.get == nil {
		return def
	}
	v := spec.get(r)
	switch {
	case v.null:
		return sortKey{null: true, id: def.id}
	case v.s != "":
		return sortKey{s: strings.ToLower(v.s), id: def.id}
	case v.b:
		return sortKey{num: true, n: 1, id: def.id}
	}
	return sortKey{num: true, n: v.n, id: def.id}
}

// compareKeys orders two keys: nulls last in either direction, ties broken
// by id ascending so that the order is total and cursors never skip.
func compareKeys(desc bool, a, b sortKey) int {
	if a.null != b.null {
		if a.null {
			return 1
		}
		return -1
	}
	c := 0
	if !a.null {
		if a.num != b.num {
			c = map[bool]int{true: -1, false: 1}[a.num]
		} else if a.num {
			c = cmp.Compare(a.n, b.n)
		} else {
			c = cmp.Compare(a.s, b.s)
		}
		if desc {
			c = -c
		}
	}
	if c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// cursor is the opaque starting_after value: the object searched, the sort
// and the key of the last item served, so that a page starts right after it
// even if records were added or removed meanwhile.
type cursor struct {
	Object string  `json:"o,omitempty"`
	Field  string  `json:"f,omitempty"`
	Desc   bool    `json:"d,omitempty"`
	Null   bool    `json:"z,omitempty"`
	Num    bool    `json:"k,omitempty"`
	N      float64 `json:"n,omitempty"`
	S      string  `json:"s,omitempty"`
	ID     string  `json:"i"`
	Page   int     `json:"p"`
}

func (c cursor) key() sortKey {
	return sortKey{null: c.Null, num: c.Num, n: c.N, s: c.S, id: c.ID}
}

func newCursor(object, field string, desc bool, k sortKey, page int) string {
	b, _ := json.Marshal(cursor{Object: object, Field: field, Desc: desc, Null: k.null, Num: k.num, N: k.n, S: k.s, ID: k.id, Page: page})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, err
	}
	if c.ID == "" || c.Page < 1 {
		return c, errors.New("incomplete cursor")
	}
	return c, nil
}

// sortSpec reads the optional sort object; order defaults to descending as
// the description says.
func (s *searcher[T]) sortSpec(raw any) (sortSpec[T], *apiError) {
	if raw == nil {
		return sortSpec[T]{}, nil
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return sortSpec[T]{}, badRequest("'sort' must be an object with field and order")
	}
	name, ok := obj["field"].(string)
	if !ok || name == "" {
		return sortSpec[T]{}, badRequest("'sort.field' is required and must be a string")
	}
	desc := true
	if o, present := obj["order"]; present && o != nil {
		str, _ := o.(string)
		switch str {
		case "ascending":
			desc = false
		case "descending":
		default:
			e := errorf(http.StatusBadRequest, CodeInvalidSortOrder, "Invalid sort order '%s'. Must be one of: ascending, descending", strings.Trim(describe(o), `"`))
			e.Field = "sort.order"
			return sortSpec[T]{}, e
		}
	}
	f, apiErr := s.field(name)
	if apiErr != nil {
		return sortSpec[T]{}, apiErr
	}
	if f.typ == typeIDSet || f.typ == typeCompany || f.typ == typeStringSet {
		return sortSpec[T]{}, fieldError(name, "Cannot sort by '%s'", name)
	}
	return sortSpec[T]{field: name, desc: desc, get: f.get}, nil
}

// page cuts one page out of matches (already in sort order) after the
// cursor. An empty cursor string answers 500, as the live API has been seen
// to do; a cursor of another object, sort or order is a client_error.
func (s *searcher[T]) page(matches []T, spec sortSpec[T], perPage int, after *string) ([]T, cursorPages, *apiError) {
	start, page := 0, 1
	if after != nil {
		if *after == "" {
			return nil, cursorPages{}, faultError(http.StatusInternalServerError)
		}
		cur, err := decodeCursor(*after)
		if err != nil || cur.Object != s.object || cur.Field != spec.field || cur.Desc != spec.desc {
			e := errorf(http.StatusBadRequest, CodeClientError, msgBadCursor)
			e.Field = "starting_after"
			return nil, cursorPages{}, e
		}
		key := cur.key()
		start = len(matches)
		for i, r := range matches {
			if compareKeys(spec.desc, s.key(spec, r), key) > 0 {
				start = i
				break
			}
		}
		page = cur.Page + 1
	}
	end := min(start+perPage, len(matches))
	pages := cursorPages{
		Type:       "pages",
		Page:       page,
		PerPage:    perPage,
		TotalPages: (len(matches) + perPage - 1) / perPage,
	}
	if end < len(matches) {
		next := newCursor(s.object, spec.field, spec.desc, s.key(spec, matches[end-1]), page)
		pages.Next = &nextPage{PerPage: perPage, StartingAfter: &next}
	}
	return matches[start:end], pages, nil
}

// search runs a search request over all (in the default order) and returns
// one page of matches, the page description and the number of matches.
func (s *searcher[T]) search(req searchRequest, all []T) ([]T, cursorPages, int, *apiError) {
	pred, apiErr := s.compile(req.query, 0)
	if apiErr != nil {
		return nil, cursorPages{}, 0, apiErr
	}
	spec, apiErr := s.sortSpec(req.sort)
	if apiErr != nil {
		return nil, cursorPages{}, 0, apiErr
	}
	var matches []T
	for _, r := range all {
		if pred(r) {
			matches = append(matches, r)
		}
	}
	if spec.get != nil {
		slices.SortFunc(matches, func(a, b T) int { return compareKeys(spec.desc, s.key(spec, a), s.key(spec, b)) })
	}
	items, pages, apiErr := s.page(matches, spec, req.perPage, req.after)
	return items, pages, len(matches), apiErr
}

// ---- requests ----

type searchRequest struct {
	query   any
	sort    any
	perPage int
	after   *string
}

// readSearchRequest reads a search body; perPage is the endpoint's default
// page size.
func readSearchRequest(r *http.Request, perPage int) (searchRequest, *apiError) {
	req := searchRequest{perPage: perPage}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxSearchBody))
	dec.UseNumber()
	var body any
	if err := dec.Decode(&body); err != nil {
		return req, badRequest("Request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return req, badRequest("Request body is not valid JSON: unexpected data after the top-level object")
	}
	obj, ok := body.(map[string]any)
	if !ok {
		return req, badRequest("Request body must be a JSON object")
	}
	q, ok := obj["query"]
	if !ok || q == nil {
		e := badRequest("'query' is required")
		e.Field = "query"
		return req, e
	}
	req.query, req.sort = q, obj["sort"]
	switch p := obj["pagination"].(type) {
	case nil:
	case map[string]any:
		if v, ok := p["per_page"]; ok && v != nil {
			n, isNum := v.(json.Number)
			i, err := n.Int64()
			if !isNum || err != nil || i < 1 || i > maxPerPage {
				return req, perPageError(strings.Trim(describe(v), `"`))
			}
			req.perPage = int(i)
		}
		switch sa := p["starting_after"].(type) {
		case nil:
		case string:
			req.after = &sa
		default:
			e := errorf(http.StatusBadRequest, CodeClientError, msgBadCursor)
			e.Field = "starting_after"
			return req, e
		}
	default:
		return req, badRequest("'pagination' must be an object with per_page and starting_after")
	}
	return req, nil
}

func perPageError(got string) *apiError {
	e := errorf(http.StatusBadRequest, CodeParameterInvalid, "per_page must be an integer between 1 and %d, got %q", maxPerPage, got)
	e.Field = "per_page"
	return e
}

// queryPaging reads per_page and starting_after from a GET list's query.
func queryPaging(r *http.Request, def int) (perPage int, after *string, apiErr *apiError) {
	q := r.URL.Query()
	perPage = def
	if s := q.Get("per_page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPerPage {
			return 0, nil, perPageError(s)
		}
		perPage = n
	}
	if q.Has("starting_after") {
		s := q.Get("starting_after")
		after = &s
	}
	return perPage, after, nil
}
