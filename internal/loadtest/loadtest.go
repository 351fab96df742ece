// Package loadtest is the load of the tests and the benchmark that keep a
// server busy: clients that send requests until they are stopped, the
// actions those clients saw acknowledged (to be found exactly once
// afterwards), and the seeded callers they look up and change.
package loadtest

import (
	"encoding/json"
	"maps"
	"sync"

	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
	"github.com/talkdesk-intercom/api/sources/phone"
)

// Run starts n clients, client w calling step(w, i) for i = 0, 1, … until
// the returned stop is called; stop waits for them.
func Run(n int, step func(client, i int)) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				step(w, i)
			}
		})
	}
	return func() { close(done); wg.Wait() }
}

// Acks are the idempotency keys clients saw acknowledged, with the id of
// the object each made. Safe for concurrent use.
type Acks struct {
	mu sync.Mutex
	m  map[string]string
}

// Add records that the action under key was acknowledged with id.
func (a *Acks) Add(key, id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string]string{}
	}
	a.m[key] = id
}

// All returns a copy of the acknowledged keys and ids.
func (a *Acks) All() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.m)
}

// Len is how many actions were acknowledged.
func (a *Acks) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.m)
}

// Caller is a seeded contact that a caller lookup finds by its own number.
type Caller struct {
	ID    string
	Phone string // E.164, as the server normalises it
	Email string
}

// Callers returns the workspace's seeded contacts with a number of their
// own, one per distinct number, in seed order; legacy contacts (found only
// through their number's spellings) aside.
func Callers(ws *emulator.Workspace) []Caller {
	var out []Caller
	seen := map[string]bool{}
	for _, c := range ws.Contacts() {
		e164, err := phone.Normalize(c.Phone, c.LocationCountry)
		if c.Phone == "" || c.Legacy || err != nil || seen[e164] {
			continue
		}
		seen[e164] = true
		out = append(out, Caller{ID: c.ID, Phone: e164, Email: c.Email})
	}
	return out
}

// Updated is the body of the contact.user.updated notification Intercom
// sends app appID when c changes (sign it with webhooks.Sign): it names
// the contact, its number and its email, which the server invalidates.
func (c Caller) Updated(appID, notificationID string) []byte {
	body, _ := json.Marshal(map[string]any{
		"type": "notification_event", "id": notificationID, "topic": "contact.user.updated", "app_id": appID,
		"data": map[string]any{"item": map[string]any{"type": "contact", "id": c.ID, "phone": c.Phone, "email": c.Email}},
	})
	return body
}

// ThreeLookups asks for three callers in one request: one batch, one MGET.
const ThreeLookups = `query($a: String!, $b: String!, $c: String!) {
	a: contactsByPhone(phone: $a) { id } b: contactsByPhone(phone: $b) { id } c: contactsByPhone(phone: $c) { id } }`

// ThreeLookupVars are ThreeLookups' variables: the numbers of the
// workspace's contacts from the skip-th one that has a number, the demo
// caller aside (the fleet tests' tickets are the demo caller's, and each one
// drops its contact's entries from the cache).
func ThreeLookupVars(ws *emulator.Workspace, skip int) map[string]any {
	demo, _ := ws.DemoCaller()
	var phones []string
	for _, c := range ws.Contacts() {
		if c.FormattedPhone != "" && c.ID != demo.ID {
			phones = append(phones, c.FormattedPhone)
		}
	}
	return map[string]any{"a": phones[skip], "b": phones[skip+1], "c": phones[skip+2]}
}
