package talkdesk

import (
	"context"
	"strings"

	"github.com/talkdesk-intercom/api/sources"
)

// talkdeskContact is a contact in Talkdesk's format (contact-synchronization
// response). Empty optional fields are left out.
type talkdeskContact struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Title    string   `json:"title,omitempty"`
	Company  string   `json:"company,omitempty"`
	Emails   []string `json:"emails,omitempty"`
	Phones   []string `json:"phones,omitempty"`
	PhotoURL string   `json:"photo_url,omitempty"`
	Address  string   `json:"address,omitempty"`
	Websites []string `json:"websites,omitempty"`
	Twitter  string   `json:"twitter,omitempty"`
	URL      string   `json:"url,omitempty"`
}

// toTalkdeskContacts maps contacts; their companies' names (Talkdesk's
// `company` is the first company's name) are read in one batch through the
// call's loaders, each company once.
func (b *Bridge) toTalkdeskContacts(ctx context.Context, c *call, list []*sources.Contact) ([]talkdeskContact, error) {
	var ids []string
	for _, ct := range list {
		if len(ct.CompanyIDs) > 0 {
			ids = append(ids, ct.CompanyIDs[0])
		}
	}
	names := map[string]string{}
	if len(ids) > 0 {
		companies, err := c.ws.Loaders.Companies(ctx, sources.UniqueIDs(ids))
		if err != nil {
			// A page without its companies' names would not be sent again:
			// fail it, and Talkdesk retries.
			return nil, err
		}
		for _, co := range companies {
			names[co.ID] = co.Name
		}
	}
	out := make([]talkdeskContact, len(list))
	for i, ct := range list {
		out[i] = toTalkdeskContact(ct, names)
	}
	return out, nil
}

func toTalkdeskContact(ct *sources.Contact, companyNames map[string]string) talkdeskContact {
	tc := talkdeskContact{
		ID:       ct.ID,
		Name:     contactName(ct),
		Title:    ct.Title,
		Emails:   ct.Emails,
		Phones:   ct.Phones,
		PhotoURL: ct.AvatarURL,
		Address:  address(ct.Location),
		Websites: ct.Websites,
		Twitter:  ct.Twitter,
		URL:      ct.URL,
	}
	if len(ct.CompanyIDs) > 0 {
		tc.Company = companyNames[ct.CompanyIDs[0]]
	}
	return tc
}

// contactName is the contact's name; Talkdesk requires one, and Intercom
// leads often have none, so the email or phone stands in for it.
func contactName(ct *sources.Contact) string {
	switch {
	case strings.TrimSpace(ct.Name) != "":
		return strings.TrimSpace(ct.Name)
	case len(ct.Emails) > 0:
		return ct.Emails[0]
	case len(ct.Phones) > 0:
		return ct.Phones[0]
	default:
		return "Unnamed Intercom contact"
	}
}

// address writes a location on one line: city, region, country.
func address(l sources.Location) string {
	var parts []string
	for _, p := range []string{l.City, l.Region, l.Country} {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}
