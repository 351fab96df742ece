package events

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources"
)

// received hands the events of one workspace, and the stream's being
// whole, to the test.
type received struct {
	workspace string
	events    chan Event
	whole     chan struct{}
}

func (r *received) Event(ev Event) {
	if ev.Workspace == r.workspace {
		r.events <- ev
	}
}

func (r *received) Reset(ok bool) {
	if ok {
		select {
		case r.whole <- struct{}{}:
		default:
		}
	}
}

// A rolling deploy: replicas of the previous release and of this one share
// one Redis, and each must drop what the other's changes made stale. An
// event the previous release publishes (on the channel and in the JSON it
// uses, typed out here, not built by the code under test) is received by
// this release; what this release publishes is on that channel, in that
// JSON.
func TestEventsCrossBetweenReleases(t *testing.T) {
	client := redistest.Client(t, redistest.Addr(t))
	bus := New(client, redis.NewHealth(client, time.Second, nil), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ws := redistest.Unique("ws")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	got := &received{workspace: ws, events: make(chan Event, 1), whole: make(chan struct{}, 1)}
	go bus.Run(ctx, got)
	select {
	case <-got.whole:
	case <-time.After(5 * time.Second):
		t.Fatal("the event stream did not start")
	}
	old := `{"w":"` + ws + `","c":{"ContactIDs":["c1"],"Phones":["+14155550100"],"Emails":null},"k":["tdi:v2:{` + ws + `}:contact:c1"]}`
	if err := client.Publish(ctx, "tdi:v1:events:"+ws, old).Err(); err != nil {
		t.Fatal(err)
	}
	want := Event{Workspace: ws, Changed: sources.Changed{ContactIDs: []string{"c1"}, Phones: []string{"+14155550100"}},
		Keys: []string{"tdi:v2:{" + ws + "}:contact:c1"}}
	select {
	case ev := <-got.events:
		if !reflect.DeepEqual(ev, want) {
			t.Errorf("received %+v, want %+v", ev, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the previous release's event was not received")
	}

	sub := client.Subscribe(ctx, "tdi:v1:events:"+ws)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // subscribed
		t.Fatal(err)
	}
	if err := bus.Publish(ctx, Event{Workspace: ws, Changed: sources.Changed{ContactIDs: []string{"c2"}},
		Keys: []string{"tdi:v2:{" + ws + "}:contact:c2"}}); err != nil {
		t.Fatal(err)
	}
	waitCtx, stop := context.WithTimeout(ctx, 5*time.Second)
	defer stop()
	msg, err := sub.ReceiveMessage(waitCtx)
	if err != nil {
		t.Fatalf("nothing on the previous release's channel: %v", err)
	}
	if wantJSON := `{"w":"` + ws + `","c":{"ContactIDs":["c2"],"Phones":null,"Emails":null},"k":["tdi:v2:{` + ws + `}:contact:c2"]}`; msg.Payload != wantJSON {
		t.Errorf("published %s, want %s", msg.Payload, wantJSON)
	}
}

// An event of this release that keeps values stale is read by a replica of
// the previous release (its Event typed out here): the new fields are
// unknown to it, and Keys still names every key touched, so it drops its
// copies of them all. An event of the previous release read by this one
// keeps nothing stale.
func TestStaleMarksAreOptionalOnTheWire(t *testing.T) {
	ev := Event{Workspace: "ws", Changed: sources.Changed{ContactIDs: []string{"c1", "c2"}, DeletedContactIDs: []string{"c2"},
		Phones: []string{"+14155550100"}, RemovedPhones: []string{"+14155550100"}},
		Keys:  []string{"tdi:v2:{ws}:contact:c1", "tdi:v2:{ws}:contact:c2", "tdi:v2:{ws}:phone:+14155550100"},
		Stale: []string{"tdi:v2:{ws}:contact:c1"}, StaleAt: 1700000000000}
	msg, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var previous struct {
		Workspace string `json:"w"`
		Changed   struct {
			ContactIDs []string
			Phones     []string
			Emails     []string
		} `json:"c"`
		Keys []string `json:"k,omitempty"`
	}
	if err := json.Unmarshal(msg, &previous); err != nil {
		t.Fatalf("the previous release cannot read %s: %v", msg, err)
	}
	if !reflect.DeepEqual(previous.Keys, ev.Keys) || !reflect.DeepEqual(previous.Changed.ContactIDs, ev.Changed.ContactIDs) {
		t.Errorf("the previous release reads %+v from %s; want every key and contact", previous, msg)
	}

	var got Event
	old := `{"w":"ws","c":{"ContactIDs":["c1"],"Phones":null,"Emails":null},"k":["tdi:v2:{ws}:contact:c1"]}`
	if err := json.Unmarshal([]byte(old), &got); err != nil || got.Stale != nil || got.StaleAt != 0 || got.Changed.DeletedContactIDs != nil {
		t.Errorf("the previous release's event reads as %+v, %v; want nothing kept stale", got, err)
	}
}
