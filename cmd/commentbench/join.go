package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

type joinConfig struct {
	Clients  int
	Posts    int
	Warm     int
	Duration time.Duration
}

// joinScenario warms P posts with K comments each (posted through
// commentd, then flushed), then has C clients join them again and again
// (join_post with an ack: the history load), closed loop. Values: loads,
// loadsPerSec, failed, timedOut (clients whose join went unacked for
// joinAckTimeout: they stop, their wait is recorded as its latency), and with -mongo mongoReads (find, aggregate, count,
// getMore, distinct commands during the loads) and readsPer1000Loads.
// Latency: load (join_post to its ack).
func joinScenario(fs *flag.FlagSet) func(context.Context, *env) (*Result, error) {
	var cfg joinConfig
	fs.IntVar(&cfg.Clients, "clients", 50, "clients joining")
	fs.IntVar(&cfg.Posts, "posts", 20, "warm posts")
	fs.IntVar(&cfg.Warm, "warm", 100, "comments posted to each post before the loads")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to load (at most 1h)")
	return func(ctx context.Context, e *env) (*Result, error) {
		if cfg.Clients < 1 || cfg.Posts < 1 || cfg.Warm < 0 || cfg.Duration <= 0 || cfg.Duration > time.Hour {
			return nil, errBounds("clients and posts must be positive; duration at most 1h")
		}
		return join(ctx, e, cfg)
	}
}

func join(ctx context.Context, e *env, cfg joinConfig) (*Result, error) {
	res := newResult("join", e.label, map[string]any{"clients": cfg.Clients, "posts": cfg.Posts,
		"warm": cfg.Warm, "duration": cfg.Duration.String()})
	prefix := fmt.Sprintf("join%d", time.Now().UnixNano())
	d := newDialer(e.url)
	if cfg.Warm > 0 {
		ps, err := dialPosters(ctx, d, prefix, cfg.Posts, cfg.Posts, 8)
		if err != nil {
			return nil, err
		}
		closedLoop(ctx, &env{quiet: true}, "warm", ps, time.Hour, cfg.Posts*cfg.Warm, &Result{})
		closePosters(ps)
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		_, err = waitDepth(wctx, e.url, 0, 200*time.Millisecond)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("warm posts not flushed: %w", err)
		}
	}
	before, err := e.mongoCommands(ctx)
	if err != nil {
		return nil, err
	}
	var loads, failed atomic.Int64
	var bar *progress
	if !e.quiet {
		bar = startProgress("join", cfg.Duration, func() string { return fmt.Sprintf("loads %d failed %d", loads.Load(), failed.Load()) })
	}
	var r rate
	rec := startRecorder(time.Second, func(t float64) map[string]float64 {
		return map[string]float64{"loadsPerSec": r.next(float64(loads.Load()), t)}
	})
	hist := make([]*hdrhistogram.Histogram, cfg.Clients)
	errs := make(chan error, cfg.Clients)
	deadline := time.Now().Add(cfg.Duration)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range cfg.Clients {
		hist[i] = newLatency()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- joinLoop(ctx, d, fmt.Sprintf("%s-%d", prefix, i%cfg.Posts), deadline, 0, hist[i], &loads, &failed)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.Series = rec.end()
	if bar != nil {
		bar.end()
	}
	close(errs)
	timedOut := 0
	for err := range errs {
		if errors.Is(err, errNoJoinAck) {
			timedOut++
		} else if err != nil {
			return nil, err
		}
	}
	all := newLatency()
	for _, h := range hist {
		all.Merge(h)
	}
	n := float64(loads.Load())
	res.Elapsed = elapsed.Seconds()
	res.Values["loads"] = n
	res.Values["loadsPerSec"] = n / elapsed.Seconds()
	res.Values["failed"] = float64(failed.Load())
	res.Values["timedOut"] = float64(timedOut)
	res.Latency["load"] = percentiles(all)
	if _, reads, ok, err := e.mongoSince(ctx, before); err != nil {
		return nil, err
	} else if ok {
		res.Values["mongoReads"] = reads
		if n > 0 {
			res.Values["readsPer1000Loads"] = 1000 * reads / n
		}
	}
	return res, nil
}

// joinAckTimeout is how long a client of join waits for one join's ack.
const joinAckTimeout = 10 * time.Second

// errNoJoinAck is a join not acked within joinAckTimeout.
var errNoJoinAck = errors.New("no ack in 10s")

// joinLoop joins post again and again on one connection until deadline,
// one join outstanding at a time, a join every `every` at most (0: at
// once).
func joinLoop(ctx context.Context, d dialer, post string, deadline time.Time, every time.Duration, h *hdrhistogram.Histogram, loads, failed *atomic.Int64) error {
	c, err := d.dial(ctx, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	acks := make(chan bool, 1)
	go c.ReadLoop(func(data []byte) {
		if _, payload, ok := decodeAck(data); ok {
			acks <- ackOK(payload)
		}
	})
	arg := quoted(post)
	for id := int64(1); time.Now().Before(deadline) && ctx.Err() == nil; id++ {
		if id > 1 && every > 0 {
			time.Sleep(every)
		}
		sent := time.Now()
		if err := c.Emit(id, "join_post", arg); err != nil {
			return fmt.Errorf("join_post: %w", err)
		}
		select {
		case ok := <-acks:
			if !ok {
				failed.Add(1)
				continue
			}
			recordSince(h, time.Now(), sent)
			loads.Add(1)
		case <-time.After(joinAckTimeout):
			// A server that slow (the node peer on devmongo) is measured,
			// not an error: this client stops.
			recordSince(h, time.Now(), sent)
			return fmt.Errorf("join_post %s: %w", post, errNoJoinAck)
		}
	}
	return nil
}
