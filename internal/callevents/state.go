package callevents

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/redis"
)

// A call's state gathers its events, one per kind (a repeat replaces its
// kind's), until its record is written: then it is frozen, and what comes
// later is a follow-up. Merging and freezing are atomic with each other, so
// an event is either in the record or followed up, never both or neither.
type stateStore interface {
	// merge adds e to its call's state unless the state is frozen (merged
	// false).
	merge(ctx context.Context, ws string, e Event) (merged bool, err error)
	// freeze freezes the call's state (if it was not) and returns its
	// events by kind: the same every time once frozen.
	freeze(ctx context.Context, ws, callID string) (map[string]Event, error)
}

// stateTTL is how long a call's state is kept after its last event: longer
// than any retry (CALL_EVENTS_RETRY_FOR is at most a day), so that a late
// event still finds its call frozen.
const stateTTL = 48 * time.Hour

const frozenField = "frozen"

// mergeScript: KEYS[1] the state, ARGV[1] its TTL in seconds, ARGV[2] the
// event's kind, ARGV[3] the event.
var mergeScript = goredis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 'frozen') == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1`)

// freezeScript: KEYS[1] the state, ARGV[1] its TTL in seconds.
var freezeScript = goredis.NewScript(`
redis.call('HSETNX', KEYS[1], 'frozen', '1')
redis.call('EXPIRE', KEYS[1], ARGV[1])
return redis.call('HGETALL', KEYS[1])`)

// redisState keeps each call's state in a hash of its workspace (durable).
type redisState struct {
	client  goredis.UniversalClient
	timeout time.Duration
}

func (s redisState) merge(ctx context.Context, ws string, e Event) (bool, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	n, err := mergeScript.Run(ctx, s.client, []string{redis.CallStateKey(ws, e.CallID)}, int(stateTTL.Seconds()), e.Event, b).Int()
	return n == 1, err
}

func (s redisState) freeze(ctx context.Context, ws, callID string) (map[string]Event, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	list, err := freezeScript.Run(ctx, s.client, []string{redis.CallStateKey(ws, callID)}, int(stateTTL.Seconds())).StringSlice()
	if err != nil {
		return nil, err
	}
	events := make(map[string]Event, len(list)/2)
	for i := 0; i+1 < len(list); i += 2 {
		if list[i] == frozenField {
			continue
		}
		var e Event
		if err := json.Unmarshal([]byte(list[i+1]), &e); err != nil {
			return nil, err
		}
		events[list[i]] = e
	}
	return events, nil
}

// memoryState is the state in process (without Redis), swept of calls
// untouched for stateTTL.
type memoryState struct {
	mu    sync.Mutex
	calls map[string]*memoryCall
	swept time.Time
}

type memoryCall struct {
	events  map[string]Event
	frozen  bool
	touched time.Time
}

func newMemoryState() *memoryState { return &memoryState{calls: map[string]*memoryCall{}} }

func (s *memoryState) call(ws, callID string) *memoryCall {
	now := time.Now()
	if now.Sub(s.swept) > time.Minute {
		for k, c := range s.calls {
			if now.Sub(c.touched) > stateTTL {
				delete(s.calls, k)
			}
		}
		s.swept = now
	}
	k := ws + "\x00" + callID
	c := s.calls[k]
	if c == nil {
		c = &memoryCall{events: map[string]Event{}}
		s.calls[k] = c
	}
	c.touched = now
	return c
}

func (s *memoryState) merge(_ context.Context, ws string, e Event) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.call(ws, e.CallID)
	if c.frozen {
		return false, nil
	}
	c.events[e.Event] = e
	return true, nil
}

func (s *memoryState) freeze(_ context.Context, ws, callID string) (map[string]Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.call(ws, callID)
	c.frozen = true
	out := make(map[string]Event, len(c.events))
	for k, e := range c.events {
		out[k] = e
	}
	return out, nil
}
