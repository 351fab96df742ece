package graphqlhttp

import (
	"strings"
	"testing"
)

func TestScanDocument(t *testing.T) {
	for _, c := range []struct {
		name  string
		query string
		want  documentSize
	}{
		{"fields", `{ workspace { id name } }`, documentSize{Tokens: 7, Fields: 3, Nesting: 2, LongestName: 9}},
		{"aliases are not fields", `{ a: workspace { id } b: workspace { id } }`,
			documentSize{Tokens: 14, Fields: 4, Aliases: 2, Nesting: 2, LongestName: 9}},
		{"arguments and variables are not fields", `query Q($p: String = "x") { contactsByPhone(phone: $p, defaultCountry: "US") { id } }`,
			documentSize{Tokens: 25, Fields: 2, Nesting: 2, LongestName: 15}},
		{"object values in arguments are not selections", `mutation { addNote(input: {contactId: "x", body: "y"}) { note { id } } }`,
			documentSize{Tokens: 22, Fields: 3, Nesting: 3, LongestName: 9}},
		{"spreads count, type conditions and directives do not", `{ ...F ... on Query @include(if: true) { workspace @skip(if: false) { id } } } fragment F on Query { agents { id } }`,
			documentSize{Tokens: 37, Fields: 5, Directives: 2, Nesting: 3, LongestName: 9}},
		{"comments are not tokens", "# a comment\n{ workspace { id } }", documentSize{Tokens: 6, Fields: 2, Nesting: 2, LongestName: 9}},
		{"nested lists", `{ contactsByIds(ids: [[["x"]]]) { id } }`, documentSize{Tokens: 17, Fields: 2, Nesting: 5, LongestName: 13}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := scanDocument(c.query); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// FuzzScanDocument: one scan of any input reads at most one token per byte.
func FuzzScanDocument(f *testing.F) {
	f.Add(`{ workspace { id } }`)
	f.Add(`{ a: contactsByIds(ids: [["x"]]) @skip(if: true) { ...F } } fragment F on Contact { id }`)
	f.Add(strings.Repeat("{ a ", 100))
	f.Fuzz(func(t *testing.T, query string) {
		n := scanDocument(query)
		if n.Tokens > len(query) || n.Fields > n.Tokens || n.Aliases > n.Tokens || n.Directives > n.Tokens || n.Nesting > n.Tokens {
			t.Fatalf("%+v for %d bytes", n, len(query))
		}
	})
}
