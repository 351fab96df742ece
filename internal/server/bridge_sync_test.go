package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// synchroniser plays Talkdesk's contact synchronizer against the bridge: a
// sync follows next_offset (sending context back) until it is absent, and
// keeps the last synchronization_checkpoint for the next sync.
type synchroniser struct {
	url        string
	auth       map[string]any
	checkpoint string
	// contacts is Talkdesk's copy: the latest version of each contact.
	contacts map[string]talkdeskContact
}

// syncOnce runs one sync (initial when there is no checkpoint yet) and
// returns the contacts it received, in order.
func (s *synchroniser) syncOnce(t *testing.T) []talkdeskContact {
	t.Helper()
	if s.contacts == nil {
		s.contacts = map[string]talkdeskContact{}
	}
	var got []talkdeskContact
	meta := map[string]any{}
	if s.checkpoint != "" {
		meta["synchronization_checkpoint"] = s.checkpoint
	}
	for page := 1; ; page++ {
		if page > 100 {
			t.Fatal("the sync never ends")
		}
		body, _ := json.Marshal(map[string]any{"auth": s.auth, "meta": meta})
		r := bridgePost(t, s.url, string(body))
		if r.Status != http.StatusOK {
			t.Fatalf("page %d: HTTP %d %s", page, r.Status, r.Body)
		}
		var p syncPage
		r.decode(t, &p)
		if p.Checkpoint == "" {
			t.Fatalf("page %d has no synchronization_checkpoint", page)
		}
		for _, c := range p.Contacts {
			s.contacts[c.ID] = c
		}
		got = append(got, p.Contacts...)
		// Talkdesk stores the checkpoint of the answer that ends the sync.
		if p.NextOffset == nil {
			s.checkpoint = p.Checkpoint
			return got
		}
		meta = map[string]any{"offset": *p.NextOffset, "context": p.Context}
		if s.checkpoint != "" {
			meta["synchronization_checkpoint"] = s.checkpoint
		}
	}
}

// End to end: Talkdesk's synchronizer against the emulator. A full initial
// sync, then changes in Intercom (updates late in the checkpoint's own
// calendar day, which Intercom's day-granular search would hide from a
// naive "updated_at > checkpoint" query; an update within the checkpoint's
// very second; a change after midnight; new contacts; deletions), then an
// incremental sync. Every contact must arrive and every update be seen; the
// contacts sent again although unchanged are counted.
func TestTalkdeskSynchroniserMissesNoUpdate(t *testing.T) {
	clock := emulator.NewClock(time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC))
	env := newTestEnvWith(t, emulator.Options{Now: clock.Now, Contacts: 260}, "TALKDESK_PAGE_SIZE", "40")
	ws := env.Intercom.Workspace
	td := &synchroniser{url: env.URL + "/talkdesk/contact_sync", auth: testAuth()}

	// 1. The initial sync brings every contact, once, oldest update first.
	initial := td.syncOnce(t)
	all := ws.Contacts()
	if len(initial) != len(all) || len(td.contacts) != len(all) {
		t.Fatalf("initial sync: %d contacts (%d distinct), want %d", len(initial), len(td.contacts), len(all))
	}
	var newest time.Time
	for i, c := range initial {
		stored, _ := ws.Contact(c.ID)
		if i > 0 {
			prev, _ := ws.Contact(initial[i-1].ID)
			if stored.UpdatedAt.Before(prev.UpdatedAt) {
				t.Errorf("contact %d (%s) is older than the one before it", i, c.ID)
			}
		}
		if stored.UpdatedAt.After(newest) {
			newest = stored.UpdatedAt
		}
	}
	checkpoint, err := time.Parse("2006-01-02 15:04:05 UTC", td.checkpoint)
	if err != nil || !checkpoint.Equal(newest) {
		t.Fatalf("checkpoint %q, want the newest update %s", td.checkpoint, newest)
	}

	// 2. Changes in Intercom.
	want := map[string]string{} // id -> the name Talkdesk must end with
	rename := func(id, name string, at time.Time) {
		t.Helper()
		clock.Set(at)
		if _, ok := ws.UpdateContact(id, func(c *emulator.Contact) { c.Name = name }); !ok {
			t.Fatalf("no contact %s", id)
		}
		want[id] = name
	}
	day := checkpoint.Truncate(24 * time.Hour)
	lateSameDay := day.Add(23*time.Hour + 40*time.Minute)
	if !lateSameDay.After(checkpoint) {
		t.Fatalf("the checkpoint %s is too late in its day for this test", checkpoint)
	}
	rename(all[10].ID, "Renamed Late The Same Day", lateSameDay)
	rename(all[20].ID, "Renamed Twice (first)", lateSameDay.Add(time.Minute))
	rename(all[20].ID, "Renamed Twice", lateSameDay.Add(2*time.Minute))
	// A change within the checkpoint's own second, after the sync read it.
	clock.Set(lateSameDay.Add(3 * time.Minute))
	ws.UpdateContact(all[30].ID, func(c *emulator.Contact) { c.Name, c.UpdatedAt = "Changed In The Checkpoint Second", checkpoint })
	want[all[30].ID] = "Changed In The Checkpoint Second"
	// New contacts, late the same day and after midnight.
	for i, at := range []time.Time{lateSameDay.Add(4 * time.Minute), day.Add(24*time.Hour + 30*time.Second)} {
		clock.Set(at)
		c := ws.AddContact(emulator.Contact{Role: "lead", Name: "New Lead " + string(rune('A'+i)),
			Email: "new.lead." + string(rune('a'+i)) + "@example.org"})
		want[c.ID] = c.Name
	}
	rename(all[40].ID, "Renamed After Midnight", day.Add(24*time.Hour+time.Minute))
	// Deletions: Talkdesk's contract has no deletion; they must not break the sync.
	deleted := []string{all[50].ID, all[len(all)-1].ID}
	for _, id := range deleted {
		ws.DeleteContact(id)
	}

	// The unchanged contacts an incremental sync sends again: those updated
	// in the checkpoint's second.
	atCheckpoint := 0
	for _, c := range ws.Contacts() {
		if _, changed := want[c.ID]; !changed && c.UpdatedAt.Equal(checkpoint) {
			atCheckpoint++
		}
	}

	// 3. The incremental sync sees every change.
	before := td.checkpoint
	incremental := td.syncOnce(t)
	for id, name := range want {
		if got := td.contacts[id].Name; got != name {
			t.Errorf("contact %s: Talkdesk has %q, want %q", id, got, name)
		}
	}
	for _, c := range ws.Contacts() {
		if _, ok := td.contacts[c.ID]; !ok {
			t.Errorf("contact %s (%s) never arrived", c.ID, c.Name)
		}
	}
	repeated := 0
	for _, c := range incremental {
		if _, changed := want[c.ID]; !changed {
			repeated++
		}
	}
	t.Logf("incremental sync: %d contacts, %d changed, %d repeated (unchanged, updated in the checkpoint's second %s)",
		len(incremental), len(want), repeated, before)
	if repeated != atCheckpoint {
		t.Errorf("%d unchanged contacts sent again, want only the %d updated in the checkpoint's second", repeated, atCheckpoint)
	}
	if td.checkpoint <= before {
		t.Errorf("the checkpoint did not move: %s then %s", before, td.checkpoint)
	}

	// 4. Nothing changed: the next incremental sync repeats only the
	// contacts of the new checkpoint's second.
	again := td.syncOnce(t)
	t.Logf("incremental sync without changes: %d contacts repeated", len(again))
	if len(again) > 2 {
		t.Errorf("%d contacts sent again without any change", len(again))
	}
}

// The checkpoint stays TALKDESK_SEARCH_DELAY behind the sync's start, so that
// a change Intercom's search indexes late is still at or after it.
func TestTalkdeskCheckpointStaysBehindSearchIndexing(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	env := newTestEnvWith(t, emulator.Options{Now: func() time.Time { return now }, Contacts: 30},
		"TALKDESK_SEARCH_DELAY", "10m")
	// Changed two minutes ago: it may not be searchable yet in Intercom.
	env.Intercom.Workspace.AddContact(emulator.Contact{Name: "Just Changed", Email: "just.changed@example.org",
		CreatedAt: now.Add(-2 * time.Minute)})
	td := &synchroniser{url: env.URL + "/talkdesk/contact_sync", auth: testAuth()}
	td.syncOnce(t)
	cp, err := time.Parse("2006-01-02 15:04:05 UTC", td.checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if limit := time.Now().Add(-10 * time.Minute); cp.After(limit) {
		t.Errorf("checkpoint %s is later than the sync's start minus 10m (%s)", cp, limit)
	}
	// Everything updated in the last 10 minutes comes again (the price of
	// not missing a late-indexed change).
	recent := 0
	for _, c := range env.Intercom.Workspace.Contacts() {
		if !c.UpdatedAt.Before(cp) {
			recent++
		}
	}
	if got := len(td.syncOnce(t)); got != recent {
		t.Errorf("incremental sync: %d contacts, want the %d updated since %s", got, recent, cp)
	}
}

// The whole contract can be tried against the built-in demo workspace: the
// bridge accepts the token "demo" and rejects others.
func TestBridgeInDemoMode(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncWriter{w: &bytes.Buffer{}}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"--addr", addr}, func(string) string { return "" }, out) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	base := "http://" + addr
	waitReady(t, base+"/healthz")

	if r := bridgePost(t, base+"/talkdesk/auth_validation", `{"auth": {"token": "demo"}}`); r.Status != http.StatusNoContent {
		t.Errorf("token demo: HTTP %d %s, want 204", r.Status, r.Body)
	}
	// Demo mode pins every token to the demo workspace, whatever the region.
	if r := bridgePost(t, base+"/talkdesk/auth_validation", `{"auth": {"token": "demo", "region": "eu"}}`); r.Status != http.StatusNoContent {
		t.Errorf("token demo, region eu: HTTP %d %s, want 204", r.Status, r.Body)
	}
	if r := bridgePost(t, base+"/talkdesk/auth_validation", `{"auth": {"token": "not-a-token-9d2b"}}`); r.Status != http.StatusUnauthorized {
		t.Errorf("another token: HTTP %d %s, want 401", r.Status, r.Body)
	}
	r := bridgePost(t, base+"/talkdesk/interaction_update",
		`{"auth": {"token": "demo"}, "meta": {"interaction_types": ["call"]}, "data": {"contact_phones": ["+14155550142"]}}`)
	var calls []talkdeskInteraction
	r.decode(t, &calls)
	if r.Status != http.StatusOK || len(calls) != emulator.DemoCallerPhoneCalls {
		t.Errorf("the demo caller's calls: HTTP %d, %d calls, want %d", r.Status, len(calls), emulator.DemoCallerPhoneCalls)
	}
	td := &synchroniser{url: base + "/talkdesk/contact_sync", auth: map[string]any{"token": "demo"}}
	if got := td.syncOnce(t); len(got) < 300 || !strings.Contains(get(t, base+"/talkdesk/integration.json"), base+"/talkdesk/contact_sync") {
		t.Errorf("demo sync: %d contacts", len(got))
	}
}
