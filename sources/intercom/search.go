package intercom

import (
	"context"
	"slices"
	"time"
)

// Search limits Intercom enforces (NOTES.md): pages of at most 150 results,
// at most 15 filters per AND/OR group, at most 2 levels of nesting.
const (
	maxPerPage       = 150
	maxGroupFilters  = 15
	maxINValues      = 100 // undocumented limit; chunk long IN lists to stay well clear
	defaultPerPage   = 50
	endpointContacts = "POST /contacts/search"
)

// filter is one node of Intercom's search query: a field comparison or an
// AND/OR group of filters.
type filter struct {
	Field    string `json:"field,omitempty"`
	Operator string `json:"operator"`
	Value    any    `json:"value"`
}

func eq(field string, value any) filter { return filter{Field: field, Operator: "=", Value: value} }
func in(field string, values []string) filter {
	return filter{Field: field, Operator: "IN", Value: values}
}
func contains(field, text string) filter { return filter{Field: field, Operator: "~", Value: text} }
func gt(field string, value any) filter  { return filter{Field: field, Operator: ">", Value: value} }
func or(fs ...filter) filter             { return filter{Operator: "OR", Value: fs} }
func and(fs ...filter) filter            { return filter{Operator: "AND", Value: fs} }

// onOrAfter is the search filter for "field at or after t", widened to whole
// days: Intercom matches dates by calendar day in the workspace's time zone,
// and "> x" starts at the midnight after x's day. Two days early starts at or
// before t in every time zone, even when t's day is 25 hours long (the end of
// daylight saving time), where one day early would skip the whole day.
// Callers drop what is older than t.
func onOrAfter(field string, t time.Time) filter {
	return gt(field, t.Add(-48*time.Hour).Unix())
}

type searchRequest struct {
	Query      filter          `json:"query"`
	Pagination *pagination     `json:"pagination,omitempty"`
	Sort       *searchSortSpec `json:"sort,omitempty"`
}

type pagination struct {
	PerPage       int    `json:"per_page,omitempty"`
	StartingAfter string `json:"starting_after,omitempty"`
}

type searchSortSpec struct {
	Field string `json:"field"`
	Order string `json:"order"`
}

// searchContactsPage runs one page of a contact search.
func (c *Client) searchContactsPage(ctx context.Context, req searchRequest) (*wireContactList, error) {
	var out wireContactList
	if err := c.do(ctx, "POST", endpointContacts, "/contacts/search", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// searchContactsAll runs a search and follows its cursor until limit results
// (0: no limit) or the last page.
func (c *Client) searchContactsAll(ctx context.Context, q filter, limit int) ([]wireContact, error) {
	perPage := maxPerPage
	if limit > 0 && limit < perPage {
		perPage = limit
	}
	req := searchRequest{Query: q, Pagination: &pagination{PerPage: perPage}}
	var all []wireContact
	for {
		page, err := c.searchContactsPage(ctx, req)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Data...)
		next := page.Pages.nextCursor()
		// An empty cursor has been seen to give 500: stop rather than send one.
		if next == "" || len(page.Data) == 0 || (limit > 0 && len(all) >= limit) {
			break
		}
		req.Pagination.StartingAfter = next
	}
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}

// chunk splits values into slices of at most n.
func chunk(values []string, n int) [][]string {
	return slices.Collect(slices.Chunk(values, n))
}

// searchAll runs a search and hands each page to take, following the
// cursor to the last page.
func searchAll[L any, P interface {
	*L
	pages() *wireListPages
}](ctx context.Context, c *Client, endpoint, path string, q filter, take func(P)) error {
	req := searchRequest{Query: q, Pagination: &pagination{PerPage: maxPerPage}}
	prev := ""
	for range maxListPages {
		page := P(new(L))
		if err := c.do(ctx, "POST", endpoint, path, nil, req, page); err != nil {
			return err
		}
		take(page)
		cursor, _ := page.pages().next()
		// An empty cursor has been seen to give 500; a repeated one would loop.
		if cursor == "" || cursor == prev {
			return nil
		}
		req.Pagination.StartingAfter, prev = cursor, cursor
	}
	return nil
}
