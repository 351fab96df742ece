package resolvers

import (
	"strings"
	"time"

	"github.com/talkdesk-intercom/api/graph/model"
	"github.com/talkdesk-intercom/api/sources"
)

// Mapping from domain types to GraphQL models. Empty strings become null:
// a dashboard should not have to tell "" from "unknown".

func optional(s string) *string { return optionalAt(&s) }

func optionalTime(t time.Time) *time.Time { return optionalTimeAt(&t) }

// optionalAt is s, or nil when *s is empty: it points into the caller's
// storage (a node mapped in one allocation), where optional copies.
func optionalAt(s *string) *string {
	if *s == "" {
		return nil
	}
	return s
}

// optionalTimeAt is t, or nil when *t is zero.
func optionalTimeAt(t *time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return t
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

// contactNode is a GraphQL contact with the values its optional fields
// point to: one allocation for what would be one per field (a dashboard
// maps dozens of contacts a request).
type contactNode struct {
	m                                      model.Contact
	location                               model.Location
	externalID, title, email, phone, photo string
	address, twitter, url                  string
	country, countryCode, region, city     string
	createdAt, updatedAt                   time.Time
}

// tagNode is a tag with its name.
type tagNode struct {
	m    model.Tag
	name string
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
	nodes := make([]tagNode, len(c.Tags))
	for i, t := range c.Tags {
		n := &nodes[i]
		n.name = t.Name
		n.m = model.Tag{ID: t.ID, Name: optionalAt(&n.name)}
		tags[i] = &n.m
	}
	n := &contactNode{externalID: c.ExternalID, title: c.Title, email: first(c.Emails), phone: first(c.Phones),
		photo: c.AvatarURL, address: address(c.Location), twitter: c.Twitter, url: c.URL,
		country: c.Location.Country, countryCode: c.Location.CountryCode, region: c.Location.Region, city: c.Location.City,
		createdAt: c.CreatedAt, updatedAt: c.UpdatedAt}
	n.location = model.Location{Country: optionalAt(&n.country), CountryCode: optionalAt(&n.countryCode),
		Region: optionalAt(&n.region), City: optionalAt(&n.city)}
	n.m = model.Contact{
		ID:               c.ID,
		ExternalID:       optionalAt(&n.externalID),
		Role:             role,
		Name:             c.Name,
		Title:            optionalAt(&n.title),
		Email:            optionalAt(&n.email),
		Emails:           orEmpty(c.Emails),
		Phone:            optionalAt(&n.phone),
		Phones:           orEmpty(c.Phones),
		PhotoURL:         optionalAt(&n.photo),
		Address:          optionalAt(&n.address),
		Location:         &n.location,
		Websites:         orEmpty(c.Websites),
		Twitter:          optionalAt(&n.twitter),
		URL:              optionalAt(&n.url),
		Source:           c.SourceOf(),
		Tags:             tags,
		CustomAttributes: attrs,
		NotesCount:       c.NotesCount,
		CreatedAt:        optionalTimeAt(&n.createdAt),
		UpdatedAt:        optionalTimeAt(&n.updatedAt),
		CompanyIDs:       c.CompanyIDs,
	}
	return &n.m
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

// companyNode is a GraphQL company with the values its optional fields
// point to, in one allocation.
type companyNode struct {
	m                                   model.Company
	externalID, website, industry, plan string
	url                                 string
	size                                int
	createdAt, updatedAt                time.Time
}

func toCompany(c *sources.Company) *model.Company {
	if c == nil {
		return nil
	}
	n := &companyNode{externalID: c.ExternalID, website: c.Website, industry: c.Industry, plan: c.Plan, url: c.URL,
		size: c.Size, createdAt: c.CreatedAt, updatedAt: c.UpdatedAt}
	n.m = model.Company{
		ID:         c.ID,
		ExternalID: optionalAt(&n.externalID),
		Name:       c.Name,
		Website:    optionalAt(&n.website),
		Industry:   optionalAt(&n.industry),
		Plan:       optionalAt(&n.plan),
		URL:        optionalAt(&n.url),
		CreatedAt:  optionalTimeAt(&n.createdAt),
		UpdatedAt:  optionalTimeAt(&n.updatedAt),
	}
	if n.size != 0 {
		n.m.Size = &n.size
	}
	return &n.m
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
