// Package idempotency makes actions safe to retry. The first execution under
// a key stores its result; a repeat with the same key and input returns it
// without running the action again; the same key with another input is a
// CONFLICT; concurrent repeats wait for the first instead of running twice.
//
// An execution that fails in a way that may still have taken effect (a
// timeout, a 5xx, a reset connection) leaves the key "uncertain": the next
// attempt first asks the action to reconcile (find the object the earlier
// attempt may have created) and only runs it again when nothing is found.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/talkdesk-intercom/api/sources"
)

// Record states.
const (
	statePending   = "pending"   // an execution is running (until its lease ends)
	stateDone      = "done"      // Result holds the outcome
	stateUncertain = "uncertain" // the last execution may or may not have taken effect
)

// Record is what the store keeps under a key.
type Record struct {
	State       string          `json:"state"`
	Fingerprint string          `json:"fp"`
	Result      json.RawMessage `json:"result,omitempty"`
	// Started is when the first attempt began (unix ms): reconciliation
	// looks for objects created since then.
	Started int64 `json:"started"`
	// LeaseUntil is when a pending execution is presumed dead (unix ms).
	LeaseUntil int64 `json:"lease"`
}

// Store keeps records atomically. Claim is the only read-modify-write.
type Store interface {
	// Claim makes the caller the owner of key when the key is free, or when
	// its record is uncertain or pending with an expired lease (the record
	// then keeps its Started). It returns the record as it now stands, the
	// state it had before (empty when absent) and whether the caller owns it.
	Claim(ctx context.Context, key string, rec Record, ttl time.Duration) (current Record, previous string, owned bool, err error)
	// Get reads the record of key, if any.
	Get(ctx context.Context, key string) (rec Record, found bool, err error)
	// Put overwrites the record.
	Put(ctx context.Context, key string, rec Record, ttl time.Duration) error
	// Delete removes the record: the attempt certainly had no effect.
	Delete(ctx context.Context, key string) error
}

// Options tune the Guard.
type Options struct {
	// TTL is how long results are kept (at least 24 h).
	TTL time.Duration
	// Lease is how long an execution may run before another attempt may
	// presume it dead.
	Lease time.Duration
	// Wait bounds how long a concurrent repeat waits for the first.
	Wait time.Duration
	Now  func() time.Time
}

// Guard runs actions at most once per key.
type Guard struct {
	store Store
	opts  Options
}

// New returns a Guard over store.
func New(store Store, opts Options) *Guard {
	if opts.TTL < 24*time.Hour {
		opts.TTL = 24 * time.Hour
	}
	if opts.Lease <= 0 {
		opts.Lease = time.Minute
	}
	if opts.Wait <= 0 {
		opts.Wait = 70 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Guard{store: store, opts: opts}
}

// Action is one execution of an action under a key.
type Action[R any] struct {
	// Key is the store key: already namespaced by tenant and action name.
	Key string
	// Input is what the caller asked for; its canonical JSON fingerprints
	// the request.
	Input any
	// Run executes the action.
	Run func(ctx context.Context) (R, error)
	// Reconcile looks for the effect of an earlier uncertain attempt that
	// started at since; found reports whether it exists. Nil means the
	// action is naturally idempotent and can simply run again.
	Reconcile func(ctx context.Context, since time.Time) (r R, found bool, err error)
}

// Fingerprint is the SHA-256 of v's JSON encoding (maps encode with sorted
// keys, so equal inputs give equal fingerprints).
func Fingerprint(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Do runs a at most once for its key and input and returns the result of
// the one execution. replayed reports that the result was stored earlier.
func Do[R any](ctx context.Context, g *Guard, a Action[R]) (result R, replayed bool, err error) {
	fp, err := Fingerprint(a.Input)
	if err != nil {
		return result, false, err
	}
	deadline := g.opts.Now().Add(g.opts.Wait)
	for {
		now := g.opts.Now()
		claim := Record{State: statePending, Fingerprint: fp, Started: now.UnixMilli(), LeaseUntil: now.Add(g.opts.Lease).UnixMilli()}
		cur, previous, owned, err := g.store.Claim(ctx, a.Key, claim, g.opts.TTL)
		if err != nil {
			return result, false, sources.Errorf(sources.EUpstreamUnavailable,
				"the idempotency store is unavailable: the action was not run, retry it")
		}
		if cur.Fingerprint != fp {
			return result, false, sources.Errorf(sources.EConflict,
				"this idempotency key was used for a different request; use a new key for a new request")
		}
		if owned {
			return execute(ctx, g, a, cur, previous)
		}
		if cur.State == stateDone {
			if err := json.Unmarshal(cur.Result, &result); err != nil {
				return result, false, err
			}
			return result, true, nil
		}
		// Another attempt is running: wait for it rather than run twice.
		if g.opts.Now().After(deadline) {
			return result, false, sources.Errorf(sources.EConflict,
				"an earlier request with this idempotency key is still running; retry later")
		}
		select {
		case <-ctx.Done():
			return result, false, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Replay returns the stored result of key when its action is done for this
// same input, without running anything: a retry is answered before the
// action would check its input against the upstream (which a spent budget
// or an outage could refuse). found is false when there is no finished
// record (the caller goes on to Do); a key used for another input is
// CONFLICT, as in Do.
func Replay[R any](ctx context.Context, g *Guard, key string, input any) (result R, found bool, err error) {
	fp, err := Fingerprint(input)
	if err != nil {
		return result, false, err
	}
	rec, ok, err := g.store.Get(ctx, key)
	if err != nil || !ok {
		return result, false, nil // Do decides, with its own fallbacks
	}
	if rec.Fingerprint != fp {
		return result, false, sources.Errorf(sources.EConflict,
			"this idempotency key was used for a different request; use a new key for a new request")
	}
	if rec.State != stateDone || json.Unmarshal(rec.Result, &result) != nil {
		var zero R
		return zero, false, nil
	}
	return result, true, nil
}

func execute[R any](ctx context.Context, g *Guard, a Action[R], cur Record, previous string) (result R, replayed bool, err error) {
	// The outcome must be recorded even if the caller goes away.
	ctx = context.WithoutCancel(ctx)
	if (previous == stateUncertain || previous == statePending) && a.Reconcile != nil {
		r, found, err := a.Reconcile(ctx, time.UnixMilli(cur.Started))
		if err != nil {
			_ = g.store.Put(ctx, a.Key, Record{State: stateUncertain, Fingerprint: cur.Fingerprint, Started: cur.Started}, g.opts.TTL)
			return result, false, err
		}
		if found {
			return r, false, g.complete(ctx, a.Key, cur, r)
		}
	}
	r, err := a.Run(ctx)
	if err != nil {
		if mayHaveTakenEffect(err) {
			_ = g.store.Put(ctx, a.Key, Record{State: stateUncertain, Fingerprint: cur.Fingerprint, Started: cur.Started}, g.opts.TTL)
		} else {
			_ = g.store.Delete(ctx, a.Key)
		}
		return result, false, err
	}
	return r, false, g.complete(ctx, a.Key, cur, r)
}

func (g *Guard) complete(ctx context.Context, key string, cur Record, r any) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	// The action has run: a failure to record it must not be reported as a
	// failure of the action, or the caller would retry and run it again.
	_ = g.store.Put(ctx, key, Record{State: stateDone, Fingerprint: cur.Fingerprint, Result: b, Started: cur.Started}, g.opts.TTL)
	return nil
}

// mayHaveTakenEffect reports whether a failed execution might still have
// changed the upstream: its request may have arrived and run.
func mayHaveTakenEffect(err error) bool {
	switch sources.ErrorCode(err) {
	case sources.EUpstreamUnavailable, sources.EInternal:
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}
