package intercom

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Wire types: the JSON Intercom sends, decoded leniently. Only the fields this
// product reads are declared.

// flexString decodes a JSON string, number or null into a string: the live
// API sends some ids as numbers where its description says strings (NOTES.md).
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = ""
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*s = flexString(n.String())
	}
	return nil
}

// flexInt decodes a JSON number, numeric string or null into an int64.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*n = 0
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			*n = 0
			return nil
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		*n = flexInt(v)
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = flexInt(f)
	return nil
}

type wireContact struct {
	ID          flexString `json:"id"`
	ExternalID  flexString `json:"external_id"`
	WorkspaceID flexString `json:"workspace_id"`
	Role        string     `json:"role"`
	Name        string     `json:"name"`
	Email       string     `json:"email"`
	Phone       string     `json:"phone"`
	Avatar      *struct {
		ImageURL string `json:"image_url"`
	} `json:"avatar"`
	Location *struct {
		Country     string `json:"country"`
		CountryCode string `json:"country_code"`
		Region      string `json:"region"`
		City        string `json:"city"`
	} `json:"location"`
	SocialProfiles *struct {
		Data []struct {
			Name string `json:"name"`
			URL  string `json:"url"`
		} `json:"data"`
	} `json:"social_profiles"`
	Companies        *wireAddressList `json:"companies"`
	Tags             *wireAddressList `json:"tags"`
	Notes            *wireAddressList `json:"notes"`
	CustomAttributes map[string]any   `json:"custom_attributes"`
	CreatedAt        flexInt          `json:"created_at"`
	UpdatedAt        flexInt          `json:"updated_at"`
}

// wireAddressList is how a contact embeds its companies, tags and notes: the
// first few references, a total and whether there are more.
type wireAddressList struct {
	Data []struct {
		ID   flexString `json:"id"`
		Name string     `json:"name"` // tags carry a name on some versions
	} `json:"data"`
	TotalCount int  `json:"total_count"`
	HasMore    bool `json:"has_more"`
}

type wireContactList struct {
	Data       []wireContact `json:"data"`
	TotalCount *int          `json:"total_count"`
	Pages      *wirePages    `json:"pages"`
}

type wirePages struct {
	Next *struct {
		StartingAfter string `json:"starting_after"`
	} `json:"next"`
}

func (p *wirePages) nextCursor() string {
	if p == nil || p.Next == nil {
		return ""
	}
	return p.Next.StartingAfter
}

type wireCompany struct {
	ID        flexString `json:"id"`
	CompanyID flexString `json:"company_id"`
	AppID     flexString `json:"app_id"`
	Name      string     `json:"name"`
	Website   string     `json:"website"`
	Industry  string     `json:"industry"`
	Size      flexInt    `json:"size"`
	Plan      *struct {
		Name string `json:"name"`
	} `json:"plan"`
	CreatedAt flexInt `json:"created_at"`
	UpdatedAt flexInt `json:"updated_at"`
}

// wireContactCompanies is GET /contacts/{id}/companies: the list is under
// "companies" there, not "data".
type wireContactCompanies struct {
	Companies []wireCompany `json:"companies"`
	Data      []wireCompany `json:"data"`
}

type wireAdmin struct {
	ID              flexString `json:"id"`
	Name            string     `json:"name"`
	Email           string     `json:"email"`
	JobTitle        string     `json:"job_title"`
	AwayModeEnabled bool       `json:"away_mode_enabled"`
	// Avatar is a URL string on /admins and an object on /me.
	Avatar json.RawMessage `json:"avatar"`
}

func (a wireAdmin) avatarURL() string {
	var s string
	if json.Unmarshal(a.Avatar, &s) == nil {
		return s
	}
	var o struct {
		ImageURL string `json:"image_url"`
	}
	if json.Unmarshal(a.Avatar, &o) == nil {
		return o.ImageURL
	}
	return ""
}

type wireMe struct {
	wireAdmin
	App *struct {
		IDCode   string `json:"id_code"`
		Name     string `json:"name"`
		Region   string `json:"region"`
		Timezone string `json:"timezone"`
	} `json:"app"`
}

type wireAdminList struct {
	Admins []wireAdmin `json:"admins"`
}

type wireError struct {
	Type   string `json:"type"`
	Errors []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"errors"`
}
