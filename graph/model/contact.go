// Package model holds the GraphQL types: generated ones in models_gen.go and
// hand-written ones beside it.
package model

import (
	"time"
)

// Contact is the GraphQL Contact. CompanyIDs is not a schema field: the lazy
// company and companies resolvers load the companies from it.
type Contact struct {
	ID               string         `json:"id"`
	ExternalID       *string        `json:"externalId,omitempty"`
	Role             ContactRole    `json:"role"`
	Name             string         `json:"name"`
	Title            *string        `json:"title,omitempty"`
	Email            *string        `json:"email,omitempty"`
	Emails           []string       `json:"emails"`
	Phone            *string        `json:"phone,omitempty"`
	Phones           []string       `json:"phones"`
	PhotoURL         *string        `json:"photoUrl,omitempty"`
	Address          *string        `json:"address,omitempty"`
	Location         *Location      `json:"location"`
	Websites         []string       `json:"websites"`
	Twitter          *string        `json:"twitter,omitempty"`
	URL              *string        `json:"url,omitempty"`
	Tags             []*Tag         `json:"tags"`
	CustomAttributes map[string]any `json:"customAttributes"`
	NotesCount       int            `json:"notesCount"`
	CreatedAt        *time.Time     `json:"createdAt,omitempty"`
	UpdatedAt        *time.Time     `json:"updatedAt,omitempty"`
	Source           string         `json:"source"`

	CompanyIDs []string `json:"-"`
}
