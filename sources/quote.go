package sources

import (
	"strconv"
	"unicode/utf8"
)

// QuoteRunes is how much of a client's value an error message repeats.
const QuoteRunes = 64

// Quote is the one way an error message repeats a value a client sent: Go
// quoted (control characters escaped) and cut to QuoteRunes runes with an
// ellipsis, so that an answer never grows with the input.
func Quote(s string) string {
	return strconv.Quote(Clip(s, QuoteRunes))
}

// Clip cuts s to n runes, marking the cut with an ellipsis.
func Clip(s string, n int) string {
	if len(s) <= n || utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for range n {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + "…"
}
