package main

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

type sustainedConfig struct {
	Rate     int
	Clients  int
	Posts    int
	Window   int
	Duration time.Duration
	Settle   time.Duration
}

// sustainedScenario offers a fixed rate of comments (open loop, spread
// evenly over the clients) for a while, sampling commentd's /metrics every
// second, then waits for the buffer to empty. A comment whose client still
// has window comments outstanding when it is due is skipped, not queued.
// Values: offeredPerSec, confirmedPerSec, confirmed, failed, skipped,
// maxDepth, maxAgeSec, flushedPerSec, emptySec (time to an empty buffer
// after the load), and with -mongo insertCommands and insertsPer1000
// (per 1,000 confirmed comments). Latency: confirm, from the time each
// comment was due. Series: offered, confirmed, accepted and flushed per
// second, depth, age.
func sustainedScenario(fs *flag.FlagSet) func(context.Context, *env) (*Result, error) {
	var cfg sustainedConfig
	fs.IntVar(&cfg.Rate, "rate", 2000, "comments per second offered, in total")
	fs.IntVar(&cfg.Clients, "clients", 20, "clients the rate is spread over")
	fs.IntVar(&cfg.Posts, "posts", 20, "posts the clients spread over")
	fs.IntVar(&cfg.Window, "window", 64, "most comments a client keeps outstanding")
	fs.DurationVar(&cfg.Duration, "duration", 2*time.Minute, "how long to offer the rate (at most 1h)")
	fs.DurationVar(&cfg.Settle, "settle", 2*time.Minute, "how long to wait for the buffer to empty afterwards")
	return func(ctx context.Context, e *env) (*Result, error) {
		if cfg.Rate < 1 || cfg.Clients < 1 || cfg.Posts < 1 || cfg.Window < 1 || cfg.Duration <= 0 || cfg.Duration > time.Hour {
			return nil, errBounds("rate, clients, posts and window must be positive; duration at most 1h")
		}
		return sustained(ctx, e, cfg)
	}
}

func sustained(ctx context.Context, e *env, cfg sustainedConfig) (*Result, error) {
	res := newResult("sustained", e.label, map[string]any{"rate": cfg.Rate, "clients": cfg.Clients,
		"posts": cfg.Posts, "window": cfg.Window, "duration": cfg.Duration.String()})
	_, before, err := e.counters(ctx)
	if err != nil {
		return nil, err
	}
	ps, err := dialPosters(ctx, newDialer(e.url), "sustained", cfg.Clients, cfg.Posts, cfg.Window)
	if err != nil {
		return nil, err
	}

	var offered, skipped atomic.Int64
	var maxDepth, maxAge float64
	var rOff, rConf, rAcc, rFl rate
	rec := startRecorder(time.Second, func(t float64) map[string]float64 {
		c, _, _ := posterTotals(ps)
		v := map[string]float64{"offeredPerSec": rOff.next(float64(offered.Load()), t),
			"confirmedPerSec": rConf.next(float64(c), t)}
		if m, err := scrape(ctx, e.url); err == nil {
			v["depth"], v["ageSec"] = m[mDepth], m[mAge]
			v["acceptedPerSec"] = rAcc.next(m[mAccepted], t)
			v["flushedPerSec"] = rFl.next(m[mFlushed], t)
			maxDepth, maxAge = max(maxDepth, m[mDepth]), max(maxAge, m[mAge])
		}
		return v
	})
	var bar *progress
	if !e.quiet {
		bar = startProgress("sustained", cfg.Duration, func() string {
			c, f, _ := posterTotals(ps)
			return fmt.Sprintf("offered %d confirmed %d failed %d skipped %d", offered.Load(), c, f, skipped.Load())
		})
	}
	interval := time.Duration(float64(time.Second) * float64(cfg.Clients) / float64(cfg.Rate))
	start := time.Now()
	end := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Stagger the clients over one interval.
			due := start.Add(interval * time.Duration(i) / time.Duration(len(ps)))
			for ; due.Before(end) && ctx.Err() == nil; due = due.Add(interval) {
				time.Sleep(time.Until(due))
				offered.Add(1)
				sent, alive := p.trySend(due)
				if !alive {
					return
				}
				if !sent {
					skipped.Add(1)
				}
			}
			p.drain(30 * time.Second)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if bar != nil {
		bar.end()
	}
	// The buffer empties after the load; the recorder keeps sampling.
	loadEnd := time.Now()
	sctx, cancel := context.WithTimeout(ctx, cfg.Settle)
	_, derr := waitDepth(sctx, e.url, 0, 200*time.Millisecond)
	cancel()
	res.Values["emptySec"] = time.Since(loadEnd).Seconds()
	res.Series = rec.end()
	closePosters(ps)

	confirmed, failed, _ := posterTotals(ps)
	confirm, _ := mergeLatency(ps)
	res.Elapsed = elapsed.Seconds()
	res.Values["offeredPerSec"] = float64(offered.Load()) / elapsed.Seconds()
	res.Values["confirmed"] = float64(confirmed)
	res.Values["confirmedPerSec"] = float64(confirmed) / elapsed.Seconds()
	res.Values["failed"] = float64(failed)
	res.Values["skipped"] = float64(skipped.Load())
	res.Values["maxDepth"] = maxDepth
	res.Values["maxAgeSec"] = maxAge
	res.Latency["confirm"] = percentiles(confirm)
	if derr != nil {
		res.Values["notEmptied"] = 1 // the buffer did not empty within -settle
	}
	if n := len(res.Series); n > 0 {
		var sum float64
		for _, pt := range res.Series {
			sum += pt.Values["flushedPerSec"]
		}
		res.Values["flushedPerSec"] = sum / float64(n)
	}
	if ins, _, ok, err := e.mongoSince(ctx, before); err != nil {
		return nil, err
	} else if ok {
		res.Values["insertCommands"] = ins
		if confirmed > 0 {
			res.Values["insertsPer1000"] = 1000 * ins / float64(confirmed)
		}
	}
	return res, nil
}
