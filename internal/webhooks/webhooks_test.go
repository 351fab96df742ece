package webhooks

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/bounded"
	"github.com/talkdesk-intercom/api/sources"
)

// invalidator counts what it is asked, failing the first fail calls.
type invalidator struct{ calls, fail int }

func (i *invalidator) Invalidate(context.Context, sources.Changed) error {
	i.calls++
	if i.calls <= i.fail {
		return errors.New("the cache is down")
	}
	return nil
}

func TestDeliveriesAreAppliedOncePerDay(t *testing.T) {
	const secret = "s3cret"
	body := []byte(`{"type":"notification_event","id":"notif_1","topic":"contact.user.updated",` +
		`"app_id":"app","data":{"item":{"type":"contact","id":"c1"}}}`)
	tests := []struct {
		name       string
		fail       int           // invalidations that fail first
		advance    time.Duration // between the two deliveries
		wantStatus [2]int
		wantCalls  int
	}{
		{"a redelivery within the day is not applied again", 0, 23 * time.Hour, [2]int{200, 200}, 1},
		{"a day later it is applied again", 0, 24 * time.Hour, [2]int{200, 200}, 2},
		{"a failed delivery is applied on the retry", 1, time.Minute, [2]int{503, 200}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := bounded.NewClock(time.Unix(1_700_000_000, 0))
			inv := &invalidator{fail: tt.fail}
			h := &Handler{Secret: secret, clock: clock,
				Workspace: func(context.Context, string) sources.Invalidator { return inv }}
			for i, want := range tt.wantStatus {
				if i > 0 {
					clock.Advance(tt.advance)
				}
				req := httptest.NewRequest(http.MethodPost, "/webhooks/intercom", bytes.NewReader(body))
				req.Header.Set("X-Hub-Signature", Sign(secret, body))
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != want {
					t.Errorf("delivery %d: HTTP %d, want %d", i+1, rec.Code, want)
				}
			}
			if inv.calls != tt.wantCalls {
				t.Errorf("%d invalidations, want %d", inv.calls, tt.wantCalls)
			}
		})
	}
}

// recording remembers the changes it is told.
type recording struct{ changes []sources.Changed }

func (r *recording) Invalidate(_ context.Context, ch sources.Changed) error {
	r.changes = append(r.changes, ch)
	return nil
}

// A contact that is gone (deleted, archived, merged away) is wrong, not old:
// the change says so, and the cache deletes what it holds about it and the
// lookups that found it. An updated contact is only old.
func TestGoneContactsAreDeletedNotKeptStale(t *testing.T) {
	const secret = "s3cret"
	tests := []struct {
		topic string
		gone  bool
	}{
		{"contact.user.updated", false},
		{"contact.deleted", true},
		{"contact.archived", true},
		{"contact.merged", true},
		{"contact.user.tag.deleted", false}, // a tag went, not the contact
	}
	for i, tt := range tests {
		t.Run(tt.topic, func(t *testing.T) {
			rec := &recording{}
			h := &Handler{Secret: secret, Workspace: func(context.Context, string) sources.Invalidator { return rec }}
			body := []byte(`{"type":"notification_event","id":"n` + string(rune('a'+i)) + `","topic":"` + tt.topic + `",` +
				`"app_id":"app","data":{"item":{"type":"contact","id":"c1","email":"Ada@Example.org","phone":"+1 415 555 0142"}}}`)
			req := httptest.NewRequest(http.MethodPost, "/webhooks/intercom", bytes.NewReader(body))
			req.Header.Set("X-Hub-Signature", Sign(secret, body))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK || len(rec.changes) != 1 {
				t.Fatalf("HTTP %d, %d changes", w.Code, len(rec.changes))
			}
			ch := rec.changes[0]
			if !slices.Equal(ch.ContactIDs, []string{"c1"}) || !slices.Equal(ch.Phones, []string{"+14155550142"}) {
				t.Errorf("changed %+v, want the contact and its number", ch)
			}
			gone := slices.Equal(ch.DeletedContactIDs, []string{"c1"}) && slices.Equal(ch.RemovedPhones, []string{"+14155550142"}) &&
				slices.Equal(ch.RemovedEmails, []string{"Ada@Example.org"})
			none := ch.DeletedContactIDs == nil && ch.RemovedPhones == nil && ch.RemovedEmails == nil
			if (tt.gone && !gone) || (!tt.gone && !none) {
				t.Errorf("changed %+v; gone %v", ch, tt.gone)
			}
		})
	}
}
