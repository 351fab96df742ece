package access

import (
	"context"
	"errors"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/redis"
)

// fleet makes a Limiter's allowance the whole fleet's: one token bucket per
// caller in Redis (GCRA: the time its allowance is spent up to), fed with
// what each replica admitted, so that N replicas do not give a caller N
// times its limit.
//
// Written here rather than with go-redis/redis_rate, whose every Allow is a
// round trip: a request never waits for Redis. Each replica reports what it
// admitted every sync interval, in one pipeline, and learns from the answer
// which callers the fleet has over their allowance; those it refuses until
// the bucket has room again. A caller can so pass its limit by what the
// replicas admit in one interval; while Redis is away each replica's own
// bucket is the limit.
type fleet struct {
	name string // of the allowance: callers have one bucket per allowance
	// deployment names the fleet (its main workspace), so that two fleets
	// sharing a Redis do not share their callers' buckets.
	deployment func() string
	health     *redis.Health
	interval   float64 // ms per request at the allowance's rate
	burst      float64 // requests
	every      time.Duration

	mu       sync.Mutex
	admitted map[string]int       // requests admitted since the last report, per caller
	blocked  map[string]time.Time // callers the fleet has over their allowance, until when
}

// gcraScript: KEYS[1] the caller's bucket (the time, in ms of Redis's
// clock, up to which its allowance is spent); ARGV[1] requests admitted
// since the last report, ARGV[2] ms per request. Returns how far ahead of
// now the allowance is spent, in ms: over the burst's worth, the caller is
// over its allowance.
const gcraSource = `
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now) + tonumber(ARGV[1]) * tonumber(ARGV[2])
redis.call('SET', KEYS[1], tostring(tat), 'PX', math.ceil(tat - now) + 1000)
return tostring(tat - now)
`

var gcraScript = goredis.NewScript(gcraSource)

// Share makes l's allowance the fleet's, counted in health's Redis under
// name (and deployment's name for the fleet) and reported every every,
// until ctx ends. Call it before l is used.
func (l *Limiter) Share(ctx context.Context, name string, deployment func() string, health *redis.Health, every time.Duration) {
	if l.perMinute <= 0 {
		return
	}
	l.fleet = &fleet{name: name, deployment: deployment, health: health, interval: float64(time.Minute/time.Millisecond) / l.perMinute, burst: l.burst,
		every: every, admitted: map[string]int{}, blocked: map[string]time.Time{}}
	go l.fleet.run(ctx)
}

// over says whether the fleet has caller over its allowance at now, and for
// how long.
func (f *fleet) over(caller string, now time.Time) (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	until, ok := f.blocked[caller]
	if !ok || !until.After(now) {
		return 0, false
	}
	return until.Sub(now), true
}

// admit notes a request admitted for caller, for the next report.
func (f *fleet) admit(caller string) {
	f.mu.Lock()
	f.admitted[caller]++
	f.mu.Unlock()
}

func (f *fleet) run(ctx context.Context) {
	t := time.NewTicker(f.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f.report(ctx)
		}
	}
}

// report adds what this replica admitted to each caller's bucket, in
// pipelines (one round trip per Redis node for up to reportBatch callers),
// and learns who is over.
func (f *fleet) report(ctx context.Context) {
	f.mu.Lock()
	admitted := f.admitted
	f.admitted = map[string]int{}
	now := time.Now()
	for caller, until := range f.blocked {
		if !until.After(now) {
			delete(f.blocked, caller)
		}
	}
	f.mu.Unlock()
	if len(admitted) == 0 {
		return
	}
	deployment := f.deployment()
	callers := make([]string, 0, len(admitted))
	for caller := range admitted {
		callers = append(callers, caller)
	}
	// Pipelines of at most reportBatch callers, each bounded by
	// REDIS_TIMEOUT: a spray of callers (client addresses) makes more
	// round trips, not one that outlasts the timeout.
	cmds := make([]*goredis.Cmd, len(callers))
	for start := 0; start < len(callers); start += reportBatch {
		batch := callers[start:min(start+reportBatch, len(callers))]
		// Requests not reported because Redis is away are not reported
		// later: the fleet then forgets some of a caller's spending, never
		// invents it.
		err := f.health.Do(ctx, func(ctx context.Context) error {
			_, err := f.health.Client().Pipelined(ctx, func(p goredis.Pipeliner) error {
				for i, caller := range batch {
					cmds[start+i] = gcraScript.Eval(ctx, p, []string{redis.RateBucketKey(f.name, deployment, caller)}, admitted[caller], f.interval)
				}
				return nil
			})
			return err
		})
		if errors.Is(err, redis.ErrUnavailable) {
			break
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now = time.Now()
	for i, cmd := range cmds {
		if cmd == nil {
			continue
		}
		ahead, err := cmd.Float64()
		if err != nil {
			continue
		}
		if over := ahead - f.burst*f.interval; over > 0 {
			f.blocked[callers[i]] = now.Add(time.Duration(over * float64(time.Millisecond)))
		}
	}
}

// IsReport says whether a pipeline is a limiter's report: background
// bookkeeping, up to ten a second per replica, which tracing leaves out (it
// belongs to no request).
func IsReport(cmds []goredis.Cmder) bool {
	if len(cmds) == 0 {
		return false
	}
	for _, c := range cmds {
		args := c.Args()
		if len(args) < 4 || c.Name() != "eval" || args[1] != gcraSource {
			return false
		}
	}
	return true
}

// reportBatch is the most callers one report pipeline carries.
const reportBatch = 256
