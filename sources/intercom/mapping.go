package intercom

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/phone"
)

func unixTime(n flexInt) time.Time {
	if n <= 0 {
		return time.Time{}
	}
	return time.Unix(int64(n), 0).UTC()
}

// toContact maps Intercom's contact to the domain's. Phones become E.164 when
// the stored string parses with the contact's country as the default.
func (c *Client) toContact(w wireContact) *sources.Contact {
	ct := &sources.Contact{
		ID:               string(w.ID),
		ExternalID:       string(w.ExternalID),
		WorkspaceID:      string(w.WorkspaceID),
		Role:             w.Role,
		Name:             strings.TrimSpace(w.Name),
		CustomAttributes: w.CustomAttributes,
		CreatedAt:        unixTime(w.CreatedAt),
		UpdatedAt:        unixTime(w.UpdatedAt),
	}
	if w.Email != "" {
		ct.Emails = []string{w.Email}
	}
	if w.Location != nil {
		ct.Location = sources.Location{Country: w.Location.Country, CountryCode: alpha2(w.Location.CountryCode),
			Region: w.Location.Region, City: w.Location.City}
	}
	if w.Phone != "" {
		p, err := phone.Normalize(w.Phone, ct.Location.CountryCode)
		if err != nil {
			p = w.Phone // keep what Intercom holds rather than lose the number
		}
		ct.Phones = []string{p}
	}
	if w.Avatar != nil {
		ct.AvatarURL = w.Avatar.ImageURL
	}
	if w.SocialProfiles != nil {
		for _, p := range w.SocialProfiles.Data {
			if strings.EqualFold(p.Name, "twitter") && ct.Twitter == "" {
				ct.Twitter = twitterHandle(p.URL)
				continue
			}
			if p.URL != "" {
				ct.Websites = append(ct.Websites, p.URL)
			}
		}
	}
	for _, key := range []string{"job_title", "title"} {
		if v, ok := w.CustomAttributes[key].(string); ok && v != "" {
			ct.Title = v
			break
		}
	}
	if w.Companies != nil {
		for _, d := range w.Companies.Data {
			ct.CompanyIDs = append(ct.CompanyIDs, string(d.ID))
		}
	}
	if w.Tags != nil {
		for _, d := range w.Tags.Data {
			ct.Tags = append(ct.Tags, sources.Tag{ID: string(d.ID), Name: d.Name})
		}
	}
	if w.Notes != nil {
		ct.NotesCount = w.Notes.TotalCount
	}
	ct.URL = c.contactURL(ct.WorkspaceID, ct.ID)
	return ct
}

// alpha2 turns Intercom's country codes (ISO 3166-1 alpha-3, such as "USA")
// into the alpha-2 codes ("US") phone numbering and most CRMs use.
func alpha2(code string) string {
	if code == "" {
		return ""
	}
	r, err := language.ParseRegion(code)
	if err != nil || !r.IsCountry() {
		return ""
	}
	return r.String()
}

// twitterHandle turns https://twitter.com/jane_doe (or x.com, or @jane_doe)
// into jane_doe.
func twitterHandle(u string) string {
	s := strings.TrimSpace(u)
	if p, err := url.Parse(s); err == nil && p.Host != "" {
		s = strings.Trim(p.Path, "/")
		if i := strings.IndexByte(s, '/'); i >= 0 {
			s = s[:i]
		}
	}
	return strings.TrimPrefix(s, "@")
}

func (c *Client) toCompany(w wireCompany) *sources.Company {
	co := &sources.Company{
		ID:         string(w.ID),
		ExternalID: string(w.CompanyID),
		Name:       w.Name,
		Website:    w.Website,
		Industry:   w.Industry,
		Size:       int(w.Size),
		CreatedAt:  unixTime(w.CreatedAt),
		UpdatedAt:  unixTime(w.UpdatedAt),
	}
	if w.Plan != nil {
		co.Plan = w.Plan.Name
	}
	if w.AppID != "" && co.ID != "" {
		co.URL = fmt.Sprintf("%s/a/apps/%s/companies/%s", c.appURL, url.PathEscape(string(w.AppID)), url.PathEscape(co.ID))
	}
	return co
}

func toAgent(w wireAdmin) *sources.Agent {
	return &sources.Agent{
		ID:        string(w.ID),
		Name:      w.Name,
		Email:     w.Email,
		JobTitle:  w.JobTitle,
		AvatarURL: w.avatarURL(),
		Away:      w.AwayModeEnabled,
	}
}
