package redis

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// cachePrefix starts every cache key. Its version is bumped whenever the
// encoding of a cached entry or the layout of cache keys changes, so that a
// new release never reads an old release's bytes: a bump only costs a cold
// cache. v2: the workspace became a hash tag. (The stale mark, a prefix in
// front of an entry that an older release reads as a miss, needed none.)
//
// The durable names (idempotency records, budget windows, webhook
// de-duplication, callers' rate buckets, persisted documents, the events
// channels, the call events' stream, dead letters and call states) never
// change, and do not follow it: during a rolling deploy replicas of two
// releases share one Redis, and a record one of them cannot find is lost
// (an action run twice, a budget spent twice over). Each keeps the version
// it was born with, written out in its function; the tests pin each to its
// literal.
const cachePrefix = "tdi:v2:"

// Tag is the Redis Cluster hash tag of every key of a workspace (the
// cache's, idempotency records, budget windows, webhook de-duplication):
// all of them hash to one slot, so a loader batch's MGET, a write-back
// pipeline and any script stay on one node in one round trip and are never
// CROSSSLOT. The cost is that one workspace lives on one master; workspaces
// spread. Nothing before the tag holds a brace, so the tag is always this
// one.
func Tag(workspace string) string { return "{" + workspace + "}" }

// CacheKey is the key of a cached entry of a workspace: kind is what it
// holds ("contact", "phone", ...), id which one. It never contains
// credentials.
func CacheKey(workspace, kind, id string) string {
	return cachePrefix + "{" + workspace + "}:" + kind + ":" + id // Tag, in one allocation: loaders build these per field
}

// IsCacheKeyOf reports whether key is a cache key of workspace (CacheKey's
// form): its slot is the workspace's. A key of another namespace may
// contain the workspace's tag further on, but hashes by its first.
func IsCacheKeyOf(workspace, key string) bool {
	prefix := cachePrefix + "{" + workspace + "}:"
	return strings.HasPrefix(key, prefix)
}

// IdempotencyKey is where the idempotency record of an action run under a
// caller's key lives (durable).
func IdempotencyKey(workspace, action, key string) string {
	return "tdi:v2:" + Tag(workspace) + ":idem:" + action + ":" + key
}

// BudgetWindowKey is the fleet's count of a workspace's Intercom calls in
// the window that starts at start (durable).
func BudgetWindowKey(workspace string, start time.Time) string {
	return "tdi:v2:" + Tag(workspace) + ":budget:" + strconv.FormatInt(start.Unix(), 10)
}

// WebhookKey marks an Intercom notification of a workspace as handled by
// the fleet (durable).
func WebhookKey(workspace, notificationID string) string {
	return "tdi:v2:" + Tag(workspace) + ":webhook:" + notificationID
}

// RateBucketKey is a caller's bucket of the allowance name in a deployment
// (durable), under the caller's own hash tag: callers spread over a
// Cluster's nodes. Callers are hashed: a caller's name may hold an API
// key's hash prefix, and keys stay one length.
func RateBucketKey(name, deployment, caller string) string {
	sum := sha256.Sum256([]byte(deployment + "\x00" + caller))
	return "tdi:v2:{caller:" + hex.EncodeToString(sum[:8]) + "}:rate:" + name
}

// PersistedDocumentKey holds a GraphQL document a client registered under
// its SHA-256 (hex), for every replica (durable).
func PersistedDocumentKey(hash string) string { return "tdi:v1:apq:" + hash }

// PersistedBytesKey counts the bytes of persisted documents the fleet
// stored, by window of their TTL: how their bytes in Redis are bounded
// (durable, as the documents are). One key for the fleet.
const PersistedBytesKey = "tdi:v1:{apq}:bytes"

// EventsChannel carries a workspace's events (durable): one channel per
// workspace, so that a consumer interested in one workspace (a dashboard's
// subscription) need not read the others'.
func EventsChannel(workspace string) string { return eventsPrefix + workspace }

// EventsChannels is the pattern of every workspace's events channel.
const EventsChannels = eventsPrefix + "*"

const eventsPrefix = "tdi:v1:events:"

// CallEventsStream queues a workspace's Talkdesk call events until they are
// applied (durable): a stream read by one consumer group.
func CallEventsStream(workspace string) string {
	return "tdi:v1:" + Tag(workspace) + ":calls:events"
}

// CallEventsDeadLetters lists a workspace's call events that could not be
// applied, each with its reason (durable).
func CallEventsDeadLetters(workspace string) string {
	return "tdi:v1:" + Tag(workspace) + ":calls:dead"
}

// CallsOfContactKey is the calls whose state names one contact (by a
// digest of its id or number: no number in a key), a sorted set scored by
// when each was noted, so that a contact deleted in Intercom is erased from
// the call states (durable).
func CallsOfContactKey(workspace, digest string) string {
	return "tdi:v1:" + Tag(workspace) + ":calls:contact:" + digest
}

// CallStateKey gathers the events of one call until its record is written
// (durable).
func CallStateKey(workspace, callID string) string {
	return "tdi:v1:" + Tag(workspace) + ":calls:state:" + callID
}

// EventLogKey is the stream that keeps a workspace's recent events, so that
// a dashboard that reconnects gets what it missed (durable): under the
// workspace's hash tag, one stream per workspace.
func EventLogKey(workspace string) string { return "tdi:v1:" + Tag(workspace) + ":eventlog" }

// AnswerKey holds a GraphQL answer of a workspace kept by the shared
// response cache (package respcache), under the workspace's hash tag, with
// the versions of the cache keys it was built from: one slot on a Cluster,
// so that a script reads them together. name is the answer's
// key, a SHA-256 (credentials are hashed into it, never kept). Versioned
// with the cache: it names cache keys.
func AnswerKey(workspace string, name []byte) string {
	return cachePrefix + Tag(workspace) + ":answer:" + base64.RawURLEncoding.EncodeToString(name)
}

// AnswerVersionsKey counts, for each cache key of a workspace, the
// invalidations that touched it (and holds the hash's base): what an
// answer the shared response cache keeps is checked against.
func AnswerVersionsKey(workspace string) string {
	return cachePrefix + Tag(workspace) + ":answer-versions"
}

// AnswerBytesKey counts the bytes of answers the shared response cache
// stored, by window of its TTL: how it bounds the bytes it holds in Redis.
// One key for the fleet (its own hash tag).
const AnswerBytesKey = cachePrefix + "{answers}:bytes"
