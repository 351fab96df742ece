package sqldb

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/phone"
)

// contactColumns are read with every contact: the contact, one of its
// contact points per row (none: NULLs, from the LEFT JOIN).
const contactColumns = `c.id, c.name, c.company, c.title, c.url, c.updated_at, p.kind, p.value`

// ContactsByIDs returns the contacts with these ids ("sql:7001"), keyed by
// id: one query.
func (db *DB) ContactsByIDs(ctx context.Context, ids []string) (map[string]*sources.Contact, error) {
	raw := make([]string, 0, len(ids))
	for _, id := range sources.UniqueIDs(ids) {
		if bare, ok := strings.CutPrefix(id, Prefix); ok && storable(bare) {
			raw = append(raw, bare)
		}
	}
	out := make(map[string]*sources.Contact, len(raw))
	if len(raw) == 0 {
		return out, nil
	}
	q := `SELECT ` + contactColumns + ` FROM ` + ViewContacts + ` c
LEFT JOIN ` + ViewPoints + ` p ON p.contact_id = c.id
WHERE ` + db.engine.list("c.id", 1) + `
ORDER BY c.id, p.kind, p.value`
	args := []any{db.engine.arg(raw)}
	read := &contactReader{}
	f := facts{}
	stmts := []statement{{view: ViewContacts, sql: q, args: args, scan: read.scan}}
	if db.attributes.Load() {
		stmts = append(stmts, statement{view: ViewAttributes, sql: `SELECT contact_id, name, value FROM ` + ViewAttributes +
			` WHERE ` + db.engine.list("contact_id", 1) + ` ORDER BY contact_id, name`, args: args, scan: f.scan})
	}
	if err := db.runAll(ctx, stmts...); err != nil {
		return nil, err
	}
	for _, c := range read.list {
		out[c.contact.ID] = c.contact
	}
	f.addTo(out)
	return out, nil
}

// ContactsByPhones returns the contacts of E.164 numbers, keyed by number:
// a point stored as the number itself, or as one of the spellings people
// commonly store it in (phone.Variants, the same list Intercom's lookup
// tries). One query for the whole batch.
func (db *DB) ContactsByPhones(ctx context.Context, phones []string) (map[string][]*sources.Contact, error) {
	spellings := map[string][]string{} // stored spelling -> the E.164 numbers asked for that it spells
	var values []string
	for _, e164 := range sources.UniqueIDs(phones) {
		for _, v := range phone.Variants(e164) {
			if _, seen := spellings[v]; !seen {
				values = append(values, v)
			}
			spellings[v] = append(spellings[v], e164)
		}
	}
	return db.lookup(ctx, "phone", values, func(stored string) []string { return spellings[stored] })
}

// ContactsByEmails returns the contacts of emails (lower-case), keyed by
// email, matched case-insensitively. One query for the whole batch.
func (db *DB) ContactsByEmails(ctx context.Context, emails []string) (map[string][]*sources.Contact, error) {
	values := make([]string, 0, len(emails))
	for _, e := range sources.UniqueIDs(emails) {
		if storable(e) {
			values = append(values, strings.ToLower(e))
		}
	}
	return db.lookup(ctx, "email", values, func(stored string) []string { return []string{strings.ToLower(stored)} })
}

// lookup finds the contacts with a point of kind whose value is one of
// values (lower-cased for emails), at most MatchLimit per value, and keys
// them by what keysOf says the matched value stands for.
func (db *DB) lookup(ctx context.Context, kind string, values []string, keysOf func(stored string) []string) (map[string][]*sources.Contact, error) {
	out := map[string][]*sources.Contact{}
	if len(values) == 0 {
		return out, nil
	}
	match := "m.value"
	if kind == "email" {
		match = "lower(m.value)"
	}
	// The points of kind with one of the values, at most MatchLimit
	// contacts each; the attributes of the same contacts go in the same
	// round trip (a second statement of the pipeline, which finds them the
	// same way).
	hit := `WITH hit AS (
  SELECT contact_id, value, row_number() OVER (PARTITION BY value ORDER BY contact_id) AS n
  FROM ` + ViewPoints + ` m
  WHERE m.kind = '` + kind + `' AND ` + db.engine.list(match, 1) + `
)
`
	limit := strconv.Itoa(db.cfg.MatchLimit)
	q := hit + `SELECT hit.value, ` + contactColumns + ` FROM hit
JOIN ` + ViewContacts + ` c ON c.id = hit.contact_id
LEFT JOIN ` + ViewPoints + ` p ON p.contact_id = c.id
WHERE hit.n <= ` + limit + `
ORDER BY c.id, p.kind, p.value`
	args := []any{db.engine.arg(values)}
	read := &contactReader{keysOf: keysOf}
	f := facts{}
	stmts := []statement{{view: ViewPoints, sql: q, args: args, scan: read.scan}}
	if db.attributes.Load() {
		stmts = append(stmts, statement{view: ViewAttributes, sql: hit + `SELECT a.contact_id, a.name, a.value FROM ` + ViewAttributes + ` a
WHERE a.contact_id IN (SELECT contact_id FROM hit WHERE n <= ` + limit + `)
ORDER BY a.contact_id, a.name`, args: args, scan: f.scan})
	}
	if err := db.runAll(ctx, stmts...); err != nil {
		return nil, err
	}
	contacts := read.list
	byID := map[string]*sources.Contact{}
	for _, c := range contacts {
		byID[c.contact.ID] = c.contact
	}
	f.addTo(byID)
	for _, c := range contacts {
		for _, key := range c.keys {
			if !slices.Contains(out[key], c.contact) {
				out[key] = append(out[key], c.contact)
			}
		}
	}
	return out, nil
}

// found is a contact read from rows and the lookup keys it matched.
type found struct {
	contact *sources.Contact
	keys    []string
}

// contactReader folds rows of contactColumns (preceded by the matched
// value when keysOf is set) into contacts, the rows of one contact into
// one.
type contactReader struct {
	keysOf func(stored string) []string
	list   []*found
	byID   map[string]*found
}

func (cr *contactReader) scan(r rows) error {
	var matched, id, name, company, title, url, kind, value sql.NullString
	var updated any
	dest := []any{&id, &name, &company, &title, &url, &updated, &kind, &value}
	if cr.keysOf != nil {
		dest = append([]any{&matched}, dest...)
	}
	if err := r.Scan(dest...); err != nil {
		return err
	}
	if cr.byID == nil {
		cr.byID = map[string]*found{}
	}
	f := cr.byID[id.String]
	if f == nil {
		f = &found{contact: &sources.Contact{
			ID: Prefix + id.String, Source: Name, Role: "user", Name: name.String, Title: title.String,
			URL: url.String, UpdatedAt: timeOf(updated),
		}}
		if company.String != "" {
			f.contact.CustomAttributes = map[string]any{"company": company.String}
		}
		cr.byID[id.String] = f
		cr.list = append(cr.list, f)
	}
	if matched.Valid {
		for _, k := range cr.keysOf(matched.String) {
			if !slices.Contains(f.keys, k) {
				f.keys = append(f.keys, k)
			}
		}
	}
	switch {
	case !value.Valid || value.String == "":
	case kind.String == "phone":
		// E.164 where it parses as an international number, else as
		// stored (a national spelling needs a country to be read).
		p := value.String
		if e164, err := phone.Normalize(p, ""); err == nil && strings.HasPrefix(strings.TrimSpace(p), "+") {
			p = e164
		}
		if !slices.Contains(f.contact.Phones, p) {
			f.contact.Phones = append(f.contact.Phones, p)
		}
	case kind.String == "email":
		e := strings.ToLower(strings.TrimSpace(value.String))
		if !slices.Contains(f.contact.Emails, e) {
			f.contact.Emails = append(f.contact.Emails, e)
		}
	}
	return nil
}

// facts are customer_attributes rows, by bare contact id, in order.
type facts map[string][][2]string

func (f facts) scan(r rows) error {
	var id, name, value sql.NullString
	if err := r.Scan(&id, &name, &value); err != nil {
		return err
	}
	if name.String != "" {
		f[id.String] = append(f[id.String], [2]string{name.String, value.String})
	}
	return nil
}

// addTo adds the facts to the CustomAttributes of contacts (keyed by id,
// "sql:7001"); facts of other contacts are left out.
func (f facts) addTo(contacts map[string]*sources.Contact) {
	for id, list := range f {
		c := contacts[Prefix+id]
		if c == nil {
			continue
		}
		if c.CustomAttributes == nil {
			c.CustomAttributes = map[string]any{}
		}
		for _, nv := range list {
			if len(c.CustomAttributes) < maxAttributes {
				c.CustomAttributes[nv[0]] = nv[1]
			}
		}
	}
}

// storable reports whether a key can be text in a database: a key that is
// not (a NUL byte, invalid UTF-8) matches no row, and PostgreSQL would
// refuse the whole batch for it.
func storable(s string) bool {
	return s != "" && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// maxAttributes bounds the facts kept per contact: a card shows a few.
const maxAttributes = 50

// timeOf reads a timestamp column: PostgreSQL's timestamptz arrives as a
// time.Time; SQLite keeps text (RFC 3339 or "YYYY-MM-DD HH:MM:SS") or Unix
// seconds.
func timeOf(v any) time.Time {
	switch t := v.(type) {
	case time.Time:
		return t.UTC()
	case int64:
		return time.Unix(t, 0).UTC()
	case float64:
		return time.Unix(int64(t), 0).UTC()
	case []byte:
		return timeOf(string(t))
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"} {
			if parsed, err := time.Parse(layout, t); err == nil {
				return parsed.UTC()
			}
		}
	}
	return time.Time{}
}
