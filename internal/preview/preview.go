// Package preview turns the HTML bodies of messages, tickets and notes into
// the short plain-text previews an agent's dashboard shows (Talkdesk's
// interaction "description").
//
// Text is written for hostile input: it never panics, runs in time linear in
// the size of its input, and always returns valid UTF-8.
package preview

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Ellipsis ends a preview that was cut.
const Ellipsis = "…"

// Text returns a plain-text preview of an HTML fragment, at most max runes
// long (the ellipsis included); max <= 0 means no limit.
//
//   - Tags are removed. Block-level tags (p, br, div, li, headings, table
//     cells, ...) separate words; inline tags (a, b, span, ...) do not, so
//     "<b>Hel</b>lo" reads "Hello". The contents of script, style, head,
//     template and title elements, and comments, are dropped. A "<" that
//     does not start a tag ("a < b") is kept as text.
//   - Entities are decoded (&amp; &lt; &#39; &nbsp; ...); a decoded "&lt;"
//     is text and stays a "<".
//   - Runs of white space (including non-breaking spaces) become one space;
//     control characters are dropped; leading and trailing space is trimmed.
//   - A text longer than max is cut at the last word boundary that keeps at
//     least half of it (else mid-word), trailing punctuation and spaces are
//     trimmed, and Ellipsis is appended.
func Text(s string, max int) string {
	return cut(fold(html.UnescapeString(stripTags(s))), max)
}

// rawTextElements hold text that is not shown (or not markup) and is
// skipped up to their closing tag.
var rawTextElements = map[string]bool{"script": true, "style": true, "head": true, "template": true,
	"title": true, "noscript": true}

// blockElements separate the words around them.
var blockElements = map[string]bool{
	"address": true, "article": true, "aside": true, "blockquote": true, "br": true, "dd": true, "details": true,
	"div": true, "dl": true, "dt": true, "fieldset": true, "figcaption": true, "figure": true, "footer": true,
	"form": true, "h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true, "header": true,
	"hr": true, "img": true, "li": true, "main": true, "nav": true, "ol": true, "p": true, "pre": true,
	"section": true, "summary": true, "table": true, "tbody": true, "td": true, "tfoot": true, "th": true,
	"thead": true, "tr": true, "ul": true, "body": true, "html": true, "iframe": true, "video": true,
	"audio": true, "canvas": true, "option": true, "select": true, "button": true, "input": true,
}

// stripTags removes markup. Every byte is looked at a bounded number of
// times: a tag is only scanned for when a ">" is known to follow, and each
// scan resumes after what it consumed.
func stripTags(s string) string {
	lastGT := strings.LastIndexByte(s, '>')
	var b strings.Builder
	b.Grow(len(s))
	i := 0
	for i < len(s) {
		lt := strings.IndexByte(s[i:], '<')
		if lt < 0 {
			b.WriteString(s[i:])
			break
		}
		b.WriteString(s[i : i+lt])
		i += lt
		if strings.HasPrefix(s[i:], "<!--") {
			end := strings.Index(s[i+4:], "-->")
			if end < 0 {
				return b.String() // an unterminated comment hides the rest
			}
			i += 4 + end + 3
			continue
		}
		if i > lastGT || i+1 >= len(s) || !startsTag(s[i+1]) {
			// Not markup: "a < b", or a "<" with no ">" after it.
			b.WriteByte('<')
			i++
			continue
		}
		if s[i+1] == '!' || s[i+1] == '?' {
			// <!DOCTYPE ...>, <![CDATA[ ... ]]> (its text is dropped), <?xml ...?>
			i += strings.IndexByte(s[i:], '>') + 1 // found: i <= lastGT
			continue
		}
		name, closing, end := scanTag(s, i)
		if end < 0 {
			return b.String() // an unterminated quoted attribute hides the rest
		}
		i = end
		name = strings.ToLower(name)
		if blockElements[name] {
			b.WriteByte(' ')
		}
		if rawTextElements[name] && !closing {
			// Skip to the matching closing tag, or drop the rest.
			if i = skipRawText(s, i, name); i < 0 {
				return b.String()
			}
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// startsTag reports whether c, right after "<", opens markup.
func startsTag(c byte) bool {
	return c == '/' || c == '!' || c == '?' || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

// scanTag reads the tag that starts at s[i] == '<'. It returns the element
// name, whether the tag closes an element, and the index just after its
// ">", or -1 when a quoted attribute value never ends (quotes may hide ">").
func scanTag(s string, i int) (name string, closing bool, end int) {
	j := i + 1
	if j < len(s) && s[j] == '/' {
		closing = true
		j++
	}
	start := j
	for j < len(s) && isNameByte(s[j]) {
		j++
	}
	name = s[start:j]
	// As in browsers, a quote opens a value only right after "=" (spaces
	// allowed): in <a href=x'y> it is just a character.
	var quote, prev byte
	for ; j < len(s); j++ {
		c := s[j]
		switch {
		case quote != 0:
			if c == quote {
				quote, prev = 0, c
			}
			continue
		case (c == '"' || c == '\'') && prev == '=':
			quote = c
		case c == '>':
			return name, closing, j + 1
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' {
			prev = c
		}
	}
	return name, closing, -1
}

func isNameByte(c byte) bool {
	return c == '-' || c == ':' || c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z'
}

// skipRawText returns the index just after "</name ...>" at or after i, or
// -1 if there is none. The search moves forward only.
func skipRawText(s string, i int, name string) int {
	for {
		k := strings.Index(s[i:], "</")
		if k < 0 {
			return -1
		}
		i += k + 2
		if len(s)-i >= len(name) && strings.EqualFold(s[i:i+len(name)], name) &&
			(len(s) == i+len(name) || !isNameByte(s[i+len(name)])) {
			gt := strings.IndexByte(s[i:], '>')
			if gt < 0 {
				return -1
			}
			return i + gt + 1
		}
	}
}

// fold turns every run of white space into one space, drops control
// characters and replaces invalid UTF-8, trimming both ends.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r) || r == '\u200b' || r == '\ufeff':
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r) // RuneError for invalid bytes is written as U+FFFD
	}
	return b.String()
}

// cut shortens s to at most max runes, the ellipsis included.
func cut(s string, max int) string {
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	if max == 1 {
		return Ellipsis
	}
	// The byte offset just after the first max-1 runes.
	keep, n := 0, 0
	for i := range s {
		if n == max-1 {
			keep = i
			break
		}
		n++
	}
	head := s[:keep]
	// Cut at a word boundary when one leaves at least half the room (head
	// may already end at one).
	if sp := strings.LastIndexByte(head, ' '); s[keep] != ' ' && sp >= 0 && utf8.RuneCountInString(head[:sp]) >= (max-1)/2 {
		head = head[:sp]
	}
	head = strings.TrimRightFunc(head, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r) && r != ')' && r != '"' && r != '\''
	})
	return head + Ellipsis
}
