package buffer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commentd/commentd/buffer"
	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/internal/testsvc"
	"github.com/redis/go-redis/v9"
)

// BenchmarkAppend compares, on a real redis-server, appends from 64
// concurrent callers: group commit (the Buffer), the same script with one
// round trip per comment (MaxBatch 1), and the naive one RPUSH per comment
// (no recent list, no publish, no high-water mark).
func BenchmarkAppend(b *testing.B) {
	srv := testsvc.StartRedis(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 64})
	defer rdb.Close()
	c, _ := comment.New(comment.Input{PostID: "p", UserID: "u", Content: "a comment of some fifty bytes, give or take a few"}, time.Now(), 0)
	var post atomic.Int64

	run := func(b *testing.B, appendOne func(ctx context.Context, c comment.Comment) error) {
		rdb.FlushAll(context.Background())
		b.ReportAllocs()
		b.SetParallelism(32) // 64 callers on 2 cores
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			cc := c
			cc.PostID = fmt.Sprintf("post%d", post.Add(1)%100)
			for pb.Next() {
				if err := appendOne(ctx, cc); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "comments/s")
	}

	b.Run("group-commit", func(b *testing.B) {
		buf := buffer.New(rdb, buffer.Config{Shards: 4})
		defer buf.Close()
		run(b, buf.Append)
	})
	b.Run("script-per-comment", func(b *testing.B) {
		buf := buffer.New(rdb, buffer.Config{Shards: 4, MaxBatch: 1, Committers: 64})
		defer buf.Close()
		run(b, buf.Append)
	})
	b.Run("rpush-per-comment", func(b *testing.B) {
		run(b, func(ctx context.Context, c comment.Comment) error {
			p, err := json.Marshal(c)
			if err != nil {
				return err
			}
			return rdb.RPush(ctx, "naive:buf", p).Err()
		})
	})
}
