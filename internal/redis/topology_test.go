package redis_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
)

// REDIS_URL's Sentinel form reaches the master a real Sentinel names.
func TestSentinelURLReachesTheMaster(t *testing.T) {
	sentinel, master := redistest.StartSentinel(t, "mymaster")
	client, err := redis.Open("redis-sentinel://"+sentinel+"/mymaster?db=0", false, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Set(ctx, "sentinel-test", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	direct := redistest.Client(t, master.Addr)
	if got, err := direct.Get(ctx, "sentinel-test").Result(); err != nil || got != "v" {
		t.Errorf("on the master: %q, %v", got, err)
	}
}

// An ACL user in REDIS_URL authenticates; a wrong password is refused by
// Redis without the error repeating it.
func TestACLUserInTheURL(t *testing.T) {
	srv := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := redistest.Client(t, srv.Addr).Do(ctx, "ACL", "SETUSER", "app", "on", ">s3cret-pw", "~tdi:*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"redis://app:s3cret-pw@" + srv.Addr, true},
		{"redis://app:wrong-pw@" + srv.Addr, false},
	} {
		client, err := redis.Open(tt.url, false, 0)
		if err != nil {
			t.Fatal(err)
		}
		err = client.Set(ctx, "tdi:acl-test", "v", time.Minute).Err()
		_ = client.Close()
		if (err == nil) != tt.ok {
			t.Errorf("ok %v: %v", tt.ok, err)
		}
		if err != nil && (strings.Contains(err.Error(), "wrong-pw") || strings.Contains(err.Error(), "s3cret-pw")) {
			t.Errorf("the error repeats the password: %v", err)
		}
	}
}
