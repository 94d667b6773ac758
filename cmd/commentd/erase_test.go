package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/config"
	"github.com/commentd/commentd/flusher"
	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// What of the erased user may be found nowhere after an erase: the words
// of their comments, their name, their avatar. Their id may remain in the
// audit log only (which says what was erased, and by whom).
const (
	eraseUser   = "erin-7"
	eraseName   = "Erin Erasable"
	eraseAvatar = "https://img.example/erin-face.png"
	eraseWords  = "ERINTEXT"
)

// DELETE /api/users/{userId}: u has comments in three posts, some flushed
// and some not, one edited, one pending, one with a reply from v, and a
// reply to v. After u erases themself (v may not), no word, name or
// avatar of u is left in MongoDB (every document of every collection),
// Redis (every key, every value, after a flush), REST history, a join, a
// user's comments, or SSE (live and replayed); readers got
// comment_removed, and comment_updated with the tombstone for the comment
// v replied to, which stays in its thread with v's reply; counts and v's
// comment's replies no longer count u's; the erase is in the audit log; a
// second erase erases 0.
func TestEraseUser(t *testing.T) {
	e := newEnv(t, 2)
	cfg := e.config(2)
	cfg.Auth.Mode = config.AuthJWT
	cfg.Auth.JWTSecret = testSecret
	cfg.Auth.Issuer = "https://id.example"
	cfg.Auth.AnonymousRead = true
	cfg.Admin.Token = modToken
	cfg.Flush.Enabled = false // flushed by the test, when it says
	cfg.Moderation.Words = []string{"holdme"}
	cfg.Moderation.WordsAction = "hold"
	app, stop := startApp(t, cfg)
	defer stop()
	addr := app.Addr()
	tok := func(sub, name, picture string) string {
		return token(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": sub, "iss": "https://id.example",
			"exp": time.Now().Add(time.Hour).Unix(), "name": name, "picture": picture})
	}
	uTok, vTok := tok(eraseUser, eraseName, eraseAvatar), tok("vic-3", "Vic Viewer", "")
	_, u := connectWith(t, addr, `{"token":"`+uTok+`"}`, nil)
	require.NotNil(t, u)
	_, v := connectWith(t, addr, `{"token":"`+vTok+`"}`, nil)
	require.NotNil(t, v)
	flush := func() {
		t.Helper()
		fl := flusher.New(e.buf, e.store, flusher.Config{LeaseTTL: time.Second, IsLeaseLost: isLeaseLost})
		_, _, err := fl.FlushOnce(context.Background())
		require.NoError(t, err)
	}
	postAs := func(c *sioClient, msg map[string]string) comment.Comment {
		t.Helper()
		a, err := ackOf(c.ack("new_comment", msg))
		require.NoError(t, err)
		require.True(t, a.OK, "%+v", a)
		return a.Comment
	}
	post := func(postID, content, clientID string) comment.Comment {
		t.Helper()
		c := postAs(u, map[string]string{"postId": postID, "content": content, "clientId": clientID})
		require.Equal(t, eraseName, c.UserName)
		return c
	}
	readerA, readerB := dialSIO(t, addr), dialSIO(t, addr)
	readerA.join("erase-a")
	readerB.join("erase-b")
	mod := dialSIOAuth(t, addr, `{"token":"`+modToken+`"}`)
	mod.join("erase-b")
	sse, stopSSE := openSSEEvents(t, addr, "erase-a", "", "")
	defer stopSSE()

	// Flushed: one per post, the first edited, with v's reply to it; u's
	// reply to v's comment.
	vTop := postAs(v, map[string]string{"postId": "erase-a", "content": "v's own"})
	a1 := post("erase-a", eraseWords+" one", "k1")
	b1 := post("erase-b", eraseWords+" two", "")
	c1 := post("erase-c", eraseWords+" three", "")
	edit, err := ackOf(u.ack("edit_comment", map[string]any{"postId": "erase-a", "commentId": a1.ID, "content": eraseWords + " one, edited"}))
	require.NoError(t, err)
	require.True(t, edit.OK, "%+v", edit)
	reply := postAs(v, map[string]string{"postId": "erase-a", "content": "v answers u", "parentId": a1.ID})
	uReply := postAs(u, map[string]string{"postId": "erase-a", "content": eraseWords + " answers v", "parentId": vTop.ID})
	flush()
	got, found, err := e.store.Get(context.Background(), a1.ID)
	require.NoError(t, err)
	require.True(t, found && got.UserName == eraseName && got.Replies == 1, "flushed: %+v", got)

	// Not flushed: a new one, a pending one, one under an idempotency key.
	a2 := post("erase-a", eraseWords+" four", "")
	b2 := post("erase-b", eraseWords+" holdme five", "")
	require.Equal(t, comment.StatusPending, b2.Status)
	c2 := post("erase-c", eraseWords+" six", "k2")
	readerA.eventsFor(t, 300*time.Millisecond)
	readerB.eventsFor(t, 300*time.Millisecond)
	mod.eventsFor(t, 300*time.Millisecond)
	drainSSE(sse, 300*time.Millisecond)
	countsURL := "http://" + addr + "/api/counts?posts=erase-a,erase-b,erase-c"
	var counts struct{ Counts map[string]int }
	require.Equal(t, http.StatusOK, restGet(t, countsURL, "", &counts))
	require.Equal(t, map[string]int{"erase-a": 5, "erase-b": 1, "erase-c": 2}, counts.Counts, "before")
	dedupe, err := e.rdb.Keys(context.Background(), "*:dedupe:"+eraseUser+":*").Result()
	require.NoError(t, err)
	require.Len(t, dedupe, 2, "k1 and k2 hold u's comments under their idempotency keys")

	// Only u or an admin erases u.
	var res struct {
		OK     bool `json:"ok"`
		Erased int  `json:"erased"`
		Error  struct {
			Code comment.Code `json:"code"`
		} `json:"error"`
	}
	userURL := "http://" + addr + "/api/users/" + eraseUser
	require.Equal(t, http.StatusForbidden, restJSON(t, "DELETE", userURL, vTok, "", &res))
	require.Equal(t, comment.CodeForbidden, res.Error.Code)
	require.Equal(t, http.StatusUnauthorized, restJSON(t, "DELETE", userURL, "", "", &res))
	require.Equal(t, http.StatusOK, restJSON(t, "DELETE", userURL, uTok, "", &res))
	require.True(t, res.OK)
	require.Equal(t, 7, res.Erased, "a1, b1, c1, uReply, a2, b2, c2")

	// Live: the readers saw the visible ones go, a1 become a tombstone
	// (v replied to it), and hear nothing of the pending one, which they
	// never saw; the moderator sees it go.
	evA, evB := readerA.eventsFor(t, time.Second), readerB.eventsFor(t, 500*time.Millisecond)
	for _, id := range []string{a2.ID, uReply.ID} {
		require.Equal(t, []string{"comment_removed"}, evA[id], "erase-a reader, %s", id)
	}
	require.Equal(t, []string{"comment_updated"}, evA[a1.ID], "the tombstone, kept for v's reply")
	require.Equal(t, []string{"comment_removed"}, evB[b1.ID])
	require.Empty(t, evB[b2.ID], "not even the id of a held comment")
	require.Contains(t, mod.eventsFor(t, 500*time.Millisecond)[b2.ID], "comment_removed")
	removed := map[string]bool{}
	for _, ev := range drainSSE(sse, time.Second) {
		requireNoTrace(t, "SSE", ev.data, false)
		var x struct {
			CommentID string `json:"commentId"`
			ID        string `json:"_id"`
		}
		require.NoError(t, json.Unmarshal([]byte(ev.data), &x))
		removed[x.CommentID+x.ID] = true
	}
	require.True(t, removed[a1.ID] && removed[a2.ID] && removed[uReply.ID], "SSE: %v", removed)
	require.Equal(t, http.StatusOK, restGet(t, countsURL, "", &counts))
	require.Equal(t, map[string]int{"erase-a": 2, "erase-b": 0, "erase-c": 0}, counts.Counts, "v's two are left")

	flush()

	// MongoDB, every document: u's flushed comments are tombstones, the
	// unflushed ones never arrived, v's comments are there, counted right.
	requireNoTrace(t, "MongoDB", mongoDump(t, e), true)
	for _, c := range []comment.Comment{a1, b1, c1, uReply} {
		got, found, err := e.store.Get(context.Background(), c.ID)
		require.NoError(t, err)
		require.True(t, found)
		require.True(t, got.Deleted)
		require.Greater(t, got.Version(), 1, "a change after the create")
	}
	got, _, err = e.store.Get(context.Background(), a1.ID)
	require.NoError(t, err)
	require.Equal(t, 1, got.Replies, "v's reply keeps a1 as a tombstone")
	got, _, err = e.store.Get(context.Background(), vTop.ID)
	require.NoError(t, err)
	require.Zero(t, got.Replies, "u's reply to v is gone")
	for _, c := range []comment.Comment{a2, b2, c2} {
		_, found, err := e.store.Get(context.Background(), c.ID)
		require.NoError(t, err)
		require.False(t, found, "created and erased before a flush: never stored")
	}

	// Redis, every key and value.
	requireNoTrace(t, "Redis", redisDump(t, e.rdb, true), true)
	requireNoTrace(t, "Redis without the audit log", redisDump(t, e.rdb, false), false)

	// History, joins, replies, a user's comments: nothing of u; a1 is a
	// tombstone in its thread with v's reply.
	for _, bearer := range []string{"", modToken} {
		for _, p := range []string{"erase-a", "erase-b", "erase-c"} {
			var page struct{ Comments []comment.Comment }
			require.Equal(t, http.StatusOK, restGet(t, "http://"+addr+"/api/posts/"+p+"/comments", bearer, &page))
			b, _ := json.Marshal(page.Comments)
			requireNoTrace(t, "REST history of "+p, string(b), false)
			if p == "erase-a" {
				require.ElementsMatch(t, []string{vTop.ID, a1.ID, reply.ID}, commentIDs(page.Comments))
			} else {
				require.Empty(t, page.Comments, p)
			}
		}
		var replies struct{ Comments []comment.Comment }
		require.Equal(t, http.StatusOK, restGet(t, "http://"+addr+"/api/posts/erase-a/comments?parent="+a1.ID, bearer, &replies))
		require.Equal(t, []string{reply.ID}, commentIDs(replies.Comments), "v's reply is still in its thread")
	}
	for _, c := range []*sioClient{dialSIO(t, addr), dialSIOAuth(t, addr, `{"token":"`+modToken+`"}`)} {
		cs := c.join("erase-a")
		require.ElementsMatch(t, []string{vTop.ID, a1.ID, reply.ID}, commentIDs(cs))
		for _, x := range cs {
			if x.ID == a1.ID {
				require.True(t, x.Deleted)
				require.Equal(t, 1, x.Replies)
			}
		}
		b, _ := json.Marshal(append(cs, append(c.join("erase-b"), c.join("erase-c")...)...))
		requireNoTrace(t, "a join", string(b), false)
	}
	var mine struct{ Comments []comment.Comment }
	require.Equal(t, http.StatusOK, restGet(t, userURL+"/comments", modToken, &mine))
	require.Empty(t, mine.Comments)
	var queue struct{ Comments []comment.Comment }
	require.Equal(t, http.StatusOK, restGet(t, "http://"+addr+"/api/moderation/queue", modToken, &queue))
	require.Empty(t, queue.Comments, "the pending one left the queue")

	// SSE replayed from before u's first comment: nothing of u.
	old, stopOld := openSSEEvents(t, addr, "erase-a", vTop.ID, "")
	defer stopOld()
	replayed := drainSSE(old, time.Second)
	require.NotEmpty(t, replayed)
	for _, ev := range replayed {
		requireNoTrace(t, "SSE replay", ev.data, false)
		require.False(t, ev.name == "comment_added" && strings.Contains(ev.data, a2.ID), "an erased comment replayed as new")
	}

	// Audited: one entry per comment, erase_user, naming u.
	var log struct {
		Entries []struct{ Action, CommentID, UserID, By string }
	}
	require.Equal(t, http.StatusOK, restGet(t, "http://"+addr+"/api/moderation/log?limit=100", modToken, &log))
	erased := map[string]bool{}
	for _, en := range log.Entries {
		if en.Action == string(comment.OpErase) {
			require.Equal(t, eraseUser, en.UserID)
			require.Equal(t, eraseUser, en.By)
			erased[en.CommentID] = true
		}
	}
	require.Len(t, erased, 7)

	// Once more, by the admin: nothing left.
	require.Equal(t, http.StatusOK, restJSON(t, "DELETE", userURL, modToken, "", &res))
	require.True(t, res.OK)
	require.Zero(t, res.Erased)
}

// requireNoTrace fails if dump holds a word, the name or the avatar of the
// erased user, or (unless idOK) their id.
func requireNoTrace(t *testing.T, where, dump string, idOK bool) {
	t.Helper()
	for _, s := range []string{eraseWords, eraseName, "erin-face"} {
		require.NotContains(t, dump, s, where)
	}
	if !idOK {
		require.NotContains(t, dump, eraseUser, where)
	}
}

// drainSSE returns the events of a stream until it is quiet for quiet.
func drainSSE(ch <-chan sseEvent, quiet time.Duration) []sseEvent {
	var out []sseEvent
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return out
			}
			out = append(out, ev)
		case <-time.After(quiet):
			return out
		}
	}
}

// mongoDump returns every document of every collection of the database as
// extended JSON, one a line.
func mongoDump(t *testing.T, e *env) string {
	t.Helper()
	ctx := context.Background()
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(e.mongo.URI))
	require.NoError(t, err)
	defer client.Disconnect(ctx)
	db := client.Database("commentd")
	names, err := db.ListCollectionNames(ctx, bson.D{})
	require.NoError(t, err)
	require.Contains(t, names, "comments")
	var sb strings.Builder
	for _, name := range names {
		cur, err := db.Collection(name).Find(ctx, bson.D{})
		require.NoError(t, err)
		var docs []bson.M
		require.NoError(t, cur.All(ctx, &docs))
		for _, d := range docs {
			b, err := bson.MarshalExtJSON(d, false, false)
			require.NoError(t, err)
			fmt.Fprintf(&sb, "%s %s\n", name, b)
		}
	}
	return sb.String()
}

// redisDump returns every key of Redis with its value, whatever its type;
// with audit false, not the audit streams.
func redisDump(t *testing.T, rdb *redis.Client, audit bool) string {
	t.Helper()
	ctx := context.Background()
	var sb strings.Builder
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		typ, err := rdb.Type(ctx, key).Result()
		require.NoError(t, err)
		if typ == "stream" && !audit && strings.HasSuffix(key, ":audit") {
			continue
		}
		var val any
		switch typ {
		case "string":
			val, err = rdb.Get(ctx, key).Result()
		case "list":
			val, err = rdb.LRange(ctx, key, 0, -1).Result()
		case "hash":
			val, err = rdb.HGetAll(ctx, key).Result()
		case "set":
			val, err = rdb.SMembers(ctx, key).Result()
		case "zset":
			val, err = rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
		case "stream":
			val, err = rdb.XRange(ctx, key, "-", "+").Result()
		case "none":
			continue // expired meanwhile
		default:
			t.Fatalf("key %s of type %s", key, typ)
		}
		if err == redis.Nil {
			continue
		}
		require.NoError(t, err)
		fmt.Fprintf(&sb, "%s %s %v\n", typ, key, val)
	}
	require.NoError(t, iter.Err())
	return sb.String()
}
