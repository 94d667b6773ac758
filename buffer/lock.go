package buffer

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/commentd/commentd/comment"
)

// A post's lock is the key lock:<postId> of the post's shard, so that the
// append script, which runs in that slot, refuses a new comment or an edit
// of a locked post in the same step as it would append it: once SetLocked
// returns, nothing more gets in. The key has no TTL (a lock lasts until
// lifted; Redis persists it with AOF).

// postInfoNotice is the message lock.lua and slow.lua publish on the post's channel;
// comments start with {"_id" and changes with {"op", so the prefix tells it
// apart.
type postInfoNotice struct {
	PostInfo comment.PostInfo `json:"postInfo"`
}

const postInfoPrefix = `{"postInfo":`

// lockValue is what a lock key holds: who locked the post, and when.
type lockValue struct {
	By string `json:"by"`
	At string `json:"at"`
}

// SetLocked locks or unlocks a post and, if that changed anything, tells
// its readers on every node (Handler.HandlePostInfo), in the post's order,
// and adds the action to the audit log of the post's shard.
func (b *Buffer) SetLocked(ctx context.Context, postID string, locked bool, by, reason string, at time.Time) (bool, error) {
	shard := b.Shard(postID)
	val, _ := json.Marshal(lockValue{By: by, At: at.UTC().Format(comment.TimeLayout)})
	flag, action := "0", comment.AuditUnlock
	if locked {
		flag, action = "1", comment.AuditLock
	}
	entry := comment.Audit{At: at, By: by, Action: action, PostID: postID, Reason: reason}.JSON()
	n, err := lockScript.Run(ctx, b.rdb, []string{b.postKey(shard, "lock", postID), b.key(shard, "audit"), b.postKey(shard, "slow", postID)},
		flag, val, b.Channel(postID), postID, entry, b.cfg.AuditLen).Int()
	if err != nil {
		return false, fmt.Errorf("lock post: %w", classify(err))
	}
	return n == 1, nil
}

// Locked reports whether a post is locked.
func (b *Buffer) Locked(ctx context.Context, postID string) (bool, error) {
	n, err := b.rdb.Exists(ctx, b.postKey(b.Shard(postID), "lock", postID)).Result()
	if err != nil {
		return false, fmt.Errorf("lock of post: %w", classify(err))
	}
	return n == 1, nil
}
