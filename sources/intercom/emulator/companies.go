package emulator

import (
	"cmp"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Company is the emulator's model of an Intercom company.
type Company struct {
	ID           string // Intercom's id
	CompanyID    string // the id you defined ("company_id")
	Name         string
	Website      string
	Industry     string
	Size         int // employees
	MonthlySpend int
	SessionCount int
	PlanID       string // "" = no plan
	PlanName     string
	TagIDs       []string
	// CustomAttributes are strings: the description types company custom
	// attribute values as strings.
	CustomAttributes map[string]string
	RemoteCreatedAt  time.Time // zero = omitted
	CreatedAt        time.Time
	UpdatedAt        time.Time
	LastRequestAt    time.Time // zero = omitted
}

func (c *Company) clone() Company {
	d := *c
	d.TagIDs = slices.Clone(c.TagIDs)
	d.CustomAttributes = maps.Clone(c.CustomAttributes)
	return d
}

// Tag is a workspace tag; contacts and companies refer to tags by ID.
type Tag struct {
	ID   string
	Name string
}

// Companies returns copies of all companies in seed order.
func (w *Workspace) Companies() []Company {
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := make([]Company, len(w.companies))
	for i, c := range w.companies {
		out[i] = c.clone()
	}
	return out
}

// Company returns the company with Intercom id id.
func (w *Workspace) Company(id string) (Company, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	c := w.companyBy[id]
	if c == nil {
		return Company{}, false
	}
	return c.clone(), true
}

// Tags returns the workspace tags.
func (w *Workspace) Tags() []Tag {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return slices.Clone(w.tags)
}

// ---- JSON bodies ----

type planBody struct {
	Type string `json:"type,omitempty"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

type tagBody struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

type tagListBody struct {
	Type string    `json:"type"`
	Tags []tagBody `json:"tags"`
}

type segmentListBody struct {
	Type     string `json:"type"`
	Segments []any  `json:"segments"`
}

type companyBody struct {
	Type             string            `json:"type"`
	CompanyID        string            `json:"company_id"`
	ID               string            `json:"id"`
	AppID            string            `json:"app_id"`
	Name             string            `json:"name"`
	RemoteCreatedAt  *int64            `json:"remote_created_at,omitempty"`
	CreatedAt        int64             `json:"created_at"`
	UpdatedAt        int64             `json:"updated_at"`
	LastRequestAt    *int64            `json:"last_request_at,omitempty"`
	MonthlySpend     int               `json:"monthly_spend"`
	SessionCount     int               `json:"session_count"`
	UserCount        int               `json:"user_count"`
	Size             *int              `json:"size,omitempty"`
	Website          string            `json:"website,omitempty"`
	Industry         string            `json:"industry,omitempty"`
	Tags             tagListBody       `json:"tags"`
	Segments         segmentListBody   `json:"segments"`
	Plan             planBody          `json:"plan"`
	CustomAttributes map[string]string `json:"custom_attributes"`
}

// companyBodyLocked renders co; w.mu must be held. Fields the schema types
// as non-nullable integers or strings are omitted rather than sent as null.
func (w *Workspace) companyBodyLocked(co *Company, users int) companyBody {
	b := companyBody{
		Type:             "company",
		CompanyID:        co.CompanyID,
		ID:               co.ID,
		AppID:            w.opts.WorkspaceID,
		Name:             co.Name,
		RemoteCreatedAt:  timePtr(co.RemoteCreatedAt),
		CreatedAt:        co.CreatedAt.Unix(),
		UpdatedAt:        co.UpdatedAt.Unix(),
		LastRequestAt:    timePtr(co.LastRequestAt),
		MonthlySpend:     co.MonthlySpend,
		SessionCount:     co.SessionCount,
		UserCount:        users,
		Website:          co.Website,
		Industry:         co.Industry,
		Tags:             tagListBody{Type: "tag.list", Tags: []tagBody{}},
		Segments:         segmentListBody{Type: "segment.list", Segments: []any{}},
		CustomAttributes: maps.Clone(co.CustomAttributes),
	}
	if b.CustomAttributes == nil {
		b.CustomAttributes = map[string]string{}
	}
	if co.Size > 0 {
		size := co.Size
		b.Size = &size
	}
	if co.PlanID != "" {
		b.Plan = planBody{Type: "plan", ID: co.PlanID, Name: co.PlanName}
	}
	for _, id := range co.TagIDs {
		for _, t := range w.tags {
			if t.ID == id {
				b.Tags.Tags = append(b.Tags.Tags, tagBody{Type: "tag", ID: t.ID, Name: t.Name})
			}
		}
	}
	return b
}

// userCountsLocked counts the contacts of every company in one pass.
func (w *Workspace) userCountsLocked() map[string]int {
	n := map[string]int{}
	for _, c := range w.order {
		for _, id := range c.CompanyIDs {
			n[id]++
		}
	}
	return n
}

// companyListBody is company_list; pages is cursor_pages even though this
// endpoint pages by number: next is null on the last page (as in the
// description's example) and {per_page} before it.
type companyListBody struct {
	Type       string               `json:"type"`
	Data       []companyBody        `json:"data"`
	Pages      companyListPagesBody `json:"pages"`
	TotalCount int                  `json:"total_count"`
}

type companyListPagesBody struct {
	Type       string    `json:"type"`
	Next       *nextPage `json:"next"`
	Page       int       `json:"page"`
	PerPage    int       `json:"per_page"`
	TotalPages int       `json:"total_pages"`
}

const companiesDefaultPerPage = 15

func (w *Workspace) handleGetCompany(r *http.Request, p map[string]string) (any, *apiError) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	co := w.companyBy[p["id"]]
	if co == nil {
		return nil, errorf(http.StatusNotFound, CodeCompanyNotFound, "Company Not Found")
	}
	return w.companyBodyLocked(co, w.userCountsLocked()[co.ID]), nil
}

// handleListCompanies serves GET /companies: filtered by company_id, name or
// tag_id (404 when a company_id or name matches nothing), otherwise all
// companies by last_request_at descending, paged by page/per_page.
func (w *Workspace) handleListCompanies(r *http.Request, _ map[string]string) (any, *apiError) {
	q := r.URL.Query()
	perPage, page := companiesDefaultPerPage, 1
	if s := q.Get("per_page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPerPage {
			return nil, perPageError(s)
		}
		perPage = n
	}
	if s := q.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			e := errorf(http.StatusBadRequest, CodeParameterInvalid, "page must be a positive integer, got %q", s)
			e.Field = "page"
			return nil, e
		}
		page = n
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	var list []*Company
	for _, co := range w.companies {
		if v := q.Get("company_id"); v != "" && co.CompanyID != v {
			continue
		}
		if v := q.Get("name"); v != "" && co.Name != v {
			continue
		}
		if v := q.Get("tag_id"); v != "" && !slices.Contains(co.TagIDs, v) {
			continue
		}
		if q.Get("segment_id") != "" { // the emulator has no segments
			continue
		}
		list = append(list, co)
	}
	if len(list) == 0 && (q.Get("company_id") != "" || q.Get("name") != "") {
		return nil, errorf(http.StatusNotFound, CodeCompanyNotFound, "Company Not Found")
	}
	slices.SortStableFunc(list, func(a, b *Company) int {
		if c := b.LastRequestAt.Compare(a.LastRequestAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	totalPages := (len(list) + perPage - 1) / perPage
	start := min((page-1)*perPage, len(list))
	end := min(start+perPage, len(list))
	body := companyListBody{
		Type:       "list",
		Data:       make([]companyBody, 0, end-start),
		Pages:      companyListPagesBody{Type: "pages", Page: page, PerPage: perPage, TotalPages: totalPages},
		TotalCount: len(list),
	}
	users := w.userCountsLocked()
	for _, co := range list[start:end] {
		body.Data = append(body.Data, w.companyBodyLocked(co, users[co.ID]))
	}
	if page < totalPages {
		body.Pages.Next = &nextPage{PerPage: perPage}
	}
	return body, nil
}

// tagListResponse is the description's tag_list (GET /tags).
type tagListResponse struct {
	Type string    `json:"type"`
	Data []tagBody `json:"data"`
}

// handleTags lists the workspace's tags.
func (w *Workspace) handleTags(r *http.Request, _ map[string]string) (any, *apiError) {
	body := tagListResponse{Type: "list", Data: []tagBody{}}
	for _, t := range w.Tags() {
		body.Data = append(body.Data, tagBody{Type: "tag", ID: t.ID, Name: t.Name})
	}
	return body, nil
}
