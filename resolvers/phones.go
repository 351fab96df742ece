package resolvers

import (
	"github.com/maypok86/otter/v2"

	"github.com/talkdesk-intercom/api/internal/bounded"
	"github.com/talkdesk-intercom/api/sources/phone"
)

// PhoneNormalizer is phone.Normalize that remembers its latest results: the
// same callers ring again and again, and the phone library's parsing is a
// fifth of a warm screen pop's CPU.
type PhoneNormalizer struct {
	results *otter.Cache[normalized, result]
}

type normalized struct{ raw, country string }

type result struct {
	e164 string
	err  error
}

// NewPhoneNormalizer remembers up to size results (only of inputs of at most
// phone.MaxLength bytes: 10,000 results weigh a few MB at most).
func NewPhoneNormalizer(size int) *PhoneNormalizer {
	return &PhoneNormalizer{results: bounded.New(otter.Options[normalized, result]{MaximumSize: size}, nil)}
}

// Normalize is phone.Normalize; a nil PhoneNormalizer remembers nothing.
func (n *PhoneNormalizer) Normalize(raw, defaultCountry string) (string, error) {
	if n == nil {
		return phone.Normalize(raw, defaultCountry)
	}
	if len(raw) > phone.MaxLength || len(defaultCountry) > 8 {
		return phone.Normalize(raw, defaultCountry) // refused at once: not worth remembering
	}
	key := normalized{raw, defaultCountry}
	if r, ok := n.results.GetIfPresent(key); ok {
		return r.e164, r.err
	}
	e164, err := phone.Normalize(raw, defaultCountry)
	n.results.Set(key, result{e164, err})
	return e164, err
}
