package actions

import (
	"context"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/talkdesk-intercom/api/sources"
)

// LogCallRequest records a phone call.
type LogCallRequest struct {
	ContactID              string    `json:"contact_id,omitempty"`
	From                   string    `json:"from"`
	To                     string    `json:"to"`
	DefaultCountry         string    `json:"default_country,omitempty"`
	Direction              string    `json:"direction"` // inbound or outbound
	StartedAt              time.Time `json:"started_at"`
	DurationSeconds        int       `json:"duration_seconds"`
	AgentID                string    `json:"agent_id,omitempty"`
	Disposition            string    `json:"disposition,omitempty"`
	RecordingURL           string    `json:"recording_url,omitempty"`
	Notes                  string    `json:"notes,omitempty"`
	CreateContactIfUnknown bool      `json:"create_contact_if_unknown,omitempty"`
}

// LogCallResult says where the call was recorded.
type LogCallResult struct {
	Contact        *sources.Contact `json:"contact"`
	ContactCreated bool             `json:"contact_created"`
	Note           *sources.Note    `json:"note,omitempty"`
	Ticket         *sources.Ticket  `json:"ticket,omitempty"`
}

// LogCall writes a call as a readable note (or a ticket, by configuration)
// on the customer's contact: the caller of an inbound call, the callee of an
// outbound one.
func (s *Service) LogCall(ctx context.Context, key string, req LogCallRequest) (LogCallResult, error) {
	if r, ok, err := replay[LogCallResult](ctx, s, ActionLogCall, key, req); ok || err != nil {
		return r, err
	}
	var p Problems
	checkKey(ctx, &p, key)
	from := checkPhone(&p, "from", req.From, req.DefaultCountry)
	to := checkPhone(&p, "to", req.To, req.DefaultCountry)
	if strings.TrimSpace(req.From) == "" {
		p.add("from", "from is required")
	}
	if strings.TrimSpace(req.To) == "" {
		p.add("to", "to is required")
	}
	direction := strings.ToLower(strings.TrimSpace(req.Direction))
	customer, customerField := from, "from"
	switch direction {
	case "inbound":
	case "outbound":
		customer, customerField = to, "to"
	default:
		p.add("direction", "%s is not a direction: use inbound or outbound", sources.Quote(req.Direction))
	}
	if req.StartedAt.IsZero() {
		p.add("startedAt", "startedAt is required")
	} else if req.StartedAt.After(s.cfg.Now().Add(5 * time.Minute)) {
		p.add("startedAt", "startedAt is in the future")
	}
	if req.DurationSeconds < 0 || req.DurationSeconds > 24*3600 {
		p.add("durationSeconds", "durationSeconds must be between 0 and 86400, got %d", req.DurationSeconds)
	}
	checkLength(&p, "disposition", req.Disposition, 0, 100)
	checkURL(&p, "recordingUrl", req.RecordingURL)
	checkLength(&p, "notes", req.Notes, 0, maxBody)
	var agentName string
	if req.AgentID != "" {
		a, err := s.agent(ctx, req.AgentID)
		if err != nil {
			return LogCallResult{}, err
		}
		if a == nil {
			p.addCode(sources.ENotFound, "agentId", "no admin has id %s", sources.Quote(req.AgentID))
		} else {
			agentName = a.Name
		}
	}
	var contact *sources.Contact
	if req.ContactID != "" {
		c, err := s.contact(ctx, &p, "contactId", req.ContactID)
		if err != nil {
			return LogCallResult{}, err
		}
		contact = c
	}
	if len(p) > 0 {
		return LogCallResult{}, p
	}
	if contact == nil {
		found, err := s.cfg.Finder.ContactsByPhones(ctx, []string{customer})
		if err != nil {
			return LogCallResult{}, err
		}
		if list := found[customer]; len(list) > 0 {
			contact = list[0]
		} else if !req.CreateContactIfUnknown {
			return LogCallResult{}, Problems{{Field: customerField, Code: sources.ENotFound,
				Message: fmt.Sprintf("no contact has the number %s; set createContactIfUnknown to create a lead", customer)}}
		}
	}
	title := callTitle(req, direction)
	body := callNote(req, title, from, to, agentName)
	return guarded(ctx, s, ActionLogCall, key, req, func(ctx context.Context) (LogCallResult, error) {
		res := LogCallResult{Contact: contact}
		if res.Contact == nil {
			created, err := s.CreateContact(ctx, "", CreateContactRequest{Phone: customer, Role: "lead"})
			if err != nil {
				return LogCallResult{}, err
			}
			res.Contact, res.ContactCreated = created.Contact, created.Created
		}
		return s.writeCall(ctx, res, title, body, req)
	}, func(ctx context.Context, since time.Time) (LogCallResult, bool, error) {
		c := contact
		if c == nil { // the earlier attempt may have created the lead
			found, err := s.cfg.Finder.ContactsByPhones(ctx, []string{customer})
			if err != nil || len(found[customer]) == 0 {
				return LogCallResult{}, false, err
			}
			c = found[customer][0]
		}
		if s.cfg.CallLogAs == "ticket" {
			t, ok, err := s.findTicket(ctx, sources.NewTicket{ContactID: c.ID, Title: title}, since)
			return LogCallResult{Contact: c, Ticket: t}, ok, err
		}
		n, ok, err := s.findNote(ctx, sources.NewNote{ContactID: c.ID, Body: body}, since)
		return LogCallResult{Contact: c, Note: n}, ok, err
	})
}

// writeCall records the call on res.Contact as a ticket or a note; title and
// body are what LogCall derived from req.
func (s *Service) writeCall(ctx context.Context, res LogCallResult, title, body string, req LogCallRequest) (LogCallResult, error) {
	if s.cfg.CallLogAs == "ticket" {
		var p Problems
		typeID, err := s.ticketType(ctx, &p, "ticketType", s.cfg.CallTicketType)
		if err != nil {
			return LogCallResult{}, err
		}
		if len(p) > 0 {
			return LogCallResult{}, fmt.Errorf("CALL_TICKET_TYPE: %s", p[0].Message)
		}
		t, err := s.createTicket(ctx, sources.NewTicket{ContactID: res.Contact.ID, TicketTypeID: typeID,
			Title: title, Description: body, AdminID: req.AgentID})
		res.Ticket = t
		return res, err
	}
	admin := req.AgentID
	if admin == "" {
		var err error
		if admin, err = s.tokenAdmin(ctx); err != nil {
			return LogCallResult{}, err
		}
	}
	n, err := s.addNote(ctx, sources.NewNote{ContactID: res.Contact.ID, Body: body, AdminID: admin})
	res.Note = n
	return res, err
}

func callTitle(req LogCallRequest, direction string) string {
	return fmt.Sprintf("%s call, %s", titleCase(direction), req.StartedAt.UTC().Format("2 Jan 2006 15:04 MST"))
}

// callNote writes the call as the HTML of a note an agent can read at a glance.
func callNote(req LogCallRequest, title, from, to, agentName string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<p><b>%s</b></p><p>", html.EscapeString(title))
	line := func(label, value string) {
		if value != "" {
			fmt.Fprintf(&b, "%s: %s<br>", label, html.EscapeString(value))
		}
	}
	line("From", from)
	line("To", to)
	line("Duration", (time.Duration(req.DurationSeconds) * time.Second).String())
	line("Outcome", req.Disposition)
	line("Agent", agentName)
	if req.RecordingURL != "" {
		u := html.EscapeString(req.RecordingURL)
		fmt.Fprintf(&b, `Recording: <a href="%s">%s</a><br>`, u, u)
	}
	b.WriteString("</p>")
	if strings.TrimSpace(req.Notes) != "" {
		b.WriteString(textToHTML(req.Notes))
	}
	b.WriteString("<p><i>Logged from Talkdesk</i></p>")
	return b.String()
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
