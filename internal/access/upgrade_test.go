package access

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
)

// A rolling deploy: replicas of the previous release have spent a caller's
// allowance in its bucket, under the name they use (typed out here, not
// built by the code under test: the first 8 bytes, in hex, of the SHA-256
// of the deployment, a zero byte and the caller). A replica of this release
// learns from that bucket that the caller is over.
func TestABucketThePreviousReleaseSpentHoldsTheCaller(t *testing.T) {
	client := redistest.Client(t, redistest.Addr(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const caller = "ip:203.0.113.7"
	bucket := "tdi:v2:{caller:65c90dc81745614e}:rate:requests"
	// The bucket holds the time (ms of Redis's clock) up to which the
	// allowance is spent: ten minutes ahead.
	now, err := client.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	spentUntil := now.Add(10 * time.Minute).UnixMilli()
	if err := client.Set(ctx, bucket, strconv.FormatInt(spentUntil, 10), 11*time.Minute).Err(); err != nil {
		t.Fatal(err)
	}

	l := NewLimiter(600)
	l.Share(ctx, "requests", func() string { return "upgrade-fleet" }, redis.NewHealth(client, time.Second, nil), 10*time.Millisecond)
	if _, ok := l.Allow(caller); !ok {
		t.Fatal("refused before the fleet was asked")
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if wait, ok := l.Allow(caller); !ok {
			if wait < 9*time.Minute {
				t.Errorf("held for %v, want about the ten minutes the bucket is spent ahead", wait)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Error("the caller whose allowance the previous release spent is still admitted")
}
