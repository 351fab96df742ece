package talkdesk

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/talkdesk-intercom/api/internal/web"
	"github.com/talkdesk-intercom/api/sources"
)

// Contact synchronization (POST /talkdesk/contact_sync).
//
// The checkpoint is a contact's updated_at, written in CheckpointLayout
// ("2012-11-20 23:01:00 UTC"; RFC 3339 and Unix seconds are read too).
// Contacts come sorted ascending by updated_at, then id, as the contract
// asks of the checkpoint field.
//
//   - Initial sync (no checkpoint, no offset): every contact.
//   - Incremental sync (checkpoint, no offset): the contacts updated at or
//     after the checkpoint's second. Intercom's search matches updated_at
//     by calendar day; the source searches from the day before and drops
//     what is older, so an update late in the checkpoint's own day is not
//     missed. "At or after" rather than "after": a contact changed again
//     within the checkpoint's second must not be missed, so the contacts of
//     that one second are the only ones sent twice.
//   - Next page (offset, with or without checkpoint): next_offset is the
//     source's cursor, and `context` carries what the sync's later pages
//     need to stay consistent with its first: the `since` it started from,
//     its start time and the largest updated_at sent so far. Without a
//     context (a synchronizer that does not echo it), the checkpoint in meta
//     is the since.
//
// Every page answers a synchronization_checkpoint (mandatory in the
// contract): the largest updated_at sent so far in this sync, but never
// later than the sync's start minus SearchDelay, because Intercom's search
// can take minutes to index a change: a contact changed just before the sync
// and not yet searchable must still be at or after the checkpoint, to come
// with the next sync. A page with no contact answers the checkpoint it was
// given (the epoch, "1970-01-01 00:00:00 UTC", on an initial sync of an
// empty workspace: the next sync then reads everything).

const (
	defaultPageSize = 100
	maxPageSize     = 150
	defaultMaxList  = 20
)

// syncContext is the `context` of a sync's next pages.
type syncContext struct {
	Version int       `json:"v"`
	Since   time.Time `json:"since,omitzero"`
	Start   time.Time `json:"start"`
	Max     time.Time `json:"max,omitzero"`
}

const syncContextVersion = 1

type syncResponse struct {
	NextOffset string            `json:"next_offset,omitempty"`
	Checkpoint string            `json:"synchronization_checkpoint"`
	Context    *syncContext      `json:"context,omitempty"`
	Contacts   []talkdeskContact `json:"contacts"`
}

// maxOffsetBytes bounds meta.offset: the offsets this bridge answers are
// Intercom's cursors, far shorter; a longer one is refused without asking.
const maxOffsetBytes = 4096

func (b *Bridge) contactSync(ctx context.Context, c *call) (reply, error) {
	ctx = sources.WithPriority(ctx, sources.Bulk) // a sync waits for screen pops when the budget is short
	rawCheckpoint, err := c.meta.str("synchronization_checkpoint")
	if err != nil {
		return reply{}, err
	}
	checkpoint, ok := parseTime(rawCheckpoint)
	if !ok && rawCheckpoint != "" {
		return reply{}, badRequest("meta.synchronization_checkpoint",
			"meta.synchronization_checkpoint %s is not a time such as %q", sources.Quote(rawCheckpoint), formatTime(b.cfg.Now()))
	}
	offset, err := c.meta.str("offset")
	if err != nil {
		return reply{}, err
	}
	if len(offset) > maxOffsetBytes {
		return reply{}, badRequest("meta.offset", "meta.offset is %d bytes long; a next_offset this bridge answered has at most %d: start the sync again without an offset",
			len(offset), maxOffsetBytes)
	}
	state := syncContext{Version: syncContextVersion, Since: checkpoint, Start: b.cfg.Now()}
	if offset != "" {
		if prev, ok := decodeSyncContext(c.meta); ok {
			state = prev
		} else {
			web.Logger(ctx).Debug("talkdesk contact_sync: next page without our context; reading from the checkpoint")
		}
	}
	page, err := c.ws.Source.ListContacts(ctx, sources.ContactPageRequest{
		UpdatedSince: state.Since, Cursor: offset, Limit: b.cfg.PageSize})
	if offset != "" && sources.ErrorCode(err) == sources.EBadUserInput {
		return reply{}, badRequest("meta.offset", "meta.offset %s is not a next_offset this bridge answered: start the sync again without an offset (Intercom: %s)",
			sources.Quote(offset), sources.Clip(sources.ErrorMessage(err), sources.QuoteRunes))
	}
	if err != nil {
		return reply{}, err
	}
	list := uniqueContacts(page.Contacts)
	slices.SortStableFunc(list, func(a, b *sources.Contact) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), cmp.Compare(a.ID, b.ID))
	})
	// Sorted by UpdatedAt first, so the last contact is the latest.
	if len(list) > 0 && list[len(list)-1].UpdatedAt.After(state.Max) {
		state.Max = list[len(list)-1].UpdatedAt
	}
	contacts, err := b.toTalkdeskContacts(ctx, c, list)
	if err != nil {
		return reply{}, err
	}
	res := syncResponse{Checkpoint: formatTime(b.checkpointOf(state, checkpoint)), Contacts: contacts}
	if page.NextCursor != "" {
		res.NextOffset, res.Context = page.NextCursor, &state
	}
	return reply{status: http.StatusOK, body: res}, nil
}

// checkpointOf is the checkpoint a page answers: see the comment at the top.
func (b *Bridge) checkpointOf(state syncContext, given time.Time) time.Time {
	if state.Max.IsZero() {
		return given
	}
	if indexed := state.Start.Add(-b.cfg.SearchDelay); state.Max.After(indexed) {
		return indexed.Truncate(time.Second)
	}
	return state.Max
}

// decodeSyncContext reads the context of an earlier page; ok is false when
// there is none or it is not ours.
func decodeSyncContext(meta object) (syncContext, bool) {
	raw, ok := meta.value("context")
	if !ok {
		return syncContext{}, false
	}
	var sc syncContext
	if json.Unmarshal(raw, &sc) != nil || sc.Version != syncContextVersion || sc.Start.IsZero() {
		return syncContext{}, false
	}
	return sc, true
}

// uniqueContacts drops repeats of a contact within a page (the source's
// day-overlap search never should send one, but a page must not hold two).
func uniqueContacts(list []*sources.Contact) []*sources.Contact {
	seen := make(map[string]bool, len(list))
	out := make([]*sources.Contact, 0, len(list))
	for _, ct := range list {
		if ct != nil && !seen[ct.ID] {
			seen[ct.ID] = true
			out = append(out, ct)
		}
	}
	return out
}
