package buffer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/commentd/commentd/buffer"
	"github.com/commentd/commentd/comment"
	"github.com/stretchr/testify/require"
)

// auditAll reads the whole audit log page by page.
func auditAll(t *testing.T, b *buffer.Buffer, limit int) []comment.Audit {
	t.Helper()
	var out []comment.Audit
	before := ""
	for range 1000 {
		es, more, err := b.AuditLog(context.Background(), before, limit)
		require.NoError(t, err)
		require.LessOrEqual(t, len(es), limit)
		out = append(out, es...)
		if !more {
			return out
		}
		require.NotEmpty(t, es)
		before = es[len(es)-1].ID
	}
	t.Fatal("the audit log does not end")
	return nil
}

// The scripts that apply moderation actions log them in the same step: a
// change with an audit entry, a ban put or a ban that held lifted, a lock
// that changed; a change refused as stale, a lock that changed nothing and
// the lift of no ban log nothing. The log merges every stream newest
// first, and pages of any size give it all once, in order, though entries
// of one millisecond fall in different streams.
func TestAuditLogWrittenWithTheAction(t *testing.T) {
	b, _, _ := newBuffer(t, buffer.Config{Shards: 3})
	ctx := context.Background()
	bans := b.NewBanList()
	defer bans.Close()
	require.NoError(t, bans.Wait(ctx))
	mod := comment.Actor{UserID: "mod", Moderator: true}

	var want []string // actions, oldest first
	for i := range 12 {
		post := fmt.Sprintf("p%d", i)
		c := mk(t, post, "text")
		require.NoError(t, b.Append(ctx, c))
		hide, err := comment.Decide(c, true, comment.ChangeRequest{Op: comment.OpHide, PostID: post, CommentID: c.ID}, mod,
			comment.Rules{}, time.Now())
		require.NoError(t, err)
		hide.Audit = &comment.Audit{At: hide.At, By: "mod", Action: "hide", PostID: post, CommentID: c.ID, UserID: c.UserID,
			Reason: fmt.Sprint("reason ", i)}
		require.NoError(t, b.Apply(ctx, hide, 1, true))
		require.ErrorIs(t, b.Apply(ctx, hide, 1, true), comment.ErrStale, "stale: not applied, not logged")
		want = append(want, "hide")
		// Entries of one millisecond in different streams are ordered by
		// stream, not by time: the test's order needs distinct milliseconds.
		time.Sleep(2 * time.Millisecond)
		changed, err := b.SetLocked(ctx, post, true, "mod", "closed", time.Now())
		require.NoError(t, err)
		require.True(t, changed)
		changed, err = b.SetLocked(ctx, post, true, "mod", "again", time.Now())
		require.NoError(t, err)
		require.False(t, changed)
		want = append(want, "lock")
		time.Sleep(2 * time.Millisecond)
		require.NoError(t, bans.Put(ctx, comment.Ban{UserID: fmt.Sprint("u", i), Reason: "spam", By: "mod", At: time.Now()}))
		_, found, err := bans.Lift(ctx, fmt.Sprint("u", i), "mod2", time.Now())
		require.NoError(t, err)
		require.True(t, found)
		_, found, err = bans.Lift(ctx, fmt.Sprint("u", i), "mod2", time.Now())
		require.NoError(t, err)
		require.False(t, found)
		want = append(want, "ban", "unban")
		time.Sleep(2 * time.Millisecond)
	}

	full := auditAll(t, b, 1000)
	require.Len(t, full, len(want))
	for i, a := range full {
		require.Equal(t, want[len(want)-1-i], a.Action, "entry %d, newest first", i)
		require.NotEmpty(t, a.ID)
		require.False(t, a.At.IsZero())
	}
	oldest := full[len(full)-1]
	require.Equal(t, "hide", oldest.Action, "the oldest is the first hide")
	require.Equal(t, "reason 0", oldest.Reason)
	require.Equal(t, "p0", oldest.PostID)
	require.Equal(t, "u1", oldest.UserID)
	require.Equal(t, "mod2", full[0].By)
	require.Equal(t, "u11", full[0].UserID)
	require.Equal(t, "closed", full[2].Reason)

	for _, limit := range []int{1, 2, 3, 7} {
		require.Equal(t, full, auditAll(t, b, limit), "pages of %d", limit)
	}
	_, _, err := b.AuditLog(ctx, "not-a-cursor", 10)
	require.ErrorIs(t, err, comment.ErrBadCursor)
	_, _, err = b.AuditLog(ctx, "1-0-9", 10)
	require.ErrorIs(t, err, comment.ErrBadCursor, "no stream 9")
}

// Each audit stream keeps about AuditLen entries: the oldest go.
func TestAuditLogCapped(t *testing.T) {
	b, rdb, _ := newBuffer(t, buffer.Config{Shards: 1, AuditLen: 10})
	ctx := context.Background()
	for i := range 600 {
		_, err := b.SetLocked(ctx, "capped", i%2 == 0, "mod", "", time.Now())
		require.NoError(t, err)
	}
	n, err := rdb.XLen(ctx, "cmt:{0}:audit").Result()
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, int64(10))
	require.Less(t, n, int64(600), "trimmed (approximately: whole stream nodes of 100)")
	es, _, err := b.AuditLog(ctx, "", 1)
	require.NoError(t, err)
	require.Equal(t, "unlock", es[0].Action, "the newest stays")
}
