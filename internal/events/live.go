package events

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/talkdesk-intercom/api/sources"
)

// Live events: the changes a dashboard follows (sources.Changed's Contacts
// and Interactions). Each is appended to its workspace's Log, which gives it
// the workspace's next sequence, keeps it for a while and hands it to every
// replica's Hub; a Hub hands it to the subscriptions of that workspace, and
// only of that one. A subscription that comes back with the last sequence it
// saw is given what it missed from the Log, or, when the Log no longer holds
// that sequence (older than the retention, or lost in a failover), one entry
// that says to refetch: never silence.

// Entry is one live event as a subscription receives it.
type Entry struct {
	Seq    string
	Change sources.Changed
	// Refetch says that events may have been missed (the gap is older than
	// the log keeps, or the stream broke): whoever shows the data must read
	// it again. Seq is then the newest sequence the log knows.
	Refetch bool
	// shared is what the subscriptions of this replica derive from a live
	// event, derived once for all of them (nil for entries read back from
	// the log: each subscription derives its own).
	shared *shared
}

// Once returns what fn derives from the entry for key: a live event's value
// is derived once per replica, by the first subscription that asks, and
// handed to every other one that asks for the same key. A key must name
// everything fn's result depends on beyond the event and its workspace (a
// contact's id, say): a thousand dashboards of one contact then read it
// once, not a thousand times.
func (e Entry) Once(key string, fn func() any) any {
	if e.shared == nil {
		return fn()
	}
	e.shared.mu.Lock()
	v := e.shared.values[key]
	if v == nil {
		v = &onceValue{}
		e.shared.values[key] = v
	}
	e.shared.mu.Unlock()
	v.once.Do(func() { v.v = fn() })
	return v.v
}

type shared struct {
	mu     sync.Mutex
	values map[string]*onceValue
}

type onceValue struct {
	once sync.Once
	v    any
}

// Log keeps each workspace's recent live events in order of sequence.
type Log interface {
	// Append records ch as the workspace's next event and hands it to
	// every replica's Hub; it returns the event's sequence.
	Append(ctx context.Context, workspace string, ch sources.Changed) (string, error)
	// Since returns the events after the sequence after, oldest first,
	// while the log still holds after itself (ok false when it does not:
	// trimmed, or lost). "0-0" is the start of the log.
	Since(ctx context.Context, workspace, after string) (entries []Entry, ok bool, err error)
	// Last is the workspace's newest sequence, "0-0" when it has none.
	Last(ctx context.Context, workspace string) (string, error)
}

// Start is the sequence before every other.
const Start = "0-0"

// ValidSeq reports whether s is a sequence: "<milliseconds>-<counter>", as
// Redis streams number their entries.
func ValidSeq(s string) bool {
	_, _, ok := parseSeq(s)
	return ok
}

func parseSeq(s string) (ms, n uint64, ok bool) {
	a, b, found := strings.Cut(s, "-")
	if !found || len(s) > 41 {
		return 0, 0, false
	}
	var err1, err2 error
	ms, err1 = strconv.ParseUint(a, 10, 64)
	n, err2 = strconv.ParseUint(b, 10, 64)
	return ms, n, err1 == nil && err2 == nil
}

// SeqLess orders sequences; an invalid one is before every valid one.
func SeqLess(a, b string) bool {
	am, an, _ := parseSeq(a)
	bm, bn, _ := parseSeq(b)
	return am < bm || (am == bm && an < bn)
}

// SeqTime is when the event of a sequence was appended (by the log's clock).
func SeqTime(s string) time.Time {
	ms, _, _ := parseSeq(s)
	return time.UnixMilli(int64(ms))
}

// Observer is told what subscriptions receive (metrics); every field is
// optional.
type Observer struct {
	// Delivered is called for each entry handed to a subscription: lag
	// is the time since it was appended; replayed tells the entries read
	// back from the log after a reconnect or an overflow.
	Delivered func(lag time.Duration, replayed bool)
	// Refetch is called for each refetch entry.
	Refetch func()
}

// Hub hands one replica's live events to its subscriptions (Subscribe). It is
// the Handler of the Bus for live events (Fan), or is fed by a MemoryLog.
type Hub struct {
	log Log
	obs Observer

	mu        sync.Mutex
	followers map[string]map[*follower]struct{} // by workspace
	// seen is the last sequence handed out per workspace with followers:
	// where a new subscription starts, without asking the log.
	seen   map[string]string
	broken bool
}

// followerBuffer is how many entries a subscription may be behind before it
// reads the rest from the log: a slow client costs a log read, never
// unbounded memory nor a stalled hub.
const followerBuffer = 64

type follower struct {
	in   chan *Entry   // shared by every follower: one event, one Entry
	wake chan struct{} // read the log from the last sequence seen
	lost chan struct{} // events may be gone: refetch
}

// NewHub returns a hub whose subscriptions read missed events from log.
func NewHub(log Log, obs Observer) *Hub {
	return &Hub{log: log, obs: obs, followers: map[string]map[*follower]struct{}{}, seen: map[string]string{}}
}

// Event hands a live event to the workspace's subscriptions.
func (h *Hub) Event(ev Event) {
	if ev.Seq == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	followers := h.followers[ev.Workspace]
	if len(followers) == 0 {
		return // most events: no dashboard of that workspace on this replica
	}
	if SeqLess(h.seen[ev.Workspace], ev.Seq) {
		h.seen[ev.Workspace] = ev.Seq
	}
	e := &Entry{Seq: ev.Seq, Change: ev.Changed, shared: &shared{values: map[string]*onceValue{}}}
	for f := range followers {
		select {
		case f.in <- e:
		default: // behind: it reads the log instead
			signal(f.wake)
		}
	}
}

// Reset is the Bus's word that the stream broke (events published meanwhile
// were not received, and appends may have failed) or is whole again: when it
// is whole after a break, every subscription is told to refetch.
func (h *Hub) Reset(ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !ok {
		h.broken = true
		return
	}
	if h.broken {
		for _, fs := range h.followers {
			for f := range fs {
				signal(f.lost)
			}
		}
	}
	h.broken = false
}

// Lost tells the workspace's subscriptions on this replica that an event
// could not be appended: they refetch.
func (h *Hub) Lost(workspace string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for f := range h.followers[workspace] {
		signal(f.lost)
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Subscriptions is how many subscriptions the hub serves.
func (h *Hub) Subscriptions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, fs := range h.followers {
		n += len(fs)
	}
	return n
}

// ErrBadSequence is an after that is not a sequence.
var ErrBadSequence = errors.New("not a sequence")

// Subscription is one follower of a workspace's live events, registered
// with its hub from Subscribe on (no event is missed between Subscribe and
// Run) until Run returns.
type Subscription struct {
	hub       *Hub
	f         *follower
	workspace string
	last      string // the last sequence seen ("" before any)
	resume    bool
}

// Subscribe registers a follower of the workspace's live events from now
// on; with after (a sequence a previous subscription saw), of the events
// after it first, or of one Refetch entry when the log no longer holds it.
// Run delivers them.
func (h *Hub) Subscribe(workspace, after string) (*Subscription, error) {
	if after != "" && !ValidSeq(after) {
		return nil, ErrBadSequence
	}
	f := &follower{in: make(chan *Entry, followerBuffer), wake: make(chan struct{}, 1), lost: make(chan struct{}, 1)}
	h.mu.Lock()
	if h.followers[workspace] == nil {
		h.followers[workspace] = map[*follower]struct{}{}
	}
	h.followers[workspace][f] = struct{}{}
	// Without after, the subscription starts after the last event this
	// replica handed out ("" when none yet: the first one it receives
	// starts it). Thousands of dashboards subscribing at once cost no
	// call to the log.
	seen := h.seen[workspace]
	h.mu.Unlock()
	last := after
	if after == "" {
		last = seen
	}
	return &Subscription{hub: h, f: f, workspace: workspace, last: last, resume: after != ""}, nil
}

// Run hands the subscription's events to deliver, in order of sequence,
// until ctx ends or deliver returns false (deliver returns when the event
// is handed over: it may wait for a slow client, the hub never does); then
// the subscription ends. It runs in its caller's goroutine: a subscription
// costs no goroutine of its own.
func (s *Subscription) Run(ctx context.Context, deliver func(Entry) bool) {
	defer s.hub.remove(s.workspace, s.f)
	// A resume reads the gap from the log before any live event: one that
	// arrived meanwhile must not move past the gap unread.
	s.hub.follow(ctx, s.workspace, s.last, s.resume, s.f, deliver)
}

func (h *Hub) remove(workspace string, f *follower) {
	h.mu.Lock()
	delete(h.followers[workspace], f)
	if len(h.followers[workspace]) == 0 {
		delete(h.followers, workspace)
		delete(h.seen, workspace)
	}
	h.mu.Unlock()
}

func (h *Hub) follow(ctx context.Context, workspace, last string, resume bool, f *follower, deliver func(Entry) bool) {
	send := func(e Entry, replayed bool) bool {
		if ctx.Err() != nil || !deliver(e) {
			return false
		}
		if e.Refetch {
			if h.obs.Refetch != nil {
				h.obs.Refetch()
			}
		} else if h.obs.Delivered != nil {
			h.obs.Delivered(time.Since(SeqTime(e.Seq)), replayed)
		}
		return true
	}
	refetch := func() bool {
		// Resume from the log's newest, even when it is before what was
		// seen (a failover lost that): what comes next is after it. While
		// the log is away, from what was seen.
		if newest, err := h.log.Last(ctx, workspace); err == nil {
			last = newest
		}
		return send(Entry{Seq: last, Refetch: true}, false)
	}
	// catchUp sends what the log holds after last; false when the
	// subscription ended.
	catchUp := func() bool {
		entries, ok, err := h.log.Since(ctx, workspace, last)
		if err != nil || !ok {
			return ctx.Err() == nil && refetch()
		}
		for _, e := range entries {
			if SeqLess(last, e.Seq) {
				last = e.Seq
				if !send(e, true) {
					return false
				}
			}
		}
		return true
	}
	if resume && !catchUp() {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-f.in:
			if SeqLess(last, e.Seq) {
				last = e.Seq
				if !send(*e, false) {
					return
				}
			}
		case <-f.lost:
			if !refetch() {
				return
			}
		case <-f.wake:
			if last == "" {
				// Nothing taken yet: take the buffered events first, which
				// tell where to read back from.
				if len(f.in) > 0 {
					signal(f.wake)
				}
				continue
			}
			if !catchUp() {
				return
			}
		}
	}
}

// Fan is the Bus's Handler for a replica: live events go to Live, the
// others to Cache (nil without an in-process cache); both hear of Resets.
type Fan struct {
	Cache Handler
	Live  Handler
}

func (f Fan) Event(ev Event) {
	switch {
	case ev.Seq != "":
		f.Live.Event(ev)
	case f.Cache != nil:
		f.Cache.Event(ev)
	}
}

func (f Fan) Reset(ok bool) {
	if f.Cache != nil {
		f.Cache.Reset(ok)
	}
	f.Live.Reset(ok)
}

// appendTimeout bounds an append: the change happened, and its event must
// not fail because the caller that made it hung up.
const appendTimeout = 2 * time.Second

// Recorder is a workspace's Invalidator that also appends each change a
// dashboard can follow to the log: the one place live events come from
// (actions and webhooks both invalidate).
type Recorder struct {
	Next      sources.Invalidator // the cache; nil when caching is off
	Log       Log
	Hub       *Hub // told when an append fails
	Workspace func(ctx context.Context) (string, error)
}

// Invalidate invalidates through Next, then appends ch when it is live.
func (r *Recorder) Invalidate(ctx context.Context, ch sources.Changed) error {
	var err error
	if r.Next != nil {
		err = r.Next.Invalidate(ctx, ch)
	}
	if !ch.Live() {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), appendTimeout)
	defer cancel()
	ws, werr := r.Workspace(ctx)
	if werr != nil {
		return errors.Join(err, werr)
	}
	// Only what a dashboard needs travels: the cache's keys went with the
	// cache's own event.
	live := sources.Changed{ContactIDs: ch.ContactIDs, Contacts: ch.Contacts, Interactions: ch.Interactions, Calls: ch.Calls}
	if _, aerr := r.Log.Append(ctx, ws, live); aerr != nil {
		if r.Hub != nil {
			r.Hub.Lost(ws)
		}
		return errors.Join(err, aerr)
	}
	return err
}
