package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/commentd/commentd/internal/sioclient"
)

// defaultReactions are commentd's reactions.allowed by default, the most
// used first: a user picks the i-th with weight 1/(i+1).
var defaultReactions = []string{"👍", "❤️", "😂", "😮", "😢"}

// userReaction is one user's reaction of one kind: on or off.
type userReaction struct {
	user int // index into the reactor's users
	kind int // index into the reactor's kinds
}

// pendingReact is a react waiting for its ack.
type pendingReact struct {
	due time.Time
	ur  userReaction
	on  bool
}

// reactor is a connection that reacts to one comment on behalf of many
// users of its own (auth.mode none: the payload's userId acts), keeping
// at most window reacts outstanding. Each react changes something: it
// gives a reaction the user does not have, or (a share off of them) takes
// back one the user gave. A user's reaction with a react outstanding is
// not picked again until it is acked, so the client never races itself,
// and no other reactor has its users: what it holds on is what the
// server must count. It does not join the post.
type reactor struct {
	c       *sioclient.Conn
	post    string
	comment string
	users   []string
	kinds   []string
	weights []float64 // cumulative, over kinds
	off     float64
	slots   chan struct{}
	done    chan struct{} // closed when the reader ends

	mu      sync.Mutex
	rng     *rand.Rand
	nextID  int64
	pending map[int64]pendingReact
	on      []userReaction       // given and acked, not being taken back
	onAt    map[userReaction]int // index in on
	busy    map[userReaction]bool
	codes   map[string]int64 // refused reacts by error code

	lat *hdrhistogram.Histogram // written by the reader; read after done or drain

	reacts, unreacts, failed atomic.Int64
}

func newReactor(c *sioclient.Conn, post, commentID string, users, kinds []string, window int, off float64, seed uint64) *reactor {
	r := &reactor{c: c, post: post, comment: commentID, users: users, kinds: kinds, off: off,
		slots: make(chan struct{}, window), done: make(chan struct{}), rng: rand.New(rand.NewPCG(seed, 0x7265616374)),
		pending: map[int64]pendingReact{}, onAt: map[userReaction]int{}, busy: map[userReaction]bool{},
		codes: map[string]int64{}, lat: newLatency()}
	sum := 0.0
	for i := range kinds {
		sum += 1 / float64(i+1)
		r.weights = append(r.weights, sum)
	}
	go func() {
		defer close(r.done)
		c.ReadLoop(r.packet)
	}()
	return r
}

// dialReactors opens n reactors; reactor i has the users userIDs[j] with
// j%n == i.
func dialReactors(ctx context.Context, d dialer, n int, post, commentID string, userIDs, kinds []string, window int, off float64, seed uint64) ([]*reactor, error) {
	return dialEach(ctx, d, n, func(i int, c *sioclient.Conn) (*reactor, error) {
		var users []string
		for j := i; j < len(userIDs); j += n {
			users = append(users, userIDs[j])
		}
		return newReactor(c, post, commentID, users, kinds, window, off, seed+uint64(i)), nil
	}, closeReactors)
}

// dialEach opens n connections (dialMany) and makes each a T; on failure
// it closes the ones made with closeAll.
func dialEach[T any](ctx context.Context, d dialer, n int, build func(i int, c *sioclient.Conn) (T, error), closeAll func([]T)) ([]T, error) {
	out := make([]T, n)
	ok := make([]bool, n)
	_, err := dialMany(ctx, d, n, sourceAddrs(1), func(i int, c *sioclient.Conn) error {
		t, err := build(i, c)
		out[i], ok[i] = t, err == nil
		return err
	}, nil)
	if err != nil {
		var made []T
		for i, t := range out {
			if ok[i] {
				made = append(made, t)
			}
		}
		closeAll(made)
		return nil, err
	}
	return out, nil
}

func closeReactors(rs []*reactor) {
	for _, r := range rs {
		r.c.Close()
	}
	for _, r := range rs {
		<-r.done
	}
}

// send sends one react, waiting for a free slot. It returns false when the
// connection is gone or ctx ended.
func (r *reactor) send(ctx context.Context) bool {
	select {
	case r.slots <- struct{}{}:
	case <-r.done:
		return false
	case <-ctx.Done():
		return false
	}
	r.mu.Lock()
	ur, on, ok := r.pickLocked()
	if !ok {
		r.mu.Unlock()
		<-r.slots // every user has every reaction, or has one outstanding
		return true
	}
	r.busy[ur] = true
	r.nextID++
	id := r.nextID
	r.pending[id] = pendingReact{due: time.Now(), ur: ur, on: on}
	r.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"postId": r.post, "commentId": r.comment, "reaction": r.kinds[ur.kind],
		"on": on, "userId": r.users[ur.user]})
	return r.c.Emit(id, "react", body) == nil
}

// pickLocked draws the next react: taking back one of the reactions on
// (share off), else giving one a user does not have; r.mu held.
func (r *reactor) pickLocked() (userReaction, bool, bool) {
	if len(r.on) > 0 && r.rng.Float64() < r.off {
		return r.takeOnLocked(r.rng.IntN(len(r.on))), false, true
	}
	for range 16 {
		ur := userReaction{user: r.rng.IntN(len(r.users)), kind: r.pickKind()}
		if _, on := r.onAt[ur]; !on && !r.busy[ur] {
			return ur, true, true
		}
	}
	if len(r.on) > 0 {
		return r.takeOnLocked(r.rng.IntN(len(r.on))), false, true
	}
	return userReaction{}, false, false
}

func (r *reactor) pickKind() int {
	x := r.rng.Float64() * r.weights[len(r.weights)-1]
	for i, w := range r.weights {
		if x < w {
			return i
		}
	}
	return len(r.weights) - 1
}

// takeOnLocked removes the i-th reaction from on and returns it; r.mu held.
func (r *reactor) takeOnLocked(i int) userReaction {
	ur := r.on[i]
	last := r.on[len(r.on)-1]
	r.on[i] = last
	r.onAt[last] = i
	r.on = r.on[:len(r.on)-1]
	delete(r.onAt, ur)
	return ur
}

func (r *reactor) putOnLocked(ur userReaction) {
	r.onAt[ur] = len(r.on)
	r.on = append(r.on, ur)
}

// drain waits until nothing is outstanding, up to timeout.
func (r *reactor) drain(timeout time.Duration) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for range cap(r.slots) {
		select {
		case r.slots <- struct{}{}:
		case <-r.done:
			return
		case <-t.C:
			return
		}
	}
	for range cap(r.slots) {
		<-r.slots
	}
}

func (r *reactor) packet(data []byte) {
	now := time.Now()
	id, payload, isAck := decodeAck(data)
	if !isAck {
		return
	}
	good := ackOK(payload)
	r.mu.Lock()
	p, ok := r.pending[id]
	delete(r.pending, id)
	if !ok {
		r.mu.Unlock()
		return
	}
	delete(r.busy, p.ur)
	switch {
	case good && p.on:
		r.putOnLocked(p.ur)
	case !good && !p.on:
		r.putOnLocked(p.ur) // refused: it is still on
	}
	if !good {
		r.codes[decodeErrorCode(payload)]++
	}
	r.mu.Unlock()
	switch {
	case !good:
		r.failed.Add(1)
	case p.on:
		r.reacts.Add(1)
	default:
		r.unreacts.Add(1)
	}
	if good {
		recordSince(r.lat, now, p.due)
	}
	<-r.slots
}

// expected returns how many of each reaction the reactor's users hold,
// as acked; call with nothing outstanding.
func (r *reactor) expected(into map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ur := range r.on {
		into[r.kinds[ur.kind]]++
	}
}

// reactorTotals sums the reactors' counters.
func reactorTotals(rs []*reactor) (reacts, unreacts, failed int64) {
	for _, r := range rs {
		reacts += r.reacts.Load()
		unreacts += r.unreacts.Load()
		failed += r.failed.Load()
	}
	return
}

var reactionsPrefix = []byte(`2["comment_reactions",`)

// pushReader is a reader of the post: it counts the comment_reactions it
// receives, by second since start, and keeps the last one's counts.
type pushReader struct {
	c      *sioclient.Conn
	start  time.Time
	done   chan struct{}
	joined chan bool

	mu      sync.Mutex
	perSec  []int         // events received in each second since start
	lastAt  time.Time     // when the last one counted was received
	minGap  time.Duration // the shortest time between two counted ones
	last    []byte        // the last event's packet
	pushes  atomic.Int64
	started atomic.Bool // counting only after the load starts
}

func newPushReader(ctx context.Context, c *sioclient.Conn, post string, seconds int) (*pushReader, error) {
	pr := &pushReader{c: c, done: make(chan struct{}), joined: make(chan bool, 1), perSec: make([]int, seconds)}
	go func() {
		defer close(pr.done)
		c.ReadLoop(pr.packet)
	}()
	if err := joinPost(ctx, c, post, pr.joined, pr.done); err != nil {
		return nil, err
	}
	return pr, nil
}

// begin starts counting, from now.
func (pr *pushReader) begin(now time.Time) {
	pr.mu.Lock()
	pr.start = now
	pr.mu.Unlock()
	pr.started.Store(true)
}

func (pr *pushReader) packet(data []byte) {
	if id, payload, ok := decodeAck(data); ok {
		if id == 0 {
			pr.joined <- ackOK(payload)
		}
		return
	}
	if !bytes.HasPrefix(data, reactionsPrefix) {
		return
	}
	now := time.Now()
	pr.mu.Lock()
	pr.last = append(pr.last[:0], data...)
	if pr.started.Load() {
		if s := int(now.Sub(pr.start) / time.Second); s >= 0 && s < len(pr.perSec) {
			pr.perSec[s]++
		}
		if gap := now.Sub(pr.lastAt); !pr.lastAt.IsZero() && (pr.minGap == 0 || gap < pr.minGap) {
			pr.minGap = gap
		}
		pr.lastAt = now
	}
	pr.mu.Unlock()
	if pr.started.Load() {
		pr.pushes.Add(1)
	}
}

// maxPerSec returns the most events received within one second of the
// first n seconds.
func (pr *pushReader) maxPerSec(n int) int {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	m := 0
	for _, v := range pr.perSec[:min(n, len(pr.perSec))] {
		m = max(m, v)
	}
	return m
}

// shortestGap returns the shortest time between two events received
// after begin; 0 if fewer than two.
func (pr *pushReader) shortestGap() time.Duration {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.minGap
}

// lastCounts returns the reactions of the last comment_reactions received.
func (pr *pushReader) lastCounts() (map[string]int, bool) {
	pr.mu.Lock()
	data := bytes.Clone(pr.last)
	pr.mu.Unlock()
	var ev []json.RawMessage
	if len(data) == 0 || json.Unmarshal(data[1:], &ev) != nil || len(ev) < 2 {
		return nil, false
	}
	var arg struct {
		Reactions map[string]int `json:"reactions"`
	}
	if json.Unmarshal(ev[1], &arg) != nil {
		return nil, false
	}
	return arg.Reactions, true
}

func dialPushReaders(ctx context.Context, d dialer, n int, post string, seconds int) ([]*pushReader, error) {
	prs, err := dialEach(ctx, d, n, func(_ int, c *sioclient.Conn) (*pushReader, error) {
		return newPushReader(ctx, c, post, seconds)
	}, closePushReaders)
	if err != nil {
		return nil, fmt.Errorf("readers: %w", err)
	}
	return prs, nil
}

func closePushReaders(prs []*pushReader) {
	for _, pr := range prs {
		pr.c.Close()
	}
	for _, pr := range prs {
		<-pr.done
	}
}
