package emulator

import (
	"net/http"
	"slices"
	"time"
)

// TicketType is a kind of ticket the workspace tracks.
type TicketType struct {
	ID          string // a decimal number
	Name        string
	Description string
	Icon        string
	Category    string // "Customer", "Back-office" or "Tracker"
	// Archived types are listed by GET /ticket_types but POST /tickets
	// refuses them.
	Archived  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TicketState is one of the workspace's ticket states; each has one of the
// four categories Intercom knows.
type TicketState struct {
	ID            string
	Category      string // "submitted", "in_progress", "waiting_on_customer" or "resolved"
	InternalLabel string // what teammates see
	ExternalLabel string // what the customer sees
}

// Ticket is the emulator's model of an Intercom ticket.
type Ticket struct {
	ID           string // Intercom's id (tickets share the conversations' id space)
	TicketID     string // the number the Inbox shows ("#1042")
	TicketTypeID string
	Title        string // ticket_attributes._default_title_
	Description  string // ticket_attributes._default_description_ ("" = null)
	// StateCategory is the category of the ticket's state: "submitted",
	// "in_progress", "waiting_on_customer" or "resolved".
	StateCategory   string
	Open            bool
	ContactIDs      []string
	AdminAssigneeID string // "" = unassigned (0)
	TeamAssigneeID  string
	IsShared        bool
	// Parts are the ticket's comments and state changes, oldest first.
	Parts        []TicketPart
	CreatedAt    time.Time
	UpdatedAt    time.Time
	SnoozedUntil time.Time // zero = not snoozed
}

// TicketPart is a comment or state change of a ticket.
type TicketPart struct {
	ID            string
	PartType      string // "comment", "note", "ticket_state_updated_by_admin", ...
	Body          string // HTML; "" = null
	Author        Author
	PreviousState string // state categories, for state changes ("" = left out)
	State         string
	CreatedAt     time.Time
}

func (t *Ticket) clone() Ticket {
	d := *t
	d.ContactIDs = slices.Clone(t.ContactIDs)
	d.Parts = slices.Clone(t.Parts)
	return d
}

// The workspace's ticket states: one per category.
func seedTicketStates() []TicketState {
	return []TicketState{
		{ID: "8001", Category: "submitted", InternalLabel: "Submitted", ExternalLabel: "Submitted"},
		{ID: "8002", Category: "in_progress", InternalLabel: "In progress", ExternalLabel: "In progress"},
		{ID: "8003", Category: "waiting_on_customer", InternalLabel: "Waiting on customer", ExternalLabel: "Awaiting your reply"},
		{ID: "8004", Category: "resolved", InternalLabel: "Resolved", ExternalLabel: "Resolved"},
	}
}

// TicketStateCategories are the categories of ticket states, in workflow
// order.
var TicketStateCategories = []string{"submitted", "in_progress", "waiting_on_customer", "resolved"}

// searchCategory is the term ticket search uses for a type category (the
// description: Customer is "request", Back-office "task", Tracker "tracker").
func searchCategory(category string) string {
	switch category {
	case "Customer":
		return "request"
	case "Back-office":
		return "task"
	case "Tracker":
		return "tracker"
	}
	return ""
}

func (w *Workspace) ticketTypeLocked(id string) *TicketType {
	for _, t := range w.ticketTypes {
		if t.ID == id {
			return t
		}
	}
	return nil
}

func (w *Workspace) ticketStateLocked(category string) TicketState {
	for _, s := range w.ticketStates {
		if s.Category == category {
			return s
		}
	}
	return TicketState{Category: category}
}

// ticketFieldsLocked are the description's "Accepted Fields" of ticket
// search (ticket_attribute.{id} aside). created_at also takes <= and >=, as
// the description says; admin_assignee_id and team_assignee_id are strings
// there.
func (w *Workspace) ticketFieldsLocked() fieldTable[*Ticket] {
	m := fieldTable[*Ticket]{}
	type T = *Ticket
	m.str("id", func(t T) string { return t.ID })
	m.add(field[T]{name: "created_at", typ: typeDate, ops: []string{"=", "<", ">", "<=", ">="},
		get: func(t T) fieldValue { return dateVal(t.CreatedAt) }})
	m.date("updated_at", func(t T) time.Time { return t.UpdatedAt })
	m.str("title", func(t T) string { return t.Title })
	m.str("description", func(t T) string { return t.Description })
	m.add(field[T]{name: "category", typ: typeString, enum: []string{"request", "task", "tracker"}, get: func(t T) fieldValue {
		if tt := w.ticketTypeLocked(t.TicketTypeID); tt != nil {
			return strVal(searchCategory(tt.Category))
		}
		return nullVal
	}})
	m.str("ticket_type_id", func(t T) string { return t.TicketTypeID })
	m.set("contact_ids", func(t T) []string { return t.ContactIDs })
	m.set("teammate_ids", func(t T) []string {
		var ids []string
		for _, p := range t.Parts {
			if p.Author.Type == "admin" && !slices.Contains(ids, p.Author.ID) {
				ids = append(ids, p.Author.ID)
			}
		}
		return ids
	})
	m.str("admin_assignee_id", func(t T) string { return t.AdminAssigneeID })
	m.str("team_assignee_id", func(t T) string { return t.TeamAssigneeID })
	m.boolean("open", func(t T) bool { return t.Open })
	m.add(field[T]{name: "state", typ: typeString, enum: TicketStateCategories, get: func(t T) fieldValue { return strVal(t.StateCategory) }})
	m.date("snoozed_until", func(t T) time.Time { return t.SnoozedUntil })
	return m
}

func (w *Workspace) ticketSearcherLocked() *searcher[*Ticket] {
	return &searcher[*Ticket]{
		object: "ticket",
		field:  w.ticketFieldsLocked().lookup("ticket"),
		tz:     w.opts.Timezone,
		order:  func(t *Ticket) sortKey { return createdKey(t.CreatedAt, t.ID) },
	}
}

// ---- test helpers ----

// Tickets returns copies of the tickets of contactID (all of them for ""),
// oldest first (created_at, then id).
func (w *Workspace) Tickets(contactID string) []Ticket {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return forContact(w.tickets.list, func(t *Ticket) []string { return t.ContactIDs }, contactID, (*Ticket).clone)
}

// Ticket returns a copy of the ticket with id.
func (w *Workspace) Ticket(id string) (Ticket, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	t, ok := w.tickets.byID[id]
	if !ok {
		return Ticket{}, false
	}
	return t.clone(), true
}

// TicketTypes returns the workspace's ticket types.
func (w *Workspace) TicketTypes() []TicketType {
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := make([]TicketType, len(w.ticketTypes))
	for i, t := range w.ticketTypes {
		out[i] = *t
	}
	return out
}

// AddTicket stores t and returns the stored copy. It assigns an id and a
// ticket number when they are empty (a ticket with an existing id is
// replaced), defaults TicketTypeID to the first type, StateCategory to
// "submitted", Open to whether the state is not resolved, CreatedAt to
// Now() and UpdatedAt to CreatedAt.
func (w *Workspace) AddTicket(t Ticket) Ticket {
	t = t.clone()
	now := w.now()
	if t.StateCategory == "" {
		t.StateCategory, t.Open = "submitted", true
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now
	}
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = t.CreatedAt
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if t.TicketTypeID == "" && len(w.ticketTypes) > 0 {
		t.TicketTypeID = w.ticketTypes[0].ID
	}
	if t.ID == "" {
		t.ID = next(&w.seq.conversation)
	}
	if t.TicketID == "" {
		t.TicketID = next(&w.seq.ticketNumber)
	}
	for i := range t.Parts {
		if t.Parts[i].ID == "" {
			t.Parts[i].ID = next(&w.seq.part)
		}
	}
	w.tickets.put(&t)
	return t.clone()
}

// ---- JSON bodies ----

type ticketStateBody struct {
	Type          string `json:"type"`
	ID            string `json:"id"`
	Category      string `json:"category"`
	InternalLabel string `json:"internal_label"`
	ExternalLabel string `json:"external_label"`
}

func newTicketStateBody(s TicketState) ticketStateBody {
	return ticketStateBody{Type: "ticket_state", ID: s.ID, Category: s.Category, InternalLabel: s.InternalLabel, ExternalLabel: s.ExternalLabel}
}

type ticketTypeAttributeBody struct {
	Type                        string `json:"type"`
	ID                          string `json:"id"`
	WorkspaceID                 string `json:"workspace_id"`
	Name                        string `json:"name"`
	Description                 string `json:"description"`
	DataType                    string `json:"data_type"`
	Order                       int    `json:"order"`
	RequiredToCreate            bool   `json:"required_to_create"`
	RequiredToCreateForContacts bool   `json:"required_to_create_for_contacts"`
	VisibleOnCreate             bool   `json:"visible_on_create"`
	VisibleToContacts           bool   `json:"visible_to_contacts"`
	Default                     bool   `json:"default"`
	TicketTypeID                int64  `json:"ticket_type_id"`
	Archived                    bool   `json:"archived"`
	CreatedAt                   int64  `json:"created_at"`
	UpdatedAt                   int64  `json:"updated_at"`
}

// ticketTypeAttributesBody is ticket_type_attribute_list. The schema names
// the array "ticket_type_attributes", the description's examples "data":
// both are sent.
type ticketTypeAttributesBody struct {
	Type                 string                    `json:"type"`
	TicketTypeAttributes []ticketTypeAttributeBody `json:"ticket_type_attributes"`
	Data                 []ticketTypeAttributeBody `json:"data"`
}

type ticketStatesBody struct {
	Type string            `json:"type"`
	Data []ticketStateBody `json:"data"`
}

type ticketTypeBody struct {
	Type                 string                   `json:"type"`
	ID                   string                   `json:"id"`
	Category             string                   `json:"category"`
	Name                 string                   `json:"name"`
	Description          string                   `json:"description"`
	Icon                 string                   `json:"icon"`
	WorkspaceID          string                   `json:"workspace_id"`
	TicketTypeAttributes ticketTypeAttributesBody `json:"ticket_type_attributes"`
	TicketStates         ticketStatesBody         `json:"ticket_states"`
	Archived             bool                     `json:"archived"`
	IsInternal           bool                     `json:"is_internal"`
	CreatedAt            int64                    `json:"created_at"`
	UpdatedAt            int64                    `json:"updated_at"`
}

func (w *Workspace) ticketTypeBodyLocked(t *TicketType) ticketTypeBody {
	attr := func(i int, name, desc string) ticketTypeAttributeBody {
		return ticketTypeAttributeBody{Type: "ticket_type_attribute", ID: t.ID + "0" + string(rune('1'+i)), WorkspaceID: w.opts.WorkspaceID,
			Name: name, Description: desc, DataType: "string", Order: i, RequiredToCreate: i == 0, VisibleOnCreate: true,
			VisibleToContacts: true, Default: true, TicketTypeID: idNum(t.ID), CreatedAt: t.CreatedAt.Unix(), UpdatedAt: t.UpdatedAt.Unix()}
	}
	attrs := []ticketTypeAttributeBody{attr(0, "_default_title_", "Title"), attr(1, "_default_description_", "Description")}
	b := ticketTypeBody{
		Type:                 "ticket_type",
		ID:                   t.ID,
		Category:             t.Category,
		Name:                 t.Name,
		Description:          t.Description,
		Icon:                 t.Icon,
		WorkspaceID:          w.opts.WorkspaceID,
		TicketTypeAttributes: ticketTypeAttributesBody{Type: "list", TicketTypeAttributes: attrs, Data: attrs},
		TicketStates:         ticketStatesBody{Type: "list", Data: []ticketStateBody{}},
		Archived:             t.Archived,
		IsInternal:           t.Category != "Customer",
		CreatedAt:            t.CreatedAt.Unix(),
		UpdatedAt:            t.UpdatedAt.Unix(),
	}
	for _, s := range w.ticketStates {
		b.TicketStates.Data = append(b.TicketStates.Data, newTicketStateBody(s))
	}
	return b
}

type ticketPartAuthorBody struct {
	Type  string  `json:"type"`
	ID    string  `json:"id"`
	Name  *string `json:"name"`
	Email *string `json:"email,omitempty"`
}

type ticketPartBody struct {
	Type          string               `json:"type"`
	ID            string               `json:"id"`
	PartType      string               `json:"part_type"`
	Body          *string              `json:"body"`
	PreviousState string               `json:"previous_ticket_state,omitempty"`
	State         string               `json:"ticket_state,omitempty"`
	CreatedAt     int64                `json:"created_at"`
	UpdatedAt     int64                `json:"updated_at"`
	Author        ticketPartAuthorBody `json:"author"`
	Attachments   []any                `json:"attachments"`
	ExternalID    *string              `json:"external_id"`
	Redacted      bool                 `json:"redacted"`
}

type ticketPartsBody struct {
	Type        string           `json:"type"`
	TicketParts []ticketPartBody `json:"ticket_parts"`
	TotalCount  int              `json:"total_count"`
}

// ticketBody is the description's ticket. Integer assignee ids, as the
// description types them (NOTES.md: the live API sends strings here).
type ticketBody struct {
	Type                  string             `json:"type"`
	ID                    string             `json:"id"`
	TicketID              string             `json:"ticket_id"`
	Category              string             `json:"category"`
	TicketAttributes      map[string]any     `json:"ticket_attributes"`
	TicketState           ticketStateBody    `json:"ticket_state"`
	TicketType            *ticketTypeBody    `json:"ticket_type"`
	Contacts              contactRefListBody `json:"contacts"`
	AdminAssigneeID       int64              `json:"admin_assignee_id"`
	TeamAssigneeID        int64              `json:"team_assignee_id"`
	CreatedAt             int64              `json:"created_at"`
	UpdatedAt             int64              `json:"updated_at"`
	Open                  bool               `json:"open"`
	SnoozedUntil          *int64             `json:"snoozed_until,omitempty"`
	LinkedObjects         linkedObjectsBody  `json:"linked_objects"`
	TicketParts           ticketPartsBody    `json:"ticket_parts"`
	IsShared              bool               `json:"is_shared"`
	PreviousTicketStateID *string            `json:"previous_ticket_state_id"`
}

func (w *Workspace) ticketBodyLocked(t *Ticket) ticketBody {
	b := ticketBody{
		Type:     "ticket",
		ID:       t.ID,
		TicketID: t.TicketID,
		TicketAttributes: map[string]any{
			"_default_title_":       t.Title,
			"_default_description_": strPtr(t.Description),
		},
		TicketState:     newTicketStateBody(w.ticketStateLocked(t.StateCategory)),
		Contacts:        w.contactRefsLocked(t.ContactIDs),
		AdminAssigneeID: idNum(t.AdminAssigneeID),
		TeamAssigneeID:  idNum(t.TeamAssigneeID),
		CreatedAt:       t.CreatedAt.Unix(),
		UpdatedAt:       t.UpdatedAt.Unix(),
		Open:            t.Open,
		SnoozedUntil:    timePtr(t.SnoozedUntil),
		LinkedObjects:   noLinkedObjects(),
		TicketParts:     ticketPartsBody{Type: "ticket_part.list", TicketParts: []ticketPartBody{}, TotalCount: len(t.Parts)},
		IsShared:        t.IsShared,
	}
	if tt := w.ticketTypeLocked(t.TicketTypeID); tt != nil {
		b.Category = tt.Category
		ttb := w.ticketTypeBodyLocked(tt)
		b.TicketType = &ttb
	}
	for _, p := range t.Parts {
		b.TicketParts.TicketParts = append(b.TicketParts.TicketParts, ticketPartBodyOf(p))
		if p.PreviousState != "" && p.PreviousState != p.State {
			id := w.ticketStateLocked(p.PreviousState).ID
			b.PreviousTicketStateID = strPtr(id)
		}
	}
	return b
}

// ticketListBody is ticket_list: the items are under "tickets".
type ticketListBody struct {
	Type       string       `json:"type"`
	Tickets    []ticketBody `json:"tickets"`
	TotalCount int          `json:"total_count"`
	Pages      cursorPages  `json:"pages"`
}

type ticketTypeListBody struct {
	Type string           `json:"type"`
	Data []ticketTypeBody `json:"data"`
}

// ---- handlers ----

func (w *Workspace) handleSearchTickets(r *http.Request, _ map[string]string) (any, *apiError) {
	req, apiErr := readSearchRequest(r, interactionsDefaultPerPage)
	if apiErr != nil {
		return nil, apiErr
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	items, pages, total, apiErr := w.ticketSearcherLocked().search(req, w.tickets.list)
	if apiErr != nil {
		return nil, apiErr
	}
	body := ticketListBody{Type: "ticket.list", Tickets: make([]ticketBody, 0, len(items)), TotalCount: total, Pages: pages}
	for _, t := range items {
		body.Tickets = append(body.Tickets, w.ticketBodyLocked(t))
	}
	return body, nil
}

// handleGetTicket answers an unknown id with 404 not_found, which the
// description does not list for this operation.
func (w *Workspace) handleGetTicket(r *http.Request, p map[string]string) (any, *apiError) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	t, ok := w.tickets.byID[p["id"]]
	if !ok {
		return nil, errorf(http.StatusNotFound, CodeNotFound, "Ticket not found")
	}
	return w.ticketBodyLocked(t), nil
}

func (w *Workspace) handleTicketTypes(r *http.Request, _ map[string]string) (any, *apiError) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	body := ticketTypeListBody{Type: "list", Data: []ticketTypeBody{}}
	for _, t := range w.ticketTypes {
		body.Data = append(body.Data, w.ticketTypeBodyLocked(t))
	}
	return body, nil
}

// ticketPartBodyOf is a ticket part as Intercom writes it.
func ticketPartBodyOf(p TicketPart) ticketPartBody {
	authorType := p.Author.Type
	if authorType == "lead" || authorType == "contact" {
		authorType = "user" // ticket_part_author knows admin, bot, team and user
	}
	return ticketPartBody{
		Type:          "ticket_part",
		ID:            p.ID,
		PartType:      p.PartType,
		Body:          strPtr(p.Body),
		PreviousState: p.PreviousState,
		State:         p.State,
		CreatedAt:     p.CreatedAt.Unix(),
		UpdatedAt:     p.CreatedAt.Unix(),
		Author:        ticketPartAuthorBody{Type: authorType, ID: p.Author.ID, Name: strPtr(p.Author.Name), Email: strPtr(p.Author.Email)},
		Attachments:   []any{},
		Redacted:      false,
	}
}
