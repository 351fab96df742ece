package streams

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/talkdesk-intercom/api/internal/access"
	"github.com/talkdesk-intercom/api/internal/workspace"
)

// Shared subscriptions: the dashboards of one contact on a call screen all
// send the same subscription, and each event would be resolved and
// marshalled once per dashboard (a read of the contact, an execution of
// the selection) although every one receives the same answer. The
// WebSocket subscriptions of one caller and workspace with the same
// document and variables therefore share one execution on a replica: it
// runs while any of them runs, and hands each of its responses to all of
// them. What each one receives is what its own execution would have sent.
//
// Not shared: an operation that resumes (a non-null after: the replay of
// its gap is its own), one whose fields cannot resume (no after argument,
// as incomingCall: a member that fell behind could not go on alone without
// a gap), and SSE (each response carries its own event id).
// A subscription that falls behind the others (its client reads slowly)
// leaves the shared execution and resumes in one of its own after the
// last event it was handed, as a reconnecting client would: it misses
// nothing, and slows nobody.

// sharedBuffer is how many responses a subscription may be behind the
// shared execution before it leaves it.
const sharedBuffer = 16

// Sharing is the extension that shares subscriptions: the innermost
// operation interceptor, so that each subscription is admitted, limited
// and costed as its own before it joins an execution.
type Sharing struct{ groups *groups }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = Sharing{}

func (Sharing) ExtensionName() string                   { return "SharedSubscriptions" }
func (Sharing) Validate(graphql.ExecutableSchema) error { return nil }

func (s Sharing) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if st, ok := ctx.Value(streamKey{}).(*stream); !ok || st.ws == nil {
		return next(ctx)
	}
	key, ok := shareKey(ctx, graphql.GetOperationContext(ctx))
	if !ok {
		return next(ctx)
	}
	return s.groups.join(ctx, key, next)
}

// shareKey names what an operation's responses depend on: who asks (the
// caller and the workspace's tenant: limits, costs and credentials are
// theirs) and what (the document, the operation, the variables); ok false
// when it must run alone.
func shareKey(ctx context.Context, rc *graphql.OperationContext) (string, bool) {
	if rc.Operation == nil || rc.Operation.Operation != ast.Subscription {
		return "", false
	}
	for _, sel := range rc.Operation.SelectionSet {
		f, ok := sel.(*ast.Field)
		if !ok {
			return "", false
		}
		if f.Definition == nil || f.Definition.Arguments.ForName("after") == nil {
			return "", false
		}
		if a := f.Arguments.ForName("after"); a != nil {
			if v, err := a.Value.Value(rc.Variables); err != nil || v != nil {
				return "", false
			}
		}
	}
	w, err := workspace.From(ctx)
	if err != nil {
		return "", false
	}
	vars, err := json.Marshal(rc.Variables) // map keys sorted: one spelling per value
	if err != nil {
		return "", false
	}
	return fmt.Sprintf("%s\x00%p\x00%s\x00%s\x00%s", access.Caller(ctx), w.Tenant, rc.OperationName, rc.RawQuery, vars), true
}

// groups are a replica's shared executions, by key.
type groups struct {
	mu   sync.Mutex
	live map[string]*group
}

func newGroups() *groups { return &groups{live: map[string]*group{}} }

// group is one shared execution and the subscriptions it serves.
type group struct {
	groups  *groups
	key     string
	cancel  context.CancelFunc
	seqs    *sequences // the events' sequences, noted by the resolver
	members map[*member]struct{}
	done    bool // no member joins any more
}

// member is one subscription served by a group.
type member struct {
	ctx  context.Context          // the subscription's own
	next graphql.OperationHandler // its own execution, should it fall behind
	ch   chan *graphql.Response   // closed when the group ends or drops it
	// last is the sequence of the last event put in ch, prev the one
	// before it; behind says ch was full: the member goes on alone after
	// last, or after prev when it fell behind amid last's responses (one
	// event may make several: interactionsChanged's), which are then sent
	// again rather than lost.
	last, prev string
	behind     bool
	alone      graphql.ResponseHandler
}

// Members is how many subscriptions shared executions serve beyond one
// each: the hub counts each execution once.
func (gs *groups) Members() int {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	n := 0
	for _, g := range gs.live {
		n += max(0, len(g.members)-1)
	}
	return n
}

// join adds a subscription to the group of key, starting the group's
// execution (next) when there is none, and returns the subscription's
// responses.
func (gs *groups) join(ctx context.Context, key string, next graphql.OperationHandler) graphql.ResponseHandler {
	m := &member{ctx: ctx, next: next, ch: make(chan *graphql.Response, sharedBuffer)}
	gs.mu.Lock()
	g := gs.live[key]
	var gctx context.Context
	if g == nil {
		// The execution outlives the subscription that starts it: it
		// ends when its last member leaves.
		var cancel context.CancelFunc
		gctx, cancel = context.WithCancel(context.WithoutCancel(ctx))
		g = &group{groups: gs, key: key, cancel: cancel, seqs: &sequences{}, members: map[*member]struct{}{}}
		gctx = context.WithValue(gctx, sequencesKey{}, g.seqs)
		gs.live[key] = g
	}
	g.members[m] = struct{}{}
	gs.mu.Unlock()
	context.AfterFunc(ctx, func() { g.leave(m) })
	if gctx != nil {
		// Outside the lock: the resolver may first ask Intercom which
		// workspace a token is. Who joins meanwhile waits for the events.
		go g.run(gctx, next(gctx))
	}
	return m.responses
}

// run hands each response of the shared execution to every member.
func (g *group) run(ctx context.Context, responses graphql.ResponseHandler) {
	defer g.end()
	for {
		resp := responses(ctx)
		if resp == nil {
			return
		}
		seq, _ := g.seqs.next()
		g.groups.mu.Lock()
		for m := range g.members {
			select {
			case m.ch <- resp:
				if seq != "" && seq != m.last {
					m.prev, m.last = m.last, seq
				}
			default:
				// Behind: it reads what it holds, then goes on alone.
				if seq != "" && seq == m.last {
					m.last = m.prev
				}
				m.behind = true
				delete(g.members, m)
				close(m.ch)
			}
		}
		g.groups.mu.Unlock()
	}
}

// end closes the group: its members' streams end as the execution's did.
func (g *group) end() {
	g.groups.mu.Lock()
	defer g.groups.mu.Unlock()
	g.finishLocked()
	for m := range g.members {
		close(m.ch)
	}
	g.members = nil
}

func (g *group) finishLocked() {
	if !g.done {
		g.done = true
		if g.groups.live[g.key] == g {
			delete(g.groups.live, g.key)
		}
	}
}

// leave removes a member whose subscription ended; the execution ends with
// its last member.
func (g *group) leave(m *member) {
	g.groups.mu.Lock()
	defer g.groups.mu.Unlock()
	if _, ok := g.members[m]; !ok {
		return
	}
	delete(g.members, m)
	if len(g.members) == 0 {
		g.finishLocked()
		g.cancel()
	}
}

// responses is a member's response handler: the shared execution's
// responses, then, when it fell behind, those of an execution of its own.
func (m *member) responses(context.Context) *graphql.Response {
	if m.alone != nil {
		return m.alone(m.ctx)
	}
	select {
	case resp, ok := <-m.ch:
		if ok {
			return resp
		}
	case <-m.ctx.Done():
		return nil
	}
	if !m.behind || m.ctx.Err() != nil {
		return nil
	}
	// Alone from here: resume after the last event handed over, as a
	// client reconnecting with it would (or from now when none had one).
	ctx := m.ctx
	if m.last != "" {
		ctx = context.WithValue(ctx, lastEventIDKey{}, m.last)
	}
	m.alone = m.next(ctx)
	return m.alone(ctx)
}
