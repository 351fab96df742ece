package identity

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/phone"
)

// book is a source's contacts in memory: the rules are about what sources
// answer, not how they are reached (the server's tests run them on
// Intercom's emulator and real databases).
type book struct {
	contacts []*sources.Contact
	delay    time.Duration
	err      error
	asked    atomic.Int32
}

func (b *book) ContactsByPhones(ctx context.Context, phones []string) (map[string][]*sources.Contact, error) {
	// Like the SQL source, a number also finds the spellings it is stored in.
	return b.find(ctx, phones, func(c *sources.Contact) []string { return c.Phones }, phone.Variants)
}

func (b *book) ContactsByEmails(ctx context.Context, emails []string) (map[string][]*sources.Contact, error) {
	return b.find(ctx, emails, func(c *sources.Contact) []string { return c.Emails }, func(e string) []string { return []string{e} })
}

func (b *book) find(ctx context.Context, keys []string, values func(*sources.Contact) []string, spellings func(string) []string) (map[string][]*sources.Contact, error) {
	b.asked.Add(1)
	if b.delay > 0 {
		select {
		case <-time.After(b.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if b.err != nil {
		return nil, b.err
	}
	out := map[string][]*sources.Contact{}
	for _, k := range keys {
		for _, c := range b.contacts {
			for _, v := range values(c) {
				if slices.Contains(spellings(k), v) {
					out[k] = append(out[k], c)
					break
				}
			}
		}
	}
	return out, nil
}

func contact(source, id, name, role string, updated int, values ...string) *sources.Contact {
	c := &sources.Contact{ID: id, Name: name, Role: role, UpdatedAt: time.Unix(int64(updated), 0)}
	if source != sources.SourceIntercom {
		c.Source = source
	}
	for _, v := range values {
		if strings.Contains(v, "@") {
			c.Emails = append(c.Emails, v)
		} else {
			c.Phones = append(c.Phones, v)
		}
	}
	return c
}

// people is a result as "name[ids] name[ids]", in rank order.
func people(r Result) string {
	var out []string
	for _, p := range r.People {
		var ids []string
		for _, c := range p.Contacts {
			ids = append(ids, c.ID)
		}
		out = append(out, p.Name+"["+strings.Join(ids, ",")+"]")
	}
	return strings.Join(out, " ")
}

const caller = "+14155550142"

func TestRules(t *testing.T) {
	blocked, err := ParseBlocked("+1 415 555 0100, noreply@example.com")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name         string
		phone        string
		intercom, db []*sources.Contact
		rules        Rules
		want         string
	}{
		{
			name:     "same number in both sources is one person, Intercom's contact first",
			intercom: []*sources.Contact{contact("intercom", "ic1", "Maria Garcia", "user", 10, caller)},
			db:       []*sources.Contact{contact("sql", "sql:1", "M. Garcia", "user", 20, caller)},
			want:     "Maria Garcia[ic1,sql:1]",
		},
		{
			name:     "transitive through an email",
			intercom: []*sources.Contact{contact("intercom", "ic1", "Maria", "user", 10, caller, "maria@x.com")},
			db: []*sources.Contact{contact("sql", "sql:1", "M", "user", 5, "maria@x.com", "+14155559999"),
				contact("sql", "sql:2", "Maria G", "user", 4, "+14155559999")},
			want: "Maria[ic1,sql:1,sql:2]",
		},
		{
			name:     "a blocked number finds but never joins",
			phone:    "+14155550100",
			intercom: []*sources.Contact{contact("intercom", "ic1", "Ann", "user", 10, "+14155550100")},
			db:       []*sources.Contact{contact("sql", "sql:1", "Bob", "user", 20, "+14155550100")},
			rules:    Rules{Blocked: blocked},
			want:     "Bob[sql:1] Ann[ic1]",
		},
		{
			name:     "a blocked email never joins",
			intercom: []*sources.Contact{contact("intercom", "ic1", "Ann", "user", 10, caller, "noreply@example.com")},
			db:       []*sources.Contact{contact("sql", "sql:1", "Bob", "user", 20, "noreply@example.com")},
			rules:    Rules{Blocked: blocked},
			want:     "Ann[ic1]",
		},
		{
			name: "a shared number: every contact found, none joined; a direct line first",
			intercom: []*sources.Contact{contact("intercom", "ic1", "Ann", "user", 1, caller),
				contact("intercom", "ic2", "Cy", "user", 3, caller), contact("intercom", "ic3", "Di", "user", 2, caller)},
			db:    []*sources.Contact{contact("sql", "sql:1", "Bob", "user", 9, caller)},
			rules: Rules{SharedLimit: 3},
			want:  "Bob[sql:1] Cy[ic2] Di[ic3] Ann[ic1]",
		},
		{
			name: "a user before a lead",
			intercom: []*sources.Contact{contact("intercom", "lead", "Lee", "lead", 50, caller),
				contact("intercom", "user", "Uma", "user", 1, caller)},
			rules: Rules{SharedLimit: 1},
			want:  "Uma[user] Lee[lead]",
		},
		{
			name:     "exact E.164 before a stored spelling",
			intercom: nil,
			db: []*sources.Contact{contact("sql", "sql:spelled", "Spelled", "user", 99, "(415) 555-0142"),
				contact("sql", "sql:exact", "Exact", "user", 1, caller)},
			rules: Rules{SharedLimit: 1},
			want:  "Exact[sql:exact] Spelled[sql:spelled]",
		},
		{
			name:     "a stored spelling joins the caller's contacts",
			intercom: []*sources.Contact{contact("intercom", "ic1", "Maria", "user", 10, caller)},
			db:       []*sources.Contact{contact("sql", "sql:1", "M", "user", 5, "(415) 555-0142")},
			want:     "Maria[ic1,sql:1]",
		},
		{
			name:     "a contact reached only through a value that turns out shared is not a match",
			intercom: []*sources.Contact{contact("intercom", "ic1", "Ann", "user", 10, caller, "team@x.com")},
			db: []*sources.Contact{contact("sql", "sql:1", "B", "user", 1, "team@x.com"), contact("sql", "sql:2", "C", "user", 1, "team@x.com"),
				contact("sql", "sql:3", "D", "user", 1, "team@x.com")},
			rules: Rules{SharedLimit: 3},
			want:  "Ann[ic1]",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srcs := []Source{{Name: "intercom", Finder: &book{contacts: tc.intercom}}, {Name: "sql", Finder: &book{contacts: tc.db}}}
			r := Resolve(context.Background(), srcs, tc.rules, cmpOr(tc.phone, caller))
			if got := people(r); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			for i, p := range r.People {
				if p.Rank != i+1 || !strings.HasPrefix(p.ID, "person_") || len(p.MatchedBy) == 0 {
					t.Errorf("person %d: rank %d id %q matchedBy %v", i, p.Rank, p.ID, p.MatchedBy)
				}
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestMatchedByAndStableID(t *testing.T) {
	ic := &book{contacts: []*sources.Contact{contact("intercom", "ic1", "Maria", "user", 10, caller, "maria@x.com")}}
	db := &book{contacts: []*sources.Contact{contact("sql", "sql:1", "M", "user", 5, "(415) 555-0142", "maria@x.com")}}
	srcs := []Source{{Name: "intercom", Finder: ic}, {Name: "sql", Finder: db}}
	a := Resolve(context.Background(), srcs, Rules{}, caller)
	b := Resolve(context.Background(), []Source{srcs[1], srcs[0]}, Rules{}, caller)
	if len(a.People) != 1 || a.People[0].ID != b.People[0].ID {
		t.Fatalf("the same grouping must have the same id: %s vs %s", people(a), people(b))
	}
	var got []string
	for _, m := range a.People[0].MatchedBy {
		got = append(got, m.Identifier+":"+m.Value+":"+m.Source+":"+map[bool]string{true: "exact", false: "spelling"}[m.Exact])
	}
	want := "phone:+14155550142:intercom:exact phone:+14155550142:sql:spelling email:maria@x.com:intercom:exact email:maria@x.com:sql:exact"
	if strings.Join(got, " ") != want {
		t.Errorf("matchedBy\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

// A source that fails or is slow leaves the others' people and one error
// naming it, within its own timeout.
func TestFailingAndSlowSources(t *testing.T) {
	ic := &book{contacts: []*sources.Contact{contact("intercom", "ic1", "Maria", "user", 10, caller, "maria@x.com")}}
	for name, db := range map[string]*book{
		"failing": {err: sources.Errorf(sources.EUpstreamUnavailable, "down")},
		"slow":    {delay: 5 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			r := Resolve(context.Background(), []Source{{Name: "intercom", Finder: ic}, {Name: "sql", Finder: db, Timeout: 200 * time.Millisecond}}, Rules{}, caller)
			if people(r) != "Maria[ic1]" {
				t.Errorf("people: %s", people(r))
			}
			if len(r.Failed) != 1 || r.Failed[0].Source != "sql" || sources.ErrorCode(r.Failed[0].Err) != sources.EUpstreamUnavailable {
				t.Errorf("failed: %+v", r.Failed)
			}
			if n := db.asked.Load(); n != 1 {
				t.Errorf("a failed source was asked %d times in one lookup", n)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("the lookup waited %s for a source whose timeout is 200ms", took)
			}
		})
	}
}

func TestParseBlocked(t *testing.T) {
	got, err := ParseBlocked(" +44 20 7946 0958 ,NoReply@Example.com")
	if err != nil || !got["+442079460958"] || !got["noreply@example.com"] || len(got) != 2 {
		t.Errorf("ParseBlocked = %v %v", got, err)
	}
	if _, err := ParseBlocked("415 555 0100"); err == nil || !strings.Contains(err.Error(), "country code") {
		t.Errorf("a number without its country: %v", err)
	}
}
