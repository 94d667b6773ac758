package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/commentd/commentd/internal/sioclient"
)

// Targets of the fan-out scenarios.
const (
	targetCommentd   = "commentd"
	targetCentrifugo = "centrifugo"
)

// readerSpec is what one group of readers (a hot-worker process, or the
// scenario's own process) connects to. It travels to the workers as JSON.
type readerSpec struct {
	Target  string `json:"target"`  // targetCommentd or targetCentrifugo
	URL     string `json:"url"`     // commentd base URL, or Centrifugo's WebSocket URL
	Post    string `json:"post"`    // the post, or Centrifugo channel
	Readers int    `json:"readers"` // connections of this group
	First   int    `json:"first"`   // index of the group's first reader over all groups
	Sources int    `json:"sources"` // source addresses 127.0.0.1..N
	Batch   bool   `json:"batch"`   // join_post with batch: true
}

// readerGroup is a set of readers of one post that count the bench's
// comments they receive, each once by its sequence number.
type readerGroup struct {
	spec     readerSpec
	commentd []*sioclient.Conn
	centri   []*centrifugoConn
	seen     []seqSet // per reader; written by its read goroutine only
	wg       sync.WaitGroup

	deliveries    atomic.Int64 // unique (reader, comment) pairs
	duplicates    atomic.Int64
	commentFrames atomic.Int64 // frames that held at least one comment
	frames        atomic.Int64 // every event frame after the join
	dropped       atomic.Int64 // readers the server disconnected
	lastNanos     atomic.Int64
	hist          [histShards]struct {
		sync.Mutex
		h *hdrhistogram.Histogram
	}
}

// seqSet is a bitset of comment sequence numbers.
type seqSet struct {
	bits []uint64
	n    int
}

// add adds seq and tells whether it was new.
func (s *seqSet) add(seq int64) bool {
	w := int(seq >> 6)
	if w >= len(s.bits) {
		s.bits = append(s.bits, make([]uint64, w+1-len(s.bits))...)
	}
	bit := uint64(1) << (seq & 63)
	if s.bits[w]&bit != 0 {
		return false
	}
	s.bits[w] |= bit
	s.n++
	return true
}

// benchComment finds the next bench comment in data (content "fo <seq>
// <send unix nanos>", as fanout and hot send them) and returns its
// numbers and the rest of data after it. A quote inside a JSON string is
// escaped, so the mark cannot be matched inside another field.
func benchComment(data []byte) (seq, sent int64, rest []byte, ok bool) {
	for {
		j := bytes.Index(data, contentMark)
		if j < 0 {
			return 0, 0, nil, false
		}
		data = data[j+len(contentMark):]
		sp := bytes.IndexByte(data, ' ')
		q := bytes.IndexByte(data, '"')
		if sp < 0 || q < sp {
			continue
		}
		var err1, err2 error
		seq, err1 = parseInt(data[:sp])
		sent, err2 = parseInt(data[sp+1 : q])
		if err1 != nil || err2 != nil {
			continue
		}
		return seq, sent, data[q:], true
	}
}

func parseInt(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 19 {
		return 0, fmt.Errorf("bad number %q", b)
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad number %q", b)
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

var (
	addedEvent      = []byte(`2["comment_added",`)
	addedBatchEvent = []byte(`2["comments_added",`)
)

// onCommentd handles one Socket.IO packet of reader i.
func (g *readerGroup) onCommentd(i int, data []byte) {
	g.frames.Add(1)
	if !bytes.HasPrefix(data, addedEvent) && !bytes.HasPrefix(data, addedBatchEvent) {
		return
	}
	g.onComments(i, data)
}

// onComments counts the bench comments of one frame of reader i.
func (g *readerGroup) onComments(i int, data []byte) {
	now := time.Now()
	found := false
	s := &g.hist[i%histShards]
	for {
		seq, sent, rest, ok := benchComment(data)
		if !ok {
			break
		}
		data = rest
		if !found {
			found = true
			s.Lock()
		}
		if !g.seen[i].add(seq) {
			g.duplicates.Add(1)
			continue
		}
		g.deliveries.Add(1)
		recordSince(s.h, now, time.Unix(0, sent))
	}
	if found {
		s.Unlock()
		g.commentFrames.Add(1)
		g.lastNanos.Store(now.UnixNano())
	}
}

// connect opens and joins every reader of the group; tick gets the number
// joined so far.
func connectReaders(ctx context.Context, spec readerSpec, tick func(int)) (*readerGroup, error) {
	g := newReaderGroup(spec)
	sources := sourceAddrs(spec.Sources)
	if spec.Target == targetCentrifugo {
		return g, g.connectCentrifugo(ctx, sources, tick)
	}
	return g, g.connectCommentd(ctx, sources, tick)
}

func newReaderGroup(spec readerSpec) *readerGroup {
	g := &readerGroup{spec: spec, seen: make([]seqSet, spec.Readers)}
	for i := range g.hist {
		g.hist[i].h = newLatency()
	}
	return g
}

// joinArg is join_post's argument: {postId, batch: true}, or the post id.
func joinArg(post string, batch bool) []byte {
	if batch {
		return fmt.Appendf(nil, `{"postId":%s,"batch":true}`, quoted(post))
	}
	return quoted(post)
}

func (g *readerGroup) connectCommentd(ctx context.Context, sources []net.IP, tick func(int)) error {
	joined := make(chan struct{}, g.spec.Readers)
	var made atomic.Int64
	d := newDialer(g.spec.URL)
	conns, err := dialMany(ctx, d, g.spec.Readers, sources, func(i int, c *sioclient.Conn) error {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			once := false
			c.ReadLoop(func(data []byte) {
				if !once {
					if _, _, ok := decodeAck(data); ok {
						once = true
						joined <- struct{}{}
						return
					}
				}
				g.onCommentd(i, data)
			})
			if !c.Closed() {
				g.dropped.Add(1)
			}
		}()
		return c.Emit(1, "join_post", joinArg(g.spec.Post, g.spec.Batch))
	}, nil)
	g.commentd = conns
	if err != nil {
		return err
	}
	for range g.spec.Readers {
		select {
		case <-joined:
			if tick != nil {
				tick(int(made.Add(1)))
			}
		case <-time.After(60 * time.Second):
			return fmt.Errorf("readers: %d of %d joined within 60s", made.Load(), g.spec.Readers)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Comments sent before the join (none in these scenarios) are not counted.
	g.frames.Store(0)
	return nil
}

func (g *readerGroup) connectCentrifugo(ctx context.Context, sources []net.IP, tick func(int)) error {
	dial := func(ctx context.Context, _ int, ip net.IP) (*centrifugoConn, error) {
		return dialCentrifugo(ctx, g.spec.URL, ip, g.spec.Post)
	}
	conns, err := dialConns(ctx, g.spec.Readers, sources, dial, (*centrifugoConn).close, func(i int, c *centrifugoConn) error {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			c.readLoop(func(frame []byte) {
				g.frames.Add(1)
				g.onComments(i, frame)
			})
			if !c.isClosed() {
				g.dropped.Add(1)
			}
		}()
		return nil
	}, tick)
	g.centri = conns
	return err
}

// wait waits until every reader has expect comments, none came for
// quiet, or until deadline.
func (g *readerGroup) wait(ctx context.Context, expect int64, quiet time.Duration, deadline time.Time) {
	want := expect * int64(g.spec.Readers)
	last, lastChange := int64(-1), time.Now()
	for ; time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(50 * time.Millisecond) {
		n := g.deliveries.Load()
		if n >= want {
			return
		}
		if n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) > quiet {
			return
		}
	}
}

// close closes every reader and waits for their goroutines.
func (g *readerGroup) close() {
	for _, c := range g.commentd {
		c.Close()
	}
	for _, c := range g.centri {
		c.close()
	}
	g.wg.Wait()
}

// readerTotals is what a group of readers measured; workers send it to the
// scenario as JSON, which adds them up (merge).
type readerTotals struct {
	Readers       int                    `json:"readers"`
	Deliveries    int64                  `json:"deliveries"`    // unique (reader, comment) pairs
	Duplicates    int64                  `json:"duplicates"`    // comments a reader got again
	Missed        int64                  `json:"missed"`        // sum over readers of expected − received
	MissedReaders int                    `json:"missedReaders"` // readers that missed any
	Disconnected  int64                  `json:"disconnected"`
	CommentFrames int64                  `json:"commentFrames"` // frames holding comments: a comments_added counts once
	Frames        int64                  `json:"frames"`        // every frame after the join
	LastNanos     int64                  `json:"lastNanos"`     // the last delivery, unix ns
	CPUSec        float64                `json:"cpuSec"`        // the worker process's CPU during the run
	Latency       *hdrhistogram.Snapshot `json:"latency"`
}

// totals closes the group and sums what its readers got of expect
// comments each.
func (g *readerGroup) totals(expect int64) readerTotals {
	g.close()
	t := readerTotals{Readers: g.spec.Readers, Deliveries: g.deliveries.Load(), Duplicates: g.duplicates.Load(),
		Disconnected: g.dropped.Load(), CommentFrames: g.commentFrames.Load(), Frames: g.frames.Load(),
		LastNanos: g.lastNanos.Load()}
	for i := range g.seen {
		if miss := expect - int64(g.seen[i].n); miss > 0 {
			t.Missed += miss
			t.MissedReaders++
		}
	}
	all := newLatency()
	for i := range g.hist {
		all.Merge(g.hist[i].h)
	}
	t.Latency = all.Export()
	return t
}

// merge adds o to t.
func (t *readerTotals) merge(o readerTotals) {
	t.Readers += o.Readers
	t.Deliveries += o.Deliveries
	t.Duplicates += o.Duplicates
	t.Missed += o.Missed
	t.MissedReaders += o.MissedReaders
	t.Disconnected += o.Disconnected
	t.CommentFrames += o.CommentFrames
	t.Frames += o.Frames
	t.LastNanos = max(t.LastNanos, o.LastNanos)
	t.CPUSec += o.CPUSec
	if o.Latency != nil {
		h := hdrhistogram.Import(o.Latency)
		if t.Latency != nil {
			h.Merge(hdrhistogram.Import(t.Latency))
		}
		t.Latency = h.Export()
	}
}
