// Package preview turns the HTML bodies of messages, tickets and notes into
// the short plain-text previews an agent's dashboard shows (Talkdesk's
// interaction "description").
//
// Text is written for hostile input: it never panics, runs in time linear in
// the size of its input, and always returns valid UTF-8.
package preview

import (
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// Ellipsis ends a preview that was cut.
const Ellipsis = "…"

// Text returns a plain-text preview of an HTML fragment, at most max runes
// long (the ellipsis included); max <= 0 means no limit.
//
//   - Markup is read as browsers read it (golang.org/x/net/html's
//     tokenizer): "a<!-->b" is an empty comment between a and b, a "<" that
//     does not start a tag ("a < b") is text, and so is a "<" with no ">"
//     after it.
//   - Tags are removed. Block-level tags (p, br, div, li, headings, table
//     cells, ...) separate words; inline tags (a, b, span, ...) do not, so
//     "<b>Hel</b>lo" reads "Hello". The contents of script, style, head,
//     template, noscript and title elements, comments, doctypes and
//     processing instructions are dropped.
//   - Entities are decoded (&amp; &lt; &#39; &nbsp; ...); a decoded "&lt;"
//     is text and stays a "<".
//   - Runs of white space (including non-breaking spaces) become one space;
//     control characters are dropped; leading and trailing space is trimmed.
//   - A text longer than max is cut at the last word boundary that keeps at
//     least half of it (else mid-word), trailing punctuation and spaces are
//     trimmed, and Ellipsis is appended.
func Text(s string, max int) string {
	return cut(fold(text(s)), max)
}

// hiddenElements hold text that is not shown.
var hiddenElements = map[string]bool{"script": true, "style": true, "head": true, "template": true,
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

// text is the decoded text of the fragment, its block tags turned into
// spaces. The tokenizer reads each byte a bounded number of times.
func text(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	z := html.NewTokenizer(strings.NewReader(s))
	hidden := 0 // depth of hidden elements the tokenizer is in
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			// The input ended. Inside a tag the tokenizer drops what it
			// read, as browsers do; a "<" with no ">" after it was text.
			if rest := z.Raw(); z.Err() == io.EOF && len(rest) > 0 && hidden == 0 && !strings.ContainsRune(string(rest), '>') {
				b.Write(rest)
			}
			return b.String()
		case html.TextToken:
			if hidden == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			raw, _ := z.TagName()
			name := string(raw) // lower case
			if blockElements[name] {
				b.WriteByte(' ')
			}
			switch {
			case name == "body":
				hidden = 0 // an unclosed head ends where the body starts
			case !hiddenElements[name] || tt == html.SelfClosingTagToken:
			case tt == html.StartTagToken:
				hidden++
			case hidden > 0:
				hidden--
				b.WriteByte(' ')
			}
		}
		// Comments, doctypes and processing instructions are dropped.
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
