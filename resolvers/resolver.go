// Package resolvers implements the GraphQL schema. Resolvers are thin: they
// validate arguments, ask a source, and map domain types to GraphQL models.
package resolvers

import (
	"context"

	"github.com/talkdesk-intercom/api/internal/tenants"
)

// Resolver holds the dependencies of every resolver; server.go builds it once.
// A request works on the workspace its context names (package tenants),
// Default when it names none. Per-request reads go through the loaders in
// the request's context; the tenant's Source serves what does not batch
// (searches, lists) and its Actions the mutations.
type Resolver struct {
	Default *tenants.Tenant
	// Phones normalises caller numbers (remembering recent ones); nil
	// normalises without remembering.
	Phones *PhoneNormalizer
}

func (r *Resolver) tenant(ctx context.Context) *tenants.Tenant {
	if t := tenants.From(ctx); t != nil {
		return t
	}
	return r.Default
}
