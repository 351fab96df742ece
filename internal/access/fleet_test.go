package access

import (
	"context"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/redis"
)

// Tracing leaves out the limiters' reports, and only them.
func TestIsReport(t *testing.T) {
	p := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"}).Pipeline()
	ctx := context.Background()
	report := gcraScript.Eval(ctx, p, []string{redis.RateBucketKey("requests", "ws", "ip:a")}, 3, 1000.0)
	other := goredis.NewScript("return 1").Eval(ctx, p, []string{"k"}, 1, 2)
	get := p.Get(ctx, "k")
	if !IsReport([]goredis.Cmder{report, report}) {
		t.Error("a report is not recognised")
	}
	for name, cmds := range map[string][]goredis.Cmder{"another script": {report, other}, "a GET": {get}, "nothing": nil} {
		if IsReport(cmds) {
			t.Errorf("%s is taken for a report", name)
		}
	}
}
