package main

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/commentd/commentd/internal/sioclient"
)

// dialParallel is how many handshakes dialMany runs at once.
const dialParallel = 32

// sourceAddrs returns n loopback source addresses, 127.0.0.1 to
// 127.0.0.n: Linux answers on all of 127.0.0.0/8, and each source address
// has its own range of ephemeral ports.
func sourceAddrs(n int) []net.IP {
	ips := make([]net.IP, max(n, 1))
	for i := range ips {
		ips[i] = net.IPv4(127, 0, 0, byte(1+i))
	}
	return ips
}

// dialMany opens n connections, dialParallel at a time, connection i from
// sources[i%len(sources)], and hands each to ready. It stops at the first
// failure and returns the connections made so far with the error.
func dialMany(ctx context.Context, d dialer, n int, sources []net.IP, ready func(i int, c *sioclient.Conn) error, tick func(done int)) ([]*sioclient.Conn, error) {
	conns := make([]*sioclient.Conn, n)
	var next, made atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(dialParallel, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := d.dial(ctx, sources[i%len(sources)])
				if err == nil && ready != nil {
					if err = ready(i, c); err != nil {
						c.Close()
					}
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("connection %d: %w", i, err)
					}
					mu.Unlock()
					cancel()
					return
				}
				conns[i] = c
				if tick != nil {
					tick(int(made.Add(1)))
				}
			}
		}()
	}
	wg.Wait()
	out := conns[:0]
	for _, c := range conns {
		if c != nil {
			out = append(out, c)
		}
	}
	return out, first
}
