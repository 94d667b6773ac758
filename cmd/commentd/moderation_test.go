package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/stretchr/testify/require"
)

// events collects what a socket got until quiet, by comment id: the names
// of the events that carried it.
func (c *sioClient) eventsFor(t *testing.T, quiet time.Duration) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for {
		select {
		case ev := <-c.events:
			if len(ev.Args) == 0 {
				continue
			}
			var x struct {
				ID        string `json:"_id"`
				CommentID string `json:"commentId"`
			}
			if json.Unmarshal(ev.Args[0], &x) != nil {
				continue
			}
			id := x.ID
			if id == "" {
				id = x.CommentID
			}
			if id != "" {
				out[id] = append(out[id], ev.Name)
			}
		case <-time.After(quiet):
			return out
		}
	}
}

func commentIDs(cs []comment.Comment) []string {
	ids := []string{}
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

// Pre-moderation on two nodes (moderation.mode all): a held comment is
// acked pending and reaches its author and the moderators, on either
// node, and no reader (live, join, REST, SSE); approval broadcasts it to
// the room once, as new for the readers; rejection removes it for its
// author and tells the readers nothing.
func TestPreModeration(t *testing.T) {
	e := newEnv(t, 2)
	cfg := e.config(2)
	cfg.Moderation.Mode = "all"
	cfg.Admin.Token = modToken
	a, stopA := startApp(t, cfg)
	defer stopA()
	b, stopB := startApp(t, cfg)
	defer stopB()
	const post = "held"

	author := dialSIO(t, a.Addr())
	author.join(post)
	readerA, readerB := dialSIO(t, a.Addr()), dialSIO(t, b.Addr())
	readerA.join(post)
	readerB.join(post)
	modB := dialSIOAuth(t, b.Addr(), `{"token":"`+modToken+`"}`)
	modB.join(post)
	watcherA := dialSIOAuth(t, a.Addr(), `{"token":"`+modToken+`"}`)
	var watch struct {
		OK       bool
		Comments []comment.Comment
	}
	require.NoError(t, json.Unmarshal(watcherA.emit(true, "watch_moderation"), &watch))
	require.True(t, watch.OK)
	var refused changeAck
	require.NoError(t, json.Unmarshal(readerA.emit(true, "watch_moderation"), &refused))
	require.Equal(t, comment.CodeForbidden, refused.Error.Code, "a reader may not watch the queue")
	sse, stopSSE := openSSEEvents(t, b.Addr(), post, "", "")
	defer stopSSE()

	post1 := func(content string) comment.Comment {
		t.Helper()
		ack, err := ackOf(author.emit(true, "new_comment", map[string]string{"postId": post, "userId": "alice", "content": content}), nil)
		require.NoError(t, err)
		require.True(t, ack.OK, "%+v", ack)
		require.Equal(t, comment.StatusPending, ack.Comment.Status, "held")
		return ack.Comment
	}
	kept, dropped := post1("held, then approved"), post1("held, then rejected")

	// The moderators hear of both, on both nodes.
	for _, m := range []*sioClient{modB, watcherA} {
		for _, want := range []string{kept.ID, dropped.ID} {
			got := commentOf(t, m.next("moderation_queue", 5*time.Second))
			require.Equal(t, want, got.ID)
			require.Equal(t, comment.StatusPending, got.Status)
		}
	}
	var queue struct{ Comments []comment.Comment }
	require.Equal(t, http.StatusOK, restGet(t, "http://"+b.Addr()+"/api/moderation/queue", modToken, &queue))
	require.Equal(t, []string{kept.ID, dropped.ID}, commentIDs(queue.Comments))
	var denied changeAck
	require.Equal(t, http.StatusForbidden, restGet(t, "http://"+b.Addr()+"/api/moderation/queue", "", &denied))

	// No reader sees them: not in a join, REST history or the queue.
	require.Empty(t, dialSIO(t, b.Addr()).join(post))
	var page struct{ Comments []comment.Comment }
	restGet(t, "http://"+a.Addr()+"/api/posts/"+post+"/comments", "", &page)
	require.Empty(t, page.Comments)
	restGet(t, "http://"+a.Addr()+"/api/posts/"+post+"/comments", modToken, &page)
	require.Equal(t, []string{kept.ID, dropped.ID}, commentIDs(page.Comments), "moderators see them in history")
	require.Len(t, modB.join(post), 2, "and in a join")

	// Approve one, reject the other (from the other node).
	moderate := func(c *sioClient, id, action string) changeAck {
		t.Helper()
		ack, err := ackOf(c.emit(true, "moderate", map[string]string{"postId": post, "commentId": id, "action": action, "userId": "bob"}), nil)
		require.NoError(t, err)
		return ack
	}
	require.Equal(t, comment.CodeNotFound, moderate(readerA, kept.ID, "approve").Error.Code, "a reader does not know it")
	ack := moderate(modB, kept.ID, "approve")
	require.True(t, ack.OK, "%+v", ack)
	require.True(t, ack.Comment.Visible())
	require.Equal(t, comment.CodeConflict, moderate(modB, kept.ID, "approve").Error.Code, "approved already")
	require.True(t, moderate(watcherA, dropped.ID, "reject").OK)

	// Readers: the approved one once, as new; nothing of the rejected one.
	for _, r := range []*sioClient{readerA, readerB} {
		got := r.eventsFor(t, time.Second)
		require.Equal(t, []string{"comment_added"}, got[kept.ID])
		require.Empty(t, got[dropped.ID])
	}
	ev := nextSSE(t, sse)
	require.Equal(t, "comment_added", ev.name)
	require.Contains(t, ev.data, kept.ID)
	// The author saw both held; gets the approval as an update and the
	// rejection as a removal.
	got := author.eventsFor(t, time.Second)
	require.Contains(t, got[kept.ID], "comment_updated")
	require.Contains(t, got[dropped.ID], "comment_removed")
	// The queue is empty again, everywhere.
	for _, m := range []*sioClient{modB, watcherA} {
		got := m.eventsFor(t, 200*time.Millisecond)
		require.Contains(t, got[kept.ID], "moderation_queue")
		require.Contains(t, got[dropped.ID], "moderation_queue")
	}
	require.Equal(t, http.StatusOK, restGet(t, "http://"+a.Addr()+"/api/moderation/queue", modToken, &queue))
	require.Empty(t, queue.Comments)
	cs := dialSIO(t, a.Addr()).join(post)
	require.Equal(t, []string{kept.ID}, commentIDs(cs))

	// A moderator's own comment is not held.
	var own changeAck
	require.NoError(t, json.Unmarshal(modB.emit(true, "new_comment", map[string]string{"postId": post, "userId": "mia", "content": "from a moderator"}), &own))
	require.True(t, own.OK, "%+v", own)
	require.Empty(t, own.Comment.Status)

	// MongoDB gets the final states: approved visible, rejected a tombstone.
	kept.Status, kept.V = "", 2
	want := map[string]comment.Comment{kept.ID: kept, own.Comment.ID: own.Comment}
	e.requireFinalStates(t, withDeleted(want, dropped), 20*time.Second)
}

// withDeleted adds c, rejected (a tombstone that keeps its author), to want.
func withDeleted(want map[string]comment.Comment, c comment.Comment) map[string]comment.Comment {
	c.Deleted, c.Content, c.Status, c.V = true, "", "", 2
	want[c.ID] = c
	return want
}

// moderation.mode first: a user's comments are held until a moderator
// approves one of them.
func TestPreModerationFirst(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.config(1)
	cfg.Moderation.Mode = "first"
	cfg.Admin.Token = modToken
	app, stop := startApp(t, cfg)
	defer stop()
	c := dialSIO(t, app.Addr())
	mod := dialSIOAuth(t, app.Addr(), `{"token":"`+modToken+`"}`)
	post := func(user, content string) comment.Comment {
		t.Helper()
		ack, err := ackOf(c.emit(true, "new_comment", map[string]string{"postId": "first", "userId": user, "content": content}), nil)
		require.NoError(t, err)
		require.True(t, ack.OK, "%+v", ack)
		return ack.Comment
	}
	first := post("newcomer", "hello")
	require.Equal(t, comment.StatusPending, first.Status)
	require.Equal(t, comment.StatusPending, post("newcomer", "anyone?").Status, "still held: nothing approved yet")
	ack, err := ackOf(mod.emit(true, "moderate", map[string]string{"postId": "first", "commentId": first.ID, "action": "approve"}), nil)
	require.NoError(t, err)
	require.True(t, ack.OK, "%+v", ack)
	require.Empty(t, post("newcomer", "thanks").Status, "trusted after one approval")
	require.Equal(t, comment.StatusPending, post("other", "hi").Status, "others are still held")
}

// A token without the moderator role gets FORBIDDEN for every moderation
// event and endpoint; with the role, the same requests pass the check.
func TestModerationNeedsTheRole(t *testing.T) {
	e := newEnv(t, 1)
	app, stop := startApp(t, jwtConfig(e, true))
	defer stop()
	base := "http://" + app.Addr()
	userTok, modTok := jwtFor(t, "bob", []string{"reader"}), jwtFor(t, "mia", []string{"moderator"})
	_, bob := connectWith(t, app.Addr(), `{"token":"`+userTok+`"}`, nil)
	_, mia := connectWith(t, app.Addr(), `{"token":"`+modTok+`"}`, nil)
	posted, err := ackOf(bob.emit(true, "new_comment", map[string]string{"postId": "roles", "content": "mine"}), nil)
	require.NoError(t, err)
	require.True(t, posted.OK, "%+v", posted)
	c := posted.Comment

	events := []struct {
		name string
		arg  map[string]any
	}{
		{"ban_user", map[string]any{"userId": "someone", "duration": 60}},
		{"unban_user", map[string]any{"userId": "someone"}},
		{"lock_post", map[string]any{"postId": "roles", "locked": true}},
		{"watch_moderation", nil},
	}
	for _, action := range []string{"hide", "restore", "pin", "unpin", "approve", "reject"} {
		events = append(events, struct {
			name string
			arg  map[string]any
		}{"moderate", map[string]any{"postId": "roles", "commentId": c.ID, "action": action}})
	}
	for _, ev := range events {
		var raw json.RawMessage
		if ev.arg == nil {
			raw = bob.emit(true, ev.name)
		} else {
			raw = bob.emit(true, ev.name, ev.arg)
		}
		a, err := ackOf(raw, nil)
		require.NoError(t, err)
		require.Equal(t, comment.CodeForbidden, a.Error.Code, "%s %v: %s", ev.name, ev.arg, raw)
	}
	for _, path := range []string{"/api/moderation/queue", "/api/moderation/bans", "/api/moderation/log", "/api/moderation/stats"} {
		var res changeAck
		require.Equal(t, http.StatusForbidden, restGet(t, base+path, userTok, &res), path)
		require.Equal(t, http.StatusOK, restGet(t, base+path, modTok, &res), path)
	}
	// The moderator passes the same checks.
	a, err := ackOf(mia.emit(true, "moderate", map[string]any{"postId": "roles", "commentId": c.ID, "action": "hide"}), nil)
	require.NoError(t, err)
	require.True(t, a.OK, "%+v", a)
}

// Pinned comments come first in load_comments and in history's first page,
// however old, and not again in their place; unpinned, they go back.
func TestPinnedFirst(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.config(1)
	cfg.History.Limit = 3
	cfg.Admin.Token = modToken
	app, stop := startApp(t, cfg)
	defer stop()
	w := dialSIO(t, app.Addr())
	var cs []comment.Comment
	for i := range 6 {
		cs = append(cs, w.post("pins", fmt.Sprintf("comment %d", i)))
	}
	mod := dialSIOAuth(t, app.Addr(), `{"token":"`+modToken+`"}`)
	moderate := func(id, action string) {
		t.Helper()
		a, err := ackOf(mod.emit(true, "moderate", map[string]string{"postId": "pins", "commentId": id, "action": action}), nil)
		require.NoError(t, err)
		require.True(t, a.OK, "%+v", a)
	}
	moderate(cs[0].ID, "pin") // older than the join's 3
	moderate(cs[4].ID, "pin") // among them
	var page struct {
		Comments []comment.Comment
		Next     string
	}
	for _, flushed := range []bool{false, true} {
		if flushed {
			want := map[string]comment.Comment{}
			for i, c := range cs {
				if i == 0 || i == 4 {
					c.Pinned, c.V = true, 2
				}
				want[c.ID] = c
			}
			e.requireFinalStates(t, want, 20*time.Second)
		}
		joined := dialSIO(t, app.Addr()).join("pins")
		require.Equal(t, []string{cs[0].ID, cs[4].ID, cs[3].ID, cs[5].ID}, commentIDs(joined), "flushed %v", flushed)
		require.True(t, joined[0].Pinned)
		restGet(t, "http://"+app.Addr()+"/api/posts/pins/comments?limit=2", "", &page)
		require.Equal(t, []string{cs[0].ID, cs[4].ID, cs[5].ID}, commentIDs(page.Comments), "first page")
		restGet(t, "http://"+app.Addr()+"/api/posts/pins/comments?limit=10&before="+page.Next, "", &page)
		require.Equal(t, []string{cs[1].ID, cs[2].ID, cs[3].ID}, commentIDs(page.Comments), "older pages leave them out")
	}
	moderate(cs[0].ID, "unpin")
	a, err := ackOf(mod.emit(true, "delete_comment", map[string]string{"postId": "pins", "commentId": cs[4].ID}), nil)
	require.NoError(t, err)
	require.True(t, a.OK, "%+v", a)
	require.Equal(t, []string{cs[2].ID, cs[3].ID, cs[5].ID}, commentIDs(dialSIO(t, app.Addr()).join("pins")))
}

// A moderator's history pages show hidden and held comments also once they
// are only in MongoDB (out of the Redis recent list); a reader's do not.
func TestModeratorHistoryShowsHiddenStored(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.config(1)
	cfg.History.RecentLen = 2
	cfg.Admin.Token = modToken
	app, stop := startApp(t, cfg)
	defer stop()
	w := dialSIO(t, app.Addr())
	var cs []comment.Comment
	for i := range 5 {
		cs = append(cs, w.post("modhist", fmt.Sprintf("comment %d", i)))
	}
	mod := dialSIOAuth(t, app.Addr(), `{"token":"`+modToken+`"}`)
	a, err := ackOf(mod.emit(true, "moderate", map[string]string{"postId": "modhist", "commentId": cs[0].ID, "action": "hide"}), nil)
	require.NoError(t, err)
	require.True(t, a.OK, "%+v", a)
	want := map[string]comment.Comment{}
	for _, c := range cs {
		want[c.ID] = c
	}
	want[cs[0].ID] = a.Comment
	e.requireFinalStates(t, want, 20*time.Second)

	var page struct{ Comments []comment.Comment }
	restGet(t, "http://"+app.Addr()+"/api/posts/modhist/comments", modToken, &page)
	require.Equal(t, commentIDs(cs), commentIDs(page.Comments), "a moderator sees the hidden one")
	require.Equal(t, comment.StatusHidden, page.Comments[0].Status)
	restGet(t, "http://"+app.Addr()+"/api/posts/modhist/comments", "", &page)
	require.Equal(t, commentIDs(cs[1:]), commentIDs(page.Comments), "a reader does not")
}

// restGet is restJSON for a GET.
func restGet(t *testing.T, url, bearer string, v any) int {
	t.Helper()
	return restJSON(t, "GET", url, bearer, "", v)
}
