package actions

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/talkdesk-intercom/api/sources"
)

// CreateTicketRequest opens a ticket for a contact.
type CreateTicketRequest struct {
	ContactID   string `json:"contact_id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	TicketType  string `json:"ticket_type"` // id or name
	AdminID     string `json:"admin_id,omitempty"`
}

// CreateTicket opens a ticket. An unknown ticket type is an input problem
// that lists the workspace's types.
func (s *Service) CreateTicket(ctx context.Context, key string, req CreateTicketRequest) (*sources.Ticket, error) {
	if r, ok, err := replay[*sources.Ticket](ctx, s, ActionCreateTicket, key, req); ok || err != nil {
		return r, err
	}
	var p Problems
	checkKey(ctx, &p, key)
	title := checkLength(&p, "title", req.Title, 1, maxTitle)
	description := checkLength(&p, "description", req.Description, 0, maxBody)
	typeID, err := s.ticketType(ctx, &p, "ticketType", req.TicketType)
	if err != nil {
		return nil, err
	}
	if _, err := s.contact(ctx, &p, "contactId", req.ContactID); err != nil {
		return nil, err
	}
	if req.AdminID != "" {
		if _, err := s.author(ctx, &p, "adminId", req.AdminID); err != nil {
			return nil, err
		}
	}
	if len(p) > 0 {
		return nil, p
	}
	t := sources.NewTicket{ContactID: req.ContactID, TicketTypeID: typeID, Title: title, Description: description, AdminID: req.AdminID}
	return guarded(ctx, s, ActionCreateTicket, key, req,
		func(ctx context.Context) (*sources.Ticket, error) { return s.createTicket(ctx, t) },
		func(ctx context.Context, since time.Time) (*sources.Ticket, bool, error) {
			return s.findTicket(ctx, t, since)
		})
}

func (s *Service) createTicket(ctx context.Context, t sources.NewTicket) (*sources.Ticket, error) {
	ticket, err := s.cfg.Executor.CreateTicket(ctx, t)
	if p, ok := asProblems(err, "ticketType"); ok {
		return nil, p
	}
	if err != nil {
		return nil, err
	}
	s.invalidate(ctx, sources.Changed{ContactIDs: []string{t.ContactID},
		Interactions: []sources.InteractionChange{{ID: ticket.ID, Kind: sources.KindTicket, ContactIDs: []string{t.ContactID}, Created: true}}})
	return ticket, nil
}

// findTicket looks for the ticket an earlier attempt may have opened: same
// contact, type and title, opened since the attempt began.
func (s *Service) findTicket(ctx context.Context, t sources.NewTicket, since time.Time) (*sources.Ticket, bool, error) {
	tickets, err := s.cfg.Executor.TicketsSince(ctx, t.ContactID, since.Add(-time.Minute))
	if err != nil {
		return nil, false, err
	}
	for _, tk := range tickets {
		if tk.Title == t.Title && (tk.TicketTypeID == "" || tk.TicketTypeID == t.TicketTypeID) {
			return tk, true, nil
		}
	}
	return nil, false, nil
}

// ticketType resolves a ticket type given by id or (case-insensitive) name.
func (s *Service) ticketType(ctx context.Context, p *Problems, field, v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		p.add(field, "%s is required", field)
		return "", nil
	}
	types, err := s.ticketTypes(ctx)
	if err != nil {
		return "", err
	}
	var names []string
	for _, tt := range types {
		if tt.ID == v || strings.EqualFold(tt.Name, v) {
			return tt.ID, nil
		}
		names = append(names, tt.Name+" ("+tt.ID+")")
	}
	sort.Strings(names)
	p.add(field, "%s is not a ticket type of this workspace; its types are: %s", sources.Quote(v), strings.Join(names, ", "))
	return "", nil
}

// ticketTypes lists the workspace's ticket types (see Service.types).
func (s *Service) ticketTypes(ctx context.Context) ([]*sources.TicketType, error) {
	return s.types.Get(ctx)
}

// ActionAddTicketNote adds a note to a ticket: not in the catalog (no
// caller runs it by name); call events write their follow-ups with it.
const ActionAddTicketNote = "add_ticket_note"

// AddTicketNoteRequest adds a note for a ticket's teammates.
type AddTicketNoteRequest struct {
	TicketID  string `json:"ticket_id"`
	ContactID string `json:"contact_id"` // the ticket's contact, whose history changes
	Body      string `json:"body"`       // plain text
	AdminID   string `json:"admin_id,omitempty"`
}

// AddTicketNote adds a note to a ticket (Intercom's reply of type note),
// written by AdminID or the token's admin.
func (s *Service) AddTicketNote(ctx context.Context, key string, req AddTicketNoteRequest) (*sources.TicketNote, error) {
	if r, ok, err := replay[*sources.TicketNote](ctx, s, ActionAddTicketNote, key, req); ok || err != nil {
		return r, err
	}
	var p Problems
	checkKey(ctx, &p, key)
	body := checkLength(&p, "body", req.Body, 1, maxBody)
	if strings.TrimSpace(req.TicketID) == "" {
		p.add("ticketId", "ticketId is required")
	}
	admin, err := s.author(ctx, &p, "adminId", req.AdminID)
	if err != nil {
		return nil, err
	}
	if len(p) > 0 {
		return nil, p
	}
	note := sources.NewTicketNote{TicketID: req.TicketID, Body: textToHTML(body), AdminID: admin}
	return guarded(ctx, s, ActionAddTicketNote, key, req,
		func(ctx context.Context) (*sources.TicketNote, error) {
			n, err := s.cfg.Executor.AddTicketNote(ctx, note)
			if p, ok := asProblems(err, "ticketId"); ok {
				return nil, p
			}
			if err != nil {
				return nil, err
			}
			if req.ContactID != "" {
				s.invalidate(ctx, sources.Changed{ContactIDs: []string{req.ContactID},
					Interactions: []sources.InteractionChange{{ID: req.TicketID, Kind: sources.KindTicket, ContactIDs: []string{req.ContactID}}}})
			}
			return n, nil
		},
		func(ctx context.Context, since time.Time) (*sources.TicketNote, bool, error) {
			// The note an earlier attempt may have added: same body, since
			// the attempt began.
			notes, err := s.cfg.Executor.TicketNotes(ctx, note.TicketID)
			if err != nil {
				return nil, false, err
			}
			for _, n := range notes {
				if n.Body == note.Body && !n.CreatedAt.Before(since.Add(-time.Minute)) {
					return n, true, nil
				}
			}
			return nil, false, nil
		})
}
