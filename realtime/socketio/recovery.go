package socketio

import (
	"encoding/json"
	"time"
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

// EnableRecovery turns connection state recovery on for the namespace.
// onRecover runs for a recovered socket, in its rooms, before any other
// packet of it is handled: it replays what the client missed.
func (n *Namespace) EnableRecovery(store RecoveryStore, onRecover func(s *Socket, offset string, since time.Time)) {
	n.recovery, n.onRecover = store, onRecover
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
