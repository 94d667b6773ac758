package socketio_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commentd/commentd/realtime/engineio"
	"github.com/commentd/commentd/realtime/socketio"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newServer(t testing.TB, cfg socketio.Config) (*socketio.Server, string) {
	t.Helper()
	srv := socketio.NewServer(cfg)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return srv, "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
}

// rawClient speaks the protocol by hand.
type rawClient struct {
	t  testing.TB
	ws *websocket.Conn
}

func dial(t testing.TB, url string) *rawClient {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	require.NoError(t, err)
	t.Cleanup(func() { ws.Close() })
	c := &rawClient{t: t, ws: ws}
	require.True(t, strings.HasPrefix(c.read(), "0{"), "open packet first")
	return c
}

func (c *rawClient) send(s string) {
	c.t.Helper()
	require.NoError(c.t, c.ws.WriteMessage(websocket.TextMessage, []byte(s)))
}

func (c *rawClient) read() string {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, b, err := c.ws.ReadMessage()
		require.NoError(c.t, err)
		if string(b) == "2" { // ping: answer and go on
			c.send("3")
			continue
		}
		return string(b)
	}
}

// connect joins the main namespace and returns the socket id.
func (c *rawClient) connect() string {
	c.t.Helper()
	c.send("40")
	reply := c.read()
	require.True(c.t, strings.HasPrefix(reply, `40{"sid":"`), reply)
	var v struct{ SID string }
	require.NoError(c.t, json.Unmarshal([]byte(reply[2:]), &v))
	return v.SID
}

func TestEventsAcksRooms(t *testing.T) {
	srv, url := newServer(t, socketio.Config{})
	nsp := srv.Of("/")
	nsp.On("join", func(s *socketio.Socket, ev *socketio.Event) {
		var room string
		json.Unmarshal(ev.Args[0], &room)
		s.Join(room)
		ev.Ack("joined " + room)
	})
	nsp.On("say", func(s *socketio.Socket, ev *socketio.Event) {
		nsp.EmitTo("r", s, "said", ev.Args[0])
	})
	a, b, c := dial(t, url), dial(t, url), dial(t, url)
	for _, cl := range []*rawClient{a, b, c} {
		cl.connect()
	}
	a.send(`421["join","r"]`)
	require.Equal(t, `431["joined r"]`, a.read())
	b.send(`427["join","r"]`)
	require.Equal(t, `437["joined r"]`, b.read())
	require.Equal(t, 2, nsp.RoomLen("r"))

	a.send(`42["say",{"x":1}]`)
	require.Equal(t, `42["said",{"x":1}]`, b.read(), "room member but the sender")
	c.ws.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, msg, err := c.ws.ReadMessage()
	require.Error(t, err, "outside the room: got %s", msg)

	// The room is freed when its last member leaves.
	a.ws.Close()
	b.send("41")
	require.Eventually(t, func() bool { return nsp.Rooms() == 0 }, 5*time.Second, 10*time.Millisecond)
}

// Broadcasts linger to share writes; direct emits and acks do not, and take
// the broadcasts queued before them along: a member sees them all in order.
func TestBroadcastsKeepOrder(t *testing.T) {
	srv, url := newServer(t, socketio.Config{})
	nsp := srv.Of("/")
	nsp.OnConnection(func(s *socketio.Socket) { s.Join("r") })
	nsp.On("burst", func(s *socketio.Socket, ev *socketio.Event) {
		for i := range 50 {
			nsp.EmitTo("r", nil, "b", i)
			if i%10 == 0 {
				s.Emit("d", i)
			}
		}
		ev.Ack("done")
		nsp.EmitTo("r", nil, "b", "last") // alone: goes out when its linger ends
	})
	c := dial(t, url)
	c.connect()
	c.send(`421["burst"]`)
	for i := range 50 {
		require.Equal(t, fmt.Sprintf(`42["b",%d]`, i), c.read())
		if i%10 == 0 {
			require.Equal(t, fmt.Sprintf(`42["d",%d]`, i), c.read())
		}
	}
	require.Equal(t, `431["done"]`, c.read())
	require.Equal(t, `42["b","last"]`, c.read())
}

// A broadcast to a connection that wrote nothing for a linger goes out at
// once; one right after it waits for the linger. (Bounds of half a linger
// either way: the test tells 0 from 2s, not milliseconds.)
func TestQuietConnectionsDoNotLinger(t *testing.T) {
	t.Parallel()
	const linger = 2 * time.Second
	srv, url := newServer(t, socketio.Config{Engine: engineio.Config{Linger: linger}})
	nsp := srv.Of("/")
	joined := make(chan struct{}, 1)
	nsp.OnConnection(func(s *socketio.Socket) { s.Join("r"); joined <- struct{}{} })
	c := dial(t, url)
	c.connect()
	<-joined
	time.Sleep(linger + linger/4) // quiet since the CONNECT reply

	sent := time.Now()
	require.Equal(t, 1, nsp.EmitToRaw("r", nil, "quiet", json.RawMessage(`1`)))
	c.ws.SetReadDeadline(sent.Add(linger / 2))
	_, b, err := c.ws.ReadMessage()
	require.NoError(t, err, "a quiet connection's broadcast waited for the linger")
	require.Equal(t, `42["quiet",1]`, string(b))

	sent = time.Now()
	nsp.EmitToRaw("r", nil, "busy", json.RawMessage(`2`))
	c.ws.SetReadDeadline(sent.Add(linger / 2))
	_, b, err = c.ws.ReadMessage()
	require.Error(t, err, "a broadcast right after another did not linger: got %s", b)
}

func TestServerAckRoundTrip(t *testing.T) {
	srv, url := newServer(t, socketio.Config{})
	got := make(chan string, 1)
	srv.Of("/").OnConnection(func(s *socketio.Socket) {
		s.EmitWithAck("question", time.Second, func(args []json.RawMessage, err error) {
			if err != nil {
				got <- err.Error()
				return
			}
			got <- string(args[0])
		}, 42)
	})
	c := dial(t, url)
	c.connect()
	require.Equal(t, `420["question",42]`, c.read())
	c.send(`430["answer"]`)
	select {
	case v := <-got:
		require.Equal(t, `"answer"`, v)
	case <-time.After(5 * time.Second):
		t.Fatal("no ack")
	}
}

func TestConnectHookRefuses(t *testing.T) {
	srv, url := newServer(t, socketio.Config{})
	srv.Of("/").OnConnect(func(s *socketio.Socket, auth json.RawMessage) error {
		var a struct{ Token string }
		json.Unmarshal(auth, &a)
		if a.Token != "ok" {
			return &socketio.ConnectError{Message: "Not authorized", Data: map[string]string{"code": "UNAUTHORIZED"}}
		}
		return nil
	})
	c := dial(t, url)
	c.send(`40{"token":"bad"}`)
	require.Equal(t, `44{"message":"Not authorized","data":{"code":"UNAUTHORIZED"}}`, c.read())
	c.send(`40{"token":"ok"}`)
	require.True(t, strings.HasPrefix(c.read(), `40{"sid":`))
}

func TestProtocolViolationClosesOnlyThatConnection(t *testing.T) {
	srv, url := newServer(t, socketio.Config{})
	srv.Of("/").On("ping", func(s *socketio.Socket, ev *socketio.Event) { ev.Ack("pong") })
	good, bad := dial(t, url), dial(t, url)
	good.connect()
	bad.connect()
	for _, junk := range []string{"4abc", "42{}", `42abc["x"]`, "49", `42["connect"]`} {
		bad = dial(t, url)
		bad.connect()
		bad.send(junk)
		bad.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			if _, _, err := bad.ws.ReadMessage(); err != nil {
				break
			}
		}
	}
	good.send(`421["ping"]`)
	require.Equal(t, `431["pong"]`, good.read())
}

func TestConnectTimeout(t *testing.T) {
	_, url := newServer(t, socketio.Config{ConnectTimeout: 100 * time.Millisecond})
	c := dial(t, url)
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.ws.ReadMessage()
	require.Error(t, err, "closed without CONNECT")
}

// Guarantee 6: a client that stops reading is disconnected; the others keep
// receiving every broadcast.
func TestSlowReaderDisconnected(t *testing.T) {
	srv, url := newServer(t, socketio.Config{Engine: engineio.Config{MaxQueueBytes: 1 << 20}})
	nsp := srv.Of("/")
	var disconnected atomic.Value
	nsp.OnConnection(func(s *socketio.Socket) { s.Join("room") })
	nsp.OnDisconnect(func(s *socketio.Socket, reason string) { disconnected.Store(reason) })

	slow := dial(t, url)
	slow.connect()
	// Shrink the slow client's receive buffer so the kernel queues little.
	if tc, ok := slow.ws.NetConn().(interface{ SetReadBuffer(int) error }); ok {
		tc.SetReadBuffer(4096)
	}
	fast := dial(t, url)
	fast.connect()
	// OnConnection runs after the CONNECT reply: wait for both to join.
	require.Eventually(t, func() bool { return nsp.RoomLen("room") == 2 }, 5*time.Second, time.Millisecond)

	const n = 3000
	payload := strings.Repeat("x", 4000) // 12 MB in all: more than kernel buffers and queue hold
	received := make(chan int, 1)
	go func() {
		count := 0
		fast.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		for count < n {
			_, b, err := fast.ws.ReadMessage()
			if err != nil {
				break
			}
			if strings.HasPrefix(string(b), `42["tick"`) {
				count++
			} else if string(b) == "2" {
				fast.ws.WriteMessage(websocket.TextMessage, []byte("3"))
			}
		}
		received <- count
	}()
	for i := range n {
		require.NoError(t, nsp.EmitTo("room", nil, "tick", i, payload))
		if i%20 == 0 {
			time.Sleep(time.Millisecond) // let the fast reader keep up
		}
	}
	require.Equal(t, n, <-received, "the fast reader got every broadcast")
	require.Eventually(t, func() bool { return disconnected.Load() == socketio.ReasonSlowConsumer },
		5*time.Second, 10*time.Millisecond)
	require.Equal(t, 1, nsp.RoomLen("room"))
}

// No goroutine outlives its connection: after many connects and
// disconnects the count is back where it started.
func TestNoGoroutineLeak(t *testing.T) {
	srv, url := newServer(t, socketio.Config{})
	srv.Of("/").On("echo", func(s *socketio.Socket, ev *socketio.Event) { ev.Ack("ok") })
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := session(url, i); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	require.Eventually(t, func() bool { return srv.Conns() == 0 }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+2 }, 10*time.Second, 20*time.Millisecond,
		"goroutines: %d before, %d after", before, runtime.NumGoroutine())
}

// session connects, emits with an ack, waits for it and leaves.
func session(url string, i int) error {
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		return err
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	want := []string{"0{", `40{"sid"`, fmt.Sprintf(`43%d["ok"]`, i)}
	sends := []string{"40", fmt.Sprintf(`42%d["echo"]`, i), ""}
	for j, w := range want {
		_, b, err := ws.ReadMessage()
		if err != nil {
			return err
		}
		if !strings.HasPrefix(string(b), w) {
			return fmt.Errorf("got %q, want %q", b, w)
		}
		if sends[j] != "" {
			ws.WriteMessage(websocket.TextMessage, []byte(sends[j]))
		}
	}
	if i%2 == 0 {
		ws.WriteMessage(websocket.TextMessage, []byte("41"))
	}
	return nil
}

// A polling client that closes by POST while no GET waits keeps its session
// registered for the GET that fetches the final noop, but the namespace
// hears of the disconnect at once: a client reconnecting within that grace
// must find its recovery state saved (socket.io-client's engine.close()).
func TestPollingClientCloseDisconnectsAtOnce(t *testing.T) {
	srv, wsURL := newServer(t, socketio.Config{})
	gone := make(chan string, 1)
	srv.Of("/").OnDisconnect(func(s *socketio.Socket, reason string) { gone <- reason })
	base := "http" + strings.TrimPrefix(strings.TrimSuffix(wsURL, "websocket"), "ws") + "polling"

	do := func(method, url, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		require.NoError(t, err)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(b)
	}
	_, open := do("GET", base, "")
	var hs struct{ SID string }
	require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(open, "0")), &hs), open)
	sess := base + "&sid=" + hs.SID
	do("POST", sess, "40")
	_, reply := do("GET", sess, "")
	require.True(t, strings.HasPrefix(reply, `40{"sid":"`), reply)

	code, _ := do("POST", sess, "1") // no GET is waiting
	require.Equal(t, http.StatusOK, code)
	select {
	case reason := <-gone:
		require.Equal(t, socketio.ReasonTransportClose, reason)
	case <-time.After(10 * time.Second):
		t.Fatal("no disconnect after the client's close packet")
	}
	// Heard before the grace ran out: the session still answers the GET.
	code, body := do("GET", sess, "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "6", body, "the final noop")
}
