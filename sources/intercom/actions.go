package intercom

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/talkdesk-intercom/api/sources"
)

var _ sources.ActionExecutor = (*Client)(nil)

// Wire types of the write endpoints.

type wireContactWrite struct {
	Role             string         `json:"role,omitempty"`
	ExternalID       *string        `json:"external_id,omitempty"`
	Email            *string        `json:"email,omitempty"`
	Phone            *string        `json:"phone,omitempty"`
	Name             *string        `json:"name,omitempty"`
	CustomAttributes map[string]any `json:"custom_attributes,omitempty"`
}

type wireTag struct {
	ID   flexString `json:"id"`
	Name string     `json:"name"`
}

type wireTicketType struct {
	ID          flexString `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Archived    bool       `json:"archived"`
}

type wireCreatedTicket struct {
	ID               flexString     `json:"id"`
	TicketID         flexString     `json:"ticket_id"`
	TicketAttributes map[string]any `json:"ticket_attributes"`
	TicketType       *struct {
		ID flexString `json:"id"`
	} `json:"ticket_type"`
	TicketState *struct {
		Category string `json:"category"`
	} `json:"ticket_state"`
	CreatedAt flexInt `json:"created_at"`
}

func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// CreateContact creates a contact (POST /contacts) and attaches its company.
func (c *Client) CreateContact(ctx context.Context, nc sources.NewContact) (*sources.Contact, error) {
	body := wireContactWrite{Role: nc.Role, ExternalID: optionalString(nc.ExternalID), Email: optionalString(nc.Email),
		Phone: optionalString(nc.Phone), Name: optionalString(nc.Name), CustomAttributes: nc.CustomAttributes}
	var w wireContact
	if err := c.do(ctx, "POST", "POST /contacts", "/contacts", nil, body, &w); err != nil {
		return nil, err
	}
	if nc.CompanyID != "" {
		path := "/contacts/" + url.PathEscape(string(w.ID)) + "/companies"
		if err := c.do(ctx, "POST", "POST /contacts/{id}/companies", path, nil, map[string]string{"id": nc.CompanyID}, nil); err != nil {
			return nil, createdButNot(err, string(w.ID), "attaching company "+nc.CompanyID)
		}
		return c.Contact(ctx, string(w.ID))
	}
	return c.toContact(w), nil
}

// createdButNot says, keeping err's code, that the contact exists although a
// later step of its creation failed: a retry must find it, not create it.
func createdButNot(err error, contactID, step string) error {
	var e *sources.Error
	if !errors.As(err, &e) {
		return err
	}
	out := *e
	out.Message = fmt.Sprintf("the contact was created (id %s) but %s failed: %s", contactID, step, e.Message)
	out.Err = err
	return &out
}

// UpdateContact changes a contact (PUT /contacts/{id}).
func (c *Client) UpdateContact(ctx context.Context, id string, ch sources.ContactChanges) (*sources.Contact, error) {
	body := wireContactWrite{ExternalID: ch.ExternalID, Email: ch.Email, Phone: ch.Phone, Name: ch.Name, CustomAttributes: ch.CustomAttributes}
	if ch.Role != nil {
		body.Role = *ch.Role
	}
	var w wireContact
	if err := c.do(ctx, "PUT", "PUT /contacts/{id}", "/contacts/"+url.PathEscape(id), nil, body, &w); err != nil {
		return nil, err
	}
	return c.toContact(w), nil
}

// TagContact creates the tag if needed (POST /tags creates or finds it by
// name) and attaches it.
func (c *Client) TagContact(ctx context.Context, contactID, tag string) (*sources.Tag, error) {
	var t wireTag
	if err := c.do(ctx, "POST", "POST /tags", "/tags", nil, map[string]string{"name": tag}, &t); err != nil {
		return nil, err
	}
	path := "/contacts/" + url.PathEscape(contactID) + "/tags"
	if err := c.do(ctx, "POST", "POST /contacts/{id}/tags", path, nil, map[string]string{"id": string(t.ID)}, nil); err != nil {
		return nil, err
	}
	return &sources.Tag{ID: string(t.ID), Name: t.Name}, nil
}

// UntagContact removes the tag named tag from a contact.
func (c *Client) UntagContact(ctx context.Context, contactID, tag string) (*sources.Tag, error) {
	tags, err := c.ListTags(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range tags {
		if strings.EqualFold(t.Name, tag) {
			path := "/contacts/" + url.PathEscape(contactID) + "/tags/" + url.PathEscape(t.ID)
			if err := c.do(ctx, "DELETE", "DELETE /contacts/{id}/tags/{tag_id}", path, nil, nil, nil); err != nil {
				return nil, err
			}
			return t, nil
		}
	}
	return nil, sources.Errorf(sources.ENotFound, "the workspace has no tag named %s", sources.Quote(tag))
}

// ListTags lists the workspace's tags (GET /tags).
func (c *Client) ListTags(ctx context.Context) ([]*sources.Tag, error) {
	var list struct {
		Data []wireTag `json:"data"`
	}
	if err := c.do(ctx, "GET", "GET /tags", "/tags", nil, nil, &list); err != nil {
		return nil, err
	}
	out := make([]*sources.Tag, len(list.Data))
	for i, t := range list.Data {
		out[i] = &sources.Tag{ID: string(t.ID), Name: t.Name}
	}
	return out, nil
}

// AddNote adds a note to a contact (POST /contacts/{id}/notes).
func (c *Client) AddNote(ctx context.Context, n sources.NewNote) (*sources.Note, error) {
	var w wireContactNote
	path := "/contacts/" + url.PathEscape(n.ContactID) + "/notes"
	body := map[string]string{"body": n.Body}
	if n.AdminID != "" { // without it Intercom writes as the token's admin; "" is no admin id
		body["admin_id"] = n.AdminID
	}
	if err := c.do(ctx, "POST", "POST /contacts/{id}/notes", path, nil, body, &w); err != nil {
		return nil, err
	}
	return toNote(w, n.ContactID), nil
}

func toNote(w wireContactNote, contactID string) *sources.Note {
	n := &sources.Note{ID: string(w.ID), ContactID: contactID, Body: w.Body, CreatedAt: unixTime(w.CreatedAt)}
	if w.Author != nil {
		n.AuthorID = string(w.Author.ID)
	}
	return n
}

// NotesSince lists a contact's notes written at or after since, newest
// first (GET /contacts/{id}/notes pages newest first).
func (c *Client) NotesSince(ctx context.Context, contactID string, since time.Time) ([]*sources.Note, error) {
	var out []*sources.Note
	path := "/contacts/" + url.PathEscape(contactID) + "/notes"
	for page := 1; page <= 20; page++ {
		var w wireContactNotes
		q := url.Values{"page": {strconv.Itoa(page)}, "per_page": {"50"}}
		if err := c.do(ctx, "GET", "GET /contacts/{id}/notes", path, q, nil, &w); err != nil {
			return nil, err
		}
		older := false
		for _, n := range w.Data {
			note := toNote(n, contactID)
			if note.CreatedAt.Before(since) {
				older = true
				continue
			}
			out = append(out, note)
		}
		if older || w.Pages == nil || w.Pages.Page >= w.Pages.TotalPages || len(w.Data) == 0 {
			return out, nil
		}
	}
	return out, nil
}

// TicketTypes lists the workspace's ticket types that are not archived.
func (c *Client) TicketTypes(ctx context.Context) ([]*sources.TicketType, error) {
	var w struct {
		Data []wireTicketType `json:"data"`
	}
	if err := c.do(ctx, "GET", "GET /ticket_types", "/ticket_types", nil, nil, &w); err != nil {
		return nil, err
	}
	var out []*sources.TicketType
	for _, t := range w.Data {
		if !t.Archived {
			out = append(out, &sources.TicketType{ID: string(t.ID), Name: t.Name, Description: t.Description})
		}
	}
	return out, nil
}

// CreateTicket opens a ticket for a contact (POST /tickets).
func (c *Client) CreateTicket(ctx context.Context, t sources.NewTicket) (*sources.Ticket, error) {
	body := map[string]any{
		"ticket_type_id": t.TicketTypeID,
		"contacts":       []map[string]string{{"id": t.ContactID}},
		"ticket_attributes": map[string]any{
			"_default_title_":       t.Title,
			"_default_description_": t.Description,
		},
	}
	if t.AdminID != "" {
		body["admin_id"] = t.AdminID
	}
	var w wireCreatedTicket
	if err := c.do(ctx, "POST", "POST /tickets", "/tickets", nil, body, &w); err != nil {
		return nil, err
	}
	ws, _ := c.linkWorkspace(ctx) // failing, the ticket has no URL
	return c.toTicket(w, t.ContactID, ws), nil
}

// toTicket maps a ticket; ws is the workspace id for its URL ("" for none).
func (c *Client) toTicket(w wireCreatedTicket, contactID, ws string) *sources.Ticket {
	tk := &sources.Ticket{ID: string(w.ID), Reference: string(w.TicketID), ContactID: contactID, CreatedAt: unixTime(w.CreatedAt)}
	if s, ok := w.TicketAttributes["_default_title_"].(string); ok {
		tk.Title = s
	}
	if s, ok := w.TicketAttributes["_default_description_"].(string); ok {
		tk.Description = s
	}
	if w.TicketType != nil {
		tk.TicketTypeID = string(w.TicketType.ID)
	}
	if w.TicketState != nil {
		tk.State = w.TicketState.Category
	}
	tk.URL = c.inboxURL(ws, tk.ID)
	return tk
}

// TicketsSince lists a contact's tickets created at or after from. The
// search is widened to whole days (see onOrAfter) and the exact bound applied
// here. A zero from lists every ticket of the contact.
func (c *Client) TicketsSince(ctx context.Context, contactID string, from time.Time) ([]*sources.Ticket, error) {
	q := eq("contact_ids", contactID)
	if !from.IsZero() {
		q = and(q, onOrAfter("created_at", from))
	}
	req := searchRequest{Query: q, Pagination: &pagination{PerPage: maxPerPage}}
	var found []wireCreatedTicket
	for range 20 {
		var w struct {
			Tickets []wireCreatedTicket `json:"tickets"`
			Pages   *wirePages          `json:"pages"`
		}
		if err := c.do(ctx, "POST", "POST /tickets/search", "/tickets/search", nil, req, &w); err != nil {
			return nil, err
		}
		found = append(found, w.Tickets...)
		next := w.Pages.nextCursor()
		if next == "" {
			break
		}
		req.Pagination.StartingAfter = next
	}
	if len(found) == 0 {
		return nil, nil // no ticket, no link: GET /me is not needed
	}
	ws, _ := c.linkWorkspace(ctx) // once, not per ticket: a failing GET /me is not repeated
	var out []*sources.Ticket
	for _, t := range found {
		if tk := c.toTicket(t, contactID, ws); !tk.CreatedAt.Before(from) {
			out = append(out, tk)
		}
	}
	return out, nil
}

// wireTicketPart is a ticket_part: a reply's answer, and each of the parts
// GET /tickets/{id} lists.
type wireTicketPart struct {
	ID        flexString  `json:"id"`
	PartType  string      `json:"part_type"`
	Body      *string     `json:"body"`
	CreatedAt flexInt     `json:"created_at"`
	Author    *wireAuthor `json:"author"`
}

func toTicketNote(w wireTicketPart, ticketID string) *sources.TicketNote {
	n := &sources.TicketNote{ID: string(w.ID), TicketID: ticketID, CreatedAt: unixTime(w.CreatedAt)}
	if w.Body != nil {
		n.Body = *w.Body
	}
	if w.Author != nil {
		n.AuthorID = string(w.Author.ID)
	}
	return n
}

// AddTicketNote adds an admin's note to a ticket (POST /tickets/{id}/reply
// with message_type note: only teammates see it).
func (c *Client) AddTicketNote(ctx context.Context, n sources.NewTicketNote) (*sources.TicketNote, error) {
	var w wireTicketPart
	path := "/tickets/" + url.PathEscape(n.TicketID) + "/reply"
	body := map[string]string{"message_type": "note", "type": "admin", "admin_id": n.AdminID, "body": n.Body}
	if err := c.do(ctx, "POST", "POST /tickets/{id}/reply", path, nil, body, &w); err != nil {
		return nil, err
	}
	return toTicketNote(w, n.TicketID), nil
}

// TicketNotes lists a ticket's notes (the parts of GET /tickets/{id} of
// type note), oldest first.
func (c *Client) TicketNotes(ctx context.Context, ticketID string) ([]*sources.TicketNote, error) {
	var w struct {
		TicketParts *struct {
			TicketParts []wireTicketPart `json:"ticket_parts"`
		} `json:"ticket_parts"`
	}
	if err := c.do(ctx, "GET", endpointTicket, "/tickets/"+url.PathEscape(ticketID), nil, nil, &w); err != nil {
		return nil, err
	}
	var out []*sources.TicketNote
	if w.TicketParts != nil {
		for _, p := range w.TicketParts.TicketParts {
			if p.PartType == "note" {
				out = append(out, toTicketNote(p, ticketID))
			}
		}
	}
	return out, nil
}
