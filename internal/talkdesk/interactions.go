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
//
// When some kinds could not be read, the answer is still 200 with the kinds
// that were, and UnreadTypesHeader names the others: the contract's answer is
// a bare array with no room to say so, and a contact screen is better with
// most of its history than with none. When none could be read, the answer is
// the failure's error (503, or 429 when throttled, with Retry-After when
// known): an empty 200 would say the contact has no history. Both are logged
// with the kinds that failed and counted (talkdesk_interaction_updates_total,
// talkdesk_interaction_kinds_unread_total), since how Talkdesk shows either
// is not documented.

// UnreadTypesHeader names, on a 200 answer of interaction_update, the asked
// types that could not be read (comma-separated, as Talkdesk named them).
const UnreadTypesHeader = "X-Unread-Interaction-Types"

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
	list, unread, err := b.histories(ctx, c, contacts, kinds)
	if err != nil {
		return reply{}, err
	}
	out := make([]talkdeskInteraction, 0, len(list))
	for _, it := range list {
		out = append(out, toTalkdeskInteraction(it, typeNames[it.Kind]))
	}
	res := reply{status: http.StatusOK, body: out}
	if unread != nil {
		names := make([]string, 0, len(unread.Failed))
		for _, k := range unread.Kinds() {
			names = append(names, typeNames[k])
		}
		res.header = http.Header{UnreadTypesHeader: {strings.Join(names, ", ")}}
	}
	return res, nil
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
		if err := sources.CheckID(c.data.path("contact_external_id"), id); err != nil {
			return nil, err
		}
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
// batch for all of them) and merges them newest first. unread names the
// kinds that failed for some contact while something was read (nil when
// none did); when nothing could be read the error says why. A kind the
// workspace does not have (calls without Intercom Phone) is not a failure:
// it is simply empty.
func (b *Bridge) histories(ctx context.Context, c *call, contacts []*sources.Contact,
	kinds []sources.InteractionKind) (list []*sources.Interaction, unread *sources.PartialError, err error) {
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
	failed := map[sources.InteractionKind]error{}
	readAny := len(contacts) == 0
	var merged []*sources.Interaction
	seen := map[string]bool{}
	for i, list := range lists {
		var partial *sources.PartialError
		if errs[i] != nil && !errors.As(errs[i], &partial) {
			return nil, nil, errs[i] // not about some kinds: bad input, the call's deadline
		}
		if usableHistory(errs[i], asked) == nil {
			readAny = true
		}
		if partial != nil {
			for k, e := range partial.Failed {
				if reallyFailed(e) && failed[k] == nil {
					failed[k] = e
				}
			}
		}
		for _, it := range list {
			key := string(it.Kind) + "\x00" + it.ID
			if !seen[key] {
				seen[key] = true
				merged = append(merged, it)
			}
		}
	}
	if len(failed) > 0 {
		unread = &sources.PartialError{Failed: failed}
	}
	b.count(ctx, readAny, unread)
	if !readAny {
		return nil, nil, nothingRead(unread)
	}
	sources.SortInteractions(merged)
	return merged[:min(len(merged), maxInteractions)], unread, nil
}

// count records how complete an answer is, in the metrics and the log.
func (b *Bridge) count(ctx context.Context, readAny bool, unread *sources.PartialError) {
	answer := "complete"
	switch {
	case !readAny:
		answer = "unavailable"
	case unread != nil:
		answer = "partial"
	}
	b.cfg.Metrics.InteractionUpdates.WithLabelValues(answer).Inc()
	if unread == nil {
		return
	}
	kinds := make([]string, 0, len(unread.Failed))
	for _, k := range unread.Kinds() {
		kinds = append(kinds, string(k))
		b.cfg.Metrics.UnreadKinds.WithLabelValues(string(k)).Inc()
	}
	web.Logger(ctx).Warn("talkdesk interaction_update: some interaction kinds could not be read",
		"answer", answer, "unread", strings.Join(kinds, ","), "error", unread.Error())
}

// nothingRead is the error of an answer with no kind read: the first failed
// kind's code (UPSTREAM_UNAVAILABLE, RATE_LIMITED, ...) and the longest wait
// any of them asked for, so that Retry-After covers every kind.
func nothingRead(unread *sources.PartialError) error {
	e := &sources.Error{Code: sources.ErrorCode(unread), Message: unread.Error(), Err: unread}
	for _, err := range unread.Failed {
		var coded *sources.Error
		if errors.As(err, &coded) {
			e.RetryAfterSeconds = max(e.RetryAfterSeconds, coded.RetryAfterSeconds)
		}
	}
	return e
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
