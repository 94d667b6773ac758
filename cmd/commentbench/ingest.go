package main

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

type ingestConfig struct {
	Clients  int
	Posts    int
	Window   int
	Duration time.Duration
	Max      int
}

func (c ingestConfig) params() map[string]any {
	return map[string]any{"clients": c.Clients, "posts": c.Posts, "window": c.Window, "duration": c.Duration.String(), "max": c.Max}
}

// ingestScenario: C clients over P posts, each keeping W comments
// outstanding (closed loop). Values: confirmed, failed, confirmedPerSec,
// deliveries, deliveriesPerSec, and with -mongo insertCommands (those
// made during the run: write-behind inserts after it too). Latency:
// confirm (from send), delivery (comment_added, from its createdAt, ms
// resolution). Series: confirmed/s.
func ingestScenario(fs *flag.FlagSet) func(context.Context, *env) (*Result, error) {
	var cfg ingestConfig
	fs.IntVar(&cfg.Clients, "clients", 32, "concurrent clients")
	fs.IntVar(&cfg.Posts, "posts", 8, "posts the clients spread over")
	fs.IntVar(&cfg.Window, "window", 4, "comments each client keeps outstanding")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to send (at most 1h)")
	fs.IntVar(&cfg.Max, "max", 1_000_000, "stop after this many comments")
	return func(ctx context.Context, e *env) (*Result, error) {
		if cfg.Clients < 1 || cfg.Posts < 1 || cfg.Window < 1 || cfg.Duration <= 0 || cfg.Duration > time.Hour || cfg.Max < 1 {
			return nil, errBounds("clients, posts, window and max must be positive; duration at most 1h")
		}
		return ingest(ctx, e, cfg)
	}
}

func ingest(ctx context.Context, e *env, cfg ingestConfig) (*Result, error) {
	res := newResult("ingest", e.label, cfg.params())
	before, err := e.mongoCommands(ctx)
	if err != nil {
		return nil, err
	}
	ps, err := dialPosters(ctx, newDialer(e.url), "ingest", cfg.Clients, cfg.Posts, cfg.Window)
	if err != nil {
		return nil, err
	}
	elapsed := closedLoop(ctx, e, "ingest", ps, cfg.Duration, cfg.Max, res)
	closePosters(ps)
	confirmed, failed, deliveries := posterTotals(ps)
	confirm, delivery := mergeLatency(ps)
	res.Elapsed = elapsed.Seconds()
	res.Values["confirmed"] = float64(confirmed)
	res.Values["failed"] = float64(failed)
	res.Values["confirmedPerSec"] = float64(confirmed) / elapsed.Seconds()
	res.Values["deliveries"] = float64(deliveries)
	res.Values["deliveriesPerSec"] = float64(deliveries) / elapsed.Seconds()
	res.Latency["confirm"] = percentiles(confirm)
	res.Latency["delivery"] = percentiles(delivery)
	if ins, _, ok, err := e.mongoSince(ctx, before); err != nil {
		return nil, err
	} else if ok {
		res.Values["insertCommands"] = ins
	}
	return res, nil
}

// closedLoop has every poster keep its window full until the duration
// ends or max comments were sent, waits for what is outstanding, and
// returns the time that took. It records confirmed/s in res.Series.
func closedLoop(ctx context.Context, e *env, title string, ps []*poster, d time.Duration, maxSent int, res *Result) time.Duration {
	var sent atomic.Int64
	status := func() string {
		c, f, _ := posterTotals(ps)
		return fmt.Sprintf("confirmed %d failed %d", c, f)
	}
	var bar *progress
	if !e.quiet {
		bar = startProgress(title, d, status)
	}
	var r rate
	rec := startRecorder(time.Second, func(t float64) map[string]float64 {
		c, _, _ := posterTotals(ps)
		return map[string]float64{"confirmedPerSec": r.next(float64(c), t)}
	})
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && sent.Add(1) <= int64(maxSent) {
				if !p.send(ctx, time.Now()) {
					return
				}
			}
			p.drain(10 * time.Second)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.Series = rec.end()
	if bar != nil {
		bar.end()
	}
	return elapsed
}
