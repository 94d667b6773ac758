package main

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// proxy is a loopback TCP proxy between one commentd node and Redis or
// MongoDB. Faults act on it: a delay added to every chunk in both
// directions, and a hold that keeps the server's replies back (the request
// still reaches the server and takes effect; the node just does not hear
// the answer). For MongoDB it counts the insert and update commands, the
// OP_MSG commands whose first field is "insert" or "update" (the flusher's
// writes: a batch's new comments, then its changes).
type proxy struct {
	ln       net.Listener
	upstream string
	mongo    bool

	delay   atomic.Int64 // ns added to each chunk
	mu      sync.Mutex
	held    bool
	release chan struct{} // closed when the hold ends
	conns   map[net.Conn]bool

	inserts atomic.Int64
	updates atomic.Int64
	writeCh chan struct{} // a non-blocking signal per insert or update seen
}

func newProxy(upstream string, mongo bool) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, upstream: upstream, mongo: mongo, conns: map[net.Conn]bool{},
		release: make(chan struct{}), writeCh: make(chan struct{}, 1)}
	close(p.release)
	go p.accept()
	return p, nil
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
}

// SetDelay adds d to every chunk forwarded from now on (0 removes it).
func (p *proxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Hold keeps the server's replies back until Release.
func (p *proxy) Hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.held {
		p.held = true
		p.release = make(chan struct{})
	}
}

// Release lets held replies through.
func (p *proxy) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held {
		p.held = false
		close(p.release)
	}
}

// Inserts is the number of insert commands forwarded so far.
func (p *proxy) Inserts() int64 { return p.inserts.Load() }

// Updates is the number of update commands forwarded so far.
func (p *proxy) Updates() int64 { return p.updates.Load() }

// WriteSeen is signalled (at most one pending signal) when an insert or
// update command passes to the server.
func (p *proxy) WriteSeen() <-chan struct{} { return p.writeCh }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

func (p *proxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
	p.mu.Unlock()
}

func (p *proxy) serve(client net.Conn) {
	server, err := net.DialTimeout("tcp", p.upstream, 2*time.Second)
	if err != nil {
		client.Close()
		return
	}
	p.track(client, true)
	p.track(server, true)
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			client.Close()
			server.Close()
			p.track(client, false)
			p.track(server, false)
		})
	}
	var sniff func([]byte)
	if p.mongo {
		sniff = (&opMsgSniffer{onCommand: p.command}).feed
	}
	go func() { p.pipe(server, client, sniff, false); closeBoth() }()
	p.pipe(client, server, nil, true)
	closeBoth()
}

func (p *proxy) command(name string) {
	switch name {
	case "insert":
		p.inserts.Add(1)
	case "update":
		p.updates.Add(1)
	default:
		return
	}
	select {
	case p.writeCh <- struct{}{}:
	default:
	}
}

type chunk struct {
	b  []byte
	at time.Time
}

// pipe copies src to dst, each chunk no earlier than its arrival plus the
// delay, keeping the order. Replies (reply=true) wait while held.
func (p *proxy) pipe(dst, src net.Conn, sniff func([]byte), reply bool) {
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		for {
			b := make([]byte, 32<<10)
			n, err := src.Read(b)
			if n > 0 {
				if sniff != nil {
					sniff(b[:n])
				}
				q <- chunk{b[:n], time.Now()}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		if d := time.Duration(p.delay.Load()); d > 0 {
			time.Sleep(time.Until(c.at.Add(d)))
		}
		if reply {
			p.mu.Lock()
			release := p.release
			p.mu.Unlock()
			<-release
		}
		if _, err := dst.Write(c.b); err != nil {
			src.Close()
			for range q {
			}
			return
		}
	}
}

// opMsgSniffer reads MongoDB wire messages from a byte stream and reports
// the command name of each OP_MSG (its body's first field).
type opMsgSniffer struct {
	buf       []byte
	onCommand func(string)
}

const opMsg = 2013

func (s *opMsgSniffer) feed(b []byte) {
	s.buf = append(s.buf, b...)
	for len(s.buf) >= 16 {
		n := int(binary.LittleEndian.Uint32(s.buf))
		if n < 16 || n > 64<<20 {
			s.buf = nil // not a stream we understand; stop parsing
			s.onCommand = func(string) {}
			return
		}
		if len(s.buf) < n {
			return
		}
		if binary.LittleEndian.Uint32(s.buf[12:]) == opMsg {
			if name, err := opMsgCommand(s.buf[16:n]); err == nil {
				s.onCommand(name)
			}
		}
		s.buf = s.buf[n:]
	}
}

// opMsgCommand returns the first field name of the kind-0 section of an
// OP_MSG body (flag bits, then sections).
func opMsgCommand(b []byte) (string, error) {
	if len(b) < 4 {
		return "", io.ErrUnexpectedEOF
	}
	b = b[4:]
	for len(b) > 0 {
		kind := b[0]
		b = b[1:]
		if len(b) < 4 {
			return "", io.ErrUnexpectedEOF
		}
		size := int(binary.LittleEndian.Uint32(b))
		if size < 5 || size > len(b) {
			return "", errors.New("bad section size")
		}
		if kind == 0 {
			doc := b[4:size] // elements: type, cstring name, value
			if len(doc) < 2 || doc[0] == 0 {
				return "", errors.New("empty document")
			}
			for i := 1; i < len(doc); i++ {
				if doc[i] == 0 {
					return string(doc[1:i]), nil
				}
			}
			return "", errors.New("unterminated name")
		}
		b = b[size:]
	}
	return "", errors.New("no body section")
}
