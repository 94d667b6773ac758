package buffer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
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
// slot) and one goroutine that calls the handler, so a post's events are
// handled one at a time in the order Redis published them: the buffer's
// order. go-redis resubscribes after a reconnect; what a post got meanwhile
// is then read from its log in Redis (see catchUp), so readers miss
// nothing, get nothing twice, and get it in the same order.
type Fanout struct {
	b       *Buffer
	handler Handler

	mu     sync.Mutex
	posts  map[string]*feed
	shards map[int]*fanShard
	closed bool
	wg     sync.WaitGroup
}

// feed is what the Fanout knows of one subscribed post.
type feed struct {
	refs int
	// event is the id of the last event handled (a new comment's id or a
	// change record's); last the id of the last new comment handled;
	// lastAt when the last event was handled (or the post subscribed),
	// on this clock.
	event  string
	last   string
	lastAt time.Time
	// versions holds the version of each comment whose change was
	// handled lately (up to maxVersions, then it starts over), so that a
	// catch-up does not repeat one.
	versions map[string]int
	// overlap, after a catch-up, holds the version of every comment it
	// read: live events it reflects are dropped, up to the first one it
	// does not.
	overlap map[string]int
}

const maxVersions = 4096

// catchUpSkew is how far before the last event handled a catch-up looks
// for changes: changes carry the time of the node that made them.
const catchUpSkew = 10 * time.Second

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
	// change record's JSON. After a resubscribe, the Fanout delivers the
	// current state of a comment changed meanwhile, or of a new one not
	// every reader may see, as a change of Op "" without payload.
	HandleChange(postID string, ch comment.Change, payload []byte)
	// HandlePersisted gets the ids of the post's comments now in MongoDB.
	HandlePersisted(postID string, ids []string)
	// HandlePostInfo gets what changed about the post itself: its lock.
	// It is not in the post's log: a node that missed one while
	// resubscribing does not replay it (a join reads the lock).
	HandlePostInfo(postID string, info comment.PostInfo)
}

// NewFanout returns a Fanout. RegisterHandler must be called before the
// first Subscribe.
func (b *Buffer) NewFanout() *Fanout {
	return &Fanout{b: b, posts: make(map[string]*feed), shards: make(map[int]*fanShard)}
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
	// A new feed's first catch-up starts after the last event of the
	// post's log before it subscribes: what comes later arrives live or
	// in the catch-up (and a reader joining now may get it twice, at the
	// same version). Without it (Redis did not answer), a catch-up before
	// the first live event falls back to states.
	f.mu.Lock()
	_, known := f.posts[postID]
	f.mu.Unlock()
	tail := ""
	if !known {
		var err error
		if tail, err = f.b.logTail(ctx, postID); err != nil {
			f.b.cfg.Logger.Warn("buffer: subscribe", "post", postID, "err", err)
		}
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return ErrClosed
	}
	p := f.posts[postID]
	if p == nil {
		now := time.Now()
		p = &feed{event: tail, last: comment.IDFloor(now), lastAt: now, versions: make(map[string]int)}
		f.posts[postID] = p
	}
	p.refs++
	wait := make(chan struct{})
	sh, created := f.shardLocked(ctx, shard, ch, wait)
	first := p.refs == 1 && !created
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
	p := f.posts[postID]
	if p == nil {
		f.mu.Unlock()
		return
	}
	if p.refs--; p.refs > 0 {
		f.mu.Unlock()
		return
	}
	delete(f.posts, postID)
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
	return len(f.posts)
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
					f.catchUpPostInfo(postID)
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

// deliver hands a live message to the handler.
func (f *Fanout) deliver(postID, payload string) {
	if strings.HasPrefix(payload, postInfoPrefix) {
		var n postInfoNotice
		if json.Unmarshal([]byte(payload), &n) == nil {
			f.handler.HandlePostInfo(postID, n.PostInfo)
		}
		return
	}
	if strings.HasPrefix(payload, persistedPrefix) {
		var n persistedNotice
		if json.Unmarshal([]byte(payload), &n) == nil {
			f.handler.HandlePersisted(postID, n.Persisted)
		}
		return
	}
	var ch comment.Change
	isChange := comment.IsChangeJSON([]byte(payload))
	if isChange {
		if err := ch.UnmarshalJSON([]byte(payload)); err != nil {
			f.b.cfg.Logger.Error("buffer: undecodable change published", "post", postID, "err", err)
			return
		}
	} else {
		id := commentID(payload)
		ch = comment.Change{Op: comment.OpCreate, ID: id, CommentID: id, V: 1}
	}
	if !f.note(postID, ch) {
		return
	}
	if isChange {
		f.handler.HandleChange(postID, ch, []byte(payload))
		return
	}
	f.handler.HandleComment(postID, ch.CommentID, []byte(payload))
}

// note records a live event of a post and reports whether it is to be
// handled: not if the catch-up before it reflected it already.
func (f *Fanout) note(postID string, ch comment.Change) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.posts[postID]
	if p == nil {
		return true // unsubscribed meanwhile: the room is empty
	}
	if p.overlap != nil {
		if v, ok := p.overlap[ch.CommentID]; ok && ch.V <= v {
			return false
		}
		p.overlap = nil // published after the catch-up read: so is the rest
	}
	p.handled(ch)
	return true
}

// handled records that ch was handed over.
func (p *feed) handled(ch comment.Change) {
	p.lastAt = time.Now()
	if ch.ID != "" {
		p.event = ch.ID
	}
	if ch.Op == comment.OpCreate {
		p.last = ch.CommentID
	} else if ch.V > 1 {
		p.noteVersion(ch.CommentID, ch.V)
	}
}

func (p *feed) noteVersion(id string, v int) {
	if len(p.versions) >= maxVersions {
		clear(p.versions)
	}
	p.versions[id] = v
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

// catchUp handles what a post got while its channel was not subscribed:
// the events of its log after the last one handled, in order. If the log
// no longer reaches back that far (more than Config.LogLen events), it
// falls back to states: it reads, at one moment, the post's recent
// comments and the comments changed since shortly before the last event
// handled, and hands over
//
//   - the comments created after the last one handled, oldest first, in
//     their current state: a visible one as a new comment, any other as a
//     change (so only those who may see it get it);
//   - then the current state of the other comments changed meanwhile, in
//     the order of their last change, unless that version was handled.
//
// The live events that follow may be ones the read reflects: they are
// dropped, up to the first one it does not (see note).
func (f *Fanout) catchUp(postID string) {
	f.mu.Lock()
	p := f.posts[postID]
	if p == nil {
		f.mu.Unlock()
		return
	}
	event, last, since := p.event, p.last, p.lastAt.Add(-catchUpSkew)
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	evs, found, err := f.b.Events(ctx, postID, event)
	if err != nil {
		f.b.cfg.Logger.Warn("buffer: catch up after resubscribe", "post", postID, "err", err)
		return
	}
	if found {
		overlap := make(map[string]int, len(evs))
		for _, ch := range evs {
			// A create whose comment was erased since (ScrubUser) carries
			// the tombstone: readers are told it is gone, not that it came.
			if ch.Op == comment.OpCreate && !ch.State.Deleted {
				f.handler.HandleComment(postID, ch.CommentID, ch.State.JSON())
			} else {
				f.handler.HandleChange(postID, ch, ch.JSON())
			}
			overlap[ch.CommentID] = max(overlap[ch.CommentID], ch.V)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if p == f.posts[postID] {
			for _, ch := range evs {
				p.handled(ch)
			}
			p.overlap = overlap
		}
		return
	}
	f.catchUpStates(ctx, postID, p, last, since)
}

// catchUpPostInfo hands over the post's lock state after a resubscribe:
// post_info is not in the post's log, and one may have been missed.
func (f *Fanout) catchUpPostInfo(postID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	locked, err := f.b.Locked(ctx, postID)
	if err != nil {
		f.b.cfg.Logger.Warn("buffer: lock of post after resubscribe", "post", postID, "err", err)
		return
	}
	f.handler.HandlePostInfo(postID, comment.PostInfo{PostID: postID, Locked: locked})
}

// catchUpStates is catchUp from the post's states.
func (f *Fanout) catchUpStates(ctx context.Context, postID string, p *feed, last string, since time.Time) {
	shard := f.b.Shard(postID)
	res, err := catchUpScript.Run(ctx, f.b.rdb, []string{f.b.recentKey(shard, postID),
		f.b.postKey(shard, "chgt", postID), f.b.postKey(shard, "chg", postID)}, since.UnixMilli()).Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("catch-up script returned %d values", len(res))
	}
	var recent, changed []comment.Comment
	if err == nil {
		recent, err = decodeAny(res[0])
	}
	if err == nil {
		changed, err = decodeAny(res[1])
	}
	if err != nil {
		f.b.cfg.Logger.Warn("buffer: catch up after resubscribe", "post", postID, "err", classify(err))
		return
	}

	f.mu.Lock()
	versions := maps.Clone(p.versions)
	f.mu.Unlock()
	created, updated := missed(last, versions, recent, changed)
	for _, c := range created {
		if c.Visible() {
			f.handler.HandleComment(postID, c.ID, c.JSON())
		} else {
			f.handler.HandleChange(postID, comment.Change{PostID: postID, CommentID: c.ID, V: c.Version(), State: c}, nil)
		}
	}
	for _, c := range updated {
		f.handler.HandleChange(postID, comment.Change{PostID: postID, CommentID: c.ID, V: c.Version(), State: c}, nil)
	}

	overlap := make(map[string]int, len(recent)+len(changed))
	for _, c := range append(recent, changed...) {
		overlap[c.ID] = max(overlap[c.ID], c.Version())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if p != f.posts[postID] {
		return // unsubscribed meanwhile
	}
	p.overlap = overlap
	p.lastAt = time.Now()
	if len(created) > 0 {
		p.last = created[len(created)-1].ID
	}
	for _, c := range append(created, updated...) {
		if c.Version() > 1 {
			p.noteVersion(c.ID, c.Version())
		}
	}
}

// missed works out what readers whose last new comment was last, and
// who had the comment versions of versions, missed, from a post's recent
// comments and its comments changed lately (see catchUp).
func missed(last string, versions map[string]int, recent, changed []comment.Comment) (created, updated []comment.Comment) {
	i := slices.IndexFunc(recent, func(c comment.Comment) bool { return c.ID == last })
	if i >= 0 {
		created = slices.Clone(recent[i+1:])
	} else { // last was pushed out of the list: newer by id
		inRecent := make(map[string]bool, len(recent))
		for _, c := range recent {
			inRecent[c.ID] = true
		}
		for _, c := range changed { // pushed out too, or older than the list
			if c.ID > last && !inRecent[c.ID] {
				created = append(created, c)
			}
		}
		slices.SortFunc(created, func(a, b comment.Comment) int { return strings.Compare(a.ID, b.ID) })
		for _, c := range recent {
			if c.ID > last {
				created = append(created, c)
			}
		}
	}
	isNew := make(map[string]bool, len(created))
	for _, c := range created {
		isNew[c.ID] = true
	}
	for _, c := range changed {
		if !isNew[c.ID] && c.Version() > 1 && c.Version() > versions[c.ID] {
			updated = append(updated, c)
		}
	}
	return created, updated
}

func decodeAny(v any) ([]comment.Comment, error) {
	raw, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("catch-up script returned %T", v)
	}
	out := make([]comment.Comment, 0, len(raw))
	for _, r := range raw {
		s, ok := r.(string)
		if !ok {
			return nil, fmt.Errorf("catch-up script returned %T", r)
		}
		var c comment.Comment
		if err := c.UnmarshalJSON([]byte(s)); err != nil {
			return nil, fmt.Errorf("decode comment: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
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
