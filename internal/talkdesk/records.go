package talkdesk

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/talkdesk-intercom/api/internal/workspace"
	"github.com/talkdesk-intercom/api/sources"
)

// The customer database's records in interaction_update. Talkdesk accepts
// only the interaction types integration.json declares, so the database's
// kinds it is shown are a setting (TALKDESK_RECORD_KINDS), declared there
// after Intercom's; each record is answered under its own kind ("order"),
// with the database's status and priority mapped to Talkdesk's
// (docs/customer-database.md) and its id prefixed by its source
// ("sql:order-1001"). The records are those of the person the call is
// about: the database's contacts that share a number or an email with the
// contacts found, as identity resolution joins them (blocked values and
// values shared by too many contacts join nothing).

// CheckRecordKinds refuses a database kind that would clash with one of
// Intercom's types or their aliases: Talkdesk could not tell them apart.
func CheckRecordKinds(kinds []string) error {
	for _, k := range kinds {
		name := strings.ToLower(strings.TrimSpace(k))
		if _, err := sources.ParseInteractionKind(name); err == nil {
			return fmt.Errorf("%s is one of Intercom's interaction types", sources.Quote(k))
		}
		if _, ok := interactionTypeAliases[name]; ok {
			return fmt.Errorf("%s is an alias of one of Intercom's interaction types", sources.Quote(k))
		}
	}
	return nil
}

// recordKinds are the database kinds asked for: those of types that are
// declared (every declared one when types is empty).
func (b *Bridge) recordKinds(types []string) []string {
	if len(types) == 0 {
		return b.cfg.RecordKinds
	}
	var out []string
	for _, t := range types {
		t = strings.ToLower(strings.TrimSpace(t))
		if slices.Contains(b.cfg.RecordKinds, t) && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// maxRecordContacts bounds the database contacts one call reads.
const maxRecordContacts = 10

// records reads the database records of kinds of the person of contacts
// (and of the call's own numbers and emails).
func records(ctx context.Context, w *workspace.Workspace, contacts []*sources.Contact, phones, emails []string,
	kinds []string) ([]*sources.Interaction, error) {
	if w.Customer == nil || len(kinds) == 0 {
		return nil, nil
	}
	for _, c := range contacts {
		for _, p := range c.Phones {
			if strings.HasPrefix(p, "+") {
				phones = append(phones, p)
			}
		}
		emails = append(emails, c.Emails...)
	}
	phones, emails = joining(w, phones), joining(w, lowerAll(emails))
	var found []*sources.Contact
	seen := map[string]bool{}
	keep := func(byKey map[string][]*sources.Contact, keys []string) {
		for _, k := range keys {
			list := byKey[k]
			if len(list) > w.Identity.SharedLimit && w.Identity.SharedLimit > 0 {
				continue // a shared value: its contacts are not this person
			}
			for _, c := range list {
				if !seen[c.ID] && len(found) < maxRecordContacts {
					seen[c.ID] = true
					found = append(found, c)
				}
			}
		}
	}
	if len(phones) > 0 {
		byPhone, err := w.Customer.Source.ContactsByPhones(ctx, phones)
		if err != nil {
			return nil, err
		}
		keep(byPhone, phones)
	}
	if len(emails) > 0 {
		byEmail, err := w.Customer.Source.ContactsByEmails(ctx, emails)
		if err != nil {
			return nil, err
		}
		keep(byEmail, emails)
	}
	var out []*sources.Interaction
	for _, c := range found {
		list, err := w.Customer.Loaders.Interactions(ctx, sources.ContactRefOf(c), []sources.InteractionKind{sources.KindRecord}, time.Time{})
		if err != nil {
			return nil, err
		}
		for _, it := range list {
			if slices.Contains(kinds, it.SourceKind) {
				out = append(out, it)
			}
		}
	}
	return out, nil
}

// joining drops blocked values and repeats.
func joining(w *workspace.Workspace, values []string) []string {
	var out []string
	for _, v := range sources.UniqueIDs(values) {
		if !w.Identity.Blocked[v] {
			out = append(out, v)
		}
	}
	return out
}

func lowerAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strings.ToLower(s)
	}
	return out
}
