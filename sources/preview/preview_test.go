package preview

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"plain text", "Hello world", 0, "Hello world"},
		{"empty", "", 10, ""},
		{"only tags", "<p><br></p>", 10, ""},
		{"paragraphs separate words", "<p>Hi there,</p><p>Our invoice is wrong.</p>", 0, "Hi there, Our invoice is wrong."},
		{"br separates words", "Thanks,<br>Maria", 0, "Thanks, Maria"},
		{"self-closing br", "line one<br/>line two<BR />three", 0, "line one line two three"},
		{"inline tags do not", "<b>Hel</b>lo <span class=\"x\">wor</span>ld", 0, "Hello world"},
		{"links keep their text", `See the <a href="https://example.com/pricing?a=1&amp;b=2">pricing page</a>.`, 0, "See the pricing page."},
		{"entities", "Tom &amp; Jerry &lt;3 &quot;cheese&quot; &#39;n&#x27; caf&eacute;", 0, `Tom & Jerry <3 "cheese" 'n' café`},
		{"decoded markup is text", "&lt;script&gt;alert(1)&lt;/script&gt;", 0, "<script>alert(1)</script>"},
		{"nbsp folds", "a&nbsp;&nbsp; b", 0, "a b"},
		{"white space folds", "  a \n\t\r b\u00a0\u2003c  ", 0, "a b c"},
		{"control characters dropped", "a\x00b\x07c\u200bd", 0, "abcd"},
		{"invalid UTF-8 replaced", "a\xffb", 0, "a\ufffdb"},
		{"comments dropped", "a<!-- hidden <p>x</p> -->b", 0, "ab"},
		{"unterminated comment hides the rest", "a <!-- hidden", 0, "a"},
		{"script and style dropped", "a<script>if (x < y) { z() }</script> b<style>p{}</style>c", 0, "a b c"},
		{"script closing tag is case-insensitive", "a<SCRIPT>x</ScRiPt >b", 0, "a b"},
		{"unclosed script hides the rest", "a<script>x", 0, "a"},
		{"doctype and cdata", "<!DOCTYPE html><?xml version=\"1.0\"?>a", 0, "a"},
		{"less-than that is not a tag", "a < b and 3<4", 0, "a < b and 3<4"},
		{"less-than without any greater-than", "x <y", 0, "x <y"},
		{"greater-than in a quoted attribute", `<a title="a>b">link</a>`, 0, "link"},
		{"quote inside an unquoted value", `<a href=x'y>link</a> it's`, 0, "link it's"},
		{"unterminated quoted attribute hides the rest", `a<a title="oops>b`, 0, "a"},
		{"table cells separate", "<table><tr><td>a</td><td>b</td></tr></table>", 0, "a b"},
		{"list items separate", "<ul><li>one</li><li>two</li></ul>", 0, "one two"},
		{"code stays", "<p>Error <code>429 Too Many Requests</code></p>", 0, "Error 429 Too Many Requests"},
		// Markup as browsers read it (the HTML tokenizer's rules).
		{"empty comment <!-->", "a<!-->b", 0, "ab"},
		{"empty comment <!--->", "a<!--->b", 0, "ab"},
		{"comment closed by --!>", "a<!-- x --!>b", 0, "ab"},
		{"tag inside a comment", "<p>a</p><!-- <script> -->b", 0, "a b"},
		{"cdata is a bogus comment", "<![CDATA[x]]>y", 0, "y"},
		{"bogus end tag", "a<//b>c</>d", 0, "acd"},
		{"close tag of a block", "a</p>b", 0, "a b"},
		{"name that only starts like script", "a<scriptx>b</scriptx>c", 0, "abc"},
		{"markup inside script is script", "a<script>document.write('<p>x</p>')</script>b", 0, "a b"},
		{"title dropped", "<title>Ticket #1</title>Hello", 0, "Hello"},
		{"whole document", "<!DOCTYPE html><html><head><title>T</title><meta charset=utf-8></head><body><p>Hi</p></body></html>", 0, "Hi"},
		{"unclosed head ends at body", "<head><title>T</title><body>Hi", 0, "Hi"},
		{"self-closing script hides nothing", "a<script/>b", 0, "ab"},
		{"greater-than in a single-quoted attribute", `<a href="x" title='>'>link</a>`, 0, "link"},
		{"less-than before a digit is text", "1 <3 and 2> 1", 0, "1 <3 and 2> 1"},
		{"entity of an entity", "&amp;lt;", 0, "&lt;"},
		{"entity without semicolon", "AT&T &copy 2024", 0, "AT&T © 2024"},
		{"attributes are not text", `<img alt="cat">photo`, 0, "photo"},
		{"nul in text", "a\x00b", 0, "ab"},
		{"upper-case tags", "<P>a</P><DIV>b</DIV>", 0, "a b"},

		{"fits exactly", "12345", 5, "12345"},
		{"cut at a word boundary", "The quick brown fox jumps", 15, "The quick…"},
		{"trailing punctuation trimmed", "Hello, world and more", 8, "Hello…"},
		{"long word cut mid-word", "Supercalifragilistic", 6, "Super…"},
		{"boundary too early is ignored", "a verylongwordthatgoeson", 10, "a verylon…"},
		{"max 1", "hello", 1, "…"},
		{"runes not bytes", "çãé ñõü ÀÉÎ", 8, "çãé ñõü…"},
		{"cut after decoding", "<p>Tom &amp; Jerry went to the market</p>", 12, "Tom & Jerry…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Text(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("Text(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
			if tt.max > 0 && utf8.RuneCountInString(got) > tt.max {
				t.Errorf("Text(%q, %d) has %d runes", tt.in, tt.max, utf8.RuneCountInString(got))
			}
		})
	}
}

// Hostile inputs must stay linear: each of these is megabytes of a pattern
// that would make a naive scanner quadratic.
func TestTextIsLinear(t *testing.T) {
	const n = 1 << 20
	inputs := map[string]string{
		"many < without >":    strings.Repeat("<a", n/2),
		"many < before one >": strings.Repeat("<a", n/2) + ">",
		"many comment starts": strings.Repeat("<!--", n/4) + "-->",
		"many script opens":   strings.Repeat("<script>", n/8),
		"many closing starts": "<script>" + strings.Repeat("</", n/2),
		"many quotes":         "<a title=" + strings.Repeat(`"'`, n/2),
		"many entities":       strings.Repeat("&amp;", n/5),
		"many partial ents":   strings.Repeat("&#", n/2),
		"many spaces":         strings.Repeat(" \n", n/2) + "x",
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			out := Text(in, 200)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v on %d bytes", d, len(in))
			}
			if utf8.RuneCountInString(out) > 200 {
				t.Errorf("output has %d runes", utf8.RuneCountInString(out))
			}
		})
	}
}

func FuzzText(f *testing.F) {
	seeds := []string{
		"", "plain", "<p>Hi&nbsp;there,</p><p>Our invoice &amp; address</p>", "a < b", "<a href='x>y'>t</a>",
		"<script>x</script>y", "<!-- c -->d", "&lt;b&gt;", "<br/><BR>", "\xff\xfe", "<a title=\"", "<!", "<",
		"çãé ñõü", "word word word word word word word word", "<table><tr><td>a</td></tr></table>",
		"a<!-->b", "a<!--->b", "a<!-- x --!>b", "<![CDATA[x]]>y", "a<//b>c</>d", "a<scriptx>b", "a<script/>b",
		"<head><title>T</title><body>Hi", "<title>x", "<textarea><b>x</b></textarea>", "<plaintext><p>x",
		"1 <3 and 2> 1", "&amp;lt;", "AT&T &copy 2024", "a\x00b<\x00>", "<a b='>'>c", "<a =x>y", "</ script>",
	}
	for _, s := range seeds {
		f.Add(s, 20)
	}
	f.Fuzz(func(t *testing.T, in string, max int) {
		max = max % 500
		out := Text(in, max)
		if !utf8.ValidString(out) {
			t.Fatalf("Text(%q, %d) = %q is not valid UTF-8", in, max, out)
		}
		if max > 0 && utf8.RuneCountInString(out) > max {
			t.Fatalf("Text(%q, %d) = %q has %d runes", in, max, out, utf8.RuneCountInString(out))
		}
		if out != strings.TrimSpace(out) || strings.Contains(out, "  ") || strings.ContainsAny(out, "\n\t\r\u00a0") {
			t.Fatalf("Text(%q, %d) = %q: white space not folded", in, max, out)
		}
		// A cut preview is the start of the full one.
		full := Text(in, 0)
		if head, wasCut := strings.CutSuffix(out, Ellipsis); wasCut && out != full && !strings.HasPrefix(full, head) {
			t.Fatalf("Text(%q, %d) = %q is not a prefix of the full preview %q", in, max, out, full)
		}
		if !strings.HasSuffix(out, Ellipsis) && out != full {
			t.Fatalf("Text(%q, %d) = %q differs from the full preview %q without an ellipsis", in, max, out, full)
		}
		// Text without markup or entities is only folded.
		if !strings.ContainsAny(in, "<&") && max <= 0 && full != fold(in) {
			t.Fatalf("Text(%q) = %q, want the folded input %q", in, full, fold(in))
		}
	})
}
