package emulator

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Contact is the emulator's model of an Intercom contact (user or lead).
// Zero times and empty strings are rendered as null where the API allows it.
type Contact struct {
	ID         string
	ExternalID string // "" = null
	Role       string // "user" or "lead"
	Name       string
	Email      string
	// Phone is the phone exactly as stored, in whatever human format it was
	// entered ("(415) 555-0142", "+44 20 7946 0958", ...). "" = no phone.
	Phone string
	// FormattedPhone is Phone in E.164, parsed with LocationCountry as the
	// default region. Intercom only lets you search it (field
	// formatted_phone); it is never part of a contact body. Empty when the
	// contact is Legacy or the phone does not parse.
	FormattedPhone string
	// Legacy contacts predate formatted_phone indexing: a formatted_phone
	// search misses them, a phone search on the stored string finds them.
	Legacy bool

	OwnerID          string // admin id, "" = null
	AvatarURL        string // "" = null avatar
	LocationCountry  string // ISO 3166-1 alpha-2 ("US"); also the phone's default region
	LocationRegion   string
	LocationCity     string
	Browser          string
	BrowserLanguage  string
	OS               string
	LanguageOverride string
	SocialProfiles   []SocialProfile
	CompanyIDs       []string // Intercom ids of the contact's companies
	TagIDs           []string
	// CustomAttributes holds string, int64, float64 and bool values; date
	// attributes (names ending in _at or _date) hold Unix seconds as int64.
	CustomAttributes map[string]any

	UnsubscribedFromEmails bool
	HasHardBounced         bool
	MarkedEmailAsSpam      bool

	CreatedAt       time.Time
	UpdatedAt       time.Time
	SignedUpAt      time.Time // zero = null
	LastSeenAt      time.Time // zero = null
	LastContactedAt time.Time // zero = null
	LastRepliedAt   time.Time // zero = null
}

// SocialProfile is one entry of a contact's social_profiles.
type SocialProfile struct {
	Name string // e.g. "Twitter", "LinkedIn"
	URL  string
}

func (c *Contact) clone() Contact {
	d := *c
	d.SocialProfiles = slices.Clone(c.SocialProfiles)
	d.CompanyIDs = slices.Clone(c.CompanyIDs)
	d.TagIDs = slices.Clone(c.TagIDs)
	d.CustomAttributes = maps.Clone(c.CustomAttributes)
	return d
}

// emailDomain is the part after "@", lower-cased, as Intercom indexes it.
func (c *Contact) emailDomain() string {
	_, dom, ok := strings.Cut(c.Email, "@")
	if !ok {
		return ""
	}
	return strings.ToLower(dom)
}

// FormatE164 returns phone in E.164 using region (ISO alpha-2) for numbers
// without a country code, or "" if it does not parse. It is how the emulator
// computes formatted_phone.
func FormatE164(phone, region string) string {
	if strings.TrimSpace(phone) == "" {
		return ""
	}
	if region == "" {
		region = "US"
	}
	num, err := phonenumbers.Parse(phone, strings.ToUpper(region))
	if err != nil {
		return ""
	}
	return phonenumbers.Format(num, phonenumbers.E164)
}

func (c *Contact) indexPhone() {
	if c.Legacy {
		c.FormattedPhone = ""
		return
	}
	c.FormattedPhone = FormatE164(c.Phone, c.LocationCountry)
}

// contactLess is the default listing order: created_at, then id.
func contactLess(a, b *Contact) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// insertLocked adds c to the index; w.mu must be held for writing.
func (w *Workspace) insertLocked(c *Contact) {
	if old, ok := w.contacts[c.ID]; ok {
		w.removeLocked(old.ID)
	}
	w.contacts[c.ID] = c
	i, _ := slices.BinarySearchFunc(w.order, c, contactLess)
	w.order = slices.Insert(w.order, i, c)
	w.registerAttrsLocked(c)
}

// registerAttrsLocked learns the types of custom attributes not seen before.
func (w *Workspace) registerAttrsLocked(c *Contact) {
	for k, v := range c.CustomAttributes {
		if _, ok := w.attrTypes[k]; !ok {
			w.attrTypes[k] = inferAttrType(k, v)
		}
	}
}

func (w *Workspace) removeLocked(id string) bool {
	c, ok := w.contacts[id]
	if !ok {
		return false
	}
	delete(w.contacts, id)
	w.order = slices.DeleteFunc(w.order, func(x *Contact) bool { return x == c })
	return true
}

// normalizeAttrs converts custom attribute values to the stored kinds.
func normalizeAttrs(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case int:
			v = int64(x)
		case int32:
			v = int64(x)
		case float32:
			v = float64(x)
		case time.Time:
			v = x.Unix()
		case *time.Time:
			if x != nil {
				v = x.Unix()
			}
		}
		out[k] = v
	}
	return out
}

// Contact returns a copy of the contact with id.
func (w *Workspace) Contact(id string) (Contact, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	c, ok := w.contacts[id]
	if !ok {
		return Contact{}, false
	}
	return c.clone(), true
}

// Contacts returns copies of all contacts in the default order (created_at,
// then id) — the order of GET /contacts and of a search without sort.
func (w *Workspace) Contacts() []Contact {
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := make([]Contact, len(w.order))
	for i, c := range w.order {
		out[i] = c.clone()
	}
	return out
}

// AddContact stores c and returns the stored copy. It assigns an id when
// c.ID is empty (a contact with an existing id is replaced), defaults Role to
// "user", CreatedAt to Now() and UpdatedAt to CreatedAt, and computes
// FormattedPhone unless it is set or the contact is Legacy.
func (w *Workspace) AddContact(c Contact) Contact {
	c = c.clone()
	c.CustomAttributes = normalizeAttrs(c.CustomAttributes)
	if c.Role == "" {
		c.Role = "user"
	}
	now := w.now()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	if c.Legacy || c.FormattedPhone == "" {
		c.indexPhone()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if c.ID == "" {
		c.ID = w.newObjectIDLocked()
	}
	w.insertLocked(&c)
	return c.clone()
}

// UpdateContact applies fn to the contact with id and stores the result,
// recomputing FormattedPhone and bumping UpdatedAt to Now() (unless fn set
// UpdatedAt itself). The id cannot be changed.
func (w *Workspace) UpdateContact(id string, fn func(*Contact)) (Contact, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	old, ok := w.contacts[id]
	if !ok {
		return Contact{}, false
	}
	c := old.clone()
	fn(&c)
	c.ID = id
	c.CustomAttributes = normalizeAttrs(c.CustomAttributes)
	c.indexPhone()
	if c.UpdatedAt.Equal(old.UpdatedAt) {
		c.UpdatedAt = w.now()
	}
	w.insertLocked(&c)
	return c.clone(), true
}

// DeleteContact removes the contact with id.
func (w *Workspace) DeleteContact(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.removeLocked(id)
}

// contactLocked returns the contact with id, or Intercom's 404 for an
// unknown contact. w.mu must be held.
func (w *Workspace) contactLocked(id string) (*Contact, *apiError) {
	c, ok := w.contacts[id]
	if !ok {
		return nil, errorf(http.StatusNotFound, CodeNotFound, msgUserNotFound)
	}
	return c, nil
}

// DemoCaller returns the seeded demo caller (see the package doc).
func (w *Workspace) DemoCaller() (Contact, bool) { return w.Contact(DemoCallerID) }

// newObjectIDLocked returns a 24-hex-digit id like Intercom's; w.mu held.
func (w *Workspace) newObjectIDLocked() string {
	for {
		id := fmt.Sprintf("%08x%016x", uint32(w.idRand.Uint64()), w.idRand.Uint64())
		if _, taken := w.contacts[id]; !taken && w.companyBy[id] == nil {
			return id
		}
	}
}

// ---- JSON bodies ----

type addressItem struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	URL  string `json:"url"`
}

// addressList is the description's shape for a contact's tags, notes,
// companies and subscriptions: the first 10 items plus a count.
type addressList struct {
	Type       string        `json:"type"`
	Data       []addressItem `json:"data"`
	URL        string        `json:"url"`
	TotalCount int           `json:"total_count"`
	HasMore    bool          `json:"has_more"`
}

const addressListMax = 10

func newAddressList(url, itemType, itemURL string, ids []string) addressList {
	l := addressList{Type: "list", Data: []addressItem{}, URL: url, TotalCount: len(ids), HasMore: len(ids) > addressListMax}
	for _, id := range ids[:min(len(ids), addressListMax)] {
		l.Data = append(l.Data, addressItem{Type: itemType, ID: id, URL: itemURL + id})
	}
	return l
}

type avatarBody struct {
	Type     string `json:"type"`
	ImageURL string `json:"image_url"`
}

type socialProfileBody struct {
	Type string `json:"type"`
	Name string `json:"name"`
	URL  string `json:"url"`
}

type socialProfilesBody struct {
	Type string              `json:"type"`
	Data []socialProfileBody `json:"data"`
}

type locationBody struct {
	Type          string  `json:"type"`
	Country       *string `json:"country"`
	Region        *string `json:"region"`
	City          *string `json:"city"`
	CountryCode   *string `json:"country_code"`
	ContinentCode *string `json:"continent_code"`
}

// contactBody follows the field order of the description's examples; every
// nullable field is present (as null when unknown), as the live API sends.
type contactBody struct {
	Type                      string             `json:"type"`
	ID                        string             `json:"id"`
	WorkspaceID               string             `json:"workspace_id"`
	ExternalID                *string            `json:"external_id"`
	Role                      string             `json:"role"`
	Email                     string             `json:"email"`
	EmailDomain               string             `json:"email_domain"`
	Phone                     *string            `json:"phone"`
	Name                      *string            `json:"name"`
	Avatar                    *avatarBody        `json:"avatar"`
	OwnerID                   *string            `json:"owner_id"`
	SocialProfiles            socialProfilesBody `json:"social_profiles"`
	HasHardBounced            bool               `json:"has_hard_bounced"`
	MarkedEmailAsSpam         bool               `json:"marked_email_as_spam"`
	UnsubscribedFromEmails    bool               `json:"unsubscribed_from_emails"`
	CreatedAt                 int64              `json:"created_at"`
	UpdatedAt                 int64              `json:"updated_at"`
	SignedUpAt                *int64             `json:"signed_up_at"`
	LastSeenAt                *int64             `json:"last_seen_at"`
	LastRepliedAt             *int64             `json:"last_replied_at"`
	LastContactedAt           *int64             `json:"last_contacted_at"`
	LastEmailOpenedAt         *int64             `json:"last_email_opened_at"`
	LastEmailClickedAt        *int64             `json:"last_email_clicked_at"`
	LanguageOverride          *string            `json:"language_override"`
	Browser                   *string            `json:"browser"`
	BrowserVersion            *string            `json:"browser_version"`
	BrowserLanguage           *string            `json:"browser_language"`
	OS                        *string            `json:"os"`
	Location                  locationBody       `json:"location"`
	AndroidAppName            *string            `json:"android_app_name"`
	AndroidAppVersion         *string            `json:"android_app_version"`
	AndroidDevice             *string            `json:"android_device"`
	AndroidOSVersion          *string            `json:"android_os_version"`
	AndroidSDKVersion         *string            `json:"android_sdk_version"`
	AndroidLastSeenAt         *int64             `json:"android_last_seen_at"`
	IOSAppName                *string            `json:"ios_app_name"`
	IOSAppVersion             *string            `json:"ios_app_version"`
	IOSDevice                 *string            `json:"ios_device"`
	IOSOSVersion              *string            `json:"ios_os_version"`
	IOSSDKVersion             *string            `json:"ios_sdk_version"`
	IOSLastSeenAt             *int64             `json:"ios_last_seen_at"`
	CustomAttributes          map[string]any     `json:"custom_attributes"`
	Tags                      addressList        `json:"tags"`
	Notes                     addressList        `json:"notes"`
	Companies                 addressList        `json:"companies"`
	OptedOutSubscriptionTypes addressList        `json:"opted_out_subscription_types"`
	OptedInSubscriptionTypes  addressList        `json:"opted_in_subscription_types"`
	UTMCampaign               *string            `json:"utm_campaign"`
	UTMContent                *string            `json:"utm_content"`
	UTMMedium                 *string            `json:"utm_medium"`
	UTMSource                 *string            `json:"utm_source"`
	UTMTerm                   *string            `json:"utm_term"`
	Referrer                  *string            `json:"referrer"`
	EnabledPushMessaging      *bool              `json:"enabled_push_messaging"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func timePtr(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	u := t.Unix()
	return &u
}

// body renders c as the API does; w.mu must be held (for reading).
func (w *Workspace) contactBodyLocked(c *Contact) contactBody {
	base := "/contacts/" + c.ID
	b := contactBody{
		Type:                      "contact",
		ID:                        c.ID,
		WorkspaceID:               w.opts.WorkspaceID,
		ExternalID:                strPtr(c.ExternalID),
		Role:                      c.Role,
		Email:                     c.Email,
		EmailDomain:               c.emailDomain(),
		Phone:                     strPtr(c.Phone),
		Name:                      strPtr(c.Name),
		OwnerID:                   strPtr(c.OwnerID),
		SocialProfiles:            socialProfilesBody{Type: "list", Data: []socialProfileBody{}},
		HasHardBounced:            c.HasHardBounced,
		MarkedEmailAsSpam:         c.MarkedEmailAsSpam,
		UnsubscribedFromEmails:    c.UnsubscribedFromEmails,
		CreatedAt:                 c.CreatedAt.Unix(),
		UpdatedAt:                 c.UpdatedAt.Unix(),
		SignedUpAt:                timePtr(c.SignedUpAt),
		LastSeenAt:                timePtr(c.LastSeenAt),
		LastRepliedAt:             timePtr(c.LastRepliedAt),
		LastContactedAt:           timePtr(c.LastContactedAt),
		LanguageOverride:          strPtr(c.LanguageOverride),
		Browser:                   strPtr(c.Browser),
		BrowserLanguage:           strPtr(c.BrowserLanguage),
		OS:                        strPtr(c.OS),
		Location:                  locationOf(c),
		CustomAttributes:          maps.Clone(c.CustomAttributes),
		Tags:                      newAddressList(base+"/tags", "tag", "/tags/", c.TagIDs),
		Notes:                     newAddressList(base+"/notes", "note", "/notes/", w.noteIDsLocked(c.ID)),
		Companies:                 newAddressList(base+"/companies", "company", "/companies/", c.CompanyIDs),
		OptedOutSubscriptionTypes: newAddressList(base+"/subscriptions", "subscription", "/subscriptions/", nil),
		OptedInSubscriptionTypes:  newAddressList(base+"/subscriptions", "subscription", "/subscriptions/", nil),
	}
	if b.CustomAttributes == nil {
		b.CustomAttributes = map[string]any{}
	}
	if c.AvatarURL != "" {
		b.Avatar = &avatarBody{Type: "avatar", ImageURL: c.AvatarURL}
	}
	for _, p := range c.SocialProfiles {
		b.SocialProfiles.Data = append(b.SocialProfiles.Data, socialProfileBody{Type: "social_profile", Name: p.Name, URL: p.URL})
	}
	return b
}

func locationOf(c *Contact) locationBody {
	l := locationBody{Type: "location", Region: strPtr(c.LocationRegion), City: strPtr(c.LocationCity)}
	if c.LocationCountry != "" {
		ci := countryInfo(c.LocationCountry)
		l.Country, l.CountryCode, l.ContinentCode = &ci.name, strPtr(ci.alpha3), strPtr(ci.continent)
	}
	return l
}

// contactListBody is the description's contact_list.
type contactListBody struct {
	Type       string        `json:"type"`
	Data       []contactBody `json:"data"`
	TotalCount int           `json:"total_count"`
	Pages      cursorPages   `json:"pages"`
}

type nextPage struct {
	PerPage       int     `json:"per_page"`
	StartingAfter *string `json:"starting_after,omitempty"`
}

// cursorPages is the description's cursor_pages; next is left out on the
// last page.
type cursorPages struct {
	Type       string    `json:"type"`
	Next       *nextPage `json:"next,omitempty"`
	Page       int       `json:"page"`
	PerPage    int       `json:"per_page"`
	TotalPages int       `json:"total_pages"`
}

// ---- handlers ----

func (w *Workspace) handleGetContact(r *http.Request, p map[string]string) (any, *apiError) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	c, apiErr := w.contactLocked(p["id"])
	if apiErr != nil {
		return nil, apiErr
	}
	return w.contactBodyLocked(c), nil
}

// handleContactByExternalID finds a contact by external_id. The description
// says it only supports users, not leads.
func (w *Workspace) handleContactByExternalID(r *http.Request, p map[string]string) (any, *apiError) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	ext := p["external_id"]
	for _, c := range w.order {
		if c.ExternalID == ext && c.Role == "user" {
			return w.contactBodyLocked(c), nil
		}
	}
	return nil, errorf(http.StatusNotFound, CodeNotFound, msgUserNotFound)
}

// GET /contacts pages default to 10, like the live API (the description says 50).
const (
	listContactsDefaultPerPage = 10
	maxPerPage                 = 150
)

func (w *Workspace) handleListContacts(r *http.Request, _ map[string]string) (any, *apiError) {
	perPage, after, apiErr := queryPaging(r, listContactsDefaultPerPage)
	if apiErr != nil {
		return nil, apiErr
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	items, pages, apiErr := w.contactSearcherLocked().page(w.order, sortSpec[*Contact]{}, perPage, after)
	if apiErr != nil {
		return nil, apiErr
	}
	return w.contactListLocked(items, pages, len(w.order)), nil
}

// contactListLocked renders one page of contacts; w.mu must be held.
func (w *Workspace) contactListLocked(items []*Contact, pages cursorPages, total int) contactListBody {
	body := contactListBody{Type: "list", Data: make([]contactBody, 0, len(items)), TotalCount: total, Pages: pages}
	for _, c := range items {
		body.Data = append(body.Data, w.contactBodyLocked(c))
	}
	return body
}

func (w *Workspace) handleContactCompanies(r *http.Request, p map[string]string) (any, *apiError) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	c, apiErr := w.contactLocked(p["id"])
	if apiErr != nil {
		return nil, apiErr
	}
	list := make([]companyBody, 0, len(c.CompanyIDs))
	users := w.userCountsLocked()
	for _, id := range c.CompanyIDs {
		if co := w.companyBy[id]; co != nil {
			list = append(list, w.companyBodyLocked(co, users[id]))
		}
	}
	return contactCompaniesBody{
		Type:       "list",
		Data:       list,
		Companies:  list,
		TotalCount: len(list),
		Pages:      pagesLink{Type: "pages", Page: 1, PerPage: 50, TotalPages: min(len(list), 1)},
	}, nil
}

// contactCompaniesBody is contact_attached_companies. The schema names the
// array "companies" while the description's example and the live API use
// "data"; both are sent so clients written against either work.
type contactCompaniesBody struct {
	Type       string        `json:"type"`
	Data       []companyBody `json:"data"`
	Companies  []companyBody `json:"companies"`
	TotalCount int           `json:"total_count"`
	Pages      pagesLink     `json:"pages"`
}

// pagesLink is the description's pages_link (next is a URL or null).
type pagesLink struct {
	Type       string  `json:"type"`
	Next       *string `json:"next"`
	Page       int     `json:"page"`
	PerPage    int     `json:"per_page"`
	TotalPages int     `json:"total_pages"`
}
