// Package sioclient is the lean Socket.IO client of the project's tools
// (commentbench, commentchaos): WebSocket only, namespace "/", on the
// project's codecs. It answers pings and hands every Socket.IO packet to
// the caller, who decodes what it needs.
package sioclient

import (
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

// Options configure Dial. Zero fields take the defaults noted.
type Options struct {
	LocalAddr    net.IP        // source address; nil for any
	BufSize      int           // WebSocket read and write buffers; 4096
	Timeout      time.Duration // the WebSocket, Engine.IO and Socket.IO handshakes; 20s
	WriteTimeout time.Duration // one write; 0 for none
	// Auth is the CONNECT packet's auth payload (a JSON object, such as
	// {"token":"..."}); nil sends none.
	Auth json.RawMessage
}

// Conn is one Socket.IO connection. Writes are safe from any goroutine;
// one goroutine runs ReadLoop.
type Conn struct {
	ws           *websocket.Conn
	wmu          sync.Mutex
	writeTimeout time.Duration
	closed       atomic.Bool
}

// URL is the Socket.IO WebSocket endpoint of a server's base URL
// (http://host:port).
func URL(base string) string {
	u := strings.TrimSuffix(base, "/")
	return "ws" + strings.TrimPrefix(u, "http") + "/socket.io/?EIO=4&transport=websocket"
}

// Dial opens a WebSocket to the server at base, reads the Engine.IO open
// packet and connects to namespace "/".
func Dial(ctx context.Context, base string, o Options) (*Conn, error) {
	if o.BufSize <= 0 {
		o.BufSize = 4096
	}
	if o.Timeout <= 0 {
		o.Timeout = 20 * time.Second
	}
	nd := &net.Dialer{Timeout: o.Timeout}
	if o.LocalAddr != nil {
		nd.LocalAddr = &net.TCPAddr{IP: o.LocalAddr}
	}
	wd := websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: o.Timeout,
		ReadBufferSize: o.BufSize, WriteBufferSize: o.BufSize}
	ws, _, err := wd.DialContext(ctx, URL(base), nil)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	ws.SetReadDeadline(time.Now().Add(o.Timeout))
	if _, m, err := ws.ReadMessage(); err != nil || len(m) == 0 || m[0] != '0' {
		ws.Close()
		return nil, fmt.Errorf("engine.io open: %q %v", m, err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, append([]byte("40"), o.Auth...)); err != nil {
		ws.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	if _, m, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(m), "40") {
		ws.Close()
		return nil, fmt.Errorf("connect: %q %v", m, err)
	}
	ws.SetReadDeadline(time.Time{})
	return &Conn{ws: ws, writeTimeout: o.WriteTimeout}, nil
}

// Write sends one Engine.IO text frame.
func (c *Conn) Write(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.writeTimeout > 0 {
		c.ws.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	}
	return c.ws.WriteMessage(websocket.TextMessage, frame)
}

// Emit sends event name with args; id >= 0 asks for an ack.
func (c *Conn) Emit(id int64, name string, args ...json.RawMessage) error {
	return c.Write(socketio.AppendEvent([]byte{'4'}, "/", id, name, args...))
}

// Close closes the connection once.
func (c *Conn) Close() {
	if c.closed.CompareAndSwap(false, true) {
		c.ws.Close()
	}
}

// Closed tells whether Close was called.
func (c *Conn) Closed() bool { return c.closed.Load() }

// ReadLoop reads until the connection fails or the server closes the
// session, answers pings, and hands every Socket.IO packet's text (without
// the Engine.IO type) to onPacket. The slice is reused: onPacket must not
// keep it. It returns nil after an Engine.IO close packet.
func (c *Conn) ReadLoop(onPacket func(data []byte)) error {
	buf := make([]byte, 0, 1024)
	for {
		var err error
		if buf, err = ReadFrame(c.ws, buf[:0]); err != nil {
			return err
		}
		if len(buf) == 0 {
			continue
		}
		switch engineio.PacketType(buf[0] - '0') {
		case engineio.Ping:
			if err := c.Write([]byte("3")); err != nil {
				return err
			}
		case engineio.Close:
			return nil
		case engineio.Message:
			onPacket(buf[1:])
		}
	}
}

// ReadFrame reads the next WebSocket message of ws, appended to buf (grown
// as needed), so that a read loop reuses one buffer.
func ReadFrame(ws *websocket.Conn, buf []byte) ([]byte, error) {
	_, r, err := ws.NextReader()
	if err != nil {
		return buf, err
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			return buf, nil
		}
	}
}
