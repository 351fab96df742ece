package resolvers

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/talkdesk-intercom/api/graph/model"
	"github.com/talkdesk-intercom/api/internal/workspace"
	"github.com/talkdesk-intercom/api/sources"
)

const maxInteractionsPage = 100

// historyCursor points just after an interaction in a history ordered by
// sources.CompareInteractions: stable when newer interactions arrive on top.
type historyCursor struct {
	Version int    `json:"v"`
	Date    int64  `json:"d"`
	Kind    string `json:"k"`
	ID      string `json:"i"`
}

func (c historyCursor) encode() string {
	c.Version = cursorVersion
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeHistoryCursor(s string) (*sources.Interaction, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	var c historyCursor
	if json.Unmarshal(b, &c) != nil || c.Version != cursorVersion || c.ID == "" {
		return nil, false
	}
	return &sources.Interaction{Date: time.Unix(0, c.Date), Kind: sources.InteractionKind(c.Kind), ID: c.ID}, true
}

// historyAfter reads a history's `after` cursor (nil: from the start).
func historyAfter(after *string) (*sources.Interaction, error) {
	if after == nil || *after == "" {
		return nil, nil
	}
	from, ok := decodeHistoryCursor(*after)
	if !ok {
		return nil, sources.InputError("after", "after is not a cursor of this history")
	}
	return from, nil
}

// historyArgs reads a history field's page size, cursor and since.
func historyArgs(first *int, after *string, since *time.Time) (size int, from *sources.Interaction, sinceTime time.Time, err error) {
	if size, err = pageSize("first", first, 10, maxInteractionsPage); err != nil {
		return 0, nil, time.Time{}, err
	}
	if from, err = historyAfter(after); err != nil {
		return 0, nil, time.Time{}, err
	}
	if since != nil {
		sinceTime = *since
	}
	return size, from, sinceTime, nil
}

// interactions is the shared resolver of Contact.interactions and
// Query.interactions.
func (r *Resolver) interactions(ctx context.Context, ref sources.ContactRef, types []model.InteractionType,
	first *int, after *string, since *time.Time) (*model.InteractionConnection, error) {
	size, from, sinceTime, err := historyArgs(first, after, since)
	if err != nil {
		return nil, err
	}
	w, err := workspace.From(ctx)
	if err != nil {
		return nil, err
	}
	list, err := readHistory(ctx, w, ref, types, sinceTime)
	var partial *sources.PartialError
	switch {
	case errors.As(err, &partial):
		graphql.AddError(ctx, err) // partial data: the other kinds are still shown
	case err != nil && isPeerID(ref.ID):
		return nil, &sources.Error{Code: sources.ErrorCode(err), Message: "sql: " + sources.ErrorMessage(err), Err: err}
	case err != nil:
		return nil, err
	}
	return historyConnection(list, from, size), nil
}

func historyConnection(list []*sources.Interaction, after *sources.Interaction, size int) *model.InteractionConnection {
	start := 0
	if after != nil {
		for start < len(list) && sources.CompareInteractions(list[start], after) <= 0 {
			start++
		}
	}
	end := min(start+size, len(list))
	page := list[start:end]
	nodes := make([]interactionNode, len(page))
	conn := &model.InteractionConnection{
		Nodes:       make([]*model.Interaction, len(page)),
		TotalCount:  len(list),
		HasNextPage: end < len(list),
		Cursor: func(i int) string {
			it := page[i]
			return historyCursor{Date: it.Date.UnixNano(), Kind: string(it.Kind), ID: it.ID}.encode()
		},
	}
	for i, it := range page {
		conn.Nodes[i] = nodes[i].set(it)
	}
	return conn
}

func toInteraction(it *sources.Interaction) *model.Interaction {
	return new(interactionNode).set(it)
}

// interactionNode is a GraphQL interaction with the values its optional
// fields point to: a page of nodes is one allocation, not one per field
// (a dashboard maps hundreds of interactions a request).
type interactionNode struct {
	m                         model.Interaction
	url, state, ref, kind     string
	createdAt, updatedAt      time.Time
	direction                 model.InteractionDirection
	durationSeconds           int
	hasRecording              bool
	author, assignee          model.Participant
	authorID, authorName      string
	authorEmail, assigneeID   string
	assigneeName, assigneeEml string
}

func (n *interactionNode) set(it *sources.Interaction) *model.Interaction {
	n.url, n.state, n.ref, n.kind = it.URL, it.SourceState, it.Reference, cmp.Or(it.SourceKind, string(it.Kind))
	n.createdAt, n.updatedAt = it.CreatedAt, it.UpdatedAt
	n.m = model.Interaction{
		ID:          it.ID,
		Type:        model.InteractionType(enumName(string(it.Kind))),
		Subject:     it.Subject,
		Description: it.Description,
		Date:        it.Date,
		URL:         optionalAt(&n.url),
		Priority:    model.InteractionPriority(enumName(string(it.Priority))),
		Status:      model.InteractionStatus(enumName(string(it.Status))),
		State:       optionalAt(&n.state),
		Reference:   optionalAt(&n.ref),
		CreatedAt:   optionalTimeAt(&n.createdAt),
		UpdatedAt:   optionalTimeAt(&n.updatedAt),
		Source:      it.SourceOf(),
		Kind:        optionalAt(&n.kind),
	}
	if p := it.Author; p != nil {
		n.authorID, n.authorName, n.authorEmail = p.ID, p.Name, p.Email
		n.author = model.Participant{Kind: model.ParticipantKind(enumName(string(p.Kind))),
			ID: optionalAt(&n.authorID), Name: optionalAt(&n.authorName), Email: optionalAt(&n.authorEmail)}
		n.m.Author = &n.author
	}
	if p := it.Assignee; p != nil {
		n.assigneeID, n.assigneeName, n.assigneeEml = p.ID, p.Name, p.Email
		n.assignee = model.Participant{Kind: model.ParticipantKind(enumName(string(p.Kind))),
			ID: optionalAt(&n.assigneeID), Name: optionalAt(&n.assigneeName), Email: optionalAt(&n.assigneeEml)}
		n.m.Assignee = &n.assignee
	}
	if it.Priority == "" {
		n.m.Priority = model.InteractionPriorityNone
	}
	if it.Direction != sources.DirectionNone {
		n.direction = model.InteractionDirection(enumName(string(it.Direction)))
		n.m.Direction = &n.direction
	}
	if it.Kind == sources.KindCall {
		n.durationSeconds, n.hasRecording = int(it.Duration/time.Second), it.HasRecording
		n.m.DurationSeconds, n.m.HasRecording = &n.durationSeconds, &n.hasRecording
	}
	return &n.m
}

// enumNames are the GraphQL names of the history's enum values by the
// sources' lower-case names.
var enumNames = func() map[string]string {
	names := map[string]string{}
	add := func(values ...string) {
		for _, v := range values {
			names[strings.ToLower(v)] = v
		}
	}
	for _, v := range model.AllInteractionType {
		add(string(v))
	}
	for _, v := range model.AllInteractionPriority {
		add(string(v))
	}
	for _, v := range model.AllInteractionStatus {
		add(string(v))
	}
	for _, v := range model.AllInteractionDirection {
		add(string(v))
	}
	for _, v := range model.AllParticipantKind {
		add(string(v))
	}
	return names
}()

// enumName is s upper-cased, the GraphQL name of a source's enum value,
// without allocating for the values the schema knows.
func enumName(s string) string {
	if name, ok := enumNames[s]; ok {
		return name
	}
	return strings.ToUpper(s)
}
