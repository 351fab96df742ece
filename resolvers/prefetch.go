package resolvers

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/talkdesk-intercom/api/graph/model"
	"github.com/talkdesk-intercom/api/internal/workspace"
	"github.com/talkdesk-intercom/api/sources"
)

// contactImplementors are the types a selection on a contact may name.
var contactImplementors = []string{"Contact"}

// prefetchKey is a list of contacts (the field that returned it) and the
// alias of the field whose selection was prefetched for it.
type prefetchKey struct {
	list  *graphql.FieldContext
	alias string
}

// Prefetch is the loaders' hook before a load waits (loaders.Config's
// Prefetch). The executor resolves a list of contacts one contact after
// another, and each contact's fields in order (cmd/gqlgen's -in-order
// Contact): without it, a cold list would wait for the first contact's
// company alone, then its history, then the next contact's. So when a lazy
// field of a contact is about to wait, this queues, once per list, every
// lazy field the query selects on every contact of the list: company,
// companies and interactions. They join the batches already collecting
// keys, and the list waits once per kind, as it did when each contact had
// goroutines of its own. A warm list never waits, and never comes here.
func Prefetch(ctx context.Context) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Object != "Contact" || fc.Parent == nil {
		return
	}
	list, sel := contactsBeside(fc.Parent)
	w, err := workspace.From(ctx)
	// Once per list and selection: a connection's edges may name their
	// node twice, under two aliases, with other fields under each.
	if list == nil || err != nil || !w.Loaders.FirstPrefetch(prefetchKey{list, sel.Field.Alias}) {
		return
	}
	contacts := contactsIn(list.Result)
	oc := graphql.GetOperationContext(ctx)
	for _, f := range graphql.CollectFields(oc, sel.Field.Selections, contactImplementors) {
		switch f.Name {
		case "company", "companies":
			var ids []string
			for _, c := range contacts {
				if f.Name == "company" {
					ids = append(ids, firstCompany(c)...)
				} else {
					ids = append(ids, c.CompanyIDs...)
				}
			}
			w.Loaders.PrefetchCompanies(ctx, ids)
		case "interactions":
			types, since, ok := historyFieldArgs(ctx, sel, f)
			if !ok {
				continue // the field itself says what is wrong with them
			}
			for _, c := range contacts {
				ref := sources.ContactRef{ID: c.ID, NotesCount: c.NotesCount}
				if l, kinds, ok := historySource(w, ref, types); ok {
					l.PrefetchInteractions(ctx, ref, kinds, since)
				}
			}
		}
	}
}

// contactsBeside finds, from the position of a contact in the answer, the
// list it belongs to (nil when none is known: its Result holds the
// contacts, see contactsIn) and the field whose selection applies to each
// of them. A contact alone (contact(id:), a payload's) is a list of one.
// The lists known are lists of contacts and a connection's edges: a new
// list of objects that hold a contact needs a case here and in contactsIn,
// or its contacts are each a list of one (right, but one wait each when
// cold).
func contactsBeside(at *graphql.FieldContext) (list, sel *graphql.FieldContext) {
	switch {
	case at.Index != nil && at.Parent != nil: // an element of a list of contacts
		if _, ok := at.Parent.Result.([]*model.Contact); ok {
			return at.Parent, at.Parent
		}
	case at.Parent != nil && at.Parent.Index != nil && at.Parent.Parent != nil: // the node of a connection's edge
		if _, ok := at.Parent.Parent.Result.([]*model.ContactEdge); ok {
			return at.Parent.Parent, at
		}
	}
	if _, ok := at.Result.(*model.Contact); ok {
		return at, at
	}
	return nil, nil
}

// contactsIn are the contacts of a list contactsBeside found, nils left out.
func contactsIn(result any) []*model.Contact {
	var all []*model.Contact
	switch v := result.(type) {
	case []*model.Contact:
		all = v
	case []*model.ContactEdge:
		for _, e := range v {
			all = append(all, e.Node)
		}
	case *model.Contact:
		all = []*model.Contact{v}
	}
	out := make([]*model.Contact, 0, len(all))
	for _, c := range all {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// historyFieldArgs reads the types and since of an interactions field
// through gqlgen's own argument parsing, and checks its other arguments as
// its resolver does. An error is not reported here (its field reports it
// when it runs, before reading anything): ok is false, and nothing is
// prefetched for it.
func historyFieldArgs(ctx context.Context, sel *graphql.FieldContext, f graphql.CollectedField) (
	types []model.InteractionType, since time.Time, ok bool) {
	if sel.Child == nil {
		return nil, time.Time{}, false
	}
	quiet := graphql.WithResponseContext(ctx, func(context.Context, error) *gqlerror.Error { return nil }, graphql.DefaultRecover)
	child, err := sel.Child(quiet, f)
	if err != nil || child == nil {
		return nil, time.Time{}, false
	}
	types, _ = child.Args["types"].([]model.InteractionType)
	first, _ := child.Args["first"].(*int)
	after, _ := child.Args["after"].(*string)
	t, _ := child.Args["since"].(*time.Time)
	if _, _, since, err = historyArgs(first, after, t); err != nil {
		return nil, time.Time{}, false
	}
	return types, since, true
}
