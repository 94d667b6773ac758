package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// The heartbeat of TestHeartbeatReapsDeadClients: a client that stops
// answering pings is closed pingInterval+pingTimeout after its last pong
// at the latest. The timeout leaves a live client, under -race, time for
// one HTTP round trip.
const (
	hbPingInterval = 200 * time.Millisecond
	hbPingTimeout  = 400 * time.Millisecond
	// hbReapWithin bounds how long a dead client may linger: one ping
	// period and then some, for a loaded machine.
	hbReapWithin = 5 * (hbPingInterval + hbPingTimeout)
	// hbLiveFor is how long the live clients must stay connected: several
	// ping periods.
	hbLiveFor = 5 * hbPingInterval
)

// TestHeartbeatReapsDeadClients proves socketio.ping_interval and
// ping_timeout on each transport: a client that goes silent (a polling
// session that stops polling, a WebSocket that stops answering pings, a
// session upgraded from polling that then does) is closed and forgotten,
// its socket leaves the namespace, while a client that answers the pings
// beside it stays and keeps working.
func TestHeartbeatReapsDeadClients(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.config(1)
	cfg.SocketIO.PingInterval = hbPingInterval
	cfg.SocketIO.PingTimeout = hbPingTimeout
	app, stop := startApp(t, cfg)
	t.Cleanup(stop)
	addr := app.Addr()

	// conns waits until the server has n Engine.IO sessions and n sockets
	// on "/", and returns how long that took.
	conns := func(t *testing.T, n int, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for app.sio.Conns() != n || app.sio.Of("/").Len() != n {
			if time.Since(start) > within {
				t.Fatalf("after %s: %d sessions and %d sockets on /, want %d", within, app.sio.Conns(), app.sio.Of("/").Len(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(start)
	}

	t.Run("polling", func(t *testing.T) {
		conns(t, 0, hbReapWithin)
		live := openPolling(t, addr)
		live.start()
		dead := openPolling(t, addr)
		_, err := dead.get(context.Background()) // the CONNECT reply, then it stops polling
		require.NoError(t, err)
		silent := time.Now()
		conns(t, 2, time.Second)

		took := conns(t, 1, hbReapWithin)
		t.Logf("the silent polling session was reaped %s after its last request", time.Since(silent).Round(time.Millisecond))
		require.GreaterOrEqual(t, time.Since(silent), hbPingTimeout, "reaped before a ping could have been missed (after %s)", took)
		status, body := dead.rawGet(t)
		require.Equal(t, http.StatusBadRequest, status, body)
		require.JSONEq(t, `{"code":1,"message":"Session ID unknown"}`, body)

		live.requireAlive(t, hbLiveFor)
		conns(t, 1, 0)
		live.close(t)
	})

	t.Run("websocket", func(t *testing.T) {
		conns(t, 0, hbReapWithin)
		live := dialWS(t, addr, "")
		live.start(true)
		dead := dialWS(t, addr, "")
		dead.start(false) // reads, answers nothing
		silent := time.Now()
		conns(t, 2, time.Second)

		conns(t, 1, hbReapWithin)
		select {
		case <-dead.done:
			t.Logf("the silent WebSocket was closed %s after it connected; it saw %d pings", time.Since(silent).Round(time.Millisecond), dead.pings())
		case <-time.After(time.Second):
			t.Fatal("the silent WebSocket's session is gone, but its connection is still open")
		}
		require.GreaterOrEqual(t, dead.pings(), 1, "closed for not answering a ping it never got")

		live.requireAlive(t, hbLiveFor)
		conns(t, 1, 0)
		live.close()
	})

	t.Run("upgraded", func(t *testing.T) {
		conns(t, 0, hbReapWithin)
		upgrade := func() *wsClient {
			p := openPolling(t, addr)
			_, err := p.get(context.Background())
			require.NoError(t, err)
			return dialWS(t, addr, p.sid)
		}
		live := upgrade()
		live.start(true)
		dead := upgrade()
		dead.start(false)
		silent := time.Now()
		conns(t, 2, time.Second)

		conns(t, 1, hbReapWithin)
		select {
		case <-dead.done:
			t.Logf("the silent upgraded session was closed %s after the upgrade", time.Since(silent).Round(time.Millisecond))
		case <-time.After(time.Second):
			t.Fatal("the silent upgraded session is gone, but its WebSocket is still open")
		}
		status, body := (&pollClient{base: pollingURL(addr), sid: dead.sid}).rawGet(t)
		require.Equal(t, http.StatusBadRequest, status, body)

		live.requireAlive(t, hbLiveFor)
		conns(t, 1, 0)
		live.close()
	})
}

func pollingURL(addr string) string {
	return "http://" + addr + "/socket.io/?EIO=4&transport=polling"
}

// pollClient is a raw Engine.IO long-polling session, connected to "/".
type pollClient struct {
	t    *testing.T
	base string
	sid  string

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when keepAlive returns; nil before start
	pmu    sync.Mutex    // one POST at a time: the server closes a session on overlapping POSTs

	mu       sync.Mutex
	received []string // packets other than pings, from keepAlive
	pingsN   int
	err      error
}

// openPolling opens a session with a handshake GET and sends the
// Socket.IO CONNECT.
func openPolling(t *testing.T, addr string) *pollClient {
	t.Helper()
	c := &pollClient{t: t, base: pollingURL(addr)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	t.Cleanup(func() {
		c.cancel()
		if c.done != nil {
			<-c.done
		}
	})
	res, err := http.Get(c.base)
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, string(body))
	require.True(t, strings.HasPrefix(string(body), "0{"), "handshake: %s", body)
	var open struct {
		SID          string `json:"sid"`
		PingInterval int64  `json:"pingInterval"`
		PingTimeout  int64  `json:"pingTimeout"`
	}
	require.NoError(t, json.Unmarshal(body[1:], &open))
	require.Equal(t, hbPingInterval.Milliseconds(), open.PingInterval, "pingInterval of the open packet")
	require.Equal(t, hbPingTimeout.Milliseconds(), open.PingTimeout, "pingTimeout of the open packet")
	c.sid = open.SID
	require.NoError(t, c.post(context.Background(), "40"))
	return c
}

func (c *pollClient) url() string { return c.base + "&sid=" + c.sid }

func (c *pollClient) post(ctx context.Context, body string) error {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(), strings.NewReader(body))
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err == nil && (res.StatusCode != http.StatusOK || string(b) != "ok") {
		err = fmt.Errorf("POST %q: %d %s", body, res.StatusCode, b)
	}
	return err
}

// get waits for the next payload and returns its packets.
func (c *pollClient) get(ctx context.Context) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(), nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err == nil && res.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET: %d %s", res.StatusCode, b)
	}
	if err != nil {
		return nil, err
	}
	return strings.Split(string(b), "\x1e"), nil
}

// rawGet polls once more, for a session that should be gone: it must not
// wait.
func (c *pollClient) rawGet(t *testing.T) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(), nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "GET on a reaped session")
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	return res.StatusCode, strings.TrimSpace(string(b))
}

// start runs keepAlive on a goroutine of its own.
func (c *pollClient) start() {
	c.done = make(chan struct{})
	go c.keepAlive()
}

// keepAlive polls and answers every ping until close; errors go to c.err.
func (c *pollClient) keepAlive() {
	defer close(c.done)
	for c.ctx.Err() == nil {
		ps, err := c.get(c.ctx)
		if err == nil {
			for _, p := range ps {
				if p == "2" {
					c.mu.Lock()
					c.pingsN++
					c.mu.Unlock()
					err = c.post(c.ctx, "3")
				} else {
					c.mu.Lock()
					c.received = append(c.received, p)
					c.mu.Unlock()
				}
			}
		}
		if err != nil {
			if c.ctx.Err() == nil {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
			}
			return
		}
	}
}

// requireAlive waits for d, then checks that the session answered pings
// all along and still carries events: join_post is acked.
func (c *pollClient) requireAlive(t *testing.T, d time.Duration) {
	t.Helper()
	time.Sleep(d)
	c.mu.Lock()
	err, pings := c.err, c.pingsN
	c.mu.Unlock()
	require.NoError(t, err, "the live polling session")
	require.GreaterOrEqual(t, pings, int(d/hbPingInterval)-2, "pings answered in %s", d)
	require.NoError(t, c.post(context.Background(), `421["join_post","heartbeat"]`))
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		got := slices.Clone(c.received)
		c.mu.Unlock()
		if slices.ContainsFunc(got, func(p string) bool { return strings.HasPrefix(p, "431[") }) {
			return
		}
		require.True(t, time.Now().Before(deadline), "no ack of join_post on the live polling session; got %q", got)
		time.Sleep(5 * time.Millisecond)
	}
}

// close ends the session with a close packet and stops keepAlive.
func (c *pollClient) close(t *testing.T) {
	t.Helper()
	require.NoError(t, c.post(context.Background(), "1"))
	c.cancel()
	<-c.done
}

// wsClient is a raw Engine.IO WebSocket session, connected to "/": opened
// on WebSocket, or upgraded from the polling session sid.
type wsClient struct {
	t   *testing.T
	ws  *websocket.Conn
	sid string

	wmu sync.Mutex // one writer at a time

	done chan struct{} // closed when keepAlive returns: the connection is gone; nil before start

	mu       sync.Mutex
	received []string
	pingsN   int
}

func dialWS(t *testing.T, addr, sid string) *wsClient {
	t.Helper()
	u := "ws://" + addr + "/socket.io/?EIO=4&transport=websocket"
	if sid != "" {
		u += "&sid=" + sid
	}
	ws, _, err := websocket.DefaultDialer.Dial(u, nil)
	require.NoError(t, err)
	c := &wsClient{t: t, ws: ws, sid: sid}
	t.Cleanup(func() {
		ws.Close()
		if c.done != nil {
			<-c.done
		}
	})
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if sid != "" {
		require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("2probe")))
		for {
			_, b, err := ws.ReadMessage()
			require.NoError(t, err, "waiting for 3probe")
			if string(b) == "3probe" {
				break
			}
			require.Equal(t, "2", string(b), "before 3probe, only a ping may come")
		}
		require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("5")))
		return c
	}
	_, b, err := ws.ReadMessage()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(b), "0{"), "open packet: %s", b)
	var open struct{ SID string }
	require.NoError(t, json.Unmarshal(b[1:], &open))
	c.sid = open.SID
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("40")))
	return c
}

// start runs keepAlive on a goroutine of its own.
func (c *wsClient) start(answer bool) {
	c.done = make(chan struct{})
	go c.keepAlive(answer)
}

// keepAlive reads until the connection ends, answering pings if answer.
func (c *wsClient) keepAlive(answer bool) {
	defer close(c.done)
	c.ws.SetReadDeadline(time.Time{})
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		if string(b) == "2" {
			c.mu.Lock()
			c.pingsN++
			c.mu.Unlock()
			if answer {
				c.write("3")
			}
			continue
		}
		c.mu.Lock()
		c.received = append(c.received, string(b))
		c.mu.Unlock()
	}
}

func (c *wsClient) write(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.TextMessage, []byte(s))
}

func (c *wsClient) pings() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pingsN
}

// requireAlive waits for d, then checks that the connection is open, that
// pings came all along, and that it still carries events.
func (c *wsClient) requireAlive(t *testing.T, d time.Duration) {
	t.Helper()
	time.Sleep(d)
	select {
	case <-c.done:
		t.Fatalf("the live WebSocket was closed (it answered %d pings)", c.pings())
	default:
	}
	require.GreaterOrEqual(t, c.pings(), int(d/hbPingInterval)-2, "pings answered in %s", d)
	require.NoError(t, c.write(`421["join_post","heartbeat"]`))
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		got := slices.Clone(c.received)
		c.mu.Unlock()
		if slices.ContainsFunc(got, func(p string) bool { return strings.HasPrefix(p, "431[") }) {
			return
		}
		require.True(t, time.Now().Before(deadline), "no ack of join_post on the live WebSocket; got %q", got)
		time.Sleep(5 * time.Millisecond)
	}
}

// close sends a close packet and waits for the server to hang up.
func (c *wsClient) close() {
	c.t.Helper()
	require.NoError(c.t, c.write("1"))
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		c.t.Fatal("the server did not close the WebSocket after a close packet")
	}
}
