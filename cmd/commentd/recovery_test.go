package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// Connection state recovery across nodes: a client that drops and
// reconnects to another node within the window gets its socket id and
// rooms back (the same pid: socket.recovered) and every comment it missed,
// in order; events carry their offset as last argument.
func TestRecoveryAcrossNodes(t *testing.T) {
	e := newEnv(t, 2)
	a, stopA := startApp(t, e.config(2))
	b, stopB := startApp(t, e.config(2))
	writer := dialSIO(t, a.Addr())

	connect := func(addr, auth string) (*websocket.Conn, string, string) {
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
		require.NoError(t, err)
		ws.ReadMessage()
		require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("40"+auth)))
		_, reply, err := ws.ReadMessage()
		require.NoError(t, err)
		var v struct{ SID, PID string }
		require.NoError(t, json.Unmarshal(reply[2:], &v))
		require.NotEmpty(t, v.PID, "the CONNECT reply carries a pid: %s", reply)
		return ws, v.SID, v.PID
	}
	// readAdded returns the comment and offset of the next comment_added.
	readAdded := func(ws *websocket.Conn) (comment.Comment, string) {
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			_, m, err := ws.ReadMessage()
			require.NoError(t, err)
			s := string(m)
			if s == "2" {
				ws.WriteMessage(websocket.TextMessage, []byte("3"))
				continue
			}
			if !strings.HasPrefix(s, `42["comment_added"`) {
				continue
			}
			var args []json.RawMessage
			require.NoError(t, json.Unmarshal(m[2:], &args))
			require.Len(t, args, 3, "name, comment, offset")
			var c comment.Comment
			var off string
			require.NoError(t, json.Unmarshal(args[1], &c))
			require.NoError(t, json.Unmarshal(args[2], &off))
			require.Equal(t, c.ID, off, "the offset is the comment id")
			return c, off
		}
	}

	ws, sid, pid := connect(a.Addr(), "")
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(`421["join_post","rec"]`)))
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for { // the join's ack: from now on the room gets every comment
		_, m, err := ws.ReadMessage()
		require.NoError(t, err)
		if strings.HasPrefix(string(m), "431") {
			break
		}
	}
	first := writer.post("rec", "before")
	_, offset := readAdded(ws)
	require.Equal(t, first.ID, offset)
	ws.Close() // the network drops

	var missed []string
	for i := range 5 {
		missed = append(missed, writer.post("rec", fmt.Sprint("missed ", i)).ID)
	}
	require.Eventually(t, func() bool { // the server noticed the drop and kept the state
		return e.rdb.Exists(t.Context(), "cmt:csr:"+pid).Val() == 1
	}, 10*time.Second, 10*time.Millisecond)

	ws2, sid2, pid2 := connect(b.Addr(), fmt.Sprintf(`{"pid":%q,"offset":%q}`, pid, offset))
	defer ws2.Close()
	require.Equal(t, sid, sid2, "same socket id")
	require.Equal(t, pid, pid2, "same pid: socket.recovered")
	for _, id := range missed {
		c, _ := readAdded(ws2)
		require.Equal(t, id, c.ID)
	}
	// Still in the room, on the new node.
	live := writer.post("rec", "live")
	c, _ := readAdded(ws2)
	require.Equal(t, live.ID, c.ID)

	// A pid is good once; an unknown one gets a fresh session.
	ws3, sid3, pid3 := connect(b.Addr(), fmt.Sprintf(`{"pid":%q,"offset":%q}`, pid, offset))
	ws3.Close()
	require.NotEqual(t, sid, sid3)
	require.NotEqual(t, pid, pid3)
	stopB()
	stopA()
}

// With socketio.recovery_window 0, comment_added carries the comment
// alone, as from the reference server: a one-argument handler (Python's
// `def on_added(comment)`) gets every event. With recovery on, the offset
// follows it.
func TestCommentAddedOffsetOnlyWithRecovery(t *testing.T) {
	e := newEnv(t, 2)
	for _, tc := range []struct {
		window time.Duration
		args   int
	}{{0, 1}, {time.Minute, 2}} {
		t.Run(fmt.Sprint("recovery_window=", tc.window), func(t *testing.T) {
			cfg := e.config(2)
			cfg.SocketIO.RecoveryWindow = tc.window
			app, stop := startApp(t, cfg)
			defer stop()
			c := dialSIO(t, app.Addr())
			defer c.close()
			post := fmt.Sprint("offset-", tc.window.Seconds())
			c.join(post)
			posted := c.post(post, "hello")
			ev := c.next("comment_added", 10*time.Second)
			require.Len(t, ev.Args, tc.args, "comment_added's arguments: %s", ev.Args)
			var got comment.Comment
			require.NoError(t, json.Unmarshal(ev.Args[0], &got))
			require.Equal(t, posted.ID, got.ID)
			if tc.args == 2 {
				require.Equal(t, `"`+posted.ID+`"`, string(ev.Args[1]), "the offset is the comment id")
			}
		})
	}
}
