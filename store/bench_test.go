package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/store"
)

// BenchmarkInsertMany measures flush throughput into devmongo: one
// InsertMany per batch of 1, 100 or 1000 comments. ns/op is per batch;
// docs/s is the figure to compare.
func BenchmarkInsertMany(b *testing.B) {
	m := startMongoB(b)
	for _, size := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			st, err := store.Open(store.Config{URI: m, Database: "bench", Collection: fmt.Sprintf("c%d", size)})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close(context.Background())
			ctx := context.Background()
			batches := make([][]comment.Comment, b.N)
			for i := range batches {
				for range size {
					c, _ := comment.New(comment.Input{PostID: fmt.Sprintf("post%d", i%50), UserID: "u",
						Content: "a comment of some fifty bytes, give or take a few"}, time.Now(), 0)
					batches[i] = append(batches[i], c)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if _, err := st.InsertMany(ctx, batches[i]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/time.Since(start).Seconds(), "docs/s")
		})
	}
}
