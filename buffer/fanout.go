package buffer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/redis/go-redis/v9"
)

// Fanout receives the comments published on the channels of posts this
// node has readers of. Subscriptions are counted: the first Subscribe of a
// post subscribes in Redis, the last Unsubscribe unsubscribes.
//
// Each shard has one sharded pub/sub connection (its channels share a hash
// slot) and one goroutine that calls the handler, so a post's comments are
// handled one at a time in the order Redis published them: the buffer's
// order. go-redis resubscribes after a reconnect; the comments a post got
// meanwhile are then read from its recent list and handled, after the last
// one handled before, so readers miss none.
type Fanout struct {
	b       *Buffer
	handler Handler

	mu     sync.Mutex
	refs   map[string]int
	last   map[string]string          // post → id of the last comment handled
	skip   map[string]map[string]bool // post → ids a catch-up handled
	shards map[int]*fanShard
	closed bool
	wg     sync.WaitGroup
}

type fanShard struct {
	ps      *redis.PubSub
	waiters map[string][]chan struct{} // channel → waiting for its confirmation
}

// Handler receives what the Fanout delivers for the posts subscribed to,
// one post's events at a time, in the buffer's order. api.Comments is the
// implementation: it sends them to the post's room on this node.
type Handler interface {
	// HandleComment gets a new comment: its id and JSON, as published.
	HandleComment(postID, id string, payload []byte)
	// HandleChange gets a change to a comment of the post; payload is the
	// change record's JSON. After a resubscribe, the Fanout may deliver the
	// current state of a comment changed meanwhile as a change of Op "".
	HandleChange(postID string, ch comment.Change, payload []byte)
	// HandlePersisted gets the ids of the post's comments now in MongoDB.
	HandlePersisted(postID string, ids []string)
}

// NewFanout returns a Fanout. RegisterHandler must be called before the
// first Subscribe.
func (b *Buffer) NewFanout() *Fanout {
	return &Fanout{b: b, refs: make(map[string]int), last: make(map[string]string),
		skip:   make(map[string]map[string]bool),
		shards: make(map[int]*fanShard)}
}

// RegisterHandler sets who receives the events of subscribed posts.
func (f *Fanout) RegisterHandler(h Handler) {
	f.mu.Lock()
	f.handler = h
	f.mu.Unlock()
}

// Subscribe counts a reader of postID on this node. The first one
// subscribes in Redis and returns once Redis confirmed it, so that every
// comment appended after Subscribe returns reaches the handler.
func (f *Fanout) Subscribe(ctx context.Context, postID string) error {
	ch := f.b.Channel(postID)
	shard := f.b.Shard(postID)
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return ErrClosed
	}
	f.refs[postID]++
	if f.refs[postID] == 1 {
		f.last[postID] = comment.IDFloor(time.Now())
	}
	wait := make(chan struct{})
	sh, created := f.shardLocked(ctx, shard, ch, wait)
	first := f.refs[postID] == 1 && !created
	if !created && !first && len(sh.waiters[ch]) == 0 {
		// Subscribed and confirmed: the first subscriber's waiter is
		// there until the confirmation. Decided under the same lock as
		// the waiter is added: a waiter added after the confirmation
		// would wait for one that never comes.
		f.mu.Unlock()
		return nil
	}
	if !created {
		// The first subscriber, or a later one whose confirmation is on
		// its way: wait for it, so both see the same stream.
		sh.waiters[ch] = append(sh.waiters[ch], wait)
	}
	f.mu.Unlock()

	if first {
		if err := sh.ps.SSubscribe(ctx, ch); err != nil {
			f.mu.Lock()
			f.dropWaiterLocked(sh, ch, wait)
			f.mu.Unlock()
			f.Unsubscribe(postID)
			return fmt.Errorf("subscribe to post: %w", classify(err))
		}
	}
	select {
	case <-wait:
		return nil
	case <-ctx.Done():
		f.mu.Lock()
		f.dropWaiterLocked(sh, ch, wait)
		f.mu.Unlock()
		f.Unsubscribe(postID)
		return fmt.Errorf("subscribe to post: %w", ctx.Err())
	}
}

func (f *Fanout) dropWaiterLocked(sh *fanShard, ch string, w chan struct{}) {
	ws := sh.waiters[ch]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(sh.waiters, ch)
	} else {
		sh.waiters[ch] = ws
	}
}

// Unsubscribe uncounts a reader of postID; the last one unsubscribes.
func (f *Fanout) Unsubscribe(postID string) {
	f.mu.Lock()
	n := f.refs[postID] - 1
	if n > 0 {
		f.refs[postID] = n
		f.mu.Unlock()
		return
	}
	delete(f.refs, postID)
	delete(f.last, postID)
	delete(f.skip, postID)
	sh := f.shards[f.b.Shard(postID)]
	closed := f.closed
	f.mu.Unlock()
	if sh != nil && !closed {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := sh.ps.SUnsubscribe(ctx, f.b.Channel(postID)); err != nil {
			f.b.cfg.Logger.Warn("buffer: unsubscribe", "post", postID, "err", err)
		}
	}
}

// Subscribed returns the number of posts subscribed to.
func (f *Fanout) Subscribed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.refs)
}

// shardLocked returns the shard's connection. A new one is subscribed to ch
// (with wait as its first waiter) before its receiver starts: on Redis
// Cluster the connection goes to the node of its first channel's slot,
// which all of the shard's channels share.
func (f *Fanout) shardLocked(ctx context.Context, shard int, ch string, wait chan struct{}) (*fanShard, bool) {
	sh, ok := f.shards[shard]
	if ok {
		return sh, false
	}
	sh = &fanShard{waiters: map[string][]chan struct{}{ch: {wait}}}
	// An error here is retried: go-redis keeps the channel and subscribes
	// again when the receiver reconnects.
	sh.ps = f.b.rdb.SSubscribe(ctx, ch)
	f.shards[shard] = sh
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		f.receive(sh)
	}()
	return sh, true
}

// receive handles a shard connection's messages until Close.
func (f *Fanout) receive(sh *fanShard) {
	ctx := context.Background()
	for {
		msg, err := sh.ps.Receive(ctx)
		if err != nil {
			if errors.Is(err, redis.ErrClosed) {
				return
			}
			f.mu.Lock()
			closed := f.closed
			f.mu.Unlock()
			if closed {
				return
			}
			// Not yet subscribed, or the connection broke: go-redis
			// reconnects and resubscribes on the next Receive.
			time.Sleep(100 * time.Millisecond)
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "ssubscribe" {
				continue
			}
			f.mu.Lock()
			ws := sh.waiters[m.Channel]
			delete(sh.waiters, m.Channel)
			f.mu.Unlock()
			for _, w := range ws {
				close(w)
			}
			if len(ws) == 0 {
				// Nobody asked: go-redis resubscribed after a reconnect.
				if _, postID, ok := strings.Cut(m.Channel, "}:post:"); ok {
					f.catchUp(postID)
				}
			}
		case *redis.Message:
			_, postID, ok := strings.Cut(m.Channel, "}:post:")
			if ok {
				f.deliver(postID, m.Payload)
			}
		}
	}
}

// deliver hands a message to the handler and remembers the id of a
// comment. Comments that a catch-up handled already are skipped: after a
// resubscribe, the first live messages may be the last ones of the recent
// list.
func (f *Fanout) deliver(postID, payload string) {
	if strings.HasPrefix(payload, persistedPrefix) {
		var n persistedNotice
		if json.Unmarshal([]byte(payload), &n) == nil {
			f.handler.HandlePersisted(postID, n.Persisted)
		}
		return
	}
	var ch comment.Change
	isChange := comment.IsChangeJSON([]byte(payload))
	id := ""
	if isChange {
		if err := ch.UnmarshalJSON([]byte(payload)); err != nil {
			f.b.cfg.Logger.Error("buffer: undecodable change published", "post", postID, "err", err)
			return
		}
		id = ch.ID
	} else {
		id = commentID(payload)
	}
	f.mu.Lock()
	if seen := f.skip[postID]; seen != nil {
		if seen[id] {
			f.mu.Unlock()
			return
		}
		delete(f.skip, postID) // past the overlap
	}
	if _, ok := f.refs[postID]; ok && id != "" && id > f.last[postID] {
		f.last[postID] = id
	}
	f.mu.Unlock()
	if isChange {
		f.handler.HandleChange(postID, ch, []byte(payload))
		return
	}
	f.handler.HandleComment(postID, id, []byte(payload))
}

// commentID reads the _id of a published comment, which comes first.
func commentID(payload string) string {
	const prefix = `{"_id":"`
	if len(payload) >= len(prefix)+24 && payload[:len(prefix)] == prefix {
		return payload[len(prefix) : len(prefix)+24]
	}
	var c struct {
		ID string `json:"_id"`
	}
	json.Unmarshal([]byte(payload), &c)
	return c.ID
}

// catchUp handles the comments a post got while its channel was not
// subscribed: those of its recent list after the last one handled.
func (f *Fanout) catchUp(postID string) {
	f.mu.Lock()
	last, ok := f.last[postID]
	f.mu.Unlock()
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	raw, err := f.b.rdb.LRange(ctx, f.b.recentKey(f.b.Shard(postID), postID), 0, -1).Result()
	if err != nil {
		f.b.cfg.Logger.Warn("buffer: catch up after resubscribe", "post", postID, "err", err)
		return
	}
	missed := raw[:0:0]
	found := false
	for i, p := range raw {
		if commentID(p) == last {
			missed, found = raw[i+1:], true
			break
		}
	}
	if !found { // last was trimmed away: take what is newer by id
		for _, p := range raw {
			if commentID(p) > last {
				missed = append(missed, p)
			}
		}
	}
	seen := make(map[string]bool, len(missed))
	for _, p := range missed {
		f.deliver(postID, p)
		seen[commentID(p)] = true
	}
	if len(seen) > 0 {
		f.mu.Lock()
		f.skip[postID] = seen
		f.mu.Unlock()
	}
	// Changes meanwhile: the current state of each comment changed since
	// the last event handled, for comments readers had already.
	changed, err := f.b.ChangedSince(ctx, postID, comment.IDTime(last))
	if err != nil {
		f.b.cfg.Logger.Warn("buffer: catch up changes after resubscribe", "post", postID, "err", err)
		return
	}
	for _, c := range changed {
		if !seen[c.ID] {
			f.handler.HandleChange(postID, comment.Change{PostID: postID, CommentID: c.ID, V: c.Version(), State: c}, nil)
		}
	}
}

// Close unsubscribes from everything and waits for the receivers.
func (f *Fanout) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	shards := f.shards
	f.mu.Unlock()
	for _, sh := range shards {
		sh.ps.Close()
	}
	f.wg.Wait()
	return nil
}
