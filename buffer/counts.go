package buffer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// CountTTL is how long a post's count stays in Redis without a change.
const CountTTL = 7 * 24 * time.Hour

// StoredCounts returns the number of visible comments the database holds
// of each post.
type StoredCounts func(ctx context.Context, posts []string) (map[string]int, error)

// ErrCountsBusy means a count could not be seeded: a batch of its shard
// was being flushed each time it was tried.
var ErrCountsBusy = errors.New("buffer: counts: the flusher kept the shard busy")

// Counts returns the number of comments of each post a reader may see,
// flushed or not. Redis keeps a count per post, changed in the same step as
// every comment and change (the records' d); a post it does not count yet
// is counted once by the database and seeded, which is exact only while no
// batch of its shard is being flushed (one written but not yet acked would
// count twice): the seed is refused then, and tried again a few times.
func (b *Buffer) Counts(ctx context.Context, posts []string, stored StoredCounts) (map[string]int, error) {
	out := make(map[string]int, len(posts))
	byShard := map[int][]string{}
	for _, p := range posts {
		byShard[b.Shard(p)] = append(byShard[b.Shard(p)], p)
	}
	cold := map[int][]string{}
	cmds := map[int]*redis.SliceCmd{}
	_, err := b.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for shard, ps := range byShard {
			keys := make([]string, len(ps))
			for i, p := range ps {
				keys[i] = b.postKey(shard, "count", p)
			}
			cmds[shard] = pl.MGet(ctx, keys...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("buffer: counts: %w", classify(err))
	}
	for shard, cmd := range cmds {
		for i, v := range cmd.Val() {
			p := byShard[shard][i]
			if s, ok := v.(string); ok {
				n, _ := strconv.Atoi(s)
				out[p] = n
			} else {
				cold[shard] = append(cold[shard], p)
			}
		}
	}
	for attempt := 0; len(cold) > 0; attempt++ {
		if attempt == 20 {
			return nil, ErrCountsBusy
		}
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(attempt) * 10 * time.Millisecond):
			}
		}
		if err := b.seedCounts(ctx, cold, out, stored); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// seedCounts seeds the counts of the cold posts of each shard, puts them in
// out and drops the shards it seeded from cold.
func (b *Buffer) seedCounts(ctx context.Context, cold map[int][]string, out map[string]int, stored StoredCounts) error {
	acks := map[int]*redis.StringCmd{}
	busy := map[int]*redis.IntCmd{}
	_, err := b.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for shard := range cold {
			acks[shard] = pl.Get(ctx, b.key(shard, "acks"))
			busy[shard] = pl.LLen(ctx, b.key(shard, "inflight"))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("buffer: counts: %w", classify(err))
	}
	var posts []string
	for shard, ps := range cold {
		if busy[shard].Val() == 0 {
			posts = append(posts, ps...)
		}
	}
	if len(posts) == 0 {
		return nil
	}
	db, err := stored(ctx, posts)
	if err != nil {
		return fmt.Errorf("buffer: counts from the database: %w", err)
	}
	for shard, ps := range cold {
		if busy[shard].Val() > 0 {
			continue
		}
		seen := acks[shard].Val()
		if seen == "" {
			seen = "0"
		}
		keys := []string{b.key(shard, "buf"), b.key(shard, "inflight"), b.key(shard, "acks")}
		args := []any{seen, CountTTL.Milliseconds()}
		for _, p := range ps {
			keys = append(keys, b.postKey(shard, "count", p))
			args = append(args, p, db[p])
		}
		res, err := countsScript.Run(ctx, b.rdb, keys, args...).Slice()
		if errors.Is(err, redis.Nil) {
			continue // a batch moved meanwhile: try again
		}
		if err != nil {
			return fmt.Errorf("buffer: seed counts: %w", classify(err))
		}
		for i, v := range res {
			s, _ := v.(string)
			n, _ := strconv.Atoi(s)
			out[ps[i]] = n
		}
		delete(cold, shard)
	}
	return nil
}

// CachedCounts returns the counts Redis keeps of posts; those it does not
// count yet are left out.
func (b *Buffer) CachedCounts(ctx context.Context, posts []string) (map[string]int, error) {
	out := make(map[string]int, len(posts))
	for _, p := range posts {
		s, err := b.rdb.Get(ctx, b.postKey(b.Shard(p), "count", p)).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("buffer: counts: %w", classify(err))
		}
		n, _ := strconv.Atoi(s)
		out[p] = n
	}
	return out, nil
}

// DropCounts forgets the counts Redis keeps of posts: the next Counts
// counts them in the database again.
func (b *Buffer) DropCounts(ctx context.Context, posts []string) error {
	for _, p := range posts {
		if err := b.rdb.Del(ctx, b.postKey(b.Shard(p), "count", p)).Err(); err != nil {
			return fmt.Errorf("buffer: drop counts: %w", classify(err))
		}
	}
	return nil
}
