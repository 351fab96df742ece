// Package cost is the one model of what a GraphQL operation costs: how many
// fields it resolves (its complexity), how many Intercom calls it may make at
// worst, how many actions it runs and how much introspection it asks for.
// The schema's fields declare their costs once (resolvers.Costs); the
// complexity limit, the per-operation Intercom budget and the benchmark's
// expectations all read them from there.
//
// An estimate is computed in one walk of the operation in which each
// fragment is costed once, whatever how often it is spread: a fragment's
// cost is affine in the number of objects it is spread over (a fixed part,
// such as the first batch of a loader, plus a part per object), so its
// summary is kept and scaled instead of walked again. The work of an
// estimate is therefore linear in the size of the document.
package cost

import (
	"cmp"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// Field is what one field of the schema costs, declared once.
type Field struct {
	// Items is how many objects one instance of the field returns (a list's
	// page size, the ids asked for): everything selected under it counts
	// that many times. Nil: one.
	Items func(Args) int
	// Fixed is the Intercom calls the field costs once per operation
	// however many instances it has: the first batch of a loader, a list
	// read once per request.
	Fixed float64
	// PerInstance is the Intercom calls each instance adds: a read no
	// loader can batch is 1; a key that joins a batched search of 100 keys
	// is 1/100.
	PerInstance func(Args) float64
	// Action marks a mutation field that writes.
	Action bool
	// Bulk marks a root field whose calls (and those of every field under
	// it) wait for interactive ones when the Intercom budget is short:
	// searches and syncs, as opposed to a screen pop.
	Bulk bool
}

// Model maps "Type.field" to its cost. Fields not in it cost no Intercom
// call and return one object.
type Model map[string]Field

// Estimate is what an operation costs at worst.
type Estimate struct {
	// Depth is the deepest chain of fields, introspection excepted.
	Depth int
	// Complexity is how many field values the answer may hold.
	Complexity int
	// IntercomCalls is the most Intercom calls the operation may make.
	IntercomCalls int
	// Actions is how many mutation fields that write it runs.
	Actions int
	// Introspection is how many __schema and __type fields it resolves.
	Introspection int
	// Visits counts the selections the walk looked at: at most the
	// selections written in the document (each fragment is walked once).
	Visits int
}

// summary is the cost of a selection set spread over n objects:
// fixed + n × per for each measure, and its depth.
type summary struct {
	fixedCalls float64
	calls      float64
	complexity float64
	actions    float64
	intro      float64
	depth      int
}

// Operation estimates op with the variables' values.
func Operation(model Model, op *ast.OperationDefinition, vars map[string]any) Estimate {
	w := walker{model: model, vars: vars, fragments: map[*ast.FragmentDefinition]*summary{}}
	s := w.set(op.SelectionSet)
	return Estimate{
		Depth:         s.depth,
		Complexity:    saturate(s.complexity),
		IntercomCalls: saturate(math.Ceil(s.fixedCalls + s.calls)),
		Actions:       saturate(s.actions),
		Introspection: saturate(s.intro),
		Visits:        w.visits,
	}
}

type walker struct {
	model     Model
	vars      map[string]any
	fragments map[*ast.FragmentDefinition]*summary
	visits    int
}

// set sums a selection set. Like GraphQL's field collection, a field
// repeated under one response key runs once (its sub-selections merge) and
// a fragment spread twice into one set is collected once.
func (w *walker) set(set ast.SelectionSet) summary {
	var total summary
	var keys map[string]bool
	var spread map[*ast.FragmentDefinition]bool
	for _, sel := range set {
		w.visits++
		var s summary
		switch sel := sel.(type) {
		case *ast.Field:
			key := cmp.Or(sel.Alias, sel.Name)
			if keys == nil {
				keys = map[string]bool{}
			}
			s = w.field(sel, keys[key])
			keys[key] = true
		case *ast.InlineFragment:
			s = w.set(sel.SelectionSet)
		case *ast.FragmentSpread:
			if spread == nil {
				spread = map[*ast.FragmentDefinition]bool{}
			}
			if !spread[sel.Definition] {
				s = w.fragment(sel.Definition)
			}
			spread[sel.Definition] = true
		}
		total.add(s)
	}
	return total
}

func (w *walker) fragment(def *ast.FragmentDefinition) summary {
	if def == nil {
		return summary{}
	}
	if s, ok := w.fragments[def]; ok {
		return *s
	}
	// A cycle is refused by validation before this runs; the placeholder
	// only keeps a malformed document from recursing forever.
	w.fragments[def] = &summary{}
	s := w.set(def.SelectionSet)
	w.fragments[def] = &s
	return s
}

// field costs f; a repeat of a field already in its set adds only what is
// selected under it.
func (w *walker) field(f *ast.Field, repeat bool) summary {
	switch f.Name {
	case "__typename":
		return summary{}
	case "__schema", "__type":
		// Introspection is bounded by its own limit, not walked: its cost
		// is the schema's size, not the data's.
		return summary{intro: 1}
	}
	var c Field
	if f.ObjectDefinition != nil {
		c = w.model[f.ObjectDefinition.Name+"."+f.Name]
	}
	var args Args
	if c.Items != nil || c.PerInstance != nil {
		args = f.ArgumentMap(w.vars)
	}
	items := 1.0
	if c.Items != nil {
		items = float64(max(c.Items(args), 0))
	}
	child := w.set(f.SelectionSet)
	s := summary{
		fixedCalls: child.fixedCalls,
		calls:      items * child.calls,
		complexity: items * child.complexity,
		actions:    items * child.actions,
		intro:      items * child.intro,
		depth:      1 + child.depth,
	}
	if repeat {
		return s
	}
	s.fixedCalls += c.Fixed
	s.complexity++
	if c.PerInstance != nil {
		s.calls += c.PerInstance(args)
	}
	if c.Action {
		s.actions++
	}
	return s
}

func (s *summary) add(o summary) {
	s.fixedCalls += o.fixedCalls
	s.calls += o.calls
	s.complexity += o.complexity
	s.actions += o.actions
	s.intro += o.intro
	s.depth = max(s.depth, o.depth)
}

// saturate turns a float measure into an int that cannot overflow.
func saturate(f float64) int {
	if f >= math.MaxInt32 || math.IsNaN(f) {
		return math.MaxInt32
	}
	return int(f)
}

// Args are a field's argument values, as gqlparser resolves them (literals
// and variables, defaults applied).
type Args map[string]any

// Int is the integer argument name, or def when absent or not a number.
func (a Args) Int(name string, def int) int {
	switch v := a[name].(type) {
	case int:
		return v
	case int64:
		return int(min(v, math.MaxInt32))
	case float64:
		return int(min(v, math.MaxInt32))
	case json.Number:
		if n, err := strconv.ParseInt(strings.TrimSpace(v.String()), 10, 64); err == nil {
			return int(min(n, math.MaxInt32))
		}
	}
	return def
}

// Len is the length of the list argument name (0 when absent).
func (a Args) Len(name string) int {
	if l, ok := a[name].([]any); ok {
		return len(l)
	}
	return 0
}
