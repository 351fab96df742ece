package server

import (
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// With Redis frozen or killed, a warm caller lookup and a creating action
// each cost at most about REDIS_TIMEOUT more than with Redis up, nothing is
// lost or duplicated, and the log says once that Redis went away and once
// that it returned.
func TestRedisAwayCostsAtMostItsTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	for _, tc := range redistest.Outages {
		t.Run(tc.Name, func(t *testing.T) {
			rds := redistest.Start(t)
			env := newTestEnvWith(t, emulator.Options{}, "REDIS_URL", "redis://"+rds.Addr, "REDIS_TIMEOUT", timeout.String())
			demo, _ := env.Intercom.Workspace.DemoCaller()
			const lookup = `query($p: String!) { contactsByPhone(phone: $p) { id } }`
			const addNote = `mutation($id: ID!, $k: String) { addNote(input: {contactId: $id, body: "Called.", idempotencyKey: $k}) { note { id } userErrors { code } } }`
			timed := func(what, q string, vars map[string]any) time.Duration {
				t.Helper()
				start := time.Now()
				r := env.query(t, q, vars, nil)
				if r.Status != 200 || len(r.Errors) > 0 {
					t.Fatalf("%s: HTTP %d %+v", what, r.Status, r.Errors)
				}
				return time.Since(start)
			}
			vars := map[string]any{"p": "+14155550142"} // the demo caller
			timed("warm-up", lookup, vars)
			up := timed("lookup, Redis up", lookup, vars)
			upNote := timed("addNote, Redis up", addNote, map[string]any{"id": demo.ID, "k": redistest.Unique("up")})

			tc.Away(rds)
			key := redistest.Unique("away")
			for i := range 3 {
				d, dn := timed("lookup, Redis away", lookup, vars), timed("addNote, Redis away", addNote, map[string]any{"id": demo.ID, "k": key})
				t.Logf("Redis %s, request %d: lookup %s (up %s), addNote %s (up %s)", tc.Name, i, d, up, dn, upNote)
				if d > up+timeout+150*time.Millisecond {
					t.Errorf("lookup %d with Redis %s took %s (%s with Redis up), want at most REDIS_TIMEOUT more", i, tc.Name, d, up)
				}
				if dn > upNote+timeout+150*time.Millisecond {
					t.Errorf("addNote %d with Redis %s took %s (%s with Redis up), want at most REDIS_TIMEOUT more", i, tc.Name, dn, upNote)
				}
			}
			tc.Back(rds)
			deadline := time.Now().Add(5 * time.Second)
			for !env.Services.redisHealth.Up() && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			timed("addNote, Redis back", addNote, map[string]any{"id": demo.ID, "k": key})
			if n := notesWith(env.Intercom.Workspace, demo.ID, "Called."); n != 2 {
				t.Errorf("%d notes, want 2: one with Redis up, one for the key repeated while Redis was away and after", n)
			}
			logs := env.Logs.String()
			if away, back := strings.Count(logs, "Redis is not answering"), strings.Count(logs, "Redis is back"); away != 1 || back != 1 {
				t.Errorf("the log says %d times that Redis went away and %d that it returned, want once each", away, back)
			}
			if n := strings.Count(logs, `"level":"WARN"`); n > 1 {
				t.Errorf("%d warnings in the log, want the one that Redis went away:\n%s", n, logs)
			}
		})
	}
}

func notesWith(ws *emulator.Workspace, contactID, body string) int {
	n := 0
	for _, note := range ws.Notes(contactID) {
		if strings.Contains(note.Body, body) {
			n++
		}
	}
	return n
}
