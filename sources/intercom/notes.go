package intercom

import (
	"cmp"
	"context"
	"fmt"
	"net/url"

	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/preview"
)

// Notes: read per contact, only for the contacts that have some. Adding
// notes is in actions.go.

// endpointContactNotes is the upstream endpoint, as Config.Observe and errors name it.
const endpointContactNotes = "GET /contacts/{id}/notes"

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
