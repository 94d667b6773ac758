package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/commentd/commentd/config"
)

// serve runs the service until ctx ends, applying config file changes that
// can change at runtime.
func serve(ctx context.Context, loader *config.Loader, stdout io.Writer) error {
	cfg, err := loader.Load()
	if err != nil {
		return err
	}
	log := newLogger(cfg, os.Stderr)
	app, err := NewApp(cfg, log)
	if err != nil {
		return err
	}
	log.Info("commentd serving", "addr", app.Addr(), "version", version, "config", cfg.File,
		"flush", cfg.Flush.Enabled, "mode", cfg.Flush.Mode)
	fmt.Fprintf(stdout, "commentd listening on http://%s/\n", displayAddr(app.Addr()))

	watchCtx, stopWatch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := loader.Watch(watchCtx, app.Apply); err != nil {
			log.Warn("config file not watched", "err", err)
		}
	}()
	err = app.Run(ctx)
	stopWatch()
	wg.Wait()
	return err
}

// flush runs only the flusher: as a worker until ctx ends, or with once,
// drains every shard and returns.
func flush(ctx context.Context, loader *config.Loader, once bool, timeout time.Duration, stdout io.Writer) error {
	cfg, err := loader.Load()
	if err != nil {
		return err
	}
	log := newLogger(cfg, os.Stderr)
	rdb := newRedis(cfg)
	defer rdb.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		return fmt.Errorf("redis %v unreachable: %w", cfg.Redis.Addrs, err)
	}
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	defer st.Close(context.Background())
	if err := st.Ping(pctx); err != nil {
		return fmt.Errorf("mongodb %s unreachable: %w", cfg.Mongo.URI, err)
	}
	if err := st.EnsureIndexes(pctx); err != nil {
		return err
	}
	buf := newBuffer(cfg, rdb, log)
	defer buf.Close()
	sink, _ := webhookSink(cfg, rdb, st)
	fl := newFlusher(cfg, buf, sink, log, nil)
	if !once {
		log.Info("commentd flush worker running", "shards", cfg.Buffer.Shards)
		return fl.Run(ctx)
	}
	octx, ocancel := context.WithTimeout(ctx, timeout)
	defer ocancel()
	start := time.Now()
	n, skipped, err := fl.FlushOnce(octx)
	if err != nil {
		return fmt.Errorf("flush: %d entries flushed, then: %w", n, err)
	}
	fmt.Fprintf(stdout, "flushed %d entries in %s\n", n, time.Since(start).Round(time.Millisecond))
	if len(skipped) > 0 {
		fmt.Fprintf(stdout, "skipped shards %v: held by a live flusher, which drains them\n", skipped)
	}
	return nil
}

// storedPosts runs `commentd stored-posts`: it adds every post with a
// stored comment to Redis's sets of stored posts, then marks the sets
// complete, so that joins of posts never written skip the database
// (buffer/stored.go). One pass over the collection; run it once after
// upgrading a deployment that has comments, when every node marks what it
// writes (this version). Comments written meanwhile are marked by their
// writers.
func storedPosts(ctx context.Context, loader *config.Loader, stdout io.Writer) error {
	cfg, err := loader.Load()
	if err != nil {
		return err
	}
	rdb := newRedis(cfg)
	defer rdb.Close()
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	defer st.Close(context.Background())
	buf := newBuffer(cfg, rdb, newLogger(cfg, os.Stderr))
	defer buf.Close()
	start := time.Now()
	posts, err := st.PostIDs(ctx)
	if err != nil {
		return err
	}
	for i := 0; i < len(posts); i += 10_000 {
		if err := buf.MarkStored(ctx, posts[i:min(i+10_000, len(posts))]); err != nil {
			return err
		}
	}
	if err := buf.MarkStoredReady(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d posts with stored comments marked in %s\n", len(posts), time.Since(start).Round(time.Millisecond))
	return nil
}

// displayAddr turns ":8080" or "[::]:8080" into "localhost:8080".
func displayAddr(addr string) string {
	for _, p := range []string{"[::]", "0.0.0.0", ""} {
		if len(addr) > len(p) && addr[:len(p)+1] == p+":" {
			return "localhost" + addr[len(p):]
		}
	}
	return addr
}
