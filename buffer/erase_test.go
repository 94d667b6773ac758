package buffer_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/buffer"
	"github.com/commentd/commentd/comment"
	"github.com/stretchr/testify/require"
)

// UserComments finds a user's comments wherever Redis holds their state
// (the shard's list, recent lists, changed states); once they are erased,
// ScrubUser leaves no word of theirs in the posts' event logs (each event
// keeps its id and op, its comment erased), in the dead letters, and
// deletes their idempotency keys; another user's events are untouched.
func TestUserCommentsAndScrub(t *testing.T) {
	b, rdb, _ := newBuffer(t, buffer.Config{Shards: 2, RecentLen: 2})
	ctx := context.Background()
	mkBy := func(post, user, content string) comment.Comment {
		c, err := comment.New(comment.Input{PostID: post, UserID: user, UserName: user + " Name", Content: content}, time.Now(), 0)
		require.NoError(t, err)
		return c
	}
	var mine []comment.Comment
	for i, post := range []string{"p1", "p1", "p1", "p2"} {
		c := mkBy(post, "u", "secret words")
		key := ""
		if i == 0 {
			key = "u:k1"
		}
		_, _, err := b.AppendOnce(ctx, c, key)
		require.NoError(t, err)
		mine = append(mine, c)
	}
	other := mkBy("p1", "v", "v's words")
	require.NoError(t, b.Append(ctx, other)) // pushes mine[0] out of p1's recent list
	edit, err := comment.Decide(mine[0], true, comment.ChangeRequest{Op: comment.OpEdit, PostID: "p1", CommentID: mine[0].ID, Content: "more secret words"},
		comment.Actor{UserID: "u"}, comment.Rules{}, time.Now())
	require.NoError(t, err)
	require.NoError(t, b.Apply(ctx, edit, 1, true))

	// A dead letter of u's (MongoDB refused it), and an undecodable one.
	deadKey := "cmt:{" + strconv.Itoa(b.Shard("p1")) + "}:dead"
	dl, err := json.Marshal(buffer.DeadLetter{Comment: mine[1], Reason: "refused", At: time.Now().UTC()})
	require.NoError(t, err)
	require.NoError(t, rdb.RPush(ctx, deadKey, dl, `{"userId":"u","content":"secret`).Err())

	found, err := b.UserComments(ctx, "u")
	require.NoError(t, err)
	require.ElementsMatch(t, commentIDs(mine), commentIDs(found))
	for _, c := range found {
		if c.ID == mine[0].ID {
			require.Equal(t, 2, c.Version(), "the newest state found")
		}
	}

	admin := comment.Actor{UserID: "admin", Moderator: true}
	for _, c := range found {
		ch, err := comment.Decide(c, true, comment.ChangeRequest{Op: comment.OpErase, PostID: c.PostID, CommentID: c.ID, UserID: "u"}, admin, comment.Rules{}, time.Now())
		require.NoError(t, err)
		require.NoError(t, b.Apply(ctx, ch, c.Version(), true))
	}
	require.NoError(t, b.ScrubUser(ctx, "u"))

	for _, post := range []string{"p1", "p2"} {
		evs, ok, err := b.Events(ctx, post, "^")
		require.NoError(t, err)
		require.True(t, ok)
		for _, ev := range evs {
			require.NotContains(t, string(ev.JSON()), "secret", "post %s", post)
			require.NotContains(t, string(ev.JSON()), "u Name")
			if ev.CommentID == other.ID {
				require.Equal(t, other, ev.State, "v's event is untouched")
				continue
			}
			require.True(t, ev.State.Deleted, "%s %s", ev.Op, ev.CommentID)
			require.Empty(t, ev.State.UserID)
		}
	}
	dead, err := b.DeadLetters(ctx, b.Shard("p1"))
	require.NoError(t, err)
	require.Len(t, dead, 2)
	require.Equal(t, mine[1].ID, dead[0].Comment.ID)
	require.True(t, dead[0].Comment.Deleted)
	raw, err := rdb.LRange(ctx, deadKey, 0, -1).Result()
	require.NoError(t, err)
	require.NotContains(t, strings.Join(raw, "\n"), "secret")
	require.NotContains(t, strings.Join(raw, "\n"), "u Name")
	keys, err := rdb.Keys(ctx, "*dedupe*").Result()
	require.NoError(t, err)
	require.Empty(t, keys, "the idempotency key held u's comment")
	left, err := b.UserComments(ctx, "u")
	require.NoError(t, err)
	require.Empty(t, left, "a second erase finds nothing")
}

func commentIDs(cs []comment.Comment) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}
