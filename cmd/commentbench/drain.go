package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type drainConfig struct {
	N        int
	Clients  int
	Posts    int
	Window   int
	FlushCmd string
	Database string
	Batch    int
	Timeout  time.Duration
}

// drainScenario measures how fast a backlog leaves Redis for MongoDB.
// Against a commentd whose flusher is off (flush.enabled false), it posts
// N comments (closed loop), then starts -flush-cmd (e.g. `commentd flush`
// on the same Redis and MongoDB) and times until /metrics shows an empty
// buffer. With -mongo it then inserts N comment-shaped documents itself,
// unordered InsertMany of -batch, into a collection with the same indexes
// in the same database: the raw rate to compare with. Values: backlog,
// fillPerSec, drainSec, drainPerSec, rawInsertPerSec, drainVsRaw. Series:
// depth and drained/s during the drain.
func drainScenario(fs *flag.FlagSet) func(context.Context, *env) (*Result, error) {
	var cfg drainConfig
	fs.IntVar(&cfg.N, "n", 1_000_000, "comments to buffer before the flush starts")
	fs.IntVar(&cfg.Clients, "clients", 64, "clients filling the buffer")
	fs.IntVar(&cfg.Posts, "posts", 64, "posts they spread over")
	fs.IntVar(&cfg.Window, "window", 16, "comments each filling client keeps outstanding")
	fs.StringVar(&cfg.FlushCmd, "flush-cmd", "", "command line that starts the flusher (split on spaces), stopped with SIGTERM once the buffer is empty")
	fs.StringVar(&cfg.Database, "database", "commentd", "MongoDB database of the comments (for the raw insert)")
	fs.IntVar(&cfg.Batch, "batch", 1000, "documents per InsertMany of the raw insert")
	fs.DurationVar(&cfg.Timeout, "timeout", 20*time.Minute, "longest the fill, the drain and the raw insert may each take")
	return func(ctx context.Context, e *env) (*Result, error) {
		if cfg.N < 1 || cfg.Clients < 1 || cfg.Posts < 1 || cfg.Window < 1 || cfg.Batch < 1 || cfg.Timeout <= 0 {
			return nil, errBounds("n, clients, posts, window, batch and timeout must be positive")
		}
		if strings.TrimSpace(cfg.FlushCmd) == "" {
			return nil, errBounds("drain needs -flush-cmd")
		}
		return drain(ctx, e, cfg)
	}
}

func drain(ctx context.Context, e *env, cfg drainConfig) (*Result, error) {
	res := newResult("drain", e.label, map[string]any{"n": cfg.N, "clients": cfg.Clients, "posts": cfg.Posts,
		"window": cfg.Window, "batch": cfg.Batch, "flushCmd": cfg.FlushCmd})
	m, err := scrape(ctx, e.url)
	if err != nil {
		return nil, err
	}
	if m[mDepth] != 0 {
		return nil, fmt.Errorf("buffer holds %.0f comments before the fill; want an empty buffer (a fresh redis.prefix)", m[mDepth])
	}

	// Fill.
	ps, err := dialPosters(ctx, newDialer(e.url), fmt.Sprintf("drain%d", time.Now().UnixNano()), cfg.Clients, cfg.Posts, cfg.Window)
	if err != nil {
		return nil, err
	}
	fill := closedLoop(ctx, e, "drain fill", ps, cfg.Timeout, cfg.N, &Result{})
	closePosters(ps)
	confirmed, failed, _ := posterTotals(ps)
	if failed > 0 {
		return nil, fmt.Errorf("fill: %d comments refused (is buffer.max_len above -n?)", failed)
	}
	if m, err = scrape(ctx, e.url); err != nil {
		return nil, err
	}
	backlog := m[mDepth]
	res.Values["backlog"] = backlog
	res.Values["fillPerSec"] = float64(confirmed) / fill.Seconds()
	// Nothing may flush before the flusher starts.
	if backlog < float64(confirmed) {
		return nil, fmt.Errorf("buffer holds %.0f of %d confirmed comments: is a flusher running?", backlog, confirmed)
	}

	// Drain.
	args := strings.Fields(cfg.FlushCmd)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("flush-cmd: %w", err)
	}
	if e.procs != nil {
		e.procs.add("commentd-flush", cmd.Process.Pid)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var once sync.Once
	stop := func() { once.Do(func() { stopProcess(cmd, waited) }) }
	defer stop()
	var rd rate
	rd.last = backlog
	rec := startRecorder(250*time.Millisecond, func(t float64) map[string]float64 {
		m, err := scrape(ctx, e.url)
		if err != nil {
			return nil
		}
		return map[string]float64{"depth": m[mDepth], "drainedPerSec": -rd.next(m[mDepth], t)}
	})
	var bar *progress
	if !e.quiet {
		bar = startProgress("drain", 0, func() string {
			if m, err := scrape(ctx, e.url); err == nil {
				return fmt.Sprintf("depth %.0f", m[mDepth])
			}
			return ""
		})
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	_, err = waitDepth(dctx, e.url, 0, 50*time.Millisecond)
	cancel()
	took := time.Since(start)
	res.Series = rec.end()
	if bar != nil {
		bar.end()
	}
	if err != nil {
		return nil, fmt.Errorf("drain: %w", err)
	}
	res.Elapsed = took.Seconds()
	res.Values["drainSec"] = took.Seconds()
	res.Values["drainPerSec"] = backlog / took.Seconds()

	// Raw insert into the same MongoDB.
	if e.mongo != nil {
		stop()
		rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
		var bar *progress
		var done atomic.Int64
		if !e.quiet {
			bar = startProgress("raw insert", 0, func() string { return fmt.Sprintf("%d/%d", done.Load(), cfg.N) })
		}
		raw, err := rawInsert(rctx, e.mongo.client, cfg.Database, "comments", cfg.N, cfg.Batch, func(n int) { done.Store(int64(n)) })
		if bar != nil {
			bar.end()
		}
		if err != nil {
			return nil, err
		}
		res.Values["rawInsertPerSec"] = raw
		res.Values["drainVsRaw"] = res.Values["drainPerSec"] / raw
	}
	return res, nil
}

// stopProcess ends a started command with SIGTERM (SIGKILL after 15s);
// waited delivers cmd.Wait's result.
func stopProcess(cmd *exec.Cmd, waited <-chan error) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-waited:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-waited
	}
}
