package intercom

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/phone"
)

var _ sources.Source = (*Client)(nil)

// defaultConcurrency bounds parallel single-object GETs (Intercom has no
// batch read for them) so one request cannot eat the workspace's rate budget.
const defaultConcurrency = 8

// readEach reads each id with read, at most limit at a time, into the
// result at the id's index. An id that is not found leaves the zero value;
// any other error stops the reads and is returned.
func readEach[T any](ctx context.Context, limit int, ids []string, read func(context.Context, string) (T, error)) ([]T, error) {
	results := make([]T, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for i, id := range ids {
		g.Go(func() error {
			v, err := read(gctx, id)
			if sources.IsNotFound(err) {
				return nil
			}
			results[i] = v
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return results, nil
}

// Contact returns one contact by Intercom id.
func (c *Client) Contact(ctx context.Context, id string) (*sources.Contact, error) {
	var w wireContact
	if err := c.do(ctx, "GET", "GET /contacts/{id}", "/contacts/"+url.PathEscape(id), nil, nil, &w); err != nil {
		return nil, err
	}
	return c.toContact(w), nil
}

// ContactsByIDs finds contacts with one `id IN [...]` search per 100 ids.
// Ids the search misses are read one by one: a contact created minutes ago
// is not searchable yet, but is readable.
func (c *Client) ContactsByIDs(ctx context.Context, ids []string) (map[string]*sources.Contact, error) {
	ids = sources.UniqueIDs(ids)
	out := make(map[string]*sources.Contact, len(ids))
	if len(ids) == 1 {
		return out, c.fetchContacts(ctx, ids, out)
	}
	for _, part := range chunk(ids, maxINValues) {
		found, err := c.searchContactsAll(ctx, in("id", part), 0)
		if err != nil {
			return nil, err
		}
		for _, w := range found {
			out[string(w.ID)] = c.toContact(w)
		}
	}
	var missing []string
	for _, id := range ids {
		if out[id] == nil {
			missing = append(missing, id)
		}
	}
	return out, c.fetchContacts(ctx, missing, out)
}

// fetchContacts reads contacts one by one into out; unknown ids are skipped.
func (c *Client) fetchContacts(ctx context.Context, ids []string, out map[string]*sources.Contact) error {
	results, err := readEach(ctx, c.concurrency, ids, c.Contact)
	if err != nil {
		return err
	}
	for i, ct := range results {
		if ct != nil {
			out[ids[i]] = ct
		}
	}
	return nil
}

// ContactsByEmails finds contacts with `email IN [...]` searches. Keys are the
// emails as given; Intercom matches them case-insensitively.
func (c *Client) ContactsByEmails(ctx context.Context, emails []string) (map[string][]*sources.Contact, error) {
	emails = sources.UniqueIDs(emails)
	byLower := map[string][]string{}
	for _, e := range emails {
		byLower[strings.ToLower(e)] = append(byLower[strings.ToLower(e)], e)
	}
	out := map[string][]*sources.Contact{}
	for _, part := range chunk(emails, maxINValues) {
		found, err := c.searchContactsAll(ctx, in("email", part), 0)
		if err != nil {
			return nil, err
		}
		for _, w := range found {
			for _, key := range byLower[strings.ToLower(w.Email)] {
				out[key] = appendUnique(out[key], c.toContact(w))
			}
		}
	}
	return out, nil
}

// phoneSearch remembers whether the workspace's API version lacks
// formatted_phone, so that later lookups search stored spellings only.
type phoneSearch struct {
	formattedPhoneUnsupported atomic.Bool
}

// ContactsByPhones recognises callers with one search per group of numbers:
// `formatted_phone IN [E.164 numbers] OR phone IN [their common spellings]`.
// formatted_phone is Intercom's E.164 index (API 2.16+); the spellings find
// contacts whose phone was stored before Intercom normalised phones. One
// search, not two in a row, because a caller is waiting on the line.
// phones must be E.164; keys of the result are those numbers. With
// Config.Coalesce, lookups of concurrent requests (of one budget owner) share
// searches: a ring storm costs one search per search's worth of numbers, not
// one per caller.
func (c *Client) ContactsByPhones(ctx context.Context, phones []string) (map[string][]*sources.Contact, error) {
	return c.phoneLookups(ctx, sources.UniqueIDs(phones))
}

// phoneWeight is how many of a search's IN values a number takes: its
// spellings.
func phoneWeight(e164 string) int { return max(1, len(phone.Variants(e164))) }

// searchPhoneGroups searches numbers, a search per group of spellings.
func (c *Client) searchPhoneGroups(ctx context.Context, phones []string) (map[string][]*sources.Contact, error) {
	out := map[string][]*sources.Contact{}
	for _, group := range variantGroups(sources.UniqueIDs(phones)) {
		found, err := c.searchPhones(ctx, group)
		if err != nil {
			return nil, err
		}
		c.assignByPhone(found, group.phones, out)
	}
	return out, nil
}

func (c *Client) searchPhones(ctx context.Context, g variantGroup) ([]wireContact, error) {
	if !c.phones.formattedPhoneUnsupported.Load() {
		found, err := c.searchContactsAll(ctx, or(in("formatted_phone", g.phones), in("phone", g.values)), 0)
		if sources.ErrorCode(err) != sources.EBadUserInput {
			return found, err
		}
		// An API version that does not know formatted_phone: from now on
		// search the stored spellings only.
		c.phones.formattedPhoneUnsupported.Store(true)
	}
	return c.searchContactsAll(ctx, in("phone", g.values), 0)
}

type variantGroup struct {
	phones []string
	values []string
}

// variantGroups packs the spellings of several numbers into IN lists of at
// most maxINValues values.
func variantGroups(phones []string) []variantGroup {
	var groups []variantGroup
	var cur variantGroup
	for _, p := range phones {
		vs := phone.Variants(p)
		if len(vs) == 0 {
			vs = []string{p}
		}
		if len(cur.values)+len(vs) > maxINValues && len(cur.phones) > 0 {
			groups = append(groups, cur)
			cur = variantGroup{}
		}
		cur.phones = append(cur.phones, p)
		cur.values = append(cur.values, vs...)
	}
	if len(cur.phones) > 0 {
		groups = append(groups, cur)
	}
	return groups
}

// assignByPhone files each found contact under the asked-for numbers its
// stored phone is a spelling of.
func (c *Client) assignByPhone(found []wireContact, asked []string, out map[string][]*sources.Contact) {
	for _, w := range found {
		ct := c.toContact(w)
		for _, p := range asked {
			if samePhone(w.Phone, ct.Location.CountryCode, p) {
				out[p] = appendUnique(out[p], ct)
			}
		}
	}
}

// samePhone reports whether stored (as a contact holds it) is the number e164.
func samePhone(stored, contactCountry, e164 string) bool {
	if n, err := phone.Normalize(stored, contactCountry); err == nil {
		return n == e164
	}
	// No usable country on the contact: read the number as local to the
	// country of the number asked for.
	n, err := phone.Normalize(stored, phone.Country(e164))
	return err == nil && n == e164
}

// SearchContacts finds contacts whose name or email contains text.
func (c *Client) SearchContacts(ctx context.Context, text string, limit int) ([]*sources.Contact, error) {
	if limit <= 0 {
		limit = defaultPerPage
	}
	found, err := c.searchContactsAll(ctx, or(contains("name", text), contains("email", text)), limit)
	if err != nil {
		return nil, err
	}
	out := make([]*sources.Contact, len(found))
	for i, w := range found {
		out[i] = c.toContact(w)
	}
	return out, nil
}

// ListContacts pages through contacts in ascending updated_at order.
//
// The search is widened to whole days (see onOrAfter); contacts older than
// UpdatedSince are then dropped here, so a page holds exactly the contacts
// changed at or after it.
func (c *Client) ListContacts(ctx context.Context, req sources.ContactPageRequest) (*sources.ContactPage, error) {
	limit := req.Limit
	if limit <= 0 || limit > maxPerPage {
		limit = defaultPerPage
	}
	q := gt("updated_at", 0)
	if !req.UpdatedSince.IsZero() {
		q = onOrAfter("updated_at", req.UpdatedSince)
	}
	sr := searchRequest{
		Query:      q,
		Pagination: &pagination{PerPage: limit, StartingAfter: req.Cursor},
		Sort:       &searchSortSpec{Field: "updated_at", Order: "ascending"},
	}
	page := &sources.ContactPage{Total: -1}
	for {
		wp, err := c.searchContactsPage(ctx, sr)
		if err != nil {
			return nil, err
		}
		if wp.TotalCount != nil && req.UpdatedSince.IsZero() {
			page.Total = *wp.TotalCount
		}
		for _, w := range wp.Data {
			ct := c.toContact(w)
			if ct.UpdatedAt.Before(req.UpdatedSince) {
				continue
			}
			page.Contacts = append(page.Contacts, ct)
		}
		page.NextCursor = wp.Pages.nextCursor()
		// Only the overlap before `since` can leave a page empty: read on
		// rather than hand back an empty page with a cursor.
		if len(page.Contacts) > 0 || page.NextCursor == "" || len(wp.Data) == 0 {
			return page, nil
		}
		sr.Pagination.StartingAfter = page.NextCursor
	}
}

// ContactCompanies lists all companies of a contact; a contact's own body
// carries only the first ten.
func (c *Client) ContactCompanies(ctx context.Context, contactID string) ([]*sources.Company, error) {
	var w wireContactCompanies
	err := c.do(ctx, "GET", "GET /contacts/{id}/companies", "/contacts/"+url.PathEscape(contactID)+"/companies", nil, nil, &w)
	if err != nil {
		return nil, err
	}
	list := w.Companies
	if len(list) == 0 {
		list = w.Data
	}
	out := make([]*sources.Company, len(list))
	for i, co := range list {
		out[i] = c.toCompany(co)
	}
	return out, nil
}

func appendUnique(list []*sources.Contact, ct *sources.Contact) []*sources.Contact {
	if slices.ContainsFunc(list, func(x *sources.Contact) bool { return x.ID == ct.ID }) {
		return list
	}
	return append(list, ct)
}
