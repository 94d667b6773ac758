package goclient

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zishang520/socket.io/clients/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// wait bounds one wait for an event or an ack; grace is the window in
// which something must NOT arrive.
const (
	wait  = 10 * time.Second
	grace = 500 * time.Millisecond
)

// servers are the commentd nodes under test: COMMENTD_URL has
// socketio.recovery_window 0, COMMENTD_RECOVERY_URL has recovery on.
func servers(t *testing.T) (plain, recovery string) {
	t.Helper()
	plain, recovery = os.Getenv("COMMENTD_URL"), os.Getenv("COMMENTD_RECOVERY_URL")
	if plain == "" || recovery == "" {
		t.Fatal("COMMENTD_URL and COMMENTD_RECOVERY_URL are not set: run through go test ./cmd/commentd/ -run TestGoClient")
	}
	return plain, recovery
}

func postID(label string) string { return fmt.Sprintf("go-%s-%x", label, rand.Uint64()) }

// client is a Socket.IO client on WebSocket only, without reconnection.
type client struct {
	t           *testing.T
	s           *socket.Socket
	disconnects atomic.Int32
}

// dial connects to url's namespace nsp; before runs before the connection
// starts, so that its listeners miss nothing.
//
// The client's engine sometimes never opens its WebSocket and the attempt
// ends in its own connect timeout: measured with 300 connections each, 2
// against the reference server (socket.io 4.8) and 5 against commentd,
// whose logs show no request of those attempts' sessions. dial then tries a
// fresh socket, up to three times; a failure of anything after the
// connection is not retried.
func dial(t *testing.T, url, nsp string, before func(*socket.Socket)) *client {
	t.Helper()
	var why string
	for range 3 {
		c, reason := dialOnce(t, url, nsp, before)
		if c != nil {
			return c
		}
		why = reason
		t.Logf("%s; trying a fresh socket", reason)
	}
	t.Fatal(why)
	return nil
}

func dialOnce(t *testing.T, url, nsp string, before func(*socket.Socket)) (*client, string) {
	t.Helper()
	opts := socket.DefaultOptions()
	opts.SetTransports(types.NewSet(socket.WebSocket))
	opts.SetReconnection(false)
	opts.SetForceNew(true)
	opts.SetAutoConnect(false)
	opts.SetTimeout(wait)
	s, err := socket.Io(url+nsp, opts)
	if err != nil {
		t.Fatalf("socket.Io %s: %v", url+nsp, err)
	}
	c := &client{t: t, s: s}
	connected := make(chan struct{})
	failed := make(chan string, 1)
	s.Once("connect", func(...any) { close(connected) })
	s.Once("connect_error", func(a ...any) { failed <- fmt.Sprint(a...) })
	s.On("disconnect", func(...any) { c.disconnects.Add(1) })
	if before != nil {
		before(s)
	}
	s.Connect()
	select {
	case <-connected:
	case err := <-failed:
		s.Disconnect()
		if err != "timeout" {
			t.Fatalf("connect_error from %s: %s", url+nsp, err)
		}
		return nil, fmt.Sprintf("connect_error from %s: %s", url+nsp, err)
	case <-time.After(wait):
		eng := s.Io().Engine()
		state := "no engine"
		if eng != nil {
			state = fmt.Sprintf("engine id %q ready %v", eng.Id(), eng.ReadyState())
		}
		s.Disconnect()
		return nil, fmt.Sprintf("no connection to %s within %s (%s)", url+nsp, wait, state)
	}
	t.Cleanup(func() { s.Disconnect() })
	return c, ""
}

// call emits event with args and an ack callback and returns the ack's
// arguments.
func (c *client) call(event string, args ...any) []any {
	c.t.Helper()
	got := make(chan []any, 1)
	if err := c.s.Emit(event, append(args, func(a []any, err error) {
		if err == nil {
			got <- a
		}
	})...); err != nil {
		c.t.Fatalf("emit %s: %v", event, err)
	}
	select {
	case a := <-got:
		return a
	case <-time.After(wait):
		c.t.Fatalf("no ack of %s within %s", event, wait)
		return nil
	}
}

// result is the ack {ok, comment, comments, next, error} of the comment events.
type result struct {
	OK       bool      `json:"ok"`
	Comment  comment   `json:"comment"`
	Comments []comment `json:"comments"`
	Next     *string   `json:"next"`
	Error    struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type comment struct {
	ID        string `json:"_id"`
	PostID    string `json:"postId"`
	UserID    string `json:"userId"`
	Content   string `json:"content"`
	CreatedAt string `json:"createdAt"`
}

// decode turns what the client decoded (maps, slices) into v.
func decode(t *testing.T, from any, v any) {
	t.Helper()
	b, err := json.Marshal(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}

func (c *client) result(event string, args ...any) result {
	c.t.Helper()
	a := c.call(event, args...)
	if len(a) != 1 {
		c.t.Fatalf("%s acked %d arguments: %v", event, len(a), a)
	}
	var r result
	decode(c.t, a[0], &r)
	return r
}

func (c *client) join(post string) []comment {
	c.t.Helper()
	r := c.result("join_post", post)
	if !r.OK {
		c.t.Fatalf("join_post %s: %+v", post, r)
	}
	return r.Comments
}

func (c *client) post(post, content string) comment {
	c.t.Helper()
	r := c.result("new_comment", map[string]string{"postId": post, "userId": "go-writer", "content": content})
	if !r.OK {
		c.t.Fatalf("new_comment: %+v", r.Error)
	}
	if len(r.Comment.ID) != 24 || r.Comment.PostID != post || r.Comment.Content != content || !strings.HasSuffix(r.Comment.CreatedAt, "Z") {
		c.t.Fatalf("comment %+v", r.Comment)
	}
	return r.Comment
}

func (c *client) connected() {
	c.t.Helper()
	if !c.s.Connected() || c.disconnects.Load() != 0 {
		c.t.Fatalf("disconnected (%d disconnect events)", c.disconnects.Load())
	}
}

// events records the arguments of one event, in arrival order.
type events struct {
	mu  sync.Mutex
	got [][]any
}

func (e *events) on(s *socket.Socket, event string) *events {
	s.On(types.EventName(event), func(a ...any) {
		e.mu.Lock()
		e.got = append(e.got, a)
		e.mu.Unlock()
	})
	return e
}

func (e *events) snapshot() [][]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.got)
}

// waitN waits until n events arrived and returns them.
func (e *events) waitN(t *testing.T, n int, what string) [][]any {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		if got := e.snapshot(); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d within %s", what, len(e.snapshot()), n, wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestJoinAndPost(t *testing.T) {
	url, _ := servers(t)
	p := postID("join")
	w := dial(t, url, "/", nil)
	first := w.post(p, "already there")

	var loaded, confirmed events
	r := dial(t, url, "/", func(s *socket.Socket) {
		loaded.on(s, "load_comments")
		confirmed.on(s, "comment_confirmed")
	})
	acked := r.join(p)
	if len(acked) != 1 || acked[0] != first {
		t.Fatalf("join acked %+v, want [%+v]", acked, first)
	}
	var fromEvent []comment
	decode(t, loaded.waitN(t, 1, "load_comments")[0][0], &fromEvent)
	if !slices.Equal(fromEvent, acked) {
		t.Fatalf("load_comments %+v, ack %+v", fromEvent, acked)
	}
	mine := r.post(p, "hello from go")
	var conf struct {
		Message string  `json:"message"`
		Comment comment `json:"comment"`
	}
	decode(t, confirmed.waitN(t, 1, "comment_confirmed")[0][0], &conf)
	if conf.Message != "Comment posted" || conf.Comment != mine {
		t.Fatalf("comment_confirmed %+v, want %+v", conf, mine)
	}
}

// With recovery off comment_added carries the comment alone; with it on,
// the comment id follows as the offset.
func TestCommentAdded(t *testing.T) {
	plain, recovery := servers(t)
	for _, tc := range []struct {
		name, url string
		args      int
	}{{"recovery off", plain, 1}, {"recovery on", recovery, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			p := postID("added")
			var added events
			r := dial(t, tc.url, "/", func(s *socket.Socket) { added.on(s, "comment_added") })
			r.join(p)
			w := dial(t, tc.url, "/", nil)
			var sent []comment
			for i := range 3 {
				sent = append(sent, w.post(p, fmt.Sprint("added ", i)))
			}
			got := added.waitN(t, 3, "comment_added")
			for i, a := range got {
				if len(a) != tc.args {
					t.Fatalf("comment_added with %d arguments, want %d: %v", len(a), tc.args, a)
				}
				var c comment
				decode(t, a[0], &c)
				if c != sent[i] {
					t.Fatalf("comment_added %d: %+v, want %+v", i, c, sent[i])
				}
				if tc.args == 2 && a[1] != c.ID {
					t.Fatalf("offset %v, want the comment id %s", a[1], c.ID)
				}
			}
		})
	}
}

func TestErrorCodes(t *testing.T) {
	url, _ := servers(t)
	var errs events
	c := dial(t, url, "/", func(s *socket.Socket) { errs.on(s, "comment_error") })
	p := postID("err")
	for i, tc := range []struct {
		arg  any
		code string
	}{
		{map[string]string{"postId": "bad post id!", "userId": "u", "content": "x"}, "INVALID_POST_ID"},
		{map[string]string{"postId": p, "userId": "bad user!", "content": "x"}, "INVALID_USER_ID"},
		{map[string]string{"postId": p, "userId": "u", "content": "  "}, "EMPTY_CONTENT"},
		{map[string]string{"postId": p, "userId": "u", "content": strings.Repeat("x", 2001)}, "CONTENT_TOO_LONG"},
		{"not an object", "INVALID_PAYLOAD"},
		{map[string]any{"postId": p, "userId": "u", "content": []byte("\x00binary")}, "INVALID_PAYLOAD"},
	} {
		r := c.result("new_comment", tc.arg)
		if r.OK || r.Error.Code != tc.code || r.Error.Message == "" {
			t.Fatalf("case %d: acked %+v, want code %s", i, r, tc.code)
		}
		var ev struct{ Message, Error, Code string }
		decode(t, errs.waitN(t, i+1, "comment_error")[i][0], &ev)
		if ev.Code != tc.code || ev.Error == "" || ev.Message != "Failed to post comment" {
			t.Fatalf("comment_error %+v, want code %s", ev, tc.code)
		}
	}
	c.post(p, "still works")
	c.connected()
}

func TestLeavePost(t *testing.T) {
	url, _ := servers(t)
	p := postID("leave")
	var left, stayed events
	a := dial(t, url, "/", func(s *socket.Socket) { left.on(s, "comment_added") })
	b := dial(t, url, "/", func(s *socket.Socket) { stayed.on(s, "comment_added") })
	a.join(p)
	b.join(p)
	w := dial(t, url, "/", nil)
	w.post(p, "both read this")
	left.waitN(t, 1, "comment_added before leaving")
	if r := a.result("leave_post", p); !r.OK {
		t.Fatalf("leave_post: %+v", r)
	}
	w.post(p, "only the stayer reads this")
	stayed.waitN(t, 2, "the stayer's comment_added")
	time.Sleep(grace)
	if n := len(left.snapshot()); n != 1 {
		t.Fatalf("%d comment_added after leave_post, want none", n-1)
	}
}

func TestLoadMore(t *testing.T) {
	url, _ := servers(t)
	p := postID("more")
	w := dial(t, url, "/", nil)
	var sent []comment
	for i := range 5 {
		sent = append(sent, w.post(p, fmt.Sprint("page ", i)))
	}
	r := w.result("load_more", map[string]any{"postId": p, "before": sent[4].ID, "limit": 2})
	if !r.OK || !slices.Equal(r.Comments, sent[2:4]) || r.Next == nil {
		t.Fatalf("load_more: %+v", r)
	}
	r = w.result("load_more", map[string]any{"postId": p, "before": *r.Next, "limit": 10})
	if !r.OK || !slices.Equal(r.Comments, sent[:2]) || r.Next != nil {
		t.Fatalf("load_more, the oldest page: %+v", r)
	}
}

func TestChat(t *testing.T) {
	url, _ := servers(t)
	var msgs events
	c := dial(t, url, "/chat", func(s *socket.Socket) { msgs.on(s, "message") })
	me := c.s.Id()
	if a := c.call("event1"); len(a) != 1 || a[0] != me {
		t.Fatalf("event1 acked %v, want the socket id %s", a, me)
	}
	c.s.Emit("message", "hello from go")
	deadline := time.Now().Add(wait)
	for !slices.ContainsFunc(msgs.snapshot(), func(a []any) bool { return len(a) == 1 && a[0] == me+": hello from go" }) {
		if time.Now().After(deadline) {
			t.Fatalf("no message %q: %v", me+": hello from go", msgs.snapshot())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A burst of 30 comments at once reaches the reader, in order, and nobody
// is disconnected.
func TestBurst(t *testing.T) {
	url, _ := servers(t)
	p := postID("burst")
	var added events
	r := dial(t, url, "/", func(s *socket.Socket) { added.on(s, "comment_added") })
	r.join(p)
	w := dial(t, url, "/", nil)
	const n = 30
	acks := make(chan []any, n)
	for i := range n {
		w.s.Emit("new_comment", map[string]string{"postId": p, "userId": "go-burst", "content": fmt.Sprint("burst ", i)},
			func(a []any, err error) { acks <- a })
	}
	var ids []string
	for range n {
		select {
		case a := <-acks:
			var res result
			decode(t, a[0], &res)
			if !res.OK {
				t.Fatalf("acked %+v", res)
			}
			ids = append(ids, res.Comment.ID)
		case <-time.After(wait):
			t.Fatalf("%d of %d acks", len(ids), n)
		}
	}
	var got []string
	for _, a := range added.waitN(t, n, "comment_added") {
		var c comment
		decode(t, a[0], &c)
		got = append(got, c.ID)
	}
	if !slices.IsSorted(got) {
		t.Fatalf("not in the buffer's order: %v", got)
	}
	slices.Sort(ids)
	if !slices.Equal(got, ids) {
		t.Fatalf("comment_added %v, acked %v", got, ids)
	}
	r.connected()
	w.connected()
}

// Idle for COMMENTD_IDLE seconds (60) while the server pings every 2s: still
// connected, and it still works.
func TestIdle(t *testing.T) {
	url, _ := servers(t)
	secs := 60
	if v := os.Getenv("COMMENTD_IDLE"); v != "" {
		var err error
		if secs, err = strconv.Atoi(v); err != nil {
			t.Fatalf("COMMENTD_IDLE=%q: %v", v, err)
		}
	}
	t.Parallel()
	p := postID("idle")
	c := dial(t, url, "/", nil)
	c.join(p)
	time.Sleep(time.Duration(secs) * time.Second)
	c.connected()
	c.post(p, "after a quiet minute")
}
