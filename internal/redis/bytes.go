package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ReserveBytes counts size more bytes under counter, a hash of windows of
// Redis' clock each as long as ttl, unless this window's and the last one's
// would pass maxBytes; it reports whether they were counted. A value stored
// for at most ttl after its bytes were counted is then held by Redis only
// while those two windows count it, so what they count bounds what Redis
// holds for the fleet (values dropped early still count until their window
// passes: the bound errs on the safe side). Older windows are forgotten, so
// the count never drifts.
func ReserveBytes(ctx context.Context, client goredis.Scripter, counter string, size int64, ttl time.Duration, maxBytes int64) (bool, error) {
	n, err := reserveScript.Run(ctx, client, []string{counter}, size, ttl.Milliseconds(), maxBytes).Int64()
	return n == 1, err
}

// reserveScript is ReserveBytes: KEYS[1] the counter; ARGV the size, the
// window in ms, the bound.
var reserveScript = goredis.NewScript(`
local t = redis.call('TIME')
local w = math.floor((tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) / tonumber(ARGV[2]))
local used = tonumber(redis.call('HGET', KEYS[1], w) or '0') + tonumber(redis.call('HGET', KEYS[1], w - 1) or '0')
if used + tonumber(ARGV[1]) > tonumber(ARGV[3]) then return 0 end
redis.call('HINCRBY', KEYS[1], w, ARGV[1])
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if tonumber(f) < w - 1 then redis.call('HDEL', KEYS[1], f) end
end
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
return 1
`)
