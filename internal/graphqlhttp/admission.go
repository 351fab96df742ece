package graphqlhttp

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/talkdesk-intercom/api/internal/access"
	"github.com/talkdesk-intercom/api/sources"
)

// The settings of the admission, named in its refusals.
const (
	settingConcurrent  = "MAX_CONCURRENT_REQUESTS_PER_CALLER"
	settingRestoreRate = "COST_RESTORE_RATE"
)

// admission decides, once an operation is validated and within the limits,
// whether its caller may run it now: first a place among the caller's
// running operations, then the operation's complexity from the caller's
// budget. An operation refused for its place spends nothing.
//
// It runs in the transport, around one operation's execution and answer:
// the place is held until the answer is written (the answer's bytes are
// what a costly operation holds longest). It counts operations, not
// connections: a transport that streams decides how its events count.
type admission struct {
	limits   Limits
	budget   *access.Budget
	inflight *access.InFlight
}

// admit returns the operation's extensions.cost and the release of its
// place, or the refusal (a request error, answered 429 with Retry-After).
func (a admission) admit(ctx context.Context, oc *graphql.OperationContext) (release func(), ext map[string]any, refused *gqlerror.Error) {
	est := estimateOf(oc)
	ext = costExtension(est, a.limits)
	ext["spent"] = 0
	caller := access.Caller(ctx)
	release, ok := a.inflight.Acquire(caller)
	if !ok {
		return nil, nil, admissionRefusal(ext, fmt.Sprintf(
			"this caller already has %d operations running; at most %d may run at once (%s): wait for one to end",
			a.inflight.Max(), a.inflight.Max(), settingConcurrent), settingConcurrent, a.inflight.Max(), time.Second)
	}
	if a.budget == nil {
		return release, nil, nil // answers carry their cost with a budget only
	}
	status, wait, ok := a.budget.Spend(caller, est.Complexity)
	ext["throttleStatus"] = status
	if !ok {
		release()
		return nil, nil, admissionRefusal(ext, fmt.Sprintf(
			"the operation costs %d; this caller has %d of %d left, restored at %d a second (%s): retry in %s, or ask for less",
			est.Complexity, status.CurrentlyAvailable, status.MaximumAvailable, status.RestoreRate, settingRestoreRate,
			wait.Round(time.Millisecond)), settingRestoreRate, status.RestoreRate, wait)
	}
	ext["spent"] = est.Complexity
	return release, ext, nil
}

// admissionRefusal is RATE_LIMITED with the limit's setting and bound, a
// retry hint in whole seconds (at least one) and the operation's cost.
func admissionRefusal(cost map[string]any, msg, setting string, limit int, wait time.Duration) *gqlerror.Error {
	retry := max(1, int((wait+time.Second-1)/time.Second))
	return &gqlerror.Error{
		Message: msg,
		Extensions: map[string]any{"code": sources.ERateLimited, "limit": setting, "max": limit,
			"retryAfterSeconds": retry, "cost": cost},
	}
}

type admittedKey struct{}

// streamAdmission admits the operations of the transports that stream
// (WebSocket, SSE, multipart/mixed), which gqlgen runs without
// Transport.Do: they spend the same budget and hold the same places. A
// subscription spends its complexity once, when it starts, and holds no
// place among running operations (the stream limits bound it). An
// operation Transport.Do admitted passes.
type streamAdmission struct{ admission }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = streamAdmission{}

func (streamAdmission) ExtensionName() string                   { return "StreamAdmission" }
func (streamAdmission) Validate(graphql.ExecutableSchema) error { return nil }

func (s streamAdmission) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if admitted, _ := ctx.Value(admittedKey{}).(bool); admitted {
		return next(ctx)
	}
	oc := graphql.GetOperationContext(ctx)
	release, _, refused := s.admit(ctx, oc)
	if refused != nil {
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{refused}})
	}
	var once sync.Once
	done := func() { once.Do(release) }
	if oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
		done()
		return next(ctx)
	}
	// Held until the last part is answered, or the operation's context
	// ends (the client left mid-stream).
	stop := context.AfterFunc(ctx, done)
	h := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		if resp == nil || resp.HasNext == nil || !*resp.HasNext {
			stop()
			done()
		}
		return resp
	}
}
