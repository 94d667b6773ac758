package socketio

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commentd/commentd/realtime/engineio"
)

// ErrAckTimeout is what an EmitWithAck callback gets when the client did
// not answer in time.
var ErrAckTimeout = errors.New("socketio: ack timeout")

// Socket is a client's connection to one namespace.
type Socket struct {
	id     string
	nsp    *Namespace
	client *client
	auth   json.RawMessage

	rooms map[string]struct{} // guarded by nsp.mu

	pid       string // private id for recovery; "" when recovery is off
	recovered bool
	used      atomic.Bool // the client sent it an event or an ack
	sifting   atomic.Bool // recovering: broadcasts go through sifted
	hmu       sync.Mutex
	replaying bool        // held until the replay is sent
	held      []heldEvent // guarded by hmu, as the two below
	sift      Sift
	siftUntil time.Time

	mu     sync.Mutex
	data   any
	closed bool
	nextID int64
	acks   map[int64]*pendingAck
}

type pendingAck struct {
	f     func(args []json.RawMessage, err error)
	timer *time.Timer
}

func newSocket(n *Namespace, cl *client, auth json.RawMessage) *Socket {
	return &Socket{id: newID(), nsp: n, client: cl, auth: auth, rooms: make(map[string]struct{})}
}

// ID returns the socket id (not the Engine.IO session id).
func (s *Socket) ID() string { return s.id }

// Namespace returns the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Request returns the handshake request of the connection.
func (s *Socket) Request() *http.Request { return s.client.conn.Request() }

// Auth returns the auth payload of the CONNECT packet ({} if none).
func (s *Socket) Auth() json.RawMessage { return s.auth }

// Transport returns "websocket" or "polling".
func (s *Socket) Transport() string { return s.client.conn.Transport() }

// SetData attaches a value of the application's to the socket.
func (s *Socket) SetData(v any) { s.mu.Lock(); s.data = v; s.mu.Unlock() }

// Data returns what SetData attached.
func (s *Socket) Data() any { s.mu.Lock(); defer s.mu.Unlock(); return s.data }

// Emit sends an event to this socket.
func (s *Socket) Emit(event string, args ...any) error {
	raw, err := marshalArgs(args)
	if err != nil {
		return err
	}
	return s.client.conn.SendPrepared(prepareEvent(s.nsp.name, event, raw))
}

// EmitRaw sends an event whose arguments are JSON already.
func (s *Socket) EmitRaw(event string, args ...json.RawMessage) error {
	return s.client.conn.SendPrepared(prepareEvent(s.nsp.name, event, args))
}

// prepareEvent encodes an EVENT without an ack id into its frame.
func prepareEvent(nsp, event string, args []json.RawMessage) *engineio.Prepared {
	n := len(nsp) + len(event) + 8
	for _, a := range args {
		n += len(a) + 1
	}
	return engineio.PrepareBuffer(AppendEvent(engineio.MessageBuffer(n), nsp, -1, event, args...))
}

// EmitWithAck sends an event that asks for an acknowledgement; f gets the
// client's answer, or ErrAckTimeout after timeout, or an error if the socket
// closes first. f runs on a goroutine of its own.
func (s *Socket) EmitWithAck(event string, timeout time.Duration, f func(args []json.RawMessage, err error), args ...any) error {
	raw, err := marshalArgs(args)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("socketio: socket closed")
	}
	id := s.nextID
	s.nextID++
	if s.acks == nil {
		s.acks = make(map[int64]*pendingAck)
	}
	pa := &pendingAck{f: f}
	pa.timer = time.AfterFunc(timeout, func() {
		if s.takeAck(id) != nil {
			f(nil, ErrAckTimeout)
		}
	})
	s.acks[id] = pa
	s.mu.Unlock()
	return s.client.send(AppendEvent(nil, s.nsp.name, id, event, raw...))
}

func (s *Socket) takeAck(id int64) *pendingAck {
	s.mu.Lock()
	defer s.mu.Unlock()
	pa := s.acks[id]
	delete(s.acks, id)
	return pa
}

// EmitBinary sends an event with binary attachments; args refer to them
// with {"_placeholder":true,"num":i}.
func (s *Socket) EmitBinary(event string, attachments [][]byte, args ...json.RawMessage) error {
	data := appendArray(nil, event, args)
	return s.client.sendPacket(&Packet{Type: PacketBinaryEvent, Namespace: s.nsp.name, ID: -1,
		Data: data, Attachments: len(attachments)}, attachments)
}

// Join adds the socket to room.
func (s *Socket) Join(room string) {
	s.nsp.mu.Lock()
	if !s.isClosedNspLocked() {
		s.nsp.joinLocked(s, room)
	}
	s.nsp.mu.Unlock()
}

// isClosedNspLocked: a closed socket has left its namespace. nsp.mu held.
func (s *Socket) isClosedNspLocked() bool { return s.nsp.sockets[s.id] != s }

// Leave takes the socket out of room.
func (s *Socket) Leave(room string) {
	s.nsp.mu.Lock()
	s.nsp.leaveLocked(s, room)
	s.nsp.mu.Unlock()
}

// In reports whether the socket is in room.
func (s *Socket) In(room string) bool {
	s.nsp.mu.RLock()
	defer s.nsp.mu.RUnlock()
	_, ok := s.rooms[room]
	return ok
}

// InLocked is In for a where function of EmitToRawWhere, which runs with
// the namespace's lock held.
func (s *Socket) InLocked(room string) bool {
	_, ok := s.rooms[room]
	return ok
}

// Rooms returns the rooms the socket is in.
func (s *Socket) Rooms() []string {
	s.nsp.mu.RLock()
	defer s.nsp.mu.RUnlock()
	out := make([]string, 0, len(s.rooms))
	for r := range s.rooms {
		out = append(out, r)
	}
	return out
}

// Disconnect disconnects the socket from its namespace; the connection
// stays open for other namespaces unless closeConn.
func (s *Socket) Disconnect(closeConn bool) {
	s.close(ReasonServerNamespaceDisconnect, true)
	if closeConn {
		s.client.conn.CloseAfterFlush()
	}
}

// close leaves the namespace once; notify sends DISCONNECT to the client.
func (s *Socket) close(reason string, notify bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	acks := s.acks
	s.acks = nil
	s.mu.Unlock()
	for _, pa := range acks {
		if pa.timer.Stop() {
			go pa.f(nil, errors.New("socketio: socket closed: "+reason))
		}
	}
	if s.nsp.onLeaving != nil {
		s.nsp.onLeaving(s, reason)
	}
	if s.nsp.recovery != nil && s.pid != "" && recoverable(reason) {
		st := SessionState{SID: s.id, Rooms: s.Rooms(), DisconnectedAt: time.Now()}
		if err := s.nsp.recovery.Save(s.pid, st); err != nil {
			s.nsp.srv.log.Warn("socketio: recovery store", "err", err)
		}
	}
	s.nsp.mu.Lock()
	s.nsp.removeLocked(s)
	s.nsp.mu.Unlock()
	s.client.remove(s)
	if notify {
		s.client.sendPacket(&Packet{Type: PacketDisconnect, Namespace: s.nsp.name, ID: -1}, nil)
	}
	if s.nsp.onDisconnect != nil {
		s.nsp.onDisconnect(s, reason)
	}
}

// Event is an event a client emitted.
type Event struct {
	Name        string
	Args        []json.RawMessage
	Attachments [][]byte // binary attachments; Args hold placeholders
	socket      *Socket
	ackID       int64
	acked       bool
}

// WantsAck reports whether the client asked for an acknowledgement.
func (e *Event) WantsAck() bool { return e.ackID >= 0 }

// Ack answers the event's acknowledgement, once; without a request it does
// nothing.
func (e *Event) Ack(args ...any) error {
	if e.ackID < 0 || e.acked {
		return nil
	}
	raw, err := marshalArgs(args)
	if err != nil {
		return err
	}
	return e.AckRaw(raw...)
}

// AckRaw answers with arguments that are JSON already.
func (e *Event) AckRaw(args ...json.RawMessage) error {
	if e.ackID < 0 || e.acked {
		return nil
	}
	e.acked = true
	n := len(e.socket.nsp.name) + 24
	for _, a := range args {
		n += len(a) + 1
	}
	b := AppendEncode(engineio.MessageBuffer(n), &Packet{Type: PacketAck, Namespace: e.socket.nsp.name, ID: e.ackID})
	return e.socket.client.conn.SendPrepared(engineio.PrepareBuffer(appendArray(b, "", args)))
}

// AckBinary answers with binary attachments (BINARY_ACK).
func (e *Event) AckBinary(attachments [][]byte, args ...json.RawMessage) error {
	if e.ackID < 0 || e.acked {
		return nil
	}
	e.acked = true
	return e.socket.client.sendPacket(&Packet{Type: PacketBinaryAck, Namespace: e.socket.nsp.name, ID: e.ackID,
		Data: appendArray(nil, "", args), Attachments: len(attachments)}, attachments)
}

func (s *Socket) onEvent(p *Packet, atts [][]byte) {
	s.used.Store(true)
	name, args, err := EventName(p.Data)
	if err != nil {
		s.client.protocolError(err.Error())
		return
	}
	ev := &Event{Name: name, Args: args, Attachments: atts, socket: s, ackID: p.ID}
	h := s.nsp.handlers[name]
	if h == nil {
		h = s.nsp.onAny
	}
	if h != nil {
		h(s, ev)
	}
}

func (s *Socket) onAck(p *Packet, _ [][]byte) {
	s.used.Store(true)
	pa := s.takeAck(p.ID)
	if pa == nil || !pa.timer.Stop() {
		return
	}
	var args []json.RawMessage
	if err := json.Unmarshal(p.Data, &args); err != nil {
		s.client.protocolError("ack payload is not an array")
		return
	}
	go pa.f(args, nil)
}

// appendArray appends a JSON array of name (if not "") and args.
func appendArray(dst []byte, name string, args []json.RawMessage) []byte {
	dst = append(dst, '[')
	first := true
	if name != "" {
		b, _ := json.Marshal(name)
		dst = append(dst, b...)
		first = false
	}
	for _, a := range args {
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, a...)
		first = false
	}
	return append(dst, ']')
}
