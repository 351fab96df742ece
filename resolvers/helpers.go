package resolvers

import (
	"context"
	"strings"

	"github.com/talkdesk-intercom/api/graph/model"
	"github.com/talkdesk-intercom/api/internal/workspace"
	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/phone"
)

const (
	maxPage       = 150 // Intercom's largest page
	maxSearchText = 100
	maxIDs        = 100
)

// pageSize validates a page-size argument.
func pageSize(field string, n *int, def, most int) (int, error) {
	if n == nil {
		return def, nil
	}
	if *n < 1 || *n > most {
		return 0, sources.InputError(field, "%s must be between 1 and %d, got %d", field, most, *n)
	}
	return *n, nil
}

// normalizePhone turns a caller's number into E.164 or explains why not.
func normalizePhone(phones *PhoneNormalizer, raw string, defaultCountry *string) (string, error) {
	country := ""
	if defaultCountry != nil {
		country = strings.TrimSpace(*defaultCountry)
		if country != "" && !phone.IsValidCountry(country) {
			return "", sources.InputError("defaultCountry", "defaultCountry %s is not an ISO 3166-1 alpha-2 country code such as US or GB", sources.Quote(country))
		}
	}
	e164, err := phones.Normalize(raw, country)
	if err != nil {
		return "", sources.InputError("phone", "phone: %v", err)
	}
	return e164, nil
}

// normalizeEmail checks an address's syntax and lower-cases it.
func normalizeEmail(raw string) (string, error) {
	email, ok := sources.NormalizeEmail(raw)
	if !ok {
		return "", sources.InputError("email", "email %s is not an email address", sources.Quote(raw))
	}
	return email, nil
}

// firstCompany is the id of a contact's first company, if any: what its
// company field reads.
func firstCompany(c *model.Contact) []string { return c.CompanyIDs[:min(1, len(c.CompanyIDs))] }

// companies loads companies by id, in the order of ids, skipping unknown ones.
func (r *Resolver) companies(ctx context.Context, ids []string) ([]*model.Company, error) {
	w, err := workspace.From(ctx)
	if err != nil {
		return nil, err
	}
	found, err := w.Loaders.Companies(ctx, ids)
	out := make([]*model.Company, len(found))
	for i, c := range found {
		out[i] = toCompany(c)
	}
	return out, err
}

// contactConnection builds a page of the contacts connection. cur is where
// the page started (a source cursor and how many of its contacts to skip),
// read is the page size the source was asked for, size the page size wanted.
func contactConnection(page *sources.ContactPage, cur pageCursor, read, size int) *model.ContactConnection {
	all := page.Contacts
	start := min(cur.Skip, len(all))
	end := min(start+size, len(all))
	conn := &model.ContactConnection{
		Edges:    make([]*model.ContactEdge, 0, end-start),
		Nodes:    make([]*model.Contact, 0, end-start),
		PageInfo: &model.PageInfo{HasNextPage: end < len(all) || page.NextCursor != ""},
	}
	if page.Total >= 0 {
		conn.TotalCount = &page.Total
	}
	for i := start; i < end; i++ {
		next := pageCursor{Page: cur.Page, Skip: i + 1, Size: read}
		if i+1 == len(all) && page.NextCursor != "" {
			next = pageCursor{Page: page.NextCursor}
		}
		node := toContact(all[i])
		cursor := next.encode()
		conn.Edges = append(conn.Edges, &model.ContactEdge{Cursor: cursor, Node: node})
		conn.Nodes = append(conn.Nodes, node)
		conn.PageInfo.EndCursor = &cursor
	}
	return conn
}
