package intercom

import (
	"cmp"
	"context"
	"net/url"

	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/preview"
)

// Tickets: one search per 100 of a batch's contacts, or one read by id.
// Creating tickets is in actions.go.

// Upstream endpoints, as Config.Observe and errors name them.
const (
	endpointSearchTickets = "POST /tickets/search"
	endpointTicket        = "GET /tickets/{id}"
)

func (b *batch) tickets(ctx context.Context) {
	tickets, err := searchBatch[wireTicketList](ctx, b, endpointSearchTickets, "/tickets/search",
		func(w *wireTicket) string { return string(w.ID) })
	addFound(b, sources.KindTicket, tickets, err, func(w *wireTicket) (*sources.Interaction, []string) {
		return b.x.ticket(w, ""), w.Contacts
	})
}

func (l *wireTicketList) pages() *wireListPages { return l.Pages }

// Ticket reads one ticket by its id (not the inbox number); ContactID is
// its first contact.
func (x *Interactions) Ticket(ctx context.Context, id string) (*sources.Interaction, error) {
	return readOne(ctx, x, endpointTicket, "/tickets/"+url.PathEscape(id), func(w *wireTicket) *sources.Interaction {
		return x.ticket(w, first(w.Contacts))
	})
}

func (x *Interactions) ticket(w *wireTicket, contactID string) *sources.Interaction {
	it := &sources.Interaction{
		ID:          string(w.ID),
		Kind:        sources.KindTicket,
		ContactID:   contactID,
		Subject:     preview.Text(w.attribute("_default_title_"), subjectLength),
		Description: preview.Text(w.attribute("_default_description_"), x.preview),
		CreatedAt:   unixTime(w.CreatedAt),
		UpdatedAt:   unixTime(w.UpdatedAt),
		URL:         x.inboxURL(string(w.ID)),
		Priority:    priority(w.attribute("priority")),
		Status:      ticketStatus(w.TicketState.Category, w.Open),
		SourceState: w.TicketState.Category,
		Assignee:    x.assignee(w.AdminAssigneeID, w.TeamAssigneeID),
		Reference:   string(w.TicketID),
	}
	it.Date = cmpTime(it.UpdatedAt, it.CreatedAt)
	if w.TicketParts != nil && len(w.TicketParts.TicketParts) > 0 {
		opener := w.TicketParts.TicketParts[0].Author
		it.Author = x.participant(opener)
		it.Direction = direction("", opener)
	}
	if it.Subject == "" && w.TicketType != nil {
		it.Subject = w.TicketType.Name
	}
	if it.Subject == "" {
		it.Subject = "Ticket #" + cmp.Or(it.Reference, it.ID)
	}
	return it
}
