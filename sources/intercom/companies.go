package intercom

import (
	"context"
	"net/url"
	"strconv"

	"github.com/talkdesk-intercom/api/sources"
)

// Company returns one company by Intercom id.
func (c *Client) Company(ctx context.Context, id string) (*sources.Company, error) {
	var w wireCompany
	if err := c.do(ctx, "GET", "GET /companies/{id}", "/companies/"+url.PathEscape(id), nil, nil, &w); err != nil {
		return nil, err
	}
	return c.toCompany(w), nil
}

// CompaniesByIDs reads companies concurrently (at most Config.Concurrency at a
// time): Intercom has no batch read for companies. Unknown ids are absent.
func (c *Client) CompaniesByIDs(ctx context.Context, ids []string) (map[string]*sources.Company, error) {
	ids = sources.UniqueIDs(ids)
	results, err := readEach(ctx, c.concurrency, ids, c.Company)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*sources.Company, len(ids))
	for i, co := range results {
		if co != nil {
			out[ids[i]] = co
		}
	}
	return out, nil
}

// ListCompanies reads one page (from 1) of GET /companies.
func (c *Client) ListCompanies(ctx context.Context, page, perPage int) ([]*sources.Company, bool, error) {
	var w struct {
		Data  []wireCompany `json:"data"`
		Pages *struct {
			Page       int `json:"page"`
			TotalPages int `json:"total_pages"`
		} `json:"pages"`
	}
	q := url.Values{"page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(perPage)}}
	if err := c.do(ctx, "GET", "GET /companies", "/companies", q, nil, &w); err != nil {
		return nil, false, err
	}
	out := make([]*sources.Company, len(w.Data))
	for i, co := range w.Data {
		out[i] = c.toCompany(co)
	}
	more := w.Pages != nil && w.Pages.Page < w.Pages.TotalPages && len(w.Data) > 0
	return out, more, nil
}
