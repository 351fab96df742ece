package intercom

import (
	"context"
	"net/url"

	"golang.org/x/sync/errgroup"

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

// CompaniesByIDs reads companies concurrently (at most fetchConcurrency at a
// time): Intercom has no batch read for companies. Unknown ids are absent.
func (c *Client) CompaniesByIDs(ctx context.Context, ids []string) (map[string]*sources.Company, error) {
	ids = uniqueNonEmpty(ids)
	results := make([]*sources.Company, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fetchConcurrency)
	for i, id := range ids {
		g.Go(func() error {
			co, err := c.Company(gctx, id)
			if sources.IsNotFound(err) {
				return nil
			}
			results[i] = co
			return err
		})
	}
	if err := g.Wait(); err != nil {
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
