package emulator

import (
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// PhoneCall is an Intercom Phone call (the description's "call"). Every
// seeded call belongs to a phone_call conversation. (The name avoids
// Workspace.Calls, which counts requests.)
type PhoneCall struct {
	ID             string
	ConversationID string // "" = null
	ContactID      string // "" = null
	AdminID        string // the teammate on the call; "" = null
	// State is "completed" for calls that ended, "in_progress" or
	// "ringing" for calls that have not.
	State       string
	Direction   string // "inbound" or "outbound"
	EndedReason string // "answered", "missed", "voicemail", "declined"; "" = null
	Phone       string // the customer's number, E.164; "" = null
	InitiatedAt time.Time
	AnsweredAt  time.Time // zero: never answered
	EndedAt     time.Time // zero: not ended
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Recorded    bool
	Transcribed bool
}

// PhoneCalls returns the calls of contactID (all of them for ""), oldest
// first (created_at, then id).
func (w *Workspace) PhoneCalls(contactID string) []PhoneCall {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return forContact(w.phoneCalls.list, func(c *PhoneCall) []string { return []string{c.ContactID} }, contactID,
		func(c *PhoneCall) PhoneCall { return *c })
}

// PhoneCall returns the call with id.
func (w *Workspace) PhoneCall(id string) (PhoneCall, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	c, ok := w.phoneCalls.byID[id]
	if !ok {
		return PhoneCall{}, false
	}
	return *c, true
}

// AddPhoneCall stores c and returns the stored copy, assigning an id when
// c.ID is empty (a call with an existing id is replaced), defaulting State
// to "completed", Direction to "inbound", InitiatedAt and CreatedAt to
// Now() and UpdatedAt to CreatedAt.
func (w *Workspace) AddPhoneCall(c PhoneCall) PhoneCall {
	now := w.now()
	c.State = cmp.Or(c.State, "completed")
	c.Direction = cmp.Or(c.Direction, "inbound")
	if c.InitiatedAt.IsZero() {
		c.InitiatedAt = now
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = c.InitiatedAt
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if c.ID == "" {
		c.ID = next(&w.seq.call)
	}
	w.phoneCalls.put(&c)
	return c
}

// ---- JSON bodies ----

// callBody is the description's call. Its datetime fields are not nullable:
// unknown ones are left out.
type callBody struct {
	Type                string  `json:"type"`
	ID                  string  `json:"id"`
	ConversationID      *string `json:"conversation_id"`
	AdminID             *string `json:"admin_id"`
	ContactID           *string `json:"contact_id"`
	State               string  `json:"state"`
	InitiatedAt         int64   `json:"initiated_at"`
	AnsweredAt          *int64  `json:"answered_at,omitempty"`
	EndedAt             *int64  `json:"ended_at,omitempty"`
	CreatedAt           int64   `json:"created_at"`
	UpdatedAt           int64   `json:"updated_at"`
	RecordingURL        *string `json:"recording_url"`
	TranscriptionURL    *string `json:"transcription_url"`
	CallType            string  `json:"call_type"`
	Direction           string  `json:"direction"`
	EndedReason         *string `json:"ended_reason"`
	Phone               *string `json:"phone"`
	FinRecordingURL     *string `json:"fin_recording_url"`
	FinTranscriptionURL *string `json:"fin_transcription_url"`
}

// callBody renders c; base is the API's own URL, for the recording links.
func newCallBody(c *PhoneCall, base string) callBody {
	b := callBody{
		Type:           "call",
		ID:             c.ID,
		ConversationID: strPtr(c.ConversationID),
		AdminID:        strPtr(c.AdminID),
		ContactID:      strPtr(c.ContactID),
		State:          c.State,
		InitiatedAt:    c.InitiatedAt.Unix(),
		AnsweredAt:     timePtr(c.AnsweredAt),
		EndedAt:        timePtr(c.EndedAt),
		CreatedAt:      c.CreatedAt.Unix(),
		UpdatedAt:      c.UpdatedAt.Unix(),
		CallType:       "phone",
		Direction:      c.Direction,
		EndedReason:    strPtr(c.EndedReason),
		Phone:          strPtr(c.Phone),
	}
	if c.Recorded {
		b.RecordingURL = strPtr(base + "/calls/" + c.ID + "/recording")
	}
	if c.Transcribed {
		b.TranscriptionURL = strPtr(base + "/calls/" + c.ID + "/transcript")
	}
	return b
}

// apiBase is the emulator's URL as the client reached it.
func apiBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// callListBody is call_list: page-numbered, next left out.
type callListBody struct {
	Type       string      `json:"type"`
	Data       []callBody  `json:"data"`
	TotalCount int         `json:"total_count"`
	Pages      cursorPages `json:"pages"`
}

// The description: "Defaults to 25. Max 25." Larger pages are cut to 25.
const callsPerPage = 25

// handleListPhoneCalls lists all calls, newest first, by page number.
func (w *Workspace) handleListPhoneCalls(r *http.Request, _ map[string]string) (any, *apiError) {
	q := r.URL.Query()
	page, perPage := 1, callsPerPage
	for _, param := range []struct {
		name string
		dst  *int
	}{{"page", &page}, {"per_page", &perPage}} {
		name, dst := param.name, param.dst
		if s := q.Get(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				e := errorf(http.StatusBadRequest, CodeParameterInvalid, "%s must be a positive integer, got %q", name, s)
				e.Field = name
				return nil, e
			}
			*dst = n
		}
	}
	perPage = min(perPage, callsPerPage)
	w.mu.RLock()
	defer w.mu.RUnlock()
	total := len(w.phoneCalls.list)
	body := callListBody{Type: "list", Data: []callBody{}, TotalCount: total,
		Pages: cursorPages{Type: "pages", Page: page, PerPage: perPage, TotalPages: (total + perPage - 1) / perPage}}
	base := apiBase(r)
	// Newest first: walk the created order backwards.
	for i := total - 1 - (page-1)*perPage; i >= 0 && len(body.Data) < perPage; i-- {
		body.Data = append(body.Data, newCallBody(w.phoneCalls.list[i], base))
	}
	return body, nil
}

func (w *Workspace) handleGetPhoneCall(r *http.Request, p map[string]string) (any, *apiError) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	c, ok := w.phoneCalls.byID[p["id"]]
	if !ok {
		return nil, errorf(http.StatusNotFound, CodeNotFound, "Not Found")
	}
	return newCallBody(c, apiBase(r)), nil
}

// callWithTranscriptBody is an item of POST /calls/search.
type callWithTranscriptBody struct {
	callBody
	Transcript       []map[string]any `json:"transcript"`
	TranscriptStatus *string          `json:"transcript_status"`
}

type callSearchBody struct {
	Type string                   `json:"type"`
	Data []callWithTranscriptBody `json:"data"`
}

// maxCallSearchIDs is the description's limit of conversation_ids.
const maxCallSearchIDs = 20

// handleSearchPhoneCalls returns the calls of 1 to 20 conversations, with
// their transcripts.
func (w *Workspace) handleSearchPhoneCalls(r *http.Request, _ map[string]string) (any, *apiError) {
	var req struct {
		ConversationIDs []string `json:"conversation_ids"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxSearchBody)).Decode(&req); err != nil {
		return nil, badRequest("Request body is not valid JSON with a conversation_ids array of strings: %v", err)
	}
	if len(req.ConversationIDs) == 0 || len(req.ConversationIDs) > maxCallSearchIDs {
		e := errorf(http.StatusBadRequest, CodeCallIDLimit, "A list of up to 20 conversation IDs is required")
		e.Field = "conversation_ids"
		return nil, e
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	base := apiBase(r)
	body := callSearchBody{Type: "list", Data: []callWithTranscriptBody{}}
	for _, c := range w.phoneCalls.list {
		if !slices.Contains(req.ConversationIDs, c.ConversationID) {
			continue
		}
		item := callWithTranscriptBody{callBody: newCallBody(c, base), Transcript: []map[string]any{}}
		if c.Transcribed {
			done := "completed"
			item.TranscriptStatus = &done
			item.Transcript = append(item.Transcript,
				map[string]any{"speaker": "Teammate", "offset": 3, "text": "Hello, thanks for calling. How can I help today?"},
				map[string]any{"speaker": "User", "offset": 9, "text": "Hi, I'm calling about my account."})
		}
		body.Data = append(body.Data, item)
	}
	return body, nil
}
