package graphqlhttp

import (
	"context"

	"github.com/maypok86/otter/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// queryCache keeps parsed and validated documents by their text, bounded
// by bytes: gqlgen's LRU counts entries, and a client chooses how long each
// key is (a comment makes a new, large one).
type queryCache struct {
	docs *otter.Cache[string, *ast.QueryDocument]
}

// queryWeight estimates what a cached document costs: its text, which is
// the key, and its syntax tree, a few times the text of its tokens.
func queryWeight(text string, _ *ast.QueryDocument) uint32 {
	return uint32(min(4*len(text)+4096, 1<<31))
}

func newQueryCache(maxBytes int64) *queryCache {
	return &queryCache{docs: otter.Must(&otter.Options[string, *ast.QueryDocument]{
		MaximumWeight: uint64(maxBytes),
		Weigher:       queryWeight,
	})}
}

func (c *queryCache) Get(_ context.Context, text string) (*ast.QueryDocument, bool) {
	return c.docs.GetIfPresent(text)
}

func (c *queryCache) Add(_ context.Context, text string, doc *ast.QueryDocument) {
	c.docs.Set(text, doc)
}
