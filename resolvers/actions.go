package resolvers

import (
	"errors"

	"github.com/talkdesk-intercom/api/graph/model"
	"github.com/talkdesk-intercom/api/internal/actions"
	"github.com/talkdesk-intercom/api/sources"
)

// userErrors splits an action's error: input problems become the payload's
// userErrors (with the path of the field in the mutation's input); anything
// else is a GraphQL error.
func userErrors(err error) ([]*model.UserError, error) {
	var p actions.Problems
	if err == nil {
		return []*model.UserError{}, nil
	}
	if !errors.As(err, &p) {
		return nil, err
	}
	out := make([]*model.UserError, len(p))
	for i, pr := range p {
		out[i] = &model.UserError{Field: []string{"input", pr.Field}, Message: pr.Message, Code: pr.Code}
	}
	return out, nil
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func roleName(r *model.ContactRole) *string {
	if r == nil {
		return nil
	}
	v := "user"
	if *r == model.ContactRoleLead {
		v = "lead"
	}
	return &v
}

func toNote(n *sources.Note) *model.Note {
	if n == nil {
		return nil
	}
	return &model.Note{ID: n.ID, Body: n.Body, AuthorID: optional(n.AuthorID), CreatedAt: optionalTime(n.CreatedAt)}
}

func toTicket(t *sources.Ticket) *model.Ticket {
	if t == nil {
		return nil
	}
	return &model.Ticket{ID: t.ID, Reference: optional(t.Reference), Title: t.Title, State: optional(t.State),
		URL: optional(t.URL), CreatedAt: optionalTime(t.CreatedAt)}
}

func toTag(t *sources.Tag) *model.Tag {
	if t == nil {
		return nil
	}
	return &model.Tag{ID: t.ID, Name: optional(t.Name)}
}

func toActionDefinitions(defs []actions.Definition) []*model.ActionDefinition {
	out := make([]*model.ActionDefinition, len(defs))
	for i, d := range defs {
		inputs := make([]*model.ActionInput, len(d.Inputs))
		for j, in := range d.Inputs {
			inputs[j] = &model.ActionInput{Key: in.Key, Name: in.Name, Mandatory: in.Mandatory}
		}
		out[i] = &model.ActionDefinition{Name: d.Name, DisplayName: d.DisplayName, Description: d.Description, Inputs: inputs}
	}
	return out
}
