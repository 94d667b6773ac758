package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commentd/commentd/realtime/engineio"
	"github.com/commentd/commentd/realtime/socketio"
	"github.com/gorilla/websocket"
)

// handshakeTimeout bounds the WebSocket upgrade and the Engine.IO and
// Socket.IO handshakes of one connection.
const handshakeTimeout = 20 * time.Second

// conn is a lean Socket.IO client over WebSocket: the caller's goroutine
// reads (readLoop), writes go under a lock, pings are answered.
type conn struct {
	ws     *websocket.Conn
	wmu    sync.Mutex
	closed atomic.Bool
}

// dialer makes Socket.IO connections to one server, optionally from a given
// loopback source address (to spread many connections over 127.0.0.x).
type dialer struct {
	url string // ws://host:port/socket.io/?EIO=4&transport=websocket
	// bufSize is the read and write buffer size of each connection; small
	// for many idle connections.
	bufSize int
}

func newDialer(base string) dialer {
	u := strings.TrimSuffix(base, "/")
	return dialer{url: "ws" + strings.TrimPrefix(u, "http") + "/socket.io/?EIO=4&transport=websocket", bufSize: 4096}
}

// dial opens a WebSocket, reads the Engine.IO open packet and connects
// to namespace "/".
func (d dialer) dial(ctx context.Context, local net.IP) (*conn, error) {
	nd := &net.Dialer{Timeout: handshakeTimeout}
	if local != nil {
		nd.LocalAddr = &net.TCPAddr{IP: local}
	}
	wd := websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: handshakeTimeout,
		ReadBufferSize: d.bufSize, WriteBufferSize: d.bufSize}
	ws, _, err := wd.DialContext(ctx, d.url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	c := &conn{ws: ws}
	ws.SetReadDeadline(time.Now().Add(handshakeTimeout))
	if _, m, err := ws.ReadMessage(); err != nil || len(m) == 0 || m[0] != '0' {
		ws.Close()
		return nil, fmt.Errorf("engine.io open: %q %v", m, err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		ws.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	if _, m, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(m), "40") {
		ws.Close()
		return nil, fmt.Errorf("connect: %q %v", m, err)
	}
	ws.SetReadDeadline(time.Time{})
	return c, nil
}

// emit sends event name with args; id >= 0 asks for an ack.
func (c *conn) emit(id int64, name string, args ...json.RawMessage) error {
	frame := socketio.AppendEvent([]byte{'4'}, "/", id, name, args...)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.TextMessage, frame)
}

// close closes the connection once.
func (c *conn) close() {
	if c.closed.CompareAndSwap(false, true) {
		c.ws.Close()
	}
}

// readLoop reads until the connection fails or closes, answers pings and
// hands every Socket.IO packet's text (without the Engine.IO type) to
// onPacket. The slice is reused: onPacket must not keep it.
func (c *conn) readLoop(onPacket func(data []byte)) error {
	buf := make([]byte, 0, 1024)
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			return err
		}
		buf = buf[:0]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err != nil {
				break
			}
		}
		if len(buf) == 0 {
			continue
		}
		switch engineio.PacketType(buf[0] - '0') {
		case engineio.Ping:
			c.wmu.Lock()
			err := c.ws.WriteMessage(websocket.TextMessage, []byte("3"))
			c.wmu.Unlock()
			if err != nil {
				return err
			}
		case engineio.Message:
			onPacket(buf[1:])
		}
	}
}

// The client reads about ten deliveries for each comment it sends and
// shares the machine with the server: decoding them with encoding/json
// took a third of its CPU, which the server then lacked. So it peeks at
// packets instead of decoding them, which the server's fixed framing allows
// (namespace "/", compact JSON, comment fields from comment.Comment).

// decodeAck returns the ack id and data of an ACK packet ("3<id>[...]").
func decodeAck(data []byte) (id int64, payload []byte, ok bool) {
	if len(data) < 3 || data[0] != byte('0'+socketio.PacketAck) {
		return 0, nil, false
	}
	i := 1
	for ; i < len(data) && data[i] >= '0' && data[i] <= '9'; i++ {
		id = id*10 + int64(data[i]-'0')
	}
	if i == 1 || i == len(data) || data[i] != '[' {
		return 0, nil, false
	}
	return id, data[i:], true
}

var (
	addedPrefix  = []byte(`2["comment_added",{`)
	createdAtKey = []byte(`"createdAt":"`)
)

// decodeAdded tells whether data is a comment_added event and returns the
// comment's createdAt (zero if it has none). A quote inside a JSON string
// is escaped, so the key cannot be matched inside the content.
func decodeAdded(data []byte) (createdAt time.Time, ok bool) {
	if !bytes.HasPrefix(data, addedPrefix) {
		return time.Time{}, false
	}
	i := bytes.Index(data, createdAtKey)
	if i < 0 {
		return time.Time{}, true
	}
	rest := data[i+len(createdAtKey):]
	if j := bytes.IndexByte(rest, '"'); j > 0 {
		createdAt, _ = time.Parse(time.RFC3339Nano, string(rest[:j]))
	}
	return createdAt, true
}

// ackOK tells whether an ack to new_comment or join_post reports success.
func ackOK(payload []byte) bool { return strings.Contains(string(payload), `"ok":true`) }

// quoted returns s as a JSON string.
func quoted(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}
