package sources

import (
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", `""`},
		{"abc", `"abc"`},
		{"a\r\nb", `"a\r\nb"`},
		{strings.Repeat("x", QuoteRunes), `"` + strings.Repeat("x", QuoteRunes) + `"`},
		{strings.Repeat("x", 400_000), `"` + strings.Repeat("x", QuoteRunes) + `…"`},
		{strings.Repeat("é", 100), `"` + strings.Repeat("é", QuoteRunes) + `…"`},
	} {
		if got := Quote(c.in); got != c.want {
			t.Errorf("Quote(%.20q…) = %.80s, want %.80s", c.in, got, c.want)
		}
	}
}
