package intercom

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/talkdesk-intercom/api/internal/preview"
	"github.com/talkdesk-intercom/api/sources"
)

// Interaction retrieval: what a caller did before. Conversations and tickets
// are searched for a whole batch of contacts at once (contact_ids IN [...]),
// notes are read per contact and only for contacts that have some, and
// calls are read for the batch's phone-call conversations.
//
// Intercom Phone calls: GET /calls lists every call of the workspace (25 a
// page, no filter) and POST /calls/search takes conversation ids, not
// contact ids. Every Intercom Phone call belongs to a conversation whose
// source.type is phone_call (or phone_switch), so the batch's conversation
// search finds those conversations and one /calls/search per 20 of them
// finds their calls: a cost that grows with the batch's calls, not with the
// workspace's. A workspace without Intercom Phone answers the call
// endpoints 403 (or 404); calls are then "not supported" for an hour.

var _ sources.InteractionFinder = (*Interactions)(nil)

// Upstream endpoints, as Config.Observe and errors name them.
const (
	endpointSearchConversations = "POST /conversations/search"
	endpointSearchTickets       = "POST /tickets/search"
	endpointContactNotes        = "GET /contacts/{id}/notes"
	endpointSearchCalls         = "POST /calls/search"
	endpointConversation        = "GET /conversations/{id}"
	endpointTicket              = "GET /tickets/{id}"
)

// Limits of the interaction reads.
const (
	maxCallSearchIDs = 20 // conversation_ids per POST /calls/search (the description)
	maxListPages     = 200
	subjectLength    = 120
	adminNamesTTL    = 10 * time.Minute
	noPhoneTTL       = time.Hour
)

// phoneSourceTypes are the conversation sources that carry an Intercom
// Phone call.
var phoneSourceTypes = []string{"phone_call", "phone_switch"}

// InteractionsConfig configures Interactions.
type InteractionsConfig struct {
	// PreviewLength bounds Interaction.Description, in runes. Default
	// sources.PreviewLength.
	PreviewLength int
}

// Interactions reads contacts' histories from one Intercom workspace through
// a Client: conversations, tickets, notes and Intercom Phone calls. Deep
// links name the workspace the Client learns from GET /me once. It
// remembers the admins' names (for ten minutes, to name assignees) and
// whether the workspace has Intercom Phone, so create one per Client and
// keep it. It is safe for concurrent use.
type Interactions struct {
	c       *Client
	preview int
	flights singleflight.Group

	mu             sync.Mutex
	adminNames     map[string]string
	adminsAt       time.Time
	adminsFailedAt time.Time // names are not asked for again for a minute
	noPhoneAt      time.Time // when the workspace last answered it has no Intercom Phone
}

// NewInteractions returns the interaction reader of c's workspace.
func NewInteractions(c *Client, cfg InteractionsConfig) *Interactions {
	x := &Interactions{c: c, preview: cfg.PreviewLength}
	if x.preview <= 0 {
		x.preview = sources.PreviewLength
	}
	return x
}

// SupportedInteractionKinds lists conversations, tickets, notes and calls;
// calls leave the list for an hour once the workspace answers that it has no
// Intercom Phone.
func (x *Interactions) SupportedInteractionKinds() []sources.InteractionKind {
	kinds := sources.InteractionKinds()
	if x.phoneKnownMissing() {
		kinds = slices.DeleteFunc(kinds, func(k sources.InteractionKind) bool { return k == sources.KindCall })
	}
	return kinds
}

func (x *Interactions) phoneKnownMissing() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return !x.noPhoneAt.IsZero() && time.Since(x.noPhoneAt) < noPhoneTTL
}

// InteractionsByContacts implements sources.InteractionFinder. For a batch
// it makes one conversation search and one ticket search per 100 contacts
// (more only when a search has more than 150 results to page through), one
// notes read per contact whose NotesCount is not 0 (at most
// Config.Concurrency at a time), and one call search per 20 phone-call
// conversations found. A since filter is sent to the searches with a day of
// overlap (Intercom matches dates by calendar day) and applied exactly here.
func (x *Interactions) InteractionsByContacts(ctx context.Context, contacts []sources.ContactRef, kinds []sources.InteractionKind,
	since time.Time) (map[string][]*sources.Interaction, error) {
	want, explicit, err := x.kindsToRead(kinds)
	if err != nil {
		return nil, err
	}
	refs := uniqueRefs(contacts)
	out := make(map[string][]*sources.Interaction, len(refs))
	for _, r := range refs {
		out[r.ID] = []*sources.Interaction{}
	}
	if len(refs) == 0 {
		return out, nil
	}
	ids := make([]string, len(refs))
	inBatch := make(map[string]bool, len(refs))
	for i, r := range refs {
		ids[i] = r.ID
		inBatch[r.ID] = true
	}
	b := &batch{x: x, ids: ids, inBatch: inBatch, since: since, results: map[sources.InteractionKind][]mapper{},
		failed: map[sources.InteractionKind]error{}}

	var wg sync.WaitGroup
	wg.Go(func() { x.ensureWorkspaceID(ctx) })
	wg.Go(func() { x.ensureAdminNames(ctx) })
	if want[sources.KindConversation] {
		wg.Go(func() { b.conversations(ctx) })
	}
	if want[sources.KindCall] {
		wg.Go(func() { b.phoneCalls(ctx, explicit) })
	}
	if want[sources.KindTicket] {
		wg.Go(func() { b.tickets(ctx) })
	}
	if want[sources.KindNote] {
		wg.Go(func() { b.notes(ctx, refs) })
	}
	wg.Wait()

	for _, k := range sources.InteractionKinds() {
		for _, m := range b.results[k] {
			for _, it := range m() {
				if !since.IsZero() && it.Date.Before(since) {
					continue
				}
				out[it.ContactID] = append(out[it.ContactID], it)
			}
		}
	}
	for id := range out {
		sources.SortInteractions(out[id])
	}
	if len(b.failed) > 0 {
		return out, &sources.PartialError{Failed: b.failed}
	}
	return out, nil
}

// kindsToRead validates kinds: empty means every supported kind. explicit
// reports whether calls were asked for by name.
func (x *Interactions) kindsToRead(kinds []sources.InteractionKind) (want map[sources.InteractionKind]bool, explicit bool, err error) {
	want = map[sources.InteractionKind]bool{}
	for _, k := range kinds {
		if !k.Valid() {
			return nil, false, sources.InputError("kinds", "%s is not an interaction kind: use conversation, ticket, note or call", sources.Quote(string(k)))
		}
		want[k] = true
	}
	if len(kinds) == 0 {
		for _, k := range x.SupportedInteractionKinds() {
			want[k] = true
		}
	}
	return want, len(kinds) > 0 && want[sources.KindCall], nil
}

func uniqueRefs(refs []sources.ContactRef) []sources.ContactRef {
	out := make([]sources.ContactRef, 0, len(refs))
	at := map[string]int{}
	for _, r := range refs {
		if r.ID == "" {
			continue
		}
		if i, seen := at[r.ID]; seen {
			// The same contact twice: read its notes if either says so.
			if r.NotesCount != 0 {
				out[i].NotesCount = r.NotesCount
			}
			continue
		}
		at[r.ID] = len(out)
		out = append(out, r)
	}
	return out
}

// batch is one InteractionsByContacts call in progress.
type batch struct {
	x       *Interactions
	ids     []string
	inBatch map[string]bool // ids as a set, for forBatch
	since   time.Time

	mu      sync.Mutex
	results map[sources.InteractionKind][]mapper
	failed  map[sources.InteractionKind]error
}

// mapper turns what a read brought back into interactions. Mappers run once
// every read is done, when the workspace id (for links) and the admins'
// names (for assignees) are known.
type mapper func() []*sources.Interaction

func (b *batch) fail(kind sources.InteractionKind, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failed[kind] = err
}

// add records the mapper of what a read of kind brought back.
func (b *batch) add(kind sources.InteractionKind, m mapper) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.results[kind] = append(b.results[kind], m)
}

// forBatch returns a copy of it for each contact of the batch among ids,
// once each. ids is an item's contacts, a short list: a linear look-back
// finds repeats without a map.
func (b *batch) forBatch(it *sources.Interaction, ids []string) []*sources.Interaction {
	var out []*sources.Interaction
	for i, id := range ids {
		if b.inBatch[id] && !slices.Contains(ids[:i], id) {
			cp := *it
			cp.ContactID = id
			out = append(out, &cp)
		}
	}
	return out
}

// searchQuery is contact_ids IN part, with the whole-day since filter (the
// exact bound is applied to the interactions).
func (b *batch) searchQuery(part []string, extra ...filter) filter {
	fs := append([]filter{in("contact_ids", part)}, extra...)
	if !b.since.IsZero() {
		fs = append(fs, onOrAfter("updated_at", b.since))
	}
	if len(fs) == 1 {
		return fs[0]
	}
	return and(fs...)
}

func and(fs ...filter) filter { return filter{Operator: "AND", Value: fs} }

// conversations searches the batch's conversations.
func (b *batch) conversations(ctx context.Context) {
	convs, err := b.searchConversations(ctx)
	if err != nil {
		b.fail(sources.KindConversation, err)
		return
	}
	b.add(sources.KindConversation, func() (list []*sources.Interaction) {
		for i := range convs {
			list = append(list, b.forBatch(b.x.conversation(&convs[i], ""), convs[i].Contacts)...)
		}
		return list
	})
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

// searchConversations runs a conversation search over the batch's contacts.
func (b *batch) searchConversations(ctx context.Context, extra ...filter) ([]wireConversation, error) {
	return searchBatch[wireConversationList](ctx, b, endpointSearchConversations, "/conversations/search",
		func(w *wireConversation) string { return string(w.ID) }, extra...)
}

// searchBatch runs a search over the batch's contacts (searchChunks, then
// searchAll) and returns the items found, each once: an item whose contacts
// fall in two chunks is found by both.
func searchBatch[L, T any, P interface {
	*L
	pages() *wireListPages
	items() []T
}](ctx context.Context, b *batch, endpoint, path string, id func(*T) string, extra ...filter) ([]T, error) {
	var mu sync.Mutex
	var found []T
	seen := map[string]bool{}
	err := b.searchChunks(ctx, func(ctx context.Context, part []string) error {
		return searchAll(ctx, b.x.c, endpoint, path, b.searchQuery(part, extra...), func(page P) {
			mu.Lock()
			defer mu.Unlock()
			for _, w := range page.items() {
				if k := id(&w); !seen[k] {
					seen[k] = true
					found = append(found, w)
				}
			}
		})
	})
	return found, err
}

// searchChunks runs search for each chunk of at most 100 of the batch's
// ids, at most Config.Concurrency at a time; the first error stops them.
func (b *batch) searchChunks(ctx context.Context, search func(context.Context, []string) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.x.c.concurrency)
	for _, part := range chunk(b.ids, maxINValues) {
		g.Go(func() error { return search(gctx, part) })
	}
	return g.Wait()
}

// searchAll runs a search and hands each page to take, following the
// cursor to the last page.
func searchAll[L any, P interface {
	*L
	pages() *wireListPages
}](ctx context.Context, c *Client, endpoint, path string, q filter, take func(P)) error {
	req := searchRequest{Query: q, Pagination: &pagination{PerPage: maxPerPage}}
	prev := ""
	for range maxListPages {
		page := P(new(L))
		if err := c.do(ctx, "POST", endpoint, path, nil, req, page); err != nil {
			return err
		}
		take(page)
		cursor, _ := page.pages().next()
		// An empty cursor has been seen to give 500; a repeated one would loop.
		if cursor == "" || cursor == prev {
			return nil
		}
		req.Pagination.StartingAfter, prev = cursor, cursor
	}
	return nil
}

func (l *wireConversationList) pages() *wireListPages { return l.Pages }
func (l *wireTicketList) pages() *wireListPages       { return l.Pages }

func (b *batch) tickets(ctx context.Context) {
	tickets, err := searchBatch[wireTicketList](ctx, b, endpointSearchTickets, "/tickets/search",
		func(w *wireTicket) string { return string(w.ID) })
	if err != nil {
		b.fail(sources.KindTicket, err)
		return
	}
	b.add(sources.KindTicket, func() (list []*sources.Interaction) {
		for i := range tickets {
			list = append(list, b.forBatch(b.x.ticket(&tickets[i], ""), tickets[i].Contacts)...)
		}
		return list
	})
}

// notes reads the notes of each contact whose notes count is not zero, at
// most Config.Concurrency at a time. A contact that no longer exists has
// none.
func (b *batch) notes(ctx context.Context, refs []sources.ContactRef) {
	var ids []string
	for _, r := range refs {
		if r.NotesCount != 0 {
			ids = append(ids, r.ID)
		}
	}
	notes, err := readEach(ctx, b.x.c.concurrency, ids, b.x.contactNotes)
	if err != nil {
		b.fail(sources.KindNote, err)
		return
	}
	b.add(sources.KindNote, func() (list []*sources.Interaction) {
		for i, id := range ids {
			for j := range notes[i] {
				list = append(list, b.x.note(&notes[i][j], id))
			}
		}
		return list
	})
}

// contactNotes reads all notes of a contact. The description lists no
// paging parameters: the first page is asked for plainly, and the next by
// the pages.next cursor (starting_after) or, failing that, by page number.
func (x *Interactions) contactNotes(ctx context.Context, contactID string) ([]wireContactNote, error) {
	path := "/contacts/" + url.PathEscape(contactID) + "/notes"
	var all []wireContactNote
	var q url.Values
	lastPage := 0
	for range maxListPages {
		var page wireContactNotes
		if err := x.c.do(ctx, "GET", endpointContactNotes, path, q, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Data...)
		cursor, next := page.Pages.next()
		n := 0
		if page.Pages != nil {
			n = int(page.Pages.Page)
		}
		switch {
		case len(page.Data) == 0 || (n != 0 && n <= lastPage):
			return all, nil // nothing new: the last page, or a server that ignores paging
		case cursor != "":
			q = url.Values{"starting_after": {cursor}}
		case next > 0:
			q = url.Values{"page": {fmt.Sprint(next)}}
		default:
			return all, nil
		}
		lastPage = n
	}
	return all, nil
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

// Conversation reads one conversation; ContactID is its first contact.
func (x *Interactions) Conversation(ctx context.Context, id string) (*sources.Interaction, error) {
	var w wireConversation
	if err := x.c.do(ctx, "GET", endpointConversation, "/conversations/"+url.PathEscape(id), nil, nil, &w); err != nil {
		return nil, err
	}
	x.prepare(ctx)
	return x.conversation(&w, first(w.Contacts)), nil
}

// Ticket reads one ticket by its id (not the inbox number); ContactID is
// its first contact.
func (x *Interactions) Ticket(ctx context.Context, id string) (*sources.Interaction, error) {
	var w wireTicket
	if err := x.c.do(ctx, "GET", endpointTicket, "/tickets/"+url.PathEscape(id), nil, nil, &w); err != nil {
		return nil, err
	}
	x.prepare(ctx)
	return x.ticket(&w, first(w.Contacts)), nil
}

func first(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

// prepare learns the workspace id and admin names, concurrently.
func (x *Interactions) prepare(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { x.ensureWorkspaceID(ctx) })
	wg.Go(func() { x.ensureAdminNames(ctx) })
	wg.Wait()
}

// ensureWorkspaceID learns the workspace id (the Client asks GET /me once).
// Failing, deep links are left out and the next call tries again.
func (x *Interactions) ensureWorkspaceID(ctx context.Context) {
	_, _ = x.c.linkWorkspace(ctx)
}

// ensureAdminNames refreshes the admins' names every ten minutes. Failing
// (a token without access to admins, say), assignees keep their ids but
// lose their names, and the names are not asked for again for a minute.
func (x *Interactions) ensureAdminNames(ctx context.Context) {
	x.mu.Lock()
	fresh := x.adminNames != nil && time.Since(x.adminsAt) < adminNamesTTL || time.Since(x.adminsFailedAt) < time.Minute
	x.mu.Unlock()
	if fresh {
		return
	}
	_, _, _ = x.flights.Do("admins", func() (any, error) {
		agents, err := x.c.ListAgents(context.WithoutCancel(ctx))
		if err != nil {
			x.mu.Lock()
			x.adminsFailedAt = time.Now()
			x.mu.Unlock()
			return nil, err
		}
		names := make(map[string]string, len(agents))
		for _, a := range agents {
			names[a.ID] = a.Name
		}
		x.mu.Lock()
		x.adminNames, x.adminsAt = names, time.Now()
		x.mu.Unlock()
		return nil, nil
	})
}

// workspace is the workspace id if known, without asking for it.
func (x *Interactions) adminName(id string) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.adminNames[id]
}

// ---- mapping: Intercom objects to interactions ----

// The Intercom → Talkdesk mapping of status and priority, in one place.
//
// Conversations: state, refined by who spoke last and whether the team has
// answered at all.
//
//	| Intercom state | and                                          | status  |
//	|----------------|----------------------------------------------|---------|
//	| open           | no teammate has replied yet                  | new     |
//	| open           | the customer spoke last (waiting_since set)  | open    |
//	| open           | a teammate spoke last (waiting_since null)   | pending |
//	| snoozed        |                                              | pending |
//	| closed         |                                              | closed  |
//
// "No teammate has replied yet": the customer started the conversation and
// statistics.first_admin_reply_at is absent; when a search answer carries no
// statistics, a conversation that is unread and whose customer is waiting.
// A closed conversation is "closed", not "solved": Intercom does not say
// whether closing it solved anything.
//
// Conversation priority (2.16 names five levels; before 2.11 a conversation
// was "priority" or "not_priority"):
//
//	| Intercom              | priority |
//	|-----------------------|----------|
//	| urgent                | urgent   |
//	| high, priority        | high     |
//	| medium                | normal   |
//	| low                   | low      |
//	| none, not_priority, ""| none     |
//
// Tickets: the category of ticket_state, and open.
//
//	| ticket_state.category | open  | status  |
//	|-----------------------|-------|---------|
//	| submitted             | true  | new     |
//	| in_progress           | true  | open    |
//	| waiting_on_customer   | true  | pending |
//	| resolved              | any   | solved  |
//	| any other             | false | closed  |
//
// Tickets have no priority in Intercom: "none", unless the ticket has a
// "priority" attribute holding one of the conversation values above.
//
// Notes are records of the past with nothing to act on: status "closed",
// priority "none".
//
// Calls: a call still ringing or in progress is "open"; any other (ended:
// answered, missed, voicemail) is "closed" (a missed call's follow-up lives
// in its conversation, which is "new" until someone answers). Priority
// "none".

func conversationStatus(w *wireConversation) sources.Status {
	switch w.State {
	case "closed":
		return sources.StatusClosed
	case "snoozed":
		return sources.StatusPending
	}
	if w.Open != nil && !*w.Open {
		return sources.StatusClosed
	}
	if conversationUnanswered(w) {
		return sources.StatusNew
	}
	if w.WaitingSince > 0 {
		return sources.StatusOpen
	}
	return sources.StatusPending
}

// conversationUnanswered reports whether the customer started the
// conversation and no teammate has replied yet.
func conversationUnanswered(w *wireConversation) bool {
	if w.Source == nil || w.Source.Author == nil || participantKind(w.Source.Author.Type) != sources.ParticipantContact {
		return false
	}
	if w.Statistics != nil {
		return w.Statistics.FirstAdminReplyAt <= 0 && w.Statistics.LastAdminReplyAt <= 0
	}
	return w.Read != nil && !*w.Read && w.WaitingSince > 0
}

var priorities = map[string]sources.Priority{
	"urgent":       sources.PriorityUrgent,
	"high":         sources.PriorityHigh,
	"priority":     sources.PriorityHigh,
	"medium":       sources.PriorityNormal,
	"normal":       sources.PriorityNormal,
	"low":          sources.PriorityLow,
	"none":         sources.PriorityNone,
	"not_priority": sources.PriorityNone,
}

func priority(p string) sources.Priority {
	if v, ok := priorities[strings.ToLower(strings.TrimSpace(p))]; ok {
		return v
	}
	return sources.PriorityNone
}

func ticketStatus(category string, open *bool) sources.Status {
	if category == "resolved" {
		return sources.StatusSolved
	}
	if open != nil && !*open {
		return sources.StatusClosed
	}
	switch category {
	case "submitted":
		return sources.StatusNew
	case "in_progress":
		return sources.StatusOpen
	case "waiting_on_customer":
		return sources.StatusPending
	}
	return sources.StatusOpen
}

func callStatus(state string, ended bool) sources.Status {
	switch strings.ToLower(state) {
	case "ringing", "queued", "initiated", "in_progress", "in-progress", "active", "answered":
		if !ended {
			return sources.StatusOpen
		}
	}
	return sources.StatusClosed
}

func participantKind(t string) sources.ParticipantKind {
	switch t {
	case "admin":
		return sources.ParticipantAdmin
	case "bot":
		return sources.ParticipantBot
	case "team":
		return sources.ParticipantTeam
	}
	return sources.ParticipantContact // user, lead, contact
}

// participant maps an author; names of admins come from the admin list
// when the author carries none.
func (x *Interactions) participant(a *wireAuthor) *sources.Participant {
	if a == nil || (a.ID == "" && a.Name == "") {
		return nil
	}
	p := &sources.Participant{Kind: participantKind(a.Type), ID: string(a.ID), Name: strings.TrimSpace(a.Name), Email: a.Email}
	if p.Name == "" && p.Kind == sources.ParticipantAdmin {
		p.Name = x.adminName(p.ID)
	}
	return p
}

// assignee is the admin (else the team) an object is assigned to; ids of 0
// mean unassigned.
func (x *Interactions) assignee(admin, team flexString) *sources.Participant {
	if id := string(admin); id != "" && id != "0" {
		return &sources.Participant{Kind: sources.ParticipantAdmin, ID: id, Name: x.adminName(id)}
	}
	if id := string(team); id != "" && id != "0" {
		return &sources.Participant{Kind: sources.ParticipantTeam, ID: id}
	}
	return nil
}

func direction(deliveredAs string, author *wireAuthor) sources.Direction {
	switch deliveredAs {
	case "customer_initiated":
		return sources.DirectionInbound
	case "admin_initiated", "operator_initiated", "automated", "campaigns_initiated":
		return sources.DirectionOutbound
	}
	if author == nil || author.Type == "" {
		return sources.DirectionNone
	}
	if participantKind(author.Type) == sources.ParticipantContact {
		return sources.DirectionInbound
	}
	return sources.DirectionOutbound
}

func (x *Interactions) inboxURL(id string) string {
	return x.c.inboxURL(x.c.knownWorkspace(), id)
}

func (x *Interactions) contactURL(contactID string) string {
	return x.c.contactURL(x.c.knownWorkspace(), contactID)
}

func (x *Interactions) conversation(w *wireConversation, contactID string) *sources.Interaction {
	it := &sources.Interaction{
		ID:          string(w.ID),
		Kind:        sources.KindConversation,
		ContactID:   contactID,
		CreatedAt:   unixTime(w.CreatedAt),
		UpdatedAt:   unixTime(w.UpdatedAt),
		URL:         x.inboxURL(string(w.ID)),
		Priority:    priority(w.Priority),
		Status:      conversationStatus(w),
		SourceState: w.State,
		Assignee:    x.assignee(w.AdminAssigneeID, w.TeamAssigneeID),
	}
	it.Date = cmpTime(it.UpdatedAt, it.CreatedAt)
	var body string
	if s := w.Source; s != nil {
		body = s.Body
		it.Author = x.participant(s.Author)
		it.Direction = direction(s.DeliveredAs, s.Author)
		it.Subject = preview.Text(w.Title, subjectLength)
		if it.Subject == "" {
			it.Subject = preview.Text(s.Subject, subjectLength)
		}
	}
	it.Description = preview.Text(body, x.preview)
	if it.Subject == "" {
		it.Subject = preview.Text(body, min(x.preview, 80))
	}
	if it.Subject == "" {
		it.Subject = "Conversation " + it.ID
	}
	return it
}

func (x *Interactions) ticket(w *wireTicket, contactID string) *sources.Interaction {
	it := &sources.Interaction{
		ID:          string(w.ID),
		Kind:        sources.KindTicket,
		ContactID:   contactID,
		Subject:     preview.Text(w.attribute("_default_title_"), subjectLength),
		Description: preview.Text(w.attribute("_default_description_"), x.preview),
		CreatedAt:   unixTime(w.CreatedAt),
		UpdatedAt:   unixTime(w.UpdatedAt),
		URL:         x.inboxURL(string(w.ID)),
		Priority:    priority(w.attribute("priority")),
		Status:      ticketStatus(w.TicketState.Category, w.Open),
		SourceState: w.TicketState.Category,
		Assignee:    x.assignee(w.AdminAssigneeID, w.TeamAssigneeID),
		Reference:   string(w.TicketID),
	}
	it.Date = cmpTime(it.UpdatedAt, it.CreatedAt)
	if w.TicketParts != nil && len(w.TicketParts.TicketParts) > 0 {
		opener := w.TicketParts.TicketParts[0].Author
		it.Author = x.participant(opener)
		it.Direction = direction("", opener)
	}
	if it.Subject == "" && w.TicketType != nil {
		it.Subject = w.TicketType.Name
	}
	if it.Subject == "" {
		it.Subject = "Ticket #" + cmp.Or(it.Reference, it.ID)
	}
	return it
}

func (x *Interactions) note(w *wireContactNote, contactID string) *sources.Interaction {
	it := &sources.Interaction{
		ID:          string(w.ID),
		Kind:        sources.KindNote,
		ContactID:   contactID,
		Subject:     "Note",
		Description: preview.Text(w.Body, x.preview),
		Date:        unixTime(w.CreatedAt),
		CreatedAt:   unixTime(w.CreatedAt),
		UpdatedAt:   unixTime(w.CreatedAt),
		URL:         x.contactURL(contactID),
		Priority:    sources.PriorityNone,
		Status:      sources.StatusClosed,
	}
	if a := w.Author; a != nil && a.ID != "" {
		it.Author = &sources.Participant{Kind: sources.ParticipantAdmin, ID: string(a.ID), Name: cmp.Or(a.Name, x.adminName(string(a.ID))), Email: a.Email}
		if it.Author.Name != "" {
			it.Subject = "Note by " + it.Author.Name
		}
	}
	return it
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

// cmpTime is not cmp.Or: a zero instant may carry a location, and == would
// not see it as zero.
func cmpTime(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}
