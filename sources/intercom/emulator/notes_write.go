package emulator

import (
	"html"
	"net/http"
	"strings"
)

// handleCreateNote adds a note to a contact (POST /contacts/{id}/notes):
// body is required; admin_id, when given, must be an admin of the workspace
// (404 not_found "Resource Not Found", the description's "Admin not found"
// example), otherwise the token's admin writes it. A plain-text body is
// wrapped in a paragraph, as the description's example shows ("Hello" comes
// back as "<p>Hello</p>"); an HTML body is kept as sent. The note is first in
// GET /contacts/{id}/notes and counts in the contact's notes.total_count; the
// contact's updated_at does not change.
func (w *Workspace) handleCreateNote(r *http.Request, p map[string]string) (any, *apiError) {
	obj, apiErr := readObject(r)
	if apiErr != nil {
		return nil, apiErr
	}
	body, apiErr := stringParam(obj, "body")
	if apiErr != nil {
		return nil, apiErr
	}
	if !body.given() || strings.TrimSpace(body.v) == "" {
		return nil, paramMissing("body", "body is required")
	}
	admin, apiErr := idParam(obj, "admin_id")
	if apiErr != nil {
		return nil, apiErr
	}
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	c, apiErr := w.contactLocked(p["id"])
	if apiErr != nil {
		return nil, apiErr
	}
	author := w.admins[0].ID
	if admin.given() && admin.v != "" {
		a, ok := w.adminLocked(admin.v)
		if !ok {
			return nil, errorf(http.StatusNotFound, CodeNotFound, msgResourceNotFound)
		}
		author = a.ID
	}
	n := &Note{ID: next(&w.seq.note), ContactID: c.ID, AuthorID: author, Body: noteHTML(body.v), CreatedAt: now}
	w.insertNoteLocked(n)
	return w.noteBodyLocked(n), nil
}

// noteHTML is how Intercom stores a note body: HTML as sent, plain text
// (escaped) in a paragraph.
func noteHTML(s string) string {
	if strings.HasPrefix(strings.TrimSpace(s), "<") {
		return s
	}
	return "<p>" + html.EscapeString(s) + "</p>"
}
