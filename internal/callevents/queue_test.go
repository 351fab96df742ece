package callevents

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Erasing dead letters reads the list a page at a time: what matches goes
// from every page, the rest stays.
func TestForgetDeadLettersPageByPage(t *testing.T) {
	ctx := context.Background()
	queues := map[string]queue{"memory": newMemoryQueue(10, 1000, time.Hour)}
	if addr := os.Getenv("TEST_REDIS_ADDR"); addr != "" {
		client := goredis.NewClient(&goredis.Options{Addr: addr})
		t.Cleanup(func() { client.Close() })
		queues["redis"] = &redisQueue{client: client, ws: fmt.Sprintf("forget-dead-%d", time.Now().UnixNano()),
			opts: queueOptions{timeout: 5 * time.Second, maxDead: 1000, deadFor: time.Hour}}
	}
	const letters = 3*forgetPage + 17
	for name, q := range queues {
		for i := range letters {
			phone := "+14155550100"
			if i%3 == 0 {
				phone = "+14155550142" // the deleted contact's
			}
			dl := DeadLetter{ID: fmt.Sprintf("%d-0", i+1), Event: Event{Event: CallMissed, CallID: fmt.Sprintf("c-%d", i), ContactPhone: phone}, Reason: "test", At: time.Now()}
			if err := q.dead(ctx, dl); err != nil {
				t.Fatal(err)
			}
		}
		if err := q.forgetDead(ctx, func(e Event) bool { return e.ContactPhone == "+14155550142" }); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		left, err := q.deadLetters(ctx, letters)
		if err != nil {
			t.Fatal(err)
		}
		if want := letters - (letters+2)/3; len(left) != want {
			t.Fatalf("%s: %d dead letters left, want %d", name, len(left), want)
		}
		for i, dl := range left {
			if dl.Event.ContactPhone == "+14155550142" {
				t.Fatalf("%s: letter %d left: %+v", name, i, dl)
			}
		}
	}
}
