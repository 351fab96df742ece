// Package actions runs the write side of the product for every transport
// (GraphQL mutations, the Talkdesk bridge): it validates input before
// Intercom is called, avoids duplicate contacts, makes every action safe to
// retry under an idempotency key, and keeps the cache coherent.
package actions

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/talkdesk-intercom/api/internal/idempotency"
	"github.com/talkdesk-intercom/api/internal/redis"
	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/memo"
)

// Problem is an input problem the caller can fix.
type Problem struct {
	Field   string // the input field at fault, e.g. "email"
	Message string
	Code    string // BAD_USER_INPUT, NOT_FOUND or CONFLICT
}

// Problems is a list of input problems; as an error it reads as the first.
type Problems []Problem

func (p Problems) Error() string {
	if len(p) == 0 {
		return "no problems"
	}
	return p[0].Field + ": " + p[0].Message
}

// add records a problem once: checks of two fields can find the same one
// (a bad defaultCountry for both numbers of a call).
func (p *Problems) add(field, format string, args ...any) {
	p.addCode(sources.EBadUserInput, field, format, args...)
}

// addCode records a problem with another code than BAD_USER_INPUT.
func (p *Problems) addCode(code, field, format string, args ...any) {
	pr := Problem{Field: field, Message: fmt.Sprintf(format, args...), Code: code}
	if !slices.Contains(*p, pr) {
		*p = append(*p, pr)
	}
}

// Config holds the Service's dependencies.
type Config struct {
	Executor sources.ActionExecutor
	// Finder reads contacts (the cached source): duplicates, callers.
	Finder sources.ContactFinder
	Agents sources.AgentLister
	// Workspace names the admin the token acts as: the default author.
	Workspace   sources.CredentialValidator
	Invalidator sources.Invalidator // nil: nothing to invalidate
	Guard       *idempotency.Guard
	// WorkspaceID is the workspace's id, kept by its tenant: idempotency
	// records are scoped to it.
	WorkspaceID *sources.WorkspaceID
	// CallLogAs is "note" (default) or "ticket"; CallTicketType names the
	// ticket type calls are logged as in the latter case.
	CallLogAs      string
	CallTicketType string
	Now            func() time.Time
}

// Service runs actions.
type Service struct {
	cfg Config

	// Workspace lists the actions check input against: they change rarely,
	// so they are read at most every five minutes, and again at once when
	// the copy cannot answer.
	agents *memo.Memo[map[string]*sources.Agent] // by id
	types  *memo.Memo[[]*sources.TicketType]
}

// listsFor is how long the workspace lists serve.
const listsFor = 5 * time.Minute

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CallLogAs == "" {
		cfg.CallLogAs = "note"
	}
	if cfg.Finder != nil {
		cfg.Finder = freshFinder{cfg.Finder}
	}
	lists := memo.Config{TTL: listsFor, Now: cfg.Now}
	return &Service{
		cfg: cfg,
		agents: memo.New(lists, func(ctx context.Context) (map[string]*sources.Agent, error) {
			list, err := cfg.Agents.ListAgents(ctx)
			if err != nil {
				return nil, err
			}
			m := make(map[string]*sources.Agent, len(list))
			for _, a := range list {
				m[a.ID] = a
			}
			return m, nil
		}),
		types: memo.New(lists, func(ctx context.Context) ([]*sources.TicketType, error) {
			return cfg.Executor.TicketTypes(ctx)
		}),
	}
}

// guarded runs an action under an idempotency key (none: it just runs).
func guarded[R any](ctx context.Context, s *Service, action, key string, input any, run func(context.Context) (R, error),
	reconcile func(context.Context, time.Time) (R, bool, error)) (R, error) {
	if key == "" {
		return run(ctx)
	}
	recordKey, err := s.recordKey(ctx, action, key)
	if err != nil {
		var zero R
		return zero, err
	}
	r, _, err := idempotency.Do(ctx, s.cfg.Guard, idempotency.Action[R]{
		Key:       recordKey,
		Input:     input,
		Run:       run,
		Reconcile: reconcile,
	})
	return r, err
}

// replay answers a retry of an action already done under key with its
// result, before anything is checked against Intercom (see
// idempotency.Replay): found is false when the action must go on.
func replay[R any](ctx context.Context, s *Service, action, key string, input any) (r R, found bool, err error) {
	if key == "" || len(key) > maxKey || reserved(ctx, key) {
		return r, false, nil
	}
	recordKey, err := s.recordKey(ctx, action, key)
	if err != nil {
		return r, false, nil // the action reports it
	}
	return idempotency.Replay[R](ctx, s.cfg.Guard, recordKey, input)
}

// recordKey is where the idempotency record of action under key lives: a
// durable name (a cache bump must not forget the records), with the
// workspace's hash tag.
func (s *Service) recordKey(ctx context.Context, action, key string) (string, error) {
	id, known := s.cfg.WorkspaceID.Get()
	if !known {
		// The action needs its workspace: /me tells it (and the source learns it).
		ws, err := s.cfg.Workspace.Validate(ctx)
		if err != nil {
			return "", err
		}
		id = ws.ID
	}
	return redis.IdempotencyKey(id, action, key), nil
}

// maxKey is the longest idempotency key.
const maxKey = 255

// DerivedKeyPrefix begins every idempotency key this service derives from a
// request itself (the bridge's, see internal/talkdesk; the call events', see
// internal/callevents): a namespace that a key a client chooses cannot take,
// or a GraphQL caller could claim the key of Talkdesk's coming retry and have
// it refused as a CONFLICT for a day.
const DerivedKeyPrefix = "talkdesk:"

type derivedKeysKey struct{}

// WithDerivedKeys marks ctx as a request of the service's own making (the
// bridge): its keys may be derived ones.
func WithDerivedKeys(ctx context.Context) context.Context {
	return context.WithValue(ctx, derivedKeysKey{}, true)
}

// reserved reports a key in the derived keys' namespace from a request that
// may not use it: it is refused before any record is read.
func reserved(ctx context.Context, key string) bool {
	derived, _ := ctx.Value(derivedKeysKey{}).(bool)
	return !derived && strings.HasPrefix(key, DerivedKeyPrefix)
}

// checkKey validates an idempotency key.
func checkKey(ctx context.Context, p *Problems, key string) {
	if len(key) > maxKey {
		p.add("idempotencyKey", "idempotencyKey must be at most 255 characters")
	}
	if reserved(ctx, key) {
		p.add("idempotencyKey", "idempotencyKey must not begin with %s: those keys are the ones the Talkdesk bridge derives", sources.Quote(DerivedKeyPrefix))
	}
}

// agent returns the admin with id; an id the copy lacks (a new teammate)
// reads the list again.
func (s *Service) agent(ctx context.Context, id string) (*sources.Agent, error) {
	agents, err := s.agents.GetUnless(ctx, func(m map[string]*sources.Agent) bool { return m[id] == nil })
	if err != nil {
		return nil, err
	}
	return agents[id], nil
}

// author resolves the admin who acts: the one named, or the token's admin.
func (s *Service) author(ctx context.Context, p *Problems, field, id string) (string, error) {
	if id == "" {
		return s.tokenAdmin(ctx)
	}
	a, err := s.agent(ctx, id)
	if err != nil {
		return "", err
	}
	if a == nil {
		p.addCode(sources.ENotFound, field, "no admin has id %s", sources.Quote(id))
	}
	return id, nil
}

// tokenAdmin is the admin the token acts as: the default author.
func (s *Service) tokenAdmin(ctx context.Context) (string, error) {
	ws, err := s.cfg.Workspace.Validate(ctx)
	if err != nil {
		return "", err
	}
	return ws.Admin.ID, nil
}

// freshFinder reads for actions: an action decides on what it reads (does
// the contact exist, is there a duplicate), so it is never answered with a
// stale value, even while Intercom fails.
type freshFinder struct{ next sources.ContactFinder }

func (f freshFinder) ContactsByIDs(ctx context.Context, ids []string) (map[string]*sources.Contact, error) {
	return f.next.ContactsByIDs(sources.WithoutStale(ctx), ids)
}

func (f freshFinder) ContactsByPhones(ctx context.Context, phones []string) (map[string][]*sources.Contact, error) {
	return f.next.ContactsByPhones(sources.WithoutStale(ctx), phones)
}

func (f freshFinder) ContactsByEmails(ctx context.Context, emails []string) (map[string][]*sources.Contact, error) {
	return f.next.ContactsByEmails(sources.WithoutStale(ctx), emails)
}

// contact checks that a contact exists and returns it.
func (s *Service) contact(ctx context.Context, p *Problems, field, id string) (*sources.Contact, error) {
	if strings.TrimSpace(id) == "" {
		p.add(field, "%s is required", field)
		return nil, nil
	}
	found, err := s.cfg.Finder.ContactsByIDs(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if found[id] == nil {
		p.addCode(sources.ENotFound, field, "no contact has id %s", sources.Quote(id))
	}
	return found[id], nil
}

func (s *Service) invalidate(ctx context.Context, ch sources.Changed) {
	if s.cfg.Invalidator != nil {
		_ = s.cfg.Invalidator.Invalidate(ctx, ch)
	}
}

// asProblems turns an upstream refusal the caller can fix into Problems.
func asProblems(err error, field string) (Problems, bool) {
	switch code := sources.ErrorCode(err); code {
	case sources.EBadUserInput, sources.ENotFound, sources.EConflict:
		return Problems{{Field: field, Message: sources.ErrorMessage(err), Code: code}}, true
	}
	return nil, false
}
