package intercom

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/preview"
)

// Intercom Phone calls: GET /calls lists every call of the workspace (25 a
// page, no filter) and POST /calls/search takes conversation ids, not
// contact ids. Every Intercom Phone call belongs to a conversation whose
// source.type is phone_call (or phone_switch), so the batch's conversation
// search finds those conversations and one /calls/search per 20 of them
// finds their calls: a cost that grows with the batch's calls, not with the
// workspace's. A workspace without Intercom Phone answers the call
// endpoints 403 (or 404); calls are then "not supported" for an hour.

// endpointSearchCalls is the upstream endpoint, as Config.Observe and errors name it.
const endpointSearchCalls = "POST /calls/search"

const (
	maxCallSearchIDs = 20 // conversation_ids per POST /calls/search (the description)
	noPhoneTTL       = time.Hour
)

// phoneSourceTypes are the conversation sources that carry an Intercom
// Phone call.
var phoneSourceTypes = []string{"phone_call", "phone_switch"}

func (x *Interactions) phoneKnownMissing() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return !x.noPhoneAt.IsZero() && time.Since(x.noPhoneAt) < noPhoneTTL
}

// phoneCalls reads the calls of the batch's phone-call conversations. It
// searches those conversations on their own, beside the search of all
// conversations: one more call, but the calls need not wait for every page
// of a long conversation list (a dashboard's latency is the longest chain).
func (b *batch) phoneCalls(ctx context.Context, explicit bool) {
	if b.x.phoneKnownMissing() {
		b.calls(ctx, nil, explicit) // reports the kind as missing, if asked for
		return
	}
	convs, err := b.searchConversations(ctx, in("source.type", phoneSourceTypes))
	if err != nil {
		b.fail(sources.KindCall, err)
		return
	}
	b.calls(ctx, convs, explicit)
}

// calls reads the calls of the batch's phone-call conversations.
func (b *batch) calls(ctx context.Context, convs []wireConversation, explicit bool) {
	if b.x.phoneKnownMissing() {
		if explicit {
			b.fail(sources.KindCall, noPhone())
		}
		return
	}
	contactsOf := map[string][]string{}
	var phoneConvs []string
	for _, w := range convs {
		if w.Source != nil && slices.Contains(phoneSourceTypes, w.Source.Type) {
			phoneConvs = append(phoneConvs, string(w.ID))
			contactsOf[string(w.ID)] = w.Contacts
		}
	}
	var mu sync.Mutex
	var calls []wireCall
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.x.c.concurrency)
	for _, part := range chunk(phoneConvs, maxCallSearchIDs) {
		g.Go(func() error {
			var page wireCallList
			body := map[string][]string{"conversation_ids": part}
			if err := b.x.c.do(gctx, "POST", endpointSearchCalls, "/calls/search", nil, body, &page); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, page.Data...)
			return nil
		})
	}
	err := g.Wait()
	switch code := sources.ErrorCode(err); {
	case err == nil:
		b.add(sources.KindCall, func() (list []*sources.Interaction) {
			for i := range calls {
				w := &calls[i]
				ids := contactsOf[string(w.ConversationID)]
				if w.ContactID != "" {
					ids = []string{string(w.ContactID)}
				}
				list = append(list, b.forBatch(b.x.call(w, ""), ids)...)
			}
			return list
		})
	case code == sources.EForbidden || code == sources.ENotFound:
		b.x.mu.Lock()
		b.x.noPhoneAt = time.Now()
		b.x.mu.Unlock()
		if explicit {
			b.fail(sources.KindCall, noPhone())
		}
	default:
		b.fail(sources.KindCall, err)
	}
}

func noPhone() error {
	return sources.KindNotSupported(sources.KindCall, "this Intercom workspace has no Intercom Phone")
}

func (x *Interactions) call(w *wireCall, contactID string) *sources.Interaction {
	answered, ended := w.AnsweredAt.time(), w.EndedAt.time()
	it := &sources.Interaction{
		ID:             string(w.ID),
		Kind:           sources.KindCall,
		ContactID:      contactID,
		CreatedAt:      cmpTime(w.CreatedAt.time(), w.InitiatedAt.time()),
		UpdatedAt:      cmpTime(w.UpdatedAt.time(), cmpTime(ended, w.CreatedAt.time())),
		Priority:       sources.PriorityNone,
		Status:         callStatus(w.State, !ended.IsZero()),
		SourceState:    w.State,
		ConversationID: string(w.ConversationID),
		HasRecording:   w.RecordingURL != "",
	}
	it.Date = cmpTime(w.InitiatedAt.time(), it.CreatedAt)
	if !answered.IsZero() && ended.After(answered) {
		it.Duration = ended.Sub(answered)
	}
	var teammate *sources.Participant
	if id := string(w.AdminID); id != "" && id != "0" {
		teammate = &sources.Participant{Kind: sources.ParticipantAdmin, ID: id, Name: x.adminName(id)}
	}
	customer := &sources.Participant{Kind: sources.ParticipantContact, ID: cmp.Or(string(w.ContactID), contactID)}
	switch w.Direction {
	case "outbound":
		it.Direction, it.Author = sources.DirectionOutbound, teammate
	case "inbound":
		it.Direction, it.Author = sources.DirectionInbound, customer
	}
	it.Assignee = teammate
	it.Subject, it.Description = callSummary(w, it, teammate)
	it.Description = preview.Text(it.Description, x.preview)
	if it.ConversationID != "" {
		it.URL = x.inboxURL(it.ConversationID)
	} else {
		it.URL = x.contactURL(customer.ID)
	}
	return it
}

// callSummary words a call: "Missed inbound call", "Outbound call", ...
// and a line such as "Answered by Liam O'Connor · 4 min 12 s · +14155550142".
func callSummary(w *wireCall, it *sources.Interaction, teammate *sources.Participant) (subject, description string) {
	dir := map[string]string{"inbound": "Inbound call", "outbound": "Outbound call"}[w.Direction]
	if dir == "" {
		dir = "Call"
	}
	answered := !w.AnsweredAt.time().IsZero()
	reason := strings.ReplaceAll(w.EndedReason, "_", " ")
	var parts []string
	switch {
	case it.Status == sources.StatusOpen:
		subject = dir + " in progress"
	case answered:
		subject = dir
		who := "Answered"
		if teammate != nil && teammate.Name != "" {
			who += " by " + teammate.Name
		}
		parts = append(parts, who, formatDuration(it.Duration))
	case w.EndedReason == "voicemail":
		subject = dir + ": voicemail"
		parts = append(parts, "Not answered; voicemail")
	default:
		subject = "Missed " + strings.ToLower(dir[:1]) + dir[1:]
		if w.Direction == "outbound" {
			subject = "Unanswered outbound call"
		}
		if reason != "" && reason != "missed" {
			parts = append(parts, "Not answered ("+reason+")")
		} else {
			parts = append(parts, "Not answered")
		}
	}
	if w.Phone != "" {
		parts = append(parts, w.Phone)
	}
	if it.HasRecording {
		parts = append(parts, "recorded")
	}
	return subject, strings.Join(parts, " · ")
}

func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%d s", int(d.Seconds()))
	}
	return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
}
