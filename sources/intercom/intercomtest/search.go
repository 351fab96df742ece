package intercomtest

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
	typeString  attrType = iota
	typeDate             // matched by calendar day in the workspace time zone
	typeNumber           // integer (or decimal) custom attributes
	typeBoolean          //
	typeIDSet            // tag_id, segment_id: only = and !=
	typeCompany          // company_id: = != IN NIN over the contact's companies
)

func (t attrType) String() string {
	return [...]string{"string", "date", "integer", "boolean", "id", "id"}[t]
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

// fieldValue is one contact's value of a field. For dates n holds Unix
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

var nullVal = fieldValue{null: true}

type field struct {
	name string
	typ  attrType
	get  func(c *Contact) fieldValue
	fold bool     // = != IN NIN ignore case (email addresses)
	enum []string // the only accepted values (role)
}

func alwaysNull(*Contact) fieldValue { return nullVal }

// contactFields are the description's "Accepted Fields" for contacts, plus
// company_id. Fields the emulator has no data for are searchable and null.
var contactFields = func() map[string]field {
	m := map[string]field{}
	add := func(f field) { m[f.name] = f }
	str := func(name string, get func(c *Contact) string) {
		add(field{name: name, typ: typeString, get: func(c *Contact) fieldValue { return strVal(get(c)) }})
	}
	date := func(name string, get func(c *Contact) time.Time) {
		add(field{name: name, typ: typeDate, get: func(c *Contact) fieldValue { return dateVal(get(c)) }})
	}
	boolean := func(name string, get func(c *Contact) bool) {
		add(field{name: name, typ: typeBoolean, get: func(c *Contact) fieldValue { return fieldValue{b: get(c)} }})
	}
	str("id", func(c *Contact) string { return c.ID })
	add(field{name: "role", typ: typeString, enum: []string{"user", "lead"}, get: func(c *Contact) fieldValue { return strVal(c.Role) }})
	str("name", func(c *Contact) string { return c.Name })
	str("avatar", func(c *Contact) string { return c.AvatarURL })
	str("owner_id", func(c *Contact) string { return c.OwnerID })
	add(field{name: "email", typ: typeString, fold: true, get: func(c *Contact) fieldValue { return strVal(c.Email) }})
	add(field{name: "email_domain", typ: typeString, fold: true, get: func(c *Contact) fieldValue { return strVal(c.emailDomain()) }})
	str("phone", func(c *Contact) string { return c.Phone })
	str("formatted_phone", func(c *Contact) string { return c.FormattedPhone })
	str("external_id", func(c *Contact) string { return c.ExternalID })
	str("language_override", func(c *Contact) string { return c.LanguageOverride })
	str("browser", func(c *Contact) string { return c.Browser })
	str("browser_language", func(c *Contact) string { return c.BrowserLanguage })
	str("os", func(c *Contact) string { return c.OS })
	str("location.country", func(c *Contact) string {
		if c.LocationCountry == "" {
			return ""
		}
		return countryInfo(c.LocationCountry).name
	})
	str("location.region", func(c *Contact) string { return c.LocationRegion })
	str("location.city", func(c *Contact) string { return c.LocationCity })
	date("created_at", func(c *Contact) time.Time { return c.CreatedAt })
	date("updated_at", func(c *Contact) time.Time { return c.UpdatedAt })
	date("signed_up_at", func(c *Contact) time.Time { return c.SignedUpAt })
	date("last_seen_at", func(c *Contact) time.Time { return c.LastSeenAt })
	date("last_contacted_at", func(c *Contact) time.Time { return c.LastContactedAt })
	date("last_replied_at", func(c *Contact) time.Time { return c.LastRepliedAt })
	boolean("unsubscribed_from_emails", func(c *Contact) bool { return c.UnsubscribedFromEmails })
	boolean("marked_email_as_spam", func(c *Contact) bool { return c.MarkedEmailAsSpam })
	boolean("has_hard_bounced", func(c *Contact) bool { return c.HasHardBounced })
	for _, n := range []string{"last_email_opened_at", "last_email_clicked_at", "ios_last_seen_at", "android_last_seen_at"} {
		add(field{name: n, typ: typeDate, get: alwaysNull})
	}
	// "andoid_sdk_version" is spelled so in the description's table.
	for _, n := range []string{"ios_app_version", "ios_device", "ios_app_device", "ios_os_version", "ios_app_name",
		"ios_sdk_version", "android_app_version", "android_device", "android_app_name", "android_sdk_version", "andoid_sdk_version"} {
		add(field{name: n, typ: typeString, get: alwaysNull})
	}
	add(field{name: "tag_id", typ: typeIDSet, get: func(c *Contact) fieldValue { return fieldValue{set: c.TagIDs} }})
	add(field{name: "segment_id", typ: typeIDSet, get: func(c *Contact) fieldValue { return fieldValue{} }})
	add(field{name: "company_id", typ: typeCompany, get: func(c *Contact) fieldValue { return fieldValue{set: c.CompanyIDs} }})
	return m
}()

const customPrefix = "custom_attributes."

// fieldLocked resolves a search or sort field; w.mu must be held.
func (w *Workspace) fieldLocked(name string) (field, *apiError) {
	if f, ok := contactFields[name]; ok {
		return f, nil
	}
	if attr, ok := strings.CutPrefix(name, customPrefix); ok && attr != "" {
		t, ok := w.attrTypes[attr]
		if !ok {
			return field{}, fieldError(name, "Custom attribute '%s' does not exist on contacts", attr)
		}
		return field{name: name, typ: t, get: func(c *Contact) fieldValue {
			v, ok := c.CustomAttributes[attr]
			if !ok || v == nil {
				return nullVal
			}
			switch x := v.(type) {
			case string:
				return strVal(x)
			case bool:
				return fieldValue{b: x}
			case int64:
				return fieldValue{n: float64(x)}
			case float64:
				return fieldValue{n: x}
			}
			return strVal(fmt.Sprint(v))
		}}, nil
	}
	return field{}, fieldError(name, "'%s' is not a searchable contact field", name)
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
type predicate func(c *Contact) bool

// validOps lists the operators each field type accepts (description's
// "Accepted Operators").
var validOps = map[attrType][]string{
	typeString:  {"=", "!=", "IN", "NIN", "~", "!~", "^", "$"},
	typeDate:    {"=", "<", ">"},
	typeNumber:  {"=", "!=", "IN", "NIN", "<", ">", "<=", ">="},
	typeBoolean: {"=", "!=", "IN", "NIN"},
	typeIDSet:   {"=", "!="},
	typeCompany: {"=", "!=", "IN", "NIN"},
}

var allOps = []string{"=", "!=", "IN", "NIN", "<", "<=", ">", ">=", "~", "!~", "^", "$"}

// compileLocked turns a query object into a predicate, enforcing Intercom's
// limits; depth is the number of AND/OR groups around q. w.mu must be held.
func (w *Workspace) compileLocked(q any, depth int) (predicate, *apiError) {
	obj, ok := q.(map[string]any)
	if !ok {
		return nil, badRequest("Each filter must be a JSON object with field, operator and value, or operator and a value array")
	}
	op, ok := obj["operator"].(string)
	if !ok {
		return nil, badRequest("Filter is missing a string 'operator'")
	}
	if op == "AND" || op == "OR" {
		return w.compileGroupLocked(op, obj, depth+1)
	}
	name, ok := obj["field"].(string)
	if !ok || name == "" {
		if _, isList := obj["value"].([]any); isList && !slices.Contains(allOps, op) {
			return nil, errorf(http.StatusBadRequest, CodeInvalidOperator, "Unsupported operator '%s' for a group of filters: use AND or OR", op)
		}
		return nil, badRequest("Filter is missing a string 'field'")
	}
	f, apiErr := w.fieldLocked(name)
	if apiErr != nil {
		return nil, apiErr
	}
	if !slices.Contains(allOps, op) {
		return nil, errorf(http.StatusBadRequest, CodeInvalidOperator, "Unsupported operator '%s'; operators are %s", op, strings.Join(allOps, " "))
	}
	if !slices.Contains(validOps[f.typ], op) {
		msg := fmt.Sprintf("Operator '%s' is not supported on %s field '%s'; use one of %s", op, f.typ, name, strings.Join(validOps[f.typ], " "))
		if f.typ == typeDate {
			msg = fmt.Sprintf("Operator '%s' is not supported on date field '%s': dates are matched by calendar day and accept only =, < and >", op, name)
		}
		e := errorf(http.StatusBadRequest, CodeInvalidOperator, "%s", msg)
		e.Field = name
		return nil, e
	}
	value, present := obj["value"]
	if !present {
		return nil, valueError(name, "Filter on '%s' is missing 'value'", name)
	}
	return w.compileFilterLocked(f, op, value)
}

func (w *Workspace) compileGroupLocked(op string, obj map[string]any, level int) (predicate, *apiError) {
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
	preds := make([]predicate, len(items))
	for i, it := range items {
		p, apiErr := w.compileLocked(it, level)
		if apiErr != nil {
			return nil, apiErr
		}
		preds[i] = p
	}
	if op == "AND" {
		return func(c *Contact) bool {
			for _, p := range preds {
				if !p(c) {
					return false
				}
			}
			return true
		}, nil
	}
	return func(c *Contact) bool {
		for _, p := range preds {
			if p(c) {
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

func (w *Workspace) compileFilterLocked(f field, op string, value any) (predicate, *apiError) {
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
		return w.compileDate(f, op, value)
	case typeNumber:
		return compileNumber(f, op, values)
	case typeBoolean:
		return compileBool(f, op, values)
	default:
		return w.compileIDSetLocked(f, op, values)
	}
}

func compileString(f field, op string, values []any) (predicate, *apiError) {
	norm := func(s string) string {
		if f.fold {
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
				return nil, valueError(f.name, "'%s' accepts only %s, got %q", f.name, strings.Join(f.enum, " or "), x)
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
		isNull := func(c *Contact) bool { return get(c).null }
		if op == "=" {
			return isNull, nil
		}
		return func(c *Contact) bool { return !isNull(c) }, nil
	}
	// Partial-match operators ignore case, as Intercom's do.
	lower := func(c *Contact) (string, bool) {
		v := get(c)
		return strings.ToLower(v.s), !v.null
	}
	switch op {
	case "=", "IN":
		return func(c *Contact) bool {
			v := get(c)
			return !v.null && slices.Contains(want, norm(v.s))
		}, nil
	case "!=", "NIN":
		return func(c *Contact) bool {
			v := get(c)
			return v.null || !slices.Contains(want, norm(v.s))
		}, nil
	}
	needle := strings.ToLower(want[0])
	match := map[string]func(s, sub string) bool{
		"~": strings.Contains, "!~": strings.Contains, "^": strings.HasPrefix, "$": strings.HasSuffix,
	}[op]
	if op == "!~" {
		return func(c *Contact) bool {
			s, ok := lower(c)
			return !ok || !match(s, needle)
		}, nil
	}
	return func(c *Contact) bool {
		s, ok := lower(c)
		return ok && match(s, needle)
	}, nil
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
// whole day, > starts at the next day, < ends before that day.
func (w *Workspace) compileDate(f field, op string, value any) (predicate, *apiError) {
	ts, ok := unixValue(value)
	if !ok {
		return nil, valueError(f.name, "Value for date field '%s' must be a UNIX timestamp, got %s", f.name, describe(value))
	}
	t := time.Unix(ts, 0).In(w.opts.Timezone)
	y, m, d := t.Date()
	dayStart := float64(time.Date(y, m, d, 0, 0, 0, 0, w.opts.Timezone).Unix())
	nextDay := float64(time.Date(y, m, d+1, 0, 0, 0, 0, w.opts.Timezone).Unix())
	get := f.get
	in := func(c *Contact, lo, hi float64) bool {
		v := get(c)
		return !v.null && v.n >= lo && v.n < hi
	}
	const inf = 1e300
	switch op {
	case "=":
		return func(c *Contact) bool { return in(c, dayStart, nextDay) }, nil
	case ">":
		return func(c *Contact) bool { return in(c, nextDay, inf) }, nil
	default: // "<"
		return func(c *Contact) bool { return in(c, -inf, dayStart) }, nil
	}
}

func compileNumber(f field, op string, values []any) (predicate, *apiError) {
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
	return func(c *Contact) bool {
		v := get(c)
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

func compileBool(f field, op string, values []any) (predicate, *apiError) {
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
	return func(c *Contact) bool {
		v := get(c)
		hit := !v.null && slices.Contains(want, v.b)
		return hit != negate
	}, nil
}

// compileIDSetLocked handles tag_id, segment_id and company_id. company_id
// values may be either the Intercom id or your own company_id.
func (w *Workspace) compileIDSetLocked(f field, op string, values []any) (predicate, *apiError) {
	want := map[string]bool{}
	for _, v := range values {
		s, ok := v.(string)
		if !ok {
			return nil, valueError(f.name, "Value for '%s' must be a string id, got %s", f.name, describe(v))
		}
		want[s] = true
		if f.typ == typeCompany {
			for _, co := range w.companies {
				if co.CompanyID == s {
					want[co.ID] = true
				}
			}
		}
	}
	get := f.get
	negate := op == "!=" || op == "NIN"
	return func(c *Contact) bool {
		hit := slices.ContainsFunc(get(c).set, func(id string) bool { return want[id] })
		return hit != negate
	}, nil
}

// ---- sorting and cursors ----

// sortSpec orders results; the zero value is the default order (created_at,
// then id, ascending).
type sortSpec struct {
	field string
	desc  bool
	get   func(c *Contact) fieldValue
}

type sortKey struct {
	null bool
	num  bool
	n    float64
	s    string
	id   string
}

func (w *Workspace) sortKeyLocked(s sortSpec, c *Contact) sortKey {
	if s.get == nil {
		return sortKey{num: true, n: float64(c.CreatedAt.Unix()), id: c.ID}
	}
	v := s.get(c)
	switch {
	case v.null:
		return sortKey{null: true, id: c.ID}
	case v.s != "":
		return sortKey{s: strings.ToLower(v.s), id: c.ID}
	case v.b:
		return sortKey{num: true, n: 1, id: c.ID}
	}
	return sortKey{num: true, n: v.n, id: c.ID}
}

// compareLocked orders two keys: nulls last in either direction, ties broken
// by id ascending so that the order is total and cursors never skip.
func (w *Workspace) compareLocked(s sortSpec, a, b sortKey) int {
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
		if s.desc {
			c = -c
		}
	}
	if c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// cursor is the opaque starting_after value: the sort and the key of the
// last item served, so that a page starts right after it even if contacts
// were added or removed meanwhile.
type cursor struct {
	Field string  `json:"f,omitempty"`
	Desc  bool    `json:"d,omitempty"`
	Null  bool    `json:"z,omitempty"`
	Num   bool    `json:"k,omitempty"`
	N     float64 `json:"n,omitempty"`
	S     string  `json:"s,omitempty"`
	ID    string  `json:"i"`
	Page  int     `json:"p"`
}

func (c cursor) key() sortKey {
	return sortKey{null: c.Null, num: c.Num, n: c.N, s: c.S, id: c.ID}
}

func newCursor(s sortSpec, k sortKey, page int) string {
	b, _ := json.Marshal(cursor{Field: s.field, Desc: s.desc, Null: k.null, Num: k.num, N: k.n, S: k.s, ID: k.id, Page: page})
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

// sortSpecLocked reads the optional sort object; order defaults to
// descending as the description says.
func (w *Workspace) sortSpecLocked(raw any) (sortSpec, *apiError) {
	if raw == nil {
		return sortSpec{}, nil
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return sortSpec{}, badRequest("'sort' must be an object with field and order")
	}
	name, ok := obj["field"].(string)
	if !ok || name == "" {
		return sortSpec{}, badRequest("'sort.field' is required and must be a string")
	}
	desc := true
	if o, present := obj["order"]; present && o != nil {
		s, _ := o.(string)
		switch s {
		case "ascending":
			desc = false
		case "descending":
		default:
			e := errorf(http.StatusBadRequest, CodeInvalidSortOrder, "Invalid sort order '%s'. Must be one of: ascending, descending", strings.Trim(describe(o), `"`))
			e.Field = "sort.order"
			return sortSpec{}, e
		}
	}
	f, apiErr := w.fieldLocked(name)
	if apiErr != nil {
		return sortSpec{}, apiErr
	}
	if f.typ == typeIDSet || f.typ == typeCompany {
		return sortSpec{}, fieldError(name, "Cannot sort by '%s'", name)
	}
	return sortSpec{field: name, desc: desc, get: f.get}, nil
}

// ---- handler ----

type searchRequest struct {
	query   any
	sort    any
	perPage int
	after   *string
}

func readSearchRequest(r *http.Request) (searchRequest, *apiError) {
	req := searchRequest{perPage: searchDefaultPage}
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

func (w *Workspace) handleSearchContacts(rw http.ResponseWriter, r *http.Request, _ map[string]string) {
	req, apiErr := readSearchRequest(r)
	if apiErr != nil {
		writeError(rw, apiErr)
		return
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	pred, apiErr := w.compileLocked(req.query, 0)
	if apiErr != nil {
		writeError(rw, apiErr)
		return
	}
	sort, apiErr := w.sortSpecLocked(req.sort)
	if apiErr != nil {
		writeError(rw, apiErr)
		return
	}
	var matches []*Contact
	for _, c := range w.order {
		if pred(c) {
			matches = append(matches, c)
		}
	}
	if sort.get != nil {
		slices.SortFunc(matches, func(a, b *Contact) int {
			return w.compareLocked(sort, w.sortKeyLocked(sort, a), w.sortKeyLocked(sort, b))
		})
	}
	body, apiErr := w.pageLocked(matches, sort, req.perPage, req.after)
	if apiErr != nil {
		writeError(rw, apiErr)
		return
	}
	writeJSON(rw, http.StatusOK, body)
}
