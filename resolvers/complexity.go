package resolvers

import (
	"time"

	"github.com/talkdesk-intercom/api/graph"
	"github.com/talkdesk-intercom/api/graph/model"
)

// Complexity weighs list fields by how many items they may return, so that
// the complexity limit (graphqlhttp.Options.MaxComplexity) bounds the work
// and the Intercom calls a single query can cause.
func Complexity() graph.ComplexityRoot {
	var c graph.ComplexityRoot
	page := func(first *int, def int) int {
		if first == nil {
			return def
		}
		return max(*first, 1)
	}
	c.Query.Contacts = func(child int, first *int, _ *string, _ *time.Time) int { return 1 + page(first, 50)*child }
	c.Query.SearchContacts = func(child int, _ string, first *int) int { return 1 + page(first, 20)*child }
	c.Query.ContactsByIds = func(child int, ids []string) int { return 1 + max(len(ids), 1)*child }
	c.Query.ContactsByPhone = func(child int, _ string, _ *string) int { return 1 + 2*child }
	c.Query.ContactsByEmail = func(child int, _ string) int { return 1 + 2*child }
	c.Query.Interactions = func(child int, _ string, _ []model.InteractionType, first *int, _ *string, _ *time.Time) int {
		return 5 + page(first, 10)*child
	}
	c.Contact.Interactions = func(child int, _ []model.InteractionType, first *int, _ *string, _ *time.Time) int {
		return 5 + page(first, 10)*child
	}
	c.Contact.Companies = func(child int) int { return 1 + 3*child }
	c.InteractionConnection.Edges = func(child int) int { return child } // counted once with nodes' weight
	c.ContactConnection.Edges = func(child int) int { return child }
	return c
}
