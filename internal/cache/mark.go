package cache

import (
	"bytes"
	"strconv"
	"time"
)

// An invalidation marks entries stale rather than deleting them: the value
// stays, no longer fresh, so that a read that cannot reach Intercom still
// has the last-known card to answer with. The mark is a prefix of the
// stored bytes, "s<Unix ms>;", in front of the entry as it was written:
// Redis can add it in a script without decoding the entry, a release that
// does not know it reads a miss, and the first mark is kept (a second
// invalidation does not make the value look younger).

// staleMark starts a marked entry.
const staleMark = 's'

// negativeSuffix ends an encoded negative entry (entry's last field).
var negativeSuffix = []byte(`,"n":true}`)

// Invalidation is what an invalidation does to a store's entries.
type Invalidation struct {
	// Stale are keys whose values are old but not wrong: each is marked
	// stale as of At and kept at most Keep longer (never longer than it
	// was to be kept). A negative entry is deleted: "nobody" is worth
	// nothing once a change may have made it somebody.
	Stale []string
	// Gone are keys whose values a change made wrong (a deleted contact, a
	// phone it no longer has): they are deleted.
	Gone []string
	At   time.Time
	Keep time.Duration
}

// markStale is b marked stale since at; keep is false for bytes not worth
// keeping stale (a negative entry, an encoding it does not know). A value
// already marked is returned as it is.
func markStale(b []byte, at time.Time) (marked []byte, keep bool) {
	switch {
	case isMarked(b):
		return b, true
	case len(b) > 1 && b[0] == encodingVersion && !bytes.HasSuffix(b, negativeSuffix):
		out := make([]byte, 0, len(b)+16)
		out = append(out, staleMark)
		out = strconv.AppendInt(out, at.UnixMilli(), 10)
		out = append(out, ';')
		return append(out, b...), true
	}
	return nil, false
}

// isMarked reports whether b is a value marked stale.
func isMarked(b []byte) bool { return len(b) > 0 && b[0] == staleMark }

// unmark splits a stored value into the time it was marked stale (Unix ms,
// 0 when it was not) and the entry's bytes.
func unmark(b []byte) (staleSince int64, rest []byte) {
	if len(b) == 0 || b[0] != staleMark {
		return 0, b
	}
	i := bytes.IndexByte(b, ';')
	if i < 0 {
		return 0, nil
	}
	at, err := strconv.ParseInt(string(b[1:i]), 10, 64)
	if err != nil || at <= 0 {
		return 0, nil
	}
	return at, b[i+1:]
}

// markScript is markStale and a DEL in Redis, for every key of one
// invalidation in one round trip. All the keys are one workspace's, under
// its hash tag: one slot, so a Cluster runs it on one node.
//
// KEYS: the keys to mark stale, then the keys to delete.
// ARGV: how many KEYS are to be marked, the mark ("s<ms>;"), the most
// milliseconds a marked entry is kept.
const markScript = `
local n = tonumber(ARGV[1])
local keep = tonumber(ARGV[3])
for i = 1, n do
  local v = redis.call('GET', KEYS[i])
  if v then
    local first = string.sub(v, 1, 1)
    if first == '1' and string.sub(v, -10) ~= ',"n":true}' then
      local ttl = redis.call('PTTL', KEYS[i])
      if ttl < 0 or ttl > keep then ttl = keep end
      if ttl > 0 then
        redis.call('SET', KEYS[i], ARGV[2] .. v, 'PX', ttl)
      else
        redis.call('DEL', KEYS[i])
      end
    elseif first ~= 's' then
      redis.call('DEL', KEYS[i])
    end
  end
end
for i = n + 1, #KEYS do
  redis.call('DEL', KEYS[i])
end
return #KEYS
`
