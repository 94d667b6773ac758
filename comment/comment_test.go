package comment

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestNewValidates(t *testing.T) {
	long := strings.Repeat("é", 2001)
	tests := []struct {
		name string
		in   Input
		code Code
	}{
		{"ok", Input{PostID: "post-1", UserID: "alice", Content: "hello"}, ""},
		{"ok multiline", Input{PostID: "p:1.2_3", UserID: "bob@example.com", Content: "line\n\tindented"}, ""},
		{"ok script is text", Input{PostID: "p", UserID: "u", Content: "<script>alert(1)</script>"}, ""},
		{"ok 2000 runes", Input{PostID: "p", UserID: "u", Content: strings.Repeat("é", 2000)}, ""},
		{"empty post", Input{PostID: "", UserID: "u", Content: "x"}, CodeInvalidPostID},
		{"post with space", Input{PostID: "a b", UserID: "u", Content: "x"}, CodeInvalidPostID},
		{"post too long", Input{PostID: strings.Repeat("p", 129), UserID: "u", Content: "x"}, CodeInvalidPostID},
		{"post object-ish", Input{PostID: `{"$gt":""}`, UserID: "u", Content: "x"}, CodeInvalidPostID},
		{"empty user", Input{PostID: "p", UserID: "", Content: "x"}, CodeInvalidUserID},
		{"user with slash", Input{PostID: "p", UserID: "a/b", Content: "x"}, CodeInvalidUserID},
		{"empty content", Input{PostID: "p", UserID: "u", Content: ""}, CodeEmptyContent},
		{"blank content", Input{PostID: "p", UserID: "u", Content: " \n\t "}, CodeEmptyContent},
		{"too long", Input{PostID: "p", UserID: "u", Content: long}, CodeContentTooLong},
		{"invalid utf8", Input{PostID: "p", UserID: "u", Content: "a\xffb"}, CodeInvalidPayload},
		{"nul", Input{PostID: "p", UserID: "u", Content: "a\x00b"}, CodeInvalidPayload},
		{"escape", Input{PostID: "p", UserID: "u", Content: "a\x1b[31m"}, CodeInvalidPayload},
		{"c1 control", Input{PostID: "p", UserID: "u", Content: "a\u0085"}, CodeInvalidPayload},
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
	c, err := New(Input{PostID: "p", UserID: "u", Content: "hi \"there\""}, at, 0)
	require.NoError(t, err)
	b, err := json.Marshal(c)
	require.NoError(t, err)
	require.JSONEq(t, `{"_id":"`+c.ID+`","postId":"p","userId":"u","content":"hi \"there\"","createdAt":"2026-11-25T21:47:33.123Z"}`, string(b))
	var back Comment
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, c, back, "v goes unsaid on a new comment and reads as 1")
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

func TestIDFloor(t *testing.T) {
	at := time.Now()
	floor := IDFloor(at)
	require.True(t, ValidID(floor))
	require.Less(t, floor, NewID(at), "an id of that millisecond sorts after")
	require.Greater(t, floor, NewID(at.Add(-time.Millisecond)), "an id of the millisecond before sorts before")
}

// AppendJSON writes what encoding/json writes for the wire form, byte for
// byte, whatever the strings hold; and it decodes back to the comment.
func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{"hello", "", "a\"b\\c", "<script>&</script>", "\x00\x01\b\f\n\r\t\x1f\x7f", "\xff\xfe", "é\u2028\u2029\U0001F600", "a\xe2\x80"} {
		f.Add(s, "post-1", int64(1764129906789))
	}
	f.Fuzz(func(t *testing.T, content, post string, ms int64) {
		c := Comment{ID: "0123456789abcdef01234567", PostID: post, UserID: content + "u", Content: content,
			CreatedAt: time.UnixMilli(ms % 253402300799000), V: int(ms % 5), Pinned: ms%2 == 0, Deleted: ms%11 == 0}
		if ms%3 == 0 {
			c.EditedAt = c.CreatedAt.Add(time.Minute)
		}
		if ms%7 == 0 {
			c.Status = StatusHidden
		}
		if ms%13 == 0 {
			c.UserName, c.Avatar = content+"n", "https://x.example/"+post
		}
		if ms%5 == 0 {
			c.ParentID = post + "p"
		}
		if ms%17 == 0 {
			c.Reactions, c.Replies = map[string]int{content: 2, "👍": int(ms % 100), "❤️": 1}, int(ms%9)
		}
		w := wireComment{ID: c.ID, PostID: c.PostID, ParentID: c.ParentID, UserID: c.UserID, UserName: c.UserName, Avatar: c.Avatar, Content: c.Content, CreatedAt: c.CreatedAt.UTC().Format(TimeLayout),
			Deleted: c.Deleted, Status: c.Status, Pinned: c.Pinned, Reactions: c.Reactions, Replies: c.Replies}
		if c.V > 1 {
			w.V = c.V
		}
		if !c.EditedAt.IsZero() {
			w.EditedAt = c.EditedAt.UTC().Format(TimeLayout)
		}
		want, err := json.Marshal(w)
		require.NoError(t, err)
		got := c.AppendJSON([]byte("x"))
		require.Equal(t, "x"+string(want), string(got))
		viaMarshal, err := json.Marshal(c)
		require.NoError(t, err)
		require.Equal(t, string(want), string(viaMarshal))
		if utf8.ValidString(content) && utf8.ValidString(post) {
			var back Comment
			require.NoError(t, json.Unmarshal(got[1:], &back))
			require.Equal(t, c.Content, back.Content)
			require.Equal(t, c.PostID, back.PostID)
			require.Equal(t, c.ParentID, back.ParentID)
			require.True(t, c.CreatedAt.Equal(back.CreatedAt))
		}
	})
}

func TestCleanNameAndAvatar(t *testing.T) {
	require.Equal(t, "Ann Lee", CleanName("  Ann\x00 Lee\n "))
	require.Equal(t, "", CleanName("\u2028\x1b"))
	require.Equal(t, 64, len([]rune(CleanName(strings.Repeat("é", 100)))))
	require.Equal(t, "ok\u202e", CleanName("ok\u202e"), "bidi marks stay: shown as text, not interpreted")
	for _, good := range []string{"https://img.example/a.png", "http://x.example/p?s=80"} {
		require.Equal(t, good, CleanAvatar(good))
	}
	for _, bad := range []string{"javascript:alert(1)", "data:image/png;base64,AAAA", "//x.example/a", "https://x.example/a b",
		`https://x.example/"onerror=1`, "https://user:pw@x.example/", "ftp://x.example/a", "https://x.example/é", strings.Repeat("a", 600)} {
		require.Empty(t, CleanAvatar(bad), bad)
	}
}
