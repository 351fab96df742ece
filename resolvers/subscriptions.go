package resolvers

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/talkdesk-intercom/api/graph/model"
	"github.com/talkdesk-intercom/api/internal/events"
	"github.com/talkdesk-intercom/api/internal/streams"
	"github.com/talkdesk-intercom/api/internal/workspace"
	"github.com/talkdesk-intercom/api/sources"
)

// A subscription follows its workspace's live events (events.Hub), keeps
// those about its contact, and reads the contact or the interaction as it
// is now for each: the event says what changed, never a copy that could be
// stale by the time it arrives.

// follow subscribes to the events of the request's workspace after after
// (the argument, else SSE's Last-Event-ID); the caller runs it.
func (r *Resolver) follow(ctx context.Context, after *string) (*workspace.Workspace, *events.Subscription, error) {
	if r.Live == nil {
		return nil, nil, sources.Errorf(sources.EUnavailable, "subscriptions are not served here")
	}
	w, err := workspace.From(ctx)
	if err != nil {
		return nil, nil, err
	}
	id, ok := w.ID.Get()
	if !ok {
		ws, err := w.Source.Validate(ctx)
		if err != nil {
			return nil, nil, err
		}
		id = ws.ID
	}
	from := streams.LastEventID(ctx)
	if after != nil {
		from = *after
	}
	sub, err := r.Live.Subscribe(id, from)
	if errors.Is(err, events.ErrBadSequence) {
		return nil, nil, sources.InputError("after", "after is not an event's sequence: pass the sequence of the last event you saw")
	}
	return w, sub, err
}

// readTimeout bounds the read of what an event changed.
const readTimeout = 10 * time.Second

// contactEvent is what e tells a subscription to contact id (nil: nothing),
// and whether the subscription ends with it.
func contactEvent(e events.Entry, id string) (*model.ContactEvent, bool) {
	if e.Refetch {
		return &model.ContactEvent{Sequence: e.Seq, Kind: model.ContactEventKindUpdated, Refetch: true}, false
	}
	for _, c := range e.Change.Contacts {
		if c.ID == id {
			return &model.ContactEvent{Sequence: e.Seq, Kind: model.ContactEventKind(c.Kind)}, c.Kind.Ends()
		}
	}
	return nil, false
}

func survivorOf(e events.Entry, id string) string {
	for _, c := range e.Change.Contacts {
		if c.ID == id && c.Kind == sources.ContactMerged {
			return c.Survivor
		}
	}
	return ""
}

// readContact reads a contact as it is now; nil when it cannot be read (the
// event still tells what happened). Every subscription of the replica that
// asks for it after one event shares one read (Entry.Once): the workspace
// is the event's, and what a contact is does not depend on who asks.
func readContact(ctx context.Context, e events.Entry, w *workspace.Workspace, id string) *model.Contact {
	c, _ := e.Once("contact "+id, func() any {
		ctx, cancel := sharedReadContext(ctx)
		defer cancel()
		found, err := w.Source.ContactsByIDs(ctx, []string{id})
		if err != nil || found[id] == nil {
			return (*model.Contact)(nil)
		}
		return toContact(found[id])
	}).(*model.Contact)
	return c
}

// sharedReadContext bounds a read that other subscriptions share: it does
// not end with the subscription that happens to make it.
func sharedReadContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), readTimeout)
}

// interactionEvents are the events e holds for contactID's history of the
// kinds asked for (all when kinds is empty). The interaction is filled in
// later; its id and kind wait in a placeholder.
func interactionEvents(e events.Entry, contactID string, kinds []sources.InteractionKind) []*model.InteractionEvent {
	if e.Refetch {
		return []*model.InteractionEvent{{Sequence: e.Seq, Kind: model.InteractionEventKindUpdated, Refetch: true}}
	}
	var out []*model.InteractionEvent
	for _, c := range e.Change.Interactions {
		if !slices.Contains(c.ContactIDs, contactID) || (len(kinds) > 0 && !slices.Contains(kinds, c.Kind)) {
			continue
		}
		kind := model.InteractionEventKindUpdated
		if c.Created {
			kind = model.InteractionEventKindCreated
		}
		out = append(out, &model.InteractionEvent{Sequence: e.Seq, Kind: kind,
			Interaction: &model.Interaction{ID: c.ID, Type: model.InteractionType(strings.ToUpper(string(c.Kind)))}})
	}
	return out
}

// readInteraction finds the interaction ev names in the contact's history
// as it is now; nil when it is not there (yet) or cannot be read. Shared
// as readContact's.
func readInteraction(ctx context.Context, e events.Entry, w *workspace.Workspace, contactID string, ev *model.InteractionEvent) *model.Interaction {
	want := ev.Interaction
	kind := kindOf(want.Type)
	it, _ := e.Once("interaction "+contactID+" "+string(kind)+" "+want.ID, func() any {
		ctx, cancel := sharedReadContext(ctx)
		defer cancel()
		found, err := w.History.InteractionsByContacts(ctx, []sources.ContactRef{sources.ContactRefByID(contactID)},
			[]sources.InteractionKind{kind}, time.Time{})
		if err != nil && found == nil {
			return (*model.Interaction)(nil)
		}
		for _, it := range found[contactID] {
			if it.ID == want.ID {
				return toInteraction(it)
			}
		}
		return (*model.Interaction)(nil)
	}).(*model.Interaction)
	return it
}

// ringingFilter keeps the ringing calls for agentEmail and on
// talkdeskNumber, each when given. Numbers are compared by their digits, a
// number written without its country code matching the same number with it
// (a filter, not an identity: no contact is joined on it).
func (r *Resolver) ringingFilter(agentEmail, talkdeskNumber *string) (func(sources.CallRinging) bool, error) {
	agent := strings.ToLower(strings.TrimSpace(str(agentEmail)))
	number := digits(str(talkdeskNumber))
	if talkdeskNumber != nil && strings.TrimSpace(*talkdeskNumber) != "" && len(number) < minNumberDigits {
		return nil, sources.InputError("talkdeskNumber", "talkdeskNumber must be a phone number of at least %d digits", minNumberDigits)
	}
	return func(c sources.CallRinging) bool {
		if agent != "" && strings.ToLower(c.AgentEmail) != agent {
			return false
		}
		if number != "" {
			called := digits(c.TalkdeskNumber)
			if called == "" || !(strings.HasSuffix(called, number) || strings.HasSuffix(number, called)) {
				return false
			}
		}
		return true
	}, nil
}

// minNumberDigits is the fewest digits a number filter may have: fewer
// would match the ends of unrelated numbers.
const minNumberDigits = 7

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// incomingCall is what a dashboard is told of a ringing call (its caller's
// number in E.164 when Talkdesk's could be read: what contacts and caller
// look up).
func (r *Resolver) incomingCall(c sources.CallRinging) *model.IncomingCall {
	return &model.IncomingCall{CallID: c.CallID, Phone: c.Phone, TalkdeskNumber: optional(c.TalkdeskNumber), AgentEmail: optional(c.AgentEmail)}
}

// kindOf is the source kind of a GraphQL interaction type.
func kindOf(t model.InteractionType) sources.InteractionKind {
	return sources.InteractionKind(strings.ToLower(string(t)))
}

// sendOrStop hands v to a subscription's channel; false when the
// subscription ended first.
func sendOrStop[T any](ctx context.Context, out chan<- T, v T) bool {
	select {
	case out <- v:
		return true
	case <-ctx.Done():
		return false
	}
}
