// Package sources holds the source-neutral domain of the product: the contacts,
// companies and agents that a call center needs, and the small capability
// interfaces a customer-data system (Intercom today, others later) implements.
//
// Not every system supports every operation, so each capability is its own
// interface; callers ask for the one they need. Batch methods come first
// (ContactsByIDs rather than Contact) because every caller above — loaders,
// caches, the Talkdesk bridge — works in batches.
package sources

import (
	"context"
	"net/mail"
	"strings"
	"time"
)

// Contact is a person known to a source: a customer, a lead or a caller.
type Contact struct {
	ID          string
	ExternalID  string
	WorkspaceID string
	Role        string // "user" or "lead" in Intercom's words
	Name        string
	Title       string // job title, where the source keeps one
	Emails      []string
	Phones      []string // E.164 where the number could be parsed, else as stored
	AvatarURL   string
	Location    Location
	Websites    []string
	Twitter     string // handle without "@"
	CompanyIDs  []string
	Tags        []Tag
	// CustomAttributes are the source's free-form fields, JSON-shaped values.
	CustomAttributes map[string]any
	NotesCount       int
	URL              string // the contact in the source's own web app
	CreatedAt        time.Time
	UpdatedAt        time.Time
	// Source names the system the contact comes from ("sql" for the
	// customer's database); empty means Intercom, the contact of record,
	// so that cached entries of earlier releases read the same.
	Source string `json:",omitempty"`
}

// SourceIntercom is the name of Intercom as a source (Contact.Source and
// Interaction.Source are empty for it).
const SourceIntercom = "intercom"

// SourceOf returns the name of the source a contact comes from.
func (c *Contact) SourceOf() string {
	if c.Source == "" {
		return SourceIntercom
	}
	return c.Source
}

// Location is where a contact is, as precisely as the source knows.
type Location struct {
	Country     string
	CountryCode string
	Region      string
	City        string
}

// Tag is a label attached to a contact.
type Tag struct {
	ID   string
	Name string
}

// Company is an organisation contacts belong to.
type Company struct {
	ID         string
	ExternalID string // the company_id the workspace assigned
	Name       string
	Website    string
	Industry   string
	Size       int
	Plan       string
	URL        string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Agent is a person who works in the source: an Intercom admin, a Talkdesk agent.
type Agent struct {
	ID        string
	Name      string
	Email     string
	JobTitle  string
	AvatarURL string
	Away      bool
}

// Workspace identifies the tenant a set of credentials belongs to.
type Workspace struct {
	ID     string
	Name   string
	Region string
	// Admin is the agent the credentials act as.
	Admin Agent
}

// ContactPageRequest asks for one page of contacts, optionally only those
// changed since a checkpoint.
type ContactPageRequest struct {
	UpdatedSince time.Time // zero: all contacts
	Cursor       string    // empty: first page
	Limit        int
}

// ContactPage is one page of contacts and the cursor of the next, if any.
type ContactPage struct {
	Contacts   []*Contact
	NextCursor string
	Total      int // -1 when the source does not say
}

// ContactFinder finds contacts by identifiers. Each method returns a map keyed
// by the identifiers asked for; a key with no match is absent from the map.
// Phones are E.164 and emails lower-case.
type ContactFinder interface {
	ContactsByIDs(ctx context.Context, ids []string) (map[string]*Contact, error)
	ContactsByPhones(ctx context.Context, phones []string) (map[string][]*Contact, error)
	ContactsByEmails(ctx context.Context, emails []string) (map[string][]*Contact, error)
}

// PhoneLookup finds the contacts of E.164 numbers, keyed by number (a number
// with none is absent).
type PhoneLookup func(ctx context.Context, phones []string) (map[string][]*Contact, error)

// CoalescePhones lets a source's caller lookups share searches with those of
// concurrent requests (dataloaders batch within one request; this batches
// across requests): when many calls ring at once, each lookup would
// otherwise be one search. It is handed to a source when the source is
// built; the source hands it its search, which takes numbers weighing at
// most max (weight(e164) each), and looks callers up with what it returns.
// Lookups share a search only with lookups of their BudgetOwner: a search is
// paid by, and may be refused for, that owner.
type CoalescePhones func(search PhoneLookup, max int, weight func(e164 string) int) PhoneLookup

// ContactSearcher finds contacts whose name or email contains a text.
type ContactSearcher interface {
	SearchContacts(ctx context.Context, text string, limit int) ([]*Contact, error)
}

// ContactLister pages through all contacts, or those changed since a time.
type ContactLister interface {
	ListContacts(ctx context.Context, req ContactPageRequest) (*ContactPage, error)
}

// CompanyFinder finds companies by id, keyed like ContactFinder.
type CompanyFinder interface {
	CompaniesByIDs(ctx context.Context, ids []string) (map[string]*Company, error)
}

// AgentLister lists the agents of a workspace.
type AgentLister interface {
	ListAgents(ctx context.Context) ([]*Agent, error)
}

// CredentialValidator checks credentials and names the workspace they open.
type CredentialValidator interface {
	Validate(ctx context.Context) (*Workspace, error)
}

// TagLister lists the tags a workspace defines (contacts carry tag ids; the
// names come from here).
type TagLister interface {
	ListTags(ctx context.Context) ([]*Tag, error)
}

// Source is everything a customer-data system offers for contact retrieval.
type Source interface {
	ContactFinder
	ContactSearcher
	ContactLister
	CompanyFinder
	AgentLister
	TagLister
	CredentialValidator
}

// CompanyLister pages through every company of a workspace (to warm a cache).
type CompanyLister interface {
	// ListCompanies returns page `page` (from 1) and whether more follow.
	ListCompanies(ctx context.Context, page, perPage int) ([]*Company, bool, error)
}

// Changed names what a write or a webhook changed, so that a cache can stop
// trusting what it holds about it: contacts (and their histories) by id, and
// the caller and email lookups that may now find, or no longer find, a
// contact.
//
// What a cache holds about a change is usually old rather than wrong: it may
// keep it, no longer fresh, to answer while the source fails. The Deleted and
// Removed lists (each also listed above, for readers that know only those)
// name what the change made wrong: a contact deleted, archived or merged
// away, a phone or email a contact no longer has. Nothing is kept of those.
// They are optional on the wire: events of the previous release have none.
type Changed struct {
	ContactIDs []string
	Phones     []string // E.164
	Emails     []string

	DeletedContactIDs []string `json:",omitempty"`
	RemovedPhones     []string `json:",omitempty"` // E.164
	RemovedEmails     []string `json:",omitempty"`

	// What happened, for live dashboards (changes.go); optional.
	Contacts     []ContactChange     `json:",omitempty"`
	Interactions []InteractionChange `json:",omitempty"`
	Calls        []CallRinging       `json:",omitempty"`
}

// Invalidator makes a cache stop trusting what it holds about a change, in
// one round trip.
type Invalidator interface {
	Invalidate(ctx context.Context, ch Changed) error
}

type withoutStaleKey struct{}

// WithoutStale marks the reads made under ctx as needing the source's
// answer: an action decides on what it reads, so a cache must not answer it
// with a value that is no longer fresh, even while the source fails.
func WithoutStale(ctx context.Context) context.Context {
	return context.WithValue(ctx, withoutStaleKey{}, true)
}

// StaleAllowed reports whether a read under ctx may be answered with a
// value that is no longer fresh when the source fails.
func StaleAllowed(ctx context.Context) bool {
	no, _ := ctx.Value(withoutStaleKey{}).(bool)
	return !no
}

// NormalizeEmail checks that s (trimmed) is a bare email address of at most
// 254 bytes and returns it lower-cased, the form lookups are keyed by.
func NormalizeEmail(s string) (string, bool) {
	s = strings.TrimSpace(s)
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || len(s) > 254 {
		return "", false
	}
	return strings.ToLower(s), true
}

// UniqueIDs drops empty and repeated ids, keeping the first of each in order:
// batch callers may ask for the same key twice.
func UniqueIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
