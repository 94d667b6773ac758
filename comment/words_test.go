package comment

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestWordsMatch(t *testing.T) {
	w, err := NewWords([]string{"spam", "Buy Now", "ass", "Straße", "ΣΟΦΊΑ", "42", "e-mail me", "café", "k"})
	require.NoError(t, err)
	require.Equal(t, 9, w.Len())
	tests := []struct {
		content string
		want    bool
	}{
		// Case and position.
		{"spam", true},
		{"This is SPAM.", true},
		{"sPaM!!!", true},
		{"(spam)", true},
		{"spam\nand more", true},
		// Whole words only: no false positives inside other words.
		{"spammer", false},
		{"antispam", false},
		{"spam2", false},
		{"my class is classic", false},
		{"assess the bass", false},
		{"ass.", true},
		// Phrases: the words in a row, whatever separates them.
		{"buy now", true},
		{"Please BUY   NOW!", true},
		{"buy-now", true},
		{"buy\n\nnow", true},
		{"buy it now", false},
		{"buy nowhere", false},
		{"buy", false},
		{"now buy", false},
		{"e-mail me", true},
		{"email me", false},
		{"E mail ME today", true},
		// Unicode letters, digits and case folding.
		{"STRASSE", false}, // simple folding: ß is not ss
		{"STRAẞE", true},   // capital sharp s folds to ß
		{"σοφία", true},    // Greek upper and lower case
		{"σοφίας", false},  // a longer word
		{"the answer is 42", true},
		{"4242", false},
		{"x42", false},
		{"Café crème", true},
		{"cafés", false},
		{"\u212a", true}, // the Kelvin sign is a k
		{"ok", false},
		{"", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, w.Match(tt.content), "%q", tt.content)
	}
}

func TestWordsUnderscoreSeparates(t *testing.T) {
	// Only letters, digits and marks make words: "spam_filter" is the
	// words spam and filter.
	w, err := NewWords([]string{"spam"})
	require.NoError(t, err)
	require.True(t, w.Match("spam_filter"))
}

func TestWordsEmptyAndNil(t *testing.T) {
	var none *Words
	require.False(t, none.Match("anything"))
	require.Zero(t, none.Len())
	w, err := NewWords([]string{"", "  "})
	require.NoError(t, err)
	require.Zero(t, w.Len())
	require.False(t, w.Match("anything"))
	_, err = NewWords([]string{"ok", "***"})
	require.ErrorIs(t, err, ErrNoWord)
}

func TestParseWordList(t *testing.T) {
	text := "# banned\nspam\n\n  buy now  \n   # indented comment\nfoo, bar\r\n"
	require.Equal(t, []string{"spam", "buy now", "foo, bar"}, ParseWordList(text))
	require.Empty(t, ParseWordList(""))
}

func TestCountLinks(t *testing.T) {
	tests := []struct {
		content string
		want    int
	}{
		{"no links here", 0},
		{"example.com is not counted", 0},
		{"http://a.example", 1},
		{"HTTPS://A.EXAMPLE/path", 1},
		{"https://www.example.com", 1},
		{"www.example.com", 1},
		{"WWW.example.com and (www.other.example)", 2},
		{"awww.cute", 0},
		{"[text](https://x.example) and http://y.example", 2},
		{"http://a.example http://b.example https://c.example www.d.example", 4},
		{"http://a.examplehttp://b.example", 2},
		{"http:/broken and https:", 0},
		{"éwww.example", 0},
		{"—www.example", 1},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, CountLinks(tt.content), "%q", tt.content)
	}
}

// FuzzWords checks the matcher never panics, and that a listed word is
// found when it stands alone between spaces.
func FuzzWords(f *testing.F) {
	f.Add("spam\nbuy now", "Buy now! spam")
	f.Add("Straße", "STRAẞE")
	f.Add("e-mail", "e mail")
	f.Add("a", "\xff\xfe")
	f.Add("", "")
	f.Add("σ", "Σ ς")
	f.Fuzz(func(t *testing.T, list, content string) {
		entries := strings.Split(list, "\n")
		w, err := NewWords(entries)
		if err != nil {
			return
		}
		w.Match(content)
		CountLinks(content)
		for _, e := range entries {
			if utf8.ValidString(e) && len(tokens(e)) > 0 {
				require.True(t, w.Match(content+" "+e+" "+content), "%q in %q", e, content)
			}
		}
	})
}
