package store_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/store"
	"github.com/stretchr/testify/require"
)

// What the read paths of wave 2 cost on devmongo with many comments:
// counting cold posts (one aggregation over the collection), a reactor
// by _id, a post's history page. Not a test of a limit (shared machines
// are noisy): it logs the times. COMMENTD_SCALE=1000000 runs it with that
// many comments over 10,000 posts; skipped otherwise. COMMENTD_SCALE_MONGO
// names a server to measure instead of a devmongo of the test's own (e.g.
// devmongo -backend postgresql); the test uses a database of its own there.
func TestDevmongoReadCosts(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("COMMENTD_SCALE"))
	if n <= 0 {
		t.Skip("COMMENTD_SCALE=N measures the read paths with N comments")
	}
	var st *store.Store
	if uri := os.Getenv("COMMENTD_SCALE_MONGO"); uri != "" {
		var err error
		st, err = store.Open(store.Config{URI: uri, Database: fmt.Sprintf("scale%d", time.Now().Unix()), Collection: "comments", Timeout: time.Hour})
		require.NoError(t, err)
		t.Cleanup(func() { st.Close(context.Background()) })
		require.NoError(t, st.EnsureIndexes(context.Background()))
	} else {
		st, _ = openStore(t)
	}
	ctx := context.Background()
	const posts = 10_000
	start := time.Now()
	base := time.Now().Add(-time.Hour)
	for i := 0; i < n; i += 10_000 {
		batch := make([]comment.Comment, 0, 10_000)
		for j := i; j < min(i+10_000, n); j++ {
			c := comment.Comment{ID: comment.NewID(base.Add(time.Duration(j) * time.Millisecond)), PostID: fmt.Sprintf("post-%d", j%posts),
				UserID: fmt.Sprintf("u%d", j%997), Content: "a comment of some length, as people write them", CreatedAt: base, V: 1}
			batch = append(batch, c)
		}
		_, rej, err := st.Import(ctx, batch)
		require.NoError(t, err)
		require.Empty(t, rej)
	}
	t.Logf("inserted %d comments over %d posts in %s", n, posts, time.Since(start).Round(time.Millisecond))

	timeIt := func(what string, f func() error) {
		start := time.Now()
		require.NoError(t, f())
		t.Logf("%s: %s", what, time.Since(start).Round(time.Millisecond))
	}
	page := make([]string, 50)
	for i := range page {
		page[i] = fmt.Sprintf("post-%d", i*7)
	}
	timeIt("CountVisible of 50 posts (one aggregation)", func() error {
		counts, err := st.CountVisible(ctx, page)
		if err == nil && counts[page[0]] != n/posts {
			err = fmt.Errorf("count %d, want %d", counts[page[0]], n/posts)
		}
		return err
	})
	timeIt("CountVisible of 1 post", func() error { _, err := st.CountVisible(ctx, page[:1]); return err })
	timeIt("Reacted (find by _id)", func() error { _, err := st.Reacted(ctx, "0123456789abcdef01234567", "u1", "👍"); return err })
	timeIt("Get (find by _id)", func() error { _, _, err := st.Get(ctx, "0123456789abcdef01234567"); return err })
	timeIt("History of one post, 100", func() error { _, err := st.History(ctx, "post-3", "", 100); return err })
	for i := range 3 { // a join's read: History(post, "", 50), other posts
		post := fmt.Sprintf("post-%d", 11+i*13)
		timeIt("History of one post, 50 ("+post+")", func() error {
			cs, err := st.History(ctx, post, "", 50)
			if err == nil && len(cs) != min(50, n/posts) {
				err = fmt.Errorf("%d comments, want %d", len(cs), min(50, n/posts))
			}
			return err
		})
	}
	timeIt("History of a post never written, 50", func() error { _, err := st.History(ctx, "no-such-post", "", 50); return err })
}
