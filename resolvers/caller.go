package resolvers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/talkdesk-intercom/api/graph/model"
	"github.com/talkdesk-intercom/api/internal/identity"
	"github.com/talkdesk-intercom/api/internal/loaders"
	"github.com/talkdesk-intercom/api/internal/workspace"
	"github.com/talkdesk-intercom/api/sources"
)

// caller resolves Query.caller: every source asked through identity
// resolution, each failed source one error naming it.
func (r *Resolver) caller(ctx context.Context, phone string, defaultCountry *string) (*model.Caller, error) {
	e164, err := normalizePhone(r.Phones, phone, defaultCountry)
	if err != nil {
		return nil, err
	}
	w, err := workspace.From(ctx)
	if err != nil {
		return nil, err
	}
	srcs := []identity.Source{{Name: sources.SourceIntercom, Finder: w.Source}}
	if w.Customer != nil {
		// Through the request's loaders: the callers of one request (a
		// dashboard of people) are one query per view per round.
		srcs = append(srcs, identity.Source{Name: w.Customer.Name, Finder: w.Customer.Loaders, Timeout: w.Customer.Timeout})
	}
	res := identity.Resolve(ctx, srcs, w.Identity, e164)
	for _, f := range res.Failed {
		if len(srcs) == 1 {
			return nil, f.Err // nothing to show beside it: the query fails as contactsByPhone does
		}
		addSourceError(ctx, f.Source, f.Err)
	}
	out := &model.Caller{Phone: e164, People: make([]*model.Person, len(res.People))}
	for i, p := range res.People {
		out.People[i] = toPerson(p)
	}
	return out, nil
}

// addSourceError adds the error of one source to the answer, which keeps
// the other sources' data: its code, and the source it names.
func addSourceError(ctx context.Context, source string, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	code := sources.ErrorCode(err)
	msg := sources.ErrorMessage(err)
	if code == sources.EInternal {
		code, msg = sources.EUpstreamUnavailable, "the source failed"
	}
	graphql.AddError(ctx, &gqlerror.Error{
		Message:    fmt.Sprintf("%s: %s", source, msg),
		Path:       graphql.GetPath(ctx),
		Extensions: map[string]any{"code": code, "source": source},
	})
}

func toPerson(p *identity.Person) *model.Person {
	m := &model.Person{ID: p.ID, Name: optional(p.Name), Rank: p.Rank, Members: p.Contacts,
		MatchedBy: make([]*model.Match, len(p.MatchedBy)), Contacts: make([]*model.Contact, len(p.Contacts)),
		Attributes: []*model.Attribute{}}
	for i, mb := range p.MatchedBy {
		m.MatchedBy[i] = &model.Match{Identifier: mb.Identifier, Value: mb.Value, Source: mb.Source, Exact: mb.Exact, Shared: mb.Shared}
	}
	for i, c := range p.Contacts {
		m.Contacts[i] = toContact(c)
		if c.SourceOf() == sources.SourceIntercom {
			continue // Intercom's custom attributes are the contact's customAttributes
		}
		names := make([]string, 0, len(c.CustomAttributes))
		for name := range c.CustomAttributes {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			m.Attributes = append(m.Attributes, &model.Attribute{Name: name, Value: optional(fmt.Sprint(c.CustomAttributes[name])),
				Source: c.SourceOf(), ContactID: c.ID})
		}
	}
	return m
}

// isPeerID reports whether id is a contact or interaction of a source other
// than Intercom ("sql:7001").
func isPeerID(id string) bool { return strings.HasPrefix(id, "sql:") }

// intercomOnly refuses an id of another source where only Intercom's will
// do (mutations: Intercom is the contact of record).
func intercomOnly(field, id string) error {
	if isPeerID(id) {
		return sources.InputError(field, "%s is a contact of the customer database (%s): actions run on Intercom's contacts only; use one of the person's Intercom contacts",
			field, sources.Quote(id))
	}
	return nil
}

// personInteractions merges the histories of every contact of a person, of
// every source asked for, newest first. A source or kind that fails leaves
// the others and adds an error naming it.
func (r *Resolver) personInteractions(ctx context.Context, p *model.Person, types []model.InteractionType, only []string,
	first *int, after *string, since *time.Time) (*model.InteractionConnection, error) {
	size, from, sinceTime, err := historyArgs(first, after, since)
	if err != nil {
		return nil, err
	}
	w, err := workspace.From(ctx)
	if err != nil {
		return nil, err
	}
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		merged []*sources.Interaction
		seen   = map[string]bool{}
		failed = map[string]bool{}
	)
	for _, c := range p.Members {
		source := c.SourceOf()
		if len(only) > 0 && !slices.Contains(only, source) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			list, err := readHistory(ctx, w, sources.ContactRefOf(c), types, sinceTime)
			mu.Lock()
			defer mu.Unlock()
			var partial *sources.PartialError
			switch {
			case errors.As(err, &partial) && source == sources.SourceIntercom:
				if !failed[source+err.Error()] {
					failed[source+err.Error()] = true
					graphql.AddError(ctx, err) // the other kinds are still shown
				}
			case err != nil:
				if !failed[source] {
					failed[source] = true
					addSourceError(ctx, source, err)
				}
			}
			for _, it := range list {
				if !seen[it.ID] { // a conversation with two of the person's contacts is one entry
					seen[it.ID] = true
					merged = append(merged, it)
				}
			}
		}()
	}
	wg.Wait()
	sources.SortInteractions(merged)
	return historyConnection(merged, from, size), nil
}

// readHistory reads a contact's history from its own source, with the kinds
// of types that source has.
func readHistory(ctx context.Context, w *workspace.Workspace, ref sources.ContactRef, types []model.InteractionType,
	since time.Time) ([]*sources.Interaction, error) {
	loaders, kinds, ok := historySource(w, ref, types)
	if !ok {
		return nil, nil
	}
	return loaders.Interactions(ctx, ref, kinds, since)
}

// historySource is where a contact's history is read (the loaders of its
// own source) and which kinds of types that source has; ok is false when it
// has none of them, or the contact is the customer database's and there is
// no database.
func historySource(w *workspace.Workspace, ref sources.ContactRef, types []model.InteractionType) (
	l *loaders.Loaders, kinds []sources.InteractionKind, ok bool) {
	l, supported := w.Loaders, sources.InteractionKinds()
	if isPeerID(ref.ID) {
		if w.Customer == nil {
			return nil, nil, false // a database contact id with no database: it has no history here
		}
		l, supported = w.Customer.Loaders, []sources.InteractionKind{sources.KindRecord}
	}
	for _, t := range types {
		if k := kindOf(t); slices.Contains(supported, k) && !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	if len(types) > 0 && len(kinds) == 0 {
		return nil, nil, false // none of the kinds asked for is this source's
	}
	return l, kinds, true
}
