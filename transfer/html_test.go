package transfer

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestHTMLText(t *testing.T) {
	for in, want := range map[string]string{
		"<p>Hello &amp; welcome<br>second</p><p>para 2</p>": "Hello & welcome\nsecond\n\npara 2",
		"a<br/>b<BR />c":                                "a\nb\nc",
		"<b>x</b> &lt;y&gt; &#39;z&#39; &nbsp;!":        "x <y> 'z'  !",
		"<script>alert(1)</script>ok<style>p{}</style>": "ok",
		"1 < 2 and 3 > 2":                               "1 < 2 and 3 > 2",
		"<p></p><p></p><p>x</p><p></p>":                 "x",
		"tab\there\x00\x07":                             "tab\there",
		"unclosed <b":                                   "unclosed <b",
	} {
		require.Equal(t, want, HTMLText(in), in)
	}
}

func FuzzHTMLText(f *testing.F) {
	for _, s := range []string{"<p>a<br>b</p>", "&amp;&#x1F600;&bogus;", "<script>x", "<", "a<b>c</b", "\xff<p>\x00", "<p " + strings.Repeat("<", 10)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := HTMLText(s)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 from %q", s)
		}
		if strings.Contains(out, "\n\n\n") {
			t.Fatalf("more than one blank line from %q: %q", s, out)
		}
	})
}
