package server

import (
	"encoding/json"
	"testing"

	"github.com/talkdesk-intercom/api/internal/events"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

// A note added through the API reaches the dashboards that follow the
// contact over a WebSocket: the contact as it is now (one more note), and
// the note in its history.
func TestOwnActionReachesSubscribersOverWebSocket(t *testing.T) {
	env := newTestEnv(t)
	streamWhole(t, env)
	demo, _ := env.Intercom.Workspace.DemoCaller()
	c := connectWS(t, env.URL, nil)
	c.subscribe("contact", contactChanged, map[string]any{"id": demo.ID})
	c.subscribe("notes", interactionsChanged, map[string]any{"id": demo.ID, "types": []string{"NOTE"}})
	var before struct{ Contact struct{ NotesCount int } }
	env.mustQuery(t, `query($id: ID!) { contact(id: $id) { notesCount } }`, map[string]any{"id": demo.ID}, &before)

	var added struct {
		AddNote struct{ Note struct{ ID string } }
	}
	env.mustQuery(t, `mutation($id: ID!) { addNote(input: {contactId: $id, body: "Asked about the refund."}) { note { id } } }`,
		map[string]any{"id": demo.ID}, &added)

	var got struct{ ContactChanged contactEvent }
	c.next("contact", &got)
	ev := got.ContactChanged
	if ev.Kind != "UPDATED" || ev.Refetch || !events.ValidSeq(ev.Sequence) || ev.Contact == nil ||
		ev.Contact.ID != demo.ID || ev.Contact.NotesCount != before.Contact.NotesCount+1 {
		t.Errorf("contactChanged = %+v (contact %+v), want UPDATED with %d notes", ev, ev.Contact, before.Contact.NotesCount+1)
	}
	var note struct {
		InteractionsChanged struct {
			Sequence    string
			Kind        string
			Interaction *struct{ ID, Type, Description string }
		}
	}
	c.next("notes", &note)
	in := note.InteractionsChanged
	if in.Kind != "CREATED" || in.Sequence != ev.Sequence || in.Interaction == nil ||
		in.Interaction.ID != added.AddNote.Note.ID || in.Interaction.Type != "NOTE" || in.Interaction.Description != "Asked about the refund." {
		t.Errorf("interactionsChanged = %+v (%+v), want the note %s CREATED at %s", in, in.Interaction, added.AddNote.Note.ID, ev.Sequence)
	}
}

// A change made in Intercom (a signed webhook) reaches a dashboard that
// follows the contact over SSE, with the event's sequence as its id.
func TestSignedWebhookReachesSubscribersOverSSE(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "INTERCOM_CLIENT_SECRET", testClientSecret)
	streamWhole(t, env)
	ws := env.Intercom.Workspace
	demo, _ := ws.DemoCaller()
	s := openSSE(t, env.URL, contactChanged, map[string]any{"id": demo.ID}, nil)
	// The subscription is running once the stream has started: SSE has no
	// acknowledgement, so wait until the hub counts it.
	awaitSubscriptions(t, env, 1)

	ws.UpdateContact(demo.ID, func(c *emulator.Contact) { c.Name = "Maria Webhook" })
	notifyContact(t, env, "contact.user.updated", map[string]any{"item": map[string]any{"type": "contact", "id": demo.ID}})

	var got struct{ ContactChanged contactEvent }
	id := s.next(&got)
	ev := got.ContactChanged
	if ev.Kind != "UPDATED" || ev.Contact == nil || ev.Contact.Name != "Maria Webhook" || id != ev.Sequence {
		t.Errorf("contactChanged = %+v (contact %+v), SSE id %q: want UPDATED, the new name, id = sequence", ev, ev.Contact, id)
	}
}

// awaitSubscriptions waits until env's replica runs n subscriptions.
func awaitSubscriptions(t *testing.T, env *testEnv, n int) {
	t.Helper()
	waitFor(t, func() bool { return env.Services.hub.Subscriptions() == n }, "%d subscriptions", n)
}

// Two replicas on one Redis: a webhook that lands on A reaches the
// subscriber on B.
func TestWebhookOnOneReplicaReachesASubscriberOnAnother(t *testing.T) {
	if testRedisURL() == "" {
		t.Skip("replicas share events through Redis: set TEST_REDIS_ADDR (scripts/test.sh does)")
	}
	a := newTestEnvWith(t, emulator.Options{}, "INTERCOM_CLIENT_SECRET", testClientSecret)
	b := newTestEnvOn(t, a.Intercom, "INTERCOM_CLIENT_SECRET", testClientSecret)
	demo, _ := a.Intercom.Workspace.DemoCaller()
	// Events published before B hears the stream are not B's (its
	// subscriptions would be told to refetch): wait until it does.
	streamWhole(t, b)
	c := connectWS(t, b.URL, nil)
	c.subscribe("1", contactChanged, map[string]any{"id": demo.ID})
	awaitSubscriptions(t, b, 1)

	a.Intercom.Workspace.UpdateContact(demo.ID, func(c *emulator.Contact) { c.Name = "Maria on A" })
	notifyContact(t, a, "contact.user.updated", map[string]any{"item": map[string]any{"type": "contact", "id": demo.ID}})
	var got struct{ ContactChanged contactEvent }
	c.next("1", &got)
	if ev := got.ContactChanged; ev.Kind != "UPDATED" || ev.Contact == nil || ev.Contact.Name != "Maria on A" {
		t.Errorf("on B: %+v (contact %+v), want UPDATED with A's change", ev, ev.Contact)
	}
}

// A dashboard that comes back with the last sequence it saw, on a new
// connection, gets what it missed, in order; over SSE with Last-Event-ID
// too. A sequence the log does not hold gets one refetch event; one that is
// not a sequence is a BAD_USER_INPUT error.
func TestResumeAfterASequenceReplaysTheGap(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "INTERCOM_CLIENT_SECRET", testClientSecret)
	streamWhole(t, env)
	demo, _ := env.Intercom.Workspace.DemoCaller()
	change := func(name string) {
		env.Intercom.Workspace.UpdateContact(demo.ID, func(c *emulator.Contact) { c.Name = name })
		notifyContact(t, env, "contact.user.updated", map[string]any{"item": map[string]any{"type": "contact", "id": demo.ID}})
	}
	first := connectWS(t, env.URL, nil)
	first.subscribe("1", contactChanged, map[string]any{"id": demo.ID})
	awaitSubscriptions(t, env, 1)
	change("One")
	var seen struct{ ContactChanged contactEvent }
	first.next("1", &seen)
	first.conn.CloseNow()
	awaitSubscriptions(t, env, 0)

	// Missed while away: two changes.
	change("Two")
	change("Three")
	again := connectWS(t, env.URL, nil)
	again.subscribe("1", contactChanged, map[string]any{"id": demo.ID, "after": seen.ContactChanged.Sequence})
	var missed []contactEvent
	for range 2 {
		var got struct{ ContactChanged contactEvent }
		again.next("1", &got)
		missed = append(missed, got.ContactChanged)
	}
	if len(missed) != 2 || !events.SeqLess(seen.ContactChanged.Sequence, missed[0].Sequence) ||
		!events.SeqLess(missed[0].Sequence, missed[1].Sequence) || missed[0].Refetch || missed[1].Refetch {
		t.Errorf("after %s: %+v, want the two missed events in order", seen.ContactChanged.Sequence, missed)
	}
	// The contact is read as it is now: the replayed events both show it.
	if missed[1].Contact == nil || missed[1].Contact.Name != "Three" {
		t.Errorf("replayed contact = %+v, want the current name", missed[1].Contact)
	}

	// Over SSE, the browser's way: Last-Event-ID.
	s := openSSE(t, env.URL, contactChanged, map[string]any{"id": demo.ID}, map[string][]string{"Last-Event-ID": {missed[0].Sequence}})
	var viaSSE struct{ ContactChanged contactEvent }
	id := s.next(&viaSSE)
	if viaSSE.ContactChanged.Sequence != missed[1].Sequence || id != missed[1].Sequence {
		t.Errorf("SSE after Last-Event-ID %s: %+v (id %s), want %s", missed[0].Sequence, viaSSE.ContactChanged, id, missed[1].Sequence)
	}

	// A sequence the log no longer holds (older than EVENT_RETENTION, or
	// lost in a failover): one refetch, at the newest sequence.
	old := connectWS(t, env.URL, nil)
	old.subscribe("1", contactChanged, map[string]any{"id": demo.ID, "after": "1-0"})
	var refetch struct{ ContactChanged contactEvent }
	old.next("1", &refetch)
	if ev := refetch.ContactChanged; !ev.Refetch || ev.Sequence != missed[1].Sequence {
		t.Errorf("after a sequence long gone: %+v, want refetch at %s", ev, missed[1].Sequence)
	}

	bad := connectWS(t, env.URL, nil)
	bad.subscribe("1", contactChanged, map[string]any{"id": demo.ID, "after": "yesterday"})
	m := bad.read()
	var errs []gqlError
	_ = json.Unmarshal(m.Payload, &errs)
	if m.Type == "next" {
		var resp struct{ Errors []gqlError }
		_ = json.Unmarshal(m.Payload, &resp)
		errs = resp.Errors
	}
	if len(errs) == 0 || errs[0].Extensions["code"] != "BAD_USER_INPUT" || errs[0].Extensions["field"] != "after" {
		t.Errorf("after a bad sequence: %+v, want BAD_USER_INPUT on after", m)
	}
}

// Tenants share the fleet's Redis, never each other's events: a change in
// one workspace reaches no subscriber of another, even for a contact id
// both have.
func TestSubscribersSeeOnlyTheirWorkspace(t *testing.T) {
	mine := newTestEnvWith(t, emulator.Options{}, "INTERCOM_CLIENT_SECRET", testClientSecret)
	theirs := newTestEnvWith(t, emulator.Options{}, "INTERCOM_CLIENT_SECRET", testClientSecret)
	streamWhole(t, mine)
	demo, _ := mine.Intercom.Workspace.DemoCaller()
	if _, ok := theirs.Intercom.Workspace.Contact(demo.ID); !ok {
		t.Fatal("the test needs a contact id both workspaces have")
	}
	c := connectWS(t, mine.URL, nil)
	c.subscribe("1", contactChanged, map[string]any{"id": demo.ID})
	awaitSubscriptions(t, mine, 1)

	notifyContact(t, theirs, "contact.user.updated", map[string]any{"item": map[string]any{"type": "contact", "id": demo.ID}})
	mine.Intercom.Workspace.UpdateContact(demo.ID, func(c *emulator.Contact) { c.Name = "Mine" })
	notifyContact(t, mine, "contact.user.updated", map[string]any{"item": map[string]any{"type": "contact", "id": demo.ID}})
	// Events arrive in order: had the other workspace's reached this
	// subscriber, it would come first.
	var got struct{ ContactChanged contactEvent }
	c.next("1", &got)
	if ev := got.ContactChanged; ev.Contact == nil || ev.Contact.Name != "Mine" {
		t.Errorf("first event: %+v (contact %+v), want this workspace's change", ev, ev.Contact)
	}
}

// A contact deleted, or merged into another, ends the subscriptions that
// follow it, after one event that says so (and names the survivor).
func TestDeletedAndMergedContactsEndTheirSubscriptions(t *testing.T) {
	env := newTestEnvWith(t, emulator.Options{}, "INTERCOM_CLIENT_SECRET", testClientSecret)
	streamWhole(t, env)
	contacts := env.Intercom.Workspace.Contacts()
	deleted, merged, survivor := contacts[1].ID, contacts[2].ID, contacts[3].ID
	c := connectWS(t, env.URL, nil)
	c.subscribe("deleted", contactChanged, map[string]any{"id": deleted})
	c.subscribe("merged", contactChanged, map[string]any{"id": merged})
	awaitSubscriptions(t, env, 2)

	env.Intercom.Workspace.DeleteContact(deleted)
	notifyContact(t, env, "contact.deleted", map[string]any{"item": map[string]any{"type": "contact", "id": deleted}})
	var got struct{ ContactChanged contactEvent }
	c.next("deleted", &got)
	if ev := got.ContactChanged; ev.Kind != "DELETED" || ev.Contact != nil {
		t.Errorf("deleted: %+v, want DELETED without a contact", ev)
	}
	if m := c.read(); m.Type != "complete" || m.ID != "deleted" {
		t.Errorf("after DELETED: %+v, want complete", m)
	}

	env.Intercom.Workspace.DeleteContact(merged)
	notifyContact(t, env, "contact.merged", map[string]any{
		"item": map[string]any{"type": "contact", "id": survivor}, "merged_from": map[string]any{"type": "contact", "id": merged}})
	c.next("merged", &got)
	if ev := got.ContactChanged; ev.Kind != "MERGED" || ev.Survivor == nil || ev.Survivor.ID != survivor {
		t.Errorf("merged: %+v (survivor %+v), want MERGED into %s", ev, ev.Survivor, survivor)
	}
	if m := c.read(); m.Type != "complete" || m.ID != "merged" {
		t.Errorf("after MERGED: %+v, want complete", m)
	}
	// The merged contact left the caches: it is not found any more.
	var after struct{ Contact *struct{ ID string } }
	env.mustQuery(t, `query($id: ID!) { contact(id: $id) { id } }`, map[string]any{"id": merged}, &after)
	if after.Contact != nil {
		t.Errorf("the merged contact is still served: %+v", after.Contact)
	}
}

// streamWhole waits until env's replica hears the event stream (with Redis):
// a subscription that starts before is told to refetch once it does, and
// events published before it are not received.
func streamWhole(t *testing.T, env *testEnv) {
	t.Helper()
	if env.Services.redis == nil {
		return // in process: whole from the start
	}
	waitFor(t, func() bool { return metrics.Value(env.Metrics.CacheEvents, "whole") >= 1 }, "the event stream")
}
