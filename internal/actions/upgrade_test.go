package actions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/idempotency"
	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/internal/redistest"
	"github.com/talkdesk-intercom/api/sources"
)

// noteWriter adds notes and counts them; every other action is out of
// these tests (the embedded interface is nil).
type noteWriter struct {
	sources.ActionExecutor
	added atomic.Int64
}

func (w *noteWriter) AddNote(_ context.Context, n sources.NewNote) (*sources.Note, error) {
	w.added.Add(1)
	return &sources.Note{ID: "n-new", ContactID: n.ContactID, Body: n.Body, AuthorID: n.AdminID, CreatedAt: time.Now()}, nil
}

func (w *noteWriter) NotesSince(context.Context, string, time.Time) ([]*sources.Note, error) {
	return nil, nil
}

type oneContact struct{ sources.ContactFinder }

func (oneContact) ContactsByIDs(_ context.Context, ids []string) (map[string]*sources.Contact, error) {
	return map[string]*sources.Contact{ids[0]: {ID: ids[0]}}, nil
}

type workspaceOf struct{ admin string }

func (w workspaceOf) Validate(context.Context) (*sources.Workspace, error) {
	return &sources.Workspace{Admin: sources.Agent{ID: w.admin}}, nil
}

// upgradeService is a Service whose idempotency records are in a real
// Redis, for the workspace ws, and a client of that Redis (run alone, the
// test starts its own: the test must read the one the Service writes).
func upgradeService(t *testing.T, ws string, exec sources.ActionExecutor) (*Service, goredis.UniversalClient) {
	t.Helper()
	client := redistest.Client(t, redistest.Addr(t))
	store := &idempotency.Tiered{Primary: idempotency.NewRedisStore(redis.NewHealth(client, time.Second, nil)), Local: idempotency.NewMemoryStore()}
	return New(Config{
		Executor:    exec,
		Finder:      oneContact{},
		Workspace:   workspaceOf{admin: "a-1"},
		Guard:       idempotency.New(store, idempotency.Options{}),
		WorkspaceID: sources.KnownWorkspaceID(ws),
	}), client
}

// fingerprint is an input's fingerprint as every release computes it: the
// SHA-256 of its JSON.
func fingerprint(inputJSON string) string {
	sum := sha256.Sum256([]byte(inputJSON))
	return hex.EncodeToString(sum[:])
}

// A rolling deploy: a replica of the previous release added a note under an
// idempotency key, and the client's retry lands on a replica of this one.
// The record is found under the name the previous release wrote (typed out
// here, not built by the code under test): the note is answered from it and
// Intercom is not called again.
func TestAnActionDoneByThePreviousReleaseIsNotRunAgain(t *testing.T) {
	ws := redistest.Unique("ws")
	exec := &noteWriter{}
	s, client := upgradeService(t, ws, exec)
	ctx := context.Background()

	record := `{"state":"done","fp":"` + fingerprint(`{"contact_id":"c-1","body":"Called about the invoice"}`) + `",` +
		`"result":{"ID":"n-old","ContactID":"c-1","Body":"<p>Called about the invoice</p>","AuthorID":"a-1","CreatedAt":"2025-01-02T03:04:05Z"},` +
		`"started":1735787045000,"lease":1735787105000}`
	if err := client.Set(ctx, "tdi:v2:{"+ws+"}:idem:add_note:retry-1", record, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}

	note, err := s.AddNote(ctx, "retry-1", AddNoteRequest{ContactID: "c-1", Body: "Called about the invoice"})
	if err != nil {
		t.Fatal(err)
	}
	if note.ID != "n-old" || note.AuthorID != "a-1" || !note.CreatedAt.Equal(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("answered %+v, want the note the previous release added (n-old)", note)
	}
	if n := exec.added.Load(); n != 0 {
		t.Errorf("Intercom was asked to add the note %d times, want none: the record says it is done", n)
	}
	// The same key with another input is still the previous release's.
	if _, err := s.AddNote(ctx, "retry-1", AddNoteRequest{ContactID: "c-1", Body: "Something else"}); sources.ErrorCode(err) != sources.EConflict {
		t.Errorf("another input under the key: %v, want CONFLICT", err)
	}
}

// And the other way round: what this release records is where, and as, the
// previous release looks for it.
func TestAnActionDoneByThisReleaseIsWhereThePreviousLooks(t *testing.T) {
	ws := redistest.Unique("ws")
	exec := &noteWriter{}
	s, client := upgradeService(t, ws, exec)
	ctx := context.Background()

	if _, err := s.AddNote(ctx, "first-1", AddNoteRequest{ContactID: "c-1", Body: "Called about the invoice"}); err != nil {
		t.Fatal(err)
	}
	raw, err := client.Get(ctx, "tdi:v2:{"+ws+"}:idem:add_note:first-1").Result()
	if err != nil {
		t.Fatalf("no record under the previous release's name: %v", err)
	}
	var rec struct {
		State  string `json:"state"`
		FP     string `json:"fp"`
		Result struct{ ID string }
	}
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.State != "done" || rec.FP != fingerprint(`{"contact_id":"c-1","body":"Called about the invoice"}`) || rec.Result.ID != "n-new" {
		t.Errorf("record %s: want done, the input's fingerprint and the note n-new", raw)
	}
}
