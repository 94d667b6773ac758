package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/config"
	"github.com/commentd/commentd/flusher"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// finals keeps the latest confirmed state of every comment, by version.
type finals struct {
	mu sync.Mutex
	m  map[string]comment.Comment
}

func newFinals() *finals { return &finals{m: map[string]comment.Comment{}} }

func (f *finals) see(c comment.Comment) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.m[c.ID]; !ok || c.Version() > old.Version() {
		f.m[c.ID] = c
	}
}

func (f *finals) snapshot() map[string]comment.Comment {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]comment.Comment, len(f.m))
	for k, v := range f.m {
		out[k] = v
	}
	return out
}

// requireFinalStates waits until nothing is left in Redis, then checks that
// MongoDB holds exactly the final state of every comment: a deleted one as
// a tombstone at its last version, or not at all if it never was flushed.
func (e *env) requireFinalStates(t *testing.T, want map[string]comment.Comment, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for s := range e.buf.Shards() {
		for {
			n, err := e.buf.Pending(context.Background(), s)
			require.NoError(t, err)
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("shard %d still holds %d entries after %s", s, n, within)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	all, err := e.store.All(context.Background())
	require.NoError(t, err)
	stored := make(map[string]comment.Comment, len(all))
	for _, c := range all {
		_, dup := stored[c.ID]
		require.False(t, dup, "comment %s stored twice", c.ID)
		stored[c.ID] = c
	}
	wrong := 0
	for id, w := range want {
		got, ok := stored[id]
		switch {
		case !ok && w.Deleted:
		case !ok:
			t.Errorf("comment %s (v%d) is not in MongoDB", id, w.Version())
			wrong++
		case !sameState(got, w):
			t.Errorf("comment %s in MongoDB is %+v, want %+v", id, got, w)
			wrong++
		}
		delete(stored, id)
	}
	for id := range stored {
		t.Errorf("MongoDB holds comment %s that was never confirmed", id)
	}
	require.Zero(t, wrong, "wrong final states")
}

func sameState(a, b comment.Comment) bool {
	return a.ID == b.ID && a.PostID == b.PostID && a.UserID == b.UserID && a.Content == b.Content &&
		a.CreatedAt.Equal(b.CreatedAt) && a.EditedAt.Equal(b.EditedAt) && a.Deleted == b.Deleted &&
		a.Status == b.Status && a.Pinned == b.Pinned && a.Version() == b.Version()
}

// changeAck is the ack of new_comment and of the change events.
type changeAck struct {
	OK      bool            `json:"ok"`
	Comment comment.Comment `json:"comment"`
	Error   struct {
		Code    comment.Code `json:"code"`
		Message string       `json:"message"`
	} `json:"error"`
}

func ackOf(raw json.RawMessage, err error) (changeAck, error) {
	var a changeAck
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return a, fmt.Errorf("ack %s: %w", raw, err)
	}
	return a, nil
}

// Guarantee 9 end to end: 5,000 creates and changes (edits, deletes, hides,
// restores, pins) from 20 writers over 10 posts, through sockets; then
// MongoDB holds exactly the final state of every comment, and a join shows
// each post's visible comments in their final state.
func TestChangesReachMongoDBInFinalState(t *testing.T) {
	e := newEnv(t, 4)
	cfg := e.config(4)
	cfg.Admin.Token = "test-admin-token"
	app, stop := startApp(t, cfg)
	defer stop()

	const writers, ops, posts = 20, 5000, 10
	want := newFinals()
	mod := dialSIOAuth(t, app.Addr(), `{"token":"test-admin-token"}`)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		c := dialSIO(t, app.Addr())
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			user := fmt.Sprintf("w%d", w)
			var mine []comment.Comment // live comments of this writer
			for i := range ops / writers {
				post := fmt.Sprintf("cpost%d", rng.IntN(posts))
				r := rng.IntN(100)
				var (
					a   changeAck
					err error
				)
				switch {
				case len(mine) == 0 || r < 60:
					a, err = ackOf(c.ack("new_comment", map[string]string{"postId": post, "userId": user, "content": fmt.Sprintf("%s #%d", user, i)}))
					if err == nil && a.OK {
						mine = append(mine, a.Comment)
					}
				case r < 80:
					k := rng.IntN(len(mine))
					a, err = ackOf(c.ack("edit_comment", map[string]any{"postId": mine[k].PostID, "commentId": mine[k].ID,
						"userId": user, "content": fmt.Sprintf("%s #%d edited", user, i)}))
					if err == nil && a.OK {
						mine[k] = a.Comment
					}
				case r < 88:
					k := rng.IntN(len(mine))
					a, err = ackOf(c.ack("delete_comment", map[string]any{"postId": mine[k].PostID, "commentId": mine[k].ID, "userId": user}))
					if err == nil && a.OK {
						mine = append(mine[:k], mine[k+1:]...)
					}
				default:
					k := rng.IntN(len(mine))
					action := []string{"hide", "restore", "pin", "unpin"}[rng.IntN(4)]
					a, err = ackOf(mod.ack("moderate", map[string]any{"postId": mine[k].PostID, "commentId": mine[k].ID, "action": action}))
					if err == nil && a.OK {
						mine[k] = a.Comment
					}
				}
				if err != nil {
					errs <- err
					return
				}
				if !a.OK {
					errs <- fmt.Errorf("%s: %s %s", user, a.Error.Code, a.Error.Message)
					return
				}
				want.see(a.Comment)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	final := want.snapshot()
	e.requireFinalStates(t, final, 4*time.Minute)

	// A reader joining each post now sees its visible comments, final.
	reader := dialSIO(t, app.Addr())
	for p := range posts {
		post := fmt.Sprintf("cpost%d", p)
		shown := map[string]comment.Comment{}
		before := ""
		for {
			raw, err := reader.ack("load_more", map[string]any{"postId": post, "before": before, "limit": 500})
			require.NoError(t, err)
			var page struct {
				OK       bool
				Comments []comment.Comment
				Next     *string
			}
			require.NoError(t, json.Unmarshal(raw, &page))
			require.True(t, page.OK, string(raw))
			for _, c := range page.Comments {
				shown[c.ID] = c
			}
			if page.Next == nil {
				break
			}
			before = *page.Next
		}
		for id, w := range final {
			if w.PostID != post {
				continue
			}
			got, ok := shown[id]
			if !w.Visible() {
				require.False(t, ok, "history shows %s, which is %s/deleted=%v", id, w.Status, w.Deleted)
				continue
			}
			require.True(t, ok, "history lacks %s", id)
			require.True(t, sameState(got, w), "history shows %+v, want %+v", got, w)
		}
	}
}

// newChangeService is a Service on the env's buffer and store, as a node's.
func (e *env) newChangeService() *comment.Service {
	return comment.NewService(e.buf, e.buf, e.store, comment.ServiceConfig{})
}

// mixChanges posts n comments over posts, then changes about half of them
// (edits, deletes, hides, pins), all buffered; it returns the final states.
func mixChanges(t *testing.T, svc *comment.Service, n int) map[string]comment.Comment {
	t.Helper()
	ctx := context.Background()
	want := newFinals()
	var made []comment.Comment
	for i := range n {
		c := postWait(t, svc, comment.Input{PostID: fmt.Sprintf("kpost%d", i%10), UserID: "u", Content: fmt.Sprintf("c%d", i)})
		want.see(c)
		made = append(made, c)
	}
	mod := comment.Actor{UserID: "mod", Moderator: true}
	author := comment.Actor{UserID: "u"}
	for i, c := range made {
		var reqs []comment.ChangeRequest
		switch i % 4 {
		case 0:
			reqs = []comment.ChangeRequest{{Op: comment.OpEdit, Content: "edited once"}, {Op: comment.OpEdit, Content: "edited twice"}}
		case 1:
			reqs = []comment.ChangeRequest{{Op: comment.OpHide}, {Op: comment.OpPin}}
		case 2:
			reqs = []comment.ChangeRequest{{Op: comment.OpEdit, Content: "edited"}, {Op: comment.OpDelete}}
		}
		for _, r := range reqs {
			r.PostID, r.CommentID = c.PostID, c.ID
			actor := author
			if comment.ModOps[r.Op] {
				actor = mod
			}
			ch, err := svc.Change(ctx, actor, r)
			require.NoError(t, err)
			want.see(ch.State)
		}
	}
	return want.snapshot()
}

func postWait(t *testing.T, svc *comment.Service, in comment.Input) comment.Comment {
	t.Helper()
	type res struct {
		c   comment.Comment
		err error
	}
	ch := make(chan res, 1)
	svc.PostAsync(context.Background(), in, func(c comment.Comment, err error) { ch <- res{c, err} })
	r := <-ch
	require.NoError(t, r.err)
	return r.c
}

// Guarantee 9: a flusher killed (SIGKILL) after its BulkWrite and before
// its ack; another drains: every comment in its final state, nothing
// applied twice, no older state over a newer one.
func TestFlusherKilledBetweenWriteAndAckWithChanges(t *testing.T) {
	e := newEnv(t, 1)
	want := mixChanges(t, e.newChangeService(), 800) // 800 creates + 1000 changes

	e.crashFlusherAfterWrite(t)
	fl := flusher.New(e.buf, e.store, flusher.Config{BatchSize: 700, LeaseTTL: time.Second, IsLeaseLost: isLeaseLost})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, _, err := fl.FlushOnce(ctx)
	require.NoError(t, err)
	e.requireFinalStates(t, want, time.Minute)
}

// A comment created and deleted before any flush never reaches MongoDB; a
// join before and after the flush does not show it.
func TestCreatedAndDeletedBeforeFlushNeverStored(t *testing.T) {
	e := newEnv(t, 1)
	svc := e.newChangeService()
	ctx := context.Background()
	keep := postWait(t, svc, comment.Input{PostID: "gone", UserID: "u", Content: "stays"})
	gone := postWait(t, svc, comment.Input{PostID: "gone", UserID: "u", Content: "regretted"})
	_, err := svc.Change(ctx, comment.Actor{UserID: "u"}, comment.ChangeRequest{Op: comment.OpDelete, PostID: "gone", CommentID: gone.ID})
	require.NoError(t, err)

	joined := func() []string {
		cs, err := svc.Join(ctx, comment.Actor{}, "gone", "")
		require.NoError(t, err)
		var ids []string
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
		return ids
	}
	require.Equal(t, []string{keep.ID}, joined(), "before the flush")

	fl := flusher.New(e.buf, e.store, flusher.Config{LeaseTTL: time.Second, IsLeaseLost: isLeaseLost})
	_, _, err = fl.FlushOnce(ctx)
	require.NoError(t, err)
	_, found, err := e.store.Get(ctx, gone.ID)
	require.NoError(t, err)
	require.False(t, found, "the deleted comment reached MongoDB")
	_, found, err = e.store.Get(ctx, keep.ID)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, []string{keep.ID}, joined(), "after the flush")

	// And from the database alone, with Redis's recent list gone.
	require.NoError(t, e.rdb.FlushAll(ctx).Err())
	require.Equal(t, []string{keep.ID}, joined(), "from MongoDB")
}

// Guarantee 11 with auth.mode jwt, over REST and sockets: only the author
// edits, only the author or a moderator deletes, only moderators (by the
// roles claim, or the admin token) moderate; the acting user comes from the
// token, never the payload; a hidden comment reaches its author and
// moderators only.
func TestChangeRolesWithJWT(t *testing.T) {
	e := newEnv(t, 1)
	cfg := jwtConfig(e, true)
	cfg.Admin.Token = "jwt-admin-token"
	app, stop := startApp(t, cfg)
	defer stop()
	base := "http://" + app.Addr()
	tok := func(sub string, roles any) string {
		claims := jwt.MapClaims{"sub": sub, "iss": "https://id.example", "exp": time.Now().Add(time.Hour).Unix()}
		if roles != nil {
			claims["roles"] = roles
		}
		return token(t, jwt.SigningMethodHS256, []byte(testSecret), claims)
	}
	alice, bob := tok("alice", nil), tok("bob", []string{"reader"})
	mod, modStr := tok("mia", []string{"moderator"}), tok("max", "staff admin")
	do := func(method, path, bearer, body string) (int, changeAck) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var a changeAck
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
		return resp.StatusCode, a
	}
	code, a := do("POST", "/api/posts/jp/comments", alice, `{"content":"mine"}`)
	require.Equal(t, http.StatusCreated, code)
	id := a.Comment.ID
	path := "/api/posts/jp/comments/" + id
	modPath := "/api/moderation/posts/jp/comments/" + id

	// The payload cannot name another actor.
	code, a = do("PATCH", path, bob, `{"content":"x","userId":"alice"}`)
	require.Equal(t, http.StatusUnauthorized, code, "%+v", a)
	code, a = do("PATCH", path, bob, `{"content":"x"}`)
	require.Equal(t, http.StatusForbidden, code)
	require.Equal(t, comment.CodeForbidden, a.Error.Code)
	code, _ = do("PATCH", path, "", `{"content":"x","userId":"alice"}`)
	require.Equal(t, http.StatusUnauthorized, code, "no token, no change")
	code, a = do("PATCH", path, mod, `{"content":"x"}`)
	require.Equal(t, http.StatusForbidden, code, "a moderator does not edit others' words")
	code, a = do("PATCH", path, alice, `{"content":"mine, edited"}`)
	require.Equal(t, http.StatusOK, code, "%+v", a)
	require.Equal(t, 2, a.Comment.V)
	code, a = do("PATCH", path, alice, `{"content":"again","v":1}`)
	require.Equal(t, http.StatusConflict, code)

	for _, who := range []string{alice, bob} {
		code, a = do("POST", modPath, who, `{"action":"hide"}`)
		require.Equal(t, http.StatusForbidden, code, "%+v", a)
	}
	code, a = do("POST", modPath, mod, `{"action":"hide"}`)
	require.Equal(t, http.StatusOK, code, "%+v", a)
	require.Equal(t, comment.StatusHidden, a.Comment.Status)

	// Hidden: history shows it to alice and moderators only.
	history := func(bearer string) []string {
		req, _ := http.NewRequest("GET", base+"/api/posts/jp/comments", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var page struct{ Comments []comment.Comment }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&page))
		var ids []string
		for _, c := range page.Comments {
			ids = append(ids, c.ID)
		}
		return ids
	}
	require.Equal(t, []string{id}, history(alice))
	require.Equal(t, []string{id}, history(modStr), "roles as a space-separated string")
	require.Equal(t, []string{id}, history("jwt-admin-token"))
	require.Empty(t, history(bob))
	require.Empty(t, history(""), "anonymous reader")

	// Live: a socket of bob's gets comment_removed on restore's opposite.
	_, bobSock := connectWith(t, app.Addr(), `{"token":"`+bob+`"}`, nil)
	_, aliceSock := connectWith(t, app.Addr(), `{"token":"`+alice+`"}`, nil)
	bobSock.join("jp")
	aliceSock.join("jp")
	code, _ = do("POST", modPath, "jwt-admin-token", `{"action":"restore"}`)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, id, commentOf(t, bobSock.next("comment_updated", 5*time.Second)).ID)
	code, _ = do("POST", modPath, modStr, `{"action":"hide"}`)
	require.Equal(t, http.StatusOK, code)
	var removed struct{ PostID, CommentID string }
	require.NoError(t, json.Unmarshal(bobSock.next("comment_removed", 5*time.Second).Args[0], &removed))
	require.Equal(t, id, removed.CommentID)
	aliceSock.next("comment_updated", 5*time.Second) // the restore
	hidden := commentOf(t, aliceSock.next("comment_updated", 5*time.Second))
	require.Equal(t, comment.StatusHidden, hidden.Status, "its author sees it hidden")

	// A moderator deletes; then it is gone for everyone, its author too.
	code, _ = do("DELETE", path, bob, "")
	require.Equal(t, http.StatusNotFound, code, "hidden from bob: as if it did not exist")
	code, a = do("DELETE", path, mod, "")
	require.Equal(t, http.StatusOK, code, "%+v", a)
	require.True(t, a.Comment.Deleted)
	require.Empty(t, history(alice))
	code, _ = do("PATCH", path, alice, `{"content":"back?"}`)
	require.Equal(t, http.StatusNotFound, code)
}

func commentOf(t *testing.T, ev sioEvent) comment.Comment {
	t.Helper()
	var c comment.Comment
	require.NoError(t, json.Unmarshal(ev.Args[0], &c))
	return c
}

// sseEvent is one Server-Sent Event.
type sseEvent struct{ name, id, data string }

// openSSEEvents reads every event of a post's stream, with the token of
// bearer if any.
func openSSEEvents(t *testing.T, addr, post, lastID, bearer string) (<-chan sseEvent, func()) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+addr+"/api/posts/"+post+"/stream", nil)
	require.NoError(t, err)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := make(chan sseEvent, 100)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			case line == "" && ev.name != "":
				out <- ev
				ev = sseEvent{}
			}
		}
	}()
	return out, func() { resp.Body.Close() }
}

func nextSSE(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		require.True(t, ok, "stream ended")
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return sseEvent{}
	}
}

// SSE carries the changes: comment_updated, comment_removed (a hide, for a
// reader who may not see it; the admin token's stream gets it hidden), and
// a stream resumed with Last-Event-ID gets what changed meanwhile.
func TestSSEChanges(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.config(1)
	cfg.Admin.Token = "sse-admin"
	app, stop := startApp(t, cfg)
	defer stop()
	w := dialSIO(t, app.Addr())
	mod := dialSIOAuth(t, app.Addr(), `{"token":"sse-admin"}`)
	reader, closeReader := openSSEEvents(t, app.Addr(), "ssec", "", "")
	admin, closeAdmin := openSSEEvents(t, app.Addr(), "ssec", "", "sse-admin")
	defer closeAdmin()

	c := w.post("ssec", "first")
	for _, s := range []<-chan sseEvent{reader, admin} {
		ev := nextSSE(t, s)
		require.Equal(t, "comment_added", ev.name)
		require.Equal(t, c.ID, ev.id)
	}
	a, err := ackOf(w.ack("edit_comment", map[string]any{"postId": "ssec", "commentId": c.ID, "userId": "u1", "content": "first!"}))
	require.NoError(t, err)
	require.True(t, a.OK, "%+v", a)
	for _, s := range []<-chan sseEvent{reader, admin} {
		ev := nextSSE(t, s)
		require.Equal(t, "comment_updated", ev.name)
		require.Contains(t, ev.data, `"content":"first!"`)
		require.Contains(t, ev.data, `"v":2`)
	}
	a, err = ackOf(mod.ack("moderate", map[string]any{"postId": "ssec", "commentId": c.ID, "action": "hide"}))
	require.NoError(t, err)
	require.True(t, a.OK, "%+v", a)
	ev := nextSSE(t, reader)
	require.Equal(t, "comment_removed", ev.name)
	require.JSONEq(t, `{"postId":"ssec","commentId":"`+c.ID+`"}`, ev.data)
	ev = nextSSE(t, admin)
	require.Equal(t, "comment_updated", ev.name)
	require.Contains(t, ev.data, `"status":"hidden"`)
	closeReader()

	// Away: restored and a new comment; the stream resumed after the first
	// comment gets every event since, in order, from the post's log.
	a, err = ackOf(mod.ack("moderate", map[string]any{"postId": "ssec", "commentId": c.ID, "action": "restore"}))
	require.NoError(t, err)
	require.True(t, a.OK)
	c2 := w.post("ssec", "second")
	resumed, closeResumed := openSSEEvents(t, app.Addr(), "ssec", c.ID, "")
	defer closeResumed()
	ev = nextSSE(t, resumed)
	require.Equal(t, "comment_updated", ev.name, "the edit")
	require.Contains(t, ev.data, `"v":2`)
	ev = nextSSE(t, resumed)
	require.Equal(t, "comment_removed", ev.name, "the hide, for a reader")
	ev = nextSSE(t, resumed)
	require.Equal(t, "comment_updated", ev.name, "the restore")
	require.Contains(t, ev.data, `"v":4`)
	ev = nextSSE(t, resumed)
	require.Equal(t, "comment_added", ev.name)
	require.Equal(t, c2.ID, ev.id)
}

// In write-through mode (the naive design) a change is in MongoDB when it
// is acknowledged, and readers get it live as in write-behind.
func TestChangesWriteThrough(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.config(1)
	cfg.Flush.Mode = config.ModeWriteThrough
	app, stop := startApp(t, cfg)
	defer stop()
	w := dialSIO(t, app.Addr())
	r := dialSIO(t, app.Addr())
	r.join("wt")
	c := w.post("wt", "stored at once")
	a, err := ackOf(w.ack("edit_comment", map[string]any{"postId": "wt", "commentId": c.ID, "userId": "u1", "content": "edited at once"}))
	require.NoError(t, err)
	require.True(t, a.OK, "%+v", a)
	got, found, err := e.store.Get(context.Background(), c.ID)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, "edited at once", got.Content)
	require.Equal(t, 2, got.V)
	require.Equal(t, "edited at once", commentOf(t, r.next("comment_updated", 5*time.Second)).Content)
	pending, err := e.buf.Pending(context.Background(), 0)
	require.NoError(t, err)
	require.Zero(t, pending, "nothing buffered for a flusher that does not run")
}

// Bad change requests get a stable code and change nothing; the socket
// stays usable.
func TestBadChangeRequests(t *testing.T) {
	e := newEnv(t, 1)
	app, stop := startApp(t, e.config(1))
	defer stop()
	w := dialSIO(t, app.Addr())
	c := w.post("bad", "target")
	long := strings.Repeat("é", 2001)
	tests := []struct {
		name  string
		event string
		args  []any
		code  comment.Code
	}{
		{"no argument", "edit_comment", nil, comment.CodeInvalidPayload},
		{"a number", "edit_comment", []any{42}, comment.CodeInvalidPayload},
		{"an array", "delete_comment", []any{[]string{"x"}}, comment.CodeInvalidPayload},
		{"v as a string", "edit_comment", []any{map[string]any{"postId": "bad", "commentId": c.ID, "userId": "u1", "content": "x", "v": "2"}}, comment.CodeInvalidPayload},
		{"negative v", "edit_comment", []any{map[string]any{"postId": "bad", "commentId": c.ID, "userId": "u1", "content": "x", "v": -1}}, comment.CodeInvalidPayload},
		{"bad comment id", "edit_comment", []any{map[string]any{"postId": "bad", "commentId": "../../x", "userId": "u1", "content": "x"}}, comment.CodeInvalidPayload},
		{"bad post id", "delete_comment", []any{map[string]any{"postId": "a b", "commentId": c.ID, "userId": "u1"}}, comment.CodeInvalidPostID},
		{"empty content", "edit_comment", []any{map[string]any{"postId": "bad", "commentId": c.ID, "userId": "u1", "content": "  "}}, comment.CodeEmptyContent},
		{"content too long", "edit_comment", []any{map[string]any{"postId": "bad", "commentId": c.ID, "userId": "u1", "content": long}}, comment.CodeContentTooLong},
		{"no user without auth", "edit_comment", []any{map[string]any{"postId": "bad", "commentId": c.ID, "content": "x"}}, comment.CodeInvalidUserID},
		{"unknown action", "moderate", []any{map[string]any{"postId": "bad", "commentId": c.ID, "action": "burn"}}, comment.CodeInvalidPayload},
		{"an id of no comment", "delete_comment", []any{map[string]any{"postId": "bad", "commentId": comment.NewID(time.Now()), "userId": "u1"}}, comment.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ackOf(w.ack(tt.event, tt.args...))
			require.NoError(t, err)
			require.False(t, a.OK)
			require.Equal(t, tt.code, a.Error.Code, a.Error.Message)
		})
	}
	// Nothing changed; the socket still works.
	got := w.join("bad")
	require.Len(t, got, 1)
	require.Equal(t, "target", got[0].Content)
	require.Equal(t, 1, got[0].Version())
	w.post("bad", "still here")
}
