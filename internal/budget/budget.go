// Package budget counts a workspace's Intercom calls for the whole fleet in
// Redis, so that N replicas together stay inside one budget (and a caller
// inside one share of it) instead of N times it. Each replica's in-process
// governor (sources/intercom) still decides first.
//
// While Redis fails over, no replica can count with the others. So that the
// fleet still never goes over, a replica sets aside ("holds") some calls of
// the next window while Redis answers: they are counted already, and it
// spends them alone when the fleet's window is spent or Redis is away.
//
// A call counted here that then never leaves the process (the breaker
// refused it, or it failed before it was sent) is given back, so that an
// outage of Intercom does not spend the fleet's budget on calls not made.
package budget

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/sources"
)

// Redis is the fleet's count of calls by fixed windows aligned to the wall
// clock (every replica's window is the same one): a sources.FleetBudget.
type Redis struct {
	client goredis.UniversalClient
	health *redis.Health
}

// New counts in client, each call bounded by health's timeout (REDIS_TIMEOUT)
// and skipped at once while health knows Redis away: one watch for every
// Redis user, so that a request pays at most one timeout when Redis dies.
func New(client goredis.UniversalClient, health *redis.Health) *Redis {
	return &Redis{client: client, health: health}
}

// AwaySince is when Redis stopped answering, zero while it answers.
func (r *Redis) AwaySince() time.Time { return r.health.AwaySince() }

// takeScript: KEYS[1] the workspace's window, a hash of counts: "all" the
// workspace's, "c:<hash>" each caller's, and "id" the count's name (see
// giveBackScript). ARGV[1] the workspace's budget, ARGV[2] the caller's
// share, ARGV[3] the caller's field ("" for none), ARGV[4] how long counts
// live (ms), ARGV[5] calls already made, to count first, ARGV[6] a name for
// the count should it have none yet. Returns {0, the count's name} admitted,
// {1} the workspace's window is spent (held calls count), {2} the caller's
// share is. A refused call is not counted.
//
// One key a script: a Cluster serves a one-key command while its slot
// migrates (following ASK), where it refuses one over several keys of the
// slot (TRYAGAIN) until the migration ends.
var takeScript = goredis.NewScript(`
local function add(field, n)
  redis.call('HINCRBY', KEYS[1], field, n)
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'all', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
if tonumber(ARGV[5]) > 0 then add('all', tonumber(ARGV[5])) end
if tonumber(redis.call('HGET', KEYS[1], 'all') or '0') >= tonumber(ARGV[1]) then
  return {1}
end
if ARGV[3] ~= '' then
  if tonumber(redis.call('HGET', KEYS[1], ARGV[3]) or '0') >= tonumber(ARGV[2]) then
    return {2}
  end
  add(ARGV[3], 1)
end
add('all', 1)
redis.call('HSETNX', KEYS[1], 'id', ARGV[6])
return {0, redis.call('HGET', KEYS[1], 'id')}
`)

// giveBackScript: KEYS[1] the window a call was counted in, ARGV[1] the
// name of the count it was counted in, ARGV[2] the caller's field ("" for
// none). Takes the call off the workspace's and the caller's counts, and
// returns 1; returns 0 and changes nothing when the window's count is no
// longer the one the call was counted in (Redis lost it and it started
// afresh without the call): a count never goes below the calls made.
var giveBackScript = goredis.NewScript(`
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then
  return 0
end
if tonumber(redis.call('HGET', KEYS[1], 'all') or '0') > 0 then
  redis.call('HINCRBY', KEYS[1], 'all', -1)
end
if ARGV[2] ~= '' and tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0') > 0 then
  redis.call('HINCRBY', KEYS[1], ARGV[2], -1)
end
return 1
`)

// holdScript: KEYS[1] the next window (as takeScript's); ARGV[1] the
// workspace's budget, ARGV[2] the calls to hold, ARGV[3] how long counts
// live (ms). Holds what is left of the window, at most ARGV[2]; returns it.
var holdScript = goredis.NewScript(`
local all = tonumber(redis.call('HGET', KEYS[1], 'all') or '0')
local held = math.max(0, math.min(tonumber(ARGV[2]), tonumber(ARGV[1]) - all))
if held > 0 then
  if redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('HSET', KEYS[1], 'all', 0)
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
  end
  redis.call('HINCRBY', KEYS[1], 'all', held)
end
return held
`)

// Take asks the fleet for one call of the window that holds a.Now, and
// for a.HoldNext calls of the next window, in one round trip. The error is
// non-nil when Redis could not tell: the replica decides alone.
func (r *Redis) Take(ctx context.Context, a sources.BudgetAsk) (sources.BudgetAnswer, error) {
	start := a.Now.Truncate(a.Window)
	ans := sources.BudgetAnswer{Wait: start.Add(a.Window).Sub(a.Now)}
	field := callerField(a.Caller)
	// The counts outlive their window a little, so that a replica whose
	// clock is slightly behind still finds them.
	ttl := (3 * a.Window).Milliseconds()
	// A name for the window's count, should this call start it: unique, so
	// that a count Redis lost and another replica started afresh is never
	// taken for the one a call was counted in.
	countName := strconv.FormatUint(rand.Uint64(), 36)
	var take, hold *goredis.Cmd
	send := func(ctx context.Context, byHash bool) error {
		run := (*goredis.Script).EvalSha
		if !byHash {
			run = (*goredis.Script).Eval
		}
		_, err := r.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
			take = run(takeScript, ctx, p, []string{redis.BudgetWindowKey(a.Workspace, start)}, a.PerWindow, a.CallerShare, field, ttl, max(a.Uncounted, 0), countName)
			if a.HoldNext > 0 {
				hold = run(holdScript, ctx, p, []string{redis.BudgetWindowKey(a.Workspace, start.Add(a.Window))}, a.PerWindow, a.HoldNext, ttl)
			}
			return nil
		})
		return err
	}
	// By hash (EVALSHA), and by source (EVAL) when a node does not know the
	// script yet (NOSCRIPT: the first call, a promoted replica): a pipeline
	// cannot fall back command by command, as Script.Run does (a command
	// of the first send that ran is then counted twice: over, never under).
	err := r.health.Do(ctx, func(ctx context.Context) error {
		err := send(ctx, true)
		if goredis.HasErrorPrefix(err, "NOSCRIPT") {
			err = send(ctx, false)
		}
		return err
	})
	if err != nil {
		return sources.BudgetAnswer{}, err
	}
	verdict, err := take.Slice()
	if err != nil {
		return sources.BudgetAnswer{}, err
	}
	if len(verdict) == 0 {
		return sources.BudgetAnswer{}, errors.New("budget: an empty answer from the count")
	}
	v, _ := verdict[0].(int64)
	ans.Refused = [...]string{"", "workspace", "caller"}[min(max(v, 0), 2)]
	if len(verdict) > 1 {
		ans.Receipt, _ = verdict[1].(string)
	}
	if hold != nil {
		ans.HeldNext, _ = hold.Int()
	}
	return ans, nil
}

// GiveBack takes a call that never left the process off the window it was
// counted in, in one round trip, unless that window has ended (it is not
// spent again, and a later window must not be given a call it never
// counted) or its count is not the one the call was counted in any more.
func (r *Redis) GiveBack(ctx context.Context, b sources.BudgetReturn) error {
	start := b.Taken.Truncate(b.Window)
	if b.Receipt == "" || !b.Now.Truncate(b.Window).Equal(start) {
		return nil
	}
	return r.health.Do(ctx, func(ctx context.Context) error {
		// Run: EVALSHA, then EVAL when the node does not know the script yet.
		return giveBackScript.Run(ctx, r.client, []string{redis.BudgetWindowKey(b.Workspace, start)}, b.Receipt, callerField(b.Caller)).Err()
	})
}

// callerField is a caller's count in a window's hash, "" for none. Callers
// are hashed: a caller's name may be an API key.
func callerField(caller string) string {
	if caller == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(caller))
	return "c:" + hex.EncodeToString(sum[:8])
}
