package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/stretchr/testify/require"
)

// nextPostInfo waits for a post_info of post for which ok holds.
func nextPostInfo(t *testing.T, c *sioClient, post string, ok func(comment.PostInfo) bool) comment.PostInfo {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var info comment.PostInfo
		require.NoError(t, json.Unmarshal(c.next("post_info", time.Until(deadline)).Args[0], &info))
		require.Equal(t, post, info.PostID)
		if ok(info) {
			return info
		}
	}
}

// requireSlowMode waits for the post_info of post with slowMode seconds.
func requireSlowMode(t *testing.T, c *sioClient, post string, seconds int) {
	t.Helper()
	nextPostInfo(t, c, post, func(info comment.PostInfo) bool { return info.SlowMode == seconds })
}

// Slow mode across two nodes: a moderator sets it on one node; a user's
// second comment within the interval is refused with SLOW_MODE on either
// node (the interval lives in Redis), others and moderators are not
// slowed, readers of both nodes get post_info with slowMode, and the lock
// state and slow mode do not overwrite each other.
func TestSlowModeAcrossNodes(t *testing.T) {
	e := newEnv(t, 2)
	nodeA, nodeB := twoModNodes(t, e)
	mod := dialSIOAuth(t, nodeA, `{"token":"`+modToken+`"}`)
	readerA, readerB := dialSIO(t, nodeA), dialSIO(t, nodeB)
	const post = "slow-post"
	for _, r := range []*sioClient{readerA, readerB} {
		r.join(post)
		requirePostInfo(t, r, post, false)
	}
	userA, userB := dialSIO(t, nodeA), dialSIO(t, nodeB)
	require.True(t, userA.tryComment(post, "u1", "before slow mode").OK)
	require.True(t, userA.tryComment(post, "u1", "again, no slow mode").OK)

	var a struct {
		OK       bool
		SlowMode int
	}
	require.NoError(t, json.Unmarshal(mod.emit(true, "slow_mode", map[string]any{"postId": post, "seconds": 3, "reason": "heated"}), &a))
	require.True(t, a.OK)
	require.Equal(t, 3, a.SlowMode)
	for _, r := range []*sioClient{readerA, readerB} {
		requireSlowMode(t, r, post, 3)
	}
	late := dialSIO(t, nodeB)
	late.join(post)
	requireSlowMode(t, late, post, 3)

	start := time.Now()
	require.True(t, userB.tryComment(post, "u1", "first in slow mode").OK)
	for _, c := range []*sioClient{userA, userB} {
		got := c.tryComment(post, "u1", "too soon")
		require.False(t, got.OK)
		require.Equal(t, comment.CodeSlowMode, got.Error.Code)
		require.Contains(t, got.Error.Message, "wait")
	}
	var rest changeAck
	require.Equal(t, http.StatusTooManyRequests, restJSON(t, "POST", "http://"+nodeA+"/api/posts/"+post+"/comments", "",
		`{"userId":"u1","content":"over REST"}`, &rest))
	require.Equal(t, comment.CodeSlowMode, rest.Error.Code)
	require.True(t, userA.tryComment(post, "u2", "another user").OK)
	require.True(t, mod.tryComment(post, "mod", "moderators are not slowed").OK)
	require.True(t, mod.tryComment(post, "mod", "not even twice").OK)
	require.True(t, userA.tryComment("another-post", "u1", "other posts are not slowed").OK)

	// Once the interval is over, u1 may comment again.
	time.Sleep(time.Until(start.Add(3100 * time.Millisecond)))
	require.True(t, userA.tryComment(post, "u1", "after the interval").OK)

	// A lock keeps the slow mode in post_info, and the other way round.
	require.NoError(t, json.Unmarshal(mod.emit(true, "lock_post", map[string]any{"postId": post, "locked": true}), &a))
	info := nextPostInfo(t, readerB, post, func(info comment.PostInfo) bool { return info.Locked })
	require.Equal(t, 3, info.SlowMode, "the lock's post_info keeps the slow mode")
	require.NoError(t, json.Unmarshal(mod.emit(true, "slow_mode", map[string]any{"postId": post, "slowMode": 5}), &a))
	info = nextPostInfo(t, readerB, post, func(info comment.PostInfo) bool { return info.SlowMode == 5 })
	require.True(t, info.Locked, "the slow mode's post_info keeps the lock")
	require.NoError(t, json.Unmarshal(mod.emit(true, "lock_post", map[string]any{"postId": post, "locked": false}), &a))
	nextPostInfo(t, readerB, post, func(info comment.PostInfo) bool { return !info.Locked })

	// Bad input and readers: refused.
	for _, arg := range []map[string]any{{"postId": post, "seconds": -1}, {"postId": post, "seconds": 3601}, {"postId": post}} {
		got := mod.changeAck("slow_mode", arg)
		require.Equal(t, comment.CodeInvalidPayload, got.Error.Code, "%v", arg)
	}
	require.Equal(t, comment.CodeForbidden, userA.changeAck("slow_mode", map[string]any{"postId": post, "seconds": 0}).Error.Code)
	require.Equal(t, http.StatusUnauthorized, restJSON(t, "POST", "http://"+nodeA+"/api/moderation/posts/"+post+"/slow_mode", "",
		`{"seconds":0}`, &rest), "no moderator's token")

	// Off over REST: u1 comments twice in a row again.
	var off map[string]any
	require.Equal(t, http.StatusOK, restJSON(t, "POST", "http://"+nodeA+"/api/moderation/posts/"+post+"/slow_mode", modToken,
		`{"seconds":0}`, &off))
	requireSlowMode(t, readerA, post, 0)
	require.True(t, userA.tryComment(post, "u1", "off: one").OK)
	require.True(t, userA.tryComment(post, "u1", "off: two").OK)
}
