package emulator

import (
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Note is a note an admin wrote about a contact.
type Note struct {
	ID        string
	ContactID string
	AuthorID  string // admin id
	Body      string // HTML
	CreatedAt time.Time
}

// noteNewer orders a contact's notes newest first, as Intercom lists them.
func noteNewer(a, b *Note) int {
	return -createdLess(a.CreatedAt, a.ID, b.CreatedAt, b.ID)
}

// noteIDsLocked are the ids of a contact's notes, newest first: what its
// body's notes list refers to. w.mu must be held.
func (w *Workspace) noteIDsLocked(contactID string) []string {
	list := w.notes[contactID]
	ids := make([]string, len(list))
	for i, n := range list {
		ids[i] = n.ID
	}
	return ids
}

// Notes returns the notes of a contact, newest first (as GET
// /contacts/{id}/notes lists them).
func (w *Workspace) Notes(contactID string) []Note {
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := make([]Note, 0, len(w.notes[contactID]))
	for _, n := range w.notes[contactID] {
		out = append(out, *n)
	}
	return out
}

// AddNote stores n (its ContactID is required) and returns the stored copy,
// assigning an id when n.ID is empty, AuthorID the token's admin and
// CreatedAt Now() when unset. The contact's notes count follows; its
// updated_at does not change.
func (w *Workspace) AddNote(n Note) Note {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n.ID == "" {
		n.ID = next(&w.seq.note)
	}
	if n.AuthorID == "" {
		n.AuthorID = w.admins[0].ID
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = w.now()
	}
	if old := w.noteBy[n.ID]; old != nil {
		w.notes[old.ContactID] = slices.DeleteFunc(w.notes[old.ContactID], func(x *Note) bool { return x == old })
	}
	w.insertNoteLocked(&n)
	return n
}

func (w *Workspace) insertNoteLocked(n *Note) {
	list := w.notes[n.ContactID]
	i, _ := slices.BinarySearchFunc(list, n, noteNewer)
	w.notes[n.ContactID] = slices.Insert(list, i, n)
	w.noteBy[n.ID] = n
}

// ---- JSON bodies ----

type noteContactBody struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// noteBody is the description's note; the author is an admin object.
type noteBody struct {
	Type      string          `json:"type"`
	ID        string          `json:"id"`
	CreatedAt int64           `json:"created_at"`
	Contact   noteContactBody `json:"contact"`
	Author    *adminBody      `json:"author"`
	Body      string          `json:"body"`
}

func (w *Workspace) noteBodyLocked(n *Note) noteBody {
	b := noteBody{Type: "note", ID: n.ID, CreatedAt: n.CreatedAt.Unix(), Contact: noteContactBody{Type: "contact", ID: n.ContactID}, Body: n.Body}
	if a, ok := w.adminLocked(n.AuthorID); ok {
		ab := newAdminBody(a, false)
		b.Author = &ab
	}
	return b
}

// noteListBody is note_list, paged with cursor_pages.
type noteListBody struct {
	Type       string      `json:"type"`
	Data       []noteBody  `json:"data"`
	TotalCount int         `json:"total_count"`
	Pages      cursorPages `json:"pages"`
}

// notesDefaultPerPage is the page size the description's example shows.
const notesDefaultPerPage = 50

// handleContactNotes lists a contact's notes, newest first. The description
// lists no paging parameters; like the live API the emulator takes per_page
// (default 50, at most 150) and page (from 1), and also the
// pages.next.starting_after cursor it hands out when more pages follow.
func (w *Workspace) handleContactNotes(r *http.Request, p map[string]string) (any, *apiError) {
	perPage, after, apiErr := queryPaging(r, notesDefaultPerPage)
	if apiErr != nil {
		return nil, apiErr
	}
	page := 1
	if s := r.URL.Query().Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			e := errorf(http.StatusBadRequest, CodeParameterInvalid, "page must be a positive integer, got %q", s)
			e.Field = "page"
			return nil, e
		}
		page = n
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if _, apiErr := w.contactLocked(p["id"]); apiErr != nil {
		return nil, apiErr
	}
	list := w.notes[p["id"]]
	if after != nil {
		cur, err := decodeCursor(*after)
		if err != nil || cur.Object != "note" {
			e := errorf(http.StatusBadRequest, CodeClientError, msgBadCursor)
			e.Field = "starting_after"
			return nil, e
		}
		page = cur.Page + 1
	}
	start := min((page-1)*perPage, len(list))
	end := min(start+perPage, len(list))
	body := noteListBody{Type: "list", Data: make([]noteBody, 0, end-start), TotalCount: len(list), Pages: cursorPages{
		Type: "pages", Page: page, PerPage: perPage, TotalPages: (len(list) + perPage - 1) / perPage,
	}}
	for _, n := range list[start:end] {
		body.Data = append(body.Data, w.noteBodyLocked(n))
	}
	if end < len(list) {
		cur := newCursor("note", "", false, sortKey{id: list[end-1].ID}, page)
		body.Pages.Next = &nextPage{PerPage: perPage, StartingAfter: &cur}
	}
	return body, nil
}
