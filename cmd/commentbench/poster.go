package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/commentd/commentd/internal/sioclient"
)

// benchContent is the text of every comment the benchmark posts: about
// the size of a short real comment.
const benchContent = "a comment of some fifty bytes, give or take a few"

// poster is a connection that joins one post (and waits for the join's ack,
// so that the history load is not timed as comments) and posts comments to
// it with acks, keeping at most window outstanding. Its reader records confirm
// latency (from the time the comment was due, so a late send counts) and
// the comment_added deliveries it receives.
type poster struct {
	c      *sioclient.Conn
	post   string
	body   json.RawMessage
	slots  chan struct{}
	done   chan struct{} // closed when the reader ends
	joined chan bool     // the join_post ack (id 0): ok or not

	mu      sync.Mutex
	nextID  int64
	pending map[int64]time.Time

	// Written by the reader; read after done or after drain.
	confirm, delivery *hdrhistogram.Histogram

	confirmed, failed, deliveries atomic.Int64
}

// newPoster joins post on c and waits for the join's ack; c is closed on
// failure.
func newPoster(ctx context.Context, c *sioclient.Conn, post string, window int) (*poster, error) {
	body, _ := json.Marshal(map[string]string{"postId": post, "userId": "bench", "content": benchContent})
	p := &poster{c: c, post: post, body: body, slots: make(chan struct{}, window), done: make(chan struct{}),
		joined: make(chan bool, 1), pending: map[int64]time.Time{}, confirm: newLatency(), delivery: newLatency()}
	go func() {
		defer close(p.done)
		c.ReadLoop(p.packet)
	}()
	if err := joinPost(ctx, c, post, p.joined, p.done); err != nil {
		return nil, err
	}
	return p, nil
}

// joinPost sends join_post with ack id 0 on c and waits for the ack, which
// c's reader passes to joined (ok or not); done is closed when the reader
// ends. On failure it closes c and waits for the reader.
func joinPost(ctx context.Context, c *sioclient.Conn, post string, joined <-chan bool, done <-chan struct{}) error {
	fail := func(err error) error {
		c.Close()
		<-done
		return fmt.Errorf("join_post %s: %w", post, err)
	}
	if err := c.Emit(0, "join_post", quoted(post)); err != nil {
		return fail(err)
	}
	select {
	case ok := <-joined:
		if !ok {
			return fail(fmt.Errorf("refused"))
		}
	case <-done:
		return fail(fmt.Errorf("connection closed"))
	case <-time.After(handshakeTimeout):
		return fail(fmt.Errorf("no ack in %s", handshakeTimeout))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	return nil
}

// dialPosters opens n posters spread over posts prefix-0..prefix-(posts-1),
// several at a time (a join may wait for a history read).
func dialPosters(ctx context.Context, d dialer, prefix string, n, posts, window int) ([]*poster, error) {
	ps := make([]*poster, n)
	_, err := dialMany(ctx, d, n, sourceAddrs(1), func(i int, c *sioclient.Conn) error {
		p, err := newPoster(ctx, c, fmt.Sprintf("%s-%d", prefix, i%posts), window)
		ps[i] = p
		return err
	}, nil)
	if err != nil {
		var made []*poster
		for _, p := range ps {
			if p != nil {
				made = append(made, p)
			}
		}
		closePosters(made)
		return nil, err
	}
	return ps, nil
}

func closePosters(ps []*poster) {
	for _, p := range ps {
		p.c.Close()
	}
	for _, p := range ps {
		<-p.done
	}
}

// send posts one comment due at due, waiting for a free slot. It returns
// false when the connection is gone or ctx ended.
func (p *poster) send(ctx context.Context, due time.Time) bool {
	select {
	case p.slots <- struct{}{}:
	case <-p.done:
		return false
	case <-ctx.Done():
		return false
	}
	return p.emit(due)
}

// trySend posts one comment due at due if a slot is free.
func (p *poster) trySend(due time.Time) (sent, alive bool) {
	select {
	case p.slots <- struct{}{}:
		return true, p.emit(due)
	case <-p.done:
		return false, false
	default:
		return false, true
	}
}

func (p *poster) emit(due time.Time) bool {
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	p.pending[id] = due
	p.mu.Unlock()
	return p.c.Emit(id, "new_comment", p.body) == nil
}

// drain waits until nothing is outstanding, up to timeout.
func (p *poster) drain(timeout time.Duration) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for range cap(p.slots) {
		select {
		case p.slots <- struct{}{}:
		case <-p.done:
			return
		case <-t.C:
			return
		}
	}
	for range cap(p.slots) {
		<-p.slots
	}
}

func (p *poster) packet(data []byte) {
	now := time.Now()
	if id, payload, ok := decodeAck(data); ok {
		if id == 0 {
			p.joined <- ackOK(payload)
			return
		}
		p.mu.Lock()
		due, ok := p.pending[id]
		delete(p.pending, id)
		p.mu.Unlock()
		if !ok {
			return
		}
		if ackOK(payload) {
			p.confirmed.Add(1)
			recordSince(p.confirm, now, due)
		} else {
			p.failed.Add(1)
		}
		<-p.slots
		return
	}
	createdAt, ok := decodeAdded(data)
	if !ok {
		return
	}
	p.deliveries.Add(1)
	if !createdAt.IsZero() {
		recordSince(p.delivery, now, createdAt)
	}
}

// posterTotals sums the posters' counters.
func posterTotals(ps []*poster) (confirmed, failed, deliveries int64) {
	for _, p := range ps {
		confirmed += p.confirmed.Load()
		failed += p.failed.Load()
		deliveries += p.deliveries.Load()
	}
	return
}

// mergeLatency merges the posters' histograms; call after they finished.
func mergeLatency(ps []*poster) (confirm, delivery *hdrhistogram.Histogram) {
	confirm, delivery = newLatency(), newLatency()
	for _, p := range ps {
		confirm.Merge(p.confirm)
		delivery.Merge(p.delivery)
	}
	return
}

// recorder appends a Point every interval from sample until stopped.
type recorder struct {
	start  time.Time
	stop   chan struct{}
	done   chan struct{}
	points []Point
}

func startRecorder(every time.Duration, sample func(t float64) map[string]float64) *recorder {
	r := &recorder{start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			select {
			case <-r.stop:
				return
			case now := <-tk.C:
				t := now.Sub(r.start).Seconds()
				if v := sample(t); v != nil {
					r.points = append(r.points, Point{T: t, Values: v})
				}
			}
		}
	}()
	return r
}

// end stops the recorder and returns its points.
func (r *recorder) end() []Point {
	close(r.stop)
	<-r.done
	return r.points
}

// rate turns a counter into a per-second rate between calls.
type rate struct {
	last, lastT float64
}

func (r *rate) next(v, t float64) float64 {
	dt := t - r.lastT
	out := 0.0
	if dt > 0 {
		out = (v - r.last) / dt
	}
	r.last, r.lastT = v, t
	return out
}
