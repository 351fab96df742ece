package respcache

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/events"
)

// epochsOf is what an execution of workspace starting now would note.
func (c *Cache) epochsOf(workspace string) epochs {
	return epochs{own: c.epochOf(workspace).Load(), all: c.all.Load()}
}

func newAnswer(key string, deps ...string) *answer {
	return &answer{key: key, body: []byte(`{"data":{}}`), contentType: "application/json", deps: deps, expires: time.Now().Add(time.Minute)}
}

// An invalidation that overtakes an execution keeps its answer out, and one
// that comes after drops it; answers built from other keys stay.
func TestInvalidationsDropExactlyTheDependentAnswers(t *testing.T) {
	c := New(Config{MaxBytes: 1 << 20, TTL: time.Minute, Trusted: true})
	epoch := c.epochsOf("ws1")
	c.Event(events.Event{Workspace: "ws1", Keys: []string{"k:contact:1"}})
	if c.put("ws1", epoch, newAnswer("a", "k:contact:1")) {
		t.Fatal("an answer whose execution an invalidation overtook was kept")
	}
	epoch = c.epochsOf("ws1")
	for _, a := range []*answer{newAnswer("a", "k:contact:1", "k:company:9"), newAnswer("b", "k:contact:2", "k:company:9")} {
		if !c.put("ws1", epoch, a) {
			t.Fatalf("answer %s not kept", a.key)
		}
	}
	c.Event(events.Event{Workspace: "ws1", Keys: []string{"k:contact:1"}})
	if c.get("a") != nil {
		t.Error("the answer built from the changed contact is still served")
	}
	if c.get("b") == nil {
		t.Error("an answer built from other keys was dropped")
	}
	c.Event(events.Event{Workspace: "ws1", Keys: []string{"k:company:9"}})
	if c.get("b") != nil || c.Bytes() != 0 || len(c.deps) != 0 {
		t.Errorf("after every key changed: answer %v, %d bytes, %d keys indexed", c.get("b") != nil, c.Bytes(), len(c.deps))
	}
}

// A broken stream empties the cache and keeps it closed until it is whole.
func TestABrokenStreamBypassesTheCache(t *testing.T) {
	c := New(Config{MaxBytes: 1 << 20, TTL: time.Minute, Trusted: true})
	epoch := c.epochsOf("ws1")
	c.put("ws1", epoch, newAnswer("a", "k1"))
	c.Reset(false)
	if c.get("a") != nil || c.trusted.Load() {
		t.Fatal("a broken stream left the cache open or full")
	}
	if c.put("ws1", c.epochsOf("ws1"), newAnswer("b", "k1")) {
		t.Error("an answer was kept while the stream was broken")
	}
	c.Reset(true)
	if !c.put("ws1", c.epochsOf("ws1"), newAnswer("c", "k1")) {
		t.Error("the whole stream did not open the cache")
	}
}

// Many answers stay within MaxBytes, keys and bookkeeping counted; the least
// recently used go first, and an expired answer is not served.
func TestTheCacheIsBoundedByBytes(t *testing.T) {
	const max = 64 << 10
	now := time.Now()
	c := New(Config{MaxBytes: max, TTL: time.Minute, Trusted: true, Now: func() time.Time { return now }})
	body := []byte(`{"data":"` + strings.Repeat("x", 1000) + `"}`)
	for i := range 1000 {
		a := newAnswer(fmt.Sprint(i), fmt.Sprintf("k:contact:%d", i), "k:company:1")
		a.body = body
		c.put("ws1", c.epochsOf("ws1"), a)
		if c.get("0") == nil && i < 10 {
			t.Fatalf("the first answer went after %d others", i)
		}
		if c.Bytes() > max {
			t.Fatalf("%d bytes held after %d answers, over %d", c.Bytes(), i+1, max)
		}
	}
	if c.get("999") == nil || c.get("500") != nil {
		t.Error("not the least recently used answers were evicted")
	}
	if n := len(c.deps["k:company:1"]); n != len(c.answers) {
		t.Errorf("the index holds %d answers of a shared key, the cache %d", n, len(c.answers))
	}
	now = now.Add(2 * time.Minute)
	if c.get("999") != nil {
		t.Error("an expired answer was served")
	}
}

// A hit's body is the answer's with extensions.cached; answers with errors
// or stale values are never kept.
func TestHitBody(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"data":{"a":1}}`, `{"data":{"a":1},"extensions":{"cached":true}}`},
		{`{"data":{"a":1},"extensions":{"x":2}}`, `{"data":{"a":1},"extensions":{"cached":true,"x":2}}`},
		{`{"data":{"a":1},"extensions":{"cost":{"spent":3}}}`, `{"data":{"a":1},"extensions":{"cached":true}}`},
		{`{"errors":[{"message":"m"}],"data":{"a":null}}`, ``},
		{`{"data":{"a":1},"extensions":{"stale":true,"staleAgeSeconds":3}}`, ``},
		{`{"data":null}`, ``},
	} {
		got, ok := hitBody([]byte(tc.in))
		if string(got) != tc.want || ok != (tc.want != "") {
			t.Errorf("hitBody(%s) = %s, %v; want %s", tc.in, got, ok, tc.want)
		}
	}
}

// An answer may read another namespace than its workspace's (the customer
// database's cache has its own): an invalidation there that overtakes its
// execution keeps it out too.
func TestAnInvalidationElsewhereOvertakingAnExecutionKeepsItsAnswerOut(t *testing.T) {
	c := New(Config{MaxBytes: 1 << 20, TTL: time.Minute, Trusted: true})
	own, other := "tdi:v2:{ws1}:contact:1", "tdi:v2:{customerdb-9f}:contact:sql:7"
	epoch := c.epochsOf("ws1")
	c.Event(events.Event{Workspace: "customerdb-9f", Keys: []string{other}})
	if c.put("ws1", epoch, newAnswer("a", own, other)) {
		t.Fatal("an answer whose database read an invalidation overtook was kept")
	}
	if !c.put("ws1", epoch, newAnswer("b", own)) {
		t.Error("an answer of its own workspace alone was refused for another's invalidation")
	}
	epoch = c.epochsOf("ws1")
	if !c.put("ws1", epoch, newAnswer("c", own, other)) {
		t.Error("an answer of both namespaces, not overtaken, was refused")
	}
}
