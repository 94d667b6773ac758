package buffer_test

import (
	"context"
	"testing"

	"github.com/commentd/commentd/buffer"
	"github.com/commentd/commentd/comment"
	"github.com/stretchr/testify/require"
)

// Invalidate clears the complete flag of the posts named and keeps their
// recent comments, and the other posts' flags.
func TestInvalidate(t *testing.T) {
	ctx := context.Background()
	b, _, _ := newBuffer(t, buffer.Config{Shards: 4})
	for _, p := range []string{"a", "b", "c"} {
		require.NoError(t, b.Seed(ctx, p, "", []comment.Comment{mk(t, p, "old")}, true))
		_, complete, err := b.Recent(ctx, p, 10)
		require.NoError(t, err)
		require.True(t, complete, p)
	}
	require.NoError(t, b.Invalidate(ctx, []string{"a", "b", "nosuch"}))
	require.NoError(t, b.Invalidate(ctx, nil))
	for p, want := range map[string]bool{"a": false, "b": false, "c": true} {
		cs, complete, err := b.Recent(ctx, p, 10)
		require.NoError(t, err)
		require.Equal(t, want, complete, p)
		require.Len(t, cs, 1, "the recent list of %s stays", p)
	}
}
