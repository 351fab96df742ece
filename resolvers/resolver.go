// Package resolvers implements the GraphQL schema. Resolvers are thin: they
// validate arguments, ask a source, and map domain types to GraphQL models.
package resolvers

import "github.com/talkdesk-intercom/api/internal/events"

// Resolver holds the dependencies of every resolver; the server builds it
// once. A request works on the workspace its context carries (package
// workspace): its loaders serve per-request reads, its Source what does not
// batch (searches, lists) and its Actions the mutations.
type Resolver struct {
	// Phones normalises caller numbers (remembering recent ones); nil
	// normalises without remembering.
	Phones *PhoneNormalizer
	// Live is this replica's stream of live events, which subscriptions
	// follow; nil serves none.
	Live *events.Hub
}
