package intercom

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Wire types of contacts' histories: conversations, tickets, notes and
// calls, decoded as leniently as contacts (wire.go). NOTES.md lists where
// the live API differs from its description; each difference has a test.

// wireConversation is a conversation as search, GET /conversations and GET
// /conversations/{id} send it. Assignee ids are integers on conversations
// (team_assignee_id has been seen as a string too): flexString takes both.
type wireConversation struct {
	ID              flexString             `json:"id"`
	Title           string                 `json:"title"`
	CreatedAt       flexInt                `json:"created_at"`
	UpdatedAt       flexInt                `json:"updated_at"`
	WaitingSince    flexInt                `json:"waiting_since"`
	Open            *bool                  `json:"open"`
	State           string                 `json:"state"`
	Read            *bool                  `json:"read"`
	Priority        string                 `json:"priority"`
	AdminAssigneeID flexString             `json:"admin_assignee_id"`
	TeamAssigneeID  flexString             `json:"team_assignee_id"`
	Source          *wireSource            `json:"source"`
	Contacts        wireContactRefs        `json:"contacts"`
	Statistics      *wireConversationStats `json:"statistics"`
}

type wireSource struct {
	Type        string      `json:"type"`
	DeliveredAs string      `json:"delivered_as"`
	Subject     string      `json:"subject"`
	Body        string      `json:"body"`
	Author      *wireAuthor `json:"author"`
}

// wireAuthor is the author of a conversation's source, a conversation part
// or a ticket part: type user, lead, contact, admin, bot or team.
type wireAuthor struct {
	Type  string     `json:"type"`
	ID    flexString `json:"id"`
	Name  string     `json:"name"`
	Email string     `json:"email"`
}

type wireConversationStats struct {
	FirstAdminReplyAt flexInt `json:"first_admin_reply_at"`
	LastAdminReplyAt  flexInt `json:"last_admin_reply_at"`
}

// wireContactRefs is a conversation's or ticket's contacts: described as
// {"type": "contact.list", "contacts": [...]}; a bare array or "data" is
// accepted too.
type wireContactRefs []string

func (r *wireContactRefs) UnmarshalJSON(b []byte) error {
	type ref struct {
		ID flexString `json:"id"`
	}
	var refs []ref
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
	case len(b) > 0 && b[0] == '[':
		if err := json.Unmarshal(b, &refs); err != nil {
			return err
		}
	default:
		var l struct {
			Contacts []ref `json:"contacts"`
			Data     []ref `json:"data"`
		}
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
		refs = append(l.Contacts, l.Data...)
	}
	*r = nil
	for _, x := range refs {
		if x.ID != "" {
			*r = append(*r, string(x.ID))
		}
	}
	return nil
}

// wireConversationList is conversation_list. The description and the live
// API put the items under "conversations" (NOTES.md: GET /conversations does,
// where one might expect "data"); "data" is read too.
type wireConversationList struct {
	Conversations []wireConversation `json:"conversations"`
	Data          []wireConversation `json:"data"`
	Pages         *wireListPages     `json:"pages"`
}

func (l *wireConversationList) items() []wireConversation {
	if len(l.Conversations) > 0 {
		return l.Conversations
	}
	return l.Data
}

// wireListPages is a list's pages object. next is a cursor object in the
// description ({per_page, starting_after}); older answers have sent a URL
// of the next page, or nothing but page and total_pages.
type wireListPages struct {
	Page       flexInt         `json:"page"`
	TotalPages flexInt         `json:"total_pages"`
	Next       json.RawMessage `json:"next"`
}

// next says how to ask for the next page: a starting_after cursor, or a page
// number, or neither (the last page).
func (p *wireListPages) next() (cursor string, page int) {
	if p == nil {
		return "", 0
	}
	raw := bytes.TrimSpace(p.Next)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
	case raw[0] == '{':
		var n struct {
			StartingAfter string `json:"starting_after"`
		}
		if json.Unmarshal(raw, &n) == nil && n.StartingAfter != "" {
			return n.StartingAfter, 0
		}
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) == nil && s != "" {
			if u, err := url.Parse(s); err == nil {
				if c := u.Query().Get("starting_after"); c != "" {
					return c, 0
				}
				if n, err := strconv.Atoi(u.Query().Get("page")); err == nil && n > int(p.Page) {
					return "", n
				}
			}
		}
	}
	if p.Page > 0 && p.Page < p.TotalPages {
		return "", int(p.Page) + 1
	}
	return "", 0
}

// wireTicket is a ticket. Its assignee ids are integers in the description
// and strings on the live API (NOTES.md).
type wireTicket struct {
	ID               flexString      `json:"id"`
	TicketID         flexString      `json:"ticket_id"`
	TicketAttributes map[string]any  `json:"ticket_attributes"`
	TicketState      wireTicketState `json:"ticket_state"`
	TicketType       *struct {
		ID   flexString `json:"id"`
		Name string     `json:"name"`
	} `json:"ticket_type"`
	Contacts        wireContactRefs `json:"contacts"`
	AdminAssigneeID flexString      `json:"admin_assignee_id"`
	TeamAssigneeID  flexString      `json:"team_assignee_id"`
	CreatedAt       flexInt         `json:"created_at"`
	UpdatedAt       flexInt         `json:"updated_at"`
	Open            *bool           `json:"open"`
	TicketParts     *struct {
		TicketParts []struct {
			Author *wireAuthor `json:"author"`
		} `json:"ticket_parts"`
	} `json:"ticket_parts"`
}

// attribute returns a ticket attribute as text ("" when absent or not text).
func (t *wireTicket) attribute(name string) string {
	switch v := t.TicketAttributes[name].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

// wireTicketState is ticket_state: an object in 2.16, a bare category string
// in older versions.
type wireTicketState struct {
	Category string
}

func (s *wireTicketState) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = wireTicketState{}
		return nil
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &s.Category)
	}
	var o struct {
		Category string `json:"category"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	*s = wireTicketState(o)
	return nil
}

// wireTicketList is ticket_list: the items are under "tickets".
type wireTicketList struct {
	Tickets []wireTicket   `json:"tickets"`
	Data    []wireTicket   `json:"data"`
	Pages   *wireListPages `json:"pages"`
}

func (l *wireTicketList) items() []wireTicket {
	if len(l.Tickets) > 0 {
		return l.Tickets
	}
	return l.Data
}

// wireContactNote is a note as POST and GET /contacts/{id}/notes send it;
// its author is an admin object.
type wireContactNote struct {
	ID        flexString `json:"id"`
	CreatedAt flexInt    `json:"created_at"`
	Author    *wireAdmin `json:"author"`
	Body      string     `json:"body"`
}

type wireContactNotes struct {
	Data  []wireContactNote `json:"data"`
	Pages *wireListPages    `json:"pages"`
}

// wireCall is an Intercom Phone call. Its times are the description's
// datetime: Unix seconds or an ISO 8601 string.
type wireCall struct {
	ID             flexString `json:"id"`
	ConversationID flexString `json:"conversation_id"`
	AdminID        flexString `json:"admin_id"`
	ContactID      flexString `json:"contact_id"`
	State          string     `json:"state"`
	Direction      string     `json:"direction"`
	EndedReason    string     `json:"ended_reason"`
	Phone          string     `json:"phone"`
	InitiatedAt    flexTime   `json:"initiated_at"`
	AnsweredAt     flexTime   `json:"answered_at"`
	EndedAt        flexTime   `json:"ended_at"`
	CreatedAt      flexTime   `json:"created_at"`
	UpdatedAt      flexTime   `json:"updated_at"`
	RecordingURL   string     `json:"recording_url"`
}

type wireCallList struct {
	Data []wireCall `json:"data"`
}

// flexTime decodes Unix seconds (a number or a string of digits), an RFC
// 3339 string or null.
type flexTime time.Time

func (t *flexTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if strings.TrimSpace(s) == "" {
			*t = flexTime{}
			return nil
		}
		if at, err := time.Parse(time.RFC3339, s); err == nil {
			*t = flexTime(at.UTC())
			return nil
		}
	}
	var n flexInt
	if err := n.UnmarshalJSON(b); err != nil {
		return err
	}
	*t = flexTime(unixTime(n))
	return nil
}

func (t flexTime) time() time.Time { return time.Time(t) }
