package engineio

import (
	"net"
	"sync"
	"time"
)

// closer is what a writer closes when its queue overflows, a write fails,
// or what CloseAfterFlush queued is written: its session (*Conn), whose
// closeWith takes mu, calls closeLocked and closes the net.Conn.
type closer interface {
	closeWith(reason string)
}

// writer owns a session's outgoing queue: its byte bound (over
// MaxQueueBytes the session is closed as a slow consumer), its writes to
// the WebSocket (on a writer goroutine of the server's, one at a time,
// several frames per writev, within WriteTimeout), the lingering of
// broadcasts (linger.go) and the close once what is queued is written. On
// polling the queue is the waiting GET's to take (polling.go).
//
// Its fields are guarded by mu, the session's mutex (Conn.mu), which also
// guards the session's polling and heartbeat state: a packet is queued,
// and a GET takes it, under one lock. The fields marked "the writer's" are
// used only by the goroutine running loop.
type writer struct {
	mu   *sync.Mutex
	srv  *Server // configuration, linger list and writer goroutines
	conn closer
	ws   net.Conn      // nil until the session is on WebSocket
	wake chan struct{} // on polling: wakes the waiting GET; capacity 1

	queue     []*Prepared
	queued    int // bytes in queue
	spare     []*Prepared
	wbufs     net.Buffers   // the writer's, reused; handed over under mu
	wv        net.Buffers   // what WriteTo consumes; a field, so it does not escape
	wdl       time.Time     // the write deadline set on ws; the writer's
	lastWrite time.Duration // when the last write started, since srv.epoch
	writing   bool          // a writer goroutine runs loop
	urgent    bool          // the queue holds more than broadcasts: write it now
	lingering bool          // in the server's linger list (see enqueue)

	closed     bool   // closeLocked ran: nothing more is queued or written
	closeAfter bool   // close once the queue is written, for afterWhy
	afterWhy   string // the reason of closeAfter
}

// init readies w, a field of its session's, to queue for conn.
func (w *writer) init(mu *sync.Mutex, srv *Server, conn closer) {
	w.mu, w.srv, w.conn = mu, srv, conn
	w.wake = make(chan struct{}, 1)
}

// enqueue queues ms, to be written at once or, if lazy, to linger. It never
// blocks: over MaxQueueBytes it closes the session and returns ErrSlow.
func (w *writer) enqueue(lazy bool, ms ...*Prepared) error {
	w.mu.Lock()
	if w.closed || w.closeAfter {
		w.mu.Unlock()
		return ErrClosed
	}
	n := 0
	for _, m := range ms {
		n += m.Size()
	}
	if w.queued+n > w.srv.cfg.MaxQueueBytes {
		w.mu.Unlock()
		w.conn.closeWith(ReasonSlowConsumer)
		return ErrSlow
	}
	w.queue = append(w.queue, ms...)
	w.queued += n
	switch {
	case !lazy || w.ws == nil || w.srv.cfg.Linger < 0 || w.queued >= w.srv.lingerBytes:
		w.kickLocked()
	case w.writing || w.lingering:
		// A running writer either takes ms along or, if what is left
		// is broadcasts only, puts w in the linger list when it ends;
		// a lingering writer waits for the flush.
	case time.Since(w.srv.epoch)-w.lastWrite > w.srv.cfg.Linger:
		// Nothing written for a linger: a quiet connection gets it at
		// once; a busy one lingers from its next broadcast on.
		w.kickLocked()
	default:
		w.lingerLocked()
	}
	w.mu.Unlock()
	return nil
}

// lingerLocked puts w in the server's linger list, once. w.mu must be held.
func (w *writer) lingerLocked() {
	if !w.lingering {
		w.lingering = true
		w.srv.linger(w)
	}
}

// kickLocked makes sure the queue gets written now: by a writer goroutine
// on WebSocket, by the waiting GET on polling. w.mu must be held.
func (w *writer) kickLocked() {
	if w.ws == nil {
		select {
		case w.wake <- struct{}{}:
		default:
		}
		return
	}
	w.urgent = true
	if !w.writing && len(w.queue) > 0 {
		w.writing = true
		w.srv.startWriter(w)
	}
}

// attachLocked makes nc the transport and writes what is queued. w.mu
// must be held.
func (w *writer) attachLocked(nc net.Conn) {
	w.ws = nc
	w.kickLocked()
}

// closeAfterFlush closes the session for reason once what is queued, and
// last if not nil, is written.
func (w *writer) closeAfterFlush(reason string, last *Prepared) {
	w.mu.Lock()
	if w.closed || w.closeAfter {
		w.mu.Unlock()
		return
	}
	if last != nil {
		w.queue = append(w.queue, last)
		w.queued += last.Size()
	}
	w.closeAfter, w.afterWhy = true, reason
	idle := !w.writing && len(w.queue) == 0 || w.ws == nil && len(w.queue) == 0
	w.kickLocked()
	w.mu.Unlock()
	if idle {
		w.conn.closeWith(reason)
	}
}

// closeLocked marks w closed and drops what is queued; it returns the
// WebSocket to close (nil on polling) and false if w was closed already.
// w.mu must be held.
func (w *writer) closeLocked() (net.Conn, bool) {
	if w.closed {
		return nil, false
	}
	w.closed = true
	w.queue, w.queued = nil, 0
	return w.ws, true
}

// loop writes the queue until it is empty or holds only broadcasts queued
// during the last write (those linger), then returns. Only one runs at a
// time (w.writing); the buffers it reuses are handed over under w.mu.
func (w *writer) loop() {
	w.mu.Lock()
	bufs := w.wbufs
	w.wbufs = nil
	for {
		if w.closed || len(w.queue) == 0 || !w.urgent {
			clear(bufs)
			w.wbufs = bufs[:0]
			w.writing = false
			lingers := !w.closed && len(w.queue) > 0
			if lingers {
				w.lingerLocked()
			}
			closeNow, why := !w.closed && !lingers && w.closeAfter, w.afterWhy
			w.mu.Unlock()
			if closeNow {
				w.conn.closeWith(why)
			}
			return
		}
		batch := w.queue
		w.urgent = false
		w.queue, w.spare = w.spare[:0], nil
		w.queued = 0
		w.mu.Unlock()

		bufs = bufs[:0]
		for _, m := range batch {
			bufs = append(bufs, m.ws)
		}
		// Re-armed only once half spent: every write still has between
		// WriteTimeout/2 and WriteTimeout, and a fan-out does not pay a
		// poller timer update per write (5% of its CPU, measured).
		now := time.Now()
		if w.wdl.Sub(now) < w.srv.cfg.WriteTimeout/2 {
			w.wdl = now.Add(w.srv.cfg.WriteTimeout)
			w.ws.SetWriteDeadline(w.wdl)
		}
		w.wv = bufs
		_, err := w.wv.WriteTo(w.ws)
		w.wv = nil
		clear(batch)
		if err != nil {
			w.conn.closeWith(ReasonTransportErr)
			w.mu.Lock()
			continue // closed: hand the buffers back and return
		}
		w.mu.Lock()
		w.lastWrite = now.Sub(w.srv.epoch)
		if w.spare == nil && cap(batch) <= 1024 {
			w.spare = batch[:0]
		}
	}
}
