package sources

import (
	"context"
	"time"
)

// Actions: what an agent or an automation can do in a source without leaving
// the call screen. Each capability is its own interface, as for reads.

// NewContact is a contact to create.
type NewContact struct {
	Role             string // "user" or "lead"
	Name             string
	Email            string
	Phone            string // E.164
	ExternalID       string
	CompanyID        string // the source's company id to attach, if any
	CustomAttributes map[string]any
}

// ContactChanges are the fields of a contact to change; nil leaves a field
// as it is.
type ContactChanges struct {
	Name             *string
	Email            *string
	Phone            *string // E.164
	ExternalID       *string
	Role             *string
	CustomAttributes map[string]any
}

// NewNote is a note to add to a contact.
type NewNote struct {
	ContactID string
	Body      string // HTML; plain text is escaped by the caller
	AdminID   string // the teammate who writes it
}

// Note is a note about a contact.
type Note struct {
	ID        string
	ContactID string
	Body      string
	AuthorID  string
	CreatedAt time.Time
}

// NewTicket is a ticket to open for a contact.
type NewTicket struct {
	ContactID    string
	TicketTypeID string
	Title        string
	Description  string
	AdminID      string // the teammate who opens it, if known
}

// Ticket is an opened ticket.
type Ticket struct {
	ID           string
	Reference    string // the number people quote, e.g. "1390"
	ContactID    string
	TicketTypeID string
	Title        string
	Description  string
	State        string
	URL          string
	CreatedAt    time.Time
}

// NewTicketNote is a note for the teammates of a ticket (Intercom's reply
// of type note: the customer never sees it).
type NewTicketNote struct {
	TicketID string
	Body     string // HTML; plain text is escaped by the caller
	AdminID  string // the teammate who writes it (required by Intercom)
}

// TicketNote is a note on a ticket.
type TicketNote struct {
	ID        string
	TicketID  string
	Body      string
	AuthorID  string
	CreatedAt time.Time
}

// TicketType is a kind of ticket a workspace defines.
type TicketType struct {
	ID          string
	Name        string
	Description string
}

// ContactWriter creates and changes contacts.
type ContactWriter interface {
	CreateContact(ctx context.Context, c NewContact) (*Contact, error)
	UpdateContact(ctx context.Context, id string, ch ContactChanges) (*Contact, error)
}

// Tagger attaches and removes tags by name, creating a tag that does not
// exist yet.
type Tagger interface {
	TagContact(ctx context.Context, contactID, tag string) (*Tag, error)
	UntagContact(ctx context.Context, contactID, tag string) (*Tag, error)
}

// NoteWriter adds notes, and lists a contact's recent notes so that a retried
// action can find the note an earlier attempt may have added.
type NoteWriter interface {
	AddNote(ctx context.Context, n NewNote) (*Note, error)
	NotesSince(ctx context.Context, contactID string, since time.Time) ([]*Note, error)
}

// TicketWriter opens tickets, names the ticket types, adds notes to
// tickets, and lists a contact's recent tickets and a ticket's notes so that
// a retried action can find what an earlier attempt may have written.
type TicketWriter interface {
	CreateTicket(ctx context.Context, t NewTicket) (*Ticket, error)
	TicketTypes(ctx context.Context) ([]*TicketType, error)
	TicketsSince(ctx context.Context, contactID string, since time.Time) ([]*Ticket, error)
	AddTicketNote(ctx context.Context, n NewTicketNote) (*TicketNote, error)
	TicketNotes(ctx context.Context, ticketID string) ([]*TicketNote, error)
}

// ActionExecutor is every action a source supports.
type ActionExecutor interface {
	ContactWriter
	Tagger
	NoteWriter
	TicketWriter
}
