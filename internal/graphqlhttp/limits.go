package graphqlhttp

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/talkdesk-intercom/api/internal/cost"
	"github.com/talkdesk-intercom/api/sources"
)

// Limits bound what one request may cost (0: no bound). The first six are
// checked on the document's tokens before it is parsed, the others on the
// validated operation with its variables, before it runs.
type Limits struct {
	// MaxBytes bounds the document's bytes, comments and white space
	// included: it is what a registered persisted query keeps.
	MaxBytes      int
	MaxTokens     int // tokens of the document
	MaxFields     int // fields and fragment spreads written in the document
	MaxAliases    int
	MaxDirectives int
	MaxNesting    int // braces, brackets and parentheses open at once
	MaxNameLength int // bytes of a name (of a field, an argument, a type, …)
	// MaxVariableValues bounds the JSON values of the variables: coercing
	// them to the schema's types costs far more than decoding them.
	MaxVariableValues int

	MaxDepth         int // deepest chain of fields, introspection excepted
	MaxComplexity    int // field values the answer may hold (lists weigh their size)
	MaxIntercomCalls int // Intercom calls the operation may make at worst
	MaxActions       int // mutation fields that write
	MaxIntrospection int // __schema and __type fields

	MaxErrors int // errors in one answer; the rest are summed up in one
}

// The settings that set each limit, named in refusals so that a developer
// knows what was exceeded (and an operator what to raise).
const (
	settingBodyBytes     = "MAX_BODY_BYTES" // enforced by web.LimitBody, answered here
	settingBytes         = "MAX_QUERY_BYTES"
	settingTokens        = "MAX_QUERY_TOKENS"
	settingFields        = "MAX_QUERY_FIELDS"
	settingAliases       = "MAX_QUERY_ALIASES"
	settingDirectives    = "MAX_QUERY_DIRECTIVES"
	settingNesting       = "MAX_QUERY_NESTING"
	settingNameLength    = "MAX_QUERY_NAME_LENGTH"
	settingVariables     = "MAX_VARIABLE_VALUES"
	settingDepth         = "MAX_QUERY_DEPTH"
	settingComplexity    = "MAX_QUERY_COMPLEXITY"
	settingIntercomCalls = "MAX_INTERCOM_CALLS_PER_OPERATION"
	settingActions       = "MAX_ACTIONS_PER_REQUEST"
	settingIntrospection = "MAX_INTROSPECTION_FIELDS"
)

// refusal is a request error that names the limit, its bound and the value
// the request reached.
func refusal(code, setting, what string, value, limit int) *gqlerror.Error {
	return &gqlerror.Error{
		Message:    fmt.Sprintf("the operation has %d %s; at most %d are allowed (%s)", value, what, limit, setting),
		Extensions: map[string]any{"code": code, "limit": setting, "max": limit, "value": value},
	}
}

// documentLimits refuses documents over the token-level bounds before
// gqlgen parses and validates them.
type documentLimits struct{ Limits }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = documentLimits{}

func (documentLimits) ExtensionName() string                   { return "DocumentLimits" }
func (documentLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (d documentLimits) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	if d.MaxBytes > 0 && len(p.Query) > d.MaxBytes {
		return refusal(sources.EQueryTooLarge, settingBytes, "bytes (comments and white space count)", len(p.Query), d.MaxBytes)
	}
	n := scanDocument(p.Query)
	for _, c := range []struct {
		value, limit  int
		setting, what string
	}{
		{n.Tokens, d.MaxTokens, settingTokens, "tokens"},
		{n.Fields, d.MaxFields, settingFields, "fields and fragment spreads"},
		{n.Aliases, d.MaxAliases, settingAliases, "aliases"},
		{n.Directives, d.MaxDirectives, settingDirectives, "directives"},
		{n.Nesting, d.MaxNesting, settingNesting, "levels of nested braces, brackets and parentheses"},
		{n.LongestName, d.MaxNameLength, settingNameLength, "bytes in its longest name"},
		{countValues(p.Variables), d.MaxVariableValues, settingVariables, "values in its variables"},
	} {
		if c.limit > 0 && c.value > c.limit {
			return refusal(sources.EQueryTooLarge, c.setting, c.what, c.value, c.limit)
		}
	}
	return nil
}

// countValues counts the JSON values in vars (each member, element and
// scalar).
func countValues(vars map[string]any) int {
	n := 0
	var walk func(any)
	walk = func(v any) {
		n++
		switch v := v.(type) {
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	for _, v := range vars {
		walk(v)
	}
	return n
}

// operationLimits estimates the validated operation with the cost model and
// refuses it before it runs when it is over a bound. Every refusal carries
// the estimate in extensions.cost.
type operationLimits struct {
	Limits
	model         cost.Model
	introspection bool
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = operationLimits{}

func (operationLimits) ExtensionName() string                   { return "OperationLimits" }
func (operationLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (o operationLimits) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	est := cost.Operation(o.model, oc.Operation, oc.Variables)
	// Kept for the admission (the caller's budget) and the answer's
	// extensions.cost.
	oc.Stats.SetExtension(estimateStats, est)
	err := o.check(est)
	if err != nil {
		err.Extensions["cost"] = costExtension(est, o.Limits)
	}
	return err
}

// estimateStats names the operation's estimate among the operation
// context's statistics.
const estimateStats = "cost"

// estimateOf is the estimate operationLimits kept for oc.
func estimateOf(oc *graphql.OperationContext) cost.Estimate {
	est, _ := oc.Stats.GetExtension(estimateStats).(cost.Estimate)
	return est
}

// costExtension is extensions.cost: the estimate and its bounds.
func costExtension(est cost.Estimate, l Limits) map[string]any {
	return map[string]any{
		"intercomCalls": est.IntercomCalls, "maxIntercomCalls": l.MaxIntercomCalls,
		"complexity": est.Complexity, "maxComplexity": l.MaxComplexity,
		"depth": est.Depth, "actions": est.Actions,
	}
}

func (o operationLimits) check(est cost.Estimate) *gqlerror.Error {
	if !o.introspection && est.Introspection > 0 {
		return &gqlerror.Error{
			Message:    "introspection is disabled on this server (INTROSPECTION=false)",
			Extensions: map[string]any{"code": sources.EIntrospectionDisabled},
		}
	}
	over := func(v, limit int) bool { return limit > 0 && v > limit }
	switch {
	case over(est.Introspection, o.MaxIntrospection):
		return refusal(sources.EQueryTooComplex, settingIntrospection, "__schema and __type fields", est.Introspection, o.MaxIntrospection)
	case over(est.Depth, o.MaxDepth):
		e := refusal(sources.EQueryTooComplex, settingDepth, "", est.Depth, o.MaxDepth)
		e.Message = fmt.Sprintf("the operation is nested %d fields deep; at most %d are allowed (%s)", est.Depth, o.MaxDepth, settingDepth)
		return e
	case over(est.Actions, o.MaxActions):
		return refusal(sources.ETooManyActions, settingActions, "actions", est.Actions, o.MaxActions)
	case over(est.IntercomCalls, o.MaxIntercomCalls):
		e := refusal(sources.EUpstreamBudgetExceeded, settingIntercomCalls, "", est.IntercomCalls, o.MaxIntercomCalls)
		e.Message = fmt.Sprintf("the operation may cost up to %d Intercom calls; one operation may cost at most %d (%s): split it or ask for fewer objects",
			est.IntercomCalls, o.MaxIntercomCalls, settingIntercomCalls)
		return e
	case over(est.Complexity, o.MaxComplexity):
		e := refusal(sources.EQueryTooComplex, settingComplexity, "", est.Complexity, o.MaxComplexity)
		e.Message = fmt.Sprintf("the operation may resolve %d field values; at most %d are allowed (%s): ask for smaller pages or fewer fields",
			est.Complexity, o.MaxComplexity, settingComplexity)
		return e
	}
	return nil
}
