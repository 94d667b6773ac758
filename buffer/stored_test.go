package buffer_test

import (
	"context"
	"testing"
	"time"

	"github.com/commentd/commentd/buffer"
	"github.com/commentd/commentd/comment"
	"github.com/stretchr/testify/require"
)

// A post is known never stored only once the sets are ready; claiming a
// batch marks its posts before the flusher can write them, and a change
// of buffer.shards makes the sets untrusted.
func TestNeverStored(t *testing.T) {
	b, rdb, _ := newBuffer(t, buffer.Config{Shards: 2})
	ctx := context.Background()
	never, err := b.NeverStored(ctx, "p")
	require.NoError(t, err)
	require.False(t, never, "sets not known complete: every post may be stored")

	require.NoError(t, b.MarkStoredReady(ctx))
	ready, err := b.StoredReady(ctx)
	require.NoError(t, err)
	require.True(t, ready)
	never, err = b.NeverStored(ctx, "p")
	require.NoError(t, err)
	require.True(t, never)

	c, err := comment.New(comment.Input{PostID: "p", UserID: "u", Content: "x"}, time.Now(), 0)
	require.NoError(t, err)
	require.NoError(t, b.Append(ctx, c))
	tok, ok, err := b.AcquireLease(ctx, b.Shard("p"), "t", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	batch, err := b.Claim(ctx, b.Shard("p"), tok, 10)
	require.NoError(t, err)
	require.Len(t, batch, 1)
	never, err = b.NeverStored(ctx, "p")
	require.NoError(t, err)
	require.False(t, never, "claimed, so maybe written")

	require.NoError(t, b.MarkStored(ctx, []string{"q", "r", "s"}))
	for _, p := range []string{"q", "r", "s"} {
		never, err = b.NeverStored(ctx, p)
		require.NoError(t, err)
		require.False(t, never, p)
	}

	other := buffer.New(rdb, buffer.Config{Shards: 3})
	defer other.Close()
	never, err = other.NeverStored(ctx, "z")
	require.NoError(t, err)
	require.False(t, never, "sets of another shard count are not trusted")
}

// Counts of posts known never written take no database count.
func TestCountsOfNeverStoredPosts(t *testing.T) {
	b, _, _ := newBuffer(t, buffer.Config{Shards: 2})
	ctx := context.Background()
	require.NoError(t, b.MarkStoredReady(ctx))
	require.NoError(t, b.MarkStored(ctx, []string{"old"}))
	var asked []string
	stored := func(_ context.Context, posts []string) (map[string]int, error) {
		asked = append(asked, posts...)
		out := map[string]int{}
		for _, p := range posts {
			out[p] = 7
		}
		return out, nil
	}
	got, err := b.Counts(ctx, []string{"new-1", "old", "new-2"}, stored)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"new-1": 0, "old": 7, "new-2": 0}, got)
	require.Equal(t, []string{"old"}, asked)
}
