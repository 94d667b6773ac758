package engineio

import (
	"errors"
	"net"
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

// Conn is one Engine.IO session.
type Conn struct {
	id   string
	srv  *Server
	req  *http.Request
	data any // for the Handler: SetData / Data

	ws net.Conn // the hijacked connection; nil until the session is on WebSocket

	mu         sync.Mutex
	queue      []*Prepared
	queued     int // bytes in queue
	spare      []*Prepared
	wbufs      net.Buffers   // the writer's, reused
	wv         net.Buffers   // what WriteTo consumes; a field, so it does not escape
	wdl        time.Time     // the write deadline set on ws; the writer's
	lastWrite  time.Duration // when the last write started, since srv.epoch
	writing    bool          // a writer goroutine runs (WebSocket)
	urgent     bool          // the queue holds more than broadcasts: write it now
	lingering  bool          // in the server's linger list (see SendBroadcast)
	closed     bool
	closeAfter bool   // close once the queue is written, for afterWhy
	afterWhy   string // the reason of closeAfter
	reason     string // why it closed
	awaitPong  bool
	timer      *time.Timer // next ping, or the pong deadline
	done       chan struct{}

	// Long-polling state, guarded by mu.
	polling   bool          // a GET is waiting for packets
	posting   bool          // a POST is being handled
	pollNoop  bool          // answer the waiting GET with a noop (upgrade)
	pollWake  chan struct{} // wakes the waiting GET; capacity 1
	upgrading bool
	noopSent  bool          // the final noop after a client close went out
	noopDone  chan struct{} // closed with noopSent
	probed    bool          // "3probe" sent: polling is paused
	upgraded  chan struct{} // closed when the session moved to WebSocket

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
	if c.ws != nil {
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
func (c *Conn) SendPrepared(m *Prepared) error { return c.enqueue(false, m) }

// SendBroadcast queues m, a broadcast, like SendPrepared, but on WebSocket
// lets it wait up to Config.Linger for the broadcasts after it, so that
// they share one write. Anything sent with SendPrepared or SendMany goes
// out at once and takes what is queued before it along, in order.
func (c *Conn) SendBroadcast(m *Prepared) error { return c.enqueue(true, m) }

// SendMany queues several packets at once (one queue lock, one writer wake).
func (c *Conn) SendMany(ms []*Prepared) error { return c.enqueue(false, ms...) }

// enqueue queues ms, to be written at once or, if lazy, to linger.
func (c *Conn) enqueue(lazy bool, ms ...*Prepared) error {
	c.mu.Lock()
	if c.closed || c.closeAfter {
		c.mu.Unlock()
		return ErrClosed
	}
	n := 0
	for _, m := range ms {
		n += m.Size()
	}
	if c.queued+n > c.srv.cfg.MaxQueueBytes {
		c.mu.Unlock()
		c.closeWith(ReasonSlowConsumer)
		return ErrSlow
	}
	c.queue = append(c.queue, ms...)
	c.queued += n
	switch {
	case !lazy || c.ws == nil || c.srv.cfg.Linger < 0 || c.queued >= c.srv.lingerBytes:
		c.kickLocked()
	case c.writing || c.lingering:
		// A running writer either takes ms along or, if what is left
		// is broadcasts only, puts c in the linger list when it ends;
		// a lingering connection waits for the flush.
	case time.Since(c.srv.epoch)-c.lastWrite > c.srv.cfg.Linger:
		// Nothing written for a linger: a quiet connection gets it at
		// once; a busy one lingers from its next broadcast on.
		c.kickLocked()
	default:
		c.lingerLocked()
	}
	c.mu.Unlock()
	return nil
}

// lingerLocked puts c in the server's linger list, once. c.mu must be held.
func (c *Conn) lingerLocked() {
	if !c.lingering {
		c.lingering = true
		c.srv.linger(c)
	}
}

// kickLocked makes sure the queue gets written now: by a writer goroutine
// on WebSocket, by the waiting GET on polling. c.mu must be held.
func (c *Conn) kickLocked() {
	if c.ws == nil {
		select {
		case c.pollWake <- struct{}{}:
		default:
		}
		return
	}
	c.urgent = true
	if !c.writing && len(c.queue) > 0 {
		c.writing = true
		c.srv.startWriter(c)
	}
}

// Close closes the connection at once; what is queued is dropped.
func (c *Conn) Close() { c.closeWith(ReasonServerClose) }

// CloseAfterFlush closes the connection once what is queued is written
// (a refusal, then goodbye).
func (c *Conn) CloseAfterFlush() { c.closeAfterFlush(ReasonServerClose, nil) }

// closeAfterFlush closes the connection for reason once what is queued,
// and last if not nil, is written.
func (c *Conn) closeAfterFlush(reason string, last *Prepared) {
	c.mu.Lock()
	if c.closed || c.closeAfter {
		c.mu.Unlock()
		return
	}
	if last != nil {
		c.queue = append(c.queue, last)
		c.queued += last.Size()
	}
	c.closeAfter, c.afterWhy = true, reason
	idle := !c.writing && len(c.queue) == 0 || c.ws == nil && len(c.queue) == 0
	c.kickLocked()
	c.mu.Unlock()
	if idle {
		c.closeWith(reason)
	}
}

// closeWith closes the connection once, for reason. The reader goroutine
// notices, calls Handler.Closed and ends.
func (c *Conn) closeWith(reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.reason = reason
	if reason == ReasonSlowConsumer {
		c.srv.slow.Add(1)
	}
	c.queue, c.queued = nil, 0
	if c.timer != nil {
		c.timer.Stop()
	}
	ws := c.ws
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

// writeLoop writes the queue until it is empty or holds only broadcasts
// queued during the last write (those linger), then exits. Only one runs
// at a time (c.writing); the buffers it reuses are handed over under c.mu.
func (c *Conn) writeLoop() {
	c.mu.Lock()
	bufs := c.wbufs
	c.wbufs = nil
	for {
		if c.closed || len(c.queue) == 0 || !c.urgent {
			clear(bufs)
			c.wbufs = bufs[:0]
			c.writing = false
			lingers := !c.closed && len(c.queue) > 0
			if lingers {
				c.lingerLocked()
			}
			closeNow, why := !c.closed && !lingers && c.closeAfter, c.afterWhy
			c.mu.Unlock()
			if closeNow {
				c.closeWith(why)
			}
			return
		}
		batch := c.queue
		c.urgent = false
		c.queue, c.spare = c.spare[:0], nil
		c.queued = 0
		c.mu.Unlock()

		bufs = bufs[:0]
		for _, m := range batch {
			bufs = append(bufs, m.ws)
		}
		// Re-armed only once half spent: every write still has between
		// WriteTimeout/2 and WriteTimeout, and a fan-out does not pay a
		// poller timer update per write (5% of its CPU, measured).
		now := time.Now()
		if c.wdl.Sub(now) < c.srv.cfg.WriteTimeout/2 {
			c.wdl = now.Add(c.srv.cfg.WriteTimeout)
			c.ws.SetWriteDeadline(c.wdl)
		}
		c.wv = bufs
		_, err := c.wv.WriteTo(c.ws)
		c.wv = nil
		clear(batch)
		if err != nil {
			c.closeWith(ReasonTransportErr)
			c.mu.Lock()
			continue // closed: hand the buffers back and exit
		}
		c.mu.Lock()
		c.lastWrite = now.Sub(c.srv.epoch)
		if c.spare == nil && cap(batch) <= 1024 {
			c.spare = batch[:0]
		}
	}
}

// schedulePing arms the timer for the next ping.
func (c *Conn) schedulePing() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
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
	if c.closed {
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
