package emulator

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The contact write endpoints: POST /contacts, PUT /contacts/{id} and
// POST /contacts/{id}/companies.
//
// Unlike Intercom, where a new contact can take minutes to become
// searchable (NOTES.md), a contact written here is in GET /contacts and
// every search at once, formatted_phone included.

// contactWrite is a checked create_contact_request or update_contact_request.
type contactWrite struct {
	role, externalID, email, phone, name, avatar, ownerID param[string]
	signedUpAt, lastSeenAt                                param[time.Time]
	unsubscribed                                          param[bool]
	custom                                                map[string]any // as sent; nil when not given
}

// maxContactCompanies is the number of companies a contact can have, as the
// description's contact_company_limit_exceeded message says.
const maxContactCompanies = 1000

func parseContactWrite(obj map[string]any) (contactWrite, *apiError) {
	var in contactWrite
	var e *apiError
	for _, f := range []struct {
		name string
		dst  *param[string]
	}{
		{"role", &in.role}, {"external_id", &in.externalID}, {"email", &in.email}, {"phone", &in.phone},
		{"name", &in.name}, {"avatar", &in.avatar}, {"owner_id", &in.ownerID},
	} {
		read := stringParam
		if f.name == "owner_id" {
			read = idParam
		}
		if *f.dst, e = read(obj, f.name); e != nil {
			return in, e
		}
	}
	if in.role.set && (in.role.null || (in.role.v != "user" && in.role.v != "lead")) {
		return in, paramInvalid("role", "role must be one of user, lead; got %s", describe(obj["role"]))
	}
	if in.email.given() {
		in.email.v = strings.TrimSpace(in.email.v)
		if in.email.v != "" && !validEmail(in.email.v) {
			return in, paramInvalid("email", "The email address %q is not valid", in.email.v)
		}
	}
	if in.signedUpAt, e = timeParam(obj, "signed_up_at"); e != nil {
		return in, e
	}
	if in.lastSeenAt, e = timeParam(obj, "last_seen_at"); e != nil {
		return in, e
	}
	if in.unsubscribed, e = boolParam(obj, "unsubscribed_from_emails"); e != nil {
		return in, e
	}
	verified, e := boolParam(obj, "email_verified")
	if e != nil {
		return in, e
	}
	if verified.given() && !in.email.given() {
		// The description: "Must be supplied together with an email in the
		// same request; sending it without an email returns a 400."
		return in, paramInvalid("email_verified", "email_verified must be supplied together with an email")
	}
	if in.custom, _, e = objectParam(obj, "custom_attributes"); e != nil {
		return in, e
	}
	return in, nil
}

// validEmail is a loose check: something@domain.tld, no spaces.
func validEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") &&
		!strings.HasSuffix(domain, ".") && !strings.ContainsAny(s, " \t\r\n") && !strings.Contains(domain, "@")
}

// customAttrsLocked checks custom attribute values against the attributes the
// workspace knows and converts them to the stored kinds (a nil value removes
// the attribute). Like Intercom, it refuses attributes that do not exist
// (they are created in the workspace settings or by AddContact, not by a
// contact write) and values of the wrong type. w.mu must be held.
func (w *Workspace) customAttrsLocked(in map[string]any) (map[string]any, *apiError) {
	if in == nil {
		return nil, nil
	}
	out := make(map[string]any, len(in))
	for _, k := range slices.Sorted(maps.Keys(in)) { // the first bad one, always the same
		v := in[k]
		t, ok := w.attrTypes[k]
		if !ok {
			return nil, paramInvalid("custom_attributes", "Custom attribute '%s' does not exist", k)
		}
		if v == nil {
			out[k] = nil
			continue
		}
		bad := func() *apiError {
			return paramInvalid("custom_attributes", "Custom attribute '%s' is of type %s and cannot be set to %s", k, t, describe(v))
		}
		switch t {
		case typeString:
			s, ok := v.(string)
			if !ok {
				return nil, bad()
			}
			out[k] = s
		case typeBoolean:
			b, ok := v.(bool)
			if !ok {
				return nil, bad()
			}
			out[k] = b
		case typeNumber, typeDate:
			n, ok := v.(json.Number)
			if !ok {
				return nil, bad()
			}
			if i, err := n.Int64(); err == nil {
				out[k] = i
			} else if f, err := n.Float64(); err == nil && t == typeNumber {
				out[k] = f
			} else {
				return nil, bad()
			}
		default:
			return nil, bad()
		}
	}
	return out, nil
}

// apply writes the given fields into c. A null clears a field.
func (in contactWrite) apply(c *Contact, custom map[string]any) {
	str := func(p param[string], dst *string) {
		if p.set {
			*dst = p.v // "" when null
		}
	}
	str(in.role, &c.Role)
	str(in.externalID, &c.ExternalID)
	str(in.email, &c.Email)
	str(in.name, &c.Name)
	str(in.avatar, &c.AvatarURL)
	str(in.ownerID, &c.OwnerID)
	if in.phone.set && in.phone.v != c.Phone {
		c.Phone = in.phone.v
		c.Legacy = false // a phone written through the API is indexed
	}
	if in.signedUpAt.set {
		c.SignedUpAt = in.signedUpAt.v
	}
	if in.lastSeenAt.set {
		c.LastSeenAt = in.lastSeenAt.v
	}
	if in.unsubscribed.given() {
		c.UnsubscribedFromEmails = in.unsubscribed.v
	}
	for k, v := range custom {
		if v == nil {
			delete(c.CustomAttributes, k)
			continue
		}
		if c.CustomAttributes == nil {
			c.CustomAttributes = map[string]any{}
		}
		c.CustomAttributes[k] = v
	}
}

// conflictLocked returns the user that c would duplicate: Intercom keeps
// users unique by email (ignoring case) and by external_id. Leads may share
// emails. w.mu must be held.
func (w *Workspace) conflictLocked(c *Contact) *Contact {
	if c.Role != "user" || (c.Email == "" && c.ExternalID == "") {
		return nil
	}
	for _, o := range w.order {
		if o.ID == c.ID || o.Role != "user" {
			continue
		}
		if (c.Email != "" && strings.EqualFold(o.Email, c.Email)) || (c.ExternalID != "" && o.ExternalID == c.ExternalID) {
			return o
		}
	}
	return nil
}

func conflictError(existing *Contact) *apiError {
	return errorf(http.StatusConflict, CodeConflict, "A contact matching those details already exists with id=%s", existing.ID)
}

// handleCreateContact creates a user or lead (role defaults to user).
func (w *Workspace) handleCreateContact(r *http.Request, _ map[string]string) (any, *apiError) {
	obj, apiErr := readObject(r)
	if apiErr != nil {
		return nil, apiErr
	}
	in, apiErr := parseContactWrite(obj)
	if apiErr != nil {
		return nil, apiErr
	}
	// The description's anyOf: a contact is created with an email, an
	// external_id or a role.
	if in.email.v == "" && in.externalID.v == "" && !in.role.given() {
		return nil, paramMissing("email", "A contact needs an email, an external_id or a role")
	}
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	custom, apiErr := w.customAttrsLocked(in.custom)
	if apiErr != nil {
		return nil, apiErr
	}
	c := &Contact{Role: "user", CreatedAt: now, UpdatedAt: now}
	in.apply(c, custom)
	if o := w.conflictLocked(c); o != nil {
		return nil, conflictError(o)
	}
	c.ID = w.newObjectIDLocked()
	c.indexPhone()
	w.insertLocked(c)
	return w.contactBodyLocked(c), nil
}

// handleUpdateContact changes the given fields of a contact and bumps its
// updated_at. Custom attributes are merged (null removes one).
func (w *Workspace) handleUpdateContact(r *http.Request, p map[string]string) (any, *apiError) {
	obj, apiErr := readObject(r)
	if apiErr != nil {
		return nil, apiErr
	}
	in, apiErr := parseContactWrite(obj)
	if apiErr != nil {
		return nil, apiErr
	}
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	old, apiErr := w.contactLocked(p["id"])
	if apiErr != nil {
		return nil, apiErr
	}
	custom, apiErr := w.customAttrsLocked(in.custom)
	if apiErr != nil {
		return nil, apiErr
	}
	c := old.clone()
	in.apply(&c, custom)
	if in.email.set || in.externalID.set || in.role.set {
		if o := w.conflictLocked(&c); o != nil {
			return nil, conflictError(o)
		}
	}
	c.indexPhone()
	c.UpdatedAt = now
	*old = c // created_at and id are unchanged: the listing order holds
	w.registerAttrsLocked(old)
	return w.contactBodyLocked(old), nil
}

// handleAttachCompany attaches a company (by Intercom id) to a contact and
// answers with the company. Attaching twice is harmless; a change bumps the
// contact's updated_at.
func (w *Workspace) handleAttachCompany(r *http.Request, p map[string]string) (any, *apiError) {
	obj, apiErr := readObject(r)
	if apiErr != nil {
		return nil, apiErr
	}
	companyID, apiErr := requiredID(obj, "id", "company not specified")
	if apiErr != nil {
		return nil, apiErr
	}
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	c, apiErr := w.contactLocked(p["id"])
	if apiErr != nil {
		return nil, apiErr
	}
	co := w.companyBy[companyID]
	if co == nil {
		return nil, errorf(http.StatusNotFound, CodeCompanyNotFound, "Company Not Found")
	}
	if !slices.Contains(c.CompanyIDs, co.ID) {
		if len(c.CompanyIDs) >= maxContactCompanies {
			return nil, errorf(http.StatusBadRequest, CodeCompanyLimit, "Contact has reached the maximum of %d company associations", maxContactCompanies)
		}
		c.CompanyIDs = append(slices.Clip(c.CompanyIDs), co.ID)
		c.UpdatedAt = now
	}
	return w.companyBodyLocked(co, w.userCountsLocked()[co.ID]), nil
}
