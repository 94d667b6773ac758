package buffer_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/commentd/commentd/buffer"
	"github.com/commentd/commentd/comment"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// banNode is a node's buffer and ban list.
type banNode struct {
	rdb  *redis.Client
	buf  *buffer.Buffer
	bans *buffer.BanList
}

// twoBanNodes returns two nodes on one Redis, their ban lists loaded.
func twoBanNodes(t *testing.T) (*banNode, *banNode) {
	t.Helper()
	b1, rdb1, srv := newBuffer(t, buffer.Config{})
	rdb2 := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b2 := buffer.New(rdb2, buffer.Config{})
	n1 := &banNode{rdb: rdb1, buf: b1, bans: b1.NewBanList()}
	n2 := &banNode{rdb: rdb2, buf: b2, bans: b2.NewBanList()}
	t.Cleanup(func() {
		n1.bans.Close()
		n2.bans.Close()
		b2.Close()
		rdb2.Close()
	})
	for _, n := range []*banNode{n1, n2} {
		require.NoError(t, n.bans.Wait(context.Background()))
	}
	return n1, n2
}

// A ban put on one node holds on another at once, through the channel; a
// node whose pub/sub connection was cut and missed a change has it after
// go-redis resubscribes (it loads the whole list again); a node started
// later loads the bans in force; a ban with an end stops holding then.
func TestBanListAcrossNodes(t *testing.T) {
	n1, n2 := twoBanNodes(t)
	l1, l2, b2, rdb2 := n1.bans, n2.bans, n2.buf, n2.rdb
	ctx := context.Background()

	now := time.Now().UTC().Truncate(time.Millisecond)
	ban := comment.Ban{UserID: "spammer", Reason: "spam", By: "mod", At: now}
	require.NoError(t, l1.Put(ctx, ban))
	got, ok := l1.Banned("spammer", time.Now())
	require.True(t, ok, "the banning node holds it when Put returns")
	require.Equal(t, ban, got)
	require.Eventually(t, func() bool { _, ok := l2.Banned("spammer", time.Now()); return ok },
		5*time.Second, time.Millisecond, "the other node gets it through the channel")

	// Node 2 misses a lift while its pub/sub connection is down.
	_, err := rdb2.ClientKillByFilter(ctx, "TYPE", "pubsub").Result()
	require.NoError(t, err)
	old, found, err := l1.Lift(ctx, "spammer", "mod", time.Now())
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, ban, old)
	_, ok = l1.Banned("spammer", time.Now())
	require.False(t, ok)
	require.Eventually(t, func() bool { _, ok := l2.Banned("spammer", time.Now()); return !ok },
		10*time.Second, 5*time.Millisecond, "after resubscribing, node 2 reloads the list")

	// A timed ban ends on time; a new node loads the one in force.
	require.NoError(t, l1.Put(ctx, comment.Ban{UserID: "brief", By: "mod", At: now, Until: now.Add(300 * time.Millisecond)}))
	require.NoError(t, l1.Put(ctx, comment.Ban{UserID: "troll", Reason: "trolling", By: "mod", At: now}))
	_, ok = l1.Banned("brief", now.Add(299*time.Millisecond))
	require.True(t, ok)
	_, ok = l1.Banned("brief", now.Add(300*time.Millisecond))
	require.False(t, ok, "a ban holds until its end, not after")

	l3 := b2.NewBanList()
	defer l3.Close()
	require.NoError(t, l3.Wait(ctx))
	_, ok = l3.Banned("troll", time.Now())
	require.True(t, ok, "a node started later loads the bans")

	time.Sleep(time.Until(now.Add(300 * time.Millisecond)))
	list, err := l1.List(ctx, time.Now())
	require.NoError(t, err)
	require.Len(t, list, 1, "the ended ban is not listed: %+v", list)
	require.Equal(t, "troll", list[0].UserID)

	_, found, err = l1.Lift(ctx, "nobody", "mod", time.Now())
	require.NoError(t, err)
	require.False(t, found)
}

// Changes of one user's ban from two nodes at once end in the state of the
// last one on every node, whatever order their messages and the callers'
// own applies come in.
func TestBanListConcurrentChanges(t *testing.T) {
	n1, n2 := twoBanNodes(t)
	l1, l2 := n1.bans, n2.bans
	ctx := context.Background()

	var wg sync.WaitGroup
	for i, l := range []*buffer.BanList{l1, l2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				if (i+j)%2 == 0 {
					l.Put(ctx, comment.Ban{UserID: "u", By: "mod", At: time.Now()})
				} else {
					l.Lift(ctx, "u", "mod", time.Now())
				}
			}
		}()
	}
	wg.Wait()
	list, err := l1.List(ctx, time.Now())
	require.NoError(t, err)
	want := len(list) == 1
	for _, l := range []*buffer.BanList{l1, l2} {
		require.Eventually(t, func() bool { _, ok := l.Banned("u", time.Now()); return ok == want },
			5*time.Second, time.Millisecond, "every node ends as Redis does (banned %v)", want)
	}
}

// A locked post refuses new comments and edits in the append script;
// moderation still applies; readers get post_info through the fan-out.
func TestLockRefusesCommentsAndEdits(t *testing.T) {
	b, _, _ := newBuffer(t, buffer.Config{Shards: 2})
	ctx := context.Background()
	infos := make(chan comment.PostInfo, 10)
	f := b.NewFanout()
	f.RegisterHandler(handlerFuncs{postInfo: func(_ string, info comment.PostInfo) { infos <- info }})
	defer f.Close()
	require.NoError(t, f.Subscribe(ctx, "lp"))

	c := mk(t, "lp", "before the lock")
	require.NoError(t, b.Append(ctx, c))
	changed, err := b.SetLocked(ctx, "lp", true, "mod", "", time.Now())
	require.NoError(t, err)
	require.True(t, changed)
	changed, err = b.SetLocked(ctx, "lp", true, "mod", "", time.Now())
	require.NoError(t, err)
	require.False(t, changed, "locking a locked post changes nothing")
	require.Equal(t, comment.PostInfo{PostID: "lp", Locked: true}, <-infos)
	locked, err := b.Locked(ctx, "lp")
	require.NoError(t, err)
	require.True(t, locked)

	require.ErrorIs(t, b.Append(ctx, mk(t, "lp", "after the lock")), comment.ErrLocked)
	require.NoError(t, b.Append(ctx, mk(t, "other", "another post is open")))
	edit, err := comment.Decide(c, true, comment.ChangeRequest{Op: comment.OpEdit, PostID: "lp", CommentID: c.ID, Content: "edited"},
		comment.Actor{UserID: "u1"}, comment.Rules{}, time.Now())
	require.NoError(t, err)
	require.ErrorIs(t, b.Apply(ctx, edit, 1, true), comment.ErrLocked)
	hide, err := comment.Decide(c, true, comment.ChangeRequest{Op: comment.OpHide, PostID: "lp", CommentID: c.ID},
		comment.Actor{UserID: "mod", Moderator: true}, comment.Rules{}, time.Now())
	require.NoError(t, err)
	require.NoError(t, b.Apply(ctx, hide, 1, true), "moderation applies to a locked post")

	recent, _, err := b.Recent(ctx, "lp", 10)
	require.NoError(t, err)
	require.Len(t, recent, 1)
	require.Equal(t, comment.StatusHidden, recent[0].Status)

	changed, err = b.SetLocked(ctx, "lp", false, "mod", "", time.Now())
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, comment.PostInfo{PostID: "lp", Locked: false}, <-infos)
	require.NoError(t, b.Append(ctx, mk(t, "lp", "open again")))
}
