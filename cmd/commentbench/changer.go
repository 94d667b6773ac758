package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/commentd/commentd/internal/sioclient"
)

// opKind is what one operation of the changes scenario does.
type opKind int

const (
	opCreate opKind = iota // new_comment
	opEdit                 // edit_comment of one of the client's own comments
	opDelete               // delete_comment of one of them
	numOps
)

var opEvents = [numOps]string{"new_comment", "edit_comment", "delete_comment"}

// opMix is the share of edits and deletes, each per create: 0.3 and 0.1
// make 3 edits and 1 delete for every 10 comments posted.
type opMix struct {
	Edit, Delete float64
}

// pick draws the next operation from r.
func (m opMix) pick(r *rand.Rand) opKind {
	x := r.Float64() * (1 + m.Edit + m.Delete)
	switch {
	case x < 1:
		return opCreate
	case x < 1+m.Edit:
		return opEdit
	default:
		return opDelete
	}
}

// own is one of a client's confirmed, not deleted comments: the version
// its last ack reported, and when its create was acked.
type own struct {
	id string
	v  int
	at time.Time
}

// pendingOp is an operation waiting for its ack.
type pendingOp struct {
	due    time.Time
	op     opKind
	target own // edit and delete
}

// changer is a connection of one user (auth.mode none: the payload's
// userId acts) that joins one post and, keeping at most window operations
// outstanding, posts comments and edits and deletes its own confirmed
// ones: any comment it posted before the timed phase (warm), or one at
// least minAge old. A comment with an operation outstanding is not picked
// again until that one is acked, so the client never races itself; no
// other client touches its comments. Its reader records ack latency by
// kind (from the time the operation was sent) and counts the room's
// comment_added, comment_updated and comment_removed deliveries.
type changer struct {
	c      *sioclient.Conn
	post   string
	user   string
	create json.RawMessage // the new_comment argument, the same every time
	mix    opMix
	minAge time.Duration
	slots  chan struct{}
	done   chan struct{} // closed when the reader ends
	joined chan bool     // the join_post ack (id 0)

	mu      sync.Mutex
	rng     *rand.Rand
	nextID  int64
	edits   int // numbers the edits' content
	pending map[int64]pendingOp
	ready   []own            // may be changed: confirmed, not deleted, old enough, nothing outstanding
	young   []own            // confirmed, younger than minAge when acked, by ack time
	codes   map[string]int64 // refused operations by error code

	// Written by the reader; read after done or after drain.
	createLat, changeLat *hdrhistogram.Histogram

	ok, failed [numOps]atomic.Int64
	deliveries atomic.Int64
}

// newChanger joins post on c as user and waits for the join's ack; c is
// closed on failure.
func newChanger(ctx context.Context, c *sioclient.Conn, post, user string, window int, mix opMix, minAge time.Duration, seed uint64) (*changer, error) {
	body, _ := json.Marshal(map[string]string{"postId": post, "userId": user, "content": benchContent})
	ch := &changer{c: c, post: post, user: user, create: body, mix: mix, minAge: minAge, slots: make(chan struct{}, window),
		done: make(chan struct{}), joined: make(chan bool, 1), rng: rand.New(rand.NewPCG(seed, 0x636f6d6d656e7464)),
		pending: map[int64]pendingOp{}, codes: map[string]int64{}, createLat: newLatency(), changeLat: newLatency()}
	go func() {
		defer close(ch.done)
		c.ReadLoop(ch.packet)
	}()
	if err := joinPost(ctx, c, post, ch.joined, ch.done); err != nil {
		return nil, err
	}
	return ch, nil
}

// dialChangers opens n changers, user prefix-i on post prefix-(i%posts).
func dialChangers(ctx context.Context, d dialer, prefix string, n, posts, window int, mix opMix, minAge time.Duration, seed uint64) ([]*changer, error) {
	cs := make([]*changer, n)
	_, err := dialMany(ctx, d, n, sourceAddrs(1), func(i int, c *sioclient.Conn) error {
		ch, err := newChanger(ctx, c, fmt.Sprintf("%s-%d", prefix, i%posts), fmt.Sprintf("%s-user-%d", prefix, i),
			window, mix, minAge, seed+uint64(i))
		cs[i] = ch
		return err
	}, nil)
	if err != nil {
		var made []*changer
		for _, ch := range cs {
			if ch != nil {
				made = append(made, ch)
			}
		}
		closeChangers(made)
		return nil, err
	}
	return cs, nil
}

func closeChangers(cs []*changer) {
	for _, ch := range cs {
		ch.c.Close()
	}
	for _, ch := range cs {
		<-ch.done
	}
}

// send sends one operation drawn from the mix, waiting for a free slot.
// It returns false when the connection is gone or ctx ended.
func (ch *changer) send(ctx context.Context) bool { return ch.sendOp(ctx, -1) }

// warm posts n comments and waits for their acks.
func (ch *changer) warm(ctx context.Context, n int) bool {
	for range n {
		if !ch.sendOp(ctx, opCreate) {
			return false
		}
	}
	ch.drain(30 * time.Second)
	return true
}

// reset makes every comment so far changeable and clears the counters, so
// the timed phase starts with comments of the client's own to change
// (stored ones, once the caller saw the buffer empty). Call it with
// nothing outstanding.
func (ch *changer) reset() {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.ready = append(ch.ready, ch.young...)
	ch.young = ch.young[:0]
	clear(ch.codes)
	for op := range numOps {
		ch.ok[op].Store(0)
		ch.failed[op].Store(0)
	}
	ch.deliveries.Store(0)
	ch.createLat.Reset()
	ch.changeLat.Reset()
}

// sendOp sends op, or one drawn from the mix if op < 0, waiting for a free
// slot. An edit or delete with no comment ready for it is a create.
func (ch *changer) sendOp(ctx context.Context, op opKind) bool {
	select {
	case ch.slots <- struct{}{}:
	case <-ch.done:
		return false
	case <-ctx.Done():
		return false
	}
	now := time.Now()
	ch.mu.Lock()
	if op < 0 {
		op = ch.mix.pick(ch.rng)
	}
	for len(ch.young) > 0 && now.Sub(ch.young[0].at) >= ch.minAge {
		ch.ready = append(ch.ready, ch.young[0])
		ch.young = ch.young[1:]
	}
	if op != opCreate && len(ch.ready) == 0 {
		op = opCreate // nothing of its own to change yet
	}
	p := pendingOp{due: now, op: op}
	body := ch.create
	if op != opCreate {
		i := ch.rng.IntN(len(ch.ready))
		p.target = ch.ready[i]
		ch.ready[i] = ch.ready[len(ch.ready)-1]
		ch.ready = ch.ready[:len(ch.ready)-1]
		body = ch.changeBodyLocked(op, p.target)
	}
	ch.nextID++
	id := ch.nextID
	ch.pending[id] = p
	ch.mu.Unlock()
	return ch.c.Emit(id, opEvents[op], body) == nil
}

// changeBodyLocked is the argument of an edit (with the version the client last
// saw, so a lost update would show as CONFLICT) or a delete; ch.mu held.
func (ch *changer) changeBodyLocked(op opKind, t own) json.RawMessage {
	req := map[string]any{"postId": ch.post, "commentId": t.id, "userId": ch.user}
	if op == opEdit {
		ch.edits++
		req["content"] = benchContent + " (edit " + strconv.Itoa(ch.edits) + ")"
		req["v"] = t.v
	}
	b, _ := json.Marshal(req)
	return b
}

// drain waits until nothing is outstanding, up to timeout.
func (ch *changer) drain(timeout time.Duration) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for range cap(ch.slots) {
		select {
		case ch.slots <- struct{}{}:
		case <-ch.done:
			return
		case <-t.C:
			return
		}
	}
	for range cap(ch.slots) {
		<-ch.slots
	}
}

var (
	updatedPrefix = []byte(`2["comment_updated",`)
	removedPrefix = []byte(`2["comment_removed",`)
)

func (ch *changer) packet(data []byte) {
	now := time.Now()
	id, payload, isAck := decodeAck(data)
	if !isAck {
		if bytes.HasPrefix(data, addedPrefix) || bytes.HasPrefix(data, updatedPrefix) || bytes.HasPrefix(data, removedPrefix) {
			ch.deliveries.Add(1)
		}
		return
	}
	if id == 0 {
		ch.joined <- ackOK(payload)
		return
	}
	ch.mu.Lock()
	p, ok := ch.pending[id]
	delete(ch.pending, id)
	if !ok {
		ch.mu.Unlock()
		return
	}
	good := ackOK(payload)
	switch {
	case good && p.op == opCreate:
		if cid, v, ok := decodeAckedComment(payload); ok {
			ch.young = append(ch.young, own{id: cid, v: v, at: now})
		}
	case good && p.op == opEdit:
		t := p.target
		if _, v, ok := decodeAckedComment(payload); ok {
			t.v = v
		}
		ch.ready = append(ch.ready, t)
	case !good && p.op != opCreate:
		ch.ready = append(ch.ready, p.target) // refused: it is as it was
	}
	if !good {
		ch.codes[decodeErrorCode(payload)]++
	}
	ch.mu.Unlock()
	if good {
		ch.ok[p.op].Add(1)
		if p.op == opCreate {
			recordSince(ch.createLat, now, p.due)
		} else {
			recordSince(ch.changeLat, now, p.due)
		}
	} else {
		ch.failed[p.op].Add(1)
	}
	<-ch.slots
}

// changerTotals sums the changers' counters: confirmed and failed
// operations by kind, and deliveries.
func changerTotals(cs []*changer) (ok, failed [numOps]int64, deliveries int64) {
	for _, ch := range cs {
		for op := range numOps {
			ok[op] += ch.ok[op].Load()
			failed[op] += ch.failed[op].Load()
		}
		deliveries += ch.deliveries.Load()
	}
	return
}

// changerCodes sums the error codes of refused operations; call after the
// changers finished.
func changerCodes(cs []*changer) map[string]int64 {
	out := map[string]int64{}
	for _, ch := range cs {
		ch.mu.Lock()
		for code, n := range ch.codes {
			out[code] += n
		}
		ch.mu.Unlock()
	}
	return out
}

// mergeChangeLatency merges the changers' histograms; call after they
// finished.
func mergeChangeLatency(cs []*changer) (create, change *hdrhistogram.Histogram) {
	create, change = newLatency(), newLatency()
	for _, ch := range cs {
		create.Merge(ch.createLat)
		change.Merge(ch.changeLat)
	}
	return
}
