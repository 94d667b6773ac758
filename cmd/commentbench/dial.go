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
	return dialConns(ctx, n, sources, func(ctx context.Context, _ int, ip net.IP) (*sioclient.Conn, error) { return d.dial(ctx, ip) },
		func(c *sioclient.Conn) { c.Close() }, ready, tick)
}

// dialConns is dialMany for any kind of connection: dial opens connection
// i from ip, closeConn closes one that ready refused.
func dialConns[C any](ctx context.Context, n int, sources []net.IP, dial func(ctx context.Context, i int, ip net.IP) (C, error),
	closeConn func(C), ready func(i int, c C) error, tick func(done int)) ([]C, error) {
	conns := make([]C, n)
	ok := make([]bool, n)
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
				c, err := dial(ctx, i, sources[i%len(sources)])
				if err == nil && ready != nil {
					if err = ready(i, c); err != nil {
						closeConn(c)
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
				conns[i], ok[i] = c, true
				if tick != nil {
					tick(int(made.Add(1)))
				}
			}
		}()
	}
	wg.Wait()
	out := conns[:0]
	for i, c := range conns {
		if ok[i] {
			out = append(out, c)
		}
	}
	return out, first
}
