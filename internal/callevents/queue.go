package callevents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/sources"
)

// Delivery is one queued event handed to a worker.
type Delivery struct {
	ID       string
	Accepted time.Time // when the endpoint queued it: the settle window starts there
	Event    Event
}

// DeadLetter is an event given up on, with the reason.
type DeadLetter struct {
	ID     string    `json:"id"`
	Event  Event     `json:"event"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// queue is one workspace's queue of events. Its deliveries stay owned by
// this process until done or dead; keep says they are still being worked on,
// and claim takes over those a dead process left.
type queue interface {
	add(ctx context.Context, e Event) (id string, err error)
	read(ctx context.Context, max int) ([]Delivery, error)
	keep(ctx context.Context, ids []string) error
	claim(ctx context.Context) ([]Delivery, error)
	// done acknowledges d; first is false when it had been acknowledged
	// already (a delivery claimed again just as its first one finished).
	done(ctx context.Context, d Delivery) (first bool, err error)
	dead(ctx context.Context, dl DeadLetter) error
	deadLetters(ctx context.Context, n int) ([]DeadLetter, error)
	// expire drops the dead letters older than their retention.
	expire(ctx context.Context) error
	// forgetDead drops the dead letters whose event match says.
	forgetDead(ctx context.Context, match func(Event) bool) error
	backlog(ctx context.Context) (int64, error)
}

// errBacklogFull refuses an event while the workspace's backlog is at
// CALL_EVENTS_MAX_BACKLOG.
func errBacklogFull(max int64) error {
	e := sources.Errorf(sources.EUnavailable, "the call events backlog is full (%d events waiting for Intercom, CALL_EVENTS_MAX_BACKLOG): retry later", max)
	e.RetryAfterSeconds = 30
	return e
}

// streamGroup is the consumer group of every replica.
const streamGroup = "appliers"

// redisQueue is a workspace's Redis stream, read by the consumer group
// streamGroup; this replica is the consumer named consumer. An applied
// entry is acknowledged and deleted, so the stream's length is the backlog.
type redisQueue struct {
	client   goredis.UniversalClient
	ws       string
	consumer string
	opts     queueOptions
	replicas *replicaCount

	groupOnce sync.Mutex
	grouped   bool
}

type queueOptions struct {
	timeout        time.Duration // each Redis call (REDIS_TIMEOUT)
	replicaTimeout time.Duration // WAIT for a replica
	maxBacklog     int64
	claimAfter     time.Duration
	maxDead        int64
	deadFor        time.Duration // a dead letter's retention
}

func (q *redisQueue) stream() string { return redis.CallEventsStream(q.ws) }

func (q *redisQueue) ctx(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// node is the client that holds the stream: a Cluster's master of its slot,
// so that the write and its WAIT share one connection.
func (q *redisQueue) node(ctx context.Context) (*goredis.Client, error) {
	switch c := q.client.(type) {
	case *goredis.Client:
		return c, nil
	case *goredis.ClusterClient:
		return c.MasterForKey(ctx, q.stream())
	}
	return nil, fmt.Errorf("unsupported Redis client %T", q.client)
}

func (q *redisQueue) add(ctx context.Context, e Event) (string, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return "", err
	}
	ctx, cancel := q.ctx(ctx, 2*q.opts.timeout+q.opts.replicaTimeout)
	defer cancel()
	node, err := q.node(ctx)
	if err != nil {
		return "", unavailable(err)
	}
	n, err := node.XLen(ctx, q.stream()).Result()
	if err != nil {
		return "", unavailable(err)
	}
	if n >= q.opts.maxBacklog {
		return "", errBacklogFull(q.opts.maxBacklog)
	}
	replicas := q.replicas.of(ctx, node)
	// One pipeline is one connection: WAIT counts the replicas that have
	// this connection's writes, the XADD included.
	pipe := node.Pipeline()
	add := pipe.XAdd(ctx, &goredis.XAddArgs{Stream: q.stream(), Values: []any{"e", b}})
	var wait *goredis.Cmd
	if replicas > 0 {
		wait = pipe.Do(ctx, "WAIT", 1, q.opts.replicaTimeout.Milliseconds())
	}
	if _, err := pipe.Exec(ctx); err != nil {
		if add.Err() == nil {
			// Queued, but no replica is known to have it: a failover now
			// could lose it, so the sender is asked to send it again (a
			// repeat is harmless: events are idempotent).
			return "", notReplicated()
		}
		return "", unavailable(err)
	}
	if wait != nil {
		if n, _ := wait.Int64(); n < 1 {
			return "", notReplicated()
		}
	}
	return add.Val(), nil
}

func unavailable(err error) error {
	e := sources.Errorf(sources.EUnavailable, "the call events queue (Redis) is not answering: retry")
	e.Err, e.RetryAfterSeconds = err, 5
	return e
}

func notReplicated() error {
	e := sources.Errorf(sources.EUnavailable, "the event was queued but no Redis replica confirmed it in time: send it again (a repeat is applied once)")
	e.RetryAfterSeconds = 1
	return e
}

// ensureGroup creates the stream and its group, once (and again after a
// failover lost them).
func (q *redisQueue) ensureGroup(ctx context.Context, again bool) error {
	q.groupOnce.Lock()
	defer q.groupOnce.Unlock()
	if q.grouped && !again {
		return nil
	}
	ctx, cancel := q.ctx(ctx, q.opts.timeout)
	defer cancel()
	err := q.client.XGroupCreateMkStream(ctx, q.stream(), streamGroup, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return err
	}
	q.grouped = true
	return nil
}

// readBlock is how long a read waits for new entries.
const readBlock = 500 * time.Millisecond

func (q *redisQueue) read(ctx context.Context, max int) ([]Delivery, error) {
	if err := q.ensureGroup(ctx, false); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, readBlock+q.opts.timeout)
	defer cancel()
	res, err := q.client.XReadGroup(rctx, &goredis.XReadGroupArgs{
		Group: streamGroup, Consumer: q.consumer, Streams: []string{q.stream(), ">"}, Count: int64(max), Block: readBlock,
	}).Result()
	switch {
	case errors.Is(err, goredis.Nil):
		return nil, nil
	case err != nil && strings.HasPrefix(err.Error(), "NOGROUP"):
		return nil, q.ensureGroup(ctx, true)
	case err != nil:
		return nil, err
	}
	var out []Delivery
	for _, s := range res {
		out = append(out, deliveries(s.Messages)...)
	}
	return out, nil
}

// deliveries decodes stream entries; an entry that does not decode (never
// written by this service) becomes a delivery without an event, which the
// worker dead-letters.
func deliveries(msgs []goredis.XMessage) []Delivery {
	out := make([]Delivery, 0, len(msgs))
	for _, m := range msgs {
		d := Delivery{ID: m.ID, Accepted: entryTime(m.ID)}
		if s, ok := m.Values["e"].(string); ok {
			_ = json.Unmarshal([]byte(s), &d.Event)
		}
		out = append(out, d)
	}
	return out
}

// entryTime is when Redis added an entry: its id's milliseconds.
func entryTime(id string) time.Time {
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Now()
	}
	return time.UnixMilli(n)
}

func (q *redisQueue) keep(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := q.ctx(ctx, q.opts.timeout)
	defer cancel()
	return q.client.XClaimJustID(ctx, &goredis.XClaimArgs{
		Stream: q.stream(), Group: streamGroup, Consumer: q.consumer, MinIdle: 0, Messages: ids,
	}).Err()
}

func (q *redisQueue) claim(ctx context.Context) ([]Delivery, error) {
	if err := q.ensureGroup(ctx, false); err != nil {
		return nil, err
	}
	ctx, cancel := q.ctx(ctx, q.opts.timeout)
	defer cancel()
	msgs, _, err := q.client.XAutoClaim(ctx, &goredis.XAutoClaimArgs{
		Stream: q.stream(), Group: streamGroup, Consumer: q.consumer, MinIdle: q.opts.claimAfter, Start: "0-0", Count: 100,
	}).Result()
	if err != nil {
		return nil, err
	}
	return deliveries(msgs), nil
}

func (q *redisQueue) done(ctx context.Context, d Delivery) (bool, error) {
	ctx, cancel := q.ctx(ctx, q.opts.timeout)
	defer cancel()
	pipe := q.client.TxPipeline()
	acked := pipe.XAck(ctx, q.stream(), streamGroup, d.ID)
	pipe.XDel(ctx, q.stream(), d.ID)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, err
	}
	return acked.Val() == 1, nil
}

func (q *redisQueue) dead(ctx context.Context, dl DeadLetter) error {
	b, err := json.Marshal(dl)
	if err != nil {
		return err
	}
	ctx, cancel := q.ctx(ctx, q.opts.timeout)
	defer cancel()
	key := redis.CallEventsDeadLetters(q.ws)
	pipe := q.client.TxPipeline()
	pipe.LPush(ctx, key, b)
	pipe.LTrim(ctx, key, 0, q.opts.maxDead-1)
	// The list goes a retention after its newest letter; older letters
	// within it are dropped by expire.
	pipe.PExpire(ctx, key, q.opts.deadFor)
	pipe.XAck(ctx, q.stream(), streamGroup, dl.ID)
	pipe.XDel(ctx, q.stream(), dl.ID)
	_, err = pipe.Exec(ctx)
	return err
}

func (q *redisQueue) deadLetters(ctx context.Context, n int) ([]DeadLetter, error) {
	ctx, cancel := q.ctx(ctx, q.opts.timeout)
	defer cancel()
	list, err := q.client.LRange(ctx, redis.CallEventsDeadLetters(q.ws), 0, int64(n)-1).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]DeadLetter, 0, len(list))
	cutoff := time.Now().Add(-q.opts.deadFor)
	for _, s := range list {
		var dl DeadLetter
		if json.Unmarshal([]byte(s), &dl) == nil && dl.At.After(cutoff) { // an older one is about to go
			out = append(out, dl)
		}
	}
	return out, nil
}

// forgetPage is how many dead letters forgetDead reads at a time: the list
// holds up to CALL_EVENTS_MAX_DEAD_LETTERS events of up to
// CALL_EVENTS_MAX_BODY_BYTES, too much to read whole in one REDIS_TIMEOUT.
const forgetPage = 100

// forgetDead reads the list from its head a page at a time, each page in
// its own REDIS_TIMEOUT, and removes what matches as it goes. A letter
// pushed meanwhile shifts the list towards its tail, so a page may read
// again a letter it read before, never skip one.
func (q *redisQueue) forgetDead(ctx context.Context, match func(Event) bool) error {
	key := redis.CallEventsDeadLetters(q.ws)
	for start := int64(0); ; {
		page, err := q.forgetPage(ctx, key, start, match)
		if err != nil || page.read < forgetPage {
			return err
		}
		start += page.read - page.removed
	}
}

type forgotten struct{ read, removed int64 }

func (q *redisQueue) forgetPage(ctx context.Context, key string, start int64, match func(Event) bool) (forgotten, error) {
	ctx, cancel := q.ctx(ctx, q.opts.timeout)
	defer cancel()
	list, err := q.client.LRange(ctx, key, start, start+forgetPage-1).Result()
	if err != nil {
		return forgotten{}, err
	}
	pipe := q.client.Pipeline()
	var rems []*goredis.IntCmd
	for _, s := range list {
		var dl DeadLetter
		if json.Unmarshal([]byte(s), &dl) == nil && match(dl.Event) {
			rems = append(rems, pipe.LRem(ctx, key, 0, s))
		}
	}
	f := forgotten{read: int64(len(list))}
	if len(rems) == 0 {
		return f, nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return f, err
	}
	for _, r := range rems {
		f.removed += r.Val()
	}
	return f, nil
}

// popIfOldest: KEYS[1] the dead letters; ARGV[1] the oldest as read. It
// goes only if it is still the oldest (another replica may have taken it).
var popIfOldest = goredis.NewScript(`
if redis.call('LINDEX', KEYS[1], -1) == ARGV[1] then return redis.call('RPOP', KEYS[1]) end
return false`)

// maxExpired bounds the dead letters one expire drops: the rest go at the
// next.
const maxExpired = 1000

func (q *redisQueue) expire(ctx context.Context) error {
	ctx, cancel := q.ctx(ctx, q.opts.timeout)
	defer cancel()
	key := redis.CallEventsDeadLetters(q.ws)
	cutoff := time.Now().Add(-q.opts.deadFor)
	for range maxExpired {
		oldest, err := q.client.LIndex(ctx, key, -1).Result()
		if errors.Is(err, goredis.Nil) {
			return nil
		}
		if err != nil {
			return err
		}
		var dl DeadLetter
		if json.Unmarshal([]byte(oldest), &dl) == nil && dl.At.After(cutoff) {
			return nil
		}
		if err := popIfOldest.Run(ctx, q.client, []string{key}, oldest).Err(); err != nil && !errors.Is(err, goredis.Nil) {
			return err
		}
	}
	return nil
}

func (q *redisQueue) backlog(ctx context.Context) (int64, error) {
	ctx, cancel := q.ctx(ctx, q.opts.timeout)
	defer cancel()
	return q.client.XLen(ctx, q.stream()).Result()
}

// replicaCount remembers how many replicas the stream's master has (INFO
// replication), read again every replicaRecheck: an event waits for a
// replica only where there is one.
type replicaCount struct {
	mu      sync.Mutex
	n       map[string]int
	checked map[string]time.Time
}

const replicaRecheck = 5 * time.Second

func newReplicaCount() *replicaCount {
	return &replicaCount{n: map[string]int{}, checked: map[string]time.Time{}}
}

func (r *replicaCount) of(ctx context.Context, node *goredis.Client) int {
	addr := node.Options().Addr
	r.mu.Lock()
	n, at := r.n[addr], r.checked[addr]
	r.mu.Unlock()
	if time.Since(at) < replicaRecheck {
		return n
	}
	info, err := node.Info(ctx, "replication").Result()
	if err != nil {
		return n
	}
	n = 0
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			n, _ = strconv.Atoi(v)
		}
	}
	r.mu.Lock()
	r.n[addr], r.checked[addr] = n, time.Now()
	r.mu.Unlock()
	return n
}

// memoryQueue is the queue in process, without Redis: the same semantics
// for one process (an event is applied once, retried, dead-lettered), none
// across a restart.
type memoryQueue struct {
	ch      chan Delivery
	seq     int64
	mu      sync.Mutex
	dl      []DeadLetter // oldest first
	maxDead int
	deadFor time.Duration
}

func newMemoryQueue(maxBacklog int64, maxDead int, deadFor time.Duration) *memoryQueue {
	return &memoryQueue{ch: make(chan Delivery, maxBacklog), maxDead: maxDead, deadFor: deadFor}
}

func (q *memoryQueue) add(_ context.Context, e Event) (string, error) {
	q.mu.Lock()
	q.seq++
	id := strconv.FormatInt(q.seq, 10)
	q.mu.Unlock()
	select {
	case q.ch <- Delivery{ID: id, Accepted: time.Now(), Event: e}:
		return id, nil
	default:
		return "", errBacklogFull(int64(cap(q.ch)))
	}
}

func (q *memoryQueue) read(ctx context.Context, max int) ([]Delivery, error) {
	var out []Delivery
	timer := time.NewTimer(readBlock)
	defer timer.Stop()
	select {
	case d := <-q.ch:
		out = append(out, d)
	case <-timer.C:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for len(out) < max {
		select {
		case d := <-q.ch:
			out = append(out, d)
		default:
			return out, nil
		}
	}
	return out, nil
}

func (q *memoryQueue) keep(context.Context, []string) error         { return nil }
func (q *memoryQueue) claim(context.Context) ([]Delivery, error)    { return nil, nil }
func (q *memoryQueue) done(context.Context, Delivery) (bool, error) { return true, nil }
func (q *memoryQueue) backlog(context.Context) (int64, error)       { return int64(len(q.ch)), nil }
func (q *memoryQueue) expire(context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.expireLocked()
	return nil
}

func (q *memoryQueue) forgetDead(_ context.Context, match func(Event) bool) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.dl = slices.DeleteFunc(q.dl, func(dl DeadLetter) bool { return match(dl.Event) })
	return nil
}

func (q *memoryQueue) expireLocked() {
	cutoff := time.Now().Add(-q.deadFor)
	i := 0
	for i < len(q.dl) && !q.dl[i].At.After(cutoff) {
		i++
	}
	q.dl = q.dl[i:]
}

func (q *memoryQueue) deadLetters(_ context.Context, n int) ([]DeadLetter, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.expireLocked()
	out := make([]DeadLetter, 0, min(n, len(q.dl)))
	for i := len(q.dl) - 1; i >= 0 && len(out) < n; i-- { // newest first, as in Redis
		out = append(out, q.dl[i])
	}
	return out, nil
}

func (q *memoryQueue) dead(_ context.Context, dl DeadLetter) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.dl = append(q.dl, dl)
	if len(q.dl) > q.maxDead {
		q.dl = q.dl[len(q.dl)-q.maxDead:]
	}
	return nil
}
