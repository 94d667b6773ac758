package main

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/stretchr/testify/require"
)

// The audit log of issue 14 end to end: two commentd nodes on one Redis
// and one devmongo, moderators on each.

// auditPage is GET /api/moderation/log's answer.
type auditPage struct {
	OK      bool `json:"ok"`
	Entries []struct {
		ID        string `json:"id"`
		At        string `json:"at"`
		By        string `json:"by"`
		Action    string `json:"action"`
		PostID    string `json:"postId"`
		CommentID string `json:"commentId"`
		UserID    string `json:"userId"`
		Reason    string `json:"reason"`
	} `json:"entries"`
	Next  *string `json:"next"`
	Error struct {
		Code comment.Code `json:"code"`
	} `json:"error"`
}

// auditEntry is what a test expects of an entry.
type auditEntry struct{ action, postID, commentID, userID, reason string }

// readAudit reads the whole audit log from node at limit entries a page.
func readAudit(t *testing.T, node string, limit int) []auditEntry {
	t.Helper()
	var out []auditEntry
	url := "http://" + node + "/api/moderation/log?limit=" + strconv.Itoa(limit)
	before := ""
	prev := ""
	for range 100 {
		var p auditPage
		u := url
		if before != "" {
			u += "&before=" + before
		}
		require.Equal(t, http.StatusOK, restJSON(t, "GET", u, modToken, "", &p))
		require.True(t, p.OK)
		require.LessOrEqual(t, len(p.Entries), limit)
		for _, e := range p.Entries {
			require.Equal(t, "admin", e.By, "who: the admin token")
			at, err := time.Parse(time.RFC3339Nano, e.At)
			require.NoError(t, err, "when")
			require.WithinDuration(t, time.Now(), at, time.Minute)
			if prev != "" {
				require.LessOrEqual(t, e.At, prev, "newest first")
			}
			prev = e.At
			out = append(out, auditEntry{e.Action, e.PostID, e.CommentID, e.UserID, e.Reason})
		}
		if p.Next == nil {
			return out
		}
		require.Len(t, p.Entries, limit, "a page before the last is full")
		before = *p.Next
	}
	t.Fatal("the audit log does not end")
	return nil
}

// Every kind of moderation action, made on one node or the other, over the
// socket or REST, is in GET /api/moderation/log of either node: who, what,
// when, on what, why, newest first, the same whatever the page size. An
// author's changes, and a moderator's delete of their own comment, are not
// moderation actions.
func TestAuditLogEveryAction(t *testing.T) {
	e := newEnv(t, 2)
	var nodes [2]string
	for i := range nodes {
		cfg := e.config(2)
		cfg.Admin.Token = modToken
		cfg.Moderation.Mode = "all"
		cfg.Flush.Enabled = i == 0
		app, stop := startApp(t, cfg)
		t.Cleanup(stop)
		nodes[i] = app.Addr()
	}
	modA := dialSIOAuth(t, nodes[0], `{"token":"`+modToken+`"}`)
	modB := dialSIOAuth(t, nodes[1], `{"token":"`+modToken+`"}`)
	u := dialSIO(t, nodes[0])
	const post = "audit-post"

	held := func(content string) string {
		t.Helper()
		a := u.tryComment(post, "u", content)
		require.True(t, a.OK, "%+v", a)
		require.Equal(t, comment.StatusPending, a.Comment.Status)
		return a.Comment.ID
	}
	act := func(mod *sioClient, event, id, action, reason string) {
		t.Helper()
		arg := map[string]any{"postId": post, "commentId": id, "userId": "u"} // a moderator acts as the token says
		if action != "" {
			arg["action"] = action
		}
		if reason != "" {
			arg["reason"] = reason
		}
		a := mod.changeAck(event, arg)
		require.True(t, a.OK, "%s %s: %+v", event, action, a)
	}

	var want []auditEntry // oldest first
	c1 := held("first")
	act(modA, "moderate", c1, "approve", "fine")
	want = append(want, auditEntry{"approve", post, c1, "u", "fine"})
	c2 := held("spam")
	act(modB, "moderate", c2, "reject", "spam")
	want = append(want, auditEntry{"reject", post, c2, "u", "spam"})
	act(modA, "moderate", c1, "hide", "rude")
	act(modB, "moderate", c1, "restore", "")
	act(modA, "moderate", c1, "pin", "good one")
	act(modB, "moderate", c1, "unpin", "")
	want = append(want, auditEntry{"hide", post, c1, "u", "rude"}, auditEntry{"restore", post, c1, "u", ""},
		auditEntry{"pin", post, c1, "u", "good one"}, auditEntry{"unpin", post, c1, "u", ""})
	c3 := held("off topic")
	act(modA, "moderate", c3, "approve", "")
	act(modB, "delete_comment", c3, "", "off-topic")
	want = append(want, auditEntry{"approve", post, c3, "u", ""}, auditEntry{"delete", post, c3, "u", "off-topic"})
	// Over REST, with a reason.
	c4 := held("over REST")
	var rest changeAck
	require.Equal(t, http.StatusOK, restJSON(t, "POST", "http://"+nodes[1]+"/api/moderation/posts/"+post+"/comments/"+c4,
		modToken, `{"action":"approve","reason":"via REST"}`, &rest))
	require.True(t, rest.OK)
	want = append(want, auditEntry{"approve", post, c4, "u", "via REST"})

	// Not moderation actions: the author deletes their comment, the
	// moderator deletes their own.
	act(u, "delete_comment", c4, "", "")
	own := modA.tryComment(post, "admin", "a moderator's own")
	require.True(t, own.OK, "%+v", own)
	act(modA, "delete_comment", own.Comment.ID, "", "")

	ban := modA.banAck("ban_user", map[string]any{"userId": "u", "duration": 60, "reason": "troll"})
	require.True(t, ban.OK, "%+v", ban)
	require.True(t, modB.banAck("unban_user", map[string]any{"userId": "u"}).OK)
	require.Equal(t, comment.CodeNotFound, modB.banAck("unban_user", map[string]any{"userId": "u"}).Error.Code,
		"no ban to lift: not an action")
	want = append(want, auditEntry{"ban", "", "", "u", "troll"}, auditEntry{"unban", "", "", "u", ""})
	require.Equal(t, http.StatusOK, restJSON(t, "POST", "http://"+nodes[1]+"/api/moderation/posts/"+post+"/lock",
		modToken, `{"locked":true,"reason":"heated"}`, nil))
	require.True(t, modA.banAck("lock_post", map[string]any{"postId": post, "locked": true, "reason": "again"}).OK)
	require.True(t, modA.banAck("lock_post", map[string]any{"postId": post, "locked": false}).OK)
	want = append(want, auditEntry{"lock", post, "", "", "heated"}, auditEntry{"unlock", post, "", "", ""})

	slices.Reverse(want)
	for _, node := range nodes {
		require.Equal(t, want, readAudit(t, node, 1000), "the whole log, newest first, from node %s", node)
		for _, limit := range []int{1, 3, 5} {
			require.Equal(t, want, readAudit(t, node, limit), "pages of %d", limit)
		}
	}

	// A reason is bounded; bad pages are refused.
	long := strings.Repeat("x", comment.MaxReasonRunes+1)
	a := modA.changeAck("moderate", map[string]any{"postId": post, "commentId": c1, "action": "hide", "reason": long})
	require.Equal(t, comment.CodeInvalidPayload, a.Error.Code)
	require.Equal(t, comment.CodeInvalidPayload, modA.banAck("lock_post", map[string]any{"postId": post, "locked": true, "reason": long}).Error.Code)
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "before=nope"} {
		var p auditPage
		require.Equal(t, http.StatusBadRequest, restJSON(t, "GET", "http://"+nodes[0]+"/api/moderation/log?"+q, modToken, "", &p), q)
		require.Equal(t, comment.CodeInvalidPayload, p.Error.Code, q)
	}
	var p auditPage
	require.Equal(t, http.StatusOK, restJSON(t, "GET", "http://"+nodes[0]+"/api/moderation/log", modToken, "", &p))
	require.Len(t, p.Entries, len(want), "default limit 100")
	require.Nil(t, p.Next)
}

// Only moderators read the audit log and the figures: no token or a wrong
// one is 401, a user's token without the role 403, a moderator's 200.
func TestAuditLogModeratorsOnly(t *testing.T) {
	e := newEnv(t, 1)
	cfg := jwtConfig(e, true)
	cfg.Admin.Token = modToken
	app, stop := startApp(t, cfg)
	defer stop()
	base := "http://" + app.Addr()
	for _, path := range []string{"/api/moderation/log", "/api/moderation/stats"} {
		var p auditPage
		require.Equal(t, http.StatusUnauthorized, restJSON(t, "GET", base+path, "", "", &p), path)
		require.Equal(t, comment.CodeUnauthorized, p.Error.Code)
		require.Equal(t, http.StatusUnauthorized, restJSON(t, "GET", base+path, "wrong", "", &p), path)
		require.Equal(t, http.StatusForbidden, restJSON(t, "GET", base+path, jwtFor(t, "bob", nil), "", &p), path)
		require.Equal(t, comment.CodeForbidden, p.Error.Code)
		require.Equal(t, http.StatusOK, restJSON(t, "GET", base+path, jwtFor(t, "mia", []string{"moderator"}), "", &p), path)
		require.Equal(t, http.StatusOK, restJSON(t, "GET", base+path, modToken, "", &p), path)
	}
	// A moderator of the roles claim is named in the log by their subject.
	require.Equal(t, http.StatusOK, restJSON(t, "POST", base+"/api/moderation/bans", jwtFor(t, "mia", []string{"moderator"}),
		`{"userId":"bob","reason":"spam"}`, nil))
	var p auditPage
	require.Equal(t, http.StatusOK, restJSON(t, "GET", base+"/api/moderation/log", modToken, "", &p))
	require.Len(t, p.Entries, 1)
	require.Equal(t, "mia", p.Entries[0].By)
	require.Equal(t, "ban", p.Entries[0].Action)
	require.Equal(t, "bob", p.Entries[0].UserID)
	require.Equal(t, "spam", p.Entries[0].Reason)
}

// GET /api/moderation/stats: the buffer's depth by shard (flushing off,
// comments stay), this node's connections, and a comment rate once
// comments were accepted.
func TestAdminStats(t *testing.T) {
	e := newEnv(t, 2)
	cfg := e.config(2)
	cfg.Admin.Token = modToken
	cfg.Flush.Enabled = false
	app, stop := startApp(t, cfg)
	defer stop()
	c := dialSIO(t, app.Addr())
	for range 5 {
		c.post("stats-post", "counted")
	}
	var st struct {
		OK                bool    `json:"ok"`
		CommentsPerSecond float64 `json:"commentsPerSecond"`
		BufferDepth       int64   `json:"bufferDepth"`
		Shards            []struct {
			Shard int   `json:"shard"`
			Depth int64 `json:"depth"`
		} `json:"shards"`
		Connections int `json:"connections"`
	}
	require.Equal(t, http.StatusOK, restJSON(t, "GET", "http://"+app.Addr()+"/api/moderation/stats", modToken, "", &st))
	require.True(t, st.OK)
	require.Equal(t, int64(5), st.BufferDepth)
	require.Len(t, st.Shards, 2)
	require.Equal(t, int64(5), st.Shards[0].Depth+st.Shards[1].Depth)
	require.GreaterOrEqual(t, st.Connections, 1)
	require.Greater(t, st.CommentsPerSecond, 0.0)
}
