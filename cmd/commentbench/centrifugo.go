package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/commentd/commentd/internal/sioclient"
	"github.com/gorilla/websocket"
)

// Centrifugo (v6) is the peer of the fan-out scenarios: an in-memory
// broker without history, so the ceiling of the fan-out part, not a
// durable peer. Readers speak its JSON protocol over WebSocket directly
// (one command or reply per line, several lines per frame); centrifuge-go
// would decode every push into its own structs, and the load generator
// shares two cores with the server. Publications go through the server
// HTTP API.

// centrifugoTarget is where the Centrifugo driver connects and publishes.
type centrifugoTarget struct {
	ws     string // ws://127.0.0.1:PORT/connection/websocket
	api    string // http://127.0.0.1:PORT/api
	apiKey string
}

// centrifugoConn is one Centrifugo client connection subscribed to one
// channel. One goroutine runs readLoop, which is also the only writer
// after the subscription (it answers the server's pings).
type centrifugoConn struct {
	ws     *websocket.Conn
	closed chan struct{}
	once   sync.Once
}

// dialCentrifugo connects (the connect command, no token: the bench's
// server runs with client.insecure) and subscribes to channel.
func dialCentrifugo(ctx context.Context, wsURL string, local net.IP, channel string) (*centrifugoConn, error) {
	nd := &net.Dialer{Timeout: handshakeTimeout}
	if local != nil {
		nd.LocalAddr = &net.TCPAddr{IP: local}
	}
	wd := websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: handshakeTimeout,
		ReadBufferSize: 4096, WriteBufferSize: 1024}
	ws, _, err := wd.DialContext(ctx, wsURL, nil)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	ws.SetReadDeadline(time.Now().Add(handshakeTimeout))
	for id, cmd := range []string{`{"id":1,"connect":{"name":"commentbench"}}`,
		fmt.Sprintf(`{"id":2,"subscribe":{"channel":%s}}`, quoted(channel))} {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(cmd)); err != nil {
			ws.Close()
			return nil, fmt.Errorf("centrifugo command %d: %w", id+1, err)
		}
		if err := awaitReply(ws, id+1); err != nil {
			ws.Close()
			return nil, err
		}
	}
	ws.SetReadDeadline(time.Time{})
	return &centrifugoConn{ws: ws, closed: make(chan struct{})}, nil
}

// awaitReply reads frames until the reply to command id, and fails on an
// error reply.
func awaitReply(ws *websocket.Conn, id int) error {
	want := fmt.Appendf(nil, `"id":%d`, id)
	for {
		_, m, err := ws.ReadMessage()
		if err != nil {
			return fmt.Errorf("centrifugo reply %d: %w", id, err)
		}
		for line := range bytes.SplitSeq(m, []byte{'\n'}) {
			if !bytes.Contains(line, want) {
				continue
			}
			if bytes.Contains(line, []byte(`"error":`)) {
				return fmt.Errorf("centrifugo reply %d: %s", id, line)
			}
			return nil
		}
	}
}

// centrifugoPing is the server's ping and the client's pong in the JSON
// protocol: an empty command.
var centrifugoPing = []byte("{}")

// readLoop reads until the connection fails, answers pings, and hands each
// frame that holds pushes to onFrame (the slice is reused).
func (c *centrifugoConn) readLoop(onFrame func(frame []byte)) error {
	buf := make([]byte, 0, 1024)
	for {
		var err error
		if buf, err = sioclient.ReadFrame(c.ws, buf[:0]); err != nil {
			return err
		}
		ping, pushes := scanCentrifugoFrame(buf)
		if ping {
			if err := c.ws.WriteMessage(websocket.TextMessage, centrifugoPing); err != nil {
				return err
			}
		}
		if pushes {
			onFrame(buf)
		}
	}
}

// scanCentrifugoFrame tells whether a frame holds the server's ping and
// whether it holds pushes. A frame carries several replies, one a line,
// and under load the ping shares a frame with pushes: looking for it only
// in frames of their own missed it, and Centrifugo dropped every reader
// that had not answered (no pong) after 33 s.
func scanCentrifugoFrame(frame []byte) (ping, pushes bool) {
	for line := range bytes.SplitSeq(frame, []byte{'\n'}) {
		if bytes.Equal(bytes.TrimSpace(line), centrifugoPing) {
			ping = true
		} else if !pushes && bytes.Contains(line, []byte(`"push"`)) {
			pushes = true
		}
	}
	return ping, pushes
}

// close closes the connection once.
func (c *centrifugoConn) close() {
	c.once.Do(func() {
		close(c.closed)
		c.ws.Close()
	})
}

func (c *centrifugoConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// centrifugoPublisher publishes through the server HTTP API.
type centrifugoPublisher struct {
	t      centrifugoTarget
	client *http.Client
}

func newCentrifugoPublisher(t centrifugoTarget, conns int) *centrifugoPublisher {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	return &centrifugoPublisher{t: t, client: &http.Client{Timeout: 10 * time.Second, Transport: tr}}
}

// publish sends data (a JSON object) to channel and tells whether the
// server accepted it.
func (p *centrifugoPublisher) publish(ctx context.Context, channel string, data json.RawMessage) error {
	body, _ := json.Marshal(map[string]any{"channel": channel, "data": data})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(p.t.api, "/")+"/publish", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", p.t.apiKey)
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("centrifugo publish: %w", err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || bytes.Contains(out, []byte(`"error"`)) {
		return fmt.Errorf("centrifugo publish: %s %s", resp.Status, out)
	}
	return nil
}
