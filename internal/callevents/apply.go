package callevents

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/talkdesk-intercom/api/internal/actions"
	"github.com/talkdesk-intercom/api/internal/tenants"
	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/phone"
)

// keyPrefix begins the idempotency keys of call events: in the namespace of
// the keys the service derives itself, which no caller may choose, and apart
// from the bridge's.
const keyPrefix = actions.DerivedKeyPrefix + "call-events:"

// applier applies one workspace's events.
type applier struct {
	s      *Service
	tenant *tenants.Tenant
	ws     string
}

// step is what an event leads to once merged into its call's state.
type step int

const (
	stepNone     step = iota // gathered: its call's record will carry it
	stepFinish               // write the call's record (after the settle window)
	stepFollowUp             // the record is written: a follow-up names the call
)

// merge adds the event to its call's state and says what comes next, and
// for a follow-up, which late generation it is in. A repeat of an event
// the frozen record already has finishes the record again (its actions
// replay): the earlier attempt may have stopped half way; a repeat of a
// late one writes its follow-up again, which replays too. An event of a
// call erased with its contact leads to nothing.
func (a *applier) merge(ctx context.Context, e Event) (step, int, error) {
	frozen, late, err := a.s.state.merge(ctx, a.ws, e)
	if errors.Is(err, errErased) {
		return stepNone, 0, nil
	}
	if err == nil {
		var of string
		if e.ContactExternalID != "" {
			of = contactName("id", e.ContactExternalID)
		}
		err = a.s.state.name(ctx, a.ws, e.CallID, of, a.s.contactNames(e))
	}
	switch {
	case err != nil:
		return stepNone, 0, err
	case late > 0:
		return stepFollowUp, late, nil
	case frozen || terminal(e.Event):
		return stepFinish, 0, nil
	}
	return stepNone, 0, nil
}

func anyTerminal(events map[string]Event) bool {
	for kind := range events {
		if terminal(kind) {
			return true
		}
	}
	return false
}

// call is a call's record as its events tell it.
type call struct {
	Event                                    // each field from the first event (in precedence) that has it
	ended, missed, abandoned, voicemail bool // which terminal events came
}

// precedence is the order in which a call's events give a field: the
// latest in a call's life first, so the outcome does not depend on the
// order events arrived in.
var precedence = []string{DispositionSet, VoicemailTranscribed, VoicemailLeft, CallEnded, CallAbandoned, CallMissed, CallAnswered, CallStarted}

func callOf(callID string, events map[string]Event) call {
	c := call{Event: Event{CallID: callID}}
	for _, kind := range precedence {
		e, ok := events[kind]
		if !ok {
			continue
		}
		dst, src := c.stringFields(), e.stringFields()
		for i, f := range src {
			if *dst[i].dst == "" {
				*dst[i].dst = *f.dst
			}
		}
		if c.DurationSeconds == nil {
			c.DurationSeconds = e.DurationSeconds
		}
	}
	_, c.ended = events[CallEnded]
	_, c.missed = events[CallMissed]
	_, c.abandoned = events[CallAbandoned]
	_, c.voicemail = events[VoicemailLeft]
	c.Event.Event = ""
	if c.Direction == "" {
		c.Direction = "inbound"
	}
	return c
}

func (c call) callback() bool { return c.missed || c.abandoned || c.voicemail }

// finish writes a call's record from its frozen state, with e (the event
// that ends it) should the state have lost it: the call on the contact's
// history when it ended, a callback ticket when it was missed, abandoned or
// left a voicemail. What the state says is written is not written again.
func (a *applier) finish(ctx context.Context, e Event) error {
	rec, err := a.s.state.freeze(ctx, a.ws, e.CallID)
	if errors.Is(err, errErased) {
		return nil
	}
	if err != nil {
		return err
	}
	events := rec.events
	if _, ok := events[e.Event]; !ok && terminal(e.Event) && !anyTerminal(events) {
		events[e.Event] = e
	}
	c := callOf(e.CallID, events)
	record, ticket := c.ended && !rec.written.record, c.callback() && rec.written.ticketID == ""
	if !record && !ticket {
		return nil
	}
	contact, err := a.contact(ctx, c)
	if err != nil || contact == nil {
		return err
	}
	// Deleting the contact in Intercom erases the call's state: it is
	// noted under the contact's id, however it was found, and as its call
	// (deleting another contact with the number leaves it).
	of := contactName("id", contact.ID)
	if err := a.s.state.name(ctx, a.ws, e.CallID, of, []string{of}); err != nil {
		return err
	}
	if record {
		if err := a.logCall(ctx, c, contact); err != nil {
			return err
		}
		if err := a.s.state.mark(ctx, a.ws, c.CallID, writtenRecord, "1"); err != nil {
			return err
		}
	}
	if ticket {
		if _, err := a.ticket(ctx, c, contact, rec.written); err != nil {
			return err
		}
	}
	return nil
}

// ticket is the call's callback ticket: the one its state names, else one
// opened (or replayed) now and noted in its state.
func (a *applier) ticket(ctx context.Context, c call, contact *sources.Contact, w written) (*sources.Ticket, error) {
	if w.ticketID != "" {
		return &sources.Ticket{ID: w.ticketID, Reference: w.ticketRef}, nil
	}
	t, err := a.callbackTicket(ctx, c, contact)
	if err != nil {
		return nil, err
	}
	return t, a.s.state.mark(ctx, a.ws, c.CallID, writtenTicketID, t.ID, writtenTicketRef, t.Reference)
}

// errSkipped says a call has no contact to write on and gets none (a
// withheld or blocked number, or leads are off); the worker counts it.
type skipped struct{ reason string }

func (s skipped) Error() string { return "skipped: " + s.reason }

// permanent is an event that cannot be applied however often it is
// retried: it goes to the dead letters with its reason.
type permanent struct{ reason string }

func (p permanent) Error() string { return p.reason }

// withheld are the words Talkdesk and carriers put in place of a number
// that is not shown.
var withheld = []string{"anonymous", "private", "restricted", "unknown", "withheld", "unavailable", "blocked"}

// contact is the contact a call is written on: the one Talkdesk names (its
// external id is the Intercom id the bridge synchronised), else the one
// with the caller's number, else a new lead (CALL_EVENTS_CREATE_LEADS) for
// a number that is neither withheld nor blocked. Nil with a skipped error
// when there is none.
func (a *applier) contact(ctx context.Context, c call) (*sources.Contact, error) {
	if c.ContactExternalID != "" {
		found, err := a.tenant.Source.ContactsByIDs(sources.WithoutStale(ctx), []string{c.ContactExternalID})
		if err != nil {
			return nil, err
		}
		if ct := found[c.ContactExternalID]; ct != nil {
			return ct, nil
		}
	}
	raw := strings.TrimSpace(c.ContactPhone)
	if raw == "" || slices.Contains(withheld, strings.ToLower(raw)) {
		return nil, skipped{"the caller's number is withheld"}
	}
	number, err := phone.Normalize(raw, a.s.cfg.DefaultCountry)
	if err != nil {
		// Not quoted: a reason is logged, and a number is personal data.
		return nil, permanent{"contact_phone is not a phone number this server can read (a national number needs CALL_EVENTS_DEFAULT_COUNTRY)"}
	}
	if !a.s.cfg.CreateLeads || slices.Contains(a.s.cfg.BlockedNumbers, number) {
		found, err := a.tenant.Source.ContactsByPhones(sources.WithoutStale(ctx), []string{number})
		if err != nil {
			return nil, err
		}
		if list := found[number]; len(list) > 0 {
			return list[0], nil
		}
		if !a.s.cfg.CreateLeads {
			return nil, skipped{"no contact has the caller's number and CALL_EVENTS_CREATE_LEADS is off"}
		}
		return nil, skipped{"no contact has the caller's number, which is blocked (CALL_EVENTS_BLOCKED_NUMBERS)"}
	}
	// An existing contact with the number is returned as is: a lead is
	// created only for a number no contact has.
	res, err := a.tenant.Actions.CreateContact(ctx, callID(c.CallID, "contact"), actions.CreateContactRequest{Phone: number, Role: "lead"})
	if err != nil {
		return nil, actionError(err)
	}
	if res.Created {
		a.s.metrics.Effects.WithLabelValues("lead").Inc()
	}
	return res.Contact, nil
}

// contactNames are the names of the contact an event names, under which
// its call's state is noted: the contact Talkdesk names, and the caller's
// number.
func (s *Service) contactNames(e Event) []string {
	var names []string
	if e.ContactExternalID != "" {
		names = append(names, contactName("id", e.ContactExternalID))
	}
	if n, err := phone.Normalize(e.ContactPhone, s.cfg.DefaultCountry); err == nil {
		names = append(names, contactName("phone", n))
	}
	return names
}

// callID is the idempotency key of one effect of a call.
func callID(id, effect string) string { return keyPrefix + id + "/" + effect }

func (a *applier) logCall(ctx context.Context, c call, contact *sources.Contact) error {
	req := actions.LogCallRequest{
		ContactID: contact.ID, Direction: c.Direction, DefaultCountry: a.s.cfg.DefaultCountry,
		StartedAt: c.startedAt(), Disposition: c.Disposition, RecordingURL: c.RecordingURL, Notes: c.Notes,
	}
	if c.DurationSeconds != nil {
		req.DurationSeconds = *c.DurationSeconds
	}
	req.From, req.To = c.ContactPhone, c.TalkdeskNumber
	if c.Direction == "outbound" {
		req.From, req.To = c.TalkdeskNumber, c.ContactPhone
	}
	agent, err := a.agent(ctx, c)
	if err != nil {
		return err
	}
	req.AgentID = agent
	if agent == "" && c.AgentEmail != "" {
		// An agent who is not a teammate in Intercom is still named.
		req.Notes = strings.TrimSpace("Agent: " + c.AgentEmail + "\n" + req.Notes)
	}
	if _, err := a.tenant.Actions.LogCall(ctx, callID(c.CallID, "record"), req); err != nil {
		return actionError(err)
	}
	a.s.metrics.Effects.WithLabelValues("call_record").Inc()
	return nil
}

// startedAt is when the call began, as the events tell it best.
func (c call) startedAt() time.Time {
	for _, v := range []string{c.StartedAt, c.AnsweredAt} {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t
		}
	}
	if t, err := time.Parse(time.RFC3339, c.EndedAt); err == nil {
		if c.DurationSeconds != nil {
			return t.Add(-time.Duration(*c.DurationSeconds) * time.Second)
		}
		return t
	}
	return time.Time{}
}

// agent is the Intercom teammate who took the call: its external id is the
// admin id the bridge's agent sync gave Talkdesk, else the same email.
// Empty when none is (the token's admin writes the record).
func (a *applier) agent(ctx context.Context, c call) (string, error) {
	if c.AgentExternalID == "" && c.AgentEmail == "" {
		return "", nil
	}
	list, err := a.tenant.Source.ListAgents(ctx)
	if err != nil {
		return "", err
	}
	for _, ag := range list {
		if c.AgentExternalID != "" && ag.ID == c.AgentExternalID {
			return ag.ID, nil
		}
	}
	for _, ag := range list {
		if c.AgentEmail != "" && strings.EqualFold(ag.Email, c.AgentEmail) {
			return ag.ID, nil
		}
	}
	return "", nil
}

func (c call) what() string {
	switch {
	case c.voicemail:
		return "Voicemail"
	case c.abandoned:
		return "Abandoned call"
	default:
		return "Missed call"
	}
}

func (c call) when() string {
	if t := c.startedAt(); !t.IsZero() {
		return t.UTC().Format("2 Jan 2006 15:04 MST")
	}
	return "time not sent"
}

// callbackTicket opens the call's callback ticket (once: a repeat replays
// the first), with the voicemail and its transcription when they came with
// the call.
func (a *applier) callbackTicket(ctx context.Context, c call, contact *sources.Contact) (*sources.Ticket, error) {
	var d strings.Builder
	fmt.Fprintf(&d, "%s from %s (Talkdesk call %s, %s).\n", c.what(), orNone(c.ContactPhone), c.CallID, c.when())
	line := func(label, v string) {
		if v != "" {
			fmt.Fprintf(&d, "%s: %s\n", label, v)
		}
	}
	line("Talkdesk number", c.TalkdeskNumber)
	line("Agent", c.AgentEmail)
	line("Voicemail", c.VoicemailURL)
	line("Transcription", c.Transcription)
	line("Notes", c.Notes)
	t, err := a.tenant.Actions.CreateTicket(ctx, callID(c.CallID, "callback"), actions.CreateTicketRequest{
		ContactID: contact.ID, TicketType: a.s.cfg.CallbackTicketType,
		Title:       fmt.Sprintf("Call back %s: %s, %s", orNone(c.ContactPhone), strings.ToLower(c.what()), c.when()),
		Description: strings.TrimSpace(d.String()),
	})
	if err != nil {
		return nil, actionError(err)
	}
	a.s.metrics.Effects.WithLabelValues("callback_ticket").Inc()
	return t, nil
}

func orNone(s string) string {
	if s == "" {
		return "a withheld number"
	}
	return s
}

// followUp writes what late generation n of a call gathered (what came
// after its record was written, for a settle window): one follow-up that
// names the call, never a second record: a note on the callback ticket
// where there is one (Intercom's reply of type note), else a note on the
// contact. Its key is the generation's, so each
// of its events, and a repeat of any, writes it once.
func (a *applier) followUp(ctx context.Context, id string, n int) error {
	rec, late, err := a.s.state.closeLate(ctx, a.ws, id, n)
	if errors.Is(err, errErased) || err == nil && rec.written.followUps[n] {
		return nil
	}
	if err != nil {
		return err
	}
	var lines []string
	add := func(label, v string) {
		if v != "" {
			lines = append(lines, label+": "+v)
		}
	}
	add("Outcome", late.Disposition)
	add("Recording", late.RecordingURL)
	add("Voicemail", late.VoicemailURL)
	add("Transcription", late.Transcription)
	add("Notes", late.Notes)
	if len(lines) == 0 {
		return nil // a late call_started or call_answered adds nothing
	}
	c := callOf(id, rec.events)
	contact, err := a.contact(ctx, c)
	if err != nil || contact == nil {
		return err
	}
	head := fmt.Sprintf("Follow-up to Talkdesk call %s (%s %s)", id, c.Direction, c.when())
	key := callID(id, "follow-up/"+strconv.Itoa(n))
	if c.callback() {
		// A note on the callback ticket, where whoever calls back looks.
		t, err := a.ticket(ctx, c, contact, rec.written)
		if err != nil {
			return err
		}
		body := head + ", callback ticket " + ticketName(t) + "\n" + strings.Join(lines, "\n")
		if _, err := a.tenant.Actions.AddTicketNote(ctx, key, actions.AddTicketNoteRequest{TicketID: t.ID, ContactID: contact.ID, Body: body}); err != nil {
			return actionError(err)
		}
	} else if _, err := a.tenant.Actions.AddNote(ctx, key, actions.AddNoteRequest{ContactID: contact.ID, Body: head + "\n" + strings.Join(lines, "\n")}); err != nil {
		return actionError(err)
	}
	a.s.metrics.Effects.WithLabelValues("follow_up").Inc()
	return a.s.state.mark(ctx, a.ws, id, writtenFollowUp+strconv.Itoa(n), "1")
}

func ticketName(t *sources.Ticket) string {
	if t == nil {
		return ""
	}
	if t.Reference != "" {
		return "#" + t.Reference
	}
	return t.ID
}

// actionError makes an action's input problems permanent: the event
// carries something Intercom will refuse however often it is sent (a
// missing talkdesk_number, a ticket type the workspace lacks).
func actionError(err error) error {
	var p actions.Problems
	if errors.As(err, &p) {
		return permanent{p.Error()}
	}
	return err
}

// retryable says whether an error may pass: Intercom or Redis away, a
// spent budget, an earlier attempt still running.
func retryable(err error) bool {
	var p permanent
	var s skipped
	if errors.As(err, &p) || errors.As(err, &s) {
		return false
	}
	switch sources.ErrorCode(err) {
	case sources.EBadUserInput, sources.ENotFound, sources.EForbidden, sources.EUnauthenticated:
		return false
	}
	return true
}
