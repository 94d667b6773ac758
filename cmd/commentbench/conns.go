package main

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commentd/commentd/internal/sioclient"
)

type connsConfig struct {
	Conns   int
	Sources int
	Posts   int
	Hold    time.Duration
}

// connsScenario opens N idle Socket.IO connections spread over several
// 127.0.0.x source addresses, holds them, and reads commentd's RSS from
// /proc/PID/status (needs -server-pid) before and while they are held.
// Values: conns, failed (dial errors), connectSec, serverConns (as
// /metrics counts them), rssBaseMB, rssHeldMB, kbPerConn, disconnected.
func connsScenario(fs *flag.FlagSet) func(context.Context, *env) (*Result, error) {
	var cfg connsConfig
	fs.IntVar(&cfg.Conns, "conns", 18000, "idle connections to open")
	fs.IntVar(&cfg.Sources, "sources", 8, "source addresses 127.0.0.1..127.0.0.N to spread them over")
	fs.IntVar(&cfg.Posts, "posts", 0, "if > 0, each connection joins one of this many posts")
	fs.DurationVar(&cfg.Hold, "hold", 5*time.Second, "how long to hold them before reading the server's RSS")
	return func(ctx context.Context, e *env) (*Result, error) {
		if cfg.Conns < 1 || cfg.Sources < 1 || cfg.Sources > 254 || cfg.Hold < 0 || cfg.Hold > time.Hour {
			return nil, errBounds("conns must be positive, sources 1..254, hold at most 1h")
		}
		if e.serverPID <= 0 {
			return nil, errBounds("conns needs -server-pid (commentd's PID) to read its RSS")
		}
		return conns(ctx, e, cfg)
	}
}

func conns(ctx context.Context, e *env, cfg connsConfig) (*Result, error) {
	res := newResult("conns", e.label, map[string]any{"conns": cfg.Conns, "sources": cfg.Sources,
		"posts": cfg.Posts, "hold": cfg.Hold.String()})
	base, err := procRSS(e.serverPID)
	if err != nil {
		return nil, err
	}
	d := newDialer(e.url)
	d.bufSize = 1024 // the client side of 18,000 connections stays small too
	var made atomic.Int64
	var bar *progress
	if !e.quiet {
		bar = startProgress("conns", 0, func() string { return fmt.Sprintf("connected %d/%d", made.Load(), cfg.Conns) })
	}
	var wg sync.WaitGroup
	var dropped atomic.Int64
	start := time.Now()
	cs, err := dialMany(ctx, d, cfg.Conns, sourceAddrs(cfg.Sources), func(i int, c *sioclient.Conn) error {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.ReadLoop(func([]byte) {}) // answers pings, ignores the rest
			if !c.Closed() {
				dropped.Add(1)
			}
		}()
		if cfg.Posts > 0 {
			return c.Emit(-1, "join_post", quoted(fmt.Sprintf("conns-%d", i%cfg.Posts)))
		}
		return nil
	}, func(n int) { made.Store(int64(n)) })
	connectTime := time.Since(start)
	if bar != nil {
		bar.end()
	}
	defer func() {
		for _, c := range cs {
			c.Close()
		}
		wg.Wait()
	}()
	if err != nil {
		return nil, fmt.Errorf("after %d connections: %w", len(cs), err)
	}
	select {
	case <-time.After(cfg.Hold):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	held, err := procRSS(e.serverPID)
	if err != nil {
		return nil, err
	}
	res.Elapsed = time.Since(start).Seconds()
	res.Values["conns"] = float64(len(cs))
	res.Values["connectSec"] = connectTime.Seconds()
	res.Values["rssBaseMB"] = float64(base) / (1 << 20)
	res.Values["rssHeldMB"] = float64(held) / (1 << 20)
	res.Values["kbPerConn"] = float64(held-base) / 1024 / float64(len(cs))
	res.Values["disconnected"] = float64(dropped.Load())
	if m, err := scrape(ctx, e.url); err == nil {
		res.Values["serverConns"] = m[mConns]
	}
	return res, nil
}
