package socketio

import (
	"encoding/json"
	"time"

	"github.com/commentd/commentd/realtime/engineio"
)

// Connection state recovery (the socket.io v4.6 extension): the CONNECT
// reply carries a private id (pid); a client that reconnects within the
// recovery window sends {pid, offset} with its CONNECT and gets its socket
// id and rooms back (socket.recovered in socket.io-client). What it missed
// is the application's to replay: the namespace's recover hook gets the
// client's last offset (the last string argument of an event it received)
// and the time it went away.

// RecoveryStore keeps the state of sockets that went away, for the
// recovery window. Keeping it outside the process (Redis) lets a client
// recover on any node, and across restarts.
type RecoveryStore interface {
	Save(pid string, st SessionState) error
	// Take returns the state of pid and forgets it; ok is false when there
	// is none (unknown, or the window passed).
	Take(pid string) (st SessionState, ok bool, err error)
}

// SessionState is what a recovered socket gets back.
type SessionState struct {
	SID            string    `json:"sid"`
	Rooms          []string  `json:"rooms"`
	DisconnectedAt time.Time `json:"disconnectedAt"`
}

// Recover replays what a recovered socket missed. It runs in the socket's
// rooms, before any other packet of it is handled; broadcasts to the
// socket meanwhile are held, then sent through the Sift it returns (nil:
// as they are), and so are later broadcasts until the Sift is done or
// siftFor has passed: what was appended before the replay's read may
// still be on its way to this node.
type Recover func(s *Socket, offset string, since time.Time) Sift

// Sift decides what of a broadcast a recovered socket gets: the arguments
// to send (fewer than the event's, or the event's own), or send false to
// drop it (the replay had it); done once nothing more can be a duplicate.
type Sift func(Held) (args []json.RawMessage, send, done bool)

// siftFor bounds how long a recovered socket's broadcasts are sifted.
const siftFor = 30 * time.Second

// Held is a broadcast to a recovering socket.
type Held struct {
	Room  string
	Event string
	Args  []json.RawMessage
}

// EnableRecovery turns connection state recovery on for the namespace,
// with onRecover to replay what a recovered socket missed.
func (n *Namespace) EnableRecovery(store RecoveryStore, onRecover Recover) {
	n.recovery, n.onRecover = store, onRecover
}

type heldEvent struct {
	Held
	m *engineio.Prepared
}

// sifted is what a recovering socket does with a broadcast: hold it while
// the replay runs, then pass it through the Sift. It reports whether it
// took m (the event h) in hand. The namespace's read lock is held.
func (s *Socket) sifted(h *Held, m *engineio.Prepared) bool {
	if !s.sifting.Load() {
		return false
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if !s.sifting.Load() {
		return false
	}
	if s.replaying {
		s.held = append(s.held, heldEvent{*h, m})
		return true
	}
	if time.Now().After(s.siftUntil) {
		s.sifting.Store(false)
		return false
	}
	s.siftOne(*h, m)
	return true
}

// siftOne sends m, or its sifted arguments, or nothing. s.hmu is held.
func (s *Socket) siftOne(h Held, m *engineio.Prepared) {
	args, send, done := s.sift(h)
	if done {
		s.sifting.Store(false)
	}
	if !send {
		return
	}
	if len(args) != len(h.Args) || (len(args) > 0 && &args[0] != &h.Args[0]) {
		m = prepareEvent(s.nsp.name, h.Event, args)
	}
	s.client.conn.SendBroadcast(m)
}

// release ends the replay: what was held goes through sift (nil: as it
// is), then broadcasts go through it until it is done. In that order, so
// none overtakes a held one.
func (s *Socket) release(sift Sift) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if sift == nil {
		sift = func(h Held) ([]json.RawMessage, bool, bool) { return h.Args, true, true }
	}
	s.sift, s.siftUntil = sift, time.Now().Add(siftFor)
	for _, h := range s.held {
		s.siftOne(h.Held, h.m)
	}
	s.held, s.replaying = nil, false
}

// Recovered reports whether the socket is one that came back with its
// state.
func (s *Socket) Recovered() bool { return s.recovered }

// recoveryFields reads pid and offset of a CONNECT's auth payload.
func recoveryFields(auth json.RawMessage) (pid, offset string) {
	var v struct {
		PID    string `json:"pid"`
		Offset string `json:"offset"`
	}
	json.Unmarshal(auth, &v)
	return v.PID, v.Offset
}

// recoverable reasons: the client did not mean to leave.
func recoverable(reason string) bool {
	switch reason {
	case ReasonTransportClose, ReasonTransportError, ReasonPingTimeout, ReasonServerShuttingDown:
		return true
	}
	return false
}
