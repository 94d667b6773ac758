package main

import (
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// postInfoMsg is post_info as a test reads it.
type postInfoMsg struct {
	PostID  string `json:"postId"`
	Viewers *int   `json:"viewers"`
	Locked  bool   `json:"locked"`
}

// waitViewers reads c's post_info until viewers is want, within limit.
func waitViewers(t *testing.T, c *sioClient, post string, want int, limit time.Duration) postInfoMsg {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last postInfoMsg
	for {
		left := time.Until(deadline)
		require.Positive(t, left, "viewers of %s never %d; last post_info %+v", post, want, last)
		var info postInfoMsg
		require.NoError(t, json.Unmarshal(c.next("post_info", left).Args[0], &info))
		require.Equal(t, post, info.PostID)
		last = info
		if info.Viewers != nil && *info.Viewers == want {
			return info
		}
	}
}

// Live viewers: sockets on two in-process nodes and on a commentd serve
// process all count in post_info.viewers on every node; a leave and a
// disconnect lower it; the share of a SIGKILLed node drops out within its
// liveness TTL (5s), with no fixed sleep.
func TestViewersAcrossNodes(t *testing.T) {
	e := newEnv(t, 2)
	nodeA, nodeB := twoModNodes(t, e)
	killed := startNodes(t, e, 1, 2)[0]
	const post = "viewers-post"
	const limit = 20 * time.Second

	a1, a2, b1 := dialSIO(t, nodeA), dialSIO(t, nodeA), dialSIO(t, nodeB)
	a1.join(post)
	first := waitViewers(t, a1, post, 1, limit) // the join's post_info counts its socket
	require.False(t, first.Locked)
	a1.join(post) // joined again: counted once
	a2.join(post)
	b1.join(post)
	k1, k2 := dialSIO(t, killed.addr), dialSIO(t, killed.addr)
	k1.join(post)
	k2.join(post)
	for _, c := range []*sioClient{a1, b1, k1} {
		waitViewers(t, c, post, 5, limit)
	}

	// Another post's readers do not count here.
	dialSIO(t, nodeB).join("viewers-other")

	a2.emit(true, "leave_post", post)
	for _, c := range []*sioClient{a1, b1, k1} {
		waitViewers(t, c, post, 4, limit)
	}
	b2 := dialSIO(t, nodeB)
	b2.join(post)
	waitViewers(t, a1, post, 5, limit)
	b2.close()
	for _, c := range []*sioClient{a1, b1} {
		waitViewers(t, c, post, 4, limit)
	}

	require.NoError(t, killed.p.cmd.Process.Signal(syscall.SIGKILL))
	for _, c := range []*sioClient{a1, b1} {
		waitViewers(t, c, post, 2, limit)
	}
	late := dialSIO(t, nodeB)
	late.join(post)
	waitViewers(t, late, post, 3, limit)
	waitViewers(t, b1, post, 3, limit)

	// A lock change carries the viewers too.
	mod := dialSIOAuth(t, nodeA, `{"token":"`+modToken+`"}`)
	mod.emit(true, "lock_post", map[string]any{"postId": post, "locked": true})
	var info postInfoMsg
	for !info.Locked { // a post_info of the post's count may come first
		require.NoError(t, json.Unmarshal(b1.next("post_info", limit).Args[0], &info))
	}
	require.NotNil(t, info.Viewers)
	require.Equal(t, 3, *info.Viewers)
}
