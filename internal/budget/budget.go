// Package budget counts a workspace's Intercom calls for the whole fleet in
// Redis, so that N replicas together stay inside one budget (and a caller
// inside one share of it) instead of N times it. Each replica's in-process
// governor (sources/intercom) still decides first and alone decides while
// Redis does not answer.
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

// takeScript: KEYS[1] the workspace's count of the window, KEYS[2] (when
// given) the caller's; ARGV[1] the workspace's budget, ARGV[2] the
// caller's share, ARGV[3] how long the counts live (ms). Both keys carry the
// workspace's hash tag: one slot, never CROSSSLOT. Returns 0 admitted, 1 the
// workspace's window is spent, 2 the caller's share is. A refused call is
// not counted.
var takeScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
if n > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return 1
end
if #KEYS == 2 then
  local m = redis.call('INCR', KEYS[2])
  if m == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
  if m > tonumber(ARGV[2]) then
    redis.call('DECR', KEYS[2])
    redis.call('DECR', KEYS[1])
    return 2
  end
end
return 0
`)

// Take reserves one call of workspace's window that holds now for caller
// ("" for the service's own calls: no share applies). refused is "" when
// admitted, else "workspace" or "caller": whose budget is spent, for wait.
// The error is non-nil when Redis could not tell: the replica's own
// governor decides.
func (r *Redis) Take(ctx context.Context, workspace, caller string, now time.Time, window time.Duration, perWindow, callerShare int) (refused string, wait time.Duration, err error) {
	start := now.Truncate(window)
	wait = start.Add(window).Sub(now)
	prefix := "tdi:v2:" + cache.TenantTag(workspace) + ":budget:" + strconv.FormatInt(start.Unix(), 10)
	keys := []string{prefix}
	if caller != "" {
		// Callers are hashed: a caller's name may be an API key.
		sum := sha256.Sum256([]byte(caller))
		keys = append(keys, prefix+":caller:"+hex.EncodeToString(sum[:8]))
	}
	var v int
	err = r.health.Do(ctx, func(ctx context.Context) error {
		// The counts outlive their window a little, so that a replica
		// whose clock is slightly behind still finds them.
		var err error
		v, err = takeScript.Run(ctx, r.client, keys, perWindow, callerShare, (2 * window).Milliseconds()).Int()
		return err
	})
	if err != nil {
		return "", 0, err
	}
	return [...]string{"", "workspace", "caller"}[min(max(v, 0), 2)], wait, nil
}
