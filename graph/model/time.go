package model

import (
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/talkdesk-intercom/api/sources"
)

// MarshalTime writes the Time scalar as RFC 3339 in UTC.
func MarshalTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(t.UTC().Format(time.RFC3339)))
	})
}

// UnmarshalTime reads the Time scalar; a malformed value is the caller's
// mistake (BAD_USER_INPUT), not an internal error.
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, sources.InputError("", "a Time must be an RFC 3339 string such as 2026-11-24T17:12:00Z")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, sources.InputError("", "%s is not an RFC 3339 time such as 2026-11-24T17:12:00Z", sources.Quote(s))
	}
	return t, nil
}
