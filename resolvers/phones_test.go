package resolvers

import (
	"testing"

	"github.com/talkdesk-intercom/api/sources/phone"
)

// A PhoneNormalizer answers as phone.Normalize does, errors included, from
// memory the second time.
func TestNormalizerRemembers(t *testing.T) {
	n := NewPhoneNormalizer(10)
	for range 2 {
		for _, c := range []struct{ raw, country string }{{"(415) 555-0142", "US"}, {"not a phone", "US"}, {"+44 20 7946 0958", ""}} {
			gotE164, gotErr := n.Normalize(c.raw, c.country)
			wantE164, wantErr := phone.Normalize(c.raw, c.country)
			if gotE164 != wantE164 || (gotErr == nil) != (wantErr == nil) {
				t.Errorf("%q: got %q, %v; want %q, %v", c.raw, gotE164, gotErr, wantE164, wantErr)
			}
		}
	}
	if got := n.results.EstimatedSize(); got != 3 {
		t.Errorf("%d results remembered, want 3", got)
	}
}
