package buffer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/redis/go-redis/v9"
)

// Recent returns up to n of the latest comments of a post kept in Redis,
// oldest first, in their current state (hidden and deleted ones included:
// the caller decides who sees what). complete is true when Redis is known to hold the post's
// whole history (see Seed), so a shorter answer needs no database read.
func (b *Buffer) Recent(ctx context.Context, postID string, n int) (cs []comment.Comment, complete bool, err error) {
	if n <= 0 {
		return nil, false, nil
	}
	shard := b.Shard(postID)
	var lr *redis.StringSliceCmd
	var ex *redis.IntCmd
	_, err = b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		lr = p.LRange(ctx, b.recentKey(shard, postID), int64(-n), -1)
		ex = p.Exists(ctx, b.key(shard, "complete:"+postID))
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("recent of post: %w", classify(err))
	}
	raw := lr.Val()
	cs = make([]comment.Comment, 0, len(raw))
	for _, s := range raw {
		var c comment.Comment
		if err := c.UnmarshalJSON([]byte(s)); err != nil {
			return nil, false, fmt.Errorf("recent of post: decode: %w", err)
		}
		cs = append(cs, c)
	}
	return cs, ex.Val() == 1, nil
}

// Seed puts older comments of a post (newest first, as the database returns
// them) in front of its recent list, so that later joins need no database
// read. headID is the id of the oldest comment Recent returned ("" if none):
// if the list changed at its head meanwhile, Seed does nothing. complete
// says the database has nothing older.
func (b *Buffer) Seed(ctx context.Context, postID, headID string, older []comment.Comment, complete bool) error {
	shard := b.Shard(postID)
	args := make([]any, 4, 4+len(older))
	args[0], args[1], args[2], args[3] = headID, b.cfg.RecentLen, b.cfg.RecentTTL.Milliseconds(), "0"
	if complete {
		args[3] = "1"
	}
	for _, c := range older {
		args = append(args, string(c.JSON()))
	}
	err := seedScript.Run(ctx, b.rdb, []string{b.recentKey(shard, postID), b.key(shard, "complete:"+postID),
		b.postKey(shard, "chg", postID)}, args...).Err()
	if err != nil {
		return fmt.Errorf("seed post: %w", classify(err))
	}
	return nil
}

// Publish adds c to its post's recent list and publishes it to the post's
// readers without buffering it: the write-through path, where c is already
// in the database.
func (b *Buffer) Publish(ctx context.Context, c comment.Comment) error {
	p := c.JSON()
	shard := b.Shard(c.PostID)
	err := publishScript.Run(ctx, b.rdb, []string{b.recentKey(shard, c.PostID), b.postKey(shard, "log", c.PostID)},
		b.cfg.RecentLen, b.cfg.RecentTTL.Milliseconds(), string(p), b.key(shard, "post:"+c.PostID), b.cfg.LogLen).Err()
	if err != nil {
		return fmt.Errorf("publish: %w", classify(err))
	}
	return nil
}

// persistedNotice is the message PublishPersisted sends; comments start
// with {"_id", so the prefix tells them apart.
type persistedNotice struct {
	Persisted []string `json:"persisted"`
}

const persistedPrefix = `{"persisted":`

// PublishPersisted tells each post's readers which of its comments are now
// in MongoDB: one message {"persisted":[ids]} per post, on the post's
// channel, pipelined.
func (b *Buffer) PublishPersisted(ctx context.Context, byPost map[string][]string) error {
	if len(byPost) == 0 {
		return nil
	}
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for postID, ids := range byPost {
			msg, err := json.Marshal(persistedNotice{ids})
			if err != nil {
				return err
			}
			p.SPublish(ctx, b.Channel(postID), msg)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("publish persisted: %w", classify(err))
	}
	return nil
}

// State returns the current state of a comment if Redis holds it: changed
// lately, or among its post's recent comments.
func (b *Buffer) State(ctx context.Context, postID, commentID string) (comment.Comment, bool, error) {
	shard := b.Shard(postID)
	raw, err := stateScript.Run(ctx, b.rdb, []string{b.recentKey(shard, postID), b.postKey(shard, "chg", postID)}, commentID).Text()
	if err == redis.Nil {
		return comment.Comment{}, false, nil
	}
	if err != nil {
		return comment.Comment{}, false, fmt.Errorf("state of comment: %w", classify(err))
	}
	var c comment.Comment
	if err := c.UnmarshalJSON([]byte(raw)); err != nil {
		return comment.Comment{}, false, fmt.Errorf("state of comment: decode: %w", err)
	}
	return c, true, nil
}

// ChangedSince returns the current state of the post's comments changed at
// or after t, by time of their last change (Redis keeps the last
// Config.ChangedLen of a post).
func (b *Buffer) ChangedSince(ctx context.Context, postID string, t time.Time) ([]comment.Comment, error) {
	shard := b.Shard(postID)
	raw, err := changedSinceScript.Run(ctx, b.rdb, []string{b.postKey(shard, "chgt", postID), b.postKey(shard, "chg", postID)},
		t.UnixMilli()).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("changed comments of post: %w", classify(err))
	}
	return decodeAll(raw)
}

// Overrides returns the states Redis holds of the comments of ids changed
// lately: as new as the database's or newer, since a change reaches Redis
// first.
func (b *Buffer) Overrides(ctx context.Context, postID string, ids []string) (map[string]comment.Comment, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	vals, err := b.rdb.HMGet(ctx, b.postKey(b.Shard(postID), "chg", postID), ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("changed comments of post: %w", classify(err))
	}
	out := make(map[string]comment.Comment)
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue
		}
		var c comment.Comment
		if err := c.UnmarshalJSON([]byte(s)); err != nil {
			return nil, fmt.Errorf("changed comments of post: decode: %w", err)
		}
		out[c.ID] = c
	}
	return out, nil
}

// Events returns the events of a post published after the one of id after
// (a new comment's id, or a change record's), oldest first, as their
// records (a new comment as its create). found is false when Redis no
// longer holds that event (Config.LogLen are kept per post): the caller
// then knows only current states (Recent, ChangedSince).
func (b *Buffer) Events(ctx context.Context, postID, after string) (evs []comment.Change, found bool, err error) {
	raw, err := b.rdb.LRange(ctx, b.postKey(b.Shard(postID), "log", postID), 0, -1).Result()
	if err != nil {
		return nil, false, fmt.Errorf("events of post: %w", classify(err))
	}
	return b.eventsAfter(raw, after)
}

// logStart stands for the start of a post's log as an event id: its log
// was empty when the post was subscribed to (see logTail).
const logStart = "^"

// logTail returns the id of the last event of a post's log, logStart if
// the log is empty.
func (b *Buffer) logTail(ctx context.Context, postID string) (string, error) {
	s, err := b.rdb.LIndex(ctx, b.postKey(b.Shard(postID), "log", postID), -1).Result()
	if errors.Is(err, redis.Nil) {
		return logStart, nil
	}
	if err != nil {
		return "", fmt.Errorf("tail of post's log: %w", classify(err))
	}
	return eventID(s), nil
}

// eventsAfter decodes the entries of a post's log after the one of id
// after; logStart: all of them, unless the log is full (some may have been
// trimmed off).
func (b *Buffer) eventsAfter(raw []string, after string) ([]comment.Change, bool, error) {
	if after == "" {
		return nil, false, nil
	}
	if after == logStart {
		if len(raw) >= b.cfg.LogLen {
			return nil, false, nil
		}
		return decodeEntries(raw)
	}
	for i := len(raw) - 1; i >= 0; i-- {
		if eventID(raw[i]) == after {
			return decodeEntries(raw[i+1:])
		}
	}
	return nil, false, nil
}

func decodeEntries(raw []string) ([]comment.Change, bool, error) {
	evs := make([]comment.Change, 0, len(raw))
	for _, s := range raw {
		ch, err := comment.DecodeEntry([]byte(s))
		if err != nil {
			return nil, false, fmt.Errorf("events of post: decode: %w", err)
		}
		evs = append(evs, ch)
	}
	return evs, true, nil
}

// eventID returns the id of a published event: a comment's _id, or a
// change record's id, which both come first but for a record's op.
func eventID(payload string) string {
	if !comment.IsChangeJSON([]byte(payload)) {
		return commentID(payload)
	}
	_, rest, ok := strings.Cut(payload, `","id":"`)
	if !ok || len(rest) < 24 {
		return ""
	}
	return rest[:24]
}

func decodeAll(raw []string) ([]comment.Comment, error) {
	out := make([]comment.Comment, 0, len(raw))
	for _, s := range raw {
		var c comment.Comment
		if err := c.UnmarshalJSON([]byte(s)); err != nil {
			return nil, fmt.Errorf("decode comment: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// Invalidate forgets that Redis holds the whole history of each post (its
// complete flag, see Seed) and its count, so the next join reads older
// comments from the database and the next count counts them: for comments
// written to the database around the buffer, as an import does. Pipelined.
func (b *Buffer) Invalidate(ctx context.Context, postIDs []string) error {
	if len(postIDs) == 0 {
		return nil
	}
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, postID := range postIDs {
			p.Del(ctx, b.key(b.Shard(postID), "complete:"+postID), b.postKey(b.Shard(postID), "count", postID))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("invalidate posts: %w", classify(err))
	}
	return nil
}
