package buffer_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commentd/commentd/buffer"
	"github.com/commentd/commentd/comment"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// Readers joining one post at once all subscribe, whatever the moment the
// confirmation from Redis arrives among them, and each comment reaches the
// handler once.
func TestFanoutConcurrentSubscribe(t *testing.T) {
	b, _, _ := newBuffer(t, buffer.Config{Shards: 2})
	var got atomic.Int64
	f := b.NewFanout()
	f.RegisterHandler(handlerFuncs{comment: func(postID, id string, _ []byte) {
		if postID == "hot" && id != "" {
			got.Add(1)
		}
	}})
	defer f.Close()

	// Spread over some milliseconds, so that some join before the
	// confirmation, some around it and some after.
	const readers = 2000
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, readers)
	var wg sync.WaitGroup
	for i := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 10 * time.Microsecond)
			errs <- f.Subscribe(ctx, "hot")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	require.NoError(t, b.Append(context.Background(), mk(t, "hot", "once")))
	require.Eventually(t, func() bool { return got.Load() == 1 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // a second delivery would show now
	require.EqualValues(t, 1, got.Load())
}

// handlerFuncs is a buffer.Handler of functions; nil ones ignore their
// events.
type handlerFuncs struct {
	comment   func(postID, id string, payload []byte)
	change    func(postID string, ch comment.Change)
	persisted func(postID string, ids []string)
	postInfo  func(postID string, info comment.PostInfo)
}

func (h handlerFuncs) HandleComment(postID, id string, payload []byte) {
	if h.comment != nil {
		h.comment(postID, id, payload)
	}
}

func (h handlerFuncs) HandleChange(postID string, ch comment.Change, _ []byte) {
	if h.change != nil {
		h.change(postID, ch)
	}
}

func (h handlerFuncs) HandlePersisted(postID string, ids []string) {
	if h.persisted != nil {
		h.persisted(postID, ids)
	}
}

func (h handlerFuncs) HandlePostInfo(postID string, info comment.PostInfo) {
	if h.postInfo != nil {
		h.postInfo(postID, info)
	}
}

// After its pub/sub connection is cut, a node's handler gets what the post
// got meanwhile exactly once, each comment's versions in order, and only
// as readers may see it: a comment hidden or deleted before the node
// caught up never arrives as a new comment, and comments nobody changed
// (some pushed out of the recent list) are not sent as changes.
//
// With the post's log (LogLen events) reaching back to the last event the
// node handled, it gets every event in the order published; with a log
// too short, the current states.
func TestFanoutCatchUpAfterReconnect(t *testing.T) {
	t.Run("log", func(t *testing.T) { testCatchUp(t, 500) })
	t.Run("states", func(t *testing.T) { testCatchUp(t, 2) })
}

func testCatchUp(t *testing.T, logLen int) {
	cfg := buffer.Config{Shards: 1, RecentLen: 3, LogLen: logLen}
	b, _, srv := newBuffer(t, cfg)
	rdb2 := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb2.Close()
	b2 := buffer.New(rdb2, cfg) // another node
	defer b2.Close()
	ctx := context.Background()

	type event struct {
		added bool
		c     comment.Comment
	}
	var mu sync.Mutex
	var got []event
	f := b.NewFanout()
	f.RegisterHandler(handlerFuncs{
		comment: func(postID, id string, payload []byte) {
			var c comment.Comment
			require.NoError(t, c.UnmarshalJSON(payload))
			mu.Lock()
			got = append(got, event{true, c})
			mu.Unlock()
		},
		change: func(postID string, ch comment.Change) {
			mu.Lock()
			got = append(got, event{false, ch.State})
			mu.Unlock()
		},
	})
	defer f.Close()
	require.NoError(t, f.Subscribe(ctx, "p"))

	final := map[string]comment.Comment{}
	var published []string // id@version, in order
	create := func(content string) comment.Comment {
		c := mk(t, "p", content)
		require.NoError(t, b2.Append(ctx, c))
		final[c.ID] = c
		published = append(published, fmt.Sprintf("%s@1", c.ID))
		return c
	}
	change := func(c comment.Comment, op comment.Op, content string) comment.Comment {
		actor := comment.Actor{UserID: "u1", Moderator: op == comment.OpHide}
		ch, err := comment.Decide(c, true, comment.ChangeRequest{Op: op, PostID: "p", CommentID: c.ID, Content: content},
			actor, comment.Rules{}, time.Now())
		require.NoError(t, err)
		require.NoError(t, b2.Apply(ctx, ch, c.Version(), true))
		final[c.ID] = ch.State
		published = append(published, fmt.Sprintf("%s@%d", c.ID, ch.V))
		return ch.State
	}
	untouched := map[string]bool{}
	for i := range 5 {
		untouched[create(fmt.Sprintf("before %d", i)).ID] = true
	}
	a := create("a")
	for round := range 3 {
		_, err := rdb2.ClientKillByFilter(ctx, "TYPE", "pubsub").Result()
		require.NoError(t, err)
		a = change(a, comment.OpEdit, fmt.Sprintf("a edit %d", round)) // a change first...
		x := create(fmt.Sprintf("x%d", round))                         // ...then new comments
		change(x, comment.OpHide, "")
		y := create(fmt.Sprintf("y%d", round))
		change(y, comment.OpDelete, "")
		for i := range 4 { // pushes x and y out of the recent list
			create(fmt.Sprintf("z%d.%d", round, i))
		}
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			last := map[string]int{}
			for _, e := range got {
				last[e.c.ID] = e.c.Version()
			}
			for id, c := range final {
				if !untouched[id] && last[id] != c.Version() {
					return false
				}
			}
			return true
		}, 10*time.Second, 20*time.Millisecond, "round %d: every comment's final state arrives", round)
	}
	time.Sleep(200 * time.Millisecond) // a late repeat would show now

	mu.Lock()
	defer mu.Unlock()
	if logLen > len(published) {
		var order []string
		for _, e := range got {
			order = append(order, fmt.Sprintf("%s@%d", e.c.ID, e.c.Version()))
		}
		require.Equal(t, published, order, "every event, in the order published")
	}
	seen := map[string]int{}
	for _, e := range got {
		c := e.c
		require.Greater(t, c.Version(), seen[c.ID], "comment %q: versions in order, each once", c.Content)
		seen[c.ID] = c.Version()
		require.Equal(t, final[c.ID].Version() >= c.Version(), true)
		if e.added {
			require.True(t, c.Visible(), "a hidden or deleted comment never arrives as new: %+v", c)
		} else {
			require.False(t, untouched[c.ID], "an unchanged comment is not sent as changed: %q", c.Content)
		}
	}
}

// A node whose subscription breaks before any event of the post arrived
// catches up from where the post's log stood when it subscribed: what a
// reader joining then read (an edit just before) is not sent again.
func TestFanoutCatchUpBeforeFirstEvent(t *testing.T) {
	for _, empty := range []bool{false, true} {
		t.Run(fmt.Sprintf("log empty %v", empty), func(t *testing.T) {
			cfg := buffer.Config{Shards: 1}
			b, _, srv := newBuffer(t, cfg)
			rdb2 := redis.NewClient(&redis.Options{Addr: srv.Addr})
			defer rdb2.Close()
			b2 := buffer.New(rdb2, cfg) // another node
			defer b2.Close()
			ctx := context.Background()
			if !empty {
				a := mk(t, "p", "a")
				require.NoError(t, b2.Append(ctx, a))
				ch, err := comment.Decide(a, true, comment.ChangeRequest{Op: comment.OpEdit, PostID: "p", CommentID: a.ID, Content: "a!"},
					comment.Actor{UserID: "u1"}, comment.Rules{}, time.Now())
				require.NoError(t, err)
				require.NoError(t, b2.Apply(ctx, ch, 1, true))
			}

			var mu sync.Mutex
			var got []string
			f := b.NewFanout()
			f.RegisterHandler(handlerFuncs{
				comment: func(postID, id string, payload []byte) {
					mu.Lock()
					got = append(got, "added "+id)
					mu.Unlock()
				},
				change: func(postID string, ch comment.Change) {
					mu.Lock()
					got = append(got, "changed "+ch.CommentID)
					mu.Unlock()
				},
			})
			defer f.Close()
			require.NoError(t, f.Subscribe(ctx, "p"))
			_, err := rdb2.ClientKillByFilter(ctx, "TYPE", "pubsub").Result()
			require.NoError(t, err)
			c := mk(t, "p", "after")
			require.NoError(t, b2.Append(ctx, c))
			require.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(got) > 0
			}, 10*time.Second, 20*time.Millisecond)
			time.Sleep(200 * time.Millisecond) // a late repeat would show now
			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, []string{"added " + c.ID}, got)
		})
	}
}
