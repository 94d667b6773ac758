package buffer_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/commentd/commentd/buffer"
	"github.com/stretchr/testify/require"
)

// viewersSeen records the totals a Viewers hands over.
type viewersSeen chan int

func (s viewersSeen) HandleViewers(postID string, n int) { s <- n }

// waitTotal waits until s reports want.
func waitTotal(t *testing.T, s viewersSeen, want int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	last := -1
	for {
		select {
		case last = <-s:
			if last == want {
				return
			}
		case <-deadline:
			t.Fatalf("total never %d; last %d", want, last)
		}
	}
}

// Two nodes' shares add up; a leave lowers the total; a node whose
// liveness key expires stops counting and its field is dropped; Close
// withdraws a node's share at once.
func TestViewersShares(t *testing.T) {
	b, rdb, _ := newBuffer(t, buffer.Config{})
	ctx := context.Background()
	const post = "p1"
	cfg := buffer.ViewersConfig{Tick: 20 * time.Millisecond, NodeTTL: 200 * time.Millisecond}
	start := func(node string) (*buffer.Viewers, viewersSeen) {
		c := cfg
		c.Node = node
		v := b.NewViewers(c)
		seen := make(viewersSeen, 1000)
		v.RegisterHandler(seen)
		go v.Run()
		return v, seen
	}
	v1, seen1 := start("n1")
	v2, seen2 := start("n2")
	defer v1.Close()

	v1.Join(post)
	v1.Join(post)
	v2.Join(post)
	waitTotal(t, seen1, 3)
	waitTotal(t, seen2, 3)
	n, err := v1.Total(ctx, post)
	require.NoError(t, err)
	require.Equal(t, 3, n)

	v1.Leave(post)
	waitTotal(t, seen2, 2)

	// A node that dies: its field outlives its liveness key.
	hash := "cmt:{" + strconv.Itoa(b.Shard(post)) + "}:viewers:" + post
	require.NoError(t, rdb.Set(ctx, "cmt:node:ghost", 1, 300*time.Millisecond).Err())
	require.NoError(t, rdb.HSet(ctx, hash, "ghost", 7).Err())
	waitTotal(t, seen1, 9)
	waitTotal(t, seen1, 2)
	require.Eventually(t, func() bool { return !rdb.HExists(ctx, hash, "ghost").Val() }, 5*time.Second, 20*time.Millisecond)

	require.NoError(t, v2.Close())
	waitTotal(t, seen1, 1)
	require.False(t, rdb.HExists(ctx, hash, "n2").Val())
	require.Zero(t, rdb.Exists(ctx, "cmt:node:n2").Val())
}
