package talkdesk

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/talkdesk-intercom/api/internal/web"
	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/phone"
)

// Interaction retrieval (POST /talkdesk/interaction_update).
//
// The contact is found by data.contact_external_id (its Intercom id), else
// by data.contact_emails, else by data.contact_phones (normalised to E.164;
// numbers without a country code are skipped). Every Intercom contact found
// at the first step that finds any counts: Intercom often holds a lead and a
// user for one person. Their interactions of the kinds meta.interaction_types
// names are answered newest first, at most maxInteractions of them, as a
// JSON array in Talkdesk's format. No contact found is an empty array.

// maxInteractions bounds the answer: a contact screen shows the recent ones.
const maxInteractions = 100

// maxContactsPerLookup bounds how many matching contacts are read.
const maxContactsPerLookup = 10

// interactionTypeAliases are names Talkdesk integrations commonly use for
// a kind (the contract's own example asks for "case").
var interactionTypeAliases = map[string]sources.InteractionKind{
	"case": sources.KindTicket,
}

// talkdeskInteraction is an interaction in Talkdesk's format.
type talkdeskInteraction struct {
	ID          string `json:"id"`
	Subject     string `json:"subject"`
	Description string `json:"description,omitempty"`
	Date        string `json:"date"`
	URL         string `json:"url,omitempty"`
	Type        string `json:"type"`
	Priority    string `json:"priority"`
	Status      string `json:"status,omitempty"`
}

func (b *Bridge) interactionUpdate(ctx context.Context, c *call) (reply, error) {
	types, err := c.meta.strs("interaction_types")
	if err != nil {
		return reply{}, err
	}
	kinds, typeNames := interactionKinds(types)
	if len(types) > 0 && len(kinds) == 0 {
		// None of the asked types is one this source has.
		return reply{status: http.StatusOK, body: []talkdeskInteraction{}}, nil
	}
	contacts, err := b.findContacts(ctx, c)
	if err != nil {
		return reply{}, err
	}
	list, err := b.histories(ctx, c, contacts, kinds)
	if err != nil {
		return reply{}, err
	}
	out := make([]talkdeskInteraction, 0, len(list))
	for _, it := range list {
		out = append(out, toTalkdeskInteraction(it, typeNames[it.Kind]))
	}
	return reply{status: http.StatusOK, body: out}, nil
}

// interactionKinds reads the asked types: kind names (conversation, ticket,
// note, call; plurals too) and aliases. Each kind is answered under the name
// it was asked by, as the contract wants the type to match one asked for.
// Unknown names are ignored: they are another integration's types. No types
// at all means every kind.
func interactionKinds(types []string) ([]sources.InteractionKind, map[sources.InteractionKind]string) {
	names := map[sources.InteractionKind]string{}
	for _, k := range sources.InteractionKinds() {
		names[k] = string(k)
	}
	if len(types) == 0 {
		return nil, names
	}
	var kinds []sources.InteractionKind
	for _, t := range types {
		k, ok := interactionTypeAliases[strings.ToLower(strings.TrimSpace(t))]
		if !ok {
			parsed, err := sources.ParseInteractionKind(t)
			if err != nil {
				continue
			}
			k = parsed
		}
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
			names[k] = t
		}
	}
	return kinds, names
}

// findContacts finds the contact the call is about: by id, else by emails,
// else by phones.
func (b *Bridge) findContacts(ctx context.Context, c *call) ([]*sources.Contact, error) {
	id, err := c.data.str("contact_external_id")
	if err != nil {
		return nil, err
	}
	emails, err := c.data.strs("contact_emails")
	if err != nil {
		return nil, err
	}
	phones, err := c.data.strs("contact_phones")
	if err != nil {
		return nil, err
	}
	if err := b.checkListSize(c.data.path("contact_emails"), emails); err != nil {
		return nil, err
	}
	if err := b.checkListSize(c.data.path("contact_phones"), phones); err != nil {
		return nil, err
	}
	if id = strings.TrimSpace(id); id != "" {
		ct, err := c.ws.Loaders.Contact(ctx, id)
		if err != nil {
			return nil, err
		}
		if ct != nil {
			return []*sources.Contact{ct}, nil
		}
	}
	if len(emails) > 0 {
		for i := range emails {
			emails[i] = strings.ToLower(emails[i])
		}
		emails = sources.UniqueIDs(emails)
		found, err := c.ws.Source.ContactsByEmails(ctx, emails)
		if err != nil {
			return nil, err
		}
		if list := collect(emails, found); len(list) > 0 {
			return list, nil
		}
	}
	var e164 []string
	for _, p := range phones {
		if n, err := phone.Normalize(p, ""); err == nil {
			e164 = append(e164, n)
		}
	}
	if len(e164) > 0 {
		e164 = sources.UniqueIDs(e164)
		found, err := c.ws.Source.ContactsByPhones(ctx, e164)
		if err != nil {
			return nil, err
		}
		return collect(e164, found), nil
	}
	return nil, nil
}

// checkListSize refuses a list longer than MaxList before any of it is
// looked up: each item may cost an Intercom search.
func (b *Bridge) checkListSize(field string, list []string) error {
	if len(list) > b.cfg.MaxList {
		return badRequest(field, "%s has %d items; at most %d are looked up in one call", field, len(list), b.cfg.MaxList)
	}
	return nil
}

// collect lists the contacts found under keys, in key order, each once.
func collect(keys []string, found map[string][]*sources.Contact) []*sources.Contact {
	var out []*sources.Contact
	seen := map[string]bool{}
	for _, k := range keys {
		for _, ct := range found[k] {
			if !seen[ct.ID] && len(out) < maxContactsPerLookup {
				seen[ct.ID] = true
				out = append(out, ct)
			}
		}
	}
	return out
}

// histories reads the contacts' histories through the call's loaders (one
// batch for all of them) and merges them newest first.
//
// A kind that failed while others were read leaves the answer without it
// (logged); the contract has no way to say "partial", and a contact screen
// is better with most of its history than with none. A kind the workspace
// does not have (calls without Intercom Phone) is simply empty. Only when
// every kind asked for failed is the call an error.
func (b *Bridge) histories(ctx context.Context, c *call, contacts []*sources.Contact, kinds []sources.InteractionKind) ([]*sources.Interaction, error) {
	lists := make([][]*sources.Interaction, len(contacts))
	errs := make([]error, len(contacts))
	var wg sync.WaitGroup
	for i, ct := range contacts {
		wg.Go(func() {
			lists[i], errs[i] = c.ws.Loaders.Interactions(ctx, sources.ContactRefOf(ct), kinds, time.Time{})
		})
	}
	wg.Wait()
	asked := kinds
	if len(asked) == 0 {
		asked = c.ws.History.SupportedInteractionKinds()
	}
	var merged []*sources.Interaction
	seen := map[string]bool{}
	for i, list := range lists {
		if err := usableHistory(errs[i], asked); err != nil {
			return nil, err
		}
		if errs[i] != nil && !onlyUnsupported(errs[i]) {
			web.Logger(ctx).Warn("talkdesk interaction_update: some interactions could not be read", "error", errs[i].Error())
		}
		for _, it := range list {
			key := string(it.Kind) + "\x00" + it.ID
			if !seen[key] {
				seen[key] = true
				merged = append(merged, it)
			}
		}
	}
	sources.SortInteractions(merged)
	return merged[:min(len(merged), maxInteractions)], nil
}

// usableHistory returns err when it leaves nothing to answer: an error that
// is not partial, or a partial one where every kind asked for failed for a
// reason other than the workspace lacking it.
func usableHistory(err error, asked []sources.InteractionKind) error {
	var partial *sources.PartialError
	if !errors.As(err, &partial) {
		return err // nil, or not partial
	}
	failed := false
	for _, k := range asked {
		e := partial.Failed[k]
		if e == nil {
			return nil // this kind was read
		}
		failed = failed || reallyFailed(e)
	}
	if !failed {
		return nil // only unsupported kinds: an empty history
	}
	return err
}

// onlyUnsupported reports whether err is partial with no kind that really
// failed, i.e. nothing worth a warning.
func onlyUnsupported(err error) bool {
	var partial *sources.PartialError
	if !errors.As(err, &partial) {
		return false
	}
	for _, e := range partial.Failed {
		if reallyFailed(e) {
			return false
		}
	}
	return true
}

// reallyFailed reports whether a kind's read failed for a reason other than
// the workspace not having that kind (which only means an empty history).
func reallyFailed(e error) bool {
	return e != nil && !errors.Is(e, sources.ErrKindNotSupported)
}

func toTalkdeskInteraction(it *sources.Interaction, typeName string) talkdeskInteraction {
	if typeName == "" {
		typeName = string(it.Kind)
	}
	priority := string(it.Priority)
	if priority == "" {
		priority = string(sources.PriorityNone)
	}
	subject := it.Subject
	if strings.TrimSpace(subject) == "" {
		subject = strings.ToUpper(string(it.Kind[:1])) + string(it.Kind[1:]) // mandatory in the contract
	}
	return talkdeskInteraction{
		ID:          it.ID,
		Subject:     subject,
		Description: it.Description,
		Date:        formatTime(it.Date),
		URL:         it.URL,
		Type:        typeName,
		Priority:    priority,
		Status:      string(it.Status),
	}
}
