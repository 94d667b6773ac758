package buffer_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commentd/commentd/buffer"
	"github.com/commentd/commentd/comment"
	"github.com/stretchr/testify/require"
)

// A post Redis does not count is counted once in the database, however
// many callers ask at once, plus what its shard still buffers; the seed
// waits while a batch of the shard is in flight (written maybe, not
// acked); later comments and changes move the count in Redis.
func TestCountsSeedOnce(t *testing.T) {
	b, _, _ := newBuffer(t, buffer.Config{Shards: 1})
	ctx := context.Background()
	var calls atomic.Int64
	stored := func(_ context.Context, posts []string) (map[string]int, error) {
		calls.Add(1)
		time.Sleep(50 * time.Millisecond) // a slow database
		out := map[string]int{}
		for _, p := range posts {
			out[p] = 10
		}
		return out, nil
	}
	// Two comments buffered, one held (not counted), one batch in flight.
	require.NoError(t, b.Append(ctx, mk(t, "p", "one")))
	held := mk(t, "p", "held")
	held.Status = comment.StatusPending
	require.NoError(t, b.Append(ctx, held))
	token, ok, err := b.AcquireLease(ctx, 0, "test", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	batch, err := b.Claim(ctx, 0, token, 1)
	require.NoError(t, err)
	require.Len(t, batch, 1)
	require.NoError(t, b.Append(ctx, mk(t, "p", "two")))

	var wg sync.WaitGroup
	got := make([]map[string]int, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			var err error
			got[i], err = b.Counts(cctx, []string{"p"}, stored)
			require.NoError(t, err)
		}()
	}
	time.Sleep(300 * time.Millisecond)
	require.Zero(t, calls.Load(), "no count while a batch is in flight")
	require.NoError(t, b.Ack(ctx, 0, token, nil)) // the batch ("one") is in the database: 10 counts it
	wg.Wait()
	require.EqualValues(t, 1, calls.Load(), "one database count for every caller")
	for _, g := range got {
		require.Equal(t, map[string]int{"p": 11}, g, "10 stored, one buffered visible, one held")
	}
	require.NoError(t, b.Append(ctx, mk(t, "p", "three")))
	c, err := b.Counts(ctx, []string{"p"}, stored)
	require.NoError(t, err)
	require.Equal(t, 12, c["p"])
	require.EqualValues(t, 1, calls.Load())
}
