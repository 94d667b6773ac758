package socketio

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/commentd/commentd/realtime/engineio"
)

// Config configures a Server. Zero fields take the defaults noted.
type Config struct {
	Engine         engineio.Config
	ConnectTimeout time.Duration // a connection that joins no namespace within this is closed; 45s
	Limits         Limits        // packet decoding limits; see Limits
	Logger         *slog.Logger  // slog.Default()
}

func (c *Config) setDefaults() {
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 45 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Engine.Logger == nil {
		c.Engine.Logger = c.Logger
	}
}

// Server is a Socket.IO server. Mount it (it is an http.Handler) at the
// Socket.IO path, "/socket.io/" by default.
type Server struct {
	cfg Config
	eio *engineio.Server
	log *slog.Logger

	mu   sync.RWMutex
	nsps map[string]*Namespace
}

// NewServer returns a Server with the main namespace "/".
func NewServer(cfg Config) *Server {
	cfg.setDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, nsps: make(map[string]*Namespace)}
	s.eio = engineio.NewServer(cfg.Engine, engineHandler{s})
	s.Of("/")
	return s
}

// ServeHTTP serves Engine.IO requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.eio.ServeHTTP(w, r) }

// Close closes every connection and waits for their goroutines.
func (s *Server) Close() { s.eio.Close() }

// ConnsFrom returns how many connections the client address ip has open.
func (s *Server) ConnsFrom(ip string) int { return s.eio.ConnsFrom(ip) }

// Conns returns the number of open Engine.IO connections.
func (s *Server) Conns() int { return s.eio.Len() }

// Stats are a server's gauges and counters, for metrics.
type Stats struct {
	engineio.Stats
	Rooms      int    // rooms with members, all namespaces
	Deliveries uint64 // packets queued by broadcasts, one per receiver
}

// Stats returns the server's gauges and counters.
func (s *Server) Stats() Stats {
	st := Stats{Stats: s.eio.Stats()}
	s.mu.RLock()
	for _, n := range s.nsps {
		st.Rooms += n.Rooms()
		st.Deliveries += n.deliveries.Load()
	}
	s.mu.RUnlock()
	return st
}

// Of returns the namespace called name, creating it.
func (s *Server) Of(name string) *Namespace {
	if name == "" {
		name = "/"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nsps[name]
	if !ok {
		n = newNamespace(s, name)
		s.nsps[name] = n
	}
	return n
}

func (s *Server) namespace(name string) *Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nsps[name]
}

// engineHandler adapts Server to engineio.Handler.
type engineHandler struct{ s *Server }

func (h engineHandler) Open(c *engineio.Conn) {
	cl := newClient(h.s, c)
	c.SetData(cl)
}

func (h engineHandler) Message(c *engineio.Conn, data []byte, binary bool) {
	c.Data().(*client).onMessage(data, binary)
}

func (h engineHandler) Closed(c *engineio.Conn, reason string) {
	c.Data().(*client).onClose(reason)
}

func newID() string {
	var b [15]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// marshalArgs turns Go values into JSON arguments; json.RawMessage is kept.
func marshalArgs(args []any) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(args))
	for i, a := range args {
		if raw, ok := a.(json.RawMessage); ok {
			out[i] = raw
			continue
		}
		b, err := json.Marshal(a)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}
