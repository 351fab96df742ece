package model

// InteractionConnection is a page of a history. It is hand-written so that
// its edges and end cursor are built only when a query selects them: a
// dashboard reads nodes and totalCount, and every cursor costs an encoding.
type InteractionConnection struct {
	// Nodes are the interactions of this page.
	Nodes []*Interaction
	// TotalCount is how many interactions the whole (filtered) history holds.
	TotalCount int
	// HasNextPage says whether another page follows.
	HasNextPage bool
	// Cursor is the cursor after Nodes[i].
	Cursor func(i int) string
}

// Edges are the page's interactions with their cursors.
func (c *InteractionConnection) Edges() []*InteractionEdge {
	edges := make([]*InteractionEdge, len(c.Nodes))
	for i, n := range c.Nodes {
		edges[i] = &InteractionEdge{Cursor: c.Cursor(i), Node: n}
	}
	return edges
}

// PageInfo is where the page sits in the whole history.
func (c *InteractionConnection) PageInfo() *PageInfo {
	info := &PageInfo{HasNextPage: c.HasNextPage}
	if n := len(c.Nodes); n > 0 {
		end := c.Cursor(n - 1)
		info.EndCursor = &end
	}
	return info
}
