package resolvers

import (
	"strings"
	"time"

	"github.com/talkdesk-intercom/api/graph/model"
	"github.com/talkdesk-intercom/api/sources"
)

// Mapping from domain types to GraphQL models. Empty strings become null:
// a dashboard should not have to tell "" from "unknown".

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func optionalInt(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

func first(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[0]
}

func orEmpty(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

func toContact(c *sources.Contact) *model.Contact {
	if c == nil {
		return nil
	}
	role := model.ContactRoleUser
	if c.Role == "lead" {
		role = model.ContactRoleLead
	}
	attrs := c.CustomAttributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	tags := make([]*model.Tag, len(c.Tags))
	for i, t := range c.Tags {
		tags[i] = &model.Tag{ID: t.ID, Name: optional(t.Name)}
	}
	return &model.Contact{
		ID:               c.ID,
		ExternalID:       optional(c.ExternalID),
		Role:             role,
		Name:             c.Name,
		Title:            optional(c.Title),
		Email:            optional(first(c.Emails)),
		Emails:           orEmpty(c.Emails),
		Phone:            optional(first(c.Phones)),
		Phones:           orEmpty(c.Phones),
		PhotoURL:         optional(c.AvatarURL),
		Address:          optional(address(c.Location)),
		Location:         toLocation(c.Location),
		Websites:         orEmpty(c.Websites),
		Twitter:          optional(c.Twitter),
		URL:              optional(c.URL),
		Source:           c.SourceOf(),
		Tags:             tags,
		CustomAttributes: attrs,
		NotesCount:       c.NotesCount,
		CreatedAt:        optionalTime(c.CreatedAt),
		UpdatedAt:        optionalTime(c.UpdatedAt),
		CompanyIDs:       c.CompanyIDs,
	}
}

func toContacts(list []*sources.Contact) []*model.Contact {
	out := make([]*model.Contact, 0, len(list))
	for _, c := range list {
		out = append(out, toContact(c))
	}
	return out
}

// address writes a location as one line, the way Talkdesk shows it.
func address(l sources.Location) string {
	var parts []string
	for _, p := range []string{l.City, l.Region, l.Country} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

func toLocation(l sources.Location) *model.Location {
	return &model.Location{
		Country:     optional(l.Country),
		CountryCode: optional(l.CountryCode),
		Region:      optional(l.Region),
		City:        optional(l.City),
	}
}

func toCompany(c *sources.Company) *model.Company {
	if c == nil {
		return nil
	}
	return &model.Company{
		ID:         c.ID,
		ExternalID: optional(c.ExternalID),
		Name:       c.Name,
		Website:    optional(c.Website),
		Industry:   optional(c.Industry),
		Size:       optionalInt(c.Size),
		Plan:       optional(c.Plan),
		URL:        optional(c.URL),
		CreatedAt:  optionalTime(c.CreatedAt),
		UpdatedAt:  optionalTime(c.UpdatedAt),
	}
}

func toAgent(a *sources.Agent) *model.Agent {
	if a == nil {
		return nil
	}
	return &model.Agent{
		ID:        a.ID,
		Name:      a.Name,
		Email:     optional(a.Email),
		JobTitle:  optional(a.JobTitle),
		AvatarURL: optional(a.AvatarURL),
		Away:      a.Away,
	}
}

func toWorkspace(w *sources.Workspace) *model.Workspace {
	return &model.Workspace{
		ID:     w.ID,
		Name:   w.Name,
		Region: optional(w.Region),
		Admin:  toAgent(&w.Admin),
	}
}
