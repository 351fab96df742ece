package callevents

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/access"
	"github.com/talkdesk-intercom/api/internal/actions"
	"github.com/talkdesk-intercom/api/internal/tenants"
	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/phone"
)

// Config is the settings of call events (CALL_EVENTS_*, TALKDESK_EVENTS_SECRET)
// and, filled by the server, their dependencies.
type Config struct {
	// Secret is what Talkdesk sends as Authorization: Bearer; never logged.
	Secret string
	// CreateLeads makes an unknown number a lead before its call is written.
	CreateLeads bool
	// Settle is how long after a call ends (or is missed) its record waits
	// for what comes with the call (disposition, notes, recording).
	Settle time.Duration
	// CallbackTicketType names the ticket type (name or id) of callbacks.
	CallbackTicketType string
	// BlockedNumbers never become leads (E.164 once New has read them).
	BlockedNumbers []string
	// DefaultCountry reads numbers Talkdesk sends without a country code.
	DefaultCountry string
	// Workers bound the events of a workspace applied at once (Intercom
	// calls in flight); MaxInFlight the events a replica holds per
	// workspace, waiting their settle window or a retry.
	Workers     int
	MaxInFlight int
	// MaxBacklog bounds the events waiting in a workspace's queue: more is
	// 503.
	MaxBacklog int
	// RetryFor is how long an event is retried before it is dead-lettered.
	RetryFor time.Duration
	// ClaimAfter is how long an event a replica took may go without news
	// before another replica takes it over (the first died).
	ClaimAfter time.Duration
	// ReplicaTimeout bounds the wait for a Redis replica to have an event.
	ReplicaTimeout time.Duration
	// MaxBodyBytes bounds an event's body.
	MaxBodyBytes int64
	// MaxDeadLetters is how many dead letters a workspace keeps (newest),
	// for at most DeadLetterRetention.
	MaxDeadLetters      int
	DeadLetterRetention time.Duration

	// Redis holds the queues and call states; nil keeps them in process.
	Redis        goredis.UniversalClient
	RedisTimeout time.Duration
	Registerer   prometheus.Registerer
	Logger       *slog.Logger
	// OnCallStarted is where a ringing call is announced (the screen pop's
	// subscription, when the event stream has one); nil: nowhere.
	OnCallStarted func(ctx context.Context, workspace string, e Event)
	// Failures counts wrong secrets against the client address
	// (AUTH_FAILURES_PER_MINUTE); nil counts nothing.
	Failures *access.Failures
}

// Service accepts call events and applies them.
type Service struct {
	cfg     Config
	state   stateStore
	metrics *serviceMetrics
	bg      context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup

	mu        sync.Mutex
	consumers map[string]*consumer // by workspace id
	replicas  *replicaCount
	consumer  string // this replica's name in the consumer groups
}

// New builds the service; workers start with the first event of a
// workspace (Start starts the configured workspace's at once).
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var blocked []string
	for _, n := range cfg.BlockedNumbers {
		if e164, err := phone.Normalize(n, cfg.DefaultCountry); err == nil {
			blocked = append(blocked, e164)
		}
	}
	cfg.BlockedNumbers = blocked
	s := &Service{cfg: cfg, metrics: newMetrics(cfg.Registerer), consumers: map[string]*consumer{}, replicas: newReplicaCount()}
	s.bg, s.stop = context.WithCancel(context.Background())
	host, _ := os.Hostname()
	s.consumer = host + "-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(rand.Uint64()%1e9, 10)
	if cfg.Redis != nil {
		s.state = redisState{client: cfg.Redis, timeout: cfg.RedisTimeout}
	} else {
		s.state = newMemoryState()
	}
	return s
}

// Close stops the workers. Events they held stay queued (in Redis): another
// replica, or this one's successor, takes them over.
func (s *Service) Close() {
	s.stop()
	s.wg.Wait()
}

// Start starts the workers of the configured workspace as soon as its id is
// known, so that what a previous run left queued is applied without waiting
// for a new event.
func (s *Service) Start(t *tenants.Tenant) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for wait := time.Second; ; wait = min(2*wait, time.Minute) {
			if ws, err := workspaceID(s.bg, t); err == nil {
				s.consumerFor(ws, t)
				return
			}
			select {
			case <-s.bg.Done():
				return
			case <-time.After(wait):
			}
		}
	}()
}

func workspaceID(ctx context.Context, t *tenants.Tenant) (string, error) {
	if id, ok := t.ID.Get(); ok {
		return id, nil
	}
	w, err := t.Workspace(ctx)
	if err != nil {
		return "", err
	}
	return w.ID, nil
}

// newQueue is the workspace's queue: its Redis stream, else in process.
func (s *Service) newQueue(ws string) queue {
	if s.cfg.Redis != nil {
		return &redisQueue{client: s.cfg.Redis, ws: ws, consumer: s.consumer, replicas: s.replicas, opts: queueOptions{
			timeout: s.cfg.RedisTimeout, replicaTimeout: s.cfg.ReplicaTimeout, maxBacklog: int64(s.cfg.MaxBacklog),
			claimAfter: s.cfg.ClaimAfter, maxDead: int64(s.cfg.MaxDeadLetters), deadFor: s.cfg.DeadLetterRetention,
		}}
	}
	return newMemoryQueue(int64(s.cfg.MaxBacklog), s.cfg.MaxDeadLetters, s.cfg.DeadLetterRetention)
}

// existingQueue is the workspace's queue for reading or erasing, built
// only when it holds something: this replica's consumer's, else its Redis
// stream. Without Redis a workspace with no consumer has none (nil): the
// queue in process lives only in its consumer.
func (s *Service) existingQueue(ws string) queue {
	s.mu.Lock()
	c := s.consumers[ws]
	s.mu.Unlock()
	switch {
	case c != nil:
		return c.q
	case s.cfg.Redis != nil:
		return s.newQueue(ws)
	}
	return nil
}

// consumerFor is the workspace's queue and workers, started on first use.
func (s *Service) consumerFor(ws string, t *tenants.Tenant) *consumer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.consumers[ws]; c != nil {
		return c
	}
	c := &consumer{s: s, a: &applier{s: s, tenant: t, ws: ws}, inflight: map[string]bool{}, sem: make(chan struct{}, s.cfg.Workers)}
	c.q = s.newQueue(ws)
	s.consumers[ws] = c
	s.wg.Add(2)
	go func() { defer s.wg.Done(); c.run(s.bg) }()
	go func() { defer s.wg.Done(); c.maintain(s.bg) }()
	return c
}

// accept queues an event of the workspace.
func (s *Service) accept(ctx context.Context, ws string, t *tenants.Tenant, e Event) (string, error) {
	return s.consumerFor(ws, t).q.add(ctx, e)
}

// Status is a workspace's queue as the admin endpoint shows it.
type Status struct {
	Workspace   string       `json:"workspace"`
	Backlog     int64        `json:"backlog"`
	DeadLetters []DeadLetter `json:"dead_letters"`
}

// Status reads a workspace's backlog and its newest dead letters.
func (s *Service) Status(ctx context.Context, t *tenants.Tenant, n int) (Status, error) {
	ws, err := workspaceID(ctx, t)
	if err != nil {
		return Status{}, err
	}
	// Reading starts no workers: a workspace whose events never came has
	// none, and an admin's read must not hold a Redis connection for good.
	st := Status{Workspace: ws, DeadLetters: []DeadLetter{}}
	q := s.existingQueue(ws)
	if q == nil {
		return st, nil
	}
	if st.Backlog, err = q.backlog(ctx); err != nil {
		return Status{}, unavailable(err)
	}
	if st.DeadLetters, err = q.deadLetters(ctx, n); err != nil {
		return Status{}, err
	}
	return st, nil
}

// Forget erases what call events keep about the contacts a change deleted
// (a contact.deleted webhook): the states of the calls that named them (by
// contact_external_id, or found for them; by number, those of no other
// contact) become tombstones, so that their later events have no effect,
// and the dead letters whose event names them go. Events still queued are
// applied as they come (those of an erased call have no effect).
func (s *Service) Forget(ctx context.Context, t *tenants.Tenant, ch sources.Changed) error {
	ids := map[string]bool{}
	for _, c := range ch.Contacts {
		if c.Kind == sources.ContactDeleted {
			ids[c.ID] = true
		}
	}
	if len(ids) == 0 || s.cfg.Secret == "" {
		return nil // nothing deleted, or call events off: nothing kept
	}
	ws, err := workspaceID(ctx, t)
	if err != nil {
		return err
	}
	phones := map[string]bool{}
	var idNames, phoneNames []string
	for id := range ids {
		idNames = append(idNames, contactName("id", id))
	}
	for _, p := range ch.RemovedPhones {
		phones[p] = true
		phoneNames = append(phoneNames, contactName("phone", p))
	}
	if err := s.state.forget(ctx, ws, idNames, phoneNames); err != nil {
		return err
	}
	q := s.existingQueue(ws)
	if q == nil {
		return nil
	}
	return q.forgetDead(ctx, func(e Event) bool {
		if ids[e.ContactExternalID] {
			return true
		}
		n, err := phone.Normalize(e.ContactPhone, s.cfg.DefaultCountry)
		return err == nil && phones[n]
	})
}

// consumer applies one workspace's queue.
type consumer struct {
	s   *Service
	q   queue
	a   *applier
	sem chan struct{}

	mu       sync.Mutex
	inflight map[string]bool
}

func (c *consumer) run(ctx context.Context) {
	var failing bool
	for ctx.Err() == nil {
		c.mu.Lock()
		room := c.s.cfg.MaxInFlight - len(c.inflight)
		c.mu.Unlock()
		if room <= 0 {
			sleep(ctx, 20*time.Millisecond)
			continue
		}
		ds, err := c.q.read(ctx, min(room, 100))
		if err != nil {
			if ctx.Err() == nil && !failing {
				c.s.cfg.Logger.Warn("call events: cannot read the queue; retrying", "workspace", c.a.ws, "error", err)
			}
			failing = true
			sleep(ctx, time.Second)
			continue
		}
		failing = false
		for _, d := range ds {
			c.start(ctx, d)
		}
	}
}

// maintain keeps this replica's events its own while it works on them, and
// takes over those of replicas that went silent for ClaimAfter.
func (c *consumer) maintain(ctx context.Context) {
	tick := time.NewTicker(c.s.cfg.ClaimAfter / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		c.mu.Lock()
		ids := make([]string, 0, len(c.inflight))
		for id := range c.inflight {
			ids = append(ids, id)
		}
		c.mu.Unlock()
		_ = c.q.keep(ctx, ids)
		_ = c.q.expire(ctx)
		claimed, err := c.q.claim(ctx)
		if err != nil {
			continue
		}
		for _, d := range claimed {
			c.s.metrics.Claimed.Inc()
			c.start(ctx, d)
		}
	}
}

func (c *consumer) start(ctx context.Context, d Delivery) {
	c.mu.Lock()
	if c.inflight[d.ID] {
		c.mu.Unlock()
		return
	}
	c.inflight[d.ID] = true
	c.mu.Unlock()
	c.s.wg.Add(1)
	go func() {
		defer c.s.wg.Done()
		defer func() {
			c.mu.Lock()
			delete(c.inflight, d.ID)
			c.mu.Unlock()
		}()
		c.handle(ctx, d)
	}()
}

// handle applies one event: retried with backoff while what fails may pass
// (Intercom or Redis away, the budget spent), for at most RetryFor since it
// was accepted; then, or at once when it never can pass, it goes to the
// dead letters with its reason.
func (c *consumer) handle(ctx context.Context, d Delivery) {
	m := c.s.metrics
	if d.Event.CallID == "" {
		c.deadLetter(ctx, d, "not a call event this service wrote")
		return
	}
	for attempt := 0; ; attempt++ {
		err := c.process(ctx, d)
		var skip skipped
		switch {
		case err == nil || errors.As(err, &skip):
			if err != nil {
				m.Skipped.Inc()
				c.s.cfg.Logger.Info("call events: nothing to write", "event", d.Event.String(), "reason", skip.reason)
			}
			first, derr := c.q.done(ctx, d)
			if derr != nil {
				// Applied, but still queued: it is taken again later and
				// replays (its actions are idempotent).
				c.s.cfg.Logger.Warn("call events: applied but not acknowledged", "event", d.Event.String(), "error", derr)
				return
			}
			if !first {
				// Claimed again just as its first delivery finished: it
				// replayed (nothing written twice) and was counted then.
				return
			}
			m.Applied.WithLabelValues(d.Event.Event).Inc()
			m.Lag.WithLabelValues(d.Event.Event).Observe(time.Since(d.Accepted).Seconds())
			return
		case ctx.Err() != nil:
			return // shutting down: it stays queued
		case !retryable(err):
			c.deadLetter(ctx, d, reason(err))
			return
		case time.Since(d.Accepted) > c.s.cfg.RetryFor:
			c.deadLetter(ctx, d, "still failing after "+c.s.cfg.RetryFor.String()+": "+reason(err))
			return
		}
		m.Retries.Inc()
		if attempt == 0 {
			c.s.cfg.Logger.Warn("call events: applying failed; retrying", "event", d.Event.String(), "error", reason(err))
		}
		sleep(ctx, backoff(attempt, err))
	}
}

func reason(err error) string {
	var p permanent
	if errors.As(err, &p) {
		return p.reason
	}
	var coded *sources.Error
	if errors.As(err, &coded) {
		return coded.Code + ": " + sources.ErrorMessage(err)
	}
	return err.Error()
}

func (c *consumer) deadLetter(ctx context.Context, d Delivery, why string) {
	if err := c.q.dead(ctx, DeadLetter{ID: d.ID, Event: d.Event, Reason: why, At: time.Now().UTC()}); err != nil {
		c.s.cfg.Logger.Warn("call events: cannot write a dead letter; the event stays queued", "event", d.Event.String(), "error", err)
		return
	}
	c.s.metrics.DeadLetters.Inc()
	c.s.cfg.Logger.Warn("call events: dead-lettered", "event", d.Event.String(), "reason", why)
}

// process is one attempt at an event: merged into its call at once, then,
// for the call's record, after the settle window, holding a worker only
// while it calls Intercom.
func (c *consumer) process(ctx context.Context, d Delivery) error {
	ctx = sources.WithCaller(sources.WithPriority(ctx, sources.Bulk), "talkdesk-events")
	ctx = actions.WithDerivedKeys(ctx)
	next, late, err := c.a.merge(ctx, d.Event)
	if err != nil {
		return err
	}
	if d.Event.Event == CallStarted && c.s.cfg.OnCallStarted != nil {
		// The one place a ringing call is announced.
		c.s.cfg.OnCallStarted(ctx, c.a.ws, d.Event)
	}
	if next == stepNone {
		return nil
	}
	// The record, and what comes late (the first of a late generation to
	// wake closes it and writes its one follow-up, the others replay it),
	// each wait for a settle window.
	if !sleep(ctx, time.Until(d.Accepted.Add(c.s.cfg.Settle))) {
		return ctx.Err()
	}
	release, err := c.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	if next == stepFinish {
		return c.a.finish(ctx, d.Event)
	}
	return c.a.followUp(ctx, d.Event.CallID, late)
}

func (c *consumer) acquire(ctx context.Context) (func(), error) {
	select {
	case c.sem <- struct{}{}:
		return func() { <-c.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// backoff is the wait before attempt+1: doubling from half a second to 30
// seconds, jittered, and never shorter than a Retry-After Intercom gave.
func backoff(attempt int, err error) time.Duration {
	d := 500 * time.Millisecond << min(attempt, 6)
	d = min(d, 30*time.Second)
	d = d/2 + rand.N(d/2+1)
	var coded *sources.Error
	if errors.As(err, &coded) && coded.RetryAfterSeconds > 0 {
		d = max(d, time.Duration(coded.RetryAfterSeconds)*time.Second)
	}
	return d
}

// sleep waits d unless ctx ends first (false).
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
