// Package abuse is the regression corpus of abusive GraphQL requests: each
// one took the server down, emptied the workspace's Intercom budget or
// answered megabytes before the limits existed. The tests send every case
// and assert its refusal; the benchmark's W5 sends them while W1 runs.
package abuse

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/talkdesk-intercom/api/sources"
)

// Case is one abusive request and what the server must answer.
type Case struct {
	Name      string
	Query     string
	Variables map[string]any
	// Code is the extensions.code of the refusal; "" when the request is
	// answered (within its limits).
	Code string
}

// Status is the HTTP status of the answer, for a client that accepts
// application/graphql-response+json: 400 for a request refused before it
// runs, 413 for a body too large to read, 200 for one that ran.
func (c Case) Status() int {
	switch c.Code {
	case "", sources.EBadUserInput:
		return http.StatusOK
	case sources.EBodyTooLarge:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// GraphQL is the corpus, with the server's default limits in mind.
func GraphQL() []Case {
	return []Case{
		{Name: "10,000 repeated fields (quadratic validation)",
			Query: "{ workspace { " + strings.Repeat("id ", 10_000) + "} }", Code: sources.EQueryTooLarge},
		{Name: "600 repeated fields",
			Query: "{ workspace { " + strings.Repeat("id ", 600) + "} }", Code: sources.EQueryTooLarge},
		{Name: "each fragment spreads the next twice, 30 deep",
			Query: fragmentChain(30, "...F%[2]d ...F%[2]d", "workspace { id }")},
		{Name: "30 fragments in a chain, each with aliases",
			Query: fragmentChain(30, "a: workspace { __typename } ...F%[2]d b: agents { id } c: __typename", "workspace { id }")},
		{Name: "1,000 aliased searches",
			Query: aliased(1000, `searchContacts(text: "ma", first: 1) { id }`), Code: sources.EQueryTooLarge},
		{Name: "60 aliased searches with 150 contacts and their companies each",
			Query: aliased(60, `searchContacts(text: "ma", first: 150) { id companies { name } }`), Code: sources.EUpstreamBudgetExceeded},
		{Name: "a contact page with every history and company",
			Query: `{ contacts(first: 150) { nodes { company { name } companies { name } interactions(first: 100) { nodes { id } } } } }`,
			Code:  sources.EUpstreamBudgetExceeded},
		{Name: "100,000 ids in a variable (a body over MAX_BODY_BYTES)",
			Query:     `query($ids: [ID!]!) { contactsByIds(ids: $ids) { id } }`,
			Variables: map[string]any{"ids": ids(100_000)}, Code: sources.EBodyTooLarge},
		{Name: "20,000 ids in a variable",
			Query:     `query($ids: [ID!]!) { contactsByIds(ids: $ids) { id } }`,
			Variables: map[string]any{"ids": ids(20_000)}, Code: sources.EQueryTooLarge},
		{Name: "101 ids (at most 100 are read in one request)",
			Query:     `query($ids: [ID!]!) { contactsByIds(ids: $ids) { id } }`,
			Variables: map[string]any{"ids": ids(101)}, Code: sources.EBadUserInput},
		{Name: "30 aliased notes in one mutation",
			Query: "mutation " + aliased(30, `addNote(input: {contactId: "x", body: "spam"}) { userErrors { message } }`),
			Code:  sources.ETooManyActions},
		{Name: "1,000 aliases of the whole schema",
			Query: aliased(1000, `__schema { types { name fields { name type { name } } } }`), Code: sources.EQueryTooLarge},
		{Name: "10 aliases of the whole schema",
			Query: aliased(10, `__schema { types { name fields { name type { name } } } }`), Code: sources.EQueryTooComplex},
		{Name: "50,000 directives on one field",
			Query: "{ workspace " + strings.Repeat("@foo ", 50_000) + "{ id } }", Code: sources.EQueryTooLarge},
		{Name: "10,000 nested lists in an argument",
			Query: `{ contactsByIds(ids: ` + strings.Repeat("[", 10_000) + strings.Repeat("]", 10_000) + `) { id } }`,
			Code:  sources.EQueryTooLarge},
		{Name: "10,000 nested selections",
			Query: strings.Repeat("{ a ", 10_000) + strings.Repeat("} ", 10_000), Code: sources.EQueryTooLarge},
		{Name: "1,000 operations in one document",
			Query: strings.Repeat("query { workspace { id } } ", 1000), Code: sources.EQueryTooLarge},
		{Name: "a 100 KB field name",
			Query: "{ " + strings.Repeat("x", 100_000) + " }", Code: sources.EQueryTooLarge},
		{Name: "a 100-byte unknown field name",
			Query: "{ " + strings.Repeat("x", 100) + " }", Code: sources.EGraphQLValidationFailed},
		{Name: "a 400 KB phone number (a body over MAX_BODY_BYTES)",
			Query: `{ contactsByPhone(phone: "` + strings.Repeat("4", 400_000) + `") { id } }`, Code: sources.EBodyTooLarge},
		{Name: "a 30 KB phone number",
			Query: `{ contactsByPhone(phone: "` + strings.Repeat("4", 30_000) + `") { id } }`, Code: sources.EBadUserInput},
		{Name: "a 100 KB phone number (a document over MAX_QUERY_BYTES)",
			Query: `{ contactsByPhone(phone: "` + strings.Repeat("4", 100_000) + `") { id } }`, Code: sources.EQueryTooLarge},
		{Name: "a 250 KB comment (a document over MAX_QUERY_BYTES)",
			Query: "{ __typename } #" + strings.Repeat("c", 250_000), Code: sources.EQueryTooLarge},
		{Name: "400 unknown fields (400 validation errors)",
			Query: "{ " + numbered(400, "unknown%d") + " }", Code: sources.EGraphQLValidationFailed},
	}
}

// fragmentChain is `query { ...F1 }` and n fragments, each F(i) holding
// body with F(i+1); the last holds leaf.
func fragmentChain(n int, body, leaf string) string {
	var b strings.Builder
	b.WriteString("query { ...F1 }\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "fragment F%d on Query { "+body+" }\n", i, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { %s }\n", n, leaf)
	return b.String()
}

func aliased(n int, field string) string {
	var b strings.Builder
	b.WriteString("{ ")
	for i := range n {
		fmt.Fprintf(&b, "a%d: %s ", i, field)
	}
	b.WriteString("}")
	return b.String()
}

func numbered(n int, format string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(format, i)
	}
	return strings.Join(parts, " ")
}

func ids(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = fmt.Sprintf("c%d", i)
	}
	return out
}
