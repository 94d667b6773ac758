package comment

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewValidates(t *testing.T) {
	long := strings.Repeat("é", 2001)
	tests := []struct {
		name string
		in   Input
		code Code
	}{
		{"ok", Input{"post-1", "alice", "hello"}, ""},
		{"ok multiline", Input{"p:1.2_3", "bob@example.com", "line\n\tindented"}, ""},
		{"ok script is text", Input{"p", "u", "<script>alert(1)</script>"}, ""},
		{"ok 2000 runes", Input{"p", "u", strings.Repeat("é", 2000)}, ""},
		{"empty post", Input{"", "u", "x"}, CodeInvalidPostID},
		{"post with space", Input{"a b", "u", "x"}, CodeInvalidPostID},
		{"post too long", Input{strings.Repeat("p", 129), "u", "x"}, CodeInvalidPostID},
		{"post object-ish", Input{`{"$gt":""}`, "u", "x"}, CodeInvalidPostID},
		{"empty user", Input{"p", "", "x"}, CodeInvalidUserID},
		{"user with slash", Input{"p", "a/b", "x"}, CodeInvalidUserID},
		{"empty content", Input{"p", "u", ""}, CodeEmptyContent},
		{"blank content", Input{"p", "u", " \n\t "}, CodeEmptyContent},
		{"too long", Input{"p", "u", long}, CodeContentTooLong},
		{"invalid utf8", Input{"p", "u", "a\xffb"}, CodeInvalidPayload},
		{"nul", Input{"p", "u", "a\x00b"}, CodeInvalidPayload},
		{"escape", Input{"p", "u", "a\x1b[31m"}, CodeInvalidPayload},
		{"c1 control", Input{"p", "u", "a\u0085"}, CodeInvalidPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.in, time.Now(), 0)
			if tt.code == "" {
				require.NoError(t, err)
				require.True(t, ValidID(c.ID))
				require.Equal(t, tt.in.Content, c.Content, "stored verbatim")
				return
			}
			var e *Error
			require.True(t, errors.As(err, &e), "got %v", err)
			require.Equal(t, tt.code, e.Code)
			require.NotEmpty(t, e.Message)
		})
	}
}

func TestJSONWireForm(t *testing.T) {
	at := time.Date(2026, 11, 25, 22, 47, 33, 123456789, time.FixedZone("x", 3600))
	c, err := New(Input{"p", "u", "hi \"there\""}, at, 0)
	require.NoError(t, err)
	b, err := json.Marshal(c)
	require.NoError(t, err)
	require.JSONEq(t, `{"_id":"`+c.ID+`","postId":"p","userId":"u","content":"hi \"there\"","createdAt":"2026-11-25T21:47:33.123Z"}`, string(b))
	var back Comment
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, c, back)
}

func TestIDsOrderedAndUnique(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	t0 := time.Now()
	for i := range 10000 {
		id := NewID(t0.Add(time.Duration(i) * time.Millisecond))
		require.True(t, ValidID(id))
		require.False(t, seen[id])
		seen[id] = true
		require.Greater(t, id, prev, "later millisecond sorts later")
		prev = id
	}
	require.False(t, ValidID("xyz"))
	require.False(t, ValidID(strings.Repeat("g", 24)))
}

func FuzzValidateContent(f *testing.F) {
	for _, s := range []string{"hello", "", " ", "a\x00", "\xff", "<script>", strings.Repeat("x", 3000), "é\u0085"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateContent(s, 100)
		if err == nil {
			require.True(t, len([]rune(s)) <= 100)
			require.NotEmpty(t, strings.TrimSpace(s))
			return
		}
		var e *Error
		require.ErrorAs(t, err, &e)
	})
}
