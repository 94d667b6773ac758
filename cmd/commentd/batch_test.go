package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/stretchr/testify/require"
)

// addedIDs collects the comment ids a socket got until quiet, in arrival
// order, and how many frames of each event carried them.
func (c *sioClient) addedIDs(t *testing.T, want int, within time.Duration) ([]string, map[string]int) {
	t.Helper()
	var ids []string
	frames := map[string]int{}
	deadline := time.After(within)
	for len(ids) < want {
		select {
		case ev := <-c.events:
			switch ev.Name {
			case "comment_added":
				var x comment.Comment
				require.NoError(t, json.Unmarshal(ev.Args[0], &x))
				ids = append(ids, x.ID)
			case "comments_added":
				var xs []comment.Comment
				require.NoError(t, json.Unmarshal(ev.Args[0], &xs))
				for _, x := range xs {
					ids = append(ids, x.ID)
				}
			default:
				continue
			}
			frames[ev.Name]++
		case <-deadline:
			t.Fatalf("%d of %d comments within %s (%v)", len(ids), want, within, frames)
		}
	}
	return ids, frames
}

// hot.threshold: a post past that many comments per second sends every
// reader its comments as comments_added, whether it asked or not, in the
// same order as a reader who asked; below it, comment_added again.
func TestHotThreshold(t *testing.T) {
	e := newEnv(t, 2)
	node := startNodes(t, e, 1, 2, "--hot.threshold", "20", "--hot.window", "50ms")[0]
	const post = "hot-threshold"
	plain, asked, writer := dialSIO(t, node.addr), dialSIO(t, node.addr), dialSIO(t, node.addr)
	plain.join(post)
	a := asked.emit(true, "join_post", map[string]any{"postId": post, "batch": true})
	require.Contains(t, string(a), `"ok":true`)

	// Slow: 4 comments, 300 ms apart.
	for i := range 4 {
		writer.post(post, fmt.Sprintf("slow %d", i))
		time.Sleep(300 * time.Millisecond)
	}
	ids, frames := plain.addedIDs(t, 4, 10*time.Second)
	require.Equal(t, map[string]int{"comment_added": 4}, frames, "below the threshold: one comment_added each")
	askedIDs, askedFrames := asked.addedIDs(t, 4, 10*time.Second)
	require.Equal(t, ids, askedIDs)
	require.Zero(t, askedFrames["comment_added"], "a reader who asked gets comments_added only")

	// Fast: 200 as quickly as one writer can (far above 20 a second).
	for i := range 200 {
		writer.post(post, fmt.Sprintf("fast %d", i))
	}
	ids, frames = plain.addedIDs(t, 200, 20*time.Second)
	require.Positive(t, frames["comments_added"], "past the threshold the plain reader gets comments_added: %v", frames)
	require.Less(t, frames["comments_added"]+frames["comment_added"], 200, "fewer frames than comments: %v", frames)
	askedIDs, _ = asked.addedIDs(t, 200, 20*time.Second)
	require.Equal(t, ids, askedIDs, "both readers got every comment once, in the same order")

	// Cooled down: a second without comments, then slow again.
	time.Sleep(2100 * time.Millisecond)
	for i := range 3 {
		writer.post(post, fmt.Sprintf("cool %d", i))
		time.Sleep(300 * time.Millisecond)
	}
	_, frames = plain.addedIDs(t, 3, 10*time.Second)
	require.Equal(t, map[string]int{"comment_added": 3}, frames, "cooled down: comment_added again")
}
