package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/internal/testsvc"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// The moderation of users and posts of issue 14 (bans, locks), end to
// end: two commentd nodes on one Redis and one devmongo, clients on each.

const modToken = "moderation-admin-token"

// twoModNodes starts two nodes on e with admin.token modToken (only the
// first flushes) and returns their addresses.
func twoModNodes(t *testing.T, e *env) (a, b string) {
	t.Helper()
	cfg1 := e.config(2)
	cfg1.Admin.Token = modToken
	app1, stop1 := startApp(t, cfg1)
	t.Cleanup(stop1)
	cfg2 := e.config(2)
	cfg2.Admin.Token = modToken
	cfg2.Flush.Enabled = false
	app2, stop2 := startApp(t, cfg2)
	t.Cleanup(stop2)
	return app1.Addr(), app2.Addr()
}

// banAck is the ack of ban_user and unban_user.
type banAck struct {
	OK  bool `json:"ok"`
	Ban struct {
		UserID string  `json:"userId"`
		Reason string  `json:"reason"`
		By     string  `json:"by"`
		At     string  `json:"at"`
		Until  *string `json:"until"`
	} `json:"ban"`
	Error struct {
		Code    comment.Code `json:"code"`
		Message string       `json:"message"`
	} `json:"error"`
}

func (c *sioClient) banAck(event string, arg any) banAck {
	c.t.Helper()
	var a banAck
	require.NoError(c.t, json.Unmarshal(c.emit(true, event, arg), &a))
	return a
}

// tryComment posts as user and returns the ack.
func (c *sioClient) tryComment(post, user, content string) changeAck {
	c.t.Helper()
	return c.changeAck("new_comment", map[string]string{"postId": post, "userId": user, "content": content})
}

// changeAck emits a comment event and returns its ack.
func (c *sioClient) changeAck(event string, arg any) changeAck {
	c.t.Helper()
	a, err := ackOf(c.ack(event, arg))
	require.NoError(c.t, err)
	return a
}

// pollCode posts as user on c until the ack's error code is want ("" for
// accepted), within limit, and returns how long that took.
func pollCode(t *testing.T, c *sioClient, post, user string, want comment.Code, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		a := c.tryComment(post, user, "poll")
		if a.Error.Code == want && a.OK == (want == "") {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s's comments still answered %q (%s) after %s, want %q", user, a.Error.Code, a.Error.Message, limit, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// restJSON makes a request with a bearer token and decodes the JSON answer.
func restJSON(t *testing.T, method, url, bearer, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

// A moderator on node A bans u: u's next comment on node B is refused
// BANNED promptly (the latency is logged, not asserted), over the socket
// and REST, and so are u's edits; u may still delete their own comments;
// the ban is listed; after unban_user u posts again on both nodes. Only
// moderators ban, lift or lock: anyone else gets FORBIDDEN.
func TestBanAcrossNodes(t *testing.T) {
	e := newEnv(t, 2)
	nodeA, nodeB := twoModNodes(t, e)
	mod := dialSIOAuth(t, nodeA, `{"token":"`+modToken+`"}`)
	u := dialSIO(t, nodeB)
	uA := dialSIO(t, nodeA)
	other := dialSIO(t, nodeB)

	const post = "ban-post"
	mine := u.tryComment(post, "u", "before the ban")
	require.True(t, mine.OK, "%+v", mine)
	kept := u.tryComment(post, "u", "to delete while banned")
	require.True(t, kept.OK)

	// Not a moderator: FORBIDDEN, over the socket and REST.
	for _, ev := range []struct {
		name string
		arg  any
	}{
		{"ban_user", map[string]any{"userId": "u", "duration": 0, "reason": "x"}},
		{"unban_user", map[string]any{"userId": "u"}},
		{"lock_post", map[string]any{"postId": post, "locked": true}},
	} {
		a := other.banAck(ev.name, ev.arg)
		require.False(t, a.OK, ev.name)
		require.Equal(t, comment.CodeForbidden, a.Error.Code, ev.name)
	}
	var refused changeAck
	require.Equal(t, http.StatusUnauthorized, restJSON(t, "POST", "http://"+nodeB+"/api/moderation/bans", "", `{"userId":"u"}`, &refused))
	require.Equal(t, comment.CodeUnauthorized, refused.Error.Code)
	require.Equal(t, http.StatusUnauthorized, restJSON(t, "GET", "http://"+nodeB+"/api/moderation/bans", "wrong-token", "", &refused))

	start := time.Now()
	ban := mod.banAck("ban_user", map[string]any{"userId": "u", "duration": 0, "reason": "spam"})
	require.True(t, ban.OK, "%+v", ban)
	require.Equal(t, "u", ban.Ban.UserID)
	require.Equal(t, "spam", ban.Ban.Reason)
	require.Equal(t, "admin", ban.Ban.By)
	require.Nil(t, ban.Ban.Until, "duration 0: until lifted")
	took := pollCode(t, u, post, "u", comment.CodeBanned, 10*time.Second)
	t.Logf("ban_user on node A acked in %s; u's comments on node B refused BANNED %s after the ack", time.Since(start)-took, took)
	a := u.tryComment(post, "u", "again")
	require.Contains(t, a.Error.Message, "until a moderator lifts the ban")
	// The node that banned refuses at once: no polling.
	require.Equal(t, comment.CodeBanned, uA.tryComment(post, "u", "on A").Error.Code)
	// Others still post.
	require.True(t, other.tryComment(post, "v", "not banned").OK)

	// REST: posting refused 403 BANNED; the ban is listed.
	var rest changeAck
	require.Equal(t, http.StatusForbidden, restJSON(t, "POST", "http://"+nodeB+"/api/posts/"+post+"/comments", "",
		`{"userId":"u","content":"over REST"}`, &rest))
	require.Equal(t, comment.CodeBanned, rest.Error.Code)
	var list struct {
		OK   bool
		Bans []struct {
			UserID, Reason, By, At string
			Until                  *string
		}
	}
	require.Equal(t, http.StatusOK, restJSON(t, "GET", "http://"+nodeB+"/api/moderation/bans", modToken, "", &list))
	require.True(t, list.OK)
	require.Len(t, list.Bans, 1)
	require.Equal(t, "u", list.Bans[0].UserID)
	require.Equal(t, "spam", list.Bans[0].Reason)

	// Their edits are refused; deleting their own comment is not.
	edit := u.changeAck("edit_comment", map[string]any{"postId": post, "commentId": mine.Comment.ID, "userId": "u", "content": "edited"})
	require.Equal(t, comment.CodeBanned, edit.Error.Code)
	del := u.changeAck("delete_comment", map[string]any{"postId": post, "commentId": kept.Comment.ID, "userId": "u"})
	require.True(t, del.OK, "%+v", del)

	// Lifted over REST on node B: u posts again on both nodes.
	var lifted banAck
	require.Equal(t, http.StatusOK, restJSON(t, "DELETE", "http://"+nodeB+"/api/moderation/bans/u", modToken, "", &lifted))
	require.True(t, lifted.OK)
	require.Equal(t, "u", lifted.Ban.UserID)
	require.True(t, u.tryComment(post, "u", "back").OK, "the node that lifted accepts at once")
	took = pollCode(t, uA, post, "u", "", 10*time.Second)
	t.Logf("unban on node B reached node A within %s", took)
	require.Equal(t, comment.CodeNotFound, mod.banAck("unban_user", map[string]any{"userId": "u"}).Error.Code)
	require.Equal(t, http.StatusOK, restJSON(t, "GET", "http://"+nodeA+"/api/moderation/bans", modToken, "", &list))
	require.Empty(t, list.Bans)

	// Bad requests.
	require.Equal(t, comment.CodeInvalidPayload, mod.banAck("ban_user", map[string]any{"userId": "u", "duration": -1}).Error.Code)
	require.Equal(t, comment.CodeInvalidUserID, mod.banAck("ban_user", map[string]any{"userId": ""}).Error.Code)
	require.Equal(t, comment.CodeInvalidPayload, mod.banAck("ban_user", map[string]any{"userId": "u", "hideComments": true}).Error.Code,
		"hiding all their comments is not built: refused rather than ignored")
}

// A ban of 1 s ends by itself on every node; and bans survive a node's
// restart: a node started after the ban refuses from its first comment.
func TestBanExpiresAndSurvivesRestart(t *testing.T) {
	e := newEnv(t, 2)
	nodeA, nodeB := twoModNodes(t, e)
	mod := dialSIOAuth(t, nodeA, `{"token":"`+modToken+`"}`)
	u := dialSIO(t, nodeB)

	ban := mod.banAck("ban_user", map[string]any{"userId": "brief", "duration": 1, "reason": "cool down"})
	require.True(t, ban.OK, "%+v", ban)
	require.NotNil(t, ban.Ban.Until)
	at, err := time.Parse(time.RFC3339Nano, ban.Ban.At)
	require.NoError(t, err)
	until, err := time.Parse(time.RFC3339Nano, *ban.Ban.Until)
	require.NoError(t, err)
	require.Equal(t, time.Second, until.Sub(at))
	pollCode(t, u, "brief-post", "brief", comment.CodeBanned, 10*time.Second)
	require.Contains(t, u.tryComment("brief-post", "brief", "x").Error.Message, *ban.Ban.Until)
	took := pollCode(t, u, "brief-post", "brief", "", 10*time.Second)
	t.Logf("the 1s ban ended for node B %s after it was seen", took)

	// A ban until lifted, then a node that starts afterwards.
	require.True(t, mod.banAck("ban_user", map[string]any{"userId": "troll", "reason": "trolling"}).OK)
	cfg := e.config(2)
	cfg.Flush.Enabled = false
	app3, stop3 := startApp(t, cfg)
	defer stop3()
	late := dialSIO(t, app3.Addr())
	require.Equal(t, comment.CodeBanned, late.tryComment("late-post", "troll", "hello").Error.Code,
		"loaded at start: refused from the first comment")
	require.True(t, late.tryComment("late-post", "brief", "hello").OK, "the ended ban is not loaded")
}

// A locked post refuses new comments with POST_LOCKED on both nodes as soon
// as the lock is acknowledged (no polling: the append script checks the
// lock), and its author's edits; deletes and moderation still apply;
// readers on both nodes get post_info, and a join gets it too; unlocked,
// the post takes comments again.
func TestLockPostAcrossNodes(t *testing.T) {
	e := newEnv(t, 2)
	nodeA, nodeB := twoModNodes(t, e)
	mod := dialSIOAuth(t, nodeA, `{"token":"`+modToken+`"}`)
	readerA, readerB := dialSIO(t, nodeA), dialSIO(t, nodeB)
	const post = "lock-post"
	for _, r := range []*sioClient{readerA, readerB} {
		r.join(post)
		requirePostInfo(t, r, post, false)
	}
	w := dialSIO(t, nodeB)
	c := w.tryComment(post, "w", "before the lock")
	require.True(t, c.OK)

	var a struct {
		OK     bool
		PostID string
		Locked bool
	}
	require.NoError(t, json.Unmarshal(mod.emit(true, "lock_post", map[string]any{"postId": post, "locked": true}), &a))
	require.True(t, a.OK)
	require.True(t, a.Locked)
	for _, addr := range []string{nodeA, nodeB} {
		got := dialSIO(t, addr).tryComment(post, "w", "after the lock")
		require.False(t, got.OK, addr)
		require.Equal(t, comment.CodePostLocked, got.Error.Code, addr)
	}
	var rest changeAck
	require.Equal(t, http.StatusForbidden, restJSON(t, "POST", "http://"+nodeA+"/api/posts/"+post+"/comments", "",
		`{"userId":"w","content":"over REST"}`, &rest))
	require.Equal(t, comment.CodePostLocked, rest.Error.Code)
	for _, r := range []*sioClient{readerA, readerB} {
		requirePostInfo(t, r, post, true)
	}
	late := dialSIO(t, nodeB)
	late.join(post)
	requirePostInfo(t, late, post, true)

	// The author's edit: refused; a moderator's hide and the author's
	// delete: applied.
	edit := w.changeAck("edit_comment", map[string]any{"postId": post, "commentId": c.Comment.ID, "userId": "w", "content": "edited"})
	require.Equal(t, comment.CodePostLocked, edit.Error.Code)
	hide := mod.changeAck("moderate", map[string]any{"postId": post, "commentId": c.Comment.ID, "action": "hide"})
	require.True(t, hide.OK, "%+v", hide)
	del := w.changeAck("delete_comment", map[string]any{"postId": post, "commentId": c.Comment.ID, "userId": "w"})
	require.True(t, del.OK, "%+v", del)
	// Another post is open.
	require.True(t, w.tryComment("open-post", "w", "elsewhere").OK)

	// Unlocked over REST on node B.
	var unlocked struct {
		OK     bool
		Locked bool
	}
	require.Equal(t, http.StatusUnauthorized, restJSON(t, "POST", "http://"+nodeB+"/api/moderation/posts/"+post+"/lock", "not-a-token",
		`{"locked":false}`, nil))
	require.Equal(t, http.StatusOK, restJSON(t, "POST", "http://"+nodeB+"/api/moderation/posts/"+post+"/lock", modToken,
		`{"locked":false}`, &unlocked))
	require.True(t, unlocked.OK)
	require.False(t, unlocked.Locked)
	for _, r := range []*sioClient{readerA, readerB} {
		requirePostInfo(t, r, post, false)
	}
	require.True(t, dialSIO(t, nodeA).tryComment(post, "w", "open again").OK)
}

// requirePostInfo waits for a post_info of c that tells the lock state
// locked; the ones before it may tell the post's count changing.
func requirePostInfo(t *testing.T, c *sioClient, post string, locked bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var info struct {
			PostID string `json:"postId"`
			Locked bool   `json:"locked"`
		}
		require.NoError(t, json.Unmarshal(c.next("post_info", time.Until(deadline)).Args[0], &info))
		require.Equal(t, post, info.PostID)
		if info.Locked == locked {
			return
		}
	}
}

// With auth.mode jwt, a token whose roles make a moderator bans and locks
// over REST; a user's token gets FORBIDDEN.
func TestBanAndLockRolesWithJWT(t *testing.T) {
	e := newEnv(t, 1)
	cfg := jwtConfig(e, true)
	app, stop := startApp(t, cfg)
	defer stop()
	base := "http://" + app.Addr()
	modTok := jwtFor(t, "mia", []string{"moderator"})
	userTok := jwtFor(t, "bob", nil)
	var res changeAck
	require.Equal(t, http.StatusForbidden, restJSON(t, "POST", base+"/api/moderation/bans", userTok, `{"userId":"bob"}`, &res))
	require.Equal(t, comment.CodeForbidden, res.Error.Code)
	require.Equal(t, http.StatusForbidden, restJSON(t, "POST", base+"/api/moderation/posts/p/lock", userTok, `{"locked":true}`, &res))
	require.Equal(t, http.StatusForbidden, restJSON(t, "GET", base+"/api/moderation/bans", userTok, "", &res))
	var ban banAck
	require.Equal(t, http.StatusOK, restJSON(t, "POST", base+"/api/moderation/bans", modTok, `{"userId":"bob","duration":60,"reason":"spam"}`, &ban))
	require.Equal(t, "mia", ban.Ban.By)
	require.Equal(t, http.StatusForbidden, restJSON(t, "POST", base+"/api/posts/p/comments", userTok, `{"content":"hi"}`, &res))
	require.Equal(t, comment.CodeBanned, res.Error.Code)
	require.Equal(t, http.StatusOK, restJSON(t, "POST", base+"/api/moderation/posts/p/lock", modTok, `{"locked":true}`, nil))
	require.Equal(t, http.StatusForbidden, restJSON(t, "POST", base+"/api/posts/p/comments", modTok, `{"content":"hi"}`, &res))
	require.Equal(t, comment.CodePostLocked, res.Error.Code, "a locked post is locked for moderators too")
}

// jwtFor returns a token of jwtConfig's issuer for sub with roles.
func jwtFor(t *testing.T, sub string, roles []string) string {
	t.Helper()
	claims := jwt.MapClaims{"sub": sub, "iss": "https://id.example", "exp": time.Now().Add(time.Hour).Unix()}
	if roles != nil {
		claims["roles"] = roles
	}
	return token(t, jwt.SigningMethodHS256, []byte(testSecret), claims)
}

// On a Redis Cluster of three masters: the bans' script, transaction and
// channel stay in their hash slot, a ban on one node holds on the other,
// and a lock refuses comments on both.
func TestBanAndLockOnRedisCluster(t *testing.T) {
	addrs := testsvc.StartRedisCluster(t, 3)
	m := testsvc.StartMongo(t)
	var apps []string
	for range 2 {
		cfg := newClusterConfig(addrs, m.URI)
		cfg.Admin.Token = modToken
		app, stop := startApp(t, cfg)
		t.Cleanup(stop)
		apps = append(apps, app.Addr())
	}
	mod := dialSIOAuth(t, apps[0], `{"token":"`+modToken+`"}`)
	u := dialSIO(t, apps[1])
	require.True(t, mod.banAck("ban_user", map[string]any{"userId": "u", "reason": "spam"}).OK)
	took := pollCode(t, u, "cluster-post", "u", comment.CodeBanned, 10*time.Second)
	t.Logf("BANNED on the other node %s after the ack", took)
	require.True(t, mod.banAck("unban_user", map[string]any{"userId": "u"}).OK)
	pollCode(t, u, "cluster-post", "u", "", 10*time.Second)

	for p := range 4 { // posts of several shards, so several slots
		post := "cluster-lock-" + strconv.Itoa(p)
		require.True(t, mod.changeAck("lock_post", map[string]any{"postId": post, "locked": true}).OK)
		require.Equal(t, comment.CodePostLocked, u.tryComment(post, "u", "locked?").Error.Code)
	}
}
