package buffer

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/commentd/commentd/comment"
	"github.com/redis/go-redis/v9"
)

// ModerationChannel is the channel that tells every node of pending
// comments: each one when it is held, changed, and when it leaves the
// queue (approved, rejected, deleted or hidden). It is published with
// PUBLISH, not sharded, so one subscription per node hears every shard.
func (b *Buffer) ModerationChannel() string { return b.cfg.Prefix + ":moderation" }

// Queue returns the comments held for moderation, of every shard, oldest
// first, at most limit (the newest are dropped past it).
func (b *Buffer) Queue(ctx context.Context, limit int) ([]comment.Comment, error) {
	cmds := make([]*redis.StringSliceCmd, b.cfg.Shards)
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for shard := range cmds {
			cmds[shard] = p.HVals(ctx, b.key(shard, "queue"))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("moderation queue: %w", classify(err))
	}
	var out []comment.Comment
	for _, cmd := range cmds {
		for _, s := range cmd.Val() {
			var c comment.Comment
			if err := c.UnmarshalJSON([]byte(s)); err != nil {
				return nil, fmt.Errorf("moderation queue: decode: %w", err)
			}
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(x, y comment.Comment) int { return cmp.Compare(x.ID, y.ID) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Trusted reports whether a moderator approved a comment of userID
// (moderation.mode "first": their comments are no longer held).
func (b *Buffer) Trusted(ctx context.Context, userID string) (bool, error) {
	ok, err := b.rdb.SIsMember(ctx, b.cfg.Prefix+":trusted", userID).Result()
	if err != nil {
		return false, fmt.Errorf("trusted user: %w", classify(err))
	}
	return ok, nil
}

// Trust records that a moderator approved a comment of userID.
func (b *Buffer) Trust(ctx context.Context, userID string) error {
	if err := b.rdb.SAdd(ctx, b.cfg.Prefix+":trusted", userID).Err(); err != nil {
		return fmt.Errorf("trust user: %w", classify(err))
	}
	return nil
}

// WatchModeration hands every message of the moderation channel to fn (a
// pending comment as a create, or a change of one), one at a time, until
// stop is called. The subscription reconnects by itself; what is
// published while it is down is not replayed (Queue has the current
// queue).
func (b *Buffer) WatchModeration(fn func(comment.Change)) (stop func()) {
	ps := b.rdb.Subscribe(context.Background(), b.ModerationChannel())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for m := range ps.Channel() {
			ch, err := comment.DecodeEntry([]byte(m.Payload))
			if err != nil {
				b.cfg.Logger.Error("buffer: undecodable moderation message", "err", err)
				continue
			}
			fn(ch)
		}
	}()
	return func() {
		ps.Close()
		wg.Wait()
	}
}

// Pinned returns the post's pinned comments in their current state, oldest
// first: kept by the append script apart from the recent ones, without
// expiry, so that joins and history put them first however old they are.
func (b *Buffer) Pinned(ctx context.Context, postID string) ([]comment.Comment, error) {
	raw, err := b.rdb.HVals(ctx, b.postKey(b.Shard(postID), "pinned", postID)).Result()
	if err != nil {
		return nil, fmt.Errorf("pinned of post: %w", classify(err))
	}
	out := make([]comment.Comment, 0, len(raw))
	for _, s := range raw {
		var c comment.Comment
		if err := c.UnmarshalJSON([]byte(s)); err != nil {
			return nil, fmt.Errorf("pinned of post: decode: %w", err)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(x, y comment.Comment) int { return cmp.Compare(x.ID, y.ID) })
	return out, nil
}
