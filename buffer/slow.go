package buffer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/redis/go-redis/v9"
)

// Slow mode: a post where each user may comment once per interval. The
// interval lives in slow:<post> (no TTL, like a lock); each user's last
// comment starts slowu:<post>:<user>, which expires with the interval.

// SetSlowMode sets a post's slow mode (seconds between two comments of a
// user; 0 turns it off) and, if that changed it, tells its readers on
// every node (post_info, in the post's order) and logs it.
func (b *Buffer) SetSlowMode(ctx context.Context, postID string, seconds int, by, reason string, at time.Time) (bool, error) {
	shard := b.Shard(postID)
	entry := comment.Audit{At: at, By: by, Action: comment.AuditSlowMode, PostID: postID,
		Reason: comment.SlowModeReason(seconds, reason)}.JSON()
	n, err := slowScript.Run(ctx, b.rdb, []string{b.postKey(shard, "slow", postID), b.key(shard, "audit"), b.postKey(shard, "lock", postID)},
		seconds, b.Channel(postID), postID, entry, b.cfg.AuditLen).Int()
	if err != nil {
		return false, fmt.Errorf("slow mode: %w", classify(err))
	}
	return n == 1, nil
}

// SlowMode returns a post's slow mode in seconds (0: off).
func (b *Buffer) SlowMode(ctx context.Context, postID string) (int, error) {
	v, err := b.rdb.Get(ctx, b.postKey(b.Shard(postID), "slow", postID)).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("slow mode: %w", classify(err))
	}
	return strconv.Atoi(v)
}

// SlowPass lets userID comment on postID if it did not within seconds,
// and starts its interval; else it returns how long it must wait.
func (b *Buffer) SlowPass(ctx context.Context, postID, userID string, seconds int) (time.Duration, error) {
	key := b.postKey(b.Shard(postID), "slowu", postID+":"+userID)
	ms, err := slowPassScript.Run(ctx, b.rdb, []string{key}, seconds*1000).Int64()
	if err != nil {
		return 0, fmt.Errorf("slow mode: %w", classify(err))
	}
	return time.Duration(ms) * time.Millisecond, nil
}
