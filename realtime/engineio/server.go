package engineio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Config configures a Server. Zero fields take the defaults noted.
type Config struct {
	PingInterval time.Duration // between server pings; 25s
	PingTimeout  time.Duration // wait for the pong; 20s
	MaxPayload   int64         // largest packet, bytes; 1,000,000
	// MaxPollBody bounds a polling POST body, which may carry several
	// packets (each still at most MaxPayload); max(1,000,000, MaxPayload),
	// the reference server's maxHttpBufferSize. python-engineio sends all
	// it has queued in one POST, whatever the maxPayload it was told.
	MaxPollBody int64
	// MaxPollPackets bounds the packets of one polling GET response; the
	// rest wait for the next GET, in order. 16: python-engineio refuses a
	// payload of more (max_decode_packets) and disconnects.
	MaxPollPackets int
	MaxQueueBytes  int           // outgoing queue per connection, bytes; 1 MiB
	WriteTimeout   time.Duration // one write system call, at most (at least half of it); 10s
	MaxConnsPerIP  int           // open sessions per client IP address; 0 = no limit
	// Linger is how long a broadcast (SendBroadcast) may wait for the
	// ones after it, so that a connection gets several frames per write
	// system call; 40ms, negative for none. Only a connection written to
	// within the last Linger waits: a quiet one gets its broadcast at
	// once. Other packets never wait.
	// Measured at 2,000 receivers and 200 broadcasts/s: 10, 20 and 40ms
	// gave 0.14, 0.08 and 0.07 writes per delivery (0.25 without).
	Linger time.Duration
	// Origins are the browser origins allowed besides the server's own
	// ("*" for any); requests without an Origin header are always allowed.
	// A refused origin gets 403.
	Origins []string
	// Directory, if set, records which node holds each long-polling
	// session, so that a request for a session held elsewhere is forwarded
	// there: no sticky sessions needed behind a load balancer.
	Directory Directory
	Logger    *slog.Logger // slog.Default()
}

func (c *Config) setDefaults() {
	if c.PingInterval <= 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 20 * time.Second
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = 1_000_000
	}
	if c.MaxPollBody <= 0 {
		c.MaxPollBody = max(1_000_000, c.MaxPayload)
	}
	if c.MaxPollPackets <= 0 {
		c.MaxPollPackets = 16
	}
	if c.MaxQueueBytes <= 0 {
		c.MaxQueueBytes = 1 << 20
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.Linger == 0 {
		c.Linger = 40 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Directory maps session ids to the nodes that hold them.
type Directory interface {
	// Self is this node's address as other nodes reach it (host:port).
	Self() string
	// Claim records that this node holds sid; Release forgets it.
	Claim(sid string) error
	Release(sid string)
	// Owner returns the address of the node holding sid ("" if unknown).
	Owner(sid string) (string, error)
}

// forwardedHeader marks a request one node forwarded to another, so that it
// is never forwarded again.
const forwardedHeader = "X-Commentd-Forwarded"

// Handler receives a server's sessions and messages.
type Handler interface {
	// Open is called once a session is established, before any Message.
	Open(c *Conn)
	// Message is called from the connection's reader goroutine for every
	// message packet, in order. data is owned by the callee.
	Message(c *Conn, data []byte, binary bool)
	// Closed is called once, after the last Message.
	Closed(c *Conn, reason string)
}

// Server serves Engine.IO sessions over HTTP.
type Server struct {
	cfg      Config
	h        Handler
	upgrader websocket.Upgrader

	mu       sync.Mutex
	sessions map[string]*Conn
	perIP    map[string]int // open sessions by client IP
	closing  bool
	wg       sync.WaitGroup // reader goroutines

	slow atomic.Uint64 // connections closed as slow consumers

	writeQ  chan *writer   // hands a connection's writer to an idle writer goroutine
	stop    chan struct{}  // closed by Close: idle writers exit
	writers sync.WaitGroup // writer goroutines

	// The linger list (linger.go); lock order: Conn.mu, then lmu.
	epoch       time.Time // writer.lastWrite counts from here (monotonic)
	lingerBytes int       // a queue this full is written at once
	lmu         sync.Mutex
	lingering   []*writer   // writers whose broadcasts wait for the next flush
	lspare      []*writer   // the list flushed last, for reuse
	ltimer      *time.Timer // fires the flush; armed while lingering is not empty
	lstopped    bool        // set by Close
	lflush      sync.Mutex  // held by a running flush
}

// writerIdle is how long a writer goroutine waits for another connection to
// write before it exits. Under load writers are reused, so a broadcast
// starts no goroutine; an idle server keeps none.
const writerIdle = time.Second

// startWriter runs w.loop on an idle writer goroutine, or a new one.
func (s *Server) startWriter(w *writer) {
	select {
	case s.writeQ <- w:
	default:
		s.writers.Add(1)
		go s.runWriter(w)
	}
}

// runWriter is a writer goroutine: it runs w.loop, then that of the next
// writer handed over, until it has been idle for writerIdle.
func (s *Server) runWriter(w *writer) {
	defer s.writers.Done()
	idle := time.NewTimer(writerIdle)
	defer idle.Stop()
	for {
		w.loop()
		idle.Reset(writerIdle)
		select {
		case w = <-s.writeQ:
		case <-idle.C:
			return
		case <-s.stop:
			return
		}
	}
}

// NewServer returns a Server that hands sessions to h.
func NewServer(cfg Config, h Handler) *Server {
	cfg.setDefaults()
	s := &Server{cfg: cfg, h: h, epoch: time.Now(), sessions: make(map[string]*Conn), perIP: make(map[string]int),
		writeQ: make(chan *writer), stop: make(chan struct{}),
		lingerBytes: min(maxLingerBytes, cfg.MaxQueueBytes/4)}
	s.upgrader = websocket.Upgrader{
		// gorilla answers the handshake only (see upgrade): it takes no
		// buffers of its own, reusing net/http's reader and a pool.
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     func(*http.Request) bool { return true }, // checked in ServeHTTP
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			writeError(w, status, codeBadRequest, reason.Error())
		},
	}
	return s
}

// Engine.IO error codes of the HTTP error body.
const (
	codeTransportUnknown = 0
	codeUnknownSID       = 1
	codeBadHandshake     = 2
	codeBadRequest       = 3
	codeForbidden        = 4
	codeUnsupported      = 5
)

var codeMessages = map[int]string{
	codeTransportUnknown: "Transport unknown",
	codeUnknownSID:       "Session ID unknown",
	codeBadHandshake:     "Bad handshake method",
	codeBadRequest:       "Bad request",
	codeForbidden:        "Forbidden",
	codeUnsupported:      "Unsupported protocol version",
}

func writeError(w http.ResponseWriter, status, code int, detail string) {
	msg := codeMessages[code]
	if detail != "" && detail != msg {
		msg += ": " + detail
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, msg})
}

// ServeHTTP handles handshakes, WebSocket upgrades and polling requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("EIO") != "4" {
		writeError(w, http.StatusBadRequest, codeUnsupported, "")
		return
	}
	transport := q.Get("transport")
	if transport != "websocket" && transport != "polling" {
		writeError(w, http.StatusBadRequest, codeTransportUnknown, "")
		return
	}
	if !s.originAllowed(r) {
		// No CORS headers: the refused page cannot read the answer (an
		// embedded widget tells a refused origin from a server down by
		// probing it without CORS, see web/static/embed.js).
		writeError(w, http.StatusForbidden, codeForbidden, "origin "+r.Header.Get("Origin")+" is not allowed")
		return
	}
	sid := q.Get("sid")
	if sid != "" && s.session(sid) == nil && s.forward(w, r, sid) {
		return
	}
	if sid == "" && s.overIPLimit(r) {
		writeError(w, http.StatusTooManyRequests, codeBadRequest, "too many connections from this address")
		return
	}
	if transport == "websocket" {
		if r.Method != http.MethodGet {
			writeError(w, http.StatusBadRequest, codeBadHandshake, "")
			return
		}
		if !websocket.IsWebSocketUpgrade(r) {
			writeError(w, http.StatusBadRequest, codeBadRequest, "expected a WebSocket upgrade")
			return
		}
		if sid != "" {
			s.upgradeSession(w, r, sid)
			return
		}
		s.serveWebSocket(w, r)
		return
	}
	s.servePolling(w, r, sid)
}

func (s *Server) originAllowed(r *http.Request) bool {
	if sameOrigin(r) {
		return true
	}
	o := r.Header.Get("Origin")
	for _, allowed := range s.cfg.Origins {
		if allowed == "*" || strings.TrimSuffix(allowed, "/") == o {
			return true
		}
	}
	return false
}

// sameOrigin allows requests without Origin and those whose Origin's host is
// the request's Host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	for _, scheme := range []string{"http://", "https://"} {
		if o == scheme+r.Host {
			return true
		}
	}
	return false
}

func newSID() string {
	var b [15]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// register adds a new session; false when the server is closing.
func (s *Server) register(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.sessions[c.id] = c
	s.perIP[clientIP(c.req)]++
	s.wg.Add(1)
	return true
}

func (s *Server) unregister(c *Conn) {
	if c.claimed {
		s.cfg.Directory.Release(c.id)
	}
	s.mu.Lock()
	if _, ok := s.sessions[c.id]; ok {
		delete(s.sessions, c.id)
		ip := clientIP(c.req)
		if s.perIP[ip]--; s.perIP[ip] <= 0 {
			delete(s.perIP, ip)
		}
	}
	s.mu.Unlock()
}

// clientIP is the peer's address. Forwarded headers are not trusted: they
// are the client's to forge.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ConnsFrom returns how many sessions the client address ip has open.
func (s *Server) ConnsFrom(ip string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perIP[ip]
}

// overIPLimit reports whether r's address has MaxConnsPerIP sessions open.
func (s *Server) overIPLimit(r *http.Request) bool {
	if s.cfg.MaxConnsPerIP <= 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perIP[clientIP(r)] >= s.cfg.MaxConnsPerIP
}

func (s *Server) session(sid string) *Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[sid]
}

// Stats are a server's gauges and counters, for metrics.
type Stats struct {
	WebSocket     int    // open sessions on WebSocket
	Polling       int    // open sessions on long-polling
	SlowConsumers uint64 // sessions closed because their queue overflowed
}

// Stats counts the open sessions by transport.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	conns := make([]*Conn, 0, len(s.sessions))
	for _, c := range s.sessions {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	st := Stats{SlowConsumers: s.slow.Load()}
	for _, c := range conns {
		if c.Transport() == "websocket" {
			st.WebSocket++
		} else {
			st.Polling++
		}
	}
	return st
}

// Len returns the number of open sessions.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Close closes every session and waits until their goroutines are done.
// New handshakes are refused.
func (s *Server) Close() {
	s.mu.Lock()
	s.closing = true
	conns := make([]*Conn, 0, len(s.sessions))
	for _, c := range s.sessions {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closeWith(ReasonServerStopped)
	}
	s.wg.Wait()
	s.mu.Lock()
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.mu.Unlock()
	s.stopLingering()
	s.writers.Wait()
}

// openPacket is the handshake reply.
func (s *Server) openPacket(sid string, upgrades []string) *Prepared {
	b, _ := json.Marshal(struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int64    `json:"pingInterval"`
		PingTimeout  int64    `json:"pingTimeout"`
		MaxPayload   int64    `json:"maxPayload"`
	}{sid, upgrades, s.cfg.PingInterval.Milliseconds(), s.cfg.PingTimeout.Milliseconds(), s.cfg.MaxPayload})
	return Prepare(Packet{Type: Open, Data: b})
}

func (s *Server) newConn(r *http.Request) *Conn {
	c := &Conn{id: newSID(), srv: s, req: r.Clone(context.Background()), done: make(chan struct{}),
		poll: pollState{upgraded: make(chan struct{}), noopDone: make(chan struct{})}}
	c.w.init(&c.mu, s, c)
	return c
}

// finish ends a session: closed, forgotten, and the Handler told once,
// after its last Message. The goroutine that owns the session calls it.
func (s *Server) finish(c *Conn) {
	c.closeWith(ReasonTransportErr) // no-op if closed already
	s.unregister(c)
	s.end(c)
	s.wg.Done()
}

// end closes c and tells the Handler, once its last Message is handled.
func (s *Server) end(c *Conn) {
	c.closeWith(ReasonTransportErr) // no-op if closed already
	c.hmu.Lock()
	c.ended = true
	c.hmu.Unlock()
	s.h.Closed(c, c.closeReason())
}

// forward proxies a request for a session this node does not hold to the
// node that does; false when there is none to forward to.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, sid string) bool {
	d := s.cfg.Directory
	if d == nil || r.Header.Get(forwardedHeader) != "" {
		return false
	}
	owner, err := d.Owner(sid)
	if err != nil {
		s.cfg.Logger.Warn("engineio: session directory", "err", err)
		return false
	}
	if owner == "" || owner == d.Self() {
		return false
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = owner
			pr.Out.Header.Set(forwardedHeader, d.Self())
			pr.SetXForwarded()
		},
		FlushInterval: -1, // long-polling answers go out at once
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.cfg.Logger.Warn("engineio: forward to session owner", "owner", owner, "err", err)
			writeError(w, http.StatusBadRequest, codeUnknownSID, "its node is unreachable")
		},
	}
	proxy.ServeHTTP(w, r)
	return true
}
