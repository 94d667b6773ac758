package engineio

import (
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// upgradeTimeout bounds the WebSocket upgrade of a polling session, from
// the upgrade request to the client's upgrade packet.
const upgradeTimeout = 10 * time.Second

// noopDelay is how long after the probe a waiting GET is ended with a noop
// (the reference server checks every 100ms).
const noopDelay = 100 * time.Millisecond

// closeGrace is how long a session closed by the client waits for the GET
// that gets its final noop.
const closeGrace = time.Second

// maxPostPackets bounds the packets of one POST body.
const maxPostPackets = 1000

// pollState is a session's long-polling and upgrade state, guarded by
// Conn.mu. The packets a GET answers with are the writer's queue.
type pollState struct {
	waiting   bool          // a GET is waiting for packets
	posting   bool          // a POST is being handled
	noop      bool          // answer the waiting GET with a noop (upgrade)
	upgrading bool          // an upgrade request is being handled
	noopSent  bool          // the final noop after a client close went out
	noopDone  chan struct{} // closed with noopSent
	upgraded  chan struct{} // closed when the session moved to WebSocket
}

// servePolling serves the long-polling transport: a GET without sid opens a
// session, a GET with one waits for packets, a POST brings the client's.
func (s *Server) servePolling(w http.ResponseWriter, r *http.Request, sid string) {
	s.corsHeaders(w, r)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if sid == "" {
		if r.Method != http.MethodGet {
			writeError(w, http.StatusBadRequest, codeBadHandshake, "")
			return
		}
		s.openPolling(w, r)
		return
	}
	c := s.session(sid)
	if c == nil {
		writeError(w, http.StatusBadRequest, codeUnknownSID, "")
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.poll(w, r, c)
	case http.MethodPost:
		s.post(w, r, c)
	default:
		writeError(w, http.StatusBadRequest, codeBadRequest, "method not allowed")
	}
}

// corsHeaders lets allowed cross-origin pages use polling with credentials.
func (s *Server) corsHeaders(w http.ResponseWriter, r *http.Request) {
	o := r.Header.Get("Origin")
	if o == "" {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", o)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Add("Vary", "Origin")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
			h.Set("Access-Control-Allow-Headers", rh)
		}
		h.Set("Access-Control-Max-Age", "86400")
	}
}

// openPolling opens a session on polling; the open packet is the body.
func (s *Server) openPolling(w http.ResponseWriter, r *http.Request) {
	c := s.newConn(r)
	if d := s.cfg.Directory; d != nil {
		if err := d.Claim(c.id); err != nil {
			s.cfg.Logger.Warn("engineio: session directory", "err", err)
			writeError(w, http.StatusServiceUnavailable, codeBadRequest, "session directory unavailable")
			return
		}
		c.claimed = true
	}
	if !s.register(c) {
		if c.claimed {
			s.cfg.Directory.Release(c.id)
		}
		writeError(w, http.StatusServiceUnavailable, codeBadRequest, "server shutting down")
		return
	}
	go s.watchPolling(c)
	c.schedulePing() // from now, as the client counts from the open packet
	c.hmu.Lock()
	s.h.Open(c)
	c.hmu.Unlock()
	writePayload(w, []Packet{s.openPacket(c.id, []string{"websocket"}).pkt})
}

// watchPolling owns a polling session until it ends or moves to WebSocket
// (whose reader then owns it).
func (s *Server) watchPolling(c *Conn) {
	select {
	case <-c.done:
		// A client that closed by POST while no GET was waiting gets a
		// noop on its next GET, as from the reference server, so the
		// session stays registered a while; the Handler hears of the close
		// at once (a reconnecting client's recovery state must be saved).
		c.mu.Lock()
		wait := c.reason == ReasonClientClose && !c.poll.noopSent
		c.mu.Unlock()
		if !wait {
			s.finish(c)
			return
		}
		s.end(c)
		t := time.NewTimer(closeGrace)
		select {
		case <-c.poll.noopDone:
		case <-t.C:
		}
		t.Stop()
		s.unregister(c)
		s.wg.Done()
	case <-c.poll.upgraded:
	}
}

func writePayload(w http.ResponseWriter, ps []Packet) {
	body := AppendPayload(nil, ps)
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.Write(body)
}

// poll answers a GET with what is queued, waiting for it if need be.
func (s *Server) poll(w http.ResponseWriter, r *http.Request, c *Conn) {
	c.mu.Lock()
	if c.w.ws != nil || c.upgradedLocked() {
		c.mu.Unlock()
		writeError(w, http.StatusBadRequest, codeBadRequest, "session moved to WebSocket")
		return
	}
	if c.w.closed {
		last := c.reason == ReasonClientClose && !c.poll.noopSent
		if last {
			c.poll.noopSent = true
			close(c.poll.noopDone)
		}
		c.mu.Unlock()
		if last {
			writePayload(w, []Packet{{Type: Noop}})
			return
		}
		writeError(w, http.StatusBadRequest, codeUnknownSID, "")
		return
	}
	if c.poll.waiting {
		c.mu.Unlock()
		c.closeWith(ReasonTransportErr)
		writeError(w, http.StatusBadRequest, codeBadRequest, "overlapping polling requests")
		return
	}
	c.poll.waiting = true
	for len(c.w.queue) == 0 && !c.w.closed && !c.poll.noop {
		c.mu.Unlock()
		select {
		case <-c.w.wake:
		case <-c.done:
		case <-c.poll.upgraded:
		case <-r.Context().Done():
		}
		c.mu.Lock()
		if r.Context().Err() != nil || c.w.ws != nil {
			c.poll.waiting = false
			c.mu.Unlock()
			if c.w.ws != nil {
				writeError(w, http.StatusBadRequest, codeBadRequest, "session moved to WebSocket")
			}
			return
		}
	}
	var ps []Packet
	switch {
	case c.w.closed && c.reason == ReasonClientClose:
		ps = []Packet{{Type: Noop}}
		if !c.poll.noopSent {
			c.poll.noopSent = true
			close(c.poll.noopDone)
		}
	case c.poll.noop && len(c.w.queue) == 0:
		ps = []Packet{{Type: Noop}}
	case c.w.closed:
		ps = []Packet{{Type: Close}}
	default:
		ps = c.w.takePollLocked(s.cfg.MaxPollPackets)
	}
	c.poll.noop = false
	c.poll.waiting = false
	closeAfter, why := c.w.closeAfter && !c.w.closed && len(c.w.queue) == 0, c.w.afterWhy
	c.mu.Unlock()
	writePayload(w, ps)
	if closeAfter {
		c.closeWith(why)
	}
}

// takePollLocked takes up to limit packets from the head of the queue for a
// GET response; the rest stay queued, in order, for the next GET (which
// then answers at once). w.mu must be held.
func (w *writer) takePollLocked(limit int) []Packet {
	n := min(len(w.queue), limit)
	ps := make([]Packet, n)
	for i, m := range w.queue[:n] {
		ps[i] = m.pkt
		w.queued -= m.Size()
	}
	rest := copy(w.queue, w.queue[n:])
	clear(w.queue[rest:])
	w.queue = w.queue[:rest]
	return ps
}

func (c *Conn) upgradedLocked() bool {
	select {
	case <-c.poll.upgraded:
		return true
	default:
		return false
	}
}

// post takes the client's packets.
func (s *Server) post(w http.ResponseWriter, r *http.Request, c *Conn) {
	c.mu.Lock()
	if c.w.closed || c.upgradedLocked() {
		c.mu.Unlock()
		writeError(w, http.StatusBadRequest, codeUnknownSID, "")
		return
	}
	if c.poll.posting {
		c.mu.Unlock()
		c.closeWith(ReasonTransportErr)
		writeError(w, http.StatusBadRequest, codeBadRequest, "overlapping POST requests")
		return
	}
	c.poll.posting = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.poll.posting = false
		c.mu.Unlock()
	}()

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxPollBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, codeBadRequest, "body over the polling limit")
			return
		}
		writeError(w, http.StatusBadRequest, codeBadRequest, "")
		return
	}
	ps, err := DecodePayload(body, maxPostPackets)
	if err != nil {
		c.closeWith(ReasonParseError)
		writeError(w, http.StatusBadRequest, codeBadRequest, "invalid payload")
		return
	}
	// Each packet obeys MaxPayload, as on WebSocket; the body is refused
	// whole, before any of it is handled.
	for _, p := range ps {
		if int64(len(p.Data)) > s.cfg.MaxPayload {
			writeError(w, http.StatusRequestEntityTooLarge, codeBadRequest, "packet over maxPayload")
			return
		}
	}
	c.hmu.Lock()
	for _, p := range ps {
		if c.ended || c.isClosed() || !s.handlePolled(c, p) {
			break
		}
	}
	c.hmu.Unlock()
	w.Header().Set("Content-Type", "text/html")
	w.Write([]byte("ok"))
}

// handlePolled handles one packet of a POST; false ends the session.
// c.hmu must be held.
func (s *Server) handlePolled(c *Conn, p Packet) bool {
	switch p.Type {
	case Message:
		s.h.Message(c, p.Data, p.Binary)
	case Pong:
		c.onPong()
	case Close:
		c.closeWith(ReasonClientClose)
		return false
	case Noop, Upgrade, Ping:
	default:
		c.closeWith(ReasonParseError)
		return false
	}
	return true
}

// upgradeSession moves a polling session to WebSocket: the client probes
// with "2probe", the server answers "3probe" and ends the waiting GET with
// a noop, the client sends "5", and from then on the WebSocket carries the
// session. Packets queued meanwhile wait in the queue, so none is lost or
// reordered.
func (s *Server) upgradeSession(w http.ResponseWriter, r *http.Request, sid string) {
	c := s.session(sid)
	if c == nil {
		writeError(w, http.StatusBadRequest, codeUnknownSID, "")
		return
	}
	c.mu.Lock()
	busy := c.w.ws != nil || c.poll.upgrading || c.w.closed
	if !busy {
		c.poll.upgrading = true
	}
	c.mu.Unlock()
	if busy {
		// As the reference server does: accept the WebSocket, then close it.
		if nc, err := s.upgrade(w, r); err == nil {
			nc.Close()
		}
		return
	}
	nc, err := s.upgrade(w, r)
	if err != nil {
		c.mu.Lock()
		c.poll.upgrading = false
		c.mu.Unlock()
		return
	}
	rd := s.newReader(c, nc)
	if !s.probe(c, nc, rd) {
		nc.Close()
		c.mu.Lock()
		c.poll.upgrading = false
		c.mu.Unlock()
		return
	}
	s.attachWS(c, nc)
	close(c.poll.upgraded)
	go s.readWS(c, rd)
}

// probe runs the upgrade handshake on nc; true when the client sent "5".
// Nothing else writes to nc yet: the session is still on polling.
func (s *Server) probe(c *Conn, nc net.Conn, rd *wsReader) bool {
	nc.SetReadDeadline(time.Now().Add(upgradeTimeout))
	for {
		op, data, err := rd.next()
		if err != nil || op != opText {
			return false
		}
		p, err := DecodeText(data)
		if err != nil {
			return false
		}
		switch {
		case p.Type == Ping && string(p.Data) == "probe":
			nc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
			if _, err := nc.Write(probeReply.ws); err != nil {
				return false
			}
			// As the reference server: a GET still waiting gets a noop
			// (within noopDelay), so the client can pause polling; one
			// that is waiting when the upgrade completes gets 400.
			noop := time.AfterFunc(noopDelay, func() {
				c.mu.Lock()
				if c.w.ws == nil {
					c.poll.noop = true
					c.w.kickLocked()
				}
				c.mu.Unlock()
			})
			defer noop.Stop()
		case p.Type == Upgrade:
			return true
		default:
			return false
		}
	}
}
