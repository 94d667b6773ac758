package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// Guarantee 6 end to end: a reader of a post that stops reading is
// disconnected when its queue overflows; the other readers of the post get
// every comment, and the posts go on being confirmed.
func TestSlowReaderOnlyItDisconnected(t *testing.T) {
	e := newEnv(t, 2)
	app, stop := startApp(t, e.config(2))
	// The slow reader joins and then never reads again; a small receive
	// buffer keeps the kernel from absorbing the flood.
	dialer := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(4096)
		}
		return c, err
	}}
	slow, _, err := dialer.Dial("ws://"+app.Addr()+"/socket.io/?EIO=4&transport=websocket", nil)
	require.NoError(t, err)
	defer slow.Close()
	slow.ReadMessage()
	require.NoError(t, slow.WriteMessage(websocket.TextMessage, []byte("40")))
	slow.ReadMessage()
	require.NoError(t, slow.WriteMessage(websocket.TextMessage, []byte(`421["join_post","flood"]`)))
	for {
		_, m, err := slow.ReadMessage()
		require.NoError(t, err)
		if strings.HasPrefix(string(m), "431") {
			break
		}
	}
	reader := dialSIO(t, app.Addr())
	reader.join("flood")
	writer := dialSIO(t, app.Addr())

	// 2,000-character comments: 3,000 of them are ~6 MB, past the 1 MiB
	// queue and what the kernel buffers hold.
	content := strings.Repeat("x", 2000)
	var ids []string
	for i := range 3000 {
		ids = append(ids, writer.post("flood", fmt.Sprint(i, content[:1990])).ID)
		if i%100 == 99 {
			for range 100 { // keep the good reader up to date
				reader.next("comment_added", 10*time.Second)
			}
		}
	}
	require.Eventually(t, func() bool {
		return app.sio.Stats().SlowConsumers >= 1
	}, 10*time.Second, 20*time.Millisecond, "the slow reader was disconnected")
	require.EqualValues(t, 1, app.sio.Stats().SlowConsumers, "only the slow reader")
	require.Len(t, ids, 3000, "every post confirmed while it overflowed")
	stop()
}

// Guarantee 8 end to end: SIGTERM while clients post. commentd stops
// accepting, finishes the appends in flight and drains: every comment it
// confirmed is in MongoDB once, and nothing it did not confirm but was sent.
func TestSIGTERMUnderLoad(t *testing.T) {
	e := newEnv(t, 4)
	p := startBinary(t, append([]string{"serve"}, e.args(4, "--limits.comments_per_second", "0")...)...)
	line := p.waitLine(t, "listening on")
	_, rest, _ := strings.Cut(line, "http://")
	addr := strings.TrimSuffix(strings.TrimSpace(rest), "/")

	var (
		mu        sync.Mutex
		confirmed []string
		sentTexts = map[string]bool{}
		wg        sync.WaitGroup
	)
	stopPosting := make(chan struct{})
	for w := range 6 {
		c := dialSIO(t, addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stopPosting:
					return
				default:
				}
				text := fmt.Sprintf("w%d-%d", w, i)
				mu.Lock()
				sentTexts[text] = true
				mu.Unlock()
				a, err := c.ack("new_comment", map[string]string{"postId": fmt.Sprint("term-", w), "userId": "u", "content": text})
				if err != nil {
					return // the server went away
				}
				var res struct {
					OK      bool
					Comment comment.Comment
				}
				if json.Unmarshal(a, &res) == nil && res.OK {
					mu.Lock()
					confirmed = append(confirmed, res.Comment.ID)
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond) // under load
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, p.wait(t, time.Minute), "stderr:\n%s", p.stderr)
	close(stopPosting)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, confirmed)
	stored, err := e.store.IDs(context.Background())
	require.NoError(t, err)
	have := map[string]bool{}
	for _, id := range stored {
		require.False(t, have[id], "stored twice: %s", id)
		have[id] = true
	}
	for _, id := range confirmed {
		require.True(t, have[id], "confirmed before SIGTERM, not in MongoDB: %s", id)
	}
	// Anything stored beyond the confirmed was sent (its ack lost to the
	// shutdown), never invented.
	if extra := len(stored) - len(confirmed); extra > 0 {
		cs, err := e.store.History(context.Background(), "term-0", "", 100000)
		require.NoError(t, err)
		for _, c := range cs {
			require.True(t, sentTexts[c.Content], "stored but never sent: %q", c.Content)
		}
	}
	for s := range 4 {
		n, err := e.buf.Pending(context.Background(), s)
		require.NoError(t, err)
		require.Zero(t, n, "drained")
	}

}
