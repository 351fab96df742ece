// Package budget counts a workspace's Intercom calls for the whole fleet in
// Redis, so that N replicas together stay inside one budget (and a caller
// inside one share of it) instead of N times it. Each replica's in-process
// governor (sources/intercom) still decides first.
//
// While Redis fails over, no replica can count with the others. So that the
// fleet still never goes over, a replica sets aside ("holds") some calls of
// the next window while Redis answers: they are counted already, and it
// spends them alone when the fleet's window is spent or Redis is away.
package budget

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/cache"
)

// Redis is the fleet's count of calls by fixed windows aligned to the wall
// clock (every replica's window is the same one).
type Redis struct {
	client redis.UniversalClient
	health *cache.RedisHealth
}

// New counts in client, each call bounded by health's timeout (REDIS_TIMEOUT)
// and skipped at once while health knows Redis away: one watch for every
// Redis user, so that a request pays at most one timeout when Redis dies.
func New(client redis.UniversalClient, health *cache.RedisHealth) *Redis {
	return &Redis{client: client, health: health}
}

// AwaySince is when Redis stopped answering, zero while it answers.
func (r *Redis) AwaySince() time.Time { return r.health.AwaySince() }

// Ask is one call's question to the fleet's count.
type Ask struct {
	Workspace string
	// Caller is who the call is for ("" for the service's own calls: no
	// share applies to them).
	Caller      string
	Now         time.Time
	Window      time.Duration
	PerWindow   int // the workspace's budget of a window
	CallerShare int // the most calls of a window one caller may make
	// HoldNext is how many more calls of the next window to set aside for
	// the asking replica alone.
	HoldNext int
	// Uncounted are calls the replica made before it could ask (before it
	// knew the workspace): counted in this window, whatever the answer.
	Uncounted int
}

// Answer is the fleet's word on one call.
type Answer struct {
	// Refused is "" when the call is admitted, else whose budget is spent:
	// "workspace" or "caller".
	Refused string
	Wait    time.Duration // until the window ends
	// HeldNext calls of the next window were set aside for the replica
	// (at most Ask.HoldNext; fewer when the next window is nearly spent).
	HeldNext int
}

// takeScript: KEYS[1] the workspace's count of the window, KEYS[2] of the
// next window, KEYS[3] (when given) the caller's count of the window;
// ARGV[1] the workspace's budget, ARGV[2] the caller's share, ARGV[3] how
// long counts live (ms), ARGV[4] the calls of the next window to hold,
// ARGV[5] calls already made, to count first.
// Every key carries the workspace's hash tag: one slot, never CROSSSLOT.
// Returns {verdict, held}: verdict 0 admitted, 1 the workspace's window is
// spent (held calls count), 2 the caller's share is. A refused call is not
// counted.
var takeScript = redis.NewScript(`
local budget = tonumber(ARGV[1])
local function add(key, n)
  if redis.call('INCRBY', key, n) == n then redis.call('PEXPIRE', key, ARGV[3]) end
end
if tonumber(ARGV[5]) > 0 then add(KEYS[1], tonumber(ARGV[5])) end
local verdict = 0
if tonumber(redis.call('GET', KEYS[1]) or '0') >= budget then
  verdict = 1
elseif #KEYS == 3 then
  if tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[2]) then
    verdict = 2
  else
    add(KEYS[3], 1)
  end
end
if verdict == 0 then add(KEYS[1], 1) end
local held = 0
local want = tonumber(ARGV[4])
if want > 0 then
  held = math.max(0, math.min(want, budget - tonumber(redis.call('GET', KEYS[2]) or '0')))
  if held > 0 then add(KEYS[2], held) end
end
return {verdict, held}
`)

// Take asks the fleet for one call of the window that holds a.Now. The
// error is non-nil when Redis could not tell: the replica decides alone.
func (r *Redis) Take(ctx context.Context, a Ask) (Answer, error) {
	start := a.Now.Truncate(a.Window)
	ans := Answer{Wait: start.Add(a.Window).Sub(a.Now)}
	keys := []string{windowKey(a.Workspace, start), windowKey(a.Workspace, start.Add(a.Window))}
	if a.Caller != "" {
		// Callers are hashed: a caller's name may be an API key.
		sum := sha256.Sum256([]byte(a.Caller))
		keys = append(keys, keys[0]+":caller:"+hex.EncodeToString(sum[:8]))
	}
	var v []int64
	err := r.health.Do(ctx, func(ctx context.Context) error {
		// The counts outlive their window a little, so that a replica
		// whose clock is slightly behind still finds them.
		var err error
		v, err = takeScript.Run(ctx, r.client, keys, a.PerWindow, a.CallerShare, (3 * a.Window).Milliseconds(), max(a.HoldNext, 0), max(a.Uncounted, 0)).Int64Slice()
		return err
	})
	if err != nil {
		return Answer{}, err
	}
	if len(v) == 2 {
		ans.Refused = [...]string{"", "workspace", "caller"}[min(max(v[0], 0), 2)]
		ans.HeldNext = int(v[1])
	}
	return ans, nil
}

func windowKey(workspace string, start time.Time) string {
	return "tdi:v2:" + cache.TenantTag(workspace) + ":budget:" + strconv.FormatInt(start.Unix(), 10)
}
