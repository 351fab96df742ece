package webhooks

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources"
)

// A rolling deploy: a replica of the previous release applied a
// notification and marked it under the name it uses (typed out here, not
// built by the code under test). Intercom's redelivery to a replica of this
// release is not applied again; a notification this release applies is
// marked where the previous release looks.
func TestANotificationThePreviousReleaseAppliedIsNotAppliedAgain(t *testing.T) {
	const secret = "s3cret"
	client := redistest.Client(t, redistest.Addr(t))
	ctx := context.Background()
	app := redistest.Unique("app")
	if err := client.Set(ctx, "tdi:v2:{"+app+"}:webhook:notif_old", 1, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	inv := &countingInvalidator{}
	h := &Handler{Secret: secret, Redis: redis.NewHealth(client, time.Second, nil),
		Workspace: func(context.Context, string) sources.Invalidator { return inv }}
	notification := func(id string) []byte {
		return []byte(`{"type":"notification_event","id":"` + id + `","topic":"contact.user.updated",` +
			`"app_id":"` + app + `","data":{"item":{"type":"contact","id":"c1"}}}`)
	}

	if code := deliver(t, h, secret, notification("notif_old")); code != http.StatusOK {
		t.Errorf("redelivery: HTTP %d, want 200", code)
	}
	if got := inv.calls.Load(); got != 0 {
		t.Errorf("a notification the previous release applied was applied %d times again, want 0", got)
	}

	if code := deliver(t, h, secret, notification("notif_new")); code != http.StatusOK || inv.calls.Load() != 1 {
		t.Errorf("a new notification: HTTP %d, applied %d times; want 200 and 1", code, inv.calls.Load())
	}
	if n, err := client.Exists(ctx, "tdi:v2:{"+app+"}:webhook:notif_new").Result(); err != nil || n != 1 {
		t.Errorf("no mark where the previous release looks: %d, %v", n, err)
	}
}
