package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/store"
	"github.com/stretchr/testify/require"
)

// countingStore is the real store, counting the history reads of joins
// and pages.
type countingStore struct {
	*store.Store
	reads atomic.Int64
}

func (s *countingStore) History(ctx context.Context, postID, before string, limit int) ([]comment.Comment, error) {
	s.reads.Add(1)
	return s.Store.History(ctx, postID, before, limit)
}

func (s *countingStore) HistoryAll(ctx context.Context, postID, before string, limit int) ([]comment.Comment, error) {
	s.reads.Add(1)
	return s.Store.HistoryAll(ctx, postID, before, limit)
}

// coldService is a Service on the env's Redis and devmongo whose history
// reads are counted.
func (e *env) coldService(writeThrough bool) (*comment.Service, *countingStore) {
	st := &countingStore{Store: e.store}
	return comment.NewService(e.buf, e.buf, st, comment.ServiceConfig{HistoryLimit: 50, WriteThrough: writeThrough}), st
}

// forget deletes what Redis keeps of a post's history, as the recent
// list's expiry (history.recent_ttl) does: its next join is cold.
func (e *env) forget(t *testing.T, postID string) {
	t.Helper()
	n := e.buf.Shard(postID)
	require.NoError(t, e.rdb.Del(context.Background(),
		fmt.Sprintf("cmt:{%d}:recent:%s", n, postID), fmt.Sprintf("cmt:{%d}:complete:%s", n, postID)).Err())
}

// A commentd started on an empty database trusts the stored sets; joins
// and history pages of a post never written then read nothing from
// MongoDB, however many readers come at once.
func TestColdJoinsOfNewPostsReadNothing(t *testing.T) {
	e := newEnv(t, 4)
	_, stop := startApp(t, e.config(4))
	defer stop()
	ctx := context.Background()
	for deadline := time.Now().Add(10 * time.Second); ; {
		ready, err := e.buf.StoredReady(ctx)
		require.NoError(t, err)
		if ready {
			break
		}
		require.False(t, time.Now().After(deadline), "commentd did not mark the stored sets ready on an empty database")
		time.Sleep(20 * time.Millisecond)
	}
	svc, st := e.coldService(false)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Go(func() {
			_, err := svc.Join(ctx, comment.Actor{Moderator: i%10 == 0}, fmt.Sprintf("new-%d", i%50), "")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	_, err := svc.History(ctx, comment.Actor{}, "new-1", "", 20)
	require.NoError(t, err)
	require.Zero(t, st.reads.Load(), "history reads of posts never written")

	// The flusher marks what it writes: a flushed post is read once cold.
	c, err := comment.New(comment.Input{PostID: "new-1", UserID: "u", Content: "first"}, time.Now(), 0)
	require.NoError(t, err)
	require.NoError(t, e.buf.Append(ctx, c))
	for deadline := time.Now().Add(10 * time.Second); ; { // the app's flusher
		n, err := e.store.Count(ctx, "new-1")
		require.NoError(t, err)
		if n == 1 {
			break
		}
		require.False(t, time.Now().After(deadline), "not flushed")
		time.Sleep(20 * time.Millisecond)
	}
	e.forget(t, "new-1")
	got, err := svc.Join(ctx, comment.Actor{}, "new-1", "")
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.EqualValues(t, 1, st.reads.Load())
}

// Comments stored by every path are read on a cold join: the flusher's,
// an import's and write-through's; and a deployment whose sets are not
// known complete reads every post, as before.
func TestColdJoinsReadStoredPosts(t *testing.T) {
	e := newEnv(t, 4)
	ctx := context.Background()
	svc, st := e.coldService(false)

	// Stored before the sets existed: not ready, so read.
	_, _, err := e.store.Import(ctx, []comment.Comment{{ID: comment.NewID(time.Now()), PostID: "old", UserID: "u",
		Content: "from before", CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}})
	require.NoError(t, err)
	got, err := svc.Join(ctx, comment.Actor{}, "old", "")
	require.NoError(t, err)
	require.Len(t, got, 1, "a post stored before the upgrade")

	// `commentd stored-posts` builds the sets from MongoDB.
	out, err := e.runCmd(t, "stored-posts")
	require.NoError(t, err, out)
	require.Contains(t, out, "1 posts with stored comments")
	e.forget(t, "old")
	got, err = svc.Join(ctx, comment.Actor{}, "old", "")
	require.NoError(t, err)
	require.Len(t, got, 1, "a post marked by stored-posts")

	out, err = e.runCmd(t, "import", "testdata/disqus.xml", "--format", "disqus")
	require.NoError(t, err, out)
	got, err = svc.Join(ctx, comment.Actor{}, "post-one", "")
	require.NoError(t, err)
	require.Len(t, got, 3, "an imported post")

	wt, _ := e.coldService(true)
	posted := make(chan error, 1)
	wt.PostAsync(ctx, comment.Input{PostID: "direct", UserID: "u", Content: "written through"},
		func(_ comment.Comment, err error) { posted <- err })
	require.NoError(t, <-posted)
	e.forget(t, "direct")
	got, err = svc.Join(ctx, comment.Actor{}, "direct", "")
	require.NoError(t, err)
	require.Len(t, got, 1, "a post written through")

	before := st.reads.Load()
	_, err = svc.Join(ctx, comment.Actor{}, "never", "")
	require.NoError(t, err)
	require.Equal(t, before, st.reads.Load(), "a post never written is not read")
}

// A flusher killed after its insert and before its ack leaves its posts
// marked: they were marked when the batch was claimed, before the write.
func TestColdJoinAfterFlusherCrash(t *testing.T) {
	e := newEnv(t, 1)
	ctx := context.Background()
	require.NoError(t, e.buf.MarkStoredReady(ctx))
	e.appendN(t, 1200, 4)
	e.crashFlusherAfterWrite(t)
	svc, st := e.coldService(false)
	for i := range 17 {
		post := fmt.Sprintf("post%d", i)
		n, err := e.store.Count(ctx, post)
		require.NoError(t, err)
		require.NotZero(t, n)
		e.forget(t, post)
		got, err := svc.Join(ctx, comment.Actor{}, post, "")
		require.NoError(t, err)
		require.Len(t, got, min(50, int(n)), post)
	}
	require.EqualValues(t, 17, st.reads.Load())
}

// A reader's cold join seeds Redis with the hidden and held comments too:
// a moderator joining after it is answered from Redis and still sees them
// (the seed once held only what the first joiner could see), the reader
// does not, and the two joins cost one database read.
func TestColdJoinSeedKeepsHiddenForModerators(t *testing.T) {
	e := newEnv(t, 1)
	ctx := context.Background()
	svc, st := e.coldService(false)
	now := time.Now().UTC().Truncate(time.Millisecond)
	var stored []comment.Comment
	for i, status := range []string{"", comment.StatusHidden, comment.StatusPending, ""} {
		stored = append(stored, comment.Comment{ID: comment.NewID(now.Add(time.Duration(i) * time.Millisecond)),
			PostID: "mixed", UserID: "u", Content: fmt.Sprintf("c%d", i), Status: status, CreatedAt: now})
	}
	_, _, err := e.store.Import(ctx, stored)
	require.NoError(t, err)

	got, err := svc.Join(ctx, comment.Actor{UserID: "reader"}, "mixed", "")
	require.NoError(t, err)
	require.Equal(t, []string{"c0", "c3"}, contents(got), "a reader sees the visible ones")
	got, err = svc.Join(ctx, comment.Actor{UserID: "mod", Moderator: true}, "mixed", "")
	require.NoError(t, err)
	require.Equal(t, []string{"c0", "c1", "c2", "c3"}, contents(got), "a moderator after the reader's seed")
	require.EqualValues(t, 1, st.reads.Load(), "database reads of both joins")

	// Redis now holds the hidden and held ones: readers still do not see them.
	got, err = svc.Join(ctx, comment.Actor{UserID: "reader"}, "mixed", "")
	require.NoError(t, err)
	require.Equal(t, []string{"c0", "c3"}, contents(got), "a reader's join from the seeded list")
	page, err := svc.History(ctx, comment.Actor{UserID: "reader"}, "mixed", "", 10)
	require.NoError(t, err)
	require.Equal(t, []string{"c0", "c3"}, contents(page.Comments), "a reader's history page")
}

func contents(cs []comment.Comment) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Content
	}
	return out
}
