package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/events"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources"
)

// A replica of the fleet on one Redis: its log, and its hub fed by its bus.
func replica(t *testing.T, client redis.UniversalClient, cfg events.LogConfig) (*events.RedisLog, *events.Hub) {
	t.Helper()
	log := events.NewRedisLog(client, timeout(2*time.Second), cfg)
	hub := events.NewHub(log, events.Observer{})
	bus := newBus(t, client)
	c := &consumer{events: make(chan events.Event, 64), resets: make(chan bool, 64)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		bus.Run(ctx, events.Fan{Cache: c, Live: resetting{hub, c}})
	}()
	t.Cleanup(func() {
		cancel()
		_ = client.Close() // ends a read that would wait for its timeout
		<-done
	})
	awaitReset(t, c, true)
	return log, hub
}

// resetting passes live events to the hub, and tells the test of resets.
type resetting struct {
	*events.Hub
	c *consumer
}

func (r resetting) Reset(ok bool) { r.Hub.Reset(ok); r.c.Reset(ok) }

func contactUpdated(id string) sources.Changed {
	return sources.Changed{ContactIDs: []string{id}, Contacts: []sources.ContactChange{{ID: id, Kind: sources.ContactUpdated}}}
}

func follow(t *testing.T, hub *events.Hub, ws, after string) <-chan events.Entry {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sub, err := hub.Subscribe(ws, after)
	if err != nil {
		t.Fatalf("Subscribe(%s, %q): %v", ws, after, err)
	}
	ch := make(chan events.Entry)
	go func() {
		defer close(ch)
		sub.Run(ctx, func(e events.Entry) bool {
			select {
			case ch <- e:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	return ch
}

func receive(t *testing.T, ch <-chan events.Entry) events.Entry {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatal("the subscription ended")
		}
		return e
	case <-time.After(patience):
		t.Fatal("no entry arrived")
	}
	return events.Entry{}
}

// An event appended on one replica reaches a subscription on another, in
// its workspace only, with the sequence the log gave it.
func TestLiveEventReachesEveryReplicaInItsWorkspaceOnly(t *testing.T) {
	addr := redistest.Addr(t)
	logA, _ := replica(t, redistest.Client(t, addr), events.LogConfig{})
	_, hubB := replica(t, redistest.Client(t, addr), events.LogConfig{})
	ws, other := redistest.Unique("ws"), redistest.Unique("ws")
	mine, theirs := follow(t, hubB, ws, ""), follow(t, hubB, other, "")

	ctx := context.Background()
	if _, err := logA.Append(ctx, other, contactUpdated("c-other")); err != nil {
		t.Fatal(err)
	}
	seqs := make([]string, 3)
	for i := range seqs {
		var err error
		if seqs[i], err = logA.Append(ctx, ws, contactUpdated("c1")); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range seqs {
		e := receive(t, mine)
		if e.Seq != want || e.Refetch || len(e.Change.Contacts) != 1 || e.Change.Contacts[0].ID != "c1" {
			t.Errorf("entry %d = %+v, want sequence %s about c1", i, e, want)
		}
	}
	if e := receive(t, theirs); len(e.Change.Contacts) != 1 || e.Change.Contacts[0].ID != "c-other" {
		t.Errorf("the other workspace's subscription got %+v", e)
	}
	select {
	case e := <-theirs:
		t.Errorf("the other workspace's subscription got a second entry: %+v", e)
	case <-time.After(200 * time.Millisecond):
	}
}

// A subscription that resumes after a sequence gets what followed it from
// the log; one that resumes after a sequence the log no longer holds gets
// one refetch entry, then the live events.
func TestResumeReplaysTheGapOrSaysRefetch(t *testing.T) {
	for name, newLog := range map[string]func(t *testing.T) (events.Log, *events.Hub){
		"redis": func(t *testing.T) (events.Log, *events.Hub) {
			return replica(t, redistest.Client(t, redistest.Addr(t)), events.LogConfig{MaxLength: 5})
		},
		"memory": func(t *testing.T) (events.Log, *events.Hub) {
			return events.NewMemoryLog(events.LogConfig{MaxLength: 5}, events.Observer{})
		},
	} {
		t.Run(name, func(t *testing.T) {
			log, hub := newLog(t)
			ws := redistest.Unique("ws")
			ctx := context.Background()
			var seqs []string
			for i := range 3 {
				seq, err := log.Append(ctx, ws, contactUpdated("c"+string(rune('1'+i))))
				if err != nil {
					t.Fatal(err)
				}
				seqs = append(seqs, seq)
			}
			resumed := follow(t, hub, ws, seqs[0])
			for _, want := range seqs[1:] {
				if e := receive(t, resumed); e.Seq != want || e.Refetch {
					t.Errorf("replayed %+v, want %s", e, want)
				}
			}
			if _, err := hub.Subscribe(ws, "not-a-sequence"); err != events.ErrBadSequence {
				t.Errorf("Subscribe after a bad sequence: %v, want ErrBadSequence", err)
			}

			// Past the length cap (5, trimmed with Redis' "~": a few more
			// may stay): the first sequence is gone.
			for range 400 {
				if _, err := log.Append(ctx, ws, contactUpdated("c9")); err != nil {
					t.Fatal(err)
				}
			}
			last, _ := log.Last(ctx, ws)
			gone := follow(t, hub, ws, seqs[0])
			if e := receive(t, gone); !e.Refetch || e.Seq != last {
				t.Errorf("resumed after a trimmed sequence: %+v, want refetch at %s", e, last)
			}
			seq, _ := log.Append(ctx, ws, contactUpdated("c1"))
			if e := receive(t, gone); e.Seq != seq || e.Refetch {
				t.Errorf("after the refetch: %+v, want the live event %s", e, seq)
			}
		})
	}
}

// A sequence the log never gave (a failover lost it, with the entries
// after it) is a gap too.
func TestResumeAfterALostSequenceSaysRefetch(t *testing.T) {
	log, hub := events.NewMemoryLog(events.LogConfig{}, events.Observer{})
	ws := "ws-lost"
	seq, _ := log.Append(context.Background(), ws, contactUpdated("c1"))
	e := receive(t, follow(t, hub, ws, "99999999999999-0"))
	if !e.Refetch || e.Seq != seq {
		t.Errorf("resumed after a sequence from the future: %+v, want refetch at %s", e, seq)
	}
}

// On a Redis Cluster: the log's script runs on the workspace's slot (its
// hash tag), and the event reaches a replica whose subscription is on
// another node.
func TestLiveEventsOnACluster(t *testing.T) {
	addrs := redistest.ClusterAddrs(t)
	logA, _ := replica(t, redistest.ClusterClient(t, addrs), events.LogConfig{})
	_, hubB := replica(t, redistest.ClusterClient(t, addrs), events.LogConfig{})
	ws := redistest.Unique("ws")
	ch := follow(t, hubB, ws, "")
	seq, err := logA.Append(context.Background(), ws, contactUpdated("c1"))
	if err != nil {
		t.Fatal(err)
	}
	if e := receive(t, ch); e.Seq != seq {
		t.Errorf("on B: %+v, want %s", e, seq)
	}
	resumed := follow(t, hubB, ws, events.Start)
	if e := receive(t, resumed); e.Seq != seq {
		t.Errorf("replayed from the start: %+v, want %s", e, seq)
	}
}

// When this replica's event stream breaks and is whole again, events may
// have been published meanwhile that it never received, and appends may
// have failed: each subscription is told to refetch, at the newest
// sequence, then follows the live events again.
func TestABrokenStreamEndsInRefetch(t *testing.T) {
	log, hub := events.NewMemoryLog(events.LogConfig{}, events.Observer{})
	ws := "ws-broken"
	ch := follow(t, hub, ws, "")
	awaitFollowers(t, hub, 1)
	hub.Reset(false)
	seq, _ := log.Append(context.Background(), ws, contactUpdated("c1")) // as if lost: the memory log still delivers it
	if e := receive(t, ch); e.Seq != seq || e.Refetch {
		t.Fatalf("first %+v, want %s", e, seq)
	}
	hub.Reset(true)
	if e := receive(t, ch); !e.Refetch || e.Seq != seq {
		t.Errorf("after the stream is whole again: %+v, want refetch at %s", e, seq)
	}
	next, _ := log.Append(context.Background(), ws, contactUpdated("c1"))
	if e := receive(t, ch); e.Seq != next || e.Refetch {
		t.Errorf("then %+v, want the live %s", e, next)
	}
}

func awaitFollowers(t *testing.T, hub *events.Hub, n int) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for hub.Subscriptions() != n {
		if time.Now().After(deadline) {
			t.Fatalf("the hub has %d subscriptions, want %d", hub.Subscriptions(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
