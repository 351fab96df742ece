// Package resolvers implements the GraphQL schema. Resolvers are thin: they
// validate arguments, ask a source, and map domain types to GraphQL models.
package resolvers

import "github.com/talkdesk-intercom/api/sources"

// Resolver holds the dependencies of every resolver; server.go builds it once.
type Resolver struct {
	Source sources.Source
}
