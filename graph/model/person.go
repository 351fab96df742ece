package model

import "github.com/talkdesk-intercom/api/sources"

// Person is the GraphQL Person. Members is not a schema field: the lazy
// interactions resolver reads each contact's history from it.
type Person struct {
	ID         string       `json:"id"`
	Name       *string      `json:"name,omitempty"`
	Rank       int          `json:"rank"`
	MatchedBy  []*Match     `json:"matchedBy"`
	Contacts   []*Contact   `json:"contacts"`
	Attributes []*Attribute `json:"attributes"`

	Members []*sources.Contact `json:"-"`
}
