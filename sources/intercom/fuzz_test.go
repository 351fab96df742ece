package intercom_test

import (
	"context"
	"testing"
	"unicode/utf8"

	"github.com/talkdesk-intercom/api/sources"
	"github.com/talkdesk-intercom/api/sources/intercom"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
	"github.com/talkdesk-intercom/api/sources/phone"
)

// FuzzSearchQueries builds contact searches from arbitrary text and numbers
// and sends them to the emulator: whatever the input, the client must build
// a request Intercom's search accepts (no 400 from a malformed query, no
// 500, no panic).
func FuzzSearchQueries(f *testing.F) {
	em, err := emulator.Start(emulator.Options{Token: token, RateLimit: 1_000_000})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { em.Close() })
	c, err := intercom.New(intercom.Config{Token: token, BaseURL: em.URL, RateLimitPerMinute: 10_000_000})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"garcia", `"quoted"`, `\`, "%", "ümlaut", "a\x00b", "+1 415 555 0142", "{}", "' OR 1=1"} {
		f.Add(s, "US")
	}
	f.Fuzz(func(t *testing.T, text, country string) {
		if !utf8.ValidString(text) || text == "" {
			return // GraphQL strings are UTF-8; the resolver refuses empty text
		}
		ctx := context.Background()
		if _, err := c.SearchContacts(ctx, text, 5); err != nil {
			t.Fatalf("SearchContacts(%q): %v", text, err)
		}
		if e164, err := phone.Normalize(text, country); err == nil {
			if _, err := c.ContactsByPhones(ctx, []string{e164}); err != nil {
				t.Fatalf("ContactsByPhones(%q): %v", e164, err)
			}
		}
		if _, err := c.ContactsByEmails(ctx, []string{text}); err != nil && sources.ErrorCode(err) != sources.EBadUserInput {
			t.Fatalf("ContactsByEmails(%q): %v", text, err)
		}
	})
}
