// Package phone normalises human-written phone numbers to E.164 and lists the
// other ways the same number is commonly stored, for systems that search
// phones as plain strings.
package phone

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"

	"github.com/talkdesk-intercom/api/sources"
)

// MaxLength bounds the work done on hostile input: Normalize refuses longer
// numbers. Real numbers with extensions and punctuation stay far below it.
const MaxLength = 64

// Error explains why a number could not be normalised, in words fit for the
// person who typed it.
type Error struct{ Reason string }

func (e *Error) Error() string { return e.Reason }

// Normalize parses raw, written in any common human format, and returns it in
// E.164 (+14155550142). defaultCountry is an ISO 3166-1 alpha-2 code used
// when raw has no international prefix; it may be empty when raw starts with
// "+" or "00".
func Normalize(raw, defaultCountry string) (string, error) {
	num, err := parse(raw, defaultCountry)
	if err != nil {
		return "", err
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// IsValidCountry reports whether code is a region the phone library knows.
func IsValidCountry(code string) bool {
	return phonenumbers.GetCountryCodeForRegion(strings.ToUpper(code)) != 0
}

func parse(raw, defaultCountry string) (*phonenumbers.PhoneNumber, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return nil, &Error{"the phone number is empty"}
	}
	if len(s) > MaxLength {
		return nil, &Error{fmt.Sprintf("the phone number is longer than %d characters", MaxLength)}
	}
	if !strings.ContainsFunc(s, unicode.IsDigit) {
		return nil, &Error{sources.Quote(s) + " has no digits"}
	}
	region := strings.ToUpper(strings.TrimSpace(defaultCountry))
	if region != "" && !IsValidCountry(region) {
		return nil, &Error{sources.Quote(defaultCountry) + " is not an ISO 3166-1 alpha-2 country code"}
	}
	if len(s) >= 4 && strings.EqualFold(s[:4], "tel:") { // RFC 3966 URIs from softphones
		s = strings.TrimSpace(s[4:])
	}
	// "00" is the international prefix almost everywhere outside North
	// America, where no number starts with 0: read it as "+" in any region.
	if rest, ok := strings.CutPrefix(s, "00"); ok {
		s = "+" + rest
	}
	international := strings.HasPrefix(s, "+")
	if !international && region == "" {
		return nil, &Error{sources.Quote(s) + " has no country code: write it as +<country code><number> or give a default country"}
	}
	if region == "" {
		region = "ZZ" // unknown region: the number must carry its own country code
	}
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		return nil, &Error{describeParseError(s, err)}
	}
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.IS_POSSIBLE, phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
	case phonenumbers.INVALID_COUNTRY_CODE:
		return nil, &Error{sources.Quote(s) + " has an unknown country code"}
	case phonenumbers.TOO_SHORT:
		return nil, &Error{sources.Quote(s) + " is too short to be a phone number"}
	case phonenumbers.TOO_LONG:
		return nil, &Error{sources.Quote(s) + " is too long to be a phone number"}
	default:
		return nil, &Error{sources.Quote(s) + " is not a possible phone number"}
	}
	// Possible is a length check, deliberately looser than "valid": numbering
	// plans change faster than any library's metadata, and an unknown caller
	// is answered by finding no contact, not by an error. Only numbers whose
	// E.164 form does not read back as itself are refused.
	if again, err := phonenumbers.Parse(phonenumbers.Format(num, phonenumbers.E164), "ZZ"); err != nil ||
		phonenumbers.Format(again, phonenumbers.E164) != phonenumbers.Format(num, phonenumbers.E164) {
		return nil, &Error{sources.Quote(s) + " is not a valid phone number"}
	}
	return num, nil
}

func describeParseError(s string, err error) string {
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		return sources.Quote(s) + " has an unknown country code"
	case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
		return sources.Quote(s) + " is too short to be a phone number"
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return sources.Quote(s) + " is too long to be a phone number"
	default:
		return sources.Quote(s) + " is not a phone number"
	}
}

// MaxVariants bounds Variants so that one number fits in a single IN filter.
const MaxVariants = 15

// Variants returns the E.164 number first, then the other spellings of it
// that people and older CRMs commonly store: national and international
// formats with spaces, dashes, dots or nothing between the groups, and the
// "00" international prefix. It returns nil for a number that is not E.164.
func Variants(e164 string) []string {
	num, err := phonenumbers.Parse(e164, "ZZ")
	if err != nil || !strings.HasPrefix(e164, "+") {
		return nil
	}
	cc := fmt.Sprint(num.GetCountryCode())
	digits := strings.TrimPrefix(phonenumbers.Format(num, phonenumbers.E164), "+")
	national := phonenumbers.Format(num, phonenumbers.NATIONAL)
	intl := phonenumbers.Format(num, phonenumbers.INTERNATIONAL)
	nsn := phonenumbers.GetNationalSignificantNumber(num)
	nationalDigits := onlyDigits(national)

	out := newOrderedSet(MaxVariants)
	out.add("+" + digits)
	out.add(national)
	out.add(intl)
	out.add(nationalDigits)
	out.add(digits)
	out.add("00" + digits)
	out.add(strings.ReplaceAll(intl, "-", " "))
	out.add(strings.ReplaceAll(intl, " ", "-"))
	if cc == "1" && len(nsn) == 10 {
		// North American habits: 415-555-0142, 415.555.0142, 1-415-555-0142, +1 (415) 555-0142.
		a, b, c := nsn[:3], nsn[3:6], nsn[6:]
		out.add(a + "-" + b + "-" + c)
		out.add(a + "." + b + "." + c)
		out.add(a + " " + b + " " + c)
		out.add("1-" + a + "-" + b + "-" + c)
		out.add("+1 (" + a + ") " + b + "-" + c)
		out.add("1" + nsn)
	} else {
		out.add(strings.ReplaceAll(national, " ", ""))
		out.add(strings.ReplaceAll(national, " ", "-"))
		out.add("+" + cc + " " + nsn)
		out.add(nsn)
	}
	return out.items
}

func onlyDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

type orderedSet struct {
	limit int
	seen  map[string]bool
	items []string
}

func newOrderedSet(limit int) *orderedSet {
	return &orderedSet{limit: limit, seen: map[string]bool{}}
}

func (s *orderedSet) add(v string) {
	if v == "" || s.seen[v] || len(s.items) >= s.limit {
		return
	}
	s.seen[v] = true
	s.items = append(s.items, v)
}

// Country returns the ISO 3166-1 alpha-2 code of the country an E.164 number
// belongs to, or "" when it cannot tell.
func Country(e164 string) string {
	num, err := phonenumbers.Parse(e164, "ZZ")
	if err != nil {
		return ""
	}
	r := phonenumbers.GetRegionCodeForNumber(num)
	if r == "ZZ" {
		return ""
	}
	return r
}
