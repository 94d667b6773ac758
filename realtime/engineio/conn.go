package engineio

import (
	"errors"
	"net/http"
	"sync"
	"time"
)

// Errors of Send.
var (
	ErrClosed = errors.New("engineio: connection closed")
	ErrSlow   = errors.New("engineio: slow consumer: outgoing queue full")
)

// Close reasons passed to Handler.Closed.
const (
	ReasonClientClose   = "client close"    // the client sent a close packet
	ReasonTransportErr  = "transport error" // read failed or the peer went away
	ReasonPingTimeout   = "ping timeout"    // no pong within PingTimeout
	ReasonSlowConsumer  = "slow consumer"   // outgoing queue over MaxQueueBytes
	ReasonServerClose   = "server close"    // Close was called
	ReasonParseError    = "parse error"     // the client sent a bad packet
	ReasonServerStopped = "server shutting down"
)

// Conn is one Engine.IO session. Its writer (writer.go) owns the outgoing
// queue and the WebSocket writes, its pollState (polling.go) the
// long-polling requests and the upgrade; Conn keeps the rest of the
// session: identity, heartbeat, why it closed, the Handler's calls.
type Conn struct {
	id   string
	srv  *Server
	req  *http.Request
	data any // for the Handler: SetData / Data

	mu        sync.Mutex // guards w, poll and the fields below
	w         writer
	poll      pollState
	reason    string // why it closed
	awaitPong bool
	timer     *time.Timer // next ping, or the pong deadline
	done      chan struct{}

	claimed bool // recorded in the Directory

	hmu   sync.Mutex // serializes Handler calls of polling requests and the end
	ended bool       // Closed was called; guarded by hmu
}

// ID returns the session id (the Engine.IO sid).
func (c *Conn) ID() string { return c.id }

// Request returns the handshake request: headers, remote address, query.
func (c *Conn) Request() *http.Request { return c.req }

// Transport returns "websocket" or "polling".
func (c *Conn) Transport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.w.ws != nil {
		return "websocket"
	}
	return "polling"
}

// SetData attaches a value of the Handler's to the connection.
func (c *Conn) SetData(v any) { c.mu.Lock(); c.data = v; c.mu.Unlock() }

// Data returns what SetData attached.
func (c *Conn) Data() any { c.mu.Lock(); defer c.mu.Unlock(); return c.data }

// isClosed reports whether closeWith ran; lock-free, as the reader asks
// after every frame.
func (c *Conn) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Done is closed when the connection is closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Send queues a text message packet carrying data.
func (c *Conn) Send(data []byte) error { return c.SendPrepared(PrepareMessage(data)) }

// SendPrepared queues m. It never blocks: over MaxQueueBytes it closes the
// connection and returns ErrSlow.
func (c *Conn) SendPrepared(m *Prepared) error { return c.w.enqueue(false, m) }

// SendBroadcast queues m, a broadcast, like SendPrepared, but on WebSocket
// lets it wait up to Config.Linger for the broadcasts after it, so that
// they share one write. Anything sent with SendPrepared or SendMany goes
// out at once and takes what is queued before it along, in order.
func (c *Conn) SendBroadcast(m *Prepared) error { return c.w.enqueue(true, m) }

// SendMany queues several packets at once (one queue lock, one writer wake).
func (c *Conn) SendMany(ms []*Prepared) error { return c.w.enqueue(false, ms...) }

// Close closes the connection at once; what is queued is dropped.
func (c *Conn) Close() { c.closeWith(ReasonServerClose) }

// CloseAfterFlush closes the connection once what is queued is written
// (a refusal, then goodbye).
func (c *Conn) CloseAfterFlush() { c.w.closeAfterFlush(ReasonServerClose, nil) }

// closeWith closes the connection once, for reason. The reader goroutine
// notices, calls Handler.Closed and ends.
func (c *Conn) closeWith(reason string) {
	c.mu.Lock()
	ws, first := c.w.closeLocked()
	if !first {
		c.mu.Unlock()
		return
	}
	c.reason = reason
	if reason == ReasonSlowConsumer {
		c.srv.slow.Add(1)
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	close(c.done)
	if ws != nil {
		ws.Close()
	}
}

// closeReason returns why the connection closed.
func (c *Conn) closeReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason == "" {
		return ReasonTransportErr
	}
	return c.reason
}

// schedulePing arms the timer for the next ping.
func (c *Conn) schedulePing() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.w.closed {
		return
	}
	c.awaitPong = false
	if c.timer == nil {
		c.timer = time.AfterFunc(c.srv.cfg.PingInterval, c.onTimer)
	} else {
		c.timer.Reset(c.srv.cfg.PingInterval)
	}
}

// onTimer sends a ping, or closes the connection if the last one was not
// answered in time.
func (c *Conn) onTimer() {
	c.mu.Lock()
	if c.w.closed {
		c.mu.Unlock()
		return
	}
	if c.awaitPong {
		c.mu.Unlock()
		c.closeWith(ReasonPingTimeout)
		return
	}
	c.awaitPong = true
	c.timer.Reset(c.srv.cfg.PingTimeout)
	c.mu.Unlock()
	c.SendPrepared(pingPrepared)
}

// onPong takes the client's answer to a ping.
func (c *Conn) onPong() {
	c.mu.Lock()
	waiting := c.awaitPong
	c.mu.Unlock()
	if waiting {
		c.schedulePing()
	}
}
