package sources

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// InteractionKind names a kind of interaction a contact had with a source.
type InteractionKind string

// The interaction kinds. Their string values are what clients (GraphQL, the
// Talkdesk bridge's interaction_types) name them by.
const (
	KindConversation InteractionKind = "conversation" // a chat, email or other inbox thread
	KindTicket       InteractionKind = "ticket"       // a tracked request
	KindNote         InteractionKind = "note"         // an internal note about the contact
	KindCall         InteractionKind = "call"         // a phone call
	// KindRecord is an entry of a customer's own database (an order, a
	// payment, a case): Interaction.SourceKind keeps the customer's word.
	// It is not in InteractionKinds, which lists Intercom's kinds (the
	// Talkdesk bridge declares those).
	KindRecord InteractionKind = "record"
)

// InteractionKinds returns every kind, in the order interfaces list them.
func InteractionKinds() []InteractionKind {
	return []InteractionKind{KindConversation, KindTicket, KindNote, KindCall}
}

// Valid reports whether k is one of the kinds above.
func (k InteractionKind) Valid() bool { return slices.Contains(InteractionKinds(), k) }

// ParseInteractionKind reads a kind by name, ignoring case and surrounding
// space; plurals ("tickets") are accepted. An unknown name is a
// BAD_USER_INPUT error on the field "kinds".
func ParseInteractionKind(s string) (InteractionKind, error) {
	k := InteractionKind(strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), "s"))
	if !k.Valid() {
		return "", InputError("kinds", "%s is not an interaction kind: use one of %s", Quote(s), kindList(InteractionKinds()))
	}
	return k, nil
}

func kindList(kinds []InteractionKind) string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// Priority is Talkdesk's level of urgency of an interaction.
type Priority string

// The Talkdesk priorities.
const (
	PriorityNone   Priority = "none"
	PriorityLow    Priority = "low"
	PriorityNormal Priority = "normal"
	PriorityHigh   Priority = "high"
	PriorityUrgent Priority = "urgent"
)

// Status is Talkdesk's state of an interaction.
type Status string

// The Talkdesk statuses, in the order an interaction goes through them.
const (
	StatusNew     Status = "new"     // nobody in the team has acted on it yet
	StatusOpen    Status = "open"    // the team owes the next step
	StatusPending Status = "pending" // waiting on the customer, or deferred
	StatusSolved  Status = "solved"  // resolved
	StatusClosed  Status = "closed"  // finished; a record of the past
)

// Direction says who started an interaction.
type Direction string

// The directions; DirectionNone where the source does not say or it does not
// apply (a note).
const (
	DirectionNone     Direction = ""
	DirectionInbound  Direction = "inbound"  // the customer reached out
	DirectionOutbound Direction = "outbound" // the team (or its automation) reached out
)

// ParticipantKind says what kind of party a Participant is.
type ParticipantKind string

// The participant kinds.
const (
	ParticipantContact ParticipantKind = "contact" // the customer: a user or lead
	ParticipantAdmin   ParticipantKind = "admin"   // a teammate
	ParticipantTeam    ParticipantKind = "team"    // a team of teammates
	ParticipantBot     ParticipantKind = "bot"     // an automation or AI agent
)

// Participant is a party to an interaction: its author or its assignee.
type Participant struct {
	Kind  ParticipantKind
	ID    string
	Name  string // "" when the source does not say
	Email string // "" when the source does not say
}

// PreviewLength is how many characters (runes) an interaction's Description
// holds at most, unless a source is configured otherwise.
const PreviewLength = 200

// Interaction is one entry of a contact's history in a source: a
// conversation, a ticket, a note or a call. It carries every field of
// Talkdesk's interaction format (id, type, subject, description, date, url,
// priority, status) plus what an agent's dashboard shows around them.
type Interaction struct {
	ID   string
	Kind InteractionKind
	// ContactID is the contact whose history this entry was found in. An
	// interaction shared by several contacts asked for at once appears once
	// under each, each copy with its own ContactID.
	ContactID string
	// Subject is a one-line title; never empty (sources make one up from the
	// kind and content when the interaction has none).
	Subject string
	// Description is a plain-text preview of the content: markup stripped,
	// entities decoded, white space folded, cut at a word boundary to at
	// most PreviewLength runes with "…" when cut.
	Description string
	// Date orders a history: the last activity of conversations and tickets
	// (UpdatedAt), the time notes were written and calls started.
	Date      time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
	// URL opens the interaction in the source's own web app.
	URL      string
	Priority Priority
	Status   Status
	// SourceState is the state as the source names it (Intercom: "open",
	// "snoozed", "closed"; a ticket's state category such as
	// "waiting_on_customer"; a call's state), for dashboards that want more
	// than Status says.
	SourceState string
	Direction   Direction
	// Author started the interaction; nil when the source does not say.
	Author *Participant
	// Assignee is who owns it now; nil when unassigned.
	Assignee *Participant
	// Reference is the number people use for it, when that is not ID:
	// Intercom's inbox number of a ticket ("1390", shown as "#1390").
	Reference string
	// ConversationID links an interaction to the conversation it belongs to
	// (Intercom: a call's conversation), "" otherwise.
	ConversationID string
	// Calls only: how long the call lasted (zero if it was never answered)
	// and whether a recording exists.
	Duration     time.Duration
	HasRecording bool
	// Source names the system the interaction comes from; empty means
	// Intercom (see Contact.Source).
	Source string `json:",omitempty"`
	// SourceKind is the source's own word for the kind of a KindRecord
	// ("order", "payment", "case").
	SourceKind string `json:",omitempty"`
}

// SourceOf returns the name of the source an interaction comes from.
func (it *Interaction) SourceOf() string {
	if it.Source == "" {
		return SourceIntercom
	}
	return it.Source
}

// SortInteractions orders a history newest first: by Date descending, then
// by kind and ID so that equal dates keep a stable order.
func SortInteractions(list []*Interaction) {
	slices.SortStableFunc(list, CompareInteractions)
}

// CompareInteractions is the order of SortInteractions. Numeric ids compare
// as numbers, so that "100" comes after "99".
func CompareInteractions(a, b *Interaction) int {
	if c := b.Date.Compare(a.Date); c != 0 {
		return c
	}
	if c := compareKinds(a.Kind, b.Kind); c != 0 {
		return c
	}
	return -compareIDs(a.ID, b.ID)
}

func compareIDs(a, b string) int {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	if errA == nil && errB == nil {
		return cmp.Compare(x, y)
	}
	return cmp.Compare(a, b)
}

// NotesCountUnknown is ContactRef.NotesCount for a contact whose notes count
// the caller does not know: its notes are always read.
const NotesCountUnknown = -1

// ContactRef names a contact whose history is asked for, with what a source
// needs to skip reads that cannot find anything.
//
// It is comparable, so it can be a dataloader key as it is.
type ContactRef struct {
	ID string
	// NotesCount is how many notes the contact's own record says it has
	// (Contact.NotesCount), or NotesCountUnknown. A source whose notes are a
	// separate read per contact skips that read when it is 0, so pass 0 only
	// when the contact really has no notes: use ContactRefOf or
	// ContactRefByID rather than a bare literal.
	NotesCount int
}

// ContactRefOf is the ContactRef of a contact read from a source.
func ContactRefOf(c *Contact) ContactRef {
	return ContactRef{ID: c.ID, NotesCount: c.NotesCount}
}

// ContactRefByID is the ContactRef of a contact known only by id: its notes
// are read whatever their count.
func ContactRefByID(id string) ContactRef {
	return ContactRef{ID: id, NotesCount: NotesCountUnknown}
}

// InteractionFinder reads contacts' histories.
type InteractionFinder interface {
	// SupportedInteractionKinds lists the kinds the source can return, in
	// InteractionKinds order. A kind may leave the list once the source
	// learns the workspace lacks it (Intercom calls need Intercom Phone).
	SupportedInteractionKinds() []InteractionKind

	// InteractionsByContacts returns the histories of a batch of contacts,
	// keyed by contact id, each sorted by SortInteractions. The map has an
	// entry for every contact asked for (an empty list when it has no
	// interaction of the kinds asked for). kinds empty means every
	// supported kind; since, when not zero, keeps only interactions whose
	// Date is at or after it.
	//
	// Sources read each kind for the whole batch at once where they can, so
	// that one call serves a dataloader batch. A kind that fails does not
	// fail the others: the result then holds the kinds that succeeded and
	// the error is a *PartialError naming the kinds that failed. Any other
	// error (bad input) comes with a nil map.
	InteractionsByContacts(ctx context.Context, contacts []ContactRef, kinds []InteractionKind, since time.Time) (map[string][]*Interaction, error)
}

// ErrKindNotSupported is wrapped by the error of a kind that the source
// cannot provide for this workspace (Intercom calls without Intercom Phone).
// It is a FORBIDDEN error: the workspace's plan does not include it.
var ErrKindNotSupported = errors.New("interaction kind not supported")

// KindNotSupported returns the error of a kind the workspace lacks; why says
// why, for the caller.
func KindNotSupported(kind InteractionKind, why string) *Error {
	return &Error{Code: EForbidden, Field: "kinds", Message: fmt.Sprintf("%ss are not available: %s", kind, why),
		Err: ErrKindNotSupported}
}

// PartialError reports the kinds of interactions that could not be read,
// while the others were. Failed maps each failed kind to its (coded) error.
//
// errors.As and ErrorCode see through it to the error of the first failed
// kind in InteractionKinds order, so a PartialError whose kinds all failed
// for one reason (say UNAUTHENTICATED) reads as that reason.
type PartialError struct {
	Failed map[InteractionKind]error
}

// Kinds returns the failed kinds, in InteractionKinds order.
func (e *PartialError) Kinds() []InteractionKind {
	var out []InteractionKind
	for k, err := range e.Failed {
		if err != nil {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, compareKinds)
	return out
}

// compareKinds orders kinds as InteractionKinds lists them, unknown ones
// last by name.
func compareKinds(a, b InteractionKind) int {
	rank := func(k InteractionKind) int {
		if i := slices.Index(InteractionKinds(), k); i >= 0 {
			return i
		}
		return len(InteractionKinds())
	}
	return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a, b))
}

// Error names every failed kind with its public message, e.g.
// "could not read tickets (UPSTREAM_UNAVAILABLE: Intercom failed on ...)".
// It never holds the internal detail of an error.
func (e *PartialError) Error() string {
	var parts []string
	for _, k := range e.Kinds() {
		err := e.Failed[k]
		parts = append(parts, fmt.Sprintf("%ss (%s: %s)", k, ErrorCode(err), ErrorMessage(err)))
	}
	return "could not read " + strings.Join(parts, ", ")
}

// Unwrap returns the errors of the failed kinds, in Kinds order.
func (e *PartialError) Unwrap() []error {
	var out []error
	for _, k := range e.Kinds() {
		out = append(out, e.Failed[k])
	}
	return out
}
