package emulator

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

func alwaysNull[T any](T) fieldValue { return nullVal }

// contactFields are the description's "Accepted Fields" for contacts, plus
// company_id. Fields the emulator has no data for are searchable and null.
var contactFields = func() fieldTable[*Contact] {
	m := fieldTable[*Contact]{}
	m.str("id", func(c *Contact) string { return c.ID })
	m.add(field[*Contact]{name: "role", typ: typeString, enum: []string{"user", "lead"}, get: func(c *Contact) fieldValue { return strVal(c.Role) }})
	m.str("name", func(c *Contact) string { return c.Name })
	m.str("avatar", func(c *Contact) string { return c.AvatarURL })
	m.str("owner_id", func(c *Contact) string { return c.OwnerID })
	m.add(field[*Contact]{name: "email", typ: typeString, fold: true, get: func(c *Contact) fieldValue { return strVal(c.Email) }})
	m.add(field[*Contact]{name: "email_domain", typ: typeString, fold: true, get: func(c *Contact) fieldValue { return strVal(c.emailDomain()) }})
	m.str("phone", func(c *Contact) string { return c.Phone })
	m.str("formatted_phone", func(c *Contact) string { return c.FormattedPhone })
	m.str("external_id", func(c *Contact) string { return c.ExternalID })
	m.str("language_override", func(c *Contact) string { return c.LanguageOverride })
	m.str("browser", func(c *Contact) string { return c.Browser })
	m.str("browser_language", func(c *Contact) string { return c.BrowserLanguage })
	m.str("os", func(c *Contact) string { return c.OS })
	m.str("location.country", func(c *Contact) string {
		if c.LocationCountry == "" {
			return ""
		}
		return countryInfo(c.LocationCountry).name
	})
	m.str("location.region", func(c *Contact) string { return c.LocationRegion })
	m.str("location.city", func(c *Contact) string { return c.LocationCity })
	m.date("created_at", func(c *Contact) time.Time { return c.CreatedAt })
	m.date("updated_at", func(c *Contact) time.Time { return c.UpdatedAt })
	m.date("signed_up_at", func(c *Contact) time.Time { return c.SignedUpAt })
	m.date("last_seen_at", func(c *Contact) time.Time { return c.LastSeenAt })
	m.date("last_contacted_at", func(c *Contact) time.Time { return c.LastContactedAt })
	m.date("last_replied_at", func(c *Contact) time.Time { return c.LastRepliedAt })
	m.boolean("unsubscribed_from_emails", func(c *Contact) bool { return c.UnsubscribedFromEmails })
	m.boolean("marked_email_as_spam", func(c *Contact) bool { return c.MarkedEmailAsSpam })
	m.boolean("has_hard_bounced", func(c *Contact) bool { return c.HasHardBounced })
	for _, n := range []string{"last_email_opened_at", "last_email_clicked_at", "ios_last_seen_at", "android_last_seen_at"} {
		m.add(field[*Contact]{name: n, typ: typeDate, get: alwaysNull[*Contact]})
	}
	// "andoid_sdk_version" is spelled so in the description's table.
	for _, n := range []string{"ios_app_version", "ios_device", "ios_app_device", "ios_os_version", "ios_app_name",
		"ios_sdk_version", "android_app_version", "android_device", "android_app_name", "android_sdk_version", "andoid_sdk_version"} {
		m.add(field[*Contact]{name: n, typ: typeString, get: alwaysNull[*Contact]})
	}
	m.add(field[*Contact]{name: "tag_id", typ: typeIDSet, get: func(c *Contact) fieldValue { return setVal(c.TagIDs) }})
	m.add(field[*Contact]{name: "segment_id", typ: typeIDSet, get: func(c *Contact) fieldValue { return fieldValue{} }})
	m.add(field[*Contact]{name: "company_id", typ: typeCompany, get: func(c *Contact) fieldValue { return setVal(c.CompanyIDs) }})
	return m
}()

const customPrefix = "custom_attributes."

// contactFieldLocked resolves a contact search or sort field; w.mu must be
// held.
func (w *Workspace) contactFieldLocked(name string) (field[*Contact], *apiError) {
	if f, ok := contactFields[name]; ok {
		return f, nil
	}
	if attr, ok := strings.CutPrefix(name, customPrefix); ok && attr != "" {
		t, ok := w.attrTypes[attr]
		if !ok {
			return field[*Contact]{}, fieldError(name, "Custom attribute '%s' does not exist on contacts", attr)
		}
		return field[*Contact]{name: name, typ: t, get: func(c *Contact) fieldValue {
			v, ok := c.CustomAttributes[attr]
			if !ok || v == nil {
				return nullVal
			}
			switch x := v.(type) {
			case string:
				return strVal(x)
			case bool:
				return boolVal(x)
			case int64:
				return fieldValue{n: float64(x)}
			case float64:
				return fieldValue{n: x}
			}
			return strVal(fmt.Sprint(v))
		}}, nil
	}
	return field[*Contact]{}, fieldError(name, "'%s' is not a searchable contact field", name)
}

// contactSearcherLocked searches contacts; w.mu must be held while it is
// used.
func (w *Workspace) contactSearcherLocked() *searcher[*Contact] {
	return &searcher[*Contact]{
		object: "contact",
		field:  w.contactFieldLocked,
		tz:     w.opts.Timezone,
		companyIDs: func(v string) []string {
			var ids []string
			for _, co := range w.companies {
				if co.CompanyID == v {
					ids = append(ids, co.ID)
				}
			}
			return ids
		},
		order: func(c *Contact) sortKey { return createdKey(c.CreatedAt, c.ID) },
	}
}

func (w *Workspace) handleSearchContacts(r *http.Request, _ map[string]string) (any, *apiError) {
	req, apiErr := readSearchRequest(r, searchDefaultPage)
	if apiErr != nil {
		return nil, apiErr
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	items, pages, total, apiErr := w.contactSearcherLocked().search(req, w.order)
	if apiErr != nil {
		return nil, apiErr
	}
	return w.contactListLocked(items, pages, total), nil
}
