package socketio

import (
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/commentd/commentd/realtime/engineio"
)

// EventHandler handles an event a client emitted.
type EventHandler func(s *Socket, ev *Event)

// Namespace is a Socket.IO namespace: its sockets, rooms and handlers.
// Set the hooks and handlers before the server serves.
type Namespace struct {
	name string
	srv  *Server

	onConnect    func(s *Socket, auth json.RawMessage) error
	onConnection func(s *Socket)
	onDisconnect func(s *Socket, reason string)
	onLeaving    func(s *Socket, reason string)
	handlers     map[string]EventHandler
	onAny        EventHandler
	recovery     RecoveryStore
	onRecover    Recover

	deliveries atomic.Uint64 // broadcast packets queued, one per receiver

	mu      sync.RWMutex
	sockets map[string]*Socket
	rooms   map[string]map[*Socket]struct{}
}

func newNamespace(s *Server, name string) *Namespace {
	return &Namespace{name: name, srv: s, handlers: make(map[string]EventHandler),
		sockets: make(map[string]*Socket), rooms: make(map[string]map[*Socket]struct{})}
}

// Name returns the namespace's name, e.g. "/".
func (n *Namespace) Name() string { return n.name }

// OnConnect sets the hook that sees a CONNECT and its auth payload; a
// non-nil error refuses it with CONNECT_ERROR (use *ConnectError for data).
func (n *Namespace) OnConnect(f func(s *Socket, auth json.RawMessage) error) { n.onConnect = f }

// OnConnection sets what runs once a socket has connected.
func (n *Namespace) OnConnection(f func(s *Socket)) { n.onConnection = f }

// OnDisconnecting sets what runs when a socket leaves, while it is still in
// its rooms (Socket.Rooms).
func (n *Namespace) OnDisconnecting(f func(s *Socket, reason string)) { n.onLeaving = f }

// OnDisconnect sets what runs when a socket leaves, after it left its rooms.
func (n *Namespace) OnDisconnect(f func(s *Socket, reason string)) { n.onDisconnect = f }

// On sets the handler of an event.
func (n *Namespace) On(event string, h EventHandler) { n.handlers[event] = h }

// OnAny sets the handler of events that have no handler of their own.
func (n *Namespace) OnAny(h EventHandler) { n.onAny = h }

func (n *Namespace) add(s *Socket) {
	n.mu.Lock()
	n.sockets[s.id] = s
	n.mu.Unlock()
}

// removeLocked forgets s and empties its rooms. n.mu must be held.
func (n *Namespace) removeLocked(s *Socket) {
	delete(n.sockets, s.id)
	for room := range s.rooms {
		n.leaveLocked(s, room)
	}
}

func (n *Namespace) joinLocked(s *Socket, room string) {
	m, ok := n.rooms[room]
	if !ok {
		m = make(map[*Socket]struct{})
		n.rooms[room] = m
	}
	m[s] = struct{}{}
	s.rooms[room] = struct{}{}
}

// leaveLocked takes s out of room; an empty room is freed.
func (n *Namespace) leaveLocked(s *Socket, room string) {
	delete(s.rooms, room)
	if m, ok := n.rooms[room]; ok {
		delete(m, s)
		if len(m) == 0 {
			delete(n.rooms, room)
		}
	}
}

// Socket returns the connected socket with id, or nil.
func (n *Namespace) Socket(id string) *Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.sockets[id]
}

// Len returns the number of connected sockets.
func (n *Namespace) Len() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.sockets)
}

// RoomLen returns the number of sockets in room.
func (n *Namespace) RoomLen(room string) int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.rooms[room])
}

// Rooms returns the number of rooms with members.
func (n *Namespace) Rooms() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.rooms)
}

// Emit sends an event to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...any) error {
	return n.broadcast("", nil, event, args)
}

// EmitExcept sends an event to every socket of the namespace but except.
func (n *Namespace) EmitExcept(except *Socket, event string, args ...any) error {
	return n.broadcast("", except, event, args)
}

// EmitTo sends an event to every socket in room but except (which may be
// nil). It returns after queueing; receivers whose queue is full are
// disconnected.
func (n *Namespace) EmitTo(room string, except *Socket, event string, args ...any) error {
	if room == "" {
		return nil
	}
	return n.broadcast(room, except, event, args)
}

// EmitToRaw is EmitTo with arguments already JSON: the path of hot
// broadcasts.
func (n *Namespace) EmitToRaw(room string, except *Socket, event string, args ...json.RawMessage) int {
	return n.sendPreparedWhere(room, except, nil, &Held{room, event, args}, prepareEvent(n.name, event, args))
}

// EmitToRawWhere is EmitToRaw to the members of room for which where is
// true: one event for some readers of a room and another for the rest,
// each encoded once. where runs under the namespace's read lock: it must
// not block or take the namespace's lock.
func (n *Namespace) EmitToRawWhere(room string, where func(*Socket) bool, event string, args ...json.RawMessage) int {
	return n.sendPreparedWhere(room, nil, where, &Held{room, event, args}, prepareEvent(n.name, event, args))
}

// EmitToRawOutside is EmitToRaw to the members of room that are not in
// the room outside: one event for readers who asked for something else.
func (n *Namespace) EmitToRawOutside(room, outside string, event string, args ...json.RawMessage) int {
	return n.sendPreparedWhere(room, nil, func(s *Socket) bool {
		_, in := s.rooms[outside] // the namespace's read lock is held
		return !in
	}, &Held{room, event, args}, prepareEvent(n.name, event, args))
}

// Emit is one event of EmitManyToRaw, its arguments already JSON.
type Emit struct {
	Event string
	Args  []json.RawMessage
}

// EmitManyToRaw sends events, in order, to every socket of room, each
// encoded once; a receiver queues them at once, so they leave in one write.
func (n *Namespace) EmitManyToRaw(room string, events []Emit) int {
	if len(events) == 0 {
		return 0
	}
	ms := make([]*engineio.Prepared, len(events))
	hs := make([]Held, len(events))
	for i, e := range events {
		ms[i], hs[i] = prepareEvent(n.name, e.Event, e.Args), Held{room, e.Event, e.Args}
	}
	tp := targets.Get().(*[]*engineio.Conn)
	conns := (*tp)[:0]
	n.mu.RLock()
	for s := range n.rooms[room] {
		if !s.sifting.Load() {
			conns = append(conns, s.client.conn)
			continue
		}
		var rest []*engineio.Prepared
		for i := range ms {
			if !s.sifted(&hs[i], ms[i]) {
				rest = append(rest, ms[i])
			}
		}
		if len(rest) > 0 {
			s.client.conn.SendMany(rest)
		}
	}
	n.mu.RUnlock()
	for _, c := range conns {
		c.SendMany(ms)
	}
	count := len(conns)
	n.deliveries.Add(uint64(count * len(ms)))
	clear(conns)
	*tp = conns
	targets.Put(tp)
	return count
}

func (n *Namespace) broadcast(room string, except *Socket, event string, args []any) error {
	raw, err := marshalArgs(args)
	if err != nil {
		return err
	}
	n.sendPreparedWhere(room, except, nil, &Held{room, event, raw}, prepareEvent(n.name, event, raw))
	return nil
}

// targets is a pool of receiver lists, so that a broadcast allocates the
// same whatever the number of receivers.
var targets = sync.Pool{New: func() any { s := make([]*engineio.Conn, 0, 64); return &s }}

// sendPreparedWhere queues m on the members of room ("" for all) but
// except for which where is true (nil: all), holding the lock only to copy
// the member list. A recovering member holds it (h says what m is).
func (n *Namespace) sendPreparedWhere(room string, except *Socket, where func(*Socket) bool, h *Held, m *engineio.Prepared) int {
	tp := targets.Get().(*[]*engineio.Conn)
	conns := (*tp)[:0]
	n.mu.RLock()
	members := n.rooms[room]
	if room == "" {
		members = nil
		for _, s := range n.sockets {
			if s != except && (where == nil || where(s)) && !s.sifted(h, m) {
				conns = append(conns, s.client.conn)
			}
		}
	}
	for s := range members {
		if s != except && (where == nil || where(s)) && !s.sifted(h, m) {
			conns = append(conns, s.client.conn)
		}
	}
	n.mu.RUnlock()
	for _, c := range conns {
		c.SendBroadcast(m)
	}
	count := len(conns)
	n.deliveries.Add(uint64(count))
	clear(conns)
	*tp = conns
	targets.Put(tp)
	return count
}
