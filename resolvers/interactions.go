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
	conn := &model.InteractionConnection{
		Edges:      make([]*model.InteractionEdge, 0, end-start),
		Nodes:      make([]*model.Interaction, 0, end-start),
		PageInfo:   &model.PageInfo{HasNextPage: end < len(list)},
		TotalCount: len(list),
	}
	for _, it := range list[start:end] {
		node := toInteraction(it)
		cursor := historyCursor{Date: it.Date.UnixNano(), Kind: string(it.Kind), ID: it.ID}.encode()
		conn.Edges = append(conn.Edges, &model.InteractionEdge{Cursor: cursor, Node: node})
		conn.Nodes = append(conn.Nodes, node)
		conn.PageInfo.EndCursor = &cursor
	}
	return conn
}

func toInteraction(it *sources.Interaction) *model.Interaction {
	m := &model.Interaction{
		ID:          it.ID,
		Type:        model.InteractionType(strings.ToUpper(string(it.Kind))),
		Subject:     it.Subject,
		Description: it.Description,
		Date:        it.Date,
		URL:         optional(it.URL),
		Priority:    model.InteractionPriority(strings.ToUpper(string(it.Priority))),
		Status:      model.InteractionStatus(strings.ToUpper(string(it.Status))),
		State:       optional(it.SourceState),
		Author:      toParticipant(it.Author),
		Assignee:    toParticipant(it.Assignee),
		Reference:   optional(it.Reference),
		CreatedAt:   optionalTime(it.CreatedAt),
		UpdatedAt:   optionalTime(it.UpdatedAt),
		Source:      it.SourceOf(),
		Kind:        optional(cmp.Or(it.SourceKind, string(it.Kind))),
	}
	if it.Priority == "" {
		m.Priority = model.InteractionPriorityNone
	}
	if it.Direction != sources.DirectionNone {
		d := model.InteractionDirection(strings.ToUpper(string(it.Direction)))
		m.Direction = &d
	}
	if it.Kind == sources.KindCall {
		secs := int(it.Duration / time.Second)
		m.DurationSeconds = &secs
		m.HasRecording = &it.HasRecording
	}
	return m
}

func toParticipant(p *sources.Participant) *model.Participant {
	if p == nil {
		return nil
	}
	return &model.Participant{Kind: model.ParticipantKind(strings.ToUpper(string(p.Kind))), ID: optional(p.ID),
		Name: optional(p.Name), Email: optional(p.Email)}
}
