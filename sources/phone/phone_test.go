package phone

import (
	"slices"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		raw, country, want string
	}{
		{"(415) 555-0142", "US", "+14155550142"},
		{"415.555.0142", "US", "+14155550142"},
		{"415-555-0142", "us", "+14155550142"},
		{"1-415-555-0142", "US", "+14155550142"},
		{"+1 415 555 0142", "", "+14155550142"},
		{"+1 (415) 555-0142", "GB", "+14155550142"},
		{"001 415 555 0142", "PT", "+14155550142"},
		{"0014155550142", "", "+14155550142"},
		{"tel:+1-415-555-0142", "", "+14155550142"},
		{"020 7946 0958", "GB", "+442079460958"},
		{"+44 (0)20 7946 0958", "", "+442079460958"},
		{"912 345 678", "PT", "+351912345678"},
		{"00351 912 345 678", "", "+351912345678"},
		{"030 123456", "DE", "+4930123456"},
		{"+55 11 91234-5678", "", "+5511912345678"},
		{"(11) 91234-5678", "BR", "+5511912345678"},
		{"01 23 45 67 89", "FR", "+33123456789"},
		{"(02) 9876 5432", "AU", "+61298765432"},
		{"+1 555 555 5555", "", "+15555555555"}, // not in service, still a possible number
		{"07700 900460", "GB", "+447700900460"}, // Ofcom's range for drama

		{"+91 98765 43210", "", "+919876543210"},
		{"  +1 415 555 0142 ext. 12 ", "", "+14155550142"},
	}
	for _, tt := range tests {
		t.Run(tt.raw+"/"+tt.country, func(t *testing.T) {
			got, err := Normalize(tt.raw, tt.country)
			if err != nil {
				t.Fatalf("Normalize(%q, %q): %v", tt.raw, tt.country, err)
			}
			if got != tt.want {
				t.Errorf("Normalize(%q, %q) = %q, want %q", tt.raw, tt.country, got, tt.want)
			}
		})
	}
}

func TestNormalizeRejects(t *testing.T) {
	tests := []struct {
		raw, country, wantReason string
	}{
		{"", "US", "empty"},
		{"   ", "US", "empty"},
		{"call me maybe", "US", "no digits"},
		{"415-555-0142", "", "no country code"},
		{"12", "US", "too short"},
		{"+1 415 555 0142 0000 0000 0000", "", "too long"},
		{"+999 1234 5678", "", "unknown country code"},
		{"415-555-0142", "XX", "not an ISO 3166-1"},
		{strings.Repeat("1", 100), "US", "longer than"},
		{"000000", "CC", "unknown country code"},
		{"AA       000000", "CC", "not a valid"},
	}
	for _, tt := range tests {
		t.Run(tt.raw+"/"+tt.country, func(t *testing.T) {
			_, err := Normalize(tt.raw, tt.country)
			if err == nil {
				t.Fatalf("Normalize(%q, %q) succeeded, want an error", tt.raw, tt.country)
			}
			if !strings.Contains(err.Error(), tt.wantReason) {
				t.Errorf("Normalize(%q, %q) error = %q, want it to mention %q", tt.raw, tt.country, err, tt.wantReason)
			}
		})
	}
}

func TestVariants(t *testing.T) {
	tests := []struct {
		e164     string
		mustHave []string
	}{
		{"+14155550142", []string{"+14155550142", "(415) 555-0142", "+1 415-555-0142", "415.555.0142", "4155550142", "1-415-555-0142", "14155550142"}},
		{"+442079460958", []string{"+442079460958", "020 7946 0958", "+44 20 7946 0958", "02079460958", "00442079460958"}},
		{"+351912345678", []string{"+351912345678", "912 345 678", "+351 912 345 678", "00351912345678"}},
	}
	for _, tt := range tests {
		t.Run(tt.e164, func(t *testing.T) {
			got := Variants(tt.e164)
			if len(got) == 0 || got[0] != tt.e164 {
				t.Fatalf("Variants(%q)[0] = %v, want the E.164 form first", tt.e164, got)
			}
			if len(got) > MaxVariants {
				t.Errorf("Variants(%q) has %d items, want at most %d", tt.e164, len(got), MaxVariants)
			}
			for _, v := range tt.mustHave {
				if !slices.Contains(got, v) {
					t.Errorf("Variants(%q) = %q, missing %q", tt.e164, got, v)
				}
			}
			// Every variant must normalise back to the same number.
			for _, v := range got {
				country := "US"
				if !strings.HasPrefix(tt.e164, "+1") {
					country = map[string]string{"+44": "GB", "+35": "PT"}[tt.e164[:3]]
				}
				n, err := Normalize(v, country)
				if err != nil || n != tt.e164 {
					t.Errorf("Normalize(%q, %q) = %q, %v; want %q", v, country, n, err, tt.e164)
				}
			}
		})
	}
	if got := Variants("not a number"); got != nil {
		t.Errorf("Variants(garbage) = %v, want nil", got)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"(415) 555-0142", "+44 20 7946 0958", "00351912345678", "", "+", "00", "tel:+1", "1-800-FLOWERS"} {
		f.Add(s, "US")
	}
	f.Fuzz(func(t *testing.T, raw, country string) {
		got, err := Normalize(raw, country)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("Normalize(%q, %q): empty error message", raw, country)
			}
			return
		}
		if !strings.HasPrefix(got, "+") {
			t.Fatalf("Normalize(%q, %q) = %q, not E.164", raw, country, got)
		}
		// E.164 is a fixed point: normalising it again changes nothing.
		again, err := Normalize(got, "")
		if err != nil || again != got {
			t.Fatalf("Normalize(%q) = %q, %v; want the same E.164 back", got, again, err)
		}
		if vs := Variants(got); len(vs) == 0 || vs[0] != got {
			t.Fatalf("Variants(%q) = %v, want it first", got, vs)
		}
	})
}
