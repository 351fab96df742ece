package emulator

import (
	"net/http"
	"strconv"
	"strings"
)

// AddTicketType stores t and returns the stored copy: a type with an existing
// id is replaced, an empty id gets the next number, an empty Category is
// "Customer", zero times are Now().
func (w *Workspace) AddTicketType(t TicketType) TicketType {
	now := w.now()
	if t.Category == "" {
		t.Category = "Customer"
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now
	}
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = t.CreatedAt
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if t.ID == "" {
		var last int64 = 100
		for _, tt := range w.ticketTypes {
			if n, err := strconv.ParseInt(tt.ID, 10, 64); err == nil && n > last {
				last = n
			}
		}
		t.ID = strconv.FormatInt(last+1, 10)
	}
	for i, tt := range w.ticketTypes {
		if tt.ID == t.ID {
			w.ticketTypes[i] = &t
			return t
		}
	}
	w.ticketTypes = append(w.ticketTypes, &t)
	return t
}

// ticketContact is one entry of create_ticket_request's contacts.
type ticketContact struct{ id, externalID, email string }

func parseTicketContacts(obj map[string]any) (ticketContact, *apiError) {
	raw, ok := obj["contacts"]
	if !ok || raw == nil {
		return ticketContact{}, paramMissing("contacts", "contacts is required")
	}
	list, ok := raw.([]any)
	if !ok {
		return ticketContact{}, paramInvalid("contacts", "contacts must be a list of {id}, {external_id} or {email} objects, got %s", describe(raw))
	}
	if len(list) == 0 {
		return ticketContact{}, paramMissing("contacts", "contacts is required")
	}
	if len(list) > 1 {
		return ticketContact{}, paramInvalid("contacts", "Currently only one contact is allowed")
	}
	item, ok := list[0].(map[string]any)
	if !ok {
		return ticketContact{}, paramInvalid("contacts", "contacts must be a list of {id}, {external_id} or {email} objects, got %s", describe(list[0]))
	}
	var tc ticketContact
	for _, f := range []struct {
		name string
		dst  *string
	}{{"id", &tc.id}, {"external_id", &tc.externalID}, {"email", &tc.email}} {
		p, e := idParam(item, f.name)
		if f.name == "email" {
			p, e = stringParam(item, f.name)
		}
		if e != nil {
			e.Field = "contacts." + f.name
			return tc, e
		}
		*f.dst = strings.TrimSpace(p.v)
	}
	if tc.id == "" && tc.externalID == "" && tc.email == "" {
		return tc, paramInvalid("contacts", "contacts must be a list of {id}, {external_id} or {email} objects, got %s", describe(item))
	}
	return tc, nil
}

// ticketContactLocked finds (or, for an unknown email, creates as a lead, as
// the description says) the ticket's contact; w.mu must be held.
func (w *Workspace) ticketContactLocked(tc ticketContact) (*Contact, *apiError) {
	switch {
	case tc.id != "":
		if c := w.contacts[tc.id]; c != nil {
			return c, nil
		}
	case tc.externalID != "":
		for _, c := range w.order {
			if c.ExternalID == tc.externalID && c.Role == "user" {
				return c, nil
			}
		}
	default:
		for _, c := range w.order {
			if strings.EqualFold(c.Email, tc.email) {
				return c, nil
			}
		}
		if !validEmail(tc.email) {
			return nil, paramInvalid("contacts.email", "The email address %q is not valid", tc.email)
		}
		now := w.now()
		c := &Contact{ID: w.newObjectIDLocked(), Role: "lead", Email: tc.email, CreatedAt: now, UpdatedAt: now}
		w.insertLocked(c)
		return c, nil
	}
	return nil, errorf(http.StatusNotFound, CodeNotFound, msgUserNotFound)
}

// handleCreateTicket opens a ticket (POST /tickets) in the submitted state.
//
//   - ticket_type_id and contacts are required (400 parameter_not_found);
//     the type must exist and not be archived (400 parameter_invalid, the
//     code the description gives a ticket type it refuses);
//   - contacts holds exactly one {id}, {external_id} or {email} (400
//     parameter_invalid otherwise); an unknown id or external_id is 404
//     not_found "User Not Found", as POST /conversations documents; an
//     unknown email creates a lead, as the description says;
//   - ticket_attributes: _default_title_ is required by every type (400
//     parameter_invalid "Missing required ticket attributes", the
//     description's message) and, like _default_description_, a string;
//     other attributes do not exist on the emulator's types (400);
//   - created_at (default Now()), assignment.admin_assignee_id and
//     team_assignee_id are honoured; company_id, conversation_to_link_id,
//     skip_notifications and admin_id (which the description does not
//     list) are accepted and ignored.
func (w *Workspace) handleCreateTicket(r *http.Request, _ map[string]string) (any, *apiError) {
	obj, apiErr := readObject(r)
	if apiErr != nil {
		return nil, apiErr
	}
	typeID, apiErr := requiredID(obj, "ticket_type_id", "ticket_type_id is required")
	if apiErr != nil {
		return nil, apiErr
	}
	who, apiErr := parseTicketContacts(obj)
	if apiErr != nil {
		return nil, apiErr
	}
	attrs, _, apiErr := objectParam(obj, "ticket_attributes")
	if apiErr != nil {
		return nil, apiErr
	}
	var title, description string
	for name, v := range attrs {
		s, isString := v.(string)
		switch {
		case name != "_default_title_" && name != "_default_description_":
			return nil, paramInvalid("ticket_attributes", "Ticket attribute '%s' does not exist on this ticket type", name)
		case v != nil && !isString:
			return nil, paramInvalid("ticket_attributes", "Ticket attribute '%s' must be a string, got %s", name, describe(v))
		case name == "_default_title_":
			title = strings.TrimSpace(s)
		default:
			description = s
		}
	}
	created, apiErr := timeParam(obj, "created_at")
	if apiErr != nil {
		return nil, apiErr
	}
	assignment, _, apiErr := objectParam(obj, "assignment")
	if apiErr != nil {
		return nil, apiErr
	}
	adminAssignee, apiErr := idParam(assignment, "admin_assignee_id")
	if apiErr != nil {
		return nil, apiErr
	}
	teamAssignee, apiErr := idParam(assignment, "team_assignee_id")
	if apiErr != nil {
		return nil, apiErr
	}

	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	tt := w.ticketTypeLocked(typeID)
	switch {
	case tt == nil:
		return nil, paramInvalid("ticket_type_id", "Ticket type %s not found", typeID)
	case tt.Archived:
		return nil, paramInvalid("ticket_type_id", "Ticket type %s is archived", typeID)
	case title == "":
		return nil, paramInvalid("ticket_attributes", "Missing required ticket attributes")
	}
	c, apiErr := w.ticketContactLocked(who)
	if apiErr != nil {
		return nil, apiErr
	}
	t := &Ticket{
		ID:              next(&w.seq.conversation),
		TicketID:        next(&w.seq.ticketNumber),
		TicketTypeID:    tt.ID,
		Title:           title,
		Description:     description,
		StateCategory:   "submitted",
		Open:            true,
		ContactIDs:      []string{c.ID},
		AdminAssigneeID: adminAssignee.v,
		TeamAssigneeID:  teamAssignee.v,
		CreatedAt:       now,
		UpdatedAt:       now,
	}
	if created.given() {
		t.CreatedAt = created.v
	}
	w.tickets.put(t)
	return w.ticketBodyLocked(t), nil
}

// handleReplyTicket adds an admin's reply to a ticket (POST
// /tickets/{id}/reply), as Intercom's "Reply to a ticket" describes
// (https://developers.intercom.com/docs/references/rest-api/api.intercom.io/tickets/replyticket):
//
//   - message_type is "comment" or "note" (a quick_reply, and a reply on a
//     contact's behalf, type "user", are not emulated: 400
//     parameter_invalid);
//   - type "admin" and admin_id, an admin of the workspace, are required
//     (400 parameter_not_found; an unknown admin is 404 not_found
//     "Resource Not Found", as for notes);
//   - body is required and kept as notes keep it (plain text in a
//     paragraph); created_at (default Now()) is honoured;
//   - an unknown ticket is 404 not_found "Ticket not found", as GET
//     /tickets/{id} answers.
//
// The reply is the ticket's newest part (GET /tickets/{id} lists it) and
// the answer is that ticket_part; the ticket's updated_at follows.
func (w *Workspace) handleReplyTicket(r *http.Request, p map[string]string) (any, *apiError) {
	obj, apiErr := readObject(r)
	if apiErr != nil {
		return nil, apiErr
	}
	params := map[string]param[string]{}
	for _, name := range []string{"message_type", "type", "body"} {
		v, apiErr := stringParam(obj, name)
		if apiErr != nil {
			return nil, apiErr
		}
		if !v.given() || strings.TrimSpace(v.v) == "" {
			return nil, paramMissing(name, "%s is required", name)
		}
		params[name] = v
	}
	kind := params["message_type"].v
	if kind != "comment" && kind != "note" {
		return nil, paramInvalid("message_type", "message_type must be comment or note, got %q", kind)
	}
	if params["type"].v != "admin" {
		return nil, paramInvalid("type", "type must be admin, got %q", params["type"].v)
	}
	adminID, apiErr := requiredID(obj, "admin_id", "admin_id is required")
	if apiErr != nil {
		return nil, apiErr
	}
	created, apiErr := timeParam(obj, "created_at")
	if apiErr != nil {
		return nil, apiErr
	}
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.tickets.byID[p["id"]]
	if !ok {
		return nil, errorf(http.StatusNotFound, CodeNotFound, "Ticket not found")
	}
	a, ok := w.adminLocked(adminID)
	if !ok {
		return nil, errorf(http.StatusNotFound, CodeNotFound, msgResourceNotFound)
	}
	part := TicketPart{ID: next(&w.seq.part), PartType: kind, Body: noteHTML(params["body"].v), Author: w.authorOfAdminLocked(a.ID), CreatedAt: now}
	if created.given() {
		part.CreatedAt = created.v
	}
	t.Parts = append(t.Parts, part)
	t.UpdatedAt = now
	return ticketPartBodyOf(part), nil
}
