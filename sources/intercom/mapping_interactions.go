package intercom

import (
	"strings"
	"time"

	"github.com/talkdesk-intercom/api/sources"
)

// What the mappings of every interaction kind share: status and priority,
// participants, directions and deep links.

// The Intercom → Talkdesk mapping of status and priority, in one place.
//
// Conversations: state, refined by who spoke last and whether the team has
// answered at all.
//
//	| Intercom state | and                                          | status  |
//	|----------------|----------------------------------------------|---------|
//	| open           | no teammate has replied yet                  | new     |
//	| open           | the customer spoke last (waiting_since set)  | open    |
//	| open           | a teammate spoke last (waiting_since null)   | pending |
//	| snoozed        |                                              | pending |
//	| closed         |                                              | closed  |
//
// "No teammate has replied yet": the customer started the conversation and
// statistics.first_admin_reply_at is absent; when a search answer carries no
// statistics, a conversation that is unread and whose customer is waiting.
// A closed conversation is "closed", not "solved": Intercom does not say
// whether closing it solved anything.
//
// Conversation priority (2.16 names five levels; before 2.11 a conversation
// was "priority" or "not_priority"):
//
//	| Intercom              | priority |
//	|-----------------------|----------|
//	| urgent                | urgent   |
//	| high, priority        | high     |
//	| medium                | normal   |
//	| low                   | low      |
//	| none, not_priority, ""| none     |
//
// Tickets: the category of ticket_state, and open.
//
//	| ticket_state.category | open  | status  |
//	|-----------------------|-------|---------|
//	| submitted             | true  | new     |
//	| in_progress           | true  | open    |
//	| waiting_on_customer   | true  | pending |
//	| resolved              | any   | solved  |
//	| any other             | false | closed  |
//
// Tickets have no priority in Intercom: "none", unless the ticket has a
// "priority" attribute holding one of the conversation values above.
//
// Notes are records of the past with nothing to act on: status "closed",
// priority "none".
//
// Calls: a call still ringing or in progress is "open"; any other (ended:
// answered, missed, voicemail) is "closed" (a missed call's follow-up lives
// in its conversation, which is "new" until someone answers). Priority
// "none".

func conversationStatus(w *wireConversation) sources.Status {
	switch w.State {
	case "closed":
		return sources.StatusClosed
	case "snoozed":
		return sources.StatusPending
	}
	if w.Open != nil && !*w.Open {
		return sources.StatusClosed
	}
	if conversationUnanswered(w) {
		return sources.StatusNew
	}
	if w.WaitingSince > 0 {
		return sources.StatusOpen
	}
	return sources.StatusPending
}

// conversationUnanswered reports whether the customer started the
// conversation and no teammate has replied yet.
func conversationUnanswered(w *wireConversation) bool {
	if w.Source == nil || w.Source.Author == nil || participantKind(w.Source.Author.Type) != sources.ParticipantContact {
		return false
	}
	if w.Statistics != nil {
		return w.Statistics.FirstAdminReplyAt <= 0 && w.Statistics.LastAdminReplyAt <= 0
	}
	return w.Read != nil && !*w.Read && w.WaitingSince > 0
}

var priorities = map[string]sources.Priority{
	"urgent":       sources.PriorityUrgent,
	"high":         sources.PriorityHigh,
	"priority":     sources.PriorityHigh,
	"medium":       sources.PriorityNormal,
	"normal":       sources.PriorityNormal,
	"low":          sources.PriorityLow,
	"none":         sources.PriorityNone,
	"not_priority": sources.PriorityNone,
}

func priority(p string) sources.Priority {
	if v, ok := priorities[strings.ToLower(strings.TrimSpace(p))]; ok {
		return v
	}
	return sources.PriorityNone
}

func ticketStatus(category string, open *bool) sources.Status {
	if category == "resolved" {
		return sources.StatusSolved
	}
	if open != nil && !*open {
		return sources.StatusClosed
	}
	switch category {
	case "submitted":
		return sources.StatusNew
	case "in_progress":
		return sources.StatusOpen
	case "waiting_on_customer":
		return sources.StatusPending
	}
	return sources.StatusOpen
}

func callStatus(state string, ended bool) sources.Status {
	switch strings.ToLower(state) {
	case "ringing", "queued", "initiated", "in_progress", "in-progress", "active", "answered":
		if !ended {
			return sources.StatusOpen
		}
	}
	return sources.StatusClosed
}

func participantKind(t string) sources.ParticipantKind {
	switch t {
	case "admin":
		return sources.ParticipantAdmin
	case "bot":
		return sources.ParticipantBot
	case "team":
		return sources.ParticipantTeam
	}
	return sources.ParticipantContact // user, lead, contact
}

// participant maps an author; names of admins come from the admin list
// when the author carries none.
func (x *Interactions) participant(a *wireAuthor) *sources.Participant {
	if a == nil || (a.ID == "" && a.Name == "") {
		return nil
	}
	p := &sources.Participant{Kind: participantKind(a.Type), ID: string(a.ID), Name: strings.TrimSpace(a.Name), Email: a.Email}
	if p.Name == "" && p.Kind == sources.ParticipantAdmin {
		p.Name = x.adminName(p.ID)
	}
	return p
}

// assignee is the admin (else the team) an object is assigned to; ids of 0
// mean unassigned.
func (x *Interactions) assignee(admin, team flexString) *sources.Participant {
	if id := string(admin); id != "" && id != "0" {
		return &sources.Participant{Kind: sources.ParticipantAdmin, ID: id, Name: x.adminName(id)}
	}
	if id := string(team); id != "" && id != "0" {
		return &sources.Participant{Kind: sources.ParticipantTeam, ID: id}
	}
	return nil
}

func direction(deliveredAs string, author *wireAuthor) sources.Direction {
	switch deliveredAs {
	case "customer_initiated":
		return sources.DirectionInbound
	case "admin_initiated", "operator_initiated", "automated", "campaigns_initiated":
		return sources.DirectionOutbound
	}
	if author == nil || author.Type == "" {
		return sources.DirectionNone
	}
	if participantKind(author.Type) == sources.ParticipantContact {
		return sources.DirectionInbound
	}
	return sources.DirectionOutbound
}

func (x *Interactions) inboxURL(id string) string {
	return x.c.inboxURL(x.c.KnownWorkspace(), id)
}

func (x *Interactions) contactURL(contactID string) string {
	return x.c.contactURL(x.c.KnownWorkspace(), contactID)
}

func cmpTime(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}
