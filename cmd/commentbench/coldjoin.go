package main

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

type coldJoinConfig struct {
	Prefill      int
	PrefillPosts int
	PrefillOnly  bool
	Database     string
	Ingest       ingestConfig
	Clients      int
	Posts        int
	Every        time.Duration
}

// coldJoinScenario measures what readers of new posts cost a database that
// holds many comments (issue 18, "cold joins"). With -prefill, it first
// brings the comments collection to that many documents, inserted directly
// (the shape store/ writes, over -prefill-posts posts; commentd is not told
// of them, as after a restore: `commentd stored-posts` marks them if they
// are to be read; -prefill-only stops there). Then the same ingest runs twice: alone, then while
// -clients clients join -posts new posts (a join every -every each). After
// each ingest it times until the buffer is empty. Needs -mongo. Values, for
// the run alone (…Alone) and with joins (…Joins): confirmedPerSec,
// drainSec (from the end of the ingest to an empty buffer), flushedPerSec
// (flushed comments over ingest and drain), mongoReads (read commands
// MongoDB finished: serverStatus), historyReads (history reads commentd
// sent, finished or not); and joins, joinsFailed, readsPerNewPost
// (historyReads of the run with joins, less those of the run alone, per
// new post), ingestRatio and
// drainRatio (with joins / alone). Latency: join (join_post to its ack).
func coldJoinScenario(fs *flag.FlagSet) func(context.Context, *env) (*Result, error) {
	var cfg coldJoinConfig
	fs.IntVar(&cfg.Prefill, "prefill", 0, "bring the stored comments to this many first, inserted directly into MongoDB")
	fs.IntVar(&cfg.PrefillPosts, "prefill-posts", 5000, "posts the prefilled comments spread over")
	fs.BoolVar(&cfg.PrefillOnly, "prefill-only", false, "prefill, then stop (no commentd needed)")
	fs.StringVar(&cfg.Database, "database", "commentd", "MongoDB database of the comments")
	fs.IntVar(&cfg.Ingest.Clients, "ingest-clients", 32, "ingest: concurrent posting clients")
	fs.IntVar(&cfg.Ingest.Posts, "ingest-posts", 8, "ingest: posts they spread over")
	fs.IntVar(&cfg.Ingest.Window, "window", 4, "ingest: comments each client keeps outstanding")
	fs.DurationVar(&cfg.Ingest.Duration, "duration", 20*time.Second, "each ingest's length (at most 1h)")
	fs.IntVar(&cfg.Ingest.Max, "max", 10_000_000, "ingest: stop after this many comments")
	fs.IntVar(&cfg.Clients, "clients", 200, "clients joining new posts")
	fs.IntVar(&cfg.Posts, "posts", 50, "new posts they join")
	fs.DurationVar(&cfg.Every, "every", time.Second, "each joining client joins again after this long")
	return func(ctx context.Context, e *env) (*Result, error) {
		if e.mongo == nil {
			return nil, errBounds("coldjoin needs -mongo")
		}
		if cfg.Prefill < 0 || cfg.PrefillPosts < 1 || cfg.Clients < 1 || cfg.Posts < 1 || cfg.Every < 0 ||
			cfg.Ingest.Clients < 1 || cfg.Ingest.Posts < 1 || cfg.Ingest.Window < 1 ||
			cfg.Ingest.Duration <= 0 || cfg.Ingest.Duration > time.Hour || cfg.Ingest.Max < 1 {
			return nil, errBounds("counts must be positive, every not negative; duration at most 1h")
		}
		return coldJoin(ctx, e, cfg)
	}
}

func coldJoin(ctx context.Context, e *env, cfg coldJoinConfig) (*Result, error) {
	params := cfg.Ingest.params()
	params["prefill"], params["prefillPosts"], params["clients"], params["posts"], params["every"] =
		cfg.Prefill, cfg.PrefillPosts, cfg.Clients, cfg.Posts, cfg.Every.String()
	res := newResult("coldjoin", e.label, params)
	stored, err := prefill(ctx, e, cfg)
	if err != nil {
		return nil, err
	}
	res.Values["stored"] = float64(stored)
	if cfg.PrefillOnly {
		return res, nil
	}

	alone, err := coldPhase(ctx, e, cfg, false, res)
	if err != nil {
		return nil, err
	}
	joins, err := coldPhase(ctx, e, cfg, true, res)
	if err != nil {
		return nil, err
	}
	for name, v := range alone {
		res.Values[name+"Alone"] = v
	}
	for name, v := range joins {
		res.Values[name+"Joins"] = v
	}
	res.Values["readsPerNewPost"] = max(0, joins["historyReads"]-alone["historyReads"]) / float64(cfg.Posts)
	if alone["confirmedPerSec"] > 0 {
		res.Values["ingestRatio"] = joins["confirmedPerSec"] / alone["confirmedPerSec"]
	}
	if alone["flushedPerSec"] > 0 {
		res.Values["drainRatio"] = joins["flushedPerSec"] / alone["flushedPerSec"]
	}
	res.Elapsed = alone["elapsed"] + joins["elapsed"]
	return res, nil
}

// prefill brings the comments collection to cfg.Prefill documents and
// returns how many it holds (0 without -prefill).
func prefill(ctx context.Context, e *env, cfg coldJoinConfig) (int64, error) {
	if cfg.Prefill == 0 {
		return 0, nil // not counted: a count is a full scan on devmongo
	}
	coll := e.mongo.client.Database(cfg.Database).Collection("comments")
	// A deadline of its own: the client's is a minute, and devmongo counts
	// by reading every document (more than a minute at 600,000 on a busy
	// machine).
	cctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	n, err := coll.EstimatedDocumentCount(cctx)
	if err != nil {
		return 0, fmt.Errorf("count stored comments: %w", err)
	}
	missing := cfg.Prefill - int(n)
	if missing <= 0 {
		return n, nil
	}
	var done atomic.Int64
	var bar *progress
	if !e.quiet {
		bar = startProgress("prefill", 0, func() string { return fmt.Sprintf("%d/%d", done.Load(), missing) })
	}
	post := func(i int) string { return fmt.Sprintf("prefill-%d", i%cfg.PrefillPosts) }
	err = insertComments(ctx, coll, missing, 1000, post, func(d int) { done.Store(int64(d)) })
	if bar != nil {
		bar.end()
	}
	if err != nil {
		return 0, fmt.Errorf("prefill: %w", err)
	}
	return n + int64(missing), nil
}

// coldPhase runs the ingest (with joiners of new posts if joins), waits
// for an empty buffer, and returns its values.
func coldPhase(ctx context.Context, e *env, cfg coldJoinConfig, joins bool, res *Result) (map[string]float64, error) {
	m0, before, err := e.counters(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	var loads, failed atomic.Int64
	hist := newLatency()
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, cfg.Clients)
	if joins {
		d := newDialer(e.url)
		prefix := fmt.Sprintf("coldjoin%d", time.Now().UnixNano())
		deadline := start.Add(cfg.Ingest.Duration)
		for i := range cfg.Clients {
			wg.Go(func() {
				h := newLatency()
				errs <- joinLoop(ctx, d, fmt.Sprintf("%s-%d", prefix, i%cfg.Posts), deadline, cfg.Every, h, &loads, &failed)
				mu.Lock()
				hist.Merge(h)
				mu.Unlock()
			})
		}
	}
	quiet := *e
	quiet.quiet = true
	ing, err := ingest(ctx, &quiet, cfg.Ingest)
	wg.Wait()
	close(errs)
	if err != nil {
		return nil, err
	}
	for err := range errs {
		if err != nil {
			return nil, err
		}
	}
	ingestEnd := time.Now()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	_, err = waitDepth(dctx, e.url, 0, 50*time.Millisecond)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("drain: %w", err)
	}
	end := time.Now()
	m1, err := scrape(ctx, e.url)
	if err != nil {
		return nil, err
	}
	_, reads, _, err := e.mongoSince(ctx, before)
	if err != nil {
		return nil, err
	}
	v := map[string]float64{
		"confirmedPerSec": ing.Values["confirmedPerSec"],
		"failed":          ing.Values["failed"],
		"drainSec":        end.Sub(ingestEnd).Seconds(),
		"flushedPerSec":   (m1[mFlushed] - m0[mFlushed]) / end.Sub(start).Seconds(),
		"mongoReads":      reads,
		"historyReads":    m1[mHistory] - m0[mHistory],
		"elapsed":         end.Sub(start).Seconds(),
	}
	if joins {
		res.Values["joins"] = float64(loads.Load())
		res.Values["joinsFailed"] = float64(failed.Load())
		res.Latency["join"] = percentiles(hist)
		res.Latency["confirm"] = ing.Latency["confirm"]
	}
	fmt.Printf("coldjoin %s: %.0f confirmed/s, drain %.2fs after the ingest, %.0f flushed/s, %.0f read commands, %.0f history reads sent\n",
		map[bool]string{false: "alone", true: "with joins"}[joins], v["confirmedPerSec"], v["drainSec"], v["flushedPerSec"], reads, v["historyReads"])
	return v, nil
}
