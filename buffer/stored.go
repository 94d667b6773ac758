package buffer

import (
	"context"
	"fmt"
	"strconv"

	"github.com/commentd/commentd/comment"
	"github.com/redis/go-redis/v9"
)

// A shard's stored set (<prefix>:{n}:stored) holds the ids of its posts
// that may have comments in the database, so that a join of a post known
// never written skips the database read (on devmongo with 500,000
// comments, each such read was a full scan). A post absent from the set
// is "never written" only while the set also holds the shard's ready
// member (storedReady): the member says the set is complete, and is added
// only when that is known (MarkStoredReady, after the set was built from
// the database or when the database is empty). Without it, every post
// counts as possibly stored, as before the set existed.
//
// Every path that writes comments into the database marks their posts
// first, before the write, so a crash between the two leaves a mark
// without comments (one needless read later), never comments without a
// mark:
//
//   - the flusher: Claim marks the batch's posts before returning it, and
//     a batch left in flight by a holder that died is claimed, and marked,
//     again before it is written again; the claim script's writes and the
//     marks precede the ack in Redis's own log, so an AOF that loses its
//     tail loses the ack with the mark;
//   - write-through and `commentd import`: MarkStored before the insert,
//     and no insert if Redis did not take the mark.
//
// The ready member names the number of shards: a deployment that changes
// buffer.shards moves posts to other sets, whose ready member then does
// not match, and every post is read again until the sets are rebuilt.
// Marks are never removed (a post whose comments were all erased costs one
// read per join, as before).

// storedReady returns the member of a shard's stored set that says the set
// is complete. '#' is not a letter of any post id.
func (b *Buffer) storedReady() string { return "#ready:shards=" + strconv.Itoa(b.cfg.Shards) }

// NeverStored reports whether the post is known to have nothing in the
// database: its shard's stored set is complete and does not hold it.
func (b *Buffer) NeverStored(ctx context.Context, postID string) (bool, error) {
	in, err := b.rdb.SMIsMember(ctx, b.key(b.Shard(postID), "stored"), b.storedReady(), postID).Result()
	if err != nil {
		return false, fmt.Errorf("stored posts: %w", classify(err))
	}
	return in[0] && !in[1], nil
}

// MarkStored records that the posts may have comments in the database. It
// must return before their comments are written. One script run per shard
// touched (markScript: also when Redis is full).
func (b *Buffer) MarkStored(ctx context.Context, postIDs []string) error {
	byShard := make(map[int][]any)
	for _, p := range postIDs {
		n := b.Shard(p)
		byShard[n] = append(byShard[n], p)
	}
	for n, posts := range byShard {
		if err := markScript.Run(ctx, b.rdb, []string{b.key(n, "stored")}, posts...).Err(); err != nil {
			return fmt.Errorf("mark stored posts: %w", classify(err))
		}
	}
	return nil
}

// markBatch marks the posts of a claimed batch (see MarkStored).
func (b *Buffer) markBatch(ctx context.Context, batch []comment.Change) error {
	posts := make([]string, 0, 8)
	seen := make(map[string]bool)
	for _, ch := range batch {
		if p := ch.PostID; p != "" && !seen[p] {
			seen[p] = true
			posts = append(posts, p)
		}
	}
	return b.MarkStored(ctx, posts)
}

// MarkStoredReady says every shard's stored set is complete: each holds
// every post with comments in the database. Call it only when that is
// true: the database is empty, or the sets were just built from it (and
// every writer marks its posts, as this version does).
func (b *Buffer) MarkStoredReady(ctx context.Context) error {
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for n := range b.cfg.Shards {
			p.SAdd(ctx, b.key(n, "stored"), b.storedReady())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark stored sets ready: %w", classify(err))
	}
	return nil
}

// StoredReady reports whether every shard's stored set is complete.
func (b *Buffer) StoredReady(ctx context.Context) (bool, error) {
	cmds := make([]*redis.BoolCmd, b.cfg.Shards)
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for n := range b.cfg.Shards {
			cmds[n] = p.SIsMember(ctx, b.key(n, "stored"), b.storedReady())
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("stored sets ready: %w", classify(err))
	}
	for _, c := range cmds {
		if !c.Val() {
			return false, nil
		}
	}
	return true, nil
}
