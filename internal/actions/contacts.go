package actions

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/talkdesk-intercom/api/sources"
)

// CreateContactRequest asks for a contact.
type CreateContactRequest struct {
	Name             string         `json:"name,omitempty"`
	Email            string         `json:"email,omitempty"`
	Phone            string         `json:"phone,omitempty"`
	DefaultCountry   string         `json:"default_country,omitempty"`
	Role             string         `json:"role,omitempty"`
	ExternalID       string         `json:"external_id,omitempty"`
	CompanyID        string         `json:"company_id,omitempty"`
	CustomAttributes map[string]any `json:"custom_attributes,omitempty"`
	AllowDuplicate   bool           `json:"allow_duplicate,omitempty"`
}

// CreateContactResult is the created contact, or the existing duplicate.
type CreateContactResult struct {
	Contact *sources.Contact `json:"contact"`
	Created bool             `json:"created"`
}

// CreateContact creates a contact unless one with the same email or phone
// exists (then it returns that one, Created false).
func (s *Service) CreateContact(ctx context.Context, key string, req CreateContactRequest) (CreateContactResult, error) {
	if r, ok, err := replay[CreateContactResult](ctx, s, ActionCreateContact, key, req); ok || err != nil {
		return r, err
	}
	var p Problems
	checkKey(ctx, &p, key)
	nc := sources.NewContact{
		Name:             checkLength(&p, "name", req.Name, 0, maxName),
		Email:            checkEmail(&p, "email", req.Email),
		Phone:            checkPhone(&p, "phone", req.Phone, req.DefaultCountry),
		Role:             checkRole(&p, "role", req.Role),
		ExternalID:       checkLength(&p, "externalId", req.ExternalID, 0, 255),
		CompanyID:        strings.TrimSpace(req.CompanyID),
		CustomAttributes: req.CustomAttributes,
	}
	checkAttributes(&p, "customAttributes", req.CustomAttributes)
	if len(p) == 0 && nc.Email == "" && nc.Phone == "" && nc.ExternalID == "" {
		p.add("email", "a contact needs an email, a phone or an external id")
	}
	if nc.Role == "" {
		nc.Role = "lead"
	}
	if len(p) > 0 {
		return CreateContactResult{}, p
	}
	return guarded(ctx, s, ActionCreateContact, key, req, func(ctx context.Context) (CreateContactResult, error) {
		if !req.AllowDuplicate {
			if existing, err := s.existingContact(ctx, nc.Email, nc.Phone); err != nil || existing != nil {
				return CreateContactResult{Contact: existing}, err
			}
		}
		c, err := s.cfg.Executor.CreateContact(ctx, nc)
		if sources.ErrorCode(err) == sources.EConflict && nc.Email != "" {
			// Intercom refuses a second user with one email: return that one.
			// The check above may have cached "no such email" (the user was
			// created since): drop that before looking again.
			s.invalidate(ctx, sources.Changed{Emails: []string{nc.Email}})
			if existing, ferr := s.existingContact(ctx, nc.Email, ""); ferr == nil && existing != nil {
				return CreateContactResult{Contact: existing}, nil
			}
		}
		if p, ok := asProblems(err, "email"); ok {
			return CreateContactResult{}, p
		}
		if err != nil {
			return CreateContactResult{}, err
		}
		s.invalidate(ctx, sources.Changed{Phones: nonEmpty(nc.Phone), Emails: nonEmpty(nc.Email)})
		return CreateContactResult{Contact: c, Created: true}, nil
	}, func(ctx context.Context, _ time.Time) (CreateContactResult, bool, error) {
		// An earlier attempt may have created it: the same email or phone finds it.
		existing, err := s.existingContact(ctx, nc.Email, nc.Phone)
		return CreateContactResult{Contact: existing, Created: existing != nil}, existing != nil, err
	})
}

// existingContact finds a contact by email, else by phone.
func (s *Service) existingContact(ctx context.Context, email, phone string) (*sources.Contact, error) {
	if email != "" {
		found, err := s.cfg.Finder.ContactsByEmails(ctx, []string{email})
		if err != nil {
			return nil, err
		}
		if list := found[email]; len(list) > 0 {
			return list[0], nil
		}
	}
	if phone != "" {
		found, err := s.cfg.Finder.ContactsByPhones(ctx, []string{phone})
		if err != nil {
			return nil, err
		}
		if list := found[phone]; len(list) > 0 {
			return list[0], nil
		}
	}
	return nil, nil
}

// UpdateContactRequest changes a contact; nil fields stay as they are.
type UpdateContactRequest struct {
	ID               string         `json:"id"`
	Name             *string        `json:"name,omitempty"`
	Email            *string        `json:"email,omitempty"`
	Phone            *string        `json:"phone,omitempty"`
	DefaultCountry   string         `json:"default_country,omitempty"`
	Role             *string        `json:"role,omitempty"`
	ExternalID       *string        `json:"external_id,omitempty"`
	CustomAttributes map[string]any `json:"custom_attributes,omitempty"`
}

// UpdateContact changes a contact and returns it as it now is.
func (s *Service) UpdateContact(ctx context.Context, key string, req UpdateContactRequest) (*sources.Contact, error) {
	if r, ok, err := replay[*sources.Contact](ctx, s, ActionUpdateContact, key, req); ok || err != nil {
		return r, err
	}
	var p Problems
	checkKey(ctx, &p, key)
	var ch sources.ContactChanges
	if req.Name != nil {
		v := checkLength(&p, "name", *req.Name, 0, maxName)
		ch.Name = &v
	}
	if req.Email != nil {
		v := checkEmail(&p, "email", *req.Email)
		ch.Email = &v
	}
	if req.Phone != nil {
		v := checkPhone(&p, "phone", *req.Phone, req.DefaultCountry)
		ch.Phone = &v
	}
	if req.Role != nil {
		v := checkRole(&p, "role", *req.Role)
		if v == "" && len(p) == 0 {
			p.add("role", "role must be user or lead")
		}
		ch.Role = &v
	}
	if req.ExternalID != nil {
		v := checkLength(&p, "externalId", *req.ExternalID, 0, 255)
		ch.ExternalID = &v
	}
	checkAttributes(&p, "customAttributes", req.CustomAttributes)
	ch.CustomAttributes = req.CustomAttributes
	old, err := s.contact(ctx, &p, "id", req.ID)
	if err != nil {
		return nil, err
	}
	if len(p) > 0 {
		return nil, p
	}
	// Updating to the same values twice is harmless: no reconciliation needed.
	return guarded(ctx, s, ActionUpdateContact, key, req, func(ctx context.Context) (*sources.Contact, error) {
		c, err := s.cfg.Executor.UpdateContact(ctx, req.ID, ch)
		if p, ok := asProblems(err, "id"); ok {
			return nil, p
		}
		if err != nil {
			return nil, err
		}
		// The lookups of numbers and addresses the contact no longer has
		// would now find it wrongly: they are deleted, not kept stale.
		s.invalidate(ctx, sources.Changed{ContactIDs: []string{req.ID},
			Phones: append(slices.Clone(old.Phones), c.Phones...), Emails: append(slices.Clone(old.Emails), c.Emails...),
			RemovedPhones: missing(old.Phones, c.Phones), RemovedEmails: missing(old.Emails, c.Emails),
			Contacts: []sources.ContactChange{{ID: req.ID, Kind: sources.ContactUpdated}}})
		return c, nil
	}, nil)
}

// TagRequest attaches or removes a tag by name.
type TagRequest struct {
	ContactID string `json:"contact_id"`
	Tag       string `json:"tag"`
}

// TagResult is the contact after the change and the tag.
type TagResult struct {
	Contact *sources.Contact `json:"contact"`
	Tag     *sources.Tag     `json:"tag"`
}

// TagContact attaches a tag, creating it when the workspace has none by that name.
func (s *Service) TagContact(ctx context.Context, key string, req TagRequest) (TagResult, error) {
	return s.tag(ctx, key, req, ActionTagContact, s.cfg.Executor.TagContact)
}

// UntagContact removes a tag.
func (s *Service) UntagContact(ctx context.Context, key string, req TagRequest) (TagResult, error) {
	return s.tag(ctx, key, req, ActionUntagContact, s.cfg.Executor.UntagContact)
}

func (s *Service) tag(ctx context.Context, key string, req TagRequest, action string,
	apply func(ctx context.Context, contactID, tag string) (*sources.Tag, error)) (TagResult, error) {
	var p Problems
	checkKey(ctx, &p, key)
	req.Tag = checkLength(&p, "tag", req.Tag, 1, maxTag)
	if r, ok, err := replay[TagResult](ctx, s, action, key, req); ok || err != nil {
		return r, err
	}
	if _, err := s.contact(ctx, &p, "contactId", req.ContactID); err != nil {
		return TagResult{}, err
	}
	if len(p) > 0 {
		return TagResult{}, p
	}
	return guarded(ctx, s, action, key, req, func(ctx context.Context) (TagResult, error) {
		tag, err := apply(ctx, req.ContactID, req.Tag)
		if p, ok := asProblems(err, "tag"); ok {
			return TagResult{}, p
		}
		if err != nil {
			return TagResult{}, err
		}
		s.invalidate(ctx, sources.Changed{ContactIDs: []string{req.ContactID},
			Contacts: []sources.ContactChange{{ID: req.ContactID, Kind: sources.ContactUpdated}}})
		found, err := s.cfg.Finder.ContactsByIDs(ctx, []string{req.ContactID})
		return TagResult{Contact: found[req.ContactID], Tag: tag}, err
	}, nil)
}

// missing lists the values of was that is lacks (emails compared without
// case).
func missing(was, is []string) []string {
	var out []string
	for _, v := range was {
		if !slices.ContainsFunc(is, func(w string) bool { return strings.EqualFold(v, w) }) {
			out = append(out, v)
		}
	}
	return out
}

func nonEmpty(values ...string) []string {
	var out []string
	for _, v := range values {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
