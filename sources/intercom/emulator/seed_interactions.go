package emulator

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Seeded histories. They are drawn from their own random source (seeded by
// Options.Seed), after every contact exists, so that adding them changed
// none of the contacts, companies or their timestamps.

// The demo caller's history: a rich mix of every kind, the newest first a
// conversation nobody has answered yet and a missed call.
const (
	DemoCallerConversations = 36 // 10 of them phone_call conversations
	DemoCallerTickets       = 8  // one per state category and more, one closed unresolved
	DemoCallerNotes         = 12 // more than a contact body lists (has_more)
	DemoCallerPhoneCalls    = 10 // one per phone_call conversation
)

// NoHistoryContactName is a curated contact with no interactions at all.
const NoHistoryContactName = "Hannah Schmidt"

// seedTicketTypes are the workspace's ticket types.
func seedTicketTypes(created time.Time) []*TicketType {
	list := []*TicketType{
		{ID: "101", Name: "Bug report", Description: "Something in the product does not work as it should.", Icon: "🐞", Category: "Customer"},
		{ID: "102", Name: "Billing question", Description: "Invoices, charges, refunds and plan changes.", Icon: "💳", Category: "Customer"},
		{ID: "103", Name: "Callback request", Description: "The customer asked to be called back.", Icon: "📞", Category: "Customer"},
		{ID: "104", Name: "Account review", Description: "Internal follow-up on an account.", Icon: "📋", Category: "Back-office"},
	}
	for i, t := range list {
		t.CreatedAt = created.Add(time.Duration(i+1) * 24 * time.Hour)
		t.UpdatedAt = t.CreatedAt.Add(30 * 24 * time.Hour)
	}
	return list
}

// bot is the workspace's automation, author of automated messages.
var bot = Author{Type: "bot", ID: "7399001", Name: "Fin"}

// teams the seeded admins belong to (Admin.TeamIDs).
var teamIDs = []string{"814865", "814866"}

type seededCall struct {
	call *PhoneCall
	conv *Conversation
}

type historySeeder struct {
	w      *Workspace
	rng    *rand.Rand
	anchor time.Time
	convs  []*Conversation
	// ticketsAt keeps tickets in creation order with the conversations:
	// they share one id space.
	tickets []*Ticket
	notes   []*Note
	calls   []seededCall
}

func (w *Workspace) seedInteractions(anchor time.Time) {
	g := &historySeeder{w: w, rng: rand.New(rand.NewPCG(uint64(w.opts.Seed), 0x1a7e)), anchor: anchor}
	for _, c := range w.order {
		switch {
		case c.ID == DemoCallerID:
			g.demoCaller(c)
		case c.Name == NoHistoryContactName:
		default:
			g.history(c)
		}
	}
	g.assignIDs()
	w.conversations.fill(g.convs)
	w.tickets.fill(g.tickets)
	for _, n := range g.notes {
		w.insertNoteLocked(n)
	}
	calls := make([]*PhoneCall, len(g.calls))
	for i, sc := range g.calls {
		sc.call.ConversationID = sc.conv.ID
		calls[i] = sc.call
	}
	w.phoneCalls.fill(calls)
}

// assignIDs numbers conversations and tickets (one id space), tickets'
// inbox numbers, notes and calls in creation order, as Intercom's
// increasing ids are.
func (g *historySeeder) assignIDs() {
	type item struct {
		at   time.Time
		conv *Conversation
		tick *Ticket
	}
	var items []item
	for _, c := range g.convs {
		items = append(items, item{at: c.CreatedAt, conv: c})
	}
	for _, t := range g.tickets {
		items = append(items, item{at: t.CreatedAt, tick: t})
	}
	slices.SortStableFunc(items, func(a, b item) int { return a.at.Compare(b.at) })
	for _, it := range items {
		if it.conv != nil {
			it.conv.ID = next(&g.w.seq.conversation)
		} else {
			it.tick.ID = next(&g.w.seq.conversation)
			it.tick.TicketID = next(&g.w.seq.ticketNumber)
		}
	}
	slices.SortStableFunc(g.notes, func(a, b *Note) int { return a.CreatedAt.Compare(b.CreatedAt) })
	for _, n := range g.notes {
		n.ID = next(&g.w.seq.note)
	}
	slices.SortStableFunc(g.calls, func(a, b seededCall) int { return a.call.CreatedAt.Compare(b.call.CreatedAt) })
	for _, sc := range g.calls {
		sc.call.ID = next(&g.w.seq.call)
	}
}

func (g *historySeeder) chance(p float64) bool { return g.rng.Float64() < p }

func (g *historySeeder) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *historySeeder) pickInt(list []int) int { return list[g.rng.IntN(len(list))] }

// dur returns a random duration in [lo, hi).
func (g *historySeeder) dur(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(g.rng.Int64N(int64(hi-lo)/int64(time.Second)))*time.Second
}

// window is the span a contact's history may fall in: from its creation
// (at most two years back) to twenty minutes ago.
func (g *historySeeder) window(c *Contact) (lo, hi time.Time) {
	hi = g.anchor.Add(-20 * time.Minute)
	lo = c.CreatedAt.Add(time.Hour)
	if limit := g.anchor.Add(-730 * day); lo.Before(limit) {
		lo = limit
	}
	if !lo.Before(hi.Add(-2 * time.Hour)) {
		lo = hi.Add(-2 * time.Hour)
	}
	return lo, hi
}

// when draws a time in [lo, hi), more often recent.
func (g *historySeeder) when(lo, hi time.Time) time.Time {
	u := g.rng.Float64()
	return hi.Add(-time.Duration(float64(hi.Sub(lo)) * u * u)).Truncate(time.Second)
}

// history draws an ordinary contact's history: most have a few
// conversations, some a long history, some none.
func (g *historySeeder) history(c *Contact) {
	var nConv, nTickets, nNotes int
	switch r := g.rng.Float64(); {
	case r < 0.06 || c.Name == "Noah Williams":
		nConv, nTickets, nNotes = 20+g.rng.IntN(41), 3+g.rng.IntN(8), 4+g.rng.IntN(12)
	case r < 0.36:
		return // no history at all
	default:
		nConv = g.pickInt([]int{0, 1, 1, 2, 2, 2, 3, 3, 4, 5})
		nTickets = g.pickInt([]int{0, 0, 0, 0, 0, 1, 1, 1, 2, 3})
		nNotes = g.pickInt([]int{0, 0, 0, 0, 0, 0, 1, 1, 2, 4})
	}
	lo, hi := g.window(c)
	for range nConv {
		at := g.when(lo, hi)
		kind := g.drawKind(c)
		state, fresh := g.drawState(at, kind)
		g.conversation(c, at, kind, state, fresh)
	}
	for range nTickets {
		at := g.when(lo, hi)
		t := g.ticket(c, at, g.drawTicketType(), g.drawTicketState(at))
		// Old unresolved tickets are sometimes closed without a resolution.
		if t.Open && g.anchor.Sub(at) > 30*day && g.chance(0.3) {
			t.Open = false
		}
	}
	for range nNotes {
		g.note(c, g.when(lo, hi))
	}
}

// demoCaller scripts the demo caller's history around drawn filler.
func (g *historySeeder) demoCaller(c *Contact) {
	lo, hi := g.window(c)
	a := g.anchor
	// The newest first: what an agent sees when Maria calls.
	top := g.conversation(c, a.Add(-2*time.Hour), "chat", "open", true)
	top.Title = "Warehouse scanners can't sync"
	top.Body = "<p>Hi,</p><p>since this morning none of our 12 handheld scanners sync with the dashboard &mdash; " +
		"orders are piling up at the <b>Oakland</b> warehouse.</p><p>Can someone call me back ASAP? " +
		"My direct line is (415)&nbsp;555-0142.</p><p>Thanks,<br>Maria</p>"
	top.Priority = "urgent"
	g.conversation(c, a.Add(-26*time.Hour), "phone_in", "open", true) // a missed call
	snoozed := g.conversation(c, a.Add(-3*day), "email", "snoozed", false)
	snoozed.Subject = "Re: Q3 invoice & PO number"
	snoozed.Body = "<p>Hello,</p><p>Our finance team needs PO&nbsp;#4471 on the Q3 invoice &amp; the new billing address:</p>" +
		"<p>Northwind Traders<br>500 Howard St, Suite 300<br>San Francisco, CA 94105</p>" +
		"<p>Could you re-issue it? See <a href=\"https://www.northwindtraders.com/ap\">our AP page</a> for details.</p>"
	snoozed.Priority = "medium"
	g.conversation(c, a.Add(-5*day), "phone_out", "closed", false)
	// Filler, older: 32 more conversations, 8 of them calls.
	for i := range DemoCallerConversations - 4 {
		at := g.when(lo, a.Add(-6*day))
		kind := g.drawKind(c)
		if i%4 == 1 {
			kind = []string{"phone_in", "phone_out"}[g.rng.IntN(2)]
		} else if strings.HasPrefix(kind, "phone") {
			kind = "chat"
		}
		state, fresh := g.drawState(at, kind)
		g.conversation(c, at, kind, state, fresh)
	}
	// Tickets in every state, the callback request she is waiting for first.
	types := []string{"103", "101", "102", "101", "102", "104", "101", "103"}
	states := []string{"submitted", "in_progress", "waiting_on_customer", "resolved", "resolved", "resolved", "in_progress", "resolved"}
	for i := range DemoCallerTickets {
		at := a.Add(-90 * time.Minute)
		if i > 0 { // old enough to have gone through its states
			at = g.when(lo, a.Add(-time.Duration(i+5)*day))
		}
		t := g.ticket(c, at, types[i], states[i])
		if i == 6 { // closed without being resolved
			t.Open = false
		}
	}
	for range DemoCallerNotes {
		g.note(c, g.when(lo, hi))
	}
}

// drawKind picks how a conversation started.
func (g *historySeeder) drawKind(c *Contact) string {
	switch r := g.rng.Float64(); {
	case r < 0.14 && c.Phone != "":
		if g.chance(0.75) {
			return "phone_in"
		}
		return "phone_out"
	case r < 0.55:
		return "chat"
	case r < 0.80:
		return "email"
	case r < 0.93:
		return "outbound"
	default:
		return "automated"
	}
}

// drawState picks a conversation's state; fresh means nobody in the team
// has answered yet (only for open conversations the customer started).
func (g *historySeeder) drawState(at time.Time, kind string) (state string, fresh bool) {
	recent := g.anchor.Sub(at) < 4*day
	r := g.rng.Float64()
	switch {
	case recent && r < 0.45, !recent && r < 0.08:
		state = "open"
	case recent && r < 0.60, !recent && r < 0.12:
		state = "snoozed"
	default:
		state = "closed"
	}
	customer := kind == "chat" || kind == "email" || kind == "phone_in"
	fresh = state == "open" && customer && g.chance(0.4)
	return state, fresh
}

func (g *historySeeder) drawPriority() string {
	switch r := g.rng.Float64(); {
	case r < 0.70:
		return "none"
	case r < 0.78:
		return "low"
	case r < 0.88:
		return "medium"
	case r < 0.96:
		return "high"
	default:
		return "urgent"
	}
}

// adminFor picks the teammate who handles a contact: mostly its owner.
func (g *historySeeder) adminFor(c *Contact) string {
	if c.OwnerID != "" && g.chance(0.6) {
		return c.OwnerID
	}
	return g.w.admins[g.rng.IntN(len(g.w.admins)-1)].ID // the last admin is away
}

// clock hands out the times of a conversation's parts, in order and never
// after its limit.
type clock struct {
	t, limit time.Time
}

// after advances by d, reporting false (and not moving) when that passes
// the limit.
func (c *clock) after(d time.Duration) (time.Time, bool) {
	if c.t.Add(d).After(c.limit) {
		return c.t, false
	}
	c.t = c.t.Add(d)
	return c.t, true
}

// vars fills the placeholders of a template for one item: {first},
// {company}, {phone}, and an order number and amount drawn once, so that a
// subject and its body agree.
type vars struct{ first, company, order, amount, phone string }

func (g *historySeeder) vars(c *Contact) vars {
	v := vars{first: strings.Fields(c.Name + " there")[0], company: "your team", phone: c.Phone,
		order:  fmt.Sprintf("%05d", 10000+g.rng.IntN(89999)),
		amount: fmt.Sprintf("%d.%02d", 20+g.rng.IntN(2000), g.rng.IntN(100))}
	if len(c.CompanyIDs) > 0 {
		v.company = g.w.companyBy[c.CompanyIDs[0]].Name
	}
	return v
}

// html fills an HTML template, escaping the values.
func (v vars) html(s string) string { return v.fill(s, htmlEscaper.Replace) }

// plain fills a plain-text template.
func (v vars) plain(s string) string { return v.fill(s, func(s string) string { return s }) }

func (v vars) fill(s string, esc func(string) string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	for _, kv := range [][2]string{{"{first}", esc(v.first)}, {"{company}", esc(v.company)}, {"{phone}", esc(v.phone)},
		{"{order}", v.order}, {"{amount}", v.amount}} {
		s = strings.ReplaceAll(s, kv[0], kv[1])
	}
	return s
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")

// conversation builds one conversation of c started at at; kind is chat,
// email, outbound, automated, phone_in or phone_out.
func (g *historySeeder) conversation(c *Contact, at time.Time, kind, state string, fresh bool) *Conversation {
	contact := g.w.authorOfContactLocked(c)
	admin := g.adminFor(c)
	conv := &Conversation{
		ContactIDs:  []string{c.ID},
		State:       state,
		Read:        !fresh,
		Priority:    g.drawPriority(),
		CreatedAt:   at,
		SourceType:  "conversation",
		DeliveredAs: "customer_initiated",
		Author:      contact,
	}
	clk := &clock{t: at, limit: g.anchor.Add(-time.Minute)}
	part := func(typ, body string, a Author, d time.Duration) bool {
		t, ok := clk.after(d)
		if ok {
			conv.Parts = append(conv.Parts, ConversationPart{ID: next(&g.w.seq.part), PartType: typ, Body: body, Author: a, CreatedAt: t})
		}
		return ok
	}
	adminAuthor := g.w.authorOfAdminLocked(admin)
	v := g.vars(c)
	fill := v.html
	switch kind {
	case "chat", "email":
		tpl := customerTopics[g.rng.IntN(len(customerTopics))]
		conv.Body = fill(tpl.body)
		if kind == "email" {
			conv.SourceType, conv.Subject = "email", v.plain(tpl.subject)
		} else if g.chance(0.3) {
			conv.Title = v.plain(tpl.subject)
		}
	case "outbound":
		tpl := outboundTopics[g.rng.IntN(len(outboundTopics))]
		conv.DeliveredAs, conv.Author = "admin_initiated", adminAuthor
		conv.Subject, conv.Body = v.plain(tpl.subject), fill(tpl.body)
		conv.SourceType = "email"
	case "automated":
		tpl := automatedTopics[g.rng.IntN(len(automatedTopics))]
		conv.DeliveredAs, conv.Author = "automated", bot
		conv.Body = fill(tpl.body)
		conv.Title = v.plain(tpl.subject)
	case "phone_in":
		conv.SourceType, conv.Body = "phone_call", fill(`<p>Inbound call from {phone}</p>`)
	case "phone_out":
		conv.SourceType, conv.DeliveredAs, conv.Author = "phone_call", "admin_initiated", adminAuthor
		conv.Body = fill(`<p>Outbound call to {phone}</p>`)
	}
	if g.chance(0.15) {
		conv.TagIDs = []string{g.w.tags[g.pickInt([]int{0, 1, 7})].ID} // VIP, Churn risk, Escalated
	}
	if strings.HasPrefix(kind, "phone") {
		g.call(c, conv, kind, admin, fresh)
	}

	customerFirst := conv.Author.Type != "admin" && conv.Author.Type != "bot"
	switch {
	case fresh:
		// Nobody answered: waiting since it started, maybe routed already.
		conv.WaitingSince = at
		if g.chance(0.5) {
			conv.AdminAssigneeID = admin
		}
		conv.TeamAssigneeID = g.pick(teamIDs)
	case strings.HasPrefix(kind, "phone"):
		conv.AdminAssigneeID = admin
		part("note", fill(callSummaries[g.rng.IntN(len(callSummaries))]), adminAuthor, g.dur(time.Minute, 30*time.Minute))
	default:
		conv.AdminAssigneeID = admin
		if customerFirst {
			part("comment", fill(adminReplies[g.rng.IntN(len(adminReplies))]), adminAuthor, g.dur(2*time.Minute, 8*time.Hour))
		}
		if (!customerFirst || g.chance(0.5)) && part("comment", fill(contactReplies[g.rng.IntN(len(contactReplies))]), contact, g.dur(10*time.Minute, 48*time.Hour)) &&
			(state == "closed" || g.chance(0.5)) {
			part("comment", fill(adminFollowUps[g.rng.IntN(len(adminFollowUps))]), adminAuthor, g.dur(5*time.Minute, 6*time.Hour))
		}
	}
	switch state {
	case "closed":
		if !part("close", "", adminAuthor, g.dur(5*time.Minute, 72*time.Hour)) {
			conv.State = "open" // no time left to close it
		}
	case "snoozed":
		if part("snoozed", "", adminAuthor, g.dur(time.Minute, time.Hour)) {
			conv.SnoozedUntil = g.anchor.Add(g.dur(2*time.Hour, 5*day)).Truncate(time.Second)
		} else {
			conv.State = "open"
		}
	}
	// Waiting on the team when the customer spoke last and it is not closed.
	if conv.State != "closed" && !fresh {
		for i := len(conv.Parts) - 1; i >= 0; i-- {
			if p := conv.Parts[i]; p.PartType == "comment" {
				if isContactType(p.Author.Type) {
					conv.WaitingSince = p.CreatedAt
				}
				break
			}
		}
	}
	conv.UpdatedAt = clk.t
	g.convs = append(g.convs, conv)
	return conv
}

// call adds the Intercom Phone call of a phone_call conversation. A fresh
// inbound call is a missed one.
func (g *historySeeder) call(c *Contact, conv *Conversation, kind, admin string, missed bool) {
	direction := "inbound"
	if kind == "phone_out" {
		direction = "outbound"
	}
	pc := &PhoneCall{
		ContactID:   c.ID,
		AdminID:     admin,
		State:       "completed",
		Direction:   direction,
		Phone:       c.FormattedPhone,
		InitiatedAt: conv.CreatedAt,
		CreatedAt:   conv.CreatedAt,
	}
	if pc.Phone == "" { // legacy contacts are not indexed, but the call knows the number
		pc.Phone = FormatE164(c.Phone, c.LocationCountry)
	}
	switch {
	case missed:
		pc.EndedReason = g.pick([]string{"missed", "missed", "voicemail"})
		pc.EndedAt = pc.InitiatedAt.Add(g.dur(15*time.Second, 45*time.Second))
		pc.AdminID = ""
		pc.Recorded = pc.EndedReason == "voicemail"
	case direction == "outbound" && g.chance(0.25):
		pc.EndedReason = "voicemail"
		pc.EndedAt = pc.InitiatedAt.Add(g.dur(20*time.Second, 90*time.Second))
	default:
		pc.EndedReason = "answered"
		pc.AnsweredAt = pc.InitiatedAt.Add(g.dur(4*time.Second, 40*time.Second))
		pc.EndedAt = pc.AnsweredAt.Add(g.dur(45*time.Second, 25*time.Minute))
		pc.Recorded = g.chance(0.6)
		pc.Transcribed = pc.Recorded && g.chance(0.7)
	}
	if limit := g.anchor.Add(-time.Minute); pc.EndedAt.After(limit) {
		pc.EndedAt = limit
	}
	pc.UpdatedAt = pc.EndedAt.Add(2 * time.Second)
	g.calls = append(g.calls, seededCall{call: pc, conv: conv})
}

func (g *historySeeder) drawTicketType() string {
	switch r := g.rng.Float64(); {
	case r < 0.35:
		return "101"
	case r < 0.65:
		return "102"
	case r < 0.85:
		return "103"
	default:
		return "104"
	}
}

func (g *historySeeder) drawTicketState(at time.Time) string {
	r := g.rng.Float64()
	if g.anchor.Sub(at) < 7*day {
		switch {
		case r < 0.3:
			return "submitted"
		case r < 0.65:
			return "in_progress"
		case r < 0.85:
			return "waiting_on_customer"
		}
		return "resolved"
	}
	switch {
	case r < 0.05:
		return "submitted"
	case r < 0.10:
		return "in_progress"
	case r < 0.15:
		return "waiting_on_customer"
	}
	return "resolved"
}

// ticket builds a ticket of c, created at at, that went through the state
// categories up to state.
func (g *historySeeder) ticket(c *Contact, at time.Time, typeID, state string) *Ticket {
	tpls := ticketTopics[typeID]
	tpl := tpls[g.rng.IntN(len(tpls))]
	admin := g.adminFor(c)
	adminAuthor := g.w.authorOfAdminLocked(admin)
	tt := g.w.ticketTypeLocked(typeID)
	v := g.vars(c)
	t := &Ticket{
		TicketTypeID:  typeID,
		Title:         v.plain(tpl.subject),
		Description:   plainText(v.html(tpl.body)),
		StateCategory: state,
		Open:          state != "resolved",
		ContactIDs:    []string{c.ID},
		IsShared:      tt.Category == "Customer",
		CreatedAt:     at,
	}
	opener := g.w.authorOfContactLocked(c)
	if !t.IsShared {
		opener = adminAuthor
	}
	clk := &clock{t: at, limit: g.anchor.Add(-time.Minute)}
	t.Parts = append(t.Parts, TicketPart{ID: next(&g.w.seq.part), PartType: "comment", Body: v.html(tpl.body), Author: opener,
		State: "submitted", CreatedAt: at})
	prev := "submitted"
	for _, s := range TicketStateCategories[1:] {
		if slices.Index(TicketStateCategories, s) > slices.Index(TicketStateCategories, state) {
			break
		}
		if s == "waiting_on_customer" && state == "resolved" && g.chance(0.5) {
			continue // resolved without asking the customer
		}
		when, ok := clk.after(g.dur(10*time.Minute, 36*time.Hour))
		if !ok {
			t.StateCategory, t.Open = prev, true
			break
		}
		t.Parts = append(t.Parts, TicketPart{ID: next(&g.w.seq.part), PartType: "ticket_state_updated_by_admin", Author: adminAuthor,
			PreviousState: prev, State: s, CreatedAt: when})
		prev = s
	}
	if t.StateCategory != "submitted" || g.chance(0.4) {
		t.AdminAssigneeID = admin
	}
	t.TeamAssigneeID = g.pick(teamIDs)
	t.UpdatedAt = clk.t
	g.tickets = append(g.tickets, t)
	return t
}

func (g *historySeeder) note(c *Contact, at time.Time) {
	author := g.adminFor(c)
	g.notes = append(g.notes, &Note{ContactID: c.ID, AuthorID: author,
		Body: g.vars(c).html(noteBodies[g.rng.IntN(len(noteBodies))]), CreatedAt: at})
}

// ---- content ----

type topic struct{ subject, body string }

var customerTopics = []topic{
	{"Invoice shows the wrong VAT number", "<p>Hi there,</p><p>Our latest invoice (INV-{order}) shows our old VAT number &amp; address. Could you re-issue it?</p><p>Thanks,<br>{first}</p>"},
	{"Can't log in after password reset", "<p>I reset my password twice but the login page keeps saying &quot;invalid credentials&quot;. I'm on Chrome, cleared cookies already.</p>"},
	{"Question about the Enterprise plan", "<p>Hello! We're growing fast at {company} and looking at the Enterprise plan. Does it include SSO &amp; audit logs? I saw the <a href=\"https://www.example.com/pricing\">pricing page</a> but it's not clear.</p>"},
	{"Shipment delayed — order #{order}", "<p>Hi,</p><p>Order #{order} was due on Monday and tracking hasn't moved in 4&nbsp;days. Can you check with the carrier?</p>"},
	{"Export to CSV stops at 10,000 rows", "<p>When I export the orders report to CSV it stops at exactly 10,000 rows.<br>Is there a limit? We have ~14k orders this quarter.</p>"},
	{"Refund for a duplicate charge", "<p>We were charged twice this month ($ {amount} each). Please refund the duplicate &mdash; card ending 4242.</p>"},
	{"How do I add a teammate?", "<p>Quick one: how do I invite a colleague to our workspace? I don't see an &quot;Invite&quot; button under Settings.</p>"},
	{"API returns 429 errors", "<p>Since yesterday our integration gets <code>429 Too Many Requests</code> on about 5% of calls. We send &lt; 10 requests/second. Did the limits change?</p>"},
	{"Feature request: dark mode", "<p>Love the product! Any plans for a dark mode? Our night shift would really appreciate it 🙂</p>"},
	{"Change billing email", "<p>Please send future invoices to <a href=\"mailto:ap@example.com\">ap@example.com</a> instead of my address.</p>"},
	{"Damaged items in delivery", "<p>Three of the boxes in today's delivery arrived crushed. Photos attached. How do we get replacements?</p>"},
	{"Two-factor codes not arriving", "<p>I'm not getting the SMS codes for 2FA. My number is {phone}. I'm locked out!</p>"},
	{"Cancel my subscription", "<p>Hi, we'd like to cancel at the end of the current term. What's the notice period?</p>"},
	{"Dashboard very slow today", "<p>The dashboard takes 30+ seconds to load since this morning.<br><br>Is there an incident?</p>"},
	{"Update company address", "<p>We moved! New address:<br>12 Harbour Rd, Unit&nbsp;5<br>Please update our account &amp; the invoices.</p>"},
	{"Webhook deliveries failing", "<p>Our endpoint gets no webhooks since 2am UTC. Logs show nothing from your IPs. Can you check <a href=\"https://status.example.com\">status</a>?</p>"},
	{"Discount for non-profits?", "<p>We're a registered charity &mdash; do you offer a non-profit discount?</p>"},
	{"Wrong item shipped", "<p>We ordered the 24-pack but received the 12-pack (order #{order}). Can you send the rest?</p>"},
}

var outboundTopics = []topic{
	{"Your renewal is coming up", "<p>Hi {first},</p><p>Your subscription for {company} renews next month. Want to review seats &amp; pricing before then? Happy to set up a call.</p>"},
	{"Checking in after onboarding", "<p>Hi {first}, it's been two weeks since you started &mdash; how is everything going? Any questions I can help with?</p>"},
	{"New: scheduled reports", "<p>Hi {first},</p><p>You asked about scheduled reports &mdash; they're live! See <a href=\"https://www.example.com/changelog\">the changelog</a>.</p>"},
	{"Following up on your ticket", "<p>Hi {first}, just following up: did the fix we shipped on Tuesday solve the issue for {company}?</p>"},
}

var automatedTopics = []topic{
	{"Welcome to the help center", "<p>👋 Hi {first}! I'm Fin, the AI agent. Ask me anything, or type <b>human</b> to reach the team.</p>"},
	{"How did we do?", "<p>Thanks for chatting with us. How would you rate the help you got today?</p>"},
	{"Your trial ends soon", "<p>Your trial ends in 3 days. <a href=\"https://www.example.com/upgrade\">Upgrade now</a> to keep your data.</p>"},
}

var adminReplies = []string{
	"<p>Hi {first},</p><p>Thanks for reaching out! I've looked into this and passed it to the right team. I'll update you today.</p>",
	"<p>Hi {first}, sorry about that! I've fixed it on our side &mdash; could you try again and let me know?</p>",
	"<p>Thanks {first}. Could you send a screenshot of what you see? That'll help us reproduce it.</p>",
	"<p>Hi {first}, good question! Yes &mdash; it's included. Here's the guide: <a href=\"https://www.example.com/help\">help center</a>.</p>",
	"<p>I've issued the correction, {first}. You should receive it by email within the hour.</p>",
}

var contactReplies = []string{
	"<p>Thanks, that worked!</p>",
	"<p>Still seeing the problem, unfortunately. Screenshot attached.</p>",
	"<p>Great, thank you so much 🙏</p>",
	"<p>Ok, I'll wait for your update.</p>",
	"<p>Perfect &mdash; much appreciated.</p>",
}

var adminFollowUps = []string{
	"<p>Glad to hear it! I'll close this one, just reply if anything else comes up.</p>",
	"<p>We found the cause and deployed a fix. Thanks for your patience, {first}!</p>",
	"<p>Quick update: engineering is on it, I'll keep you posted.</p>",
}

var callSummaries = []string{
	"<p>Call summary: {first} asked about the renewal quote; sent pricing for 20 extra seats.</p>",
	"<p>Call summary: walked through the CSV export limit, suggested the API export. Resolved.</p>",
	"<p>Call summary: shipment issue for order #{order} &mdash; carrier claim opened, replacement dispatched.</p>",
	"<p>Call summary: password reset done while on the phone. Reminded about 2FA backup codes.</p>",
	"<p>Call summary: billing question on invoice INV-{order}; credit note of ${amount} issued.</p>",
}

var ticketTopics = map[string][]topic{
	"101": {
		{"Dashboard charts don't load in Safari", "<p>Since Tuesday the charts on the Reports page stay blank in Safari 17. Chrome works fine.</p>"},
		{"CSV export cuts off at 10,000 rows", "<p>Exports of the orders report stop at 10,000 rows &mdash; we need all ~14k.</p>"},
		{"Scanner sync fails with error E42", "<p>Handheld scanners show <code>E42</code> when syncing. Happens on all 12 devices.</p>"},
		{"Webhook retries never arrive", "<p>Failed webhook deliveries are not retried, although the docs say they are (3 retries).</p>"},
	},
	"102": {
		{"Charged twice in March", "<p>Two charges of ${amount} on the same day for one invoice. Please refund one.</p>"},
		{"Invoice needs a PO number", "<p>Our AP team needs PO #{order} on every invoice &amp; the legal entity name.</p>"},
		{"Switch to annual billing", "<p>We'd like to move from monthly to annual billing to get the discount.</p>"},
	},
	"103": {
		{"Please call me back about the renewal", "<p>Please call {first} back at {phone} about the contract renewal, ideally in the morning (PT).</p>"},
		{"Callback: shipment damage claim", "<p>Customer wants a call about the damaged delivery for order #{order}.</p>"},
		{"Callback requested after missed call", "<p>{first} called while the team was offline and asked for a callback at {phone}.</p>"},
	},
	"104": {
		{"Quarterly account review", "<p>Prepare the quarterly review for {company}: usage, open issues and expansion options.</p>"},
		{"Check credit limit", "<p>Finance to confirm the credit limit for {company} before the next order.</p>"},
	},
}

var noteBodies = []string{
	"<p>Spoke with {first} about the renewal &mdash; wants a quote for 20 more seats by Friday.</p>",
	"<p><b>VIP:</b> prefers phone over email. Best time to call: mornings PT.</p>",
	"<p>Escalated the billing dispute to finance, see <a href=\"https://app.example.com/finance/{order}\">case {order}</a>.</p>",
	"<p>Met {first} at the trade show; interested in the API &amp; the warehouse integration.</p>",
	"<p>Do <i>not</i> call before 9am &mdash; customer asked twice.</p>",
	"<p>Gave a one-off 15% discount on the last order (approved by Sofia).</p>",
	"<p>Main contact for {company}. Decision maker for tooling purchases.</p>",
	"<p>Complained about delivery times in Q2; keep an eye on shipments.</p>",
	"<p>Prefers Portuguese or English. Timezone: PT.</p>",
	"<p>Asked for a product roadmap session &lt;next quarter&gt;.</p>",
}
