package comment

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Words is a list of banned words and phrases (moderation.words), matched
// as whole words regardless of case:
//
//   - A word is a run of letters, digits and combining marks (Unicode
//     categories L, N and M); everything else separates words.
//   - Case is ignored by Unicode simple case folding (K, k and the Kelvin
//     sign K are one letter; ß and "ss" are not). There is no other
//     normalization: a precomposed é and e followed by a combining accent
//     differ.
//   - An entry of several words (a phrase) matches those words in a row,
//     whatever separates them: "buy now" matches "Buy now!", "buy-now" and
//     "buy\n\nnow".
//   - A listed word never matches inside a longer word: "ass" does not
//     match "class" or "ass2". So in scripts written without spaces
//     (Chinese, Japanese, Thai), an entry matches only a whole run of
//     letters.
//
// A Words is immutable and safe for concurrent use.
type Words struct {
	// byFirst holds each entry as its folded words, under its first word.
	byFirst map[string][][]string
	n       int
}

// ErrNoWord is returned by NewWords for an entry without a letter or digit:
// it could never match.
var ErrNoWord = errors.New("comment: a listed word needs a letter or digit")

// NewWords returns the matcher of list. Blank entries are skipped; an entry
// of only punctuation is an error wrapping ErrNoWord.
func NewWords(list []string) (*Words, error) {
	w := &Words{byFirst: map[string][][]string{}}
	for _, e := range list {
		if strings.TrimSpace(e) == "" {
			continue
		}
		toks := tokens(e)
		if len(toks) == 0 {
			return nil, errors.Join(ErrNoWord, errors.New("comment: entry "+quoteShort(e)))
		}
		w.byFirst[toks[0]] = append(w.byFirst[toks[0]], toks)
		w.n++
	}
	return w, nil
}

// Len returns the number of entries.
func (w *Words) Len() int {
	if w == nil {
		return 0
	}
	return w.n
}

// Match reports whether s holds a listed word or phrase. A nil Words
// matches nothing.
func (w *Words) Match(s string) bool {
	if w.Len() == 0 {
		return false
	}
	toks := tokens(s)
	for i, t := range toks {
		for _, entry := range w.byFirst[t] {
			if len(entry) <= len(toks)-i && equalTokens(entry[1:], toks[i+1:i+len(entry)]) {
				return true
			}
		}
	}
	return false
}

func equalTokens(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// tokens returns the words of s (see Words), case-folded.
func tokens(s string) []string {
	var out []string
	var b strings.Builder
	for _, r := range s {
		if isWordRune(r) {
			b.WriteRune(fold(r))
			continue
		}
		if b.Len() > 0 {
			out = append(out, b.String())
			b.Reset()
		}
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

// isWordRune reports whether r is part of a word: a letter, digit or
// combining mark.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r)
}

// fold returns the smallest rune of r's simple case-folding orbit, so that
// two runes equal under strings.EqualFold fold to the same one.
func fold(r rune) rune {
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	return m
}

// ParseWordList returns the entries of a words file (moderation.words_file):
// one word or phrase per line, spaces around it trimmed; blank lines and
// lines whose first non-space character is # are skipped.
func ParseWordList(text string) []string {
	var out []string
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out
}

// CountLinks counts the links in s, as moderation.max_links does: each
// http:// or https:// (any case), and each www. (any case) that starts a
// word (at the start or after a character that is not a letter or digit)
// and is not part of a URL already counted (right after "://"). So
// "https://www.example.com" and "[a](http://x.example)" are one link each,
// "www.example.com" is one, and "example.com" without either is none.
func CountLinks(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 'h', 'H':
			if hasPrefixFold(s[i:], "http://") || hasPrefixFold(s[i:], "https://") {
				n++
				i += len("http://") - 1
			}
		case 'w', 'W':
			if hasPrefixFold(s[i:], "www.") && wordStart(s, i) && !strings.HasSuffix(s[:i], "://") {
				n++
				i += len("www.") - 1
			}
		}
	}
	return n
}

// wordStart reports whether s[i] begins a word: nothing before it, or a
// rune that is not a letter or digit.
func wordStart(s string, i int) bool {
	if i == 0 {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return !unicode.IsLetter(r) && !unicode.IsNumber(r)
}

// hasPrefixFold reports whether s starts with the ASCII prefix p, ASCII
// letters in any case (no Unicode folding: a long s is not an s).
func hasPrefixFold(s, p string) bool {
	if len(s) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != p[i] {
			return false
		}
	}
	return true
}

// quoteShort quotes s for an error, cut to 40 bytes.
func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return `"` + s + `"`
}
