package buffer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commentd/commentd/buffer"
	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/internal/testsvc"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newBuffer(t *testing.T, cfg buffer.Config, redisArgs ...string) (*buffer.Buffer, *redis.Client, *testsvc.Redis) {
	t.Helper()
	srv := testsvc.StartRedis(t, redisArgs...)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b := buffer.New(rdb, cfg)
	t.Cleanup(func() {
		b.Close()
		rdb.Close()
	})
	return b, rdb, srv
}

func mk(t testing.TB, post, content string) comment.Comment {
	t.Helper()
	c, err := comment.New(comment.Input{PostID: post, UserID: "u1", Content: content}, time.Now(), 0)
	require.NoError(t, err)
	return c
}

func TestAppendRecentPublish(t *testing.T) {
	b, rdb, _ := newBuffer(t, buffer.Config{Shards: 4, RecentLen: 3})
	ctx := context.Background()

	sub := rdb.SSubscribe(ctx, b.Channel("p1"))
	defer sub.Close()
	_, err := sub.Receive(ctx) // subscription confirmed
	require.NoError(t, err)

	var want []comment.Comment
	for i := range 5 {
		c := mk(t, "p1", fmt.Sprintf("c%d", i))
		require.NoError(t, b.Append(ctx, c))
		want = append(want, c)
	}
	require.NoError(t, b.Append(ctx, mk(t, "p2", "other post")))

	got, _, err := b.Recent(ctx, "p1", 10)
	require.NoError(t, err)
	require.Equal(t, want[2:], got, "recent keeps the last RecentLen, oldest first")
	got, _, err = b.Recent(ctx, "p1", 2)
	require.NoError(t, err)
	require.Equal(t, want[3:], got)

	ch := sub.Channel()
	for i := range 5 {
		select {
		case m := <-ch:
			require.Contains(t, m.Payload, fmt.Sprintf(`"content":"c%d"`, i))
		case <-time.After(5 * time.Second):
			t.Fatalf("message %d not published", i)
		}
	}
	var total int64
	for s := range b.Shards() {
		n, err := b.Pending(ctx, s)
		require.NoError(t, err)
		total += n
	}
	require.EqualValues(t, 6, total)
}

func TestClaimAckFencing(t *testing.T) {
	b, _, _ := newBuffer(t, buffer.Config{Shards: 1})
	ctx := context.Background()
	for i := range 10 {
		require.NoError(t, b.Append(ctx, mk(t, "p", fmt.Sprint(i))))
	}
	tok, ok, err := b.AcquireLease(ctx, 0, "a", time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = b.AcquireLease(ctx, 0, "b", time.Second)
	require.NoError(t, err)
	require.False(t, ok, "lease is held")

	batch, err := b.Claim(ctx, 0, tok, 4)
	require.NoError(t, err)
	require.Len(t, batch, 4)
	require.Equal(t, "0", batch[0].State.Content)

	// Claim again before Ack: the same in-flight batch comes back.
	again, err := b.Claim(ctx, 0, tok, 4)
	require.NoError(t, err)
	require.Equal(t, batch, again)
	require.NoError(t, b.Ack(ctx, 0, tok, nil))

	next, err := b.Claim(ctx, 0, tok, 4)
	require.NoError(t, err)
	require.Equal(t, "4", next[0].State.Content)

	// The holder "dies": its lease expires, b takes over and gets the
	// in-flight batch; a's stale token can neither claim nor ack.
	require.NoError(t, b.ReleaseLease(ctx, 0, tok))
	tok2, ok, err := b.AcquireLease(ctx, 0, "b", time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	require.NotEqual(t, tok, tok2)
	_, err = b.Claim(ctx, 0, tok, 4)
	require.ErrorIs(t, err, buffer.ErrLeaseLost)
	require.ErrorIs(t, b.Ack(ctx, 0, tok, nil), buffer.ErrLeaseLost)
	ok, err = b.RenewLease(ctx, 0, tok, time.Second)
	require.NoError(t, err)
	require.False(t, ok)

	inherited, err := b.Claim(ctx, 0, tok2, 100)
	require.NoError(t, err)
	require.Equal(t, next, inherited)
	dead := []comment.Rejected{{Change: inherited[0], Reason: "validation failed"}}
	require.NoError(t, b.Ack(ctx, 0, tok2, dead))
	dl, err := b.DeadLetters(ctx, 0)
	require.NoError(t, err)
	require.Len(t, dl, 1)
	require.Equal(t, inherited[0].State, dl[0].Comment)
	require.Equal(t, "validation failed", dl[0].Reason)

	rest, err := b.Claim(ctx, 0, tok2, 100)
	require.NoError(t, err)
	require.Len(t, rest, 2)
	require.NoError(t, b.Ack(ctx, 0, tok2, nil))
	n, err := b.Pending(ctx, 0)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestLeaseExpires(t *testing.T) {
	b, _, _ := newBuffer(t, buffer.Config{Shards: 2})
	ctx := context.Background()
	tok, ok, err := b.AcquireLease(ctx, 1, "a", 100*time.Millisecond)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = b.RenewLease(ctx, 1, tok, 100*time.Millisecond)
	require.NoError(t, err)
	require.True(t, ok)
	require.Eventually(t, func() bool {
		_, ok, err := b.AcquireLease(ctx, 1, "b", time.Second)
		return err == nil && ok
	}, 5*time.Second, 20*time.Millisecond)
}

func TestBusyAtHighWaterMark(t *testing.T) {
	b, _, _ := newBuffer(t, buffer.Config{Shards: 2, MaxLen: 20})
	ctx := context.Background()
	// Each shard holds at most ceil(20/2) = 10. Find a post per shard.
	posts := map[int]string{}
	for i := 0; len(posts) < 2; i++ {
		p := fmt.Sprintf("post%d", i)
		if _, ok := posts[b.Shard(p)]; !ok {
			posts[b.Shard(p)] = p
		}
	}
	accepted := 0
	var busy int
	for i := range 15 {
		err := b.Append(ctx, mk(t, posts[0], fmt.Sprint(i)))
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, buffer.ErrBusy):
			busy++
		default:
			t.Fatal(err)
		}
	}
	require.Equal(t, 10, accepted)
	require.Equal(t, 5, busy)
	require.NoError(t, b.Append(ctx, mk(t, posts[1], "other shard has room")))

	// Claimed comments still count until acked; after the ack there is room.
	tok, _, err := b.AcquireLease(ctx, 0, "f", time.Second)
	require.NoError(t, err)
	claimed, err := b.Claim(ctx, 0, tok, 4)
	require.NoError(t, err)
	require.ErrorIs(t, b.Append(ctx, mk(t, posts[0], "x")), buffer.ErrBusy)
	require.NoError(t, b.Ack(ctx, 0, tok, nil))
	require.NoError(t, b.Append(ctx, mk(t, posts[0], "room again")))
	n, err := b.Pending(ctx, 0)
	require.NoError(t, err)
	require.EqualValues(t, 10-len(claimed)+1, n)
}

func TestBusyWhenRedisOutOfMemory(t *testing.T) {
	b, rdb, _ := newBuffer(t, buffer.Config{Shards: 1}, "--maxmemory", "3mb")
	ctx := context.Background()
	big := strings.Repeat("x", 1900)
	var accepted []comment.Comment
	var err error
	for i := 0; i < 100000; i++ {
		c := mk(t, "p", big)
		if err = b.Append(ctx, c); err != nil {
			break
		}
		accepted = append(accepted, c)
	}
	require.ErrorIs(t, err, buffer.ErrBusy, "OOM must be BUSY")
	require.NotEmpty(t, accepted)

	// Nothing accepted is lost: the flusher can still drain a full Redis.
	tok, ok, err := b.AcquireLease(ctx, 0, "f", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	var drained []comment.Comment
	for {
		batch, err := b.Claim(ctx, 0, tok, 100)
		require.NoError(t, err)
		if len(batch) == 0 {
			break
		}
		for _, ch := range batch {
			drained = append(drained, ch.State)
		}
		require.NoError(t, b.Ack(ctx, 0, tok, nil))
	}
	require.Equal(t, len(accepted), len(drained))
	for i := range accepted {
		require.Equal(t, accepted[i].ID, drained[i].ID)
	}
	_ = rdb
}

func TestGroupCommitConcurrent(t *testing.T) {
	b, _, _ := newBuffer(t, buffer.Config{Shards: 4})
	ctx := context.Background()
	const writers, each = 20, 200
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				c, err := comment.New(comment.Input{PostID: fmt.Sprintf("post%d", (w+i)%7), UserID: "u", Content: "x"}, time.Now(), 0)
				if err == nil {
					err = b.Append(ctx, c)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var total int64
	for s := range b.Shards() {
		n, err := b.Pending(ctx, s)
		require.NoError(t, err)
		total += n
	}
	require.EqualValues(t, writers*each, total)
}

func TestUnavailableAndClosed(t *testing.T) {
	b, _, srv := newBuffer(t, buffer.Config{Shards: 1, Timeout: 500 * time.Millisecond})
	ctx := context.Background()
	require.NoError(t, b.Append(ctx, mk(t, "p", "before")))
	srv.Kill()
	err := b.Append(ctx, mk(t, "p", "down"))
	require.ErrorIs(t, err, buffer.ErrUnavailable)
	srv.Start()
	// AOF everysec: the first append may be lost by SIGKILL; the client
	// reconnects and script cache is reloaded (NOSCRIPT).
	require.Eventually(t, func() bool { return b.Append(ctx, mk(t, "p", "after")) == nil },
		10*time.Second, 50*time.Millisecond)
	require.NoError(t, b.Close())
	require.ErrorIs(t, b.Append(ctx, mk(t, "p", "closed")), buffer.ErrClosed)
}

func TestAppendOnceIdempotent(t *testing.T) {
	b, _, _ := newBuffer(t, buffer.Config{Shards: 2, DedupeWindow: time.Minute})
	ctx := context.Background()
	first := mk(t, "p", "hello")
	got, dup, err := b.AppendOnce(ctx, first, "alice:k1")
	require.NoError(t, err)
	require.False(t, dup)
	require.Equal(t, first, got)

	retry := mk(t, "p", "hello") // a new id, as a retry would get
	got, dup, err = b.AppendOnce(ctx, retry, "alice:k1")
	require.NoError(t, err)
	require.True(t, dup, "the same key: a retry")
	require.Equal(t, first, got, "the first comment comes back")

	other, dup, err := b.AppendOnce(ctx, mk(t, "p", "hello"), "alice:k2")
	require.NoError(t, err)
	require.False(t, dup)
	require.NotEqual(t, first.ID, other.ID)

	recent, _, err := b.Recent(ctx, "p", 10)
	require.NoError(t, err)
	require.Len(t, recent, 2, "the retry appended nothing")

	// Concurrent duplicates in one round trip: still once.
	var wg sync.WaitGroup
	ids := make(chan string, 10)
	for range 10 {
		burst := mk(t, "p", "burst") // on the test's goroutine: mk may fail it
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := b.AppendOnce(ctx, burst, "bob:k")
			if err == nil {
				ids <- c.ID
			}
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	require.Len(t, seen, 1, "every caller got the same comment")
	recent, _, err = b.Recent(ctx, "p", 20)
	require.NoError(t, err)
	require.Len(t, recent, 3)
}

// The Redis client resends a pipeline whose reply it did not get (here a
// read timeout while Redis is stopped); every copy reaches Redis and runs
// once it continues. The comment is appended once, not once per copy, and
// a comment with an idempotency key too.
func TestAppendNotRepeatedWhenTheClientResends(t *testing.T) {
	srv := testsvc.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: 200 * time.Millisecond, MaxRetries: 3})
	b := buffer.New(rdb, buffer.Config{Shards: 1})
	defer func() {
		b.Close()
		rdb.Close()
	}()
	ctx := context.Background()
	require.NoError(t, b.Append(ctx, mk(t, "p", "before"))) // script loaded, pool warm

	for i, key := range []string{"", "client-1"} {
		srv.Pause()
		c := mk(t, "p", fmt.Sprint("resent ", i))
		_, _, err := b.AppendOnce(ctx, c, key)
		require.ErrorIs(t, err, buffer.ErrUnavailable, "no reply while Redis is stopped")
		srv.Resume()
		require.Eventually(t, func() bool {
			n, _, _ := b.Depth(ctx, 0)
			return n >= int64(2+i)
		}, 5*time.Second, 10*time.Millisecond)
		time.Sleep(300 * time.Millisecond) // every resent copy has run
		n, _, err := b.Depth(ctx, 0)
		require.NoError(t, err)
		require.EqualValues(t, 2+i, n, "appended once, though sent up to 4 times")
		recent, _, err := b.Recent(ctx, "p", 10)
		require.NoError(t, err)
		require.Len(t, recent, 2+i)
	}
}

// Comments pushed out of the recent list stay findable among the changed
// ones (the flusher may not have stored them yet), the newest ChangedLen
// of them, whether pushed out one per append or many in one.
func TestPushedOutOfRecentStayFindable(t *testing.T) {
	b, _, _ := newBuffer(t, buffer.Config{Shards: 1, RecentLen: 3, ChangedLen: 4})
	ctx := context.Background()
	var cs []comment.Comment
	for i := range 12 {
		c := mk(t, "p", fmt.Sprintf("c%d", i))
		cs = append(cs, c)
	}
	// Twelve at once: one script run, most of them in one batch.
	var wg sync.WaitGroup
	for _, c := range cs[:8] {
		wg.Add(1)
		b.AppendOnceAsync(ctx, c, "", nil, func(_ comment.Comment, _ bool, err error) {
			assert.NoError(t, err)
			wg.Done()
		})
	}
	wg.Wait()
	for _, c := range cs[8:] {
		require.NoError(t, b.Append(ctx, c))
	}
	recent, _, err := b.Recent(ctx, "p", 10)
	require.NoError(t, err)
	require.Equal(t, cs[9:], recent)
	for i, c := range cs[:9] {
		got, found, err := b.State(ctx, "p", c.ID)
		require.NoError(t, err)
		require.Equal(t, i >= 5, found, "comment %d of the 9 pushed out (the newest 4 are kept)", i)
		if found {
			require.Equal(t, c, got)
		}
	}
}
