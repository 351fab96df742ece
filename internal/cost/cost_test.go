package cost_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	_ "github.com/vektah/gqlparser/v2/validator/rules" // the standard validation rules

	"github.com/talkdesk-intercom/api/graph"
	"github.com/talkdesk-intercom/api/internal/abuse"
	"github.com/talkdesk-intercom/api/internal/cost"
	"github.com/talkdesk-intercom/api/resolvers"
)

var schema = graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{}}).Schema()

// operation parses and validates query against the real schema.
func operation(t testing.TB, query string) (*ast.OperationDefinition, bool) {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		return nil, false
	}
	if errs := validator.Validate(schema, doc); len(errs) > 0 {
		return nil, false
	}
	if len(doc.Operations) != 1 {
		return nil, false
	}
	return doc.Operations[0], true
}

func TestEstimates(t *testing.T) {
	model := resolvers.Costs()
	for _, c := range []struct {
		name  string
		query string
		vars  map[string]any
		want  cost.Estimate
	}{
		{"no upstream field", `{ __typename actions { name } }`, nil,
			cost.Estimate{Depth: 2, Complexity: 2}},
		{"caller lookup: one search", `query($p: String!) { contactsByPhone(phone: $p) { id name } }`, map[string]any{"p": "+14155550142"},
			cost.Estimate{Depth: 2, Complexity: 5, IntercomCalls: 2}}, // 1 + 1/20, rounded up
		{"ids join one batched search", `{ contactsByIds(ids: ["a", "b", "c"]) { id } }`, nil,
			cost.Estimate{Depth: 2, Complexity: 4, IntercomCalls: 2}},
		{"a page of contacts with their companies: 1 page + 3 reads each", `{ contacts(first: 20) { nodes { companies { name } } } }`, nil,
			cost.Estimate{Depth: 4, Complexity: 1 + 20*(1+1+3), IntercomCalls: 61}},
		{"repeated fields run once", `{ workspace { id id id name } }`, nil,
			cost.Estimate{Depth: 2, Complexity: 3}},
		{"a fragment spread twice into one set is collected once", `{ ...W ...W } fragment W on Query { agents { id } }`, nil,
			cost.Estimate{Depth: 2, Complexity: 2, IntercomCalls: 1}},
		{"actions are counted", `mutation { a: addNote(input: {contactId: "x", body: "b"}) { note { id } } b: addNote(input: {contactId: "y", body: "b"}) { note { id } } }`, nil,
			cost.Estimate{Depth: 3, Complexity: 6, IntercomCalls: 4, Actions: 2}},
		{"introspection is counted, not walked", `{ a: __schema { types { name } } b: __type(name: "Contact") { name } }`, nil,
			cost.Estimate{Introspection: 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			op, ok := operation(t, c.query)
			if !ok {
				t.Fatalf("invalid query")
			}
			got := cost.Operation(model, op, c.vars)
			got.Visits = 0
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestFragmentsAreCostedOnce: a chain of fragments that each spread the
// next under two fields costs 2^n, and is walked in n steps.
func TestFragmentsAreCostedOnce(t *testing.T) {
	const n = 40
	var b strings.Builder
	b.WriteString("query { ...F1 }\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "fragment F%d on Query { a%d: contactsByIds(ids: [\"x\"]) { id } ...F%d b%d: agents { id } ...F%d }\n", i, i, i+1, i, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { workspace { id } }\n", n)
	op, ok := operation(t, b.String())
	if !ok {
		t.Fatal("invalid query")
	}
	est := cost.Operation(resolvers.Costs(), op, nil)
	if est.Visits > 7*n { // seven selections are written in each fragment
		t.Errorf("%d selections visited for a %d-fragment chain", est.Visits, n)
	}
	if want := 2 + 4*(n-1); est.Complexity != want {
		t.Errorf("complexity %d, want %d", est.Complexity, want)
	}
}

// FuzzEstimate checks on random documents that an estimate's work is
// linear: it never visits more selections than the document holds.
func FuzzEstimate(f *testing.F) {
	for _, c := range abuse.GraphQL() {
		if len(c.Query) < 2000 {
			f.Add(c.Query)
		}
	}
	f.Add(`{ contactsByPhone(phone: "1") { id ...C companies { ...Co } } } fragment C on Contact { name interactions { nodes { id } } } fragment Co on Company { name }`)
	f.Add(`query { ...A ...B } fragment A on Query { ...B workspace { id } } fragment B on Query { agents { id } }`)
	model := resolvers.Costs()
	f.Fuzz(func(t *testing.T, query string) {
		if len(query) > 4000 {
			return // the document limits refuse these before validation
		}
		doc, err := parser.ParseQuery(&ast.Source{Input: query})
		if err != nil || validate(doc) != nil {
			return
		}
		written := 0
		var walk func(ast.SelectionSet)
		walk = func(set ast.SelectionSet) {
			for _, s := range set {
				written++
				switch s := s.(type) {
				case *ast.Field:
					walk(s.SelectionSet)
				case *ast.InlineFragment:
					walk(s.SelectionSet)
				}
			}
		}
		for _, op := range doc.Operations {
			walk(op.SelectionSet)
		}
		for _, fr := range doc.Fragments {
			walk(fr.SelectionSet)
		}
		for _, op := range doc.Operations {
			if est := cost.Operation(model, op, nil); est.Visits > written {
				t.Fatalf("visited %d selections of %d written", est.Visits, written)
			}
		}
	})
}

func validate(doc *ast.QueryDocument) gqlerror.List { return validator.Validate(schema, doc) }
