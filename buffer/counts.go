package buffer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// StoredCounts returns the number of visible comments the database holds
// of each post.
type StoredCounts func(ctx context.Context, posts []string) (map[string]int, error)

// ErrCountsBusy means a post is not counted yet: its database count is
// still running, or failed, or its shard was flushing each time.
var ErrCountsBusy = errors.New("buffer: counts: not counted yet (a database count is running, or the shard kept flushing)")

// Counts returns the number of comments of each post a reader may see,
// flushed or not. Redis keeps a count per post, without expiry, changed in
// the same step as every comment and change (the records' d); a post it
// does not count yet is counted once by the database and seeded, which is
// exact only while no batch of its shard is being flushed (one written but
// not yet acked would count twice): the seed is refused then, and tried
// again. The database count is a scan on devmongo: it runs in the
// background, one at a time per node, shared by every caller waiting for
// those posts; a caller whose ctx ends first gets ErrCountsBusy, and a
// later call finds the count in Redis.
func (b *Buffer) Counts(ctx context.Context, posts []string, stored StoredCounts) (map[string]int, error) {
	out, cold, err := b.cachedCounts(ctx, posts)
	if err != nil || len(cold) == 0 {
		return out, err
	}
	select {
	case <-b.cold.count(cold, func(ctx context.Context, posts []string) { b.seedAll(ctx, posts, b.unlessNeverStored(stored)) }):
	case <-ctx.Done():
		return nil, ErrCountsBusy
	}
	seeded, still, err := b.cachedCounts(ctx, cold)
	if err != nil {
		return nil, err
	}
	if len(still) > 0 {
		return nil, ErrCountsBusy
	}
	maps.Copy(out, seeded)
	return out, nil
}

// cachedCounts returns the counts Redis keeps of posts, and the posts it
// does not count.
func (b *Buffer) cachedCounts(ctx context.Context, posts []string) (map[string]int, []string, error) {
	out := make(map[string]int, len(posts))
	byShard := map[int][]string{}
	for _, p := range posts {
		byShard[b.Shard(p)] = append(byShard[b.Shard(p)], p)
	}
	var cold []string
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
		return nil, nil, fmt.Errorf("buffer: counts: %w", classify(err))
	}
	for shard, cmd := range cmds {
		for i, v := range cmd.Val() {
			p := byShard[shard][i]
			if s, ok := v.(string); ok {
				n, _ := strconv.Atoi(s)
				out[p] = n
			} else {
				cold = append(cold, p)
			}
		}
	}
	return out, cold, nil
}

// seedAll seeds the counts of posts, trying a shard again while a batch of
// it is in flight, for a while.
func (b *Buffer) seedAll(ctx context.Context, posts []string, stored StoredCounts) {
	cold := map[int][]string{}
	for _, p := range posts {
		cold[b.Shard(p)] = append(cold[b.Shard(p)], p)
	}
	out := map[string]int{}
	for attempt := 0; len(cold) > 0 && attempt < 50; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(min(attempt, 10)) * 20 * time.Millisecond):
			}
		}
		if err := b.seedCounts(ctx, cold, out, stored); err != nil {
			b.cfg.Logger.Warn("buffer: counting posts failed", "posts", len(posts), "err", err)
			return
		}
	}
	if len(cold) > 0 {
		b.cfg.Logger.Warn("buffer: posts not counted: their shards kept flushing", "shards", len(cold))
	}
}

// coldCounts runs the database counts of posts Redis does not count: one
// at a time, each post once however many callers wait for it.
type coldCounts struct {
	mu      sync.Mutex
	running map[string]chan struct{} // post → closed when its count is done
	turn    sync.Mutex               // one database count at a time
}

// coldCountTimeout bounds one database count (a scan on devmongo).
const coldCountTimeout = 10 * time.Minute

// count starts counting the posts not being counted already, and returns a
// channel closed once every one of posts is done (counted or failed).
func (c *coldCounts) count(posts []string, run func(context.Context, []string)) <-chan struct{} {
	c.mu.Lock()
	if c.running == nil {
		c.running = map[string]chan struct{}{}
	}
	var mine []string
	var waits []chan struct{}
	done := make(chan struct{})
	for _, p := range posts {
		if ch, ok := c.running[p]; ok {
			waits = append(waits, ch)
			continue
		}
		c.running[p] = done
		mine = append(mine, p)
	}
	c.mu.Unlock()
	if len(mine) > 0 {
		waits = append(waits, done)
		go func() {
			c.turn.Lock()
			ctx, cancel := context.WithTimeout(context.Background(), coldCountTimeout)
			run(ctx, mine)
			cancel()
			c.turn.Unlock()
			c.mu.Lock()
			for _, p := range mine {
				delete(c.running, p)
			}
			c.mu.Unlock()
			close(done)
		}()
	}
	all := make(chan struct{})
	go func() {
		for _, w := range waits {
			<-w
		}
		close(all)
	}()
	return all
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
		args := []any{seen}
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
	out, _, err := b.cachedCounts(ctx, posts)
	return out, err
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

// unlessNeverStored is stored, asked only of the posts that may have
// comments in the database: a post known never written (NeverStored)
// counts 0 there, without a scan. The seed's guard holds as for a database
// answer: the shard's acks were read before, so a batch of the post
// claimed (marked) and acked meanwhile makes the seed refused.
func (b *Buffer) unlessNeverStored(stored StoredCounts) StoredCounts {
	return func(ctx context.Context, posts []string) (map[string]int, error) {
		var maybe []string
		out := map[string]int{}
		for _, p := range posts {
			if never, err := b.NeverStored(ctx, p); err == nil && never {
				out[p] = 0
			} else {
				maybe = append(maybe, p)
			}
		}
		if len(maybe) == 0 {
			return out, nil
		}
		db, err := stored(ctx, maybe)
		if err != nil {
			return nil, err
		}
		maps.Copy(out, db)
		return out, nil
	}
}
