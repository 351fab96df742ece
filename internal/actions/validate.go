package actions

import (
	"html"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/phone"
)

// Limits on input, checked before Intercom is called.
const (
	maxName       = 255
	maxTitle      = 255
	maxBody       = 20_000
	maxTag        = 100
	maxAttributes = 100
)

func checkLength(p *Problems, field, v string, min, max int) string {
	v = strings.TrimSpace(v)
	n := utf8.RuneCountInString(v)
	switch {
	case n < min && min == 1:
		p.add(field, "%s is required", field)
	case n < min:
		p.add(field, "%s must be at least %d characters", field, min)
	case n > max:
		p.add(field, "%s must be at most %d characters, got %d", field, max, n)
	}
	return v
}

// checkEmail validates an optional email and lower-cases it.
func checkEmail(p *Problems, field, v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	email, ok := sources.NormalizeEmail(v)
	if !ok {
		p.add(field, "%s is not an email address", sources.Quote(v))
	}
	return email
}

// checkPhone normalises an optional phone number to E.164.
func checkPhone(p *Problems, field, v, defaultCountry string) string {
	if strings.TrimSpace(v) == "" {
		return ""
	}
	if defaultCountry != "" && !phone.IsValidCountry(defaultCountry) {
		p.add("defaultCountry", "%s is not an ISO 3166-1 alpha-2 country code such as US or GB", sources.Quote(defaultCountry))
		return ""
	}
	e164, err := phone.Normalize(v, defaultCountry)
	if err != nil {
		p.add(field, "%v", err)
		return ""
	}
	return e164
}

func checkRole(p *Problems, field, v string) string {
	switch r := strings.ToLower(strings.TrimSpace(v)); r {
	case "", "user", "lead":
		return r
	default:
		p.add(field, "%s is not a role: use user or lead", sources.Quote(v))
		return ""
	}
}

func checkAttributes(p *Problems, field string, attrs map[string]any) {
	if len(attrs) > maxAttributes {
		p.add(field, "at most %d custom attributes at once, got %d", maxAttributes, len(attrs))
	}
	for k, v := range attrs {
		if strings.TrimSpace(k) == "" || len(k) > 190 {
			p.add(field, "custom attribute names must be 1 to 190 characters")
		}
		switch v.(type) {
		case nil, string, bool, float64, int, int64:
		default:
			if _, isNumber := v.(interface{ String() string }); !isNumber {
				p.add(field, "custom attribute %s must be a string, number, boolean or null", sources.Quote(k))
			}
		}
	}
}

func checkURL(p *Problems, field, v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(field, "%s is not an http(s) URL", sources.Quote(v))
		return ""
	}
	return v
}

// textToHTML turns an agent's plain text into the HTML Intercom stores,
// keeping line breaks.
func textToHTML(s string) string {
	var b strings.Builder
	for _, para := range strings.Split(strings.TrimSpace(s), "\n\n") {
		if strings.TrimSpace(para) == "" {
			continue
		}
		lines := strings.Split(strings.TrimSpace(para), "\n")
		for i, l := range lines {
			lines[i] = html.EscapeString(strings.TrimRight(l, "\r"))
		}
		b.WriteString("<p>" + strings.Join(lines, "<br>") + "</p>")
	}
	return b.String()
}
