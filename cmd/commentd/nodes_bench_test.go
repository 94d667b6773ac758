package main

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkNodes measures confirmed comments per second with 1, 2 and 3
// commentd nodes (in this process) on one Redis and devmongo: 48 clients,
// spread over the nodes, each posting with an ack in a closed loop. All of
// it shares the machine's 2 cores, so more nodes add coordination, not
// CPU: the figure shows what the design costs and keeps, not what more
// machines would give.
func BenchmarkNodes(b *testing.B) {
	for _, n := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			e := newEnv(b, 4)
			var stops []func()
			var addrs []string
			for range n {
				cfg := e.config(4)
				app, stop := startApp(b, cfg)
				stops = append(stops, stop)
				addrs = append(addrs, app.Addr())
			}
			const clients = 48
			var cs []*sioClient
			for i := range clients {
				cs = append(cs, dialSIO(b, addrs[i%n]))
			}
			var left atomic.Int64
			left.Store(int64(b.N))
			var failed atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for i, c := range cs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for left.Add(-1) >= 0 {
						a, err := c.ack("new_comment", map[string]string{"postId": fmt.Sprintf("bench-%d", i%16), "userId": "u", "content": "a comment of some fifty bytes, give or take a few"})
						var res struct{ OK bool }
						if err != nil || json.Unmarshal(a, &res) != nil || !res.OK {
							failed.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "comments/s")
			b.StopTimer()
			if f := failed.Load(); f > 0 {
				b.Fatalf("%d comments not confirmed", f)
			}
			for _, c := range cs {
				c.close()
			}
			for _, stop := range stops {
				stop()
			}
		})
	}
}
