package transfer

import (
	"html"
	"strings"
	"unicode"
)

// HTMLText converts a comment's HTML (Disqus messages, WordPress comment
// content) to the plain text commentd stores: tags are dropped, entities
// decoded, <br> becomes a line break and a paragraph (p, div, li,
// blockquote, pre, h1-h6) a blank line; script and style lose their text.
// Control characters other than newline and tab go, spaces at line ends
// go, and more than one blank line in a row becomes one.
func HTMLText(s string) string {
	var b strings.Builder
	skip := "" // inside script or style: the closing tag ends it
	for len(s) > 0 {
		lt := strings.IndexByte(s, '<')
		if lt < 0 {
			lt = len(s)
		}
		if skip == "" {
			b.WriteString(html.UnescapeString(s[:lt]))
		}
		s = s[lt:]
		if s == "" {
			break
		}
		if len(s) < 2 || !startsTag(s[1]) { // "1 < 2": a '<' not opening a tag is text
			if skip == "" {
				b.WriteByte('<')
			}
			s = s[1:]
			continue
		}
		gt := strings.IndexByte(s, '>')
		if gt < 0 { // an unclosed '<' is text
			if skip == "" {
				b.WriteString(html.UnescapeString(s))
			}
			break
		}
		name, closing := tagName(s[1:gt])
		s = s[gt+1:]
		if skip != "" {
			if closing && name == skip {
				skip = ""
			}
			continue
		}
		switch name {
		case "script", "style":
			if !closing {
				skip = name
			}
		case "br":
			b.WriteByte('\n')
		case "p", "div", "li", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "tr":
			b.WriteString("\n\n")
		}
	}
	return tidy(b.String())
}

// startsTag reports whether c after '<' opens a tag, as HTML reads it.
func startsTag(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '/' || c == '!' || c == '?'
}

// tagName returns the lower-case name of the tag whose inside (between <
// and >) is t, and whether it closes an element.
func tagName(t string) (string, bool) {
	closing := strings.HasPrefix(t, "/")
	t = strings.TrimPrefix(t, "/")
	end := strings.IndexFunc(t, func(r rune) bool { return unicode.IsSpace(r) || r == '/' })
	if end >= 0 {
		t = t[:end]
	}
	return strings.ToLower(t), closing
}

// tidy removes control characters but newline and tab, spaces at line
// ends, and repeated blank lines, and trims the text.
func tidy(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\u00a0':
			return ' '
		case r < 0x20 || r == 0x7f || 0x80 <= r && r < 0xa0:
			return -1
		}
		return r
	}, s)
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimRightFunc(l, unicode.IsSpace)
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
