// Package events is the one stream of changes of the service: every change
// made through it (an action) or reported to it (an Intercom webhook)
// becomes one event on a Redis channel per workspace. Every replica
// subscribes: its in-process cache marks stale or drops what the change
// touched, and (later) GraphQL subscriptions push it to dashboards. Nothing
// else publishes.
//
// Redis pub/sub delivers to whoever is connected and forgets: a replica
// whose subscription breaks (a Redis restart, a lost connection) cannot know
// what it missed. It is told, through Reset, both when the stream breaks and
// when it is whole again, so that it can stop trusting what it keeps in
// process and then start afresh.
package events

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/sources"
)

// Event is one change in a workspace.
type Event struct {
	// Seq is the workspace's sequence of a live event (one kept in the
	// workspace's log, live.go): set by Redis when it is appended. Events
	// without one only invalidate caches.
	Seq       string `json:"q,omitempty"`
	Workspace string `json:"w"`
	// Changed is what changed, in the product's terms (for subscribers
	// that push changes).
	Changed sources.Changed `json:"c"`
	// Keys are the cache keys the change touched: a replica drops those it
	// is not told to keep stale (every one, for a replica of the previous
	// release, which knows no Stale).
	Keys []string `json:"k,omitempty"`
	// Stale are those of Keys whose values are kept, no longer fresh, since
	// StaleAt (Unix milliseconds): old rather than wrong, they may still
	// answer while Intercom fails.
	Stale   []string `json:"s,omitempty"`
	StaleAt int64    `json:"t,omitempty"`
	// Counted says that the publisher counted the change in the versions
	// the response cache's answers in Redis are checked against (package
	// respcache); a replica that receives an event without it (its
	// publisher could not reach Redis, or is of an earlier release) counts
	// it itself.
	Counted bool `json:"v,omitempty"`
}

// Handler receives the stream. Event is called for every event (from any
// replica, this one included); Reset when the stream breaks (ok false) and
// when it is whole again (ok true): events may have been missed in between.
type Handler interface {
	Event(Event)
	Reset(ok bool)
}

// Bus publishes and receives events through Redis.
type Bus struct {
	client goredis.UniversalClient
	calls  redis.Calls
	logger *slog.Logger
}

// New returns a bus over client, whose publishes go through calls.
func New(client goredis.UniversalClient, calls redis.Calls, logger *slog.Logger) *Bus {
	return &Bus{client: client, calls: calls, logger: logger}
}

// Publish sends ev to every replica.
func (b *Bus) Publish(ctx context.Context, ev Event) error {
	msg, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return b.calls.Do(ctx, func(ctx context.Context) error {
		return b.client.Publish(ctx, redis.EventsChannel(ev.Workspace), msg).Err()
	})
}

// Run receives every workspace's events and hands them to h until ctx ends.
// The stream starts broken: h is told Reset(true) once subscribed.
func (b *Bus) Run(ctx context.Context, h Handler) {
	ps := b.client.PSubscribe(ctx, redis.EventsChannels)
	defer func() { ps.Close() }()
	whole := false
	// pinged is a ping sent on a quiet stream and not yet answered: go-redis
	// only writes it, so its answer (or its absence at the next timeout) is
	// what tells a live connection from a half-open one.
	pinged := false
	broke := func(err error) {
		if whole {
			// Info, not a warning: Redis going away is warned about once,
			// by whoever notices first (redis.Health).
			b.logger.Info("the event stream broke: the in-process cache is dropped until it is whole again", "error", err)
		}
		whole = false
		h.Reset(false)
	}
	for ctx.Err() == nil {
		// A quiet stream is checked with a ping: a dead connection with no
		// traffic would otherwise go unnoticed.
		msg, err := ps.ReceiveTimeout(ctx, 15*time.Second)
		var netErr net.Error
		switch m := msg.(type) {
		case nil:
			if ctx.Err() != nil {
				return
			}
			if errors.As(err, &netErr) && netErr.Timeout() && !pinged {
				if err = ps.Ping(ctx); err == nil {
					pinged = true
					continue
				}
			}
			if err == nil || (errors.As(err, &netErr) && netErr.Timeout()) {
				err = errors.New("no answer to a ping on the quiet stream")
			}
			pinged = false
			broke(err)
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			// A fresh subscription on a fresh connection: the old one may
			// be half-open, which go-redis would keep using.
			ps.Close()
			ps = b.client.PSubscribe(ctx, redis.EventsChannels)
		case *goredis.Pong:
			pinged = false
		case *goredis.Subscription:
			if m.Kind == "psubscribe" {
				if !whole {
					b.logger.Info("the event stream is whole: the in-process cache starts afresh")
				}
				whole = true
				h.Reset(true)
			}
		case *goredis.Message:
			var ev Event
			if err := json.Unmarshal([]byte(m.Payload), &ev); err == nil &&
				m.Channel == redis.EventsChannel(ev.Workspace) {
				h.Event(ev)
			}
		}
	}
}
