package api

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/commentd/commentd/realtime/socketio"
)

// Coalesced delivery for busy posts. A reader who joins with
// {postId, batch: true} is also in the post's batch room; the comments
// that arrive within a window go to the batch room as one comments_added
// [comment, ...] frame, and the visible comments' reaction counts as one
// comments_reactions [...] frame, instead of a frame each. With
// hot.threshold set, a post past that many comments per second sends
// every reader its comments that way until it cools down (below half the
// threshold for a second).
//
// Notices of what the post is (comment_persisted, post_info's count and
// viewers) go with the window too, and a window's events reach each
// batching reader in one write: a reader costs one write per window, not
// one per event. Order: a change of a comment (and a lock) first sends
// what waits, under the post's lock, so a batching reader gets the post's
// events in the post's order.

// BatchConfig configures coalesced delivery.
type BatchConfig struct {
	Window    time.Duration // hot.window: how long comments wait for company; 100ms
	Threshold float64       // hot.threshold: comments per second past which a post's readers all get batches; 0 = only those who ask
}

// batchRoom is the room of a post's readers who asked for batches.
func batchRoom(postID string) string { return "batch_" + postID }

// batches holds each post's waiting comments.
type batches struct {
	mu      sync.Mutex
	m       map[string]*postBatch
	swept   time.Time
	stopped bool
}

// postBatch is a post's window: what waits, and how busy the post is.
type postBatch struct {
	mu        sync.Mutex
	postID    string
	comments  [][]byte          // comment_added payloads, in the post's order
	lastID    string            // the last waiting comment's id: the frame's offset
	reactions map[string][]byte // comment id → comment_reactions payload, the latest
	order     []string          // reactions' comment ids, first come first
	notices   []socketio.Emit   // comment_persisted and post_info (count, viewers) for batching readers
	timer     *time.Timer       // ends the window; nil while nothing waits
	hot       bool              // past hot.threshold: every reader batches
	rateFrom  time.Time
	rateN     int
	seen      time.Time // last comment
}

// batchIdle is how long a post's window state outlives its last comment.
const batchIdle = 10 * time.Second

// batchOf returns postID's window state, made (if create) if the post has batching
// readers or a threshold applies; nil else (the post sends as usual).
func (a *Comments) batchOf(postID string, create bool) *postBatch {
	b := &a.batches
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return nil
	}
	pb := b.m[postID]
	if pb != nil || !create {
		return pb
	}
	if a.cfg.Batch.Threshold <= 0 && a.nsp.RoomLen(batchRoom(postID)) == 0 {
		return nil
	}
	now := time.Now()
	if now.Sub(b.swept) > batchIdle {
		b.swept = now
		for id, old := range b.m {
			if old.idle(now) {
				delete(b.m, id)
			}
		}
	}
	if b.m == nil {
		b.m = map[string]*postBatch{}
	}
	pb = &postBatch{postID: postID, rateFrom: now, seen: now}
	b.m[postID] = pb
	return pb
}

// idle reports whether nothing waits and no comment came lately.
func (pb *postBatch) idle(now time.Time) bool {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	return pb.timer == nil && now.Sub(pb.seen) > batchIdle
}

// stopBatches drops what waits: the node is closing.
func (a *Comments) stopBatches() {
	b := &a.batches
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopped = true
	for id, pb := range b.m {
		pb.mu.Lock()
		if pb.timer != nil {
			pb.timer.Stop()
		}
		pb.mu.Unlock()
		delete(b.m, id)
	}
}

// batchComment delivers a new visible comment: at once to the readers
// who do not batch, and into the window of those who do.
func (a *Comments) batchComment(postID, id string, payload []byte) {
	pb := a.batchOf(postID, true)
	if pb == nil {
		a.nsp.EmitToRaw(Room(postID), nil, "comment_added", a.args(id, payload)...)
		return
	}
	pb.mu.Lock()
	defer pb.mu.Unlock()
	now := time.Now()
	pb.seen = now
	if hot := pb.busy(now, a.cfg.Batch.Threshold); hot != pb.hot {
		a.flushLocked(pb) // what waits goes to whom it was kept for
		pb.hot = hot
	}
	if !a.plainFirst(pb, "comment_added", a.args(id, payload)...) {
		a.nsp.EmitToRaw(Room(postID), nil, "comment_added", a.args(id, payload)...)
		return // nobody batches
	}
	pb.comments = append(pb.comments, payload)
	pb.lastID = id
	a.startWindow(pb)
}

// plainFirst sends event at once to the readers of pb's post who do not
// batch (none while the post is hot). It reports whether any reader
// batches; if none does, it sent nothing. pb.mu is held.
func (a *Comments) plainFirst(pb *postBatch, event string, args ...json.RawMessage) bool {
	if pb.hot {
		return true
	}
	room, br := Room(pb.postID), batchRoom(pb.postID)
	switch n := a.nsp.RoomLen(br); {
	case n == 0:
		return false
	case n < a.nsp.RoomLen(room):
		a.nsp.EmitToRawOutside(room, br, event, args...)
	}
	return true
}

// busy counts a comment and reports whether the post is past threshold
// comments per second (once past it, until below half for a second).
func (pb *postBatch) busy(now time.Time, threshold float64) bool {
	if threshold <= 0 {
		return false
	}
	hot := pb.hot
	if d := now.Sub(pb.rateFrom); d >= time.Second {
		rate := 0.0 // a second or more without comments
		if d < 2*time.Second {
			rate = float64(pb.rateN) / d.Seconds()
		}
		hot = rate >= threshold || (hot && rate >= threshold/2)
		pb.rateFrom, pb.rateN = now, 0
	}
	pb.rateN++
	return hot || float64(pb.rateN) >= threshold
}

// batchReactions puts a visible comment's counts (comment_reactions'
// payload) in the window of the post's batching readers, and sends them
// at once to the others. It reports false if the post has no window.
func (a *Comments) batchReactions(postID, commentID string, payload []byte) bool {
	pb := a.batchOf(postID, false)
	if pb == nil {
		return false
	}
	pb.mu.Lock()
	defer pb.mu.Unlock()
	if !a.plainFirst(pb, "comment_reactions", payload) {
		return false
	}
	if pb.reactions == nil {
		pb.reactions = map[string][]byte{}
	}
	if _, ok := pb.reactions[commentID]; !ok {
		pb.order = append(pb.order, commentID)
	}
	pb.reactions[commentID] = payload
	a.startWindow(pb)
	return true
}

// startWindow ends pb's window after hot.window, if it is not running.
// pb.mu is held.
func (a *Comments) startWindow(pb *postBatch) {
	if pb.timer != nil {
		return
	}
	window := a.cfg.Batch.Window
	if window <= 0 {
		window = 100 * time.Millisecond
	}
	pb.timer = time.AfterFunc(window, func() {
		pb.mu.Lock()
		defer pb.mu.Unlock()
		a.flushLocked(pb)
	})
}

// flushLocked sends what waits in pb's window, each reader's in one
// write: comments_added, comments_reactions, then the notices. pb.mu is
// held.
func (a *Comments) flushLocked(pb *postBatch) {
	if pb.timer != nil {
		pb.timer.Stop()
		pb.timer = nil
	}
	room := batchRoom(pb.postID)
	if pb.hot {
		room = Room(pb.postID)
	}
	var events []socketio.Emit
	if len(pb.comments) > 0 {
		events = append(events, socketio.Emit{Event: "comments_added", Args: a.args(pb.lastID, joinArray(pb.comments))})
		clear(pb.comments)
		pb.comments = pb.comments[:0]
	}
	if len(pb.order) > 0 {
		list := make([][]byte, len(pb.order))
		for i, id := range pb.order {
			list[i] = pb.reactions[id]
		}
		events = append(events, socketio.Emit{Event: "comments_reactions", Args: []json.RawMessage{joinArray(list)}})
		clear(pb.reactions)
		pb.order = pb.order[:0]
	}
	events = append(events, pb.notices...)
	clear(pb.notices)
	pb.notices = pb.notices[:0]
	a.nsp.EmitManyToRaw(room, events)
}

// notice sends event to the post's room: at once to readers who do not
// batch, with the window to those who do (a notice of what the post is,
// not a change of a comment: comment_persisted, post_info's count and
// viewers), so that a batching reader gets one write a window.
func (a *Comments) notice(postID, event string, args ...json.RawMessage) {
	pb := a.batchOf(postID, false)
	if pb == nil {
		a.nsp.EmitToRaw(Room(postID), nil, event, args...)
		return
	}
	pb.mu.Lock()
	defer pb.mu.Unlock()
	if !a.plainFirst(pb, event, args...) {
		a.flushLocked(pb)
		a.nsp.EmitToRaw(Room(postID), nil, event, args...)
		return
	}
	pb.notices = append(pb.notices, socketio.Emit{Event: event, Args: args})
	a.startWindow(pb)
}

// inOrder runs emit, an event to the post's room, after what waits in the
// post's window, so that batching readers get the post's events in order.
func (a *Comments) inOrder(postID string, emit func()) {
	pb := a.batchOf(postID, false)
	if pb == nil {
		emit()
		return
	}
	pb.mu.Lock()
	defer pb.mu.Unlock()
	a.flushLocked(pb)
	emit()
}

// joinArray returns the JSON array of values.
func joinArray(values [][]byte) json.RawMessage {
	n := 2
	for _, v := range values {
		n += len(v) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, v := range values {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, v...)
	}
	return append(b, ']')
}
