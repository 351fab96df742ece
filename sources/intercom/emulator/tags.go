package emulator

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The tag write endpoints: POST /tags (create or rename a tag),
// POST /contacts/{id}/tags and DELETE /contacts/{id}/tags/{tag_id}.

// tagLocked returns the tag with id, or nil; w.mu must be held.
func (w *Workspace) tagLocked(id string) *Tag {
	for i := range w.tags {
		if w.tags[i].ID == id {
			return &w.tags[i]
		}
	}
	return nil
}

// tagByNameLocked finds a tag by name, ignoring case as Intercom does;
// w.mu must be held.
func (w *Workspace) tagByNameLocked(name string) *Tag {
	name = strings.TrimSpace(name)
	for i := range w.tags {
		if strings.EqualFold(w.tags[i].Name, name) {
			return &w.tags[i]
		}
	}
	return nil
}

// createTagLocked returns the tag named name, creating it (with the next
// numeric id) when no tag has that name in any case; w.mu must be held.
func (w *Workspace) createTagLocked(name string) Tag {
	if t := w.tagByNameLocked(name); t != nil {
		return *t
	}
	var last int64
	for _, t := range w.tags {
		if n, err := strconv.ParseInt(t.ID, 10, 64); err == nil && n > last {
			last = n
		}
	}
	if last == 0 {
		last = 9100000
	}
	t := Tag{ID: strconv.FormatInt(last+1, 10), Name: strings.TrimSpace(name)}
	w.tags = append(w.tags, t)
	return t
}

// AddTag returns the tag named name, creating it if the workspace has no tag
// of that name (ignoring case), as POST /tags does.
func (w *Workspace) AddTag(name string) Tag {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.createTagLocked(name)
}

// ---- JSON bodies ----

// appliedTagBody is the description's tag as a tagging operation on a
// contact returns it: with applied_at and applied_by.
type appliedTagBody struct {
	Type      string         `json:"type"`
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	AppliedAt *int64         `json:"applied_at,omitempty"`
	AppliedBy *referenceBody `json:"applied_by,omitempty"`
}

// ---- handlers ----

// handleCreateTag creates a tag, or returns the existing one whose name
// matches ignoring case; with an id it renames that tag. Tagging companies
// or users through this endpoint is not emulated.
func (w *Workspace) handleCreateTag(r *http.Request, _ map[string]string) (any, *apiError) {
	obj, apiErr := readObject(r)
	if apiErr != nil {
		return nil, apiErr
	}
	for _, k := range []string{"companies", "users"} {
		if _, ok := obj[k]; ok {
			return nil, paramInvalid(k, "the emulator only creates and renames tags with POST /tags; tag contacts with POST /contacts/{id}/tags")
		}
	}
	name, apiErr := stringParam(obj, "name")
	if apiErr != nil || !name.given() || strings.TrimSpace(name.v) == "" {
		// The description's answer to a body without a usable name.
		return nil, paramInvalid("name", "invalid tag parameters")
	}
	id, apiErr := idParam(obj, "id")
	if apiErr != nil {
		return nil, apiErr
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var t Tag
	if id.given() && id.v != "" {
		p := w.tagLocked(id.v)
		if p == nil {
			return nil, errorf(http.StatusNotFound, CodeNotFound, msgResourceNotFound)
		}
		p.Name = strings.TrimSpace(name.v)
		t = *p
	} else {
		t = w.createTagLocked(name.v)
	}
	return tagBody{Type: "tag", ID: t.ID, Name: t.Name}, nil
}

// handleTagContact attaches a tag to a contact and answers with the tag, when
// and by whom (the token's admin) it was applied. Tagging twice is harmless;
// a change bumps the contact's updated_at.
func (w *Workspace) handleTagContact(r *http.Request, p map[string]string) (any, *apiError) {
	obj, apiErr := readObject(r)
	if apiErr != nil {
		return nil, apiErr
	}
	tagID, apiErr := requiredID(obj, "id", "tag not specified")
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
	t := w.tagLocked(tagID)
	if t == nil {
		return nil, errorf(http.StatusNotFound, CodeNotFound, msgResourceNotFound)
	}
	if !slices.Contains(c.TagIDs, t.ID) {
		c.TagIDs = append(slices.Clip(c.TagIDs), t.ID)
		c.UpdatedAt = now
	}
	at := now.Unix()
	return appliedTagBody{Type: "tag", ID: t.ID, Name: t.Name, AppliedAt: &at,
		AppliedBy: &referenceBody{Type: "admin", ID: strPtr(w.admins[0].ID)}}, nil
}

// handleUntagContact removes a tag from a contact and answers with the tag.
// A tag that does not exist or is not on the contact is 404, as the
// description's "Tag not found".
func (w *Workspace) handleUntagContact(r *http.Request, p map[string]string) (any, *apiError) {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	c, apiErr := w.contactLocked(p["id"])
	if apiErr != nil {
		return nil, apiErr
	}
	t := w.tagLocked(p["tag_id"])
	if t == nil || !slices.Contains(c.TagIDs, t.ID) {
		return nil, errorf(http.StatusNotFound, CodeNotFound, msgResourceNotFound)
	}
	c.TagIDs = slices.DeleteFunc(slices.Clone(c.TagIDs), func(id string) bool { return id == t.ID })
	c.UpdatedAt = now
	return tagBody{Type: "tag", ID: t.ID, Name: t.Name}, nil
}
