package engineio

import (
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"time"
	"unicode/utf8"
)

// serveWebSocket runs a session that starts on WebSocket.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	nc, err := s.upgrade(w, r)
	if err != nil {
		return // the upgrader answered
	}
	c := s.newConn(r)
	if !s.register(c) {
		nc.Close()
		return
	}
	s.attachWS(c, nc)
	c.schedulePing()
	c.SendPrepared(s.openPacket(c.id, []string{}))
	s.h.Open(c)
	go s.readWS(c, s.newReader(c, nc))
}

// upgrade answers the WebSocket handshake and returns the hijacked
// connection. gorilla/websocket does the handshake only: the frames are
// read by wsReader and written by the writers, so its Conn and buffers are
// dropped at once.
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request) (net.Conn, error) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return nil, err
	}
	return ws.NetConn(), nil
}

// newReader returns the frame reader of a session's WebSocket. Pings are
// answered through the queue once the session is on nc; before, during an
// upgrade probe, nothing else writes to nc and the pong goes out at once.
func (s *Server) newReader(c *Conn, nc net.Conn) *wsReader {
	return newWSReader(nc, s.cfg.MaxPayload+1, func(p []byte) { // +1: the packet type byte
		pong := controlFrame(opPong, p)
		c.mu.Lock()
		attached := c.w.ws == nc
		c.mu.Unlock()
		if attached {
			c.SendPrepared(pong)
			return
		}
		nc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		nc.Write(pong.ws)
	})
}

// attachWS makes nc the session's transport.
func (s *Server) attachWS(c *Conn, nc net.Conn) {
	c.mu.Lock()
	c.w.attachLocked(nc)
	c.mu.Unlock()
}

// readWS reads the session's frames until the connection ends, then
// finishes the session. It runs on a goroutine of its own, so that the
// HTTP handler returns: net/http then drops its connection state (4 KiB
// read and write buffers, the request) and the reader's stack stays
// shallow. Measured with 5,000 idle sessions: 26 KB of RSS each when the
// handler's goroutine read, 12.8 KB since.
func (s *Server) readWS(c *Conn, rd *wsReader) {
	defer s.finish(c)
	deadline := s.cfg.PingInterval + s.cfg.PingTimeout + 5*time.Second
	for {
		c.w.ws.SetReadDeadline(time.Now().Add(deadline))
		op, data, err := rd.next()
		if err != nil {
			rd.drop()
			s.readFailed(c, err)
			return
		}
		// hmu: a POST of the polling phase may still be in its Handler call.
		c.hmu.Lock()
		ok := s.handleFrame(c, op == opBinary, data)
		c.hmu.Unlock()
		// A handler may have closed the connection (a protocol violation):
		// frames already buffered behind it are not handled.
		if !ok || c.isClosed() {
			rd.drop()
			return
		}
	}
}

// readFailed ends a session whose read failed. A client that broke the
// protocol gets a close frame with its code first (RFC 6455 section 7.1.7),
// as gorilla/websocket sent.
func (s *Server) readFailed(c *Conn, err error) {
	var fe *frameError
	switch {
	case errors.As(err, &fe):
		code := binary.BigEndian.AppendUint16(nil, uint16(fe.code))
		c.w.closeAfterFlush(ReasonParseError, controlFrame(opClose, code))
		<-c.done // the writer closes it, within WriteTimeout
	case errors.Is(err, errCloseFrame):
		c.mu.Lock()
		if c.reason == "" {
			c.reason = ReasonClientClose
		}
		c.mu.Unlock()
	}
}

// handleFrame handles one frame; false ends the session.
func (s *Server) handleFrame(c *Conn, binary bool, data []byte) bool {
	if binary {
		s.h.Message(c, data, true)
		return true
	}
	// RFC 6455 requires text frames to be UTF-8.
	if !utf8.Valid(data) {
		c.closeWith(ReasonParseError)
		return false
	}
	p, err := DecodeText(data)
	if err != nil {
		c.closeWith(ReasonParseError)
		return false
	}
	switch p.Type {
	case Message:
		s.h.Message(c, p.Data, false)
	case Pong:
		c.onPong()
	case Ping:
		// A client ping (the upgrade probe is handled elsewhere) is answered.
		c.SendPrepared(Prepare(Packet{Type: Pong, Data: p.Data}))
	case Close:
		c.closeWith(ReasonClientClose)
		return false
	case Noop, Upgrade:
	default:
		c.closeWith(ReasonParseError)
		return false
	}
	return true
}
