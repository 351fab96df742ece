package emulator

import (
	"cmp"
	"net/http"
	"slices"
	"time"
)

// Conversation is the emulator's model of an Intercom conversation: a
// chat, email, phone call or outbound message thread with one or more
// contacts.
type Conversation struct {
	ID         string
	ContactIDs []string
	Title      string // "" = null
	// SourceType is how it started: "conversation" (messenger chat),
	// "email", "phone_call", "phone_switch", "sms", ...
	SourceType string
	// DeliveredAs is "customer_initiated", "admin_initiated", "automated"
	// or "operator_initiated".
	DeliveredAs string
	Subject     string // the first message's subject (emails); "" for chats
	Body        string // the first message, HTML
	Author      Author // of the first message
	State       string // "open", "closed" or "snoozed"
	Read        bool
	// Priority is one of the 2.16 values: "none", "low", "medium", "high",
	// "urgent".
	Priority        string
	AdminAssigneeID string // "" = unassigned (0)
	TeamAssigneeID  string // "" = unassigned (0)
	TagIDs          []string
	// Parts are the replies, notes and state changes after the first
	// message, oldest first.
	Parts        []ConversationPart
	CreatedAt    time.Time
	UpdatedAt    time.Time
	WaitingSince time.Time // zero = null: the last reply is an admin's
	SnoozedUntil time.Time // zero = null
}

// ConversationPart is one part of a conversation after its first message.
type ConversationPart struct {
	ID string
	// PartType is "comment", "note", "assignment", "open", "close" or
	// "snoozed".
	PartType   string
	Body       string // HTML; "" = null
	Author     Author
	AssignedTo string // admin id, for assignment parts
	CreatedAt  time.Time
}

func (c *Conversation) clone() Conversation {
	d := *c
	d.ContactIDs = slices.Clone(c.ContactIDs)
	d.TagIDs = slices.Clone(c.TagIDs)
	d.Parts = slices.Clone(c.Parts)
	return d
}

// statistics derived from the parts, as Intercom reports them.
type conversationStats struct {
	firstContactReply, firstAdminReply, lastAdminReply, lastContactReply time.Time
	firstClose, lastClose                                                time.Time
	lastClosedBy                                                         string
	reopens, assignments, parts                                          int
}

func isContactType(t string) bool { return t == "user" || t == "lead" || t == "contact" }

func (c *Conversation) stats() conversationStats {
	var s conversationStats
	s.parts = len(c.Parts) + 1
	if isContactType(c.Author.Type) {
		s.firstContactReply, s.lastContactReply = c.CreatedAt, c.CreatedAt
	}
	for _, p := range c.Parts {
		switch p.PartType {
		case "comment":
			if isContactType(p.Author.Type) {
				if s.firstContactReply.IsZero() {
					s.firstContactReply = p.CreatedAt
				}
				s.lastContactReply = p.CreatedAt
			} else if p.Author.Type == "admin" {
				if s.firstAdminReply.IsZero() {
					s.firstAdminReply = p.CreatedAt
				}
				s.lastAdminReply = p.CreatedAt
			}
		case "close":
			if s.firstClose.IsZero() {
				s.firstClose = p.CreatedAt
			}
			s.lastClose, s.lastClosedBy = p.CreatedAt, p.Author.ID
		case "open":
			s.reopens++
		case "assignment":
			s.assignments++
		}
	}
	return s
}

// teammateIDs are the admins who took part.
func (c *Conversation) teammateIDs() []string {
	var ids []string
	add := func(a Author) {
		if a.Type == "admin" && !slices.Contains(ids, a.ID) {
			ids = append(ids, a.ID)
		}
	}
	add(c.Author)
	for _, p := range c.Parts {
		add(p.Author)
	}
	return ids
}

// channel is the description's channel_initiated of a source type.
func channel(sourceType string) string {
	switch sourceType {
	case "conversation":
		return "messenger"
	case "phone_call", "phone_switch":
		return "phone"
	}
	return sourceType
}

// conversationFields are the description's "Accepted Fields" of
// conversation search. Fields the emulator keeps no data for (ratings, AI
// agent, most statistics) are searchable and null.
var conversationFields = func() fieldTable[*Conversation] {
	m := fieldTable[*Conversation]{}
	type C = *Conversation
	m.str("id", func(c C) string { return c.ID })
	m.date("created_at", func(c C) time.Time { return c.CreatedAt })
	m.date("updated_at", func(c C) time.Time { return c.UpdatedAt })
	m.str("source.type", func(c C) string { return c.SourceType })
	m.str("source.id", func(c C) string { return c.ID })
	m.str("source.delivered_as", func(c C) string { return c.DeliveredAs })
	m.str("source.subject", func(c C) string { return c.Subject })
	m.add(field[C]{name: "source.body", typ: typeString, words: true, get: func(c C) fieldValue { return strVal(plainText(c.Body)) }})
	m.str("source.author.id", func(c C) string { return c.Author.ID })
	m.str("source.author.type", func(c C) string { return c.Author.Type })
	m.str("source.author.name", func(c C) string { return c.Author.Name })
	m.add(field[C]{name: "source.author.email", typ: typeString, fold: true, get: func(c C) fieldValue { return strVal(c.Author.Email) }})
	m.add(field[C]{name: "source.url", typ: typeString, get: alwaysNull[C]})
	m.set("contact_ids", func(c C) []string { return c.ContactIDs })
	m.set("teammate_ids", func(c C) []string { return c.teammateIDs() })
	m.number("admin_assignee_id", func(c C) fieldValue { return idNumVal(c.AdminAssigneeID) })
	m.number("team_assignee_id", func(c C) fieldValue { return idNumVal(c.TeamAssigneeID) })
	m.str("channel_initiated", func(c C) string { return channel(c.SourceType) })
	m.boolean("open", func(c C) bool { return c.State != "closed" })
	m.boolean("read", func(c C) bool { return c.Read })
	m.add(field[C]{name: "state", typ: typeString, enum: []string{"open", "closed", "snoozed"}, get: func(c C) fieldValue { return strVal(c.State) }})
	m.date("waiting_since", func(c C) time.Time { return c.WaitingSince })
	m.date("snoozed_until", func(c C) time.Time { return c.SnoozedUntil })
	m.set("tag_ids", func(c C) []string { return c.TagIDs })
	m.add(field[C]{name: "priority", typ: typeString, enum: []string{"none", "low", "medium", "high", "urgent"},
		get: func(c C) fieldValue { return strVal(c.Priority) }})
	m.date("statistics.first_contact_reply_at", func(c C) time.Time { return c.stats().firstContactReply })
	m.date("statistics.first_admin_reply_at", func(c C) time.Time { return c.stats().firstAdminReply })
	m.date("statistics.last_admin_reply_at", func(c C) time.Time { return c.stats().lastAdminReply })
	m.date("statistics.last_contact_reply_at", func(c C) time.Time { return c.stats().lastContactReply })
	m.date("statistics.first_close_at", func(c C) time.Time { return c.stats().firstClose })
	m.date("statistics.last_close_at", func(c C) time.Time { return c.stats().lastClose })
	m.str("statistics.last_closed_by_id", func(c C) string { return c.stats().lastClosedBy })
	m.number("statistics.count_reopens", func(c C) fieldValue { return numVal(int64(c.stats().reopens)) })
	m.number("statistics.count_assignments", func(c C) fieldValue { return numVal(int64(c.stats().assignments)) })
	m.number("statistics.count_conversation_parts", func(c C) fieldValue { return numVal(int64(c.stats().parts)) })
	for _, n := range []string{"statistics.first_assignment_at", "statistics.last_assignment_at", "statistics.last_assignment_admin_reply_at",
		"conversation_rating.requested_at", "conversation_rating.replied_at"} {
		m.add(field[C]{name: n, typ: typeDate, get: alwaysNull[C]})
	}
	for _, n := range []string{"statistics.time_to_assignment", "statistics.time_to_admin_reply", "statistics.time_to_first_close",
		"statistics.time_to_last_close", "statistics.median_time_to_reply", "conversation_rating.score", "ai_agent.rating"} {
		m.add(field[C]{name: n, typ: typeNumber, get: alwaysNull[C]})
	}
	for _, n := range []string{"conversation_rating.remark", "conversation_rating.contact_id", "conversation_rating.admin_d",
		"ai_agent.resolution_state", "ai_agent.last_answer_type", "ai_agent.rating_remark", "ai_agent.source_type", "ai_agent.source_title"} {
		m.add(field[C]{name: n, typ: typeString, get: alwaysNull[C]})
	}
	m.boolean("ai_agent_participated", func(c C) bool { return c.Author.Type == "bot" })
	return m
}()

func (w *Workspace) conversationSearcherLocked() *searcher[*Conversation] {
	return &searcher[*Conversation]{
		object: "conversation",
		field:  conversationFields.lookup("conversation"),
		tz:     w.opts.Timezone,
		order:  func(c *Conversation) sortKey { return createdKey(c.CreatedAt, c.ID) },
	}
}

// ---- test helpers ----

// Conversations returns copies of the conversations of contactID (all of
// them for ""), oldest first (created_at, then id).
func (w *Workspace) Conversations(contactID string) []Conversation {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return forContact(w.conversations.list, func(c *Conversation) []string { return c.ContactIDs }, contactID, (*Conversation).clone)
}

// Conversation returns a copy of the conversation with id.
func (w *Workspace) Conversation(id string) (Conversation, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	c, ok := w.conversations.byID[id]
	if !ok {
		return Conversation{}, false
	}
	return c.clone(), true
}

// AddConversation stores c and returns the stored copy. It assigns an id
// when c.ID is empty (a conversation with an existing id is replaced),
// defaults State to "open", Priority to "none", SourceType to
// "conversation", DeliveredAs to "customer_initiated", CreatedAt to Now()
// and UpdatedAt to CreatedAt. Contacts' updated_at is not touched.
func (w *Workspace) AddConversation(c Conversation) Conversation {
	c = c.clone()
	now := w.now()
	c.State = cmp.Or(c.State, "open")
	c.Priority = cmp.Or(c.Priority, "none")
	c.SourceType = cmp.Or(c.SourceType, "conversation")
	c.DeliveredAs = cmp.Or(c.DeliveredAs, "customer_initiated")
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if c.ID == "" {
		c.ID = next(&w.seq.conversation)
	}
	for i := range c.Parts {
		if c.Parts[i].ID == "" {
			c.Parts[i].ID = next(&w.seq.part)
		}
	}
	w.conversations.put(&c)
	return c.clone()
}

// ---- JSON bodies ----

type sourceAuthorBody struct {
	Type  string  `json:"type"`
	ID    *string `json:"id"`
	Name  *string `json:"name"`
	Email *string `json:"email"`
}

type sourceBody struct {
	Type        string           `json:"type"`
	ID          string           `json:"id"`
	DeliveredAs string           `json:"delivered_as"`
	Subject     string           `json:"subject"`
	Body        string           `json:"body"`
	Author      sourceAuthorBody `json:"author"`
	Attachments []any            `json:"attachments"`
	URL         *string          `json:"url"`
	Redacted    bool             `json:"redacted"`
}

type referenceBody struct {
	Type string  `json:"type"`
	ID   *string `json:"id"`
}

type teammatesBody struct {
	Type      string          `json:"type"`
	Teammates []referenceBody `json:"teammates"`
}

type firstContactReplyBody struct {
	CreatedAt int64   `json:"created_at"`
	Type      string  `json:"type"`
	URL       *string `json:"url"`
}

// statisticsBody is conversation_statistics: its fields are not nullable,
// so unknown ones are left out.
type statisticsBody struct {
	Type                   string  `json:"type"`
	FirstContactReplyAt    *int64  `json:"first_contact_reply_at,omitempty"`
	FirstAdminReplyAt      *int64  `json:"first_admin_reply_at,omitempty"`
	FirstCloseAt           *int64  `json:"first_close_at,omitempty"`
	LastContactReplyAt     *int64  `json:"last_contact_reply_at,omitempty"`
	LastAdminReplyAt       *int64  `json:"last_admin_reply_at,omitempty"`
	LastCloseAt            *int64  `json:"last_close_at,omitempty"`
	LastClosedByID         *string `json:"last_closed_by_id,omitempty"`
	CountReopens           int     `json:"count_reopens"`
	CountAssignments       int     `json:"count_assignments"`
	CountConversationParts int     `json:"count_conversation_parts"`
}

type partAuthorBody struct {
	Type        string  `json:"type"`
	ID          string  `json:"id"`
	Name        *string `json:"name"`
	Email       *string `json:"email,omitempty"`
	FromAIAgent bool    `json:"from_ai_agent"`
	IsAIAnswer  bool    `json:"is_ai_answer"`
}

type conversationPartBody struct {
	Type        string         `json:"type"`
	ID          string         `json:"id"`
	PartType    string         `json:"part_type"`
	Body        *string        `json:"body"`
	CreatedAt   int64          `json:"created_at"`
	UpdatedAt   int64          `json:"updated_at"`
	NotifiedAt  int64          `json:"notified_at"`
	AssignedTo  *referenceBody `json:"assigned_to,omitempty"`
	Author      partAuthorBody `json:"author"`
	Attachments []any          `json:"attachments"`
	ExternalID  *string        `json:"external_id"`
	Redacted    bool           `json:"redacted"`
	State       string         `json:"state"`
	Tags        []tagBody      `json:"tags"`
}

type conversationPartsBody struct {
	Type              string                 `json:"type"`
	ConversationParts []conversationPartBody `json:"conversation_parts"`
	TotalCount        int                    `json:"total_count"`
}

// conversationBody is conversation (with parts) and conversation_list_item
// (without). Nullable objects the emulator has no data for are null.
type conversationBody struct {
	Type                string                 `json:"type"`
	ID                  string                 `json:"id"`
	Title               *string                `json:"title"`
	CreatedAt           int64                  `json:"created_at"`
	UpdatedAt           int64                  `json:"updated_at"`
	WaitingSince        *int64                 `json:"waiting_since"`
	SnoozedUntil        *int64                 `json:"snoozed_until"`
	Open                bool                   `json:"open"`
	State               string                 `json:"state"`
	Read                bool                   `json:"read"`
	Priority            string                 `json:"priority"`
	AdminAssigneeID     int64                  `json:"admin_assignee_id"`
	TeamAssigneeID      int64                  `json:"team_assignee_id"`
	Tags                tagListBody            `json:"tags"`
	ConversationRating  *struct{}              `json:"conversation_rating"`
	Source              sourceBody             `json:"source"`
	Contacts            contactRefListBody     `json:"contacts"`
	Teammates           teammatesBody          `json:"teammates"`
	CustomAttributes    map[string]string      `json:"custom_attributes"`
	FirstContactReply   *firstContactReplyBody `json:"first_contact_reply"`
	SLAApplied          *struct{}              `json:"sla_applied"`
	Statistics          statisticsBody         `json:"statistics"`
	ConversationParts   *conversationPartsBody `json:"conversation_parts,omitempty"`
	LinkedObjects       linkedObjectsBody      `json:"linked_objects"`
	AIAgentParticipated bool                   `json:"ai_agent_participated"`
}

// conversationBodyLocked renders c; withParts for GET /conversations/{id};
// plain renders bodies as text (display_as=plaintext). w.mu must be held.
func (w *Workspace) conversationBodyLocked(c *Conversation, withParts, plain bool) conversationBody {
	text := func(s string) string {
		if plain {
			return plainText(s)
		}
		return s
	}
	st := c.stats()
	b := conversationBody{
		Type:            "conversation",
		ID:              c.ID,
		Title:           strPtr(c.Title),
		CreatedAt:       c.CreatedAt.Unix(),
		UpdatedAt:       c.UpdatedAt.Unix(),
		WaitingSince:    timePtr(c.WaitingSince),
		SnoozedUntil:    timePtr(c.SnoozedUntil),
		Open:            c.State != "closed",
		State:           c.State,
		Read:            c.Read,
		Priority:        c.Priority,
		AdminAssigneeID: idNum(c.AdminAssigneeID),
		TeamAssigneeID:  idNum(c.TeamAssigneeID),
		Tags:            tagListBody{Type: "tag.list", Tags: []tagBody{}},
		Source: sourceBody{
			Type:        c.SourceType,
			ID:          c.ID,
			DeliveredAs: c.DeliveredAs,
			Subject:     text(c.Subject),
			Body:        text(c.Body),
			Author: sourceAuthorBody{Type: c.Author.Type, ID: strPtr(c.Author.ID), Name: strPtr(c.Author.Name),
				Email: strPtr(c.Author.Email)},
			Attachments: []any{},
		},
		Contacts:         w.contactRefsLocked(c.ContactIDs),
		Teammates:        teammatesBody{Type: "admin.list", Teammates: []referenceBody{}},
		CustomAttributes: map[string]string{},
		Statistics: statisticsBody{
			Type:                   "conversation_statistics",
			FirstContactReplyAt:    timePtr(st.firstContactReply),
			FirstAdminReplyAt:      timePtr(st.firstAdminReply),
			FirstCloseAt:           timePtr(st.firstClose),
			LastContactReplyAt:     timePtr(st.lastContactReply),
			LastAdminReplyAt:       timePtr(st.lastAdminReply),
			LastCloseAt:            timePtr(st.lastClose),
			LastClosedByID:         strPtr(st.lastClosedBy),
			CountReopens:           st.reopens,
			CountAssignments:       st.assignments,
			CountConversationParts: st.parts,
		},
		LinkedObjects:       noLinkedObjects(),
		AIAgentParticipated: c.Author.Type == "bot",
	}
	if !st.firstContactReply.IsZero() {
		b.FirstContactReply = &firstContactReplyBody{CreatedAt: st.firstContactReply.Unix(), Type: "conversation"}
	}
	for _, t := range c.TagIDs {
		for _, tag := range w.tags {
			if tag.ID == t {
				b.Tags.Tags = append(b.Tags.Tags, tagBody{Type: "tag", ID: tag.ID, Name: tag.Name})
			}
		}
	}
	for _, id := range c.teammateIDs() {
		b.Teammates.Teammates = append(b.Teammates.Teammates, referenceBody{Type: "admin", ID: strPtr(id)})
	}
	if withParts {
		parts := conversationPartsBody{Type: "conversation_part.list", ConversationParts: []conversationPartBody{}, TotalCount: len(c.Parts)}
		state := "open"
		for _, p := range c.Parts {
			switch p.PartType {
			case "close":
				state = "closed"
			case "open":
				state = "open"
			case "snoozed":
				state = "snoozed"
			}
			pb := conversationPartBody{
				Type:       "conversation_part",
				ID:         p.ID,
				PartType:   p.PartType,
				Body:       strPtr(text(p.Body)),
				CreatedAt:  p.CreatedAt.Unix(),
				UpdatedAt:  p.CreatedAt.Unix(),
				NotifiedAt: p.CreatedAt.Unix(),
				Author: partAuthorBody{Type: p.Author.Type, ID: p.Author.ID, Name: strPtr(p.Author.Name),
					Email: strPtr(p.Author.Email), FromAIAgent: p.Author.Type == "bot"},
				Attachments: []any{},
				State:       state,
				Tags:        []tagBody{},
			}
			if p.AssignedTo != "" {
				pb.AssignedTo = &referenceBody{Type: "admin", ID: strPtr(p.AssignedTo)}
			}
			parts.ConversationParts = append(parts.ConversationParts, pb)
		}
		b.ConversationParts = &parts
	}
	return b
}

// conversationListBody is conversation_list: the items are under
// "conversations" (not "data"), on GET /conversations as in search.
type conversationListBody struct {
	Type          string             `json:"type"`
	Conversations []conversationBody `json:"conversations"`
	TotalCount    int                `json:"total_count"`
	Pages         cursorPages        `json:"pages"`
}

func (w *Workspace) conversationListLocked(items []*Conversation, pages cursorPages, total int) conversationListBody {
	body := conversationListBody{Type: "conversation.list", Conversations: make([]conversationBody, 0, len(items)),
		TotalCount: total, Pages: pages}
	for _, c := range items {
		body.Conversations = append(body.Conversations, w.conversationBodyLocked(c, false, false))
	}
	return body
}

// ---- handlers ----

// Conversations and tickets page by 20 by default (the description), at
// most 150.
const interactionsDefaultPerPage = 20

func (w *Workspace) handleSearchConversations(r *http.Request, _ map[string]string) (any, *apiError) {
	req, apiErr := readSearchRequest(r, interactionsDefaultPerPage)
	if apiErr != nil {
		return nil, apiErr
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	items, pages, total, apiErr := w.conversationSearcherLocked().search(req, w.conversations.list)
	if apiErr != nil {
		return nil, apiErr
	}
	return w.conversationListLocked(items, pages, total), nil
}

func (w *Workspace) handleListConversations(r *http.Request, _ map[string]string) (any, *apiError) {
	perPage, after, apiErr := queryPaging(r, interactionsDefaultPerPage)
	if apiErr != nil {
		return nil, apiErr
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	items, pages, apiErr := w.conversationSearcherLocked().page(w.conversations.list, sortSpec[*Conversation]{}, perPage, after)
	if apiErr != nil {
		return nil, apiErr
	}
	return w.conversationListLocked(items, pages, len(w.conversations.list)), nil
}

func (w *Workspace) handleGetConversation(r *http.Request, p map[string]string) (any, *apiError) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	c, ok := w.conversations.byID[p["id"]]
	if !ok {
		return nil, errorf(http.StatusNotFound, CodeNotFound, "Resource Not Found")
	}
	return w.conversationBodyLocked(c, true, r.URL.Query().Get("display_as") == "plaintext"), nil
}
