package webhooks

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
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
