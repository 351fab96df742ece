package webhooks

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources"
)

type countingInvalidator struct{ calls atomic.Int64 }

func (i *countingInvalidator) Invalidate(context.Context, sources.Changed) error {
	i.calls.Add(1)
	return nil
}

func deliver(t *testing.T, h http.Handler, secret string, body []byte) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/intercom", bytes.NewReader(body))
	req.Header.Set("X-Hub-Signature", Sign(secret, body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// Two replicas on one Redis Cluster: Intercom's deliveries of one
// notification, to either replica and at once, are applied once.
func TestDeliveriesAreAppliedOncePerFleet(t *testing.T) {
	const secret = "s3cret"
	client := redistest.ClusterClient(t, redistest.ClusterAddrs(t))
	inv := &countingInvalidator{}
	replica := func() *Handler {
		return &Handler{Secret: secret, Redis: redis.NewHealth(client, time.Second, nil),
			Workspace: func(context.Context, string) sources.Invalidator { return inv }}
	}
	a, b := replica(), replica()
	app := redistest.Unique("app")
	for _, id := range []string{"notif_1", "notif_2", "notif_3"} {
		body := []byte(`{"type":"notification_event","id":"` + id + `","topic":"contact.user.updated",` +
			`"app_id":"` + app + `","data":{"item":{"type":"contact","id":"c1"}}}`)
		var wg sync.WaitGroup
		for _, h := range []*Handler{a, b, a, b} {
			wg.Go(func() {
				if code := deliver(t, h, secret, body); code != http.StatusOK {
					t.Errorf("%s: HTTP %d", id, code)
				}
			})
		}
		wg.Wait()
	}
	if got := inv.calls.Load(); got != 3 {
		t.Errorf("3 notifications delivered 4 times each to 2 replicas: applied %d times, want 3", got)
	}
}

// Without Redis answering, each replica still de-duplicates its own
// deliveries, and none fails.
func TestDeliveriesFallBackToThisProcessWithoutRedis(t *testing.T) {
	const secret = "s3cret"
	dead := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = dead.Close() })
	inv := &countingInvalidator{}
	h := &Handler{Secret: secret, Redis: redis.NewHealth(dead, time.Second, nil),
		Workspace: func(context.Context, string) sources.Invalidator { return inv }}
	body := []byte(`{"type":"notification_event","id":"notif_1","topic":"contact.user.updated",` +
		`"app_id":"app","data":{"item":{"type":"contact","id":"c1"}}}`)
	for i := range 3 {
		if code := deliver(t, h, secret, body); code != http.StatusOK {
			t.Errorf("delivery %d: HTTP %d", i+1, code)
		}
	}
	if got := inv.calls.Load(); got != 1 {
		t.Errorf("applied %d times, want 1", got)
	}
}

// A delivery one replica failed to apply is applied when Intercom's retry
// lands on another.
func TestFailedDeliveryIsRetriedOnAnotherReplica(t *testing.T) {
	const secret = "s3cret"
	client := redistest.ClusterClient(t, redistest.ClusterAddrs(t))
	failing := &invalidator{fail: 1}
	working := &countingInvalidator{}
	a := &Handler{Secret: secret, Redis: redis.NewHealth(client, time.Second, nil), Workspace: func(context.Context, string) sources.Invalidator { return failing }}
	b := &Handler{Secret: secret, Redis: redis.NewHealth(client, time.Second, nil), Workspace: func(context.Context, string) sources.Invalidator { return working }}
	body := []byte(`{"type":"notification_event","id":"notif_1","topic":"contact.user.updated",` +
		`"app_id":"` + redistest.Unique("app") + `","data":{"item":{"type":"contact","id":"c1"}}}`)
	if code := deliver(t, a, secret, body); code != http.StatusServiceUnavailable {
		t.Errorf("failed delivery: HTTP %d, want 503", code)
	}
	if code := deliver(t, b, secret, body); code != http.StatusOK || working.calls.Load() != 1 {
		t.Errorf("retry on another replica: HTTP %d, applied %d times, want 200 and 1", code, working.calls.Load())
	}
}
