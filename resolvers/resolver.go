// Package resolvers implements the GraphQL schema. Resolvers are thin: they
// validate arguments, ask a source, and map domain types to GraphQL models.
package resolvers

import (
	"github.com/talkdesk-intercom/api/internal/actions"
	"github.com/talkdesk-intercom/api/sources"
)

// Resolver holds the dependencies of every resolver; server.go builds it once.
// Per-request reads go through the loaders in the request's context; Source
// serves what does not batch (searches, lists).
type Resolver struct {
	Source  sources.Source
	History sources.InteractionFinder
	Actions *actions.Service
}
