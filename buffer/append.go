package buffer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/redis/go-redis/v9"
)

// request is one new comment, or one change, waiting for its round trip.
type request struct {
	shard   int
	postID  string
	payload []byte // the comment's JSON, or the change record's
	dedupe  string // idempotency key, "" for none
	first   string // the payload appended earlier under dedupe (a retry)
	err     error
	c       comment.Comment
	then    comment.AppendCallback // told the outcome

	change   *comment.Change // a change rather than a new comment
	base     int             // the version the change was decided on
	buffered bool            // a change for the flusher (not write-through)
	state    []byte          // the change's new state, JSON

	delta  int              // what it does to the post's count of visible comments
	parent *comment.Comment // the state of the parent whose replies it changes (delta != 0)
	bumpID string           // the id of the record of that change, or of a reaction

	reaction *comment.Reaction // a reaction rather than a comment or change
	reacted  string            // the comment's state after it, JSON (the script's answer)
}

// Append buffers c, adds it to its post's recent history and publishes it on
// the post's channel. When Append returns nil, Redis has accepted c.
// Concurrent calls share round trips (group commit).
//
// It fails with ErrBusy over the high-water mark or when Redis is out of
// memory (c was not accepted), ErrLocked when its post is locked (see
// SetLocked; not accepted), ErrUnavailable when Redis cannot be reached
// (c may have been accepted), ErrClosed after Close, or ctx's error (c may
// have been accepted).
func (b *Buffer) Append(ctx context.Context, c comment.Comment) error {
	_, _, err := b.AppendOnce(ctx, c, "")
	return err
}

// AppendOnce is Append with an idempotency key (the client's id of the
// comment, with its user): within Config.DedupeWindow, a second comment
// under the same key is not appended, and the first one is returned with
// dup true, so a retried or double-clicked post is stored once. Every node
// shares the keys.
func (b *Buffer) AppendOnce(ctx context.Context, c comment.Comment, key string) (stored comment.Comment, dup bool, err error) {
	type result struct {
		c   comment.Comment
		dup bool
		err error
	}
	ch := make(chan result, 1)
	b.AppendOnceAsync(ctx, c, key, nil, func(stored comment.Comment, dup bool, err error) { ch <- result{stored, dup, err} })
	select {
	case r := <-ch:
		return r.c, r.dup, r.err
	case <-ctx.Done():
		return c, false, ctx.Err()
	}
}

// AppendOnceAsync is AppendOnce for a caller that must not wait for the
// round trip: it returns once c is queued, so the comments of one caller
// are appended in the order of its calls, and done gets the outcome on
// another goroutine (on the caller's if c could not be queued). The
// outcomes of one round trip are told in order on one goroutine.
func (b *Buffer) AppendOnceAsync(ctx context.Context, c comment.Comment, key string, parent *comment.Comment, done comment.AppendCallback) {
	r := &request{
		shard:   b.Shard(c.PostID),
		postID:  c.PostID,
		payload: c.JSON(),
		dedupe:  key,
		c:       c,
		then:    done,
	}
	if c.Status == "" {
		r.delta = 1
		r.parent = parent
	}
	r.bumpIfParent(c.CreatedAt)
	if err := b.enqueue(ctx, r); err != nil {
		done(c, false, err)
	}
}

// Apply appends a change to its post's shard and applies it to the post's
// state in Redis, in one group commit with other appends, if the comment
// is still at version base; else it fails with ErrStale and nothing
// changes. The change is then published on the post's channel in the
// buffer's order. With buffered false it is not queued for the flusher
// (write-through: it is stored already). Errors are those of Append: an
// edit of a locked post fails with ErrLocked (unless write-through).
func (b *Buffer) Apply(ctx context.Context, ch comment.Change, base int, buffered bool) error {
	errc := make(chan error, 1)
	r := &request{
		shard:    b.Shard(ch.PostID),
		postID:   ch.PostID,
		payload:  ch.JSON(),
		c:        ch.State,
		change:   &ch,
		base:     base,
		buffered: buffered,
		state:    ch.State.JSON(),
		delta:    ch.Delta,
		parent:   ch.Parent,
		then:     func(_ comment.Comment, _ bool, err error) { errc <- err },
	}
	r.bumpIfParent(ch.At)
	if err := b.enqueue(ctx, r); err != nil {
		return err
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// bumpIfParent names the record of the change to r's parent, if r changes
// its replies.
func (r *request) bumpIfParent(at time.Time) {
	if r.delta == 0 || r.parent == nil || r.parent.ID == "" {
		r.parent = nil
		return
	}
	r.bumpID = comment.NewID(at)
}

// React applies a reaction to a comment: once per user and reaction, in
// one step with the comment's count and the post's order (see
// comment.Buffer.React). It returns the comment's state after it.
func (b *Buffer) React(ctx context.Context, re comment.Reaction) (comment.Comment, error) {
	type result struct {
		state string
		err   error
	}
	res := make(chan result, 1)
	r := &request{
		shard:    b.Shard(re.PostID),
		postID:   re.PostID,
		c:        re.State,
		state:    re.State.JSON(),
		base:     re.State.Version(),
		reaction: &re,
		bumpID:   comment.NewID(re.At),
	}
	r.then = func(_ comment.Comment, _ bool, err error) { res <- result{r.reacted, err} }
	if err := b.enqueue(ctx, r); err != nil {
		return comment.Comment{}, err
	}
	select {
	case out := <-res:
		if out.err != nil {
			return comment.Comment{}, out.err
		}
		var c comment.Comment
		if err := c.UnmarshalJSON([]byte(out.state)); err != nil {
			return comment.Comment{}, fmt.Errorf("buffer: decode a reacted comment: %w", err)
		}
		return c, nil
	case <-ctx.Done():
		return comment.Comment{}, ctx.Err()
	}
}

// enqueue hands r to the commit loop. On success one count of b.pending
// is held until r.then has run.
func (b *Buffer) enqueue(ctx context.Context, r *request) error {
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrClosed
	}
	b.pending.Add(1)
	b.mu.RUnlock()
	select {
	case b.reqs[r.shard%len(b.reqs)] <- r: // one committer per shard keeps the order of calls
		return nil
	case <-ctx.Done():
		b.pending.Done()
		return ctx.Err()
	}
}

// outcome is r's result once its round trip is over: the comment as
// appended, or the first comment under r's key with dup true.
func (r *request) outcome() (comment.Comment, bool, error) {
	if r.err != nil {
		return r.c, false, r.err
	}
	if r.first != "" {
		var first comment.Comment
		if err := first.UnmarshalJSON([]byte(r.first)); err != nil {
			return r.c, false, fmt.Errorf("buffer: decode the first comment of a retry: %w", err)
		}
		return first, true, nil
	}
	return r.c, false, nil
}

// tell hands the outcomes of a round trip to their callbacks, in order.
func (b *Buffer) tell(rs []*request) {
	for _, r := range rs {
		r.then(r.outcome())
		b.pending.Done()
	}
}

// commitToken returns a fresh random name for one commit.
func commitToken() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// commitLoop takes whatever requests are queued, up to MaxBatch, and commits
// them in one round trip. While a round trip is on the wire new requests
// queue up, so batches grow with load and latency stays one round trip.
func (b *Buffer) commitLoop(reqs <-chan *request) {
	batch := make([]*request, 0, b.cfg.MaxBatch)
	for {
		select {
		case r := <-reqs:
			batch = append(batch[:0], r)
		case <-b.stop:
			return
		}
	fill:
		for len(batch) < b.cfg.MaxBatch {
			select {
			case r := <-reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		b.commit(batch)
		clear(batch)
	}
}

// commit runs one append script per shard present in batch, pipelined.
func (b *Buffer) commit(batch []*request) {
	byShard := make(map[int][]*request, b.cfg.Shards)
	for _, r := range batch {
		byShard[r.shard] = append(byShard[r.shard], r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.Timeout)
	defer cancel()

	// Every command carries its own error; the pipeline's is the first.
	token := commitToken()
	done := make([]*request, 0, len(batch))
	cmds, err := b.runAppend(ctx, token, byShard)
	if isNoScript(err) {
		// Redis restarted and lost its script cache. Nothing ran: every
		// script of the pipeline failed the same way. Load and retry once.
		if appendScript.Load(ctx, b.rdb).Err() == nil {
			cmds, _ = b.runAppend(ctx, token, byShard)
		}
	}
	for shard, rs := range byShard {
		cmd := cmds[shard]
		res, cerr := cmd.Slice()
		if cerr == nil && len(res) != len(rs) {
			cerr = fmt.Errorf("buffer: append script returned %d results for %d comments", len(res), len(rs))
		}
		if cerr != nil {
			cerr = classify(cerr)
			for _, r := range rs {
				r.err = cerr
			}
		} else {
			for i, r := range rs {
				switch v := res[i].(type) {
				case int64:
					switch v {
					case 1:
					case -1:
						r.err = ErrStale
					case -2:
						r.err = ErrLocked
					case -3:
						r.err = comment.ErrUnknownReactor
					default:
						r.err = ErrBusy
					}
				case string:
					if r.reaction != nil {
						r.reacted = v
					} else {
						r.first = v
					}
				default:
					r.err = fmt.Errorf("buffer: append script returned %T", v)
				}
			}
		}
		done = append(done, rs...)
	}
	go b.tell(done) // the next round trip need not wait for the callbacks
}

// appendTail appends the item's arguments after its ninth: its count
// delta, its parent's change if any, and the (empty) reaction's.
func (r *request) appendTail(args []any, at time.Time) []any {
	p := r.parent
	if p == nil { // most items: nothing to encode
		return append(args, r.delta, "", "", 0, "", "", "", "", "", "")
	}
	return append(args, r.delta, p.ID, string(p.JSON()), p.Version(), r.bumpID, at.UTC().Format(comment.TimeLayout), "", "", "", "")
}

// commitKeyTTL is how long a commit's results stay in Redis, for a resent
// pipeline to find: longer than the client's retries and a Redis restart.
const commitKeyTTL = 2 * time.Minute

// runAppend runs the append script of each shard in one pipeline. token
// names this commit: the same in a resend of the same pipeline.
func (b *Buffer) runAppend(ctx context.Context, token string, byShard map[int][]*request) (map[int]*redis.Cmd, error) {
	cmds := make(map[int]*redis.Cmd, len(byShard))
	ttl := b.cfg.RecentTTL.Milliseconds()
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for shard, rs := range byShard {
			keys := make([]string, appendKeysHead, appendKeysHead+appendKeysPer*len(rs))
			keys[0], keys[1], keys[2], keys[3], keys[4] = b.key(shard, "buf"), b.key(shard, "inflight"),
				b.key(shard, "commit:"+token), b.key(shard, "queue"), b.key(shard, "audit")
			args := make([]any, appendArgsHead, appendArgsHead+appendArgsPer*len(rs))
			args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7], args[8], args[9] = b.shardMax, b.cfg.RecentLen, ttl,
				b.cfg.DedupeWindow.Milliseconds(), commitKeyTTL.Milliseconds(), b.cfg.ChangedLen, b.cfg.LogLen,
				b.ModerationChannel(), b.cfg.AuditLen, ttl
			for _, r := range rs {
				item := len(keys)
				rx := b.key(shard, "norx")
				if r.reaction != nil {
					rx = b.postKey(shard, "rx", r.reaction.CommentID)
				}
				keys = append(keys, b.recentKey(shard, r.postID), b.key(shard, "nodedupe"),
					b.postKey(shard, "chg", r.postID), b.postKey(shard, "chgt", r.postID), b.postKey(shard, "ver", r.postID),
					b.postKey(shard, "log", r.postID), b.postKey(shard, "lock", r.postID), b.postKey(shard, "pinned", r.postID),
					b.postKey(shard, "count", r.postID), rx)
				channel := b.key(shard, "post:"+r.postID)
				if re := r.reaction; re != nil {
					on := "0"
					if re.On {
						on = "1"
					}
					args = append(args, "r", "", channel, re.CommentID, r.base, r.state, re.At.UnixMilli(), "0", "",
						"0", "", "", 0, r.bumpID, re.At.UTC().Format(comment.TimeLayout), re.Reaction, re.UserID, on, re.Seed)
					continue
				}
				if ch := r.change; ch != nil {
					kind, lockable := "x", "0"
					if !r.buffered {
						kind = "w" // stored already: the service checked the lock before
					} else if ch.Op == comment.OpEdit {
						lockable = "1"
					}
					audit := ""
					if ch.Audit != nil {
						audit = string(ch.Audit.JSON())
					}
					args = append(args, kind, r.payload, channel, ch.CommentID, r.base, r.state, ch.At.UnixMilli(), lockable, audit)
					args = r.appendTail(args, ch.At)
					continue
				}
				has := "0"
				if r.dedupe != "" {
					keys[item+1], has = b.key(shard, "dedupe:"+r.dedupe), "1"
				}
				args = append(args, "c", r.payload, channel, has, "", "", r.c.CreatedAt.UnixMilli(), "1", "")
				args = r.appendTail(args, r.c.CreatedAt)
			}
			cmds[shard] = appendScript.EvalSha(ctx, p, keys, args...)
		}
		return nil
	})
	return cmds, err
}
