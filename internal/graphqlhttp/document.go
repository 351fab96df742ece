package graphqlhttp

import (
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"
)

// documentSize is what one scan of a document's tokens counts, before the
// document is parsed or validated: validation is quadratic in repeated
// fields and the parser recurses on nesting, so a document over these
// bounds is refused at a cost linear in its length.
type documentSize struct {
	Tokens      int
	Fields      int // fields and fragment spreads, as written
	Aliases     int
	Directives  int
	Nesting     int // deepest nesting of braces, brackets and parentheses
	LongestName int // bytes of the longest name (errors quote names, and suggest others like them)
}

// scanDocument counts query's tokens in one pass. It stops at the first
// lexical error, which the parser then reports.
func scanDocument(query string) documentSize {
	var n documentSize
	lex := lexer.New(&ast.Source{Input: query})
	var prev lexer.Type
	// stack holds the open brackets; a brace opened outside parentheses
	// and brackets is a selection set, where names are fields.
	var stack []lexer.Type
	valueDepth := 0 // open parentheses and brackets, and braces inside them
	afterOn := false
	// pending is a name in a selection set whose role the next token
	// tells: "name:" is an alias, anything else makes it a field (or the
	// name of a fragment spread).
	pending := false
	for {
		tok, err := lex.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			if pending {
				n.Fields++
			}
			return n
		}
		if tok.Kind == lexer.Comment {
			continue
		}
		n.Tokens++
		inSelection := len(stack) > 0 && valueDepth == 0
		if pending {
			pending = false
			if tok.Kind == lexer.Colon && inSelection {
				n.Aliases++
			} else {
				n.Fields++
			}
		}
		switch tok.Kind {
		case lexer.BraceL, lexer.ParenL, lexer.BracketL:
			if tok.Kind != lexer.BraceL || valueDepth > 0 {
				valueDepth++
			}
			stack = append(stack, tok.Kind)
			n.Nesting = max(n.Nesting, len(stack))
		case lexer.BraceR, lexer.ParenR, lexer.BracketR:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
				if valueDepth > 0 {
					valueDepth--
				}
			}
		case lexer.At:
			n.Directives++
		case lexer.Name:
			n.LongestName = max(n.LongestName, len(tok.Value))
			switch {
			case !inSelection || prev == lexer.At:
			case afterOn:
				afterOn = false // the type of "... on Type"
			case prev == lexer.Spread && tok.Value == "on":
				afterOn = true
			default:
				pending = true
			}
		}
		prev = tok.Kind
	}
}
