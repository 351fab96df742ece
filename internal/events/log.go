package events

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/sources"
)

// LogConfig bounds each workspace's log: events older than Retention, and
// those past the newest MaxLength, are dropped (a subscription that comes
// back after that is told to refetch).
type LogConfig struct {
	Retention time.Duration
	MaxLength int
}

// DefaultLogConfig is EVENT_RETENTION and EVENT_MAX_LENGTH's defaults.
var DefaultLogConfig = LogConfig{Retention: 15 * time.Minute, MaxLength: 10_000}

func (c LogConfig) withDefaults() LogConfig {
	if c.Retention <= 0 {
		c.Retention = DefaultLogConfig.Retention
	}
	if c.MaxLength <= 0 {
		c.MaxLength = DefaultLogConfig.MaxLength
	}
	return c
}

// RedisLog keeps each workspace's events in a Redis stream (EventLogKey,
// under the workspace's hash tag: one slot on a Cluster) whose entry ids are
// the sequences, and publishes each on the workspace's events channel, which
// every replica's Bus receives.
type RedisLog struct {
	client goredis.UniversalClient
	calls  redis.Calls
	cfg    LogConfig
}

// NewRedisLog returns the log over client, whose calls go through calls.
func NewRedisLog(client goredis.UniversalClient, calls redis.Calls, cfg LogConfig) *RedisLog {
	return &RedisLog{client: client, calls: calls, cfg: cfg.withDefaults()}
}

// appendScript appends, trims and publishes in one step, so that every
// replica receives a workspace's events in the order of their sequences
// (Redis runs one script at a time, and a workspace's stream lives on one
// node). The published event is the payload with its sequence spliced in
// first. Trimming uses Redis' own clock, which also numbers the entries.
var appendScript = goredis.NewScript(`
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('XTRIM', KEYS[1], 'MINID', '~', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], '{"q":"' .. id .. '",' .. string.sub(ARGV[4], 2))
return id
`)

func (l *RedisLog) Append(ctx context.Context, workspace string, ch sources.Changed) (string, error) {
	payload, err := json.Marshal(Event{Workspace: workspace, Changed: ch})
	if err != nil {
		return "", err
	}
	var id string
	err = l.calls.Do(ctx, func(ctx context.Context) error {
		id, err = appendScript.Run(ctx, l.client, []string{redis.EventLogKey(workspace)},
			l.cfg.MaxLength, l.cfg.Retention.Milliseconds(), redis.EventsChannel(workspace), string(payload)).Text()
		return err
	})
	return id, err
}

// sincePage is how many entries one read of the log returns.
const sincePage = 1000

func (l *RedisLog) Since(ctx context.Context, workspace, after string) ([]Entry, bool, error) {
	key := redis.EventLogKey(workspace)
	var out []Entry
	start := after // inclusive: after itself must still be there
	for first := true; ; first = false {
		var msgs []goredis.XMessage
		err := l.calls.Do(ctx, func(ctx context.Context) error {
			var err error
			msgs, err = l.client.XRangeN(ctx, key, start, "+", sincePage).Result()
			return err
		})
		if err != nil {
			return nil, false, err
		}
		if first && after != Start && (len(msgs) == 0 || msgs[0].ID != after) {
			return nil, false, nil
		}
		for _, m := range msgs {
			if m.ID == after {
				continue
			}
			payload, _ := m.Values["e"].(string)
			var ev Event
			if json.Unmarshal([]byte(payload), &ev) != nil {
				continue
			}
			out = append(out, Entry{Seq: m.ID, Change: ev.Changed})
		}
		if len(msgs) < sincePage {
			return out, true, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

func (l *RedisLog) Last(ctx context.Context, workspace string) (string, error) {
	var msgs []goredis.XMessage
	err := l.calls.Do(ctx, func(ctx context.Context) error {
		var err error
		msgs, err = l.client.XRevRangeN(ctx, redis.EventLogKey(workspace), "+", "-", 1).Result()
		return err
	})
	if err != nil || len(msgs) == 0 {
		return Start, err
	}
	return msgs[0].ID, nil
}

// MemoryLog is the log of a server without Redis: one process, one hub.
type MemoryLog struct {
	cfg LogConfig
	now func() time.Time
	hub *Hub

	mu         sync.Mutex
	workspaces map[string]*memoryStream
}

type memoryStream struct {
	entries []Entry
	ms, n   uint64 // the last sequence
}

// NewMemoryLog returns an in-process log and the hub it feeds.
func NewMemoryLog(cfg LogConfig, obs Observer) (*MemoryLog, *Hub) {
	l := &MemoryLog{cfg: cfg.withDefaults(), now: time.Now, workspaces: map[string]*memoryStream{}}
	l.hub = NewHub(l, obs)
	return l, l.hub
}

func (l *MemoryLog) Append(_ context.Context, workspace string, ch sources.Changed) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.workspaces[workspace]
	if s == nil {
		s = &memoryStream{}
		l.workspaces[workspace] = s
	}
	now := uint64(l.now().UnixMilli())
	if now > s.ms {
		s.ms, s.n = now, 0
	} else {
		s.n++
	}
	seq := fmt.Sprintf("%d-%d", s.ms, s.n)
	s.entries = append(s.entries, Entry{Seq: seq, Change: ch})
	l.trim(s, now)
	// Under the lock: subscriptions receive events in sequence order.
	l.hub.Event(Event{Seq: seq, Workspace: workspace, Changed: ch})
	return seq, nil
}

func (l *MemoryLog) trim(s *memoryStream, now uint64) {
	drop := max(0, len(s.entries)-l.cfg.MaxLength)
	oldest := now - min(now, uint64(l.cfg.Retention.Milliseconds()))
	for drop < len(s.entries) {
		if ms, _, _ := parseSeq(s.entries[drop].Seq); ms >= oldest {
			break
		}
		drop++
	}
	if drop > 0 {
		s.entries = append([]Entry(nil), s.entries[drop:]...)
	}
}

func (l *MemoryLog) Since(_ context.Context, workspace, after string) ([]Entry, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.workspaces[workspace]
	if s == nil {
		return nil, after == Start, nil
	}
	l.trim(s, uint64(l.now().UnixMilli()))
	if after == fmt.Sprintf("%d-%d", s.ms, s.n) {
		return nil, true, nil // nothing since
	}
	for i, e := range s.entries {
		if e.Seq == after {
			return append([]Entry(nil), s.entries[i+1:]...), true, nil
		}
	}
	if after == Start {
		return append([]Entry(nil), s.entries...), true, nil
	}
	return nil, false, nil
}

func (l *MemoryLog) Last(_ context.Context, workspace string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.workspaces[workspace]; s != nil && (s.ms > 0 || s.n > 0) {
		return fmt.Sprintf("%d-%d", s.ms, s.n), nil
	}
	return Start, nil
}
