package socketio

import (
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/commentd/commentd/realtime/engineio"
)

// client is one Engine.IO connection and the sockets it opened, one per
// namespace.
type client struct {
	srv  *Server
	conn *engineio.Conn

	mu      sync.Mutex
	sockets map[string]*Socket // by namespace
	timer   *time.Timer        // connect timeout

	// A binary packet waiting for its attachments. Only the reader
	// goroutine touches these.
	partial     *Packet
	attachments [][]byte
}

func newClient(s *Server, c *engineio.Conn) *client {
	cl := &client{srv: s, conn: c, sockets: make(map[string]*Socket)}
	cl.timer = time.AfterFunc(s.cfg.ConnectTimeout, func() {
		cl.mu.Lock()
		none := len(cl.sockets) == 0
		cl.mu.Unlock()
		if none {
			c.Close()
		}
	})
	return cl
}

// send queues one encoded Socket.IO packet.
func (cl *client) send(b []byte) error {
	return cl.conn.Send(b)
}

// sendPacket encodes and queues p, and its attachments as binary frames.
func (cl *client) sendPacket(p *Packet, attachments [][]byte) error {
	m := engineio.PrepareBuffer(AppendEncode(engineio.MessageBuffer(len(p.Namespace)+len(p.Data)+24), p))
	if len(attachments) == 0 {
		return cl.conn.SendPrepared(m)
	}
	ms := make([]*engineio.Prepared, 0, 1+len(attachments))
	ms = append(ms, m)
	for _, a := range attachments {
		ms = append(ms, engineio.Prepare(engineio.Packet{Type: engineio.Message, Data: a, Binary: true}))
	}
	return cl.conn.SendMany(ms)
}

// onMessage handles one Engine.IO message: a Socket.IO packet, or an
// attachment of the binary packet before it.
func (cl *client) onMessage(data []byte, binary bool) {
	if binary {
		if cl.partial == nil {
			cl.protocolError("unexpected binary attachment")
			return
		}
		cl.attachments = append(cl.attachments, data)
		if len(cl.attachments) == cl.partial.Attachments {
			p, atts := cl.partial, cl.attachments
			cl.partial, cl.attachments = nil, nil
			if err := checkPlaceholders(p.Data, len(atts)); err != nil {
				cl.protocolError(err.Error())
				return
			}
			cl.dispatch(p, atts)
		}
		return
	}
	if cl.partial != nil {
		cl.protocolError("text packet while waiting for binary attachments")
		return
	}
	p, err := Decode(data, cl.srv.cfg.Limits)
	if err != nil {
		cl.protocolError(err.Error())
		return
	}
	if (p.Type == PacketBinaryEvent || p.Type == PacketBinaryAck) && p.Attachments > 0 {
		cl.partial = &p
		return
	}
	cl.dispatch(&p, nil)
}

func (cl *client) protocolError(msg string) {
	cl.srv.log.Debug("socketio: protocol error, closing", "sid", cl.conn.ID(), "err", msg)
	cl.conn.Close()
}

func (cl *client) dispatch(p *Packet, atts [][]byte) {
	if p.Type == PacketConnect {
		cl.connect(p)
		return
	}
	cl.mu.Lock()
	s := cl.sockets[p.Namespace]
	cl.mu.Unlock()
	if s == nil {
		// Packets for a namespace not joined (or just left) are ignored,
		// as the reference server does.
		return
	}
	switch p.Type {
	case PacketDisconnect:
		s.close(ReasonClientNamespaceDisconnect, false)
	case PacketEvent, PacketBinaryEvent:
		s.onEvent(p, atts)
	case PacketAck, PacketBinaryAck:
		s.onAck(p, atts)
	default:
		cl.protocolError("unexpected packet type")
	}
}

// connect opens a socket on the namespace the CONNECT packet names.
func (cl *client) connect(p *Packet) {
	nsp := cl.srv.namespace(p.Namespace)
	if nsp == nil {
		cl.sendPacket(&Packet{Type: PacketConnectError, Namespace: p.Namespace, ID: -1,
			Data: json.RawMessage(`{"message":"Invalid namespace"}`)}, nil)
		return
	}
	cl.mu.Lock()
	prev, dup := cl.sockets[p.Namespace]
	cl.mu.Unlock()
	if dup {
		// A client may send its CONNECT twice back to back (the Go client
		// zishang520/socket.io v3.0.6 does, now and then, and waits for an
		// answer to the second); the reference server answers each of
		// CONNECTs decoded together. Before the socket was used, the
		// repeat gets the same answer again. After, it is a protocol
		// violation.
		if !prev.used.Load() {
			cl.srv.cfg.Logger.Debug("socketio: repeated CONNECT answered again", "nsp", p.Namespace)
			cl.sendPacket(&Packet{Type: PacketConnect, Namespace: p.Namespace, ID: -1, Data: connectData(prev)}, nil)
			return
		}
		cl.protocolError("second CONNECT to " + p.Namespace)
		return
	}
	auth := p.Data
	if len(auth) == 0 {
		auth = json.RawMessage("{}")
	}
	s := newSocket(nsp, cl, auth)
	if nsp.onConnect != nil {
		if err := nsp.onConnect(s, auth); err != nil {
			data := connectErrorData(err)
			cl.sendPacket(&Packet{Type: PacketConnectError, Namespace: p.Namespace, ID: -1, Data: data}, nil)
			return
		}
	}
	// Only an accepted CONNECT may take a recovery state: a refused one
	// must not spend its owner's.
	var restored SessionState
	var offset string
	if nsp.recovery != nil {
		var pid string
		pid, offset = recoveryFields(auth)
		if pid != "" {
			st, ok, err := nsp.recovery.Take(pid)
			if err != nil {
				cl.srv.log.Warn("socketio: recovery store", "err", err)
			}
			if ok && nsp.Socket(st.SID) == nil {
				s.id, s.pid, s.recovered, restored = st.SID, pid, true, st
			}
		}
		if s.pid == "" {
			s.pid = newID()
		}
	}
	cl.mu.Lock()
	cl.sockets[p.Namespace] = s
	cl.mu.Unlock()
	cl.timer.Stop()
	replay := s.recovered && nsp.onRecover != nil
	if replay {
		s.replaying = true // broadcasts wait for the replay
		s.sifting.Store(true)
	}
	nsp.add(s)
	if s.recovered {
		for _, room := range restored.Rooms {
			s.Join(room)
		}
	}
	cl.sendPacket(&Packet{Type: PacketConnect, Namespace: p.Namespace, ID: -1, Data: connectData(s)}, nil)
	if replay {
		s.release(nsp.onRecover(s, offset, restored.DisconnectedAt))
	}
	if nsp.onConnection != nil {
		nsp.onConnection(s)
	}
}

// connectData is the CONNECT answer of s: its id, and its private id for
// recovery.
func connectData(s *Socket) json.RawMessage {
	b, _ := json.Marshal(struct {
		SID string `json:"sid"`
		PID string `json:"pid,omitempty"`
	}{s.id, s.pid})
	return b
}

// ConnectError refuses a connection with a message and optional data; an
// OnConnect hook returns it. Other errors refuse with their Error().
type ConnectError struct {
	Message string
	Data    any
}

func (e *ConnectError) Error() string { return e.Message }

func connectErrorData(err error) json.RawMessage {
	ce, ok := err.(*ConnectError)
	if !ok {
		ce = &ConnectError{Message: err.Error()}
	}
	b, jerr := json.Marshal(struct {
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{ce.Message, ce.Data})
	if jerr != nil {
		return json.RawMessage(`{"message":"connection refused"}`)
	}
	return b
}

// remove forgets the socket of a namespace.
func (cl *client) remove(s *Socket) {
	cl.mu.Lock()
	if cl.sockets[s.nsp.name] == s {
		delete(cl.sockets, s.nsp.name)
	}
	cl.mu.Unlock()
}

// onClose closes every socket of the connection.
func (cl *client) onClose(reason string) {
	cl.timer.Stop()
	cl.mu.Lock()
	socks := make([]*Socket, 0, len(cl.sockets))
	for _, s := range cl.sockets {
		socks = append(socks, s)
	}
	cl.mu.Unlock()
	r := disconnectReason(reason)
	for _, s := range socks {
		s.close(r, false)
	}
}

// Disconnect reasons, as socket.io names them.
const (
	ReasonTransportClose            = "transport close"
	ReasonTransportError            = "transport error"
	ReasonPingTimeout               = "ping timeout"
	ReasonParseError                = "parse error"
	ReasonServerShuttingDown        = "server shutting down"
	ReasonServerNamespaceDisconnect = "server namespace disconnect"
	ReasonClientNamespaceDisconnect = "client namespace disconnect"
	ReasonForcedClose               = "forced close"
	ReasonSlowConsumer              = "slow consumer"
)

func disconnectReason(eio string) string {
	switch eio {
	case engineio.ReasonClientClose:
		return ReasonTransportClose
	case engineio.ReasonPingTimeout:
		return ReasonPingTimeout
	case engineio.ReasonParseError:
		return ReasonParseError
	case engineio.ReasonServerStopped:
		return ReasonServerShuttingDown
	case engineio.ReasonSlowConsumer:
		return ReasonSlowConsumer
	case engineio.ReasonServerClose:
		return ReasonForcedClose
	default:
		return ReasonTransportError
	}
}

// checkPlaceholders refuses a binary packet whose placeholders do not each
// name one of its attachments by an integer index (socket.io-parser
// CVE-2022-2421: "num" of "__proto__", "splice", -1 or out of range).
func checkPlaceholders(data json.RawMessage, attachments int) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadPacket, err)
	}
	var walk func(any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		case map[string]any:
			if ph, ok := x["_placeholder"]; ok {
				num, isNum := x["num"].(float64)
				if ph != true || !isNum || num != math.Trunc(num) || num < 0 || int(num) >= attachments {
					return fmt.Errorf("%w: invalid attachment placeholder", ErrBadPacket)
				}
				return nil
			}
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(v)
}
