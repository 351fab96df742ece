package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/events"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources"
)

// The bus over a real Redis. The suite's Redis is shared: other tests'
// events may arrive too, so each test names its own workspaces and reads
// only theirs.

// patience bounds every wait for something the bus must do, so that a
// broken bus fails the test instead of hanging it; nothing is asserted
// about how long it takes.
const patience = 20 * time.Second

// timeout bounds each publish: redis.Calls as the server gives it, without
// the server's Redis watch.
type timeout time.Duration

func (d timeout) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(d))
	defer cancel()
	return fn(ctx)
}

// consumer is an events.Handler that hands what it receives to the test.
type consumer struct {
	events chan events.Event
	resets chan bool
}

func (c *consumer) Event(ev events.Event) { c.events <- ev }

func (c *consumer) Reset(ok bool) {
	select {
	case c.resets <- ok:
	default: // an outage repeats Reset(false): the test needs only the first few
	}
}

// run starts a bus over client and its Run with a consumer until the test
// ends, and waits until the stream is whole (events published before that
// are not delivered: pub/sub keeps nothing). The test's end stops it as the
// server's shutdown does: the context ends and the client closes.
func run(t *testing.T, client redis.UniversalClient) (*events.Bus, *consumer) {
	t.Helper()
	bus := newBus(t, client)
	c := &consumer{events: make(chan events.Event, 4096), resets: make(chan bool, 64)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		bus.Run(ctx, c)
	}()
	t.Cleanup(func() {
		cancel()
		_ = client.Close() // ends a read that would wait for its timeout
		<-done
	})
	awaitReset(t, c, true)
	return bus, c
}

func newBus(t *testing.T, client redis.UniversalClient) *events.Bus {
	t.Helper()
	return events.New(client, timeout(2*time.Second), slog.New(slog.NewTextHandler(t.Output(), nil)))
}

// awaitReset waits for Reset(want), skipping others.
func awaitReset(t *testing.T, c *consumer, want bool) {
	t.Helper()
	deadline := time.After(patience)
	for {
		select {
		case ok := <-c.resets:
			if ok == want {
				return
			}
		case <-deadline:
			t.Fatalf("no Reset(%v) from the bus", want)
		}
	}
}

// next returns the next event of one of workspaces, skipping others'.
func next(t *testing.T, c *consumer, workspaces ...string) events.Event {
	t.Helper()
	deadline := time.After(patience)
	for {
		select {
		case ev := <-c.events:
			if slices.Contains(workspaces, ev.Workspace) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no event of %v arrived", workspaces)
		}
	}
}

func publish(t *testing.T, bus *events.Bus, ev events.Event) {
	t.Helper()
	if err := bus.Publish(context.Background(), ev); err != nil {
		t.Fatalf("Publish(%+v): %v", ev, err)
	}
}

// A published event reaches a running consumer whole: its workspace, what
// changed and the stale keys.
func TestPublishedEventReachesConsumer(t *testing.T) {
	bus, c := run(t, redistest.Client(t, redistest.Addr(t)))
	ws := redistest.Unique("ws")
	cases := []struct {
		name string
		ev   events.Event
	}{
		{"a contact changed", events.Event{Workspace: ws, Changed: sources.Changed{
			ContactIDs: []string{"6650f0a1c2b3d4e5f6a70142"}, Phones: []string{"+14155550142", "+14155550199"},
			Emails: []string{"maria.garcia@northwindtraders.com"}},
			Keys: []string{"contact:6650f0a1c2b3d4e5f6a70142", "phone:+14155550142"}}},
		{"only keys", events.Event{Workspace: ws, Keys: []string{"company:42"}}},
		{"only a change", events.Event{Workspace: ws, Changed: sources.Changed{Emails: []string{"ada@example.org"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			publish(t, bus, tc.ev)
			if got := next(t, c, ws); !reflect.DeepEqual(got, tc.ev) {
				t.Errorf("received %+v, want %+v", got, tc.ev)
			}
		})
	}
}

// Every replica receives every event: two buses on their own connections
// both get an event published through a third.
func TestEveryConsumerReceivesEachEvent(t *testing.T) {
	addr := redistest.Addr(t)
	_, a := run(t, redistest.Client(t, addr))
	_, b := run(t, redistest.Client(t, addr))
	ws := redistest.Unique("ws")
	ev := events.Event{Workspace: ws, Changed: sources.Changed{ContactIDs: []string{"c1"}}}
	publish(t, newBus(t, redistest.Client(t, addr)), ev)
	for name, c := range map[string]*consumer{"a": a, "b": b} {
		if got := next(t, c, ws); !reflect.DeepEqual(got, ev) {
			t.Errorf("consumer %s received %+v, want %+v", name, got, ev)
		}
	}
}

// A burst of events from two workspaces at once arrives complete, each
// workspace's in the order it was published.
func TestBurstArrivesInOrder(t *testing.T) {
	bus, c := run(t, redistest.Client(t, redistest.Addr(t)))
	const n = 300
	workspaces := []string{redistest.Unique("ws-a"), redistest.Unique("ws-b")}
	var wg sync.WaitGroup
	errs := make(chan error, len(workspaces))
	for _, ws := range workspaces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				ev := events.Event{Workspace: ws, Keys: []string{strconv.Itoa(i)}}
				if err := bus.Publish(context.Background(), ev); err != nil {
					errs <- fmt.Errorf("%s event %d: %w", ws, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for range len(workspaces) * n {
		ev := next(t, c, workspaces...)
		want := strconv.Itoa(seen[ev.Workspace])
		if len(ev.Keys) != 1 || ev.Keys[0] != want {
			t.Fatalf("%s: received keys %v, want [%s] (in publish order, none lost)", ev.Workspace, ev.Keys, want)
		}
		seen[ev.Workspace]++
	}
	for _, ws := range workspaces {
		if got := seen[ws]; got != n {
			t.Errorf("%s: %d events, want %d", ws, got, n)
		}
	}
}

// Each workspace has its own channel, and an event is delivered only as
// the workspace of the channel it came on: a message on one workspace's
// channel that claims another workspace is dropped, so no workspace's
// consumer acts on it.
func TestEventOnAnotherWorkspacesChannelIsDropped(t *testing.T) {
	bus, c := run(t, redistest.Client(t, redistest.Addr(t)))
	client := redistest.Client(t, redistest.Addr(t)) // the spy's and the forger's
	ws, other := redistest.Unique("ws"), redistest.Unique("other")

	// Learn the channel the bus publishes ws's events on, by listening to
	// every channel.
	spy := client.PSubscribe(context.Background(), "*")
	t.Cleanup(func() { spy.Close() })
	if _, err := spy.Receive(context.Background()); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	first := events.Event{Workspace: ws, Keys: []string{"first"}}
	publish(t, bus, first)
	channel := ""
	for channel == "" {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		m, err := spy.ReceiveMessage(ctx)
		cancel()
		if err != nil {
			t.Fatalf("the bus's message did not reach Redis: %v", err)
		}
		if strings.Contains(m.Payload, ws) {
			channel = m.Channel
		}
	}
	if strings.Contains(channel, other) || !strings.Contains(channel, ws) {
		t.Fatalf("channel %q, want one named after %s", channel, ws)
	}
	if got := next(t, c, ws, other); !reflect.DeepEqual(got, first) {
		t.Fatalf("received %+v, want %+v", got, first)
	}

	forged, err := json.Marshal(events.Event{Workspace: other, Keys: []string{"forged"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Publish(context.Background(), channel, forged).Err(); err != nil {
		t.Fatal(err)
	}
	// Redis delivers in publish order: once the marker arrives, the forged
	// message has been read and dropped.
	marker := events.Event{Workspace: ws, Keys: []string{"marker"}}
	publish(t, bus, marker)
	if got := next(t, c, ws, other); !reflect.DeepEqual(got, marker) {
		t.Errorf("received %+v, want only the marker %+v", got, marker)
	}
}

// While Redis is away the stream is reported broken (Reset(false)) and a
// publish fails rather than hanging; once Redis is back the stream is
// whole again (Reset(true)) and events flow.
func TestRedisAwayAndBack(t *testing.T) {
	srv := redistest.Start(t) // its own server: this test stops it
	bus, c := run(t, redistest.Client(t, srv.Addr))
	ws := redistest.Unique("ws")

	srv.Stop()
	awaitReset(t, c, false)
	if err := bus.Publish(context.Background(), events.Event{Workspace: ws, Keys: []string{"lost"}}); err == nil {
		t.Error("Publish with Redis away succeeded, want an error")
	}

	srv.Restart()
	awaitReset(t, c, true)
	ev := events.Event{Workspace: ws, Keys: []string{"after"}}
	publish(t, bus, ev)
	if got := next(t, c, ws); !reflect.DeepEqual(got, ev) {
		t.Errorf("after Redis came back, received %+v, want %+v", got, ev)
	}
}

// Run returns once its context ends, even with its connection open (it
// notices at its next read at the latest).
func TestRunStopsWithItsContext(t *testing.T) {
	t.Parallel() // it waits for Run's read timeout: let the others run meanwhile
	bus := newBus(t, redistest.Client(t, redistest.Addr(t)))
	c := &consumer{events: make(chan events.Event, 16), resets: make(chan bool, 16)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		bus.Run(ctx, c)
	}()
	awaitReset(t, c, true)
	cancel()
	select {
	case <-done:
	case <-time.After(4 * patience):
		t.Fatal("Run did not return after its context ended")
	}
}
