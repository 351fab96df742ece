package emulator

import (
	"cmp"
	"html"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A contact's history: conversations (conversations.go), tickets
// (tickets.go), notes (notes.go) and Intercom Phone calls (calls.go). This
// file holds what they share.

// Author is who wrote a message, a part or a ticket comment.
type Author struct {
	Type  string // "user", "lead", "admin", "bot" or "team"
	ID    string
	Name  string // "" = null
	Email string // "" = null (or left out where the description does not allow null)
}

// interactionSeq hands out the numeric ids Intercom gives conversations
// (tickets share their id space), notes, calls and parts.
type interactionSeq struct {
	conversation int64 // also tickets
	ticketNumber int64 // the "#1390" inbox number of tickets
	note         int64
	call         int64
	part         int64
}

// Seeded ids start here; AddConversation and friends continue after the
// last seeded one.
const (
	firstConversationID = 215470000000001
	firstTicketNumber   = 1001
	firstNoteID         = 17495001
	firstCallID         = 3100001
	firstPartID         = 41000001
)

func (s *interactionSeq) init() {
	*s = interactionSeq{conversation: firstConversationID, ticketNumber: firstTicketNumber,
		note: firstNoteID, call: firstCallID, part: firstPartID}
}

func next(n *int64) string {
	id := strconv.FormatInt(*n, 10)
	*n++
	return id
}

// plainText is what Intercom indexes of an HTML body: tags removed, entities
// decoded, white space folded. (The product's own preview code is not used
// here, so that the emulator does not share its bugs.)
func plainText(s string) string {
	var b strings.Builder
	inTag := false
	for _, r := range s {
		switch {
		case r == '<':
			inTag = true
			b.WriteByte(' ')
		case r == '>' && inTag:
			inTag = false
		case !inTag:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(html.UnescapeString(b.String())), " ")
}

// phoneOnly answers 403 api_plan_restricted unless the workspace has
// Intercom Phone (Options.Phone).
func (w *Workspace) phoneOnly(h handlerFunc) handlerFunc {
	return func(r *http.Request, p map[string]string) (any, *apiError) {
		if !w.opts.Phone {
			return nil, errorf(http.StatusForbidden, CodePlanRestricted, "Active subscription needed.")
		}
		return h(r, p)
	}
}

// createdLess is the default listing order of interactions: created_at,
// then id (numerically: ids are decimal numbers of the same length here,
// but AddConversation callers may pass their own).
func createdLess(at1 time.Time, id1 string, at2 time.Time, id2 string) int {
	if c := at1.Compare(at2); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(len(id1), len(id2)), cmp.Compare(id1, id2))
}

// forContact returns the records of contactID ("" = all), cloned.
func forContact[T any](all []*T, contactIDs func(*T) []string, contactID string, clone func(*T) T) []T {
	out := []T{}
	for _, r := range all {
		if contactID == "" || slices.Contains(contactIDs(r), contactID) {
			out = append(out, clone(r))
		}
	}
	return out
}

// ---- JSON bodies shared by conversations and tickets ----

type contactRefBody struct {
	Type       string  `json:"type"`
	ID         string  `json:"id"`
	ExternalID *string `json:"external_id"`
}

type contactRefListBody struct {
	Type     string           `json:"type"`
	Contacts []contactRefBody `json:"contacts"`
}

// contactRefsLocked renders conversation_contacts / ticket_contacts; w.mu
// must be held.
func (w *Workspace) contactRefsLocked(ids []string) contactRefListBody {
	l := contactRefListBody{Type: "contact.list", Contacts: []contactRefBody{}}
	for _, id := range ids {
		ref := contactRefBody{Type: "contact", ID: id}
		if c := w.contacts[id]; c != nil {
			ref.ExternalID = strPtr(c.ExternalID)
		}
		l.Contacts = append(l.Contacts, ref)
	}
	return l
}

type linkedObjectsBody struct {
	Type       string `json:"type"`
	TotalCount int    `json:"total_count"`
	HasMore    bool   `json:"has_more"`
	Data       []any  `json:"data"`
}

func noLinkedObjects() linkedObjectsBody {
	return linkedObjectsBody{Type: "list", Data: []any{}}
}

// idNum renders an integer id field ("" = 0, as Intercom's unassigned
// admin_assignee_id).
func idNum(id string) int64 {
	n, _ := strconv.ParseInt(id, 10, 64)
	return n
}

// adminLocked returns the admin with id, if any; w.mu must be held.
func (w *Workspace) adminLocked(id string) (Admin, bool) {
	for _, a := range w.admins {
		if a.ID == id {
			return a, true
		}
	}
	return Admin{}, false
}

// authorOfAdminLocked is the Author of a message an admin wrote.
func (w *Workspace) authorOfAdminLocked(id string) Author {
	a, _ := w.adminLocked(id)
	return Author{Type: "admin", ID: a.ID, Name: a.Name, Email: a.Email}
}

// authorOfContactLocked is the Author of a message a contact wrote.
func (w *Workspace) authorOfContactLocked(c *Contact) Author {
	return Author{Type: c.Role, ID: c.ID, Name: c.Name, Email: c.Email}
}
