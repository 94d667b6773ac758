package jsonenc

import (
	"bytes"
	"encoding/json"
	"testing"
)

// AppendString writes what encoding/json writes, in both HTML modes.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c", "<a href='x'>&</a>", "\x00\x01\b\f\n\r\t\x1f\x7f", "\xff\xfe", "é\u2028\u2029\U0001F600", "a\xe2\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString([]byte("x"), s, true); string(got) != "x"+string(want) {
			t.Fatalf("escapeHTML: got %q, encoding/json %q", got, want)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		want = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if got := AppendString(nil, s, false); string(got) != string(want) {
			t.Fatalf("no escapeHTML: got %q, encoding/json %q", got, want)
		}
	})
}
