// Package webhooktest is a webhook receiver for tests: a real HTTP server
// on 127.0.0.1 that verifies each request's signature, records it and
// answers as the test says. It can go down (connection refused) and come
// back on the same address.
package webhooktest

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/commentd/commentd/hook"
)

// Event is an event as a receiver reads it.
type Event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// Request is one request the receiver got.
type Request struct {
	WebhookID string
	Status    int  // what it answered; 0 if the request was cut off
	Verified  bool // the signature verified with the secret
	OtherKey  bool // it verified with another key (never, unless broken)
	Endpoint  string
	Events    []Event
	At        time.Time
}

// AnswerFunc returns the status to answer the n-th request (from 0). It may
// block until r's context ends (a receiver that stalls).
type AnswerFunc func(r *http.Request, n int) int

// Receiver is a webhook receiver on a fixed 127.0.0.1 address.
type Receiver struct {
	URL string

	addr   string
	key    []byte
	answer AnswerFunc

	mu   sync.Mutex
	srv  *http.Server
	done chan struct{}
	n    int
	reqs []Request
}

// OK answers 200 to everything.
func OK(*http.Request, int) int { return http.StatusOK }

// New starts a receiver that checks signatures with secret; answer nil is
// OK. It stops when the test ends.
func New(t testing.TB, secret string, answer AnswerFunc) *Receiver {
	t.Helper()
	key, err := hook.Key(secret)
	if err != nil {
		t.Fatal(err)
	}
	if answer == nil {
		answer = OK
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Receiver{addr: ln.Addr().String(), key: key, answer: answer}
	r.URL = "http://" + r.addr + "/hook"
	r.serve(ln)
	t.Cleanup(r.Stop)
	return r
}

func (r *Receiver) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(r.handle), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	r.mu.Lock()
	r.srv, r.done = srv, done
	r.mu.Unlock()
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
}

// Stop closes the receiver: connections to it are refused until Start.
func (r *Receiver) Stop() {
	r.mu.Lock()
	srv, done := r.srv, r.done
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		srv.Close()
		<-done
	}
}

// Start serves again on the same address.
func (r *Receiver) Start(t testing.TB) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may linger a moment
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	r.serve(ln)
}

// otherKey is a key no endpoint uses.
var otherKey = []byte("not the secret")

func (r *Receiver) handle(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	now := time.Now()
	rec := Request{
		WebhookID: req.Header.Get(hook.HeaderID),
		Verified:  hook.Verify(r.key, req.Header, body, now, 5*time.Minute) == nil,
		OtherKey:  !errors.Is(hook.Verify(otherKey, req.Header, body, now, 5*time.Minute), hook.ErrBadSignature),
		At:        now,
	}
	var p struct {
		Type     string  `json:"type"`
		Endpoint string  `json:"endpoint"`
		Events   []Event `json:"events"`
	}
	if json.Unmarshal(body, &p) == nil && p.Type == "batch" {
		rec.Events, rec.Endpoint = p.Events, p.Endpoint
	}
	r.mu.Lock()
	n := r.n
	r.n++
	r.mu.Unlock()
	rec.Status = r.answer(req, n)
	if req.Context().Err() != nil {
		rec.Status = 0
	} else {
		w.WriteHeader(rec.Status)
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
}

// Requests returns the requests answered so far, in the order answered.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}

// Delivered returns the events of the requests answered with a 2xx, in
// order (with repeats, if a batch was delivered twice).
func (r *Receiver) Delivered() []Event {
	var out []Event
	for _, q := range r.Requests() {
		if q.Status >= 200 && q.Status <= 299 {
			out = append(out, q.Events...)
		}
	}
	return out
}
