package callevents

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/redis"
)

// A call's state gathers its events until its record is written: then it
// is frozen, and what comes later is a follow-up. Merging and freezing are
// atomic with each other, so an event is either in the record or followed
// up, never both or neither.
//
// Events of one kind merge field by field: a field an event leaves empty
// never erases another's, and where two events of a kind give one field
// two values, the event whose own time (the latest of its ended_at,
// answered_at, started_at) is later wins, and between events of the same
// time (or none) the greater value in byte order: the same outcome
// whatever the order they arrive in.
//
// What arrives after the freeze gathers the same way in a late
// generation, kind aside, until a settle window after it began: then the
// generation closes and becomes one follow-up, and what comes later opens
// the next.
//
// The state is a flat record of strings (a Redis hash, or a map in
// process): "<kind>.<field>" is the winning value of a field, prefixed by
// its event's rank; "late.<n>.<field>" the same in late generation n;
// "late" the open generation (1 when absent); "seen:<digest>" marks an
// event merged, with where (0: the record, n: generation n), so that a
// repeat is known; "frozen" marks the record written; "contact" the
// contact the call is of (its name, see contactName), once known;
// "written.<what>" what of the record Intercom has (see written).
//
// Erasing a call (its contact was deleted) leaves a tombstone in place of
// its state, for the state's time to live: "frozen" and "erased", no
// personal data. Every event of the call then has no effect (errErased):
// a late one must not re-create the deleted contact as a lead.
type stateStore interface {
	// merge adds e to its call's state: to the record unless it is
	// frozen, else to the open late generation. late is where e is: 0 for
	// the record (merged now or before the freeze), n for generation n.
	// errErased when the call was erased.
	merge(ctx context.Context, ws string, e Event) (frozen bool, late int, err error)
	// freeze freezes the call's state (if it was not) and returns its
	// record: the same events every time once frozen. errErased when the
	// call was erased.
	freeze(ctx context.Context, ws, callID string) (record, error)
	// closeLate closes late generation n (if it is open) and returns the
	// record and what generation n gathered: the same every time once
	// closed. errErased when the call was erased.
	closeLate(ctx context.Context, ws, callID string, n int) (record, Event, error)
	// mark notes what of the record Intercom has (written's fields, by
	// name and value), unless the call was erased.
	mark(ctx context.Context, ws, callID string, fields ...string) error
	// name notes the call under each of names (see contactName), for as
	// long as a state is kept, and, when contact is not empty, as the
	// call of that contact (a name).
	name(ctx context.Context, ws, callID, contact string, names []string) error
	// forget erases the calls noted under any of ids (contacts' ids'
	// names), and those noted under any of phones (numbers' names) that
	// are of no contact, or of one of ids: another contact with the
	// number keeps its calls.
	forget(ctx context.Context, ws string, ids, phones []string) error
}

// record is a frozen call's events by kind, and what of it is written.
type record struct {
	events  map[string]Event
	written written
}

// written is what Intercom has of a call's record, kept with its state:
// the idempotency records of its effects last a day, its state two, and
// a late event in between must not write the call or open its ticket
// again.
type written struct {
	record    bool   // the call record on the contact
	ticketID  string // the callback ticket
	ticketRef string // its reference, as people quote it
	followUps map[int]bool
}

const writtenPrefix = "written."

// Fields of written in the state.
const (
	writtenRecord    = writtenPrefix + "record"
	writtenTicketID  = writtenPrefix + "ticket_id"
	writtenTicketRef = writtenPrefix + "ticket_ref"
	writtenFollowUp  = writtenPrefix + "follow_up."
)

func writtenOf(fields map[string]string) written {
	w := written{record: fields[writtenRecord] != "", ticketID: fields[writtenTicketID], ticketRef: fields[writtenTicketRef], followUps: map[int]bool{}}
	for k := range fields {
		if n, ok := strings.CutPrefix(k, writtenFollowUp); ok {
			if i, err := strconv.Atoi(n); err == nil {
				w.followUps[i] = true
			}
		}
	}
	return w
}

func recordOf(callID string, fields map[string]string) (record, error) {
	events, err := eventsOf(callID, fields)
	return record{events: events, written: writtenOf(fields)}, err
}

// errErased: the call was erased with its contact; its events have no
// effect.
var errErased = errors.New("call state: erased with its contact")

// contactName is how a call's state is noted under a contact: a digest of
// its id or number, never the number itself.
func contactName(kind, v string) string {
	sum := sha256.Sum256([]byte(kind + ":" + v))
	return hex.EncodeToString(sum[:12])
}

// stateTTL is how long a call's state is kept after its last event: longer
// than any retry (CALL_EVENTS_RETRY_FOR is at most a day), so that a late
// event still finds its call frozen.
const stateTTL = 48 * time.Hour

const (
	frozenField  = "frozen"
	erasedField  = "erased"
	contactField = "contact"
)

// slot is one field of an event in the state, and its ranked value.
type slot struct{ name, value string }

// slots are e's non-empty fields as the state keeps them (without the
// kind's or generation's prefix): each value prefixed by e's rank, so that
// comparing two in byte order applies the rule above. The call id is
// always one: it marks the kind as come.
func slots(e Event) []slot {
	rank := fmt.Sprintf("%020d|", e.time())
	var out []slot
	for _, f := range e.stringFields() {
		if f.name != "event" && *f.dst != "" {
			out = append(out, slot{f.name, rank + *f.dst})
		}
	}
	if e.DurationSeconds != nil {
		out = append(out, slot{"duration_seconds", rank + strconv.Itoa(*e.DurationSeconds)})
	}
	return out
}

// time is the event's own time, in nanoseconds since 1970 (0 without one):
// the latest it gives.
func (e Event) time() int64 {
	var latest int64
	for _, v := range []string{e.StartedAt, e.AnsweredAt, e.EndedAt} {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			latest = max(latest, t.UnixNano())
		}
	}
	return latest
}

// seenField marks e merged: a digest of the whole event, so that only a
// repeat of it is known.
func seenField(e Event) string {
	b, _ := json.Marshal(e)
	sum := sha256.Sum256(b)
	return "seen:" + hex.EncodeToString(sum[:12])
}

// marker is the slot that says an event of kind came.
func marker(kind string) string { return kind + ".call_id" }

// lostTerminal says whether e, arriving at a frozen state, stands for the
// event that ends the call and that the state lost (a Redis failover took
// a merge that had not reached a replica): it is merged into the record
// (which finish writes with it, once). A state written before events were
// merged field by field has the terminal event under its bare kind.
func lostTerminal(e Event, has func(field string) bool) bool {
	if !terminal(e.Event) {
		return false
	}
	for _, f := range terminalMarkers {
		if has(f) {
			return false
		}
	}
	return true
}

// terminalMarkers are the fields that say an event that ends a call came:
// its kind's marker, or its bare kind (the format before fields were
// merged).
var terminalMarkers = func() []string {
	var out []string
	for _, k := range kinds {
		if terminal(k) {
			out = append(out, marker(k), k)
		}
	}
	return out
}()

// setField sets e's field name from a ranked value.
func setField(e *Event, name, ranked string) error {
	_, v, _ := strings.Cut(ranked, "|")
	if name == "duration_seconds" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("call state: duration_seconds %q", v)
		}
		e.DurationSeconds = &n
	}
	for _, f := range e.stringFields() {
		if f.name == name {
			*f.dst = v
		}
	}
	return nil
}

// eventsOf reads a state's record back into its events by kind. A field of
// the format before fields were merged (the kind, the event as JSON) is
// read too, beneath the merged ones: a call in flight across an upgrade.
func eventsOf(callID string, fields map[string]string) (map[string]Event, error) {
	events := map[string]Event{}
	for k, v := range fields {
		kind, name, ok := strings.Cut(k, ".")
		if !ok || !known(kind) {
			continue
		}
		e := events[kind]
		e.Event, e.CallID = kind, callID
		if err := setField(&e, name, v); err != nil {
			return nil, err
		}
		events[kind] = e
	}
	for kind, v := range fields {
		if !known(kind) {
			continue
		}
		var old Event
		if err := json.Unmarshal([]byte(v), &old); err != nil {
			return nil, err
		}
		e, ok := events[kind]
		if !ok {
			events[kind] = old
			continue
		}
		dst, src := e.stringFields(), old.stringFields()
		for i := range dst {
			if *dst[i].dst == "" {
				*dst[i].dst = *src[i].dst
			}
		}
		if e.DurationSeconds == nil {
			e.DurationSeconds = old.DurationSeconds
		}
		events[kind] = e
	}
	return events, nil
}

// lateOf reads what late generation n gathered.
func lateOf(callID string, fields map[string]string, n int) (Event, error) {
	e := Event{CallID: callID}
	prefix := latePrefix(n)
	for k, v := range fields {
		if name, ok := strings.CutPrefix(k, prefix); ok {
			if err := setField(&e, name, v); err != nil {
				return e, err
			}
		}
	}
	return e, nil
}

func latePrefix(n int) string { return "late." + strconv.Itoa(n) + "." }

// mergeScript: KEYS[1] the state; ARGV[1] its TTL in seconds, ARGV[2] the
// event's seen field, ARGV[3] "1" when the event ends a call, ARGV[4] its
// kind, ARGV[5] the number n of terminal kinds' markers that follow, then
// the slots (name, value). Returns {frozen, late}. Values are compared
// byte by byte (Lua's < follows the server's locale), equal ones at once
// (a value may be 64 KB long).
var mergeScript = goredis.NewScript(`
local function after(a, b)
  if a == b then return false end
  for k = 1, math.min(#a, #b) do
    local x, y = string.byte(a, k), string.byte(b, k)
    if x ~= y then return x > y end
  end
  return #a > #b
end
local key = KEYS[1]
if redis.call('HEXISTS', key, 'erased') == 1 then return {1, 0, 1} end
local frozen = redis.call('HEXISTS', key, 'frozen')
local seen = redis.call('HGET', key, ARGV[2])
if seen then
  redis.call('EXPIRE', key, ARGV[1])
  return {frozen, tonumber(seen), 0}
end
local n = tonumber(ARGV[5])
local prefix, late = ARGV[4] .. '.', 0
if frozen == 1 then
  local lost = ARGV[3] == '1'
  for j = 6, 5 + n do
    if lost and redis.call('HEXISTS', key, ARGV[j]) == 1 then lost = false end
  end
  if not lost then
    late = tonumber(redis.call('HGET', key, 'late') or '1')
    prefix = 'late.' .. late .. '.'
  end
end
for j = 6 + n, #ARGV, 2 do
  local f = prefix .. ARGV[j]
  local cur = redis.call('HGET', key, f)
  if not cur or after(ARGV[j + 1], cur) then redis.call('HSET', key, f, ARGV[j + 1]) end
end
redis.call('HSET', key, ARGV[2], late)
redis.call('EXPIRE', key, ARGV[1])
return {frozen, late, 0}`)

// freezeScript: KEYS[1] the state, ARGV[1] its TTL in seconds. A
// tombstone answers only its mark.
var freezeScript = goredis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 'erased') == 1 then return {'erased', '1'} end
redis.call('HSETNX', KEYS[1], 'frozen', '1')
redis.call('EXPIRE', KEYS[1], ARGV[1])
return redis.call('HGETALL', KEYS[1])`)

// closeLateScript: KEYS[1] the state, ARGV[1] its TTL in seconds, ARGV[2]
// the generation to close.
var closeLateScript = goredis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 'erased') == 1 then return {'erased', '1'} end
local open = tonumber(redis.call('HGET', KEYS[1], 'late') or '1')
if open == tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], 'late', open + 1) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return redis.call('HGETALL', KEYS[1])`)

// redisState keeps each call's state in a hash of its workspace (durable).
type redisState struct {
	client  goredis.UniversalClient
	timeout time.Duration
}

func (s redisState) merge(ctx context.Context, ws string, e Event) (bool, int, error) {
	args := []any{int(stateTTL.Seconds()), seenField(e), 0, e.Event}
	if terminal(e.Event) {
		args[2] = 1
	}
	args = append(args, len(terminalMarkers))
	for _, m := range terminalMarkers {
		args = append(args, m)
	}
	for _, sl := range slots(e) {
		args = append(args, sl.name, sl.value)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	res, err := mergeScript.Run(ctx, s.client, []string{redis.CallStateKey(ws, e.CallID)}, args...).Int64Slice()
	if err != nil {
		return false, 0, err
	}
	if len(res) != 3 {
		return false, 0, fmt.Errorf("call state: unexpected answer %v", res)
	}
	if res[2] == 1 {
		return true, 0, errErased
	}
	return res[0] == 1, int(res[1]), nil
}

// all runs a script that answers the state's fields (HGETALL).
func (s redisState) all(ctx context.Context, script *goredis.Script, ws, callID string, args ...any) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	list, err := script.Run(ctx, s.client, []string{redis.CallStateKey(ws, callID)}, args...).StringSlice()
	if err != nil {
		return nil, err
	}
	fields := make(map[string]string, len(list)/2)
	for i := 0; i+1 < len(list); i += 2 {
		fields[list[i]] = list[i+1]
	}
	if fields[erasedField] != "" {
		return nil, errErased
	}
	return fields, nil
}

func (s redisState) freeze(ctx context.Context, ws, callID string) (record, error) {
	fields, err := s.all(ctx, freezeScript, ws, callID, int(stateTTL.Seconds()))
	if err != nil {
		return record{}, err
	}
	return recordOf(callID, fields)
}

func (s redisState) closeLate(ctx context.Context, ws, callID string, n int) (record, Event, error) {
	fields, err := s.all(ctx, closeLateScript, ws, callID, int(stateTTL.Seconds()), n)
	if err != nil {
		return record{}, Event{}, err
	}
	return recordAndLate(callID, fields, n)
}

// markScript: KEYS[1] the state; ARGV the fields (name, value) to set. A
// state gone or erased is left as it is.
var markScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'erased') == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1`)

func (s redisState) mark(ctx context.Context, ws, callID string, fields ...string) error {
	args := make([]any, len(fields))
	for i, f := range fields {
		args[i] = f
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return markScript.Run(ctx, s.client, []string{redis.CallStateKey(ws, callID)}, args...).Err()
}

// A contact's calls are a sorted set of call ids scored by when each was
// last noted (milliseconds): what is older than a state's TTL names no
// state any more and goes as the set is written, so that the set of a
// number that calls all the time stays bounded. toSorted makes a set
// written before the calls were scored (a plain set) a sorted one.
const toSorted = `
local function toSorted(k, now)
  if redis.call('TYPE', k).ok ~= 'set' then return end
  local ids = redis.call('SMEMBERS', k)
  redis.call('DEL', k)
  for _, id in ipairs(ids) do redis.call('ZADD', k, now, id) end
end
`

// nameScript: KEYS[1] the state, then the contact sets; ARGV[1] their
// TTL in seconds, ARGV[2] the call id, ARGV[3] the contact the call is of
// ("" when not known), ARGV[4] the time now in milliseconds. A tombstone
// is left as it is.
var nameScript = goredis.NewScript(toSorted + `
local now, ttl = tonumber(ARGV[4]), tonumber(ARGV[1])
if ARGV[3] ~= '' and redis.call('EXISTS', KEYS[1]) == 1 and redis.call('HEXISTS', KEYS[1], 'erased') == 0 then
  redis.call('HSET', KEYS[1], 'contact', ARGV[3])
end
for i = 2, #KEYS do
  toSorted(KEYS[i], now)
  redis.call('ZADD', KEYS[i], now, ARGV[2])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. (now - ttl * 1000))
  redis.call('EXPIRE', KEYS[i], ttl)
end
return 0`)

// forgetScript: KEYS the contact sets, first the n of contacts' ids, then
// those of numbers; ARGV[1] the prefix of the states' keys, ARGV[2] n,
// ARGV[3] the states' TTL in seconds, ARGV[4] the time now in
// milliseconds, then the ids' names. Each erased
// call becomes a tombstone that keeps what was left of its time to live.
// The states' keys are built here: they share the sets' hash tag.
var forgetScript = goredis.NewScript(toSorted + `
local prefix, n = ARGV[1], tonumber(ARGV[2])
local ids = {}
for j = 5, #ARGV do ids[ARGV[j]] = true end
local function erase(key)
  local ttl = redis.call('PTTL', key)
  if ttl == -2 then return end
  redis.call('DEL', key)
  redis.call('HSET', key, 'frozen', '1', 'erased', '1')
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) else redis.call('EXPIRE', key, ARGV[3]) end
end
for i = 1, #KEYS do
  toSorted(KEYS[i], ARGV[4])
  for _, id in ipairs(redis.call('ZRANGE', KEYS[i], 0, -1)) do
    local key = prefix .. id
    local of = redis.call('HGET', key, 'contact')
    if i <= n or not of or ids[of] then
      erase(key)
      redis.call('ZREM', KEYS[i], id)
    end
  end
end
return 0`)

func (s redisState) name(ctx context.Context, ws, callID, contact string, names []string) error {
	if len(names) == 0 && contact == "" {
		return nil
	}
	keys := []string{redis.CallStateKey(ws, callID)}
	for _, n := range names {
		keys = append(keys, redis.CallsOfContactKey(ws, n))
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return nameScript.Run(ctx, s.client, keys, int(stateTTL.Seconds()), callID, contact, time.Now().UnixMilli()).Err()
}

func (s redisState) forget(ctx context.Context, ws string, ids, phones []string) error {
	var keys []string
	for _, n := range append(append([]string{}, ids...), phones...) {
		keys = append(keys, redis.CallsOfContactKey(ws, n))
	}
	if len(keys) == 0 {
		return nil
	}
	args := []any{redis.CallStateKey(ws, ""), len(ids), int(stateTTL.Seconds()), time.Now().UnixMilli()}
	for _, id := range ids {
		args = append(args, id)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return forgetScript.Run(ctx, s.client, keys, args...).Err()
}

func recordAndLate(callID string, fields map[string]string, n int) (record, Event, error) {
	rec, err := recordOf(callID, fields)
	if err != nil {
		return record{}, Event{}, err
	}
	late, err := lateOf(callID, fields, n)
	return rec, late, err
}

// memoryState is the state in process (without Redis), swept of calls
// untouched for stateTTL: the same record as in Redis, merged the same way.
type memoryState struct {
	mu    sync.Mutex
	calls map[string]*memoryCall
	swept time.Time
	// named notes calls by workspace and contact name: call ids.
	named map[string]map[string]bool
}

type memoryCall struct {
	fields  map[string]string
	touched time.Time
}

func newMemoryState() *memoryState {
	return &memoryState{calls: map[string]*memoryCall{}, named: map[string]map[string]bool{}}
}

func (s *memoryState) call(ws, callID string) *memoryCall {
	now := time.Now()
	if now.Sub(s.swept) > time.Minute {
		for k, c := range s.calls {
			if now.Sub(c.touched) > stateTTL {
				delete(s.calls, k)
			}
		}
		for k, calls := range s.named {
			ws, _, _ := strings.Cut(k, "\x00")
			for id := range calls {
				if s.calls[ws+"\x00"+id] == nil {
					delete(calls, id)
				}
			}
			if len(calls) == 0 {
				delete(s.named, k)
			}
		}
		s.swept = now
	}
	k := ws + "\x00" + callID
	c := s.calls[k]
	if c == nil {
		c = &memoryCall{fields: map[string]string{}}
		s.calls[k] = c
	}
	if !c.erased() {
		c.touched = now // a tombstone keeps its time to live
	}
	return c
}

func (c *memoryCall) erased() bool { return c.fields[erasedField] != "" }

func (s *memoryState) merge(_ context.Context, ws string, e Event) (bool, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.call(ws, e.CallID)
	if c.erased() {
		return true, 0, errErased
	}
	has := func(f string) bool { _, ok := c.fields[f]; return ok }
	frozen, seen := has(frozenField), seenField(e)
	if at, ok := c.fields[seen]; ok {
		n, _ := strconv.Atoi(at)
		return frozen, n, nil
	}
	prefix, late := e.Event+".", 0
	if frozen && !lostTerminal(e, has) {
		late = c.openLate()
		prefix = latePrefix(late)
	}
	for _, sl := range slots(e) {
		if cur, ok := c.fields[prefix+sl.name]; !ok || sl.value > cur {
			c.fields[prefix+sl.name] = sl.value
		}
	}
	c.fields[seen] = strconv.Itoa(late)
	return frozen, late, nil
}

func (c *memoryCall) openLate() int {
	if n, err := strconv.Atoi(c.fields["late"]); err == nil {
		return n
	}
	return 1
}

func (s *memoryState) freeze(_ context.Context, ws, callID string) (record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.call(ws, callID)
	if c.erased() {
		return record{}, errErased
	}
	c.fields[frozenField] = "1"
	return recordOf(callID, c.fields)
}

func (s *memoryState) mark(_ context.Context, ws, callID string, fields ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls[ws+"\x00"+callID]
	if c == nil || c.erased() {
		return nil
	}
	for i := 0; i+1 < len(fields); i += 2 {
		c.fields[fields[i]] = fields[i+1]
	}
	return nil
}

func (s *memoryState) closeLate(_ context.Context, ws, callID string, n int) (record, Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.call(ws, callID)
	if c.erased() {
		return record{}, Event{}, errErased
	}
	if c.openLate() == n {
		c.fields["late"] = strconv.Itoa(n + 1)
	}
	return recordAndLate(callID, c.fields, n)
}

func (s *memoryState) name(_ context.Context, ws, callID, contact string, names []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.calls[ws+"\x00"+callID]; c != nil && contact != "" && !c.erased() {
		c.fields[contactField] = contact
	}
	for _, n := range names {
		k := ws + "\x00" + n
		if s.named[k] == nil {
			s.named[k] = map[string]bool{}
		}
		s.named[k][callID] = true
	}
	return nil
}

func (s *memoryState) forget(_ context.Context, ws string, ids, phones []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	isID := map[string]bool{}
	for _, n := range ids {
		isID[n] = true
	}
	for _, n := range append(append([]string{}, ids...), phones...) {
		k := ws + "\x00" + n
		for id := range s.named[k] {
			c := s.calls[ws+"\x00"+id]
			if c == nil {
				delete(s.named[k], id)
				continue
			}
			if of := c.fields[contactField]; isID[n] || of == "" || isID[of] {
				c.fields = map[string]string{frozenField: "1", erasedField: "1"}
				delete(s.named[k], id)
			}
		}
		if len(s.named[k]) == 0 {
			delete(s.named, k)
		}
	}
	return nil
}
