package actions

import (
	"context"
	"time"

	"github.com/talkdesk-intercom/api/sources"
)

// AddNoteRequest adds a note to a contact.
type AddNoteRequest struct {
	ContactID string `json:"contact_id"`
	Body      string `json:"body"` // plain text
	AdminID   string `json:"admin_id,omitempty"`
}

// AddNote adds a note, written by AdminID or the token's admin.
func (s *Service) AddNote(ctx context.Context, key string, req AddNoteRequest) (*sources.Note, error) {
	if r, ok, err := replay[*sources.Note](ctx, s, ActionAddNote, key, req); ok || err != nil {
		return r, err
	}
	var p Problems
	checkKey(ctx, &p, key)
	body := checkLength(&p, "body", req.Body, 1, maxBody)
	if _, err := s.contact(ctx, &p, "contactId", req.ContactID); err != nil {
		return nil, err
	}
	admin, err := s.author(ctx, &p, "adminId", req.AdminID)
	if err != nil {
		return nil, err
	}
	if len(p) > 0 {
		return nil, p
	}
	note := sources.NewNote{ContactID: req.ContactID, Body: textToHTML(body), AdminID: admin}
	return guarded(ctx, s, ActionAddNote, key, req,
		func(ctx context.Context) (*sources.Note, error) { return s.addNote(ctx, note) },
		func(ctx context.Context, since time.Time) (*sources.Note, bool, error) {
			return s.findNote(ctx, note, since)
		})
}

func (s *Service) addNote(ctx context.Context, note sources.NewNote) (*sources.Note, error) {
	n, err := s.cfg.Executor.AddNote(ctx, note)
	if p, ok := asProblems(err, "contactId"); ok {
		return nil, p
	}
	if err != nil {
		return nil, err
	}
	// Its notes count changed, and its history has one more note.
	s.invalidate(ctx, sources.Changed{ContactIDs: []string{note.ContactID},
		Contacts:     []sources.ContactChange{{ID: note.ContactID, Kind: sources.ContactUpdated}},
		Interactions: []sources.InteractionChange{{ID: n.ID, Kind: sources.KindNote, ContactIDs: []string{note.ContactID}, Created: true}}})
	return n, nil
}

// findNote looks for the note an earlier attempt may have added: same
// contact, same body, written since the attempt began.
func (s *Service) findNote(ctx context.Context, note sources.NewNote, since time.Time) (*sources.Note, bool, error) {
	notes, err := s.cfg.Executor.NotesSince(ctx, note.ContactID, since.Add(-time.Minute))
	if err != nil {
		return nil, false, err
	}
	for _, n := range notes {
		if n.Body == note.Body {
			return n, true, nil
		}
	}
	return nil, false, nil
}
