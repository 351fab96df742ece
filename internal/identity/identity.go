// Package identity resolves a caller across sources: the contacts of every
// source that share an E.164 number or an email are one person,
// transitively within one lookup, and the people who match one call are
// ranked. It is the one place these rules live; resolvers and the bridge
// ask it for a caller and get ranked people.
//
// The rules (docs/customer-database.md):
//   - a blocked value (IDENTITY_BLOCKED_VALUES: a switchboard number,
//     noreply@…) never joins contacts and is never followed;
//   - a value held by more than Rules.SharedLimit contacts is shared: its
//     contacts are still found, but it joins none of them;
//   - ranking: an exact E.164 match before a stored spelling, a direct line
//     before a shared (or blocked) number, a person with a user before one
//     with only leads, the most recent activity first, then the id.
package identity

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/phone"
)

// Finder is what a source must answer for identity resolution.
type Finder interface {
	ContactsByPhones(ctx context.Context, phones []string) (map[string][]*sources.Contact, error)
	ContactsByEmails(ctx context.Context, emails []string) (map[string][]*sources.Contact, error)
}

// Source is one source as a lookup asks it.
type Source struct {
	Name   string // "intercom", "sql"
	Finder Finder
	// Timeout bounds each of its reads: a slow source never holds up the
	// others beyond it (0: the context's deadline only).
	Timeout time.Duration
}

// Rules are the operator's rules.
type Rules struct {
	// Blocked are E.164 numbers and lower-case emails that never join
	// contacts.
	Blocked map[string]bool
	// SharedLimit is the most contacts one value may have and still join
	// them (default 3).
	SharedLimit int
	// MaxContacts bounds the contacts one lookup gathers (default 50).
	MaxContacts int
	// Rounds bounds how many times the lookup follows the numbers and
	// emails of what it found (default 2).
	Rounds int
}

// Identifiers a match names.
const (
	ByPhone = "phone"
	ByEmail = "email"
)

// Match says why a person matches a call: which identifier, which value,
// in which source.
type Match struct {
	Identifier string // ByPhone or ByEmail
	Value      string // E.164 or lower-case email
	Source     string
	// Exact is false when the source stores the number in another
	// spelling than E.164.
	Exact bool
	// Shared is true when the value is blocked or held by more contacts
	// than the shared limit: it found the contact but joins nobody.
	Shared bool
}

// Person is the contacts of every source that are one person.
type Person struct {
	ID        string
	Name      string
	Rank      int // 1 is the best match
	Contacts  []*sources.Contact
	MatchedBy []Match

	exact, direct, user bool
	activity            time.Time
}

// SourceError is a source that failed or did not answer in time.
type SourceError struct {
	Source string
	Err    error
}

// Result is a caller lookup's people, in rank order, and the sources that
// failed (the people are then those of the other sources).
type Result struct {
	People []*Person
	Failed []SourceError
}

// ParseBlocked reads IDENTITY_BLOCKED_VALUES: comma-separated E.164 numbers
// (any spelling with a country code) and emails.
func ParseBlocked(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, v := range strings.Split(s, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if strings.Contains(v, "@") {
			e, ok := sources.NormalizeEmail(v)
			if !ok {
				return nil, fmt.Errorf("%s is not an email address", sources.Quote(v))
			}
			out[e] = true
			continue
		}
		e164, err := phone.Normalize(v, "")
		if err != nil {
			return nil, fmt.Errorf("%s is neither an email nor a phone number with its country code", sources.Quote(v))
		}
		out[e164] = true
	}
	return out, nil
}

// lookup is the state of one caller lookup.
type lookup struct {
	rules    Rules
	srcs     []Source
	caller   string
	mu       sync.Mutex
	contacts map[string]*sources.Contact // by id
	order    []string                    // ids in the order found
	direct   map[string]bool             // contact ids the caller's number found
	failed   map[string]error
}

// Resolve finds the people of the caller's E.164 number in every source.
func Resolve(ctx context.Context, srcs []Source, rules Rules, e164 string) Result {
	rules.SharedLimit = cmp.Or(rules.SharedLimit, 3)
	rules.MaxContacts = cmp.Or(rules.MaxContacts, 50)
	rules.Rounds = cmp.Or(rules.Rounds, 2)
	l := &lookup{rules: rules, srcs: srcs, caller: e164, contacts: map[string]*sources.Contact{},
		direct: map[string]bool{}, failed: map[string]error{}}

	askedPhones := map[string]bool{e164: true}
	askedEmails := map[string]bool{}
	for _, c := range l.ask(ctx, []string{e164}, nil) {
		l.direct[c.ID] = true
	}
	// Follow what the caller's contacts hold, round by round: a number or
	// email that is not blocked and not (yet) shared.
	for round := 0; round < rules.Rounds && len(l.contacts) < rules.MaxContacts; round++ {
		counts := l.counts()
		var phones, emails []string
		for _, id := range l.order {
			c := l.contacts[id]
			for _, p := range l.phoneKeys(c) {
				if !askedPhones[p] && !rules.Blocked[p] && counts[p] <= rules.SharedLimit {
					askedPhones[p] = true
					phones = append(phones, p)
				}
			}
			for _, e := range c.Emails {
				e = strings.ToLower(e)
				if !askedEmails[e] && !rules.Blocked[e] && counts[e] <= rules.SharedLimit {
					askedEmails[e] = true
					emails = append(emails, e)
				}
			}
		}
		if len(phones)+len(emails) == 0 {
			break
		}
		l.ask(ctx, phones, emails)
	}
	return Result{People: l.people(), Failed: l.failures()}
}

// ask asks every source, in parallel, for the contacts of phones and emails
// and adds what they find; it returns the contacts found (each once).
func (l *lookup) ask(ctx context.Context, phones, emails []string) []*sources.Contact {
	var wg sync.WaitGroup
	var found []*sources.Contact
	for _, src := range l.srcs {
		l.mu.Lock()
		failed := l.failed[src.Name] != nil
		l.mu.Unlock()
		if failed {
			continue // one error per source, and no second wait on it
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			list, err := l.askOne(ctx, src, phones, emails)
			l.mu.Lock()
			defer l.mu.Unlock()
			if err != nil {
				l.failed[src.Name] = err
			}
			for _, c := range list {
				if _, known := l.contacts[c.ID]; !known {
					if len(l.contacts) >= l.rules.MaxContacts {
						continue
					}
					l.contacts[c.ID] = c
					l.order = append(l.order, c.ID)
				}
				found = append(found, l.contacts[c.ID])
			}
		}()
	}
	wg.Wait()
	slices.SortFunc(found, func(a, b *sources.Contact) int { return cmp.Compare(a.ID, b.ID) })
	return slices.CompactFunc(found, func(a, b *sources.Contact) bool { return a.ID == b.ID })
}

// askOne reads one source within its timeout: when the timeout passes, the
// lookup goes on without it (its reads stop with the context).
func (l *lookup) askOne(ctx context.Context, src Source, phones, emails []string) ([]*sources.Contact, error) {
	if src.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, src.Timeout)
		defer cancel()
	}
	type answer struct {
		list []*sources.Contact
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		var out []*sources.Contact
		var firstErr error
		collect := func(found map[string][]*sources.Contact, err error) {
			for _, list := range found {
				out = append(out, list...)
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}
		if len(phones) > 0 {
			collect(src.Finder.ContactsByPhones(ctx, phones))
		}
		if len(emails) > 0 {
			collect(src.Finder.ContactsByEmails(ctx, emails))
		}
		done <- answer{out, firstErr}
	}()
	select {
	case a := <-done:
		return a.list, a.err
	case <-ctx.Done():
		return nil, &sources.Error{Code: sources.EUpstreamUnavailable,
			Message: fmt.Sprintf("the %s source did not answer within %s", src.Name, src.Timeout), Err: ctx.Err()}
	}
}

// phoneKeys are the E.164 numbers of a contact: those stored in E.164, and
// a stored spelling of the caller's number read as that number.
func (l *lookup) phoneKeys(c *sources.Contact) []string {
	var out []string
	for _, p := range c.Phones {
		switch {
		case strings.HasPrefix(p, "+"):
			out = append(out, p)
		case slices.Contains(phone.Variants(l.caller), p):
			out = append(out, l.caller)
		}
	}
	return out
}

// values are every identifier a contact holds: its numbers and emails.
func (l *lookup) values(c *sources.Contact) []string {
	out := l.phoneKeys(c)
	for _, e := range c.Emails {
		out = append(out, strings.ToLower(e))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// counts is how many contacts found hold each value.
func (l *lookup) counts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := map[string]int{}
	for _, c := range l.contacts {
		for _, v := range l.values(c) {
			n[v]++
		}
	}
	return n
}

// joins reports whether a value may join the contacts holding it.
func (l *lookup) joins(v string, counts map[string]int) bool {
	return !l.rules.Blocked[v] && counts[v] <= l.rules.SharedLimit
}

// people groups the contacts found (union-find over the values that join)
// and keeps the groups the caller's number found, ranked.
func (l *lookup) people() []*Person {
	counts := l.counts()
	parent := map[string]string{}
	var find func(string) string
	find = func(id string) string {
		if parent[id] == "" || parent[id] == id {
			return id
		}
		parent[id] = find(parent[id])
		return parent[id]
	}
	holder := map[string]string{} // value -> first contact holding it
	for _, id := range l.order {
		for _, v := range l.values(l.contacts[id]) {
			if !l.joins(v, counts) {
				continue
			}
			if first, ok := holder[v]; ok {
				a, b := find(first), find(id)
				if a != b {
					parent[max(a, b)] = min(a, b)
				}
			} else {
				holder[v] = id
			}
		}
	}
	groups := map[string][]*sources.Contact{}
	for _, id := range l.order {
		root := find(id)
		groups[root] = append(groups[root], l.contacts[id])
	}
	var out []*Person
	for _, members := range groups {
		if p := l.person(members, counts); p != nil {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, compareRank)
	for i, p := range out {
		p.Rank = i + 1
	}
	return out
}

// person builds a group's person, or nil when the caller's number found
// none of its contacts (it was reached through a value that turned out
// shared).
func (l *lookup) person(members []*sources.Contact, counts map[string]int) *Person {
	slices.SortFunc(members, compareContacts)
	p := &Person{Contacts: members}
	ids := make([]string, len(members))
	var matched bool
	for i, c := range members {
		ids[i] = c.ID
		if c.Role != "lead" {
			p.user = true
		}
		p.activity = maxTime(p.activity, c.UpdatedAt)
		if l.direct[c.ID] {
			matched = true
			exact := slices.Contains(c.Phones, l.caller)
			shared := !l.joins(l.caller, counts)
			p.exact = p.exact || exact
			p.direct = p.direct || !shared
			p.addMatch(Match{Identifier: ByPhone, Value: l.caller, Source: c.SourceOf(), Exact: exact, Shared: shared})
		}
	}
	if !matched {
		return nil
	}
	// The values that joined its contacts, other than the caller's number.
	for _, c := range members {
		for _, v := range l.values(c) {
			if v == l.caller || !l.joins(v, counts) || !heldByOther(l, members, c, v) {
				continue
			}
			id := ByPhone
			if strings.Contains(v, "@") {
				id = ByEmail
			}
			p.addMatch(Match{Identifier: id, Value: v, Source: c.SourceOf(), Exact: true})
		}
	}
	slices.Sort(ids)
	sum := sha256.Sum256([]byte(strings.Join(ids, "\x00")))
	p.ID = "person_" + hex.EncodeToString(sum[:10])
	for _, c := range members {
		if c.Name != "" {
			p.Name = c.Name
			break
		}
	}
	return p
}

func heldByOther(l *lookup, members []*sources.Contact, c *sources.Contact, v string) bool {
	for _, o := range members {
		if o != c && slices.Contains(l.values(o), v) {
			return true
		}
	}
	return false
}

func (p *Person) addMatch(m Match) {
	if !slices.Contains(p.MatchedBy, m) {
		p.MatchedBy = append(p.MatchedBy, m)
	}
}

// compareContacts orders a person's contacts: Intercom's (the contact of
// record) first, then the most recently updated, then by id.
func compareContacts(a, b *sources.Contact) int {
	ai, bi := a.SourceOf() == sources.SourceIntercom, b.SourceOf() == sources.SourceIntercom
	switch {
	case ai && !bi:
		return -1
	case bi && !ai:
		return 1
	}
	return cmp.Or(b.UpdatedAt.Compare(a.UpdatedAt), cmp.Compare(a.ID, b.ID))
}

// compareRank is the documented ranking.
func compareRank(a, b *Person) int {
	return cmp.Or(
		compareBool(a.exact, b.exact),
		compareBool(a.direct, b.direct),
		compareBool(a.user, b.user),
		b.activity.Compare(a.activity),
		cmp.Compare(a.ID, b.ID),
	)
}

// compareBool puts true first.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (l *lookup) failures() []SourceError {
	var out []SourceError
	for _, src := range l.srcs {
		if err := l.failed[src.Name]; err != nil {
			out = append(out, SourceError{Source: src.Name, Err: err})
		}
	}
	return out
}
