package respcache

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
)

// direct runs Redis calls as they come (no health watch).
type direct struct{}

func (direct) Do(ctx context.Context, fn func(ctx context.Context) error) error { return fn(ctx) }

// sharedOn is a shared level on a real Redis, and a workspace of its own
// whose entity entries hold values (key: bytes).
func sharedOn(t *testing.T, values map[string]string) (*Shared, goredis.UniversalClient, string, []string, map[string][]byte) {
	t.Helper()
	client := goredis.NewClient(&goredis.Options{Addr: redistest.Addr(t)})
	t.Cleanup(func() { client.Close() })
	ws := fmt.Sprintf("shared-%d", time.Now().UnixNano())
	var deps []string
	raw := map[string][]byte{}
	for id, v := range values {
		k := redis.CacheKey(ws, "contact", id)
		if err := client.Set(context.Background(), k, v, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		deps = append(deps, k)
		raw[k] = []byte(v)
	}
	return NewShared(SharedConfig{Client: client, Calls: direct{}, MaxBytes: 1 << 20, TTL: time.Minute}), client, ws, deps, raw
}

// An answer stored by one replica is an answer for every replica until an
// invalidation counts against a value it was built from; one built from a
// value Redis no longer holds (a replica's in-process copy its event has
// not reached yet) is never stored.
func TestSharedAnswersFollowTheirValues(t *testing.T) {
	ctx := context.Background()
	s, client, ws, deps, raw := sharedOn(t, map[string]string{"1": `1{"v":"Ana"}`, "2": `1{"v":"Bo"}`})
	a := newAnswer("answer-1", deps...)
	if got := s.put(ctx, ws, a, raw, time.Minute); got != "stored" {
		t.Fatalf("put: %s", got)
	}
	if got := s.get(ctx, ws, "answer-1"); got == nil || string(got.body) != string(a.body) {
		t.Fatalf("get: %+v", got)
	}

	// A value the request used that Redis no longer holds.
	stale := map[string][]byte{deps[0]: []byte(`1{"v":"old"}`), deps[1]: raw[deps[1]]}
	if got := s.put(ctx, ws, newAnswer("answer-2", deps...), stale, time.Minute); got != "not_stored" {
		t.Errorf("an answer built from a replaced value: %s", got)
	}

	// An invalidation of another key leaves it; of one of its keys, drops it.
	s.bump(ctx, ws, []string{redis.CacheKey(ws, "contact", "other")})
	if s.get(ctx, ws, "answer-1") == nil {
		t.Error("an invalidation of another key dropped the answer")
	}
	s.bump(ctx, ws, []string{deps[1]})
	if s.get(ctx, ws, "answer-1") != nil {
		t.Error("the answer is served after a value it was built from was invalidated")
	}
	if n, _ := client.Exists(ctx, redis.AnswerKey(ws, []byte("answer-1"))).Result(); n != 0 {
		t.Error("the invalidated answer is still in Redis")
	}
}

// An invalidation between the read of an answer's values and its store
// (one that overtook the execution) keeps it out.
func TestSharedAnswerOvertakenByAnInvalidationIsNotStored(t *testing.T) {
	ctx := context.Background()
	s, client, ws, deps, _ := sharedOn(t, map[string]string{"1": `1{"v":"Ana"}`})
	versions := redis.AnswerVersionsKey(ws)
	client.HSetNX(ctx, versions, "_", "base")
	vals, _ := client.HMGet(ctx, versions, "_", deps[0]).Result()
	parts := []string{}
	for _, v := range vals {
		str, _ := v.(string)
		parts = append(parts, str)
	}
	sum := sha1.Sum([]byte(strings.Join(parts, ",")))
	s.bump(ctx, ws, deps) // overtakes
	ok, err := putScript.Run(ctx, client, []string{redis.AnswerKey(ws, []byte("late")), versions},
		"{}", `"e"`, "application/json", deps[0], hex.EncodeToString(sum[:]), 60000).Int64()
	if err != nil || ok != 0 {
		t.Errorf("an answer whose values were invalidated after they were read was stored (%d, %v)", ok, err)
	}
}

// A versions hash that is lost (evicted, expired, forgotten past its
// bound) takes its workspace's answers with it: none comes back.
func TestSharedAnswersGoWithTheirVersions(t *testing.T) {
	ctx := context.Background()
	s, client, ws, deps, raw := sharedOn(t, map[string]string{"1": `1{"v":"Ana"}`})
	if got := s.put(ctx, ws, newAnswer("answer-1", deps...), raw, time.Minute); got != "stored" {
		t.Fatalf("put: %s", got)
	}
	client.Del(ctx, redis.AnswerVersionsKey(ws))
	s.bump(ctx, ws, deps) // recreates the hash, without the old base
	client.HIncrBy(ctx, redis.AnswerVersionsKey(ws), deps[0], -1)
	if s.get(ctx, ws, "answer-1") != nil {
		t.Error("an answer outlived its workspace's versions")
	}

	// Past its bound the hash is forgotten.
	if got := s.put(ctx, ws, newAnswer("answer-2", deps...), raw, time.Minute); got != "stored" {
		t.Fatalf("put: %s", got)
	}
	many := make([]string, 0, s.maxVersions()+1)
	for i := range s.maxVersions() + 1 {
		many = append(many, redis.CacheKey(ws, "phone", fmt.Sprint(i)))
	}
	s.bump(ctx, ws, many)
	s.bump(ctx, ws, many[:1])
	if n, _ := client.HLen(ctx, redis.AnswerVersionsKey(ws)).Result(); n > s.maxVersions()+1 {
		t.Errorf("the versions hash holds %d keys, bound %d", n, s.maxVersions())
	}
	if s.get(ctx, ws, "answer-2") != nil {
		t.Error("an answer outlived its forgotten versions")
	}
}
