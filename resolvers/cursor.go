package resolvers

import (
	"encoding/base64"
	"encoding/json"
)

// pageCursor is the opaque Relay cursor of the contacts connection. The
// source pages by its own cursor (Page, empty for the first page); an edge in
// the middle of a page resumes by re-reading that page and skipping the
// contacts before it.
type pageCursor struct {
	Version int    `json:"v"`
	Page    string `json:"p,omitempty"`
	Skip    int    `json:"s,omitempty"`
	Size    int    `json:"n,omitempty"`
}

const cursorVersion = 1

func (c pageCursor) encode() string {
	c.Version = cursorVersion
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (pageCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return pageCursor{}, false
	}
	var c pageCursor
	if json.Unmarshal(b, &c) != nil || c.Version != cursorVersion || c.Skip < 0 || c.Size < 0 || c.Size > maxPage {
		return pageCursor{}, false
	}
	return c, true
}
