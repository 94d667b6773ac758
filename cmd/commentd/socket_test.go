package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/config"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// sioClient is a small Socket.IO client for Go tests: events arrive on a
// channel; acks come back by id.
type sioClient struct {
	t      testing.TB
	ws     *websocket.Conn
	mu     sync.Mutex
	nextID int
	acks   map[int]chan json.RawMessage
	events chan sioEvent
	done   chan struct{}
}

type sioEvent struct {
	Name string
	Args []json.RawMessage
}

func dialSIO(t testing.TB, addr string) *sioClient {
	t.Helper()
	return dialSIOAuth(t, addr, "")
}

// dialSIOAuth is dialSIO with an auth payload on the CONNECT.
func dialSIOAuth(t testing.TB, addr, auth string) *sioClient {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
	require.NoError(t, err)
	c := &sioClient{t: t, ws: ws, acks: map[int]chan json.RawMessage{}, events: make(chan sioEvent, 10000), done: make(chan struct{})}
	_, open, err := ws.ReadMessage()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(open), "0{"))
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("40"+auth)))
	_, reply, err := ws.ReadMessage()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(reply), "40{"), string(reply))
	go c.read()
	t.Cleanup(c.close)
	return c
}

func (c *sioClient) close() {
	c.ws.Close()
	<-c.done
}

func (c *sioClient) read() {
	defer close(c.done)
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		s := string(b)
		switch {
		case s == "2":
			c.mu.Lock()
			c.ws.WriteMessage(websocket.TextMessage, []byte("3"))
			c.mu.Unlock()
		case strings.HasPrefix(s, "42"):
			var arr []json.RawMessage
			if json.Unmarshal([]byte(s[2:]), &arr) == nil && len(arr) > 0 {
				var name string
				json.Unmarshal(arr[0], &name)
				c.events <- sioEvent{Name: name, Args: arr[1:]}
			}
		case strings.HasPrefix(s, "43"):
			i := 2
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
			id, _ := strconv.Atoi(s[2:i])
			c.mu.Lock()
			ch := c.acks[id]
			delete(c.acks, id)
			c.mu.Unlock()
			if ch != nil {
				ch <- json.RawMessage(s[i:])
			}
		}
	}
}

// emit sends an event; with ack, it waits for the answer and returns its
// first argument.
func (c *sioClient) emit(ack bool, event string, args ...any) json.RawMessage {
	c.t.Helper()
	arr := append([]any{event}, args...)
	b, err := json.Marshal(arr)
	require.NoError(c.t, err)
	c.mu.Lock()
	id := ""
	var ch chan json.RawMessage
	if ack {
		c.nextID++
		ch = make(chan json.RawMessage, 1)
		c.acks[c.nextID] = ch
		id = strconv.Itoa(c.nextID)
	}
	err = c.ws.WriteMessage(websocket.TextMessage, []byte("42"+id+string(b)))
	c.mu.Unlock()
	require.NoError(c.t, err)
	if !ack {
		return nil
	}
	select {
	case a := <-ch:
		var arr []json.RawMessage
		require.NoError(c.t, json.Unmarshal(a, &arr))
		require.NotEmpty(c.t, arr)
		return arr[0]
	case <-time.After(10 * time.Second):
		c.t.Fatalf("no ack for %s", event)
		return nil
	}
}

// ack emits an event with an ack and waits for it; safe from any
// goroutine, it reports errors instead of failing the test.
func (c *sioClient) ack(event string, args ...any) (json.RawMessage, error) {
	b, err := json.Marshal(append([]any{event}, args...))
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ch := make(chan json.RawMessage, 1)
	c.acks[id] = ch
	err = c.ws.WriteMessage(websocket.TextMessage, append([]byte("42"+strconv.Itoa(id)), b...))
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case a := <-ch:
		var arr []json.RawMessage
		if err := json.Unmarshal(a, &arr); err != nil || len(arr) == 0 {
			return nil, fmt.Errorf("bad ack %s", a)
		}
		return arr[0], nil
	case <-c.done:
		return nil, fmt.Errorf("connection closed before the ack of %s", event)
	case <-time.After(10 * time.Second):
		return nil, fmt.Errorf("no ack for %s", event)
	}
}

// send emits an event without an ack; safe from any goroutine.
func (c *sioClient) send(event string, args ...any) error {
	b, err := json.Marshal(append([]any{event}, args...))
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ws.WriteMessage(websocket.TextMessage, append([]byte("42"), b...))
}

// next waits for the next event called name, skipping others.
func (c *sioClient) next(name string, within time.Duration) sioEvent {
	c.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev := <-c.events:
			if ev.Name == name {
				return ev
			}
		case <-deadline:
			c.t.Fatalf("no %s within %s", name, within)
		}
	}
}

func (c *sioClient) join(postID string) []comment.Comment {
	c.t.Helper()
	a := c.emit(true, "join_post", postID)
	var res struct {
		OK       bool
		Comments []comment.Comment
	}
	require.NoError(c.t, json.Unmarshal(a, &res))
	require.True(c.t, res.OK, string(a))
	return res.Comments
}

func (c *sioClient) post(postID, content string) comment.Comment {
	c.t.Helper()
	a := c.emit(true, "new_comment", map[string]string{"postId": postID, "userId": "u1", "content": content})
	var res struct {
		OK      bool
		Comment comment.Comment
	}
	require.NoError(c.t, json.Unmarshal(a, &res))
	require.True(c.t, res.OK, string(a))
	return res.Comment
}

// Two nodes on one Redis: readers connected to either see a post's
// comments in one order, the buffer's, whoever posted them where.
func TestTwoNodesOneOrder(t *testing.T) {
	e := newEnv(t, 4)
	app1, stop1 := startApp(t, e.config(4))
	cfg2 := e.config(4)
	cfg2.Flush.Enabled = false
	app2, stop2 := startApp(t, cfg2)

	const post, writers, each = "ordered", 6, 20
	var readers []*sioClient
	for i := range 6 {
		addr := app1.Addr()
		if i%2 == 1 {
			addr = app2.Addr()
		}
		c := dialSIO(t, addr)
		c.join(post)
		readers = append(readers, c)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		addr := app1.Addr()
		if w%2 == 1 {
			addr = app2.Addr()
		}
		c := dialSIO(t, addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := c.send("new_comment", map[string]string{"postId": post, "userId": "w", "content": fmt.Sprintf("%d-%d", w, i)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var first []string
	for ri, r := range readers {
		var order []string
		for range writers * each {
			var c comment.Comment
			require.NoError(t, json.Unmarshal(r.next("comment_added", 20*time.Second).Args[0], &c))
			order = append(order, c.ID)
		}
		if ri == 0 {
			first = order
			continue
		}
		require.Equal(t, first, order, "reader %d saw another order", ri)
	}
	// The buffer's order is the order of the post's recent list.
	recent, _, err := e.buf.Recent(context.Background(), post, 200)
	require.NoError(t, err)
	ids := make([]string, len(recent))
	for i, c := range recent {
		ids[i] = c.ID
	}
	require.Equal(t, first, ids)
	stop2()
	stop1()
}

// Join/leave churn leaves no rooms and no subscriptions behind.
func TestRoomChurnFreesEverything(t *testing.T) {
	e := newEnv(t, 4)
	app, stop := startApp(t, e.config(4))
	var clients []*sioClient
	for range 5 {
		clients = append(clients, dialSIO(t, app.Addr()))
	}
	for round := range 20 {
		for i, c := range clients {
			post := fmt.Sprintf("churn-%d", (round+i)%7)
			c.join(post)
			c.emit(true, "leave_post", post)
		}
	}
	nsp := app.sio.Of("/")
	require.Eventually(t, func() bool { return nsp.Rooms() == 0 && app.feed.Subscribed() == 0 },
		5*time.Second, 10*time.Millisecond, "rooms %d, subscriptions %d", nsp.Rooms(), app.feed.Subscribed())
	// Disconnecting while in rooms frees them too.
	for i, c := range clients {
		c.join(fmt.Sprintf("churn-%d", i))
		c.close()
	}
	require.Eventually(t, func() bool { return nsp.Rooms() == 0 && app.feed.Subscribed() == 0 },
		5*time.Second, 10*time.Millisecond)
	stop()
}

// write-through (the naive design): each comment is in MongoDB before it
// is confirmed; nothing is buffered.
func TestWriteThrough(t *testing.T) {
	e := newEnv(t, 2)
	cfg := e.config(2)
	cfg.Flush.Mode = config.ModeWriteThrough
	app, stop := startApp(t, cfg)
	reader := dialSIO(t, app.Addr())
	reader.join("wt")
	c := dialSIO(t, app.Addr())
	for i := range 5 {
		got := c.post("wt", fmt.Sprint(i))
		n, err := e.store.Count(context.Background(), "wt")
		require.NoError(t, err)
		require.EqualValues(t, i+1, n, "stored before the confirmation")
		var added comment.Comment
		require.NoError(t, json.Unmarshal(reader.next("comment_added", 5*time.Second).Args[0], &added))
		require.Equal(t, got.ID, added.ID)
	}
	for s := range 2 {
		n, err := e.buf.Pending(context.Background(), s)
		require.NoError(t, err)
		require.Zero(t, n, "nothing buffered")
	}
	// A new reader joins: history comes from Redis (seeded or published).
	late := dialSIO(t, app.Addr())
	require.Len(t, late.join("wt"), 5)
	stop()
}

// Guarantee 7 on the wire: over the high-water mark new_comment answers
// BUSY (comment_error and ack), and what was accepted stays.
func TestBusyOnTheWire(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.config(1)
	cfg.Buffer.MaxLen = 3
	cfg.Flush.Enabled = false
	app, stop := startApp(t, cfg)
	c := dialSIO(t, app.Addr())
	for i := range 3 {
		c.post("busy", fmt.Sprint(i))
	}
	a := c.emit(true, "new_comment", map[string]string{"postId": "busy", "userId": "u1", "content": "one too many"})
	var res struct {
		OK    bool
		Error struct{ Code, Message string }
	}
	require.NoError(t, json.Unmarshal(a, &res))
	require.False(t, res.OK)
	require.Equal(t, "BUSY", res.Error.Code)
	ev := c.next("comment_error", 5*time.Second)
	var ce struct{ Message, Error, Code string }
	require.NoError(t, json.Unmarshal(ev.Args[0], &ce))
	require.Equal(t, "BUSY", ce.Code)
	n, err := e.buf.Pending(context.Background(), 0)
	require.NoError(t, err)
	require.EqualValues(t, 3, n)
	stop()
}

// A new_comment retried with the same clientId (a lost ack, a double
// click) is stored and broadcast once; the retry gets the first comment.
func TestClientIDIdempotent(t *testing.T) {
	e := newEnv(t, 2)
	a, stopA := startApp(t, e.config(2))
	b, stopB := startApp(t, e.config(2))
	reader := dialSIO(t, a.Addr())
	reader.join("idem")
	w1, w2 := dialSIO(t, a.Addr()), dialSIO(t, b.Addr())
	body := map[string]string{"postId": "idem", "userId": "u1", "content": "once", "clientId": "c-123"}
	post := func(c *sioClient) comment.Comment {
		a := c.emit(true, "new_comment", body)
		var res struct {
			OK      bool
			Comment comment.Comment
		}
		require.NoError(t, json.Unmarshal(a, &res))
		require.True(t, res.OK, string(a))
		return res.Comment
	}
	first := post(w1)
	again := post(w1)
	elsewhere := post(w2) // another node shares the key
	require.Equal(t, first, again)
	require.Equal(t, first, elsewhere)
	var added comment.Comment
	require.NoError(t, json.Unmarshal(reader.next("comment_added", 5*time.Second).Args[0], &added))
	require.Equal(t, first.ID, added.ID)
	e.requireStoredExactly(t, []string{first.ID}, 30*time.Second)

	bad := w1.emit(true, "new_comment", map[string]string{"postId": "idem", "userId": "u1", "content": "x", "clientId": "no spaces allowed"})
	require.Contains(t, string(bad), "INVALID_PAYLOAD")
	stopB()
	stopA()
}

// comment_persisted never comes before the comments are in MongoDB: with
// MongoDB stopped the comments are confirmed and broadcast but not
// persisted; once it is back, each id an event names is already stored.
func TestCommentPersistedNeverBefore(t *testing.T) {
	e := newEnv(t, 2)
	app, stop := startApp(t, e.config(2))
	defer stop()
	reader := dialSIO(t, app.Addr())
	reader.join("later")
	w := dialSIO(t, app.Addr())
	e.mongo.Stop()
	want := map[string]bool{}
	for i := range 5 {
		want[w.post("later", fmt.Sprint(i)).ID] = true
	}
	added := 0
	for quiet := time.After(1500 * time.Millisecond); ; { // 15 flush intervals
		select {
		case ev := <-reader.events:
			require.NotEqual(t, "comment_persisted", ev.Name, "persisted while MongoDB is down")
			if ev.Name == "comment_added" {
				added++
			}
			continue
		case <-quiet:
		}
		break
	}
	require.Equal(t, 5, added, "confirmed comments are broadcast while MongoDB is down")
	e.mongo.Start()
	got := map[string]bool{}
	for len(got) < len(want) {
		ev := reader.next("comment_persisted", 30*time.Second)
		var p struct{ IDs []string }
		require.NoError(t, json.Unmarshal(ev.Args[0], &p))
		ids, err := e.store.IDs(context.Background())
		require.NoError(t, err)
		for _, id := range p.IDs {
			require.True(t, want[id])
			require.Contains(t, ids, id, "stored when its comment_persisted arrives")
			require.False(t, got[id], "one comment_persisted per comment")
			got[id] = true
		}
	}
}

// Two-stage confirmation: once the batch holding a comment is in MongoDB,
// the room gets comment_persisted {ids}, one event per post per batch.
func TestCommentPersisted(t *testing.T) {
	e := newEnv(t, 2)
	app, stop := startApp(t, e.config(2))
	reader := dialSIO(t, app.Addr())
	reader.join("saved")
	other := dialSIO(t, app.Addr())
	other.join("elsewhere")
	w := dialSIO(t, app.Addr())
	want := map[string]bool{}
	for i := range 5 {
		want[w.post("saved", fmt.Sprint(i)).ID] = true
	}
	got := map[string]bool{}
	for len(got) < len(want) {
		ev := reader.next("comment_persisted", 30*time.Second)
		var p struct{ IDs []string }
		require.NoError(t, json.Unmarshal(ev.Args[0], &p))
		for _, id := range p.IDs {
			require.True(t, want[id], "only this post's comments")
			got[id] = true
		}
	}
	n, err := e.store.Count(context.Background(), "saved")
	require.NoError(t, err)
	require.EqualValues(t, 5, n, "persisted means stored")
	select {
	case ev := <-other.events:
		require.NotEqual(t, "comment_persisted", ev.Name, "another post's room hears nothing")
	case <-time.After(300 * time.Millisecond):
	}
	stop()
}
