package comment

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDecide(t *testing.T) {
	now := time.Now()
	c, err := New(Input{PostID: "p", UserID: "alice", Content: "hi"}, now.Add(-time.Minute), 0)
	require.NoError(t, err)
	hidden := c
	hidden.Status, hidden.V = StatusHidden, 2
	old := c
	old.CreatedAt = now.Add(-time.Hour)
	gone := c
	gone.Deleted = true
	held := c
	held.Status = StatusPending
	author, other, mod := Actor{UserID: "alice"}, Actor{UserID: "bob"}, Actor{UserID: "mia", Moderator: true}
	rules := Rules{EditWindow: 15 * time.Minute}
	req := func(op Op) ChangeRequest { return ChangeRequest{Op: op, PostID: "p", CommentID: c.ID, Content: "new"} }
	tests := []struct {
		name  string
		state Comment
		found bool
		req   ChangeRequest
		actor Actor
		code  Code
	}{
		{"author edits", c, true, req(OpEdit), author, ""},
		{"another user edits", c, true, req(OpEdit), other, CodeForbidden},
		{"a moderator edits", c, true, req(OpEdit), mod, CodeForbidden},
		{"author edits late", old, true, req(OpEdit), author, CodeEditWindowClosed},
		{"author deletes late", old, true, req(OpDelete), author, CodeEditWindowClosed},
		{"moderator deletes late", old, true, req(OpDelete), mod, ""},
		{"another user deletes", c, true, req(OpDelete), other, CodeForbidden},
		{"author hides", c, true, req(OpHide), author, CodeForbidden},
		{"moderator hides", c, true, req(OpHide), mod, ""},
		{"reader acts on a hidden one", hidden, true, req(OpDelete), other, CodeNotFound},
		{"author edits their hidden one", hidden, true, req(OpEdit), author, ""},
		{"moderator restores", hidden, true, req(OpRestore), mod, ""},
		{"deleted", gone, true, req(OpEdit), author, CodeNotFound},
		{"moderator approves", held, true, req(OpApprove), mod, ""},
		{"moderator rejects", held, true, req(OpReject), mod, ""},
		{"author approves their own", held, true, req(OpApprove), author, CodeForbidden},
		{"author edits their pending one", held, true, req(OpEdit), author, ""},
		{"reader acts on a pending one", held, true, req(OpApprove), other, CodeNotFound},
		{"approve a visible one", c, true, req(OpApprove), mod, CodeConflict},
		{"reject a hidden one", hidden, true, req(OpReject), mod, CodeConflict},
		{"restore a pending one", held, true, req(OpRestore), mod, CodeConflict},
		{"missing", Comment{}, false, req(OpEdit), author, CodeNotFound},
		{"another post", c, true, ChangeRequest{Op: OpEdit, PostID: "q", CommentID: c.ID, Content: "x"}, author, CodeNotFound},
		{"old version", c, true, ChangeRequest{Op: OpEdit, PostID: "p", CommentID: c.ID, Content: "x", V: 7}, author, CodeConflict},
		{"current version", c, true, ChangeRequest{Op: OpEdit, PostID: "p", CommentID: c.ID, Content: "x", V: 1}, author, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := Decide(tt.state, tt.found, tt.req, tt.actor, rules, now)
			if tt.code != "" {
				var e *Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, tt.code, e.Code)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.state.Version()+1, ch.V)
			require.Equal(t, ch.V, ch.State.V)
			require.Equal(t, tt.actor.UserID, ch.By)
			require.True(t, ValidID(ch.ID))
		})
	}
	ch, err := Decide(c, true, req(OpDelete), author, rules, now)
	require.NoError(t, err)
	require.True(t, ch.State.Deleted)
	require.Empty(t, ch.State.Content, "a tombstone keeps no content")
	require.Empty(t, ch.State.UserID, "nor its user")

	ch, err = Decide(held, true, req(OpApprove), mod, rules, now)
	require.NoError(t, err)
	require.True(t, ch.State.Visible(), "approved")
	ch, err = Decide(held, true, req(OpReject), mod, rules, now)
	require.NoError(t, err)
	require.True(t, ch.State.Deleted, "rejected: a tombstone")
	require.Empty(t, ch.State.Status)
}

// A shard's entries decode whatever they hold, never panic, and a change
// survives its own encoding.
func FuzzDecodeEntry(f *testing.F) {
	c, _ := New(Input{PostID: "p", UserID: "u", Content: "hi \"x\""}, time.UnixMilli(1764129906789), 0)
	ch, _ := Decide(c, true, ChangeRequest{Op: OpEdit, PostID: "p", CommentID: c.ID, Content: "é\u2028"}, Actor{UserID: "u"}, Rules{}, c.CreatedAt)
	for _, s := range []string{string(c.JSON()), string(ch.JSON()), `{"op":`, `{"op":"edit"}`, `{"_id":"x"}`, `[]`, `{"op":"edit","commentId":"0123456789abcdef01234567","at":"x"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := DecodeEntry([]byte(s))
		if err != nil {
			return
		}
		if got.Op != OpCreate {
			require.True(t, ValidID(got.CommentID))
		}
		if got.Op != OpCreate && !strings.ContainsRune(s, '\ufffd') {
			again, err := DecodeEntry(got.JSON())
			require.NoError(t, err)
			require.Equal(t, got.Op, again.Op)
			require.Equal(t, got.CommentID, again.CommentID)
			require.Equal(t, got.V, again.V)
		}
	})
}
