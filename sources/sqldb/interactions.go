package sqldb

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/talkdesk-intercom/api/sources"
)

// SupportedInteractionKinds is one kind: the database's records, whatever
// the customer calls them (Interaction.SourceKind).
func (db *DB) SupportedInteractionKinds() []sources.InteractionKind {
	return []sources.InteractionKind{sources.KindRecord}
}

// InteractionsByContacts reads the most recent HistoryLimit interactions of
// each contact of the batch in one query, newest first.
func (db *DB) InteractionsByContacts(ctx context.Context, refs []sources.ContactRef, kinds []sources.InteractionKind,
	since time.Time) (map[string][]*sources.Interaction, error) {
	out := make(map[string][]*sources.Interaction, len(refs))
	var ids []string
	for _, r := range refs {
		out[r.ID] = []*sources.Interaction{}
		if bare, ok := strings.CutPrefix(r.ID, Prefix); ok && storable(bare) && !slices.Contains(ids, bare) {
			ids = append(ids, bare)
		}
	}
	if len(ids) == 0 || (len(kinds) > 0 && !slices.Contains(kinds, sources.KindRecord)) {
		return out, nil
	}
	q := `SELECT id, contact_id, kind, subject, description, occurred_at, url, status, priority FROM (
  SELECT i.id, i.contact_id, i.kind, i.subject, i.description, i.occurred_at, i.url, i.status, i.priority,
         row_number() OVER (PARTITION BY i.contact_id ORDER BY i.occurred_at DESC, i.id DESC) AS n
  FROM ` + ViewInteractions + ` i
  WHERE ` + db.engine.list("i.contact_id", 1) + `
) t WHERE n <= ` + strconv.Itoa(db.cfg.HistoryLimit)
	err := db.run(ctx, ViewInteractions, q, []any{db.engine.arg(ids)}, func(r rows) error {
		var id, contact, kind, subject, description, url, status, priority sql.NullString
		var occurred any
		if err := r.Scan(&id, &contact, &kind, &subject, &description, &occurred, &url, &status, &priority); err != nil {
			return err
		}
		it := &sources.Interaction{
			ID: Prefix + id.String, Kind: sources.KindRecord, Source: Name, SourceKind: strings.ToLower(strings.TrimSpace(kind.String)),
			ContactID: Prefix + contact.String, Date: timeOf(occurred), URL: url.String,
			Description: preview(description.String), Status: Status(status.String), Priority: Priority(priority.String),
			SourceState: status.String,
		}
		it.CreatedAt, it.UpdatedAt = it.Date, it.Date
		it.Subject = strings.TrimSpace(subject.String)
		if it.Subject == "" {
			it.Subject = strings.TrimSpace(cmp.Or(it.SourceKind, "record") + " " + id.String)
		}
		if !since.IsZero() && it.Date.Before(since) {
			return nil
		}
		out[it.ContactID] = append(out[it.ContactID], it)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, list := range out {
		sources.SortInteractions(list)
	}
	return out, nil
}

// preview folds white space and cuts text to sources.PreviewLength runes
// at a word boundary, as every source's Description is. The database holds
// plain text: sources/preview reads HTML, and would take "a <b" for a tag.
func preview(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= sources.PreviewLength {
		return s
	}
	r := []rune(s)[:sources.PreviewLength-1]
	cut := string(r)
	if i := strings.LastIndexByte(cut, ' '); i > sources.PreviewLength/2 {
		cut = cut[:i]
	}
	return cut + "…"
}

// Status maps the database's status word to Talkdesk's (the rule of
// docs/customer-database.md): Talkdesk's own words as they are, common
// synonyms to the nearest, anything else (or nothing) to closed: a record
// of the past.
func Status(s string) sources.Status {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "new", "received", "created":
		return sources.StatusNew
	case "open", "active", "in_progress", "in progress", "processing", "escalated":
		return sources.StatusOpen
	case "pending", "waiting", "on_hold", "on hold", "snoozed", "awaiting_payment", "due", "overdue":
		return sources.StatusPending
	case "solved", "resolved", "done", "completed", "complete", "paid", "delivered", "fulfilled", "shipped":
		return sources.StatusSolved
	}
	return sources.StatusClosed
}

// Priority maps the database's priority word to Talkdesk's: Talkdesk's own
// words as they are, medium to normal, critical and p1 to urgent, p2 to
// high, p3 to normal, p4 to low; anything else (or nothing) to none.
func Priority(s string) sources.Priority {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "low", "p4", "minor":
		return sources.PriorityLow
	case "normal", "medium", "p3":
		return sources.PriorityNormal
	case "high", "p2", "major":
		return sources.PriorityHigh
	case "urgent", "critical", "p1", "blocker":
		return sources.PriorityUrgent
	}
	return sources.PriorityNone
}
