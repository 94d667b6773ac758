package buffer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/commentd/commentd/comment"
	"github.com/redis/go-redis/v9"
)

// Erasing a user (comment.UserTraces): finding their comments in Redis and
// scrubbing what Redis keeps of them beside their states. Both walk the
// keyspace with SCAN (on every master of a cluster): an erase is a rare
// request, and no key lists a user's posts. Values are matched as bytes
// first (a user id needs no JSON escaping) and decoded only on a match.

// scanCount is the COUNT hint of one SCAN call.
const scanCount = 1000

// listChunk is how many entries of a list are read at a time.
const listChunk = 1000

var _ comment.UserTraces = (*Buffer)(nil)

// userNeedle returns what a comment's JSON of userID holds.
func userNeedle(userID string) string { return `"userId":"` + userID + `"` }

// UserComments returns the comments of userID whose state Redis holds: in
// the shards' lists (not yet flushed, or being flushed), the moderation
// queues, and the posts' recent lists and changed states, each once in
// its current state, if that is still the user's.
func (b *Buffer) UserComments(ctx context.Context, userID string) ([]comment.Comment, error) {
	needle := userNeedle(userID)
	found := map[string]comment.Comment{}
	keep := func(c comment.Comment) {
		if c.UserID == userID {
			if old, ok := found[c.ID]; !ok || c.Version() > old.Version() {
				found[c.ID] = c
			}
		}
	}
	entries := func(raw []string) error {
		for _, s := range raw {
			if !strings.Contains(s, needle) {
				continue
			}
			ch, err := comment.DecodeEntry([]byte(s))
			if err != nil {
				return fmt.Errorf("user's comments: decode: %w", err)
			}
			keep(ch.State)
		}
		return nil
	}
	states := func(raw []string) error {
		for _, s := range raw {
			if !strings.Contains(s, needle) {
				continue
			}
			var c comment.Comment
			if err := c.UnmarshalJSON([]byte(s)); err != nil {
				return fmt.Errorf("user's comments: decode: %w", err)
			}
			keep(c)
		}
		return nil
	}
	for shard := range b.cfg.Shards {
		for _, list := range []string{"buf", "inflight"} {
			if err := b.eachChunk(ctx, b.key(shard, list), entries); err != nil {
				return nil, err
			}
		}
		queue, err := b.rdb.HVals(ctx, b.key(shard, "queue")).Result()
		if err != nil {
			return nil, fmt.Errorf("user's comments: queue: %w", classify(err))
		}
		if err := states(queue); err != nil {
			return nil, err
		}
	}
	err := b.scanKeys(ctx, b.familyPattern("recent"), "list", func(key string) error {
		return b.eachChunk(ctx, key, states)
	})
	if err == nil {
		err = b.scanKeys(ctx, b.familyPattern("chg"), "hash", func(key string) error {
			vals, err := b.rdb.HVals(ctx, key).Result()
			if err != nil {
				return fmt.Errorf("user's comments: %w", classify(err))
			}
			return states(vals)
		})
	}
	if err != nil {
		return nil, err
	}
	// A shard's list holds the states a comment went through; its current
	// one, if Redis keeps it, may be the user's no longer (erased).
	out := make([]comment.Comment, 0, len(found))
	for _, c := range found {
		cur, ok, err := b.State(ctx, c.PostID, c.ID)
		if err != nil {
			return nil, fmt.Errorf("user's comments: %w", err)
		}
		if ok && cur.Version() >= c.Version() {
			c = cur
		}
		if c.UserID == userID {
			out = append(out, c)
		}
	}
	return out, nil
}

// ScrubUser removes userID's words and name from what Redis keeps beside
// comment states, once their comments are erased: every event of a post's
// log whose comment state is still theirs gets that state Erased (same id,
// op and version, so readers' offsets stay valid and a catch-up shows
// nothing of it) and an event they made themself (an edit, their own
// erase) loses its by; so do the shards' dead letters; the comments kept
// under their idempotency keys are deleted, and they leave the trusted
// users. The shards' lists are left: what they hold of the user is
// superseded by the erase records behind it and leaves Redis with the next
// flush.
func (b *Buffer) ScrubUser(ctx context.Context, userID string) error {
	u := scrubber{userID: userID, needle: userNeedle(userID), by: `"by":"` + userID + `"`}
	err := b.scanKeys(ctx, b.familyPattern("log"), "list", func(key string) error {
		return b.scrubList(ctx, key, u, u.event)
	})
	if err != nil {
		return err
	}
	for shard := range b.cfg.Shards {
		if err := b.scrubList(ctx, b.key(shard, "dead"), u, u.deadLetter); err != nil {
			return err
		}
	}
	// Idempotency keys are <user>:<client id> (comment.Service.append); a
	// user id may hold ":", so the comment kept says whose key it is.
	err = b.scanKeys(ctx, b.familyPattern("dedupe:"+escapeGlob(userID)+":"), "string", func(key string) error {
		val, err := b.rdb.Get(ctx, key).Result()
		if errors.Is(err, redis.Nil) || err == nil && !strings.Contains(val, u.needle) {
			return nil
		}
		if err == nil {
			err = b.rdb.Del(ctx, key).Err()
		}
		if err != nil {
			return fmt.Errorf("scrub idempotency keys: %w", classify(err))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := b.rdb.SRem(ctx, b.cfg.Prefix+":trusted", userID).Err(); err != nil {
		return fmt.Errorf("scrub trusted: %w", classify(err))
	}
	return nil
}

// scrubber scrubs the entries of one user.
type scrubber struct {
	userID string
	needle string // in a comment's JSON of theirs
	by     string // in a change record they made
}

// mentions reports whether an entry may hold something of the user.
func (u scrubber) mentions(s string) bool {
	return strings.Contains(s, u.needle) || strings.Contains(s, u.by)
}

// scrubList replaces each entry of a list that mentions the user by what
// scrub makes of it (ok false: left as it is), in one script call.
func (b *Buffer) scrubList(ctx context.Context, key string, u scrubber, scrub func(string) (string, bool, error)) error {
	raw, err := b.rdb.LRange(ctx, key, 0, -1).Result()
	if err != nil {
		return fmt.Errorf("scrub %s: %w", key, classify(err))
	}
	var pairs []any
	for _, s := range raw {
		if !u.mentions(s) {
			continue
		}
		scrubbed, ok, err := scrub(s)
		if err != nil {
			return fmt.Errorf("scrub %s: %w", key, err)
		}
		if ok {
			pairs = append(pairs, s, scrubbed)
		}
	}
	if len(pairs) == 0 {
		return nil
	}
	if err := scrubScript.Run(ctx, b.rdb, []string{key}, pairs...).Err(); err != nil {
		return fmt.Errorf("scrub %s: %w", key, classify(err))
	}
	return nil
}

// deadLetter returns a dead letter with the user's comment erased, which an
// operator may still redrive (as a tombstone now).
func (u scrubber) deadLetter(s string) (string, bool, error) {
	var dl DeadLetter
	if err := json.Unmarshal([]byte(s), &dl); err != nil {
		dl = DeadLetter{Reason: "undecodable dead letter", Raw: s} // as DeadLetters reads it
	}
	if dl.Comment.UserID == u.userID {
		dl.Comment = dl.Comment.Erased()
	}
	if dl.Change != nil {
		ch := u.change(*dl.Change)
		dl.Change = &ch
	}
	if u.mentions(dl.Raw) {
		dl.Raw = "(erased: it held a comment of an erased user)"
	}
	p, err := json.Marshal(dl)
	return string(p), err == nil, err
}

// change returns ch with the user's comment erased and without them as
// its by.
func (u scrubber) change(ch comment.Change) comment.Change {
	if ch.State.UserID == u.userID {
		ch.State = ch.State.Erased()
	}
	if ch.By == u.userID {
		ch.By = ""
	}
	return ch
}

// event returns an event of a post's log (a comment's JSON, or a change
// record's) with the user's comment erased and without them as its by;
// ok false if it holds nothing of theirs.
func (u scrubber) event(s string) (string, bool, error) {
	if !comment.IsChangeJSON([]byte(s)) {
		var c comment.Comment
		if err := c.UnmarshalJSON([]byte(s)); err != nil {
			return "", false, err
		}
		if c.UserID != u.userID {
			return "", false, nil
		}
		return string(c.Erased().JSON()), true, nil
	}
	var ch comment.Change
	if err := ch.UnmarshalJSON([]byte(s)); err != nil {
		return "", false, err
	}
	if ch.State.UserID != u.userID && ch.By != u.userID {
		return "", false, nil
	}
	return string(u.change(ch).JSON()), true, nil
}

// eachChunk hands the entries of a list to fn, listChunk at a time.
func (b *Buffer) eachChunk(ctx context.Context, key string, fn func([]string) error) error {
	for start := int64(0); ; start += listChunk {
		raw, err := b.rdb.LRange(ctx, key, start, start+listChunk-1).Result()
		if err != nil {
			return fmt.Errorf("read %s: %w", key, classify(err))
		}
		if err := fn(raw); err != nil {
			return err
		}
		if len(raw) < listChunk {
			return nil
		}
	}
}

// familyPattern returns the SCAN pattern of a per-post key family (or of
// any key starting <prefix>:{n}:<family>) over every shard.
func (b *Buffer) familyPattern(family string) string {
	return escapeGlob(b.cfg.Prefix) + ":{*}:" + family + "*"
}

// escapeGlob escapes the characters SCAN's MATCH treats specially.
func escapeGlob(s string) string {
	var sb strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			sb.WriteByte('\\')
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// scanKeys hands fn every key of type typ matching pattern, on every
// master of a cluster. A key may come twice (SCAN's guarantee is at least
// once); fn must not mind.
func (b *Buffer) scanKeys(ctx context.Context, pattern, typ string, fn func(key string) error) error {
	scan := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := c.ScanType(ctx, cursor, pattern, scanCount, typ).Result()
			if err != nil {
				return fmt.Errorf("scan %s: %w", pattern, classify(err))
			}
			for _, k := range keys {
				if err := fn(k); err != nil {
					return err
				}
			}
			if next == 0 {
				return nil
			}
			cursor = next
		}
	}
	if cc, ok := b.rdb.(*redis.ClusterClient); ok {
		// ForEachMaster runs concurrently; fn need not be safe for it.
		var mu sync.Mutex
		inner := fn
		fn = func(key string) error {
			mu.Lock()
			defer mu.Unlock()
			return inner(key)
		}
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	}
	return scan(ctx, b.rdb)
}
