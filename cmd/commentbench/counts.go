package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

type countsConfig struct {
	Posts    int
	Comments int
	Page     int
	Clients  int
	Duration time.Duration
	Max      int
	Settle   time.Duration
	Seed     uint64
}

func (c countsConfig) params() map[string]any {
	return map[string]any{"posts": c.Posts, "comments": c.Comments, "page": c.Page, "clients": c.Clients,
		"duration": c.Duration.String(), "max": c.Max, "settle": c.Settle.String(), "seed": c.Seed}
}

// maxCountsPage is the most posts GET /api/counts takes in one request.
const maxCountsPage = 100

// countsScenario: listing pages asking how many comments their posts have.
// It posts comments to P posts over REST (post i gets i mod (2K+1), K on
// average, some none) and lets the buffer empty. Then one client asks for
// every post once, in pages of -page consecutive posts: the cold requests
// (commentd counts a post Redis does not count yet in MongoDB, and keeps
// the count), and the same pages again: warm. Then C clients, each one
// request at a time (closed loop), ask for pages of -page posts drawn at
// random, until the duration ends or -max requests were sent.
//
// Values: posts, comments (posted), coldRequests, requests, failed ("failed
// STATUS"), requestsPerSec, postCountsPerSec (requests × page), wrong
// (answers, cold ones included, whose counts differ from what was posted).
// With -mongo: coldMongoReads (read commands during the cold pass), and
// mongoReads and mongoReadsPer1000Requests during the timed phase (none,
// once every post is counted in Redis). Latency: cold, warmPass (the
// same pages again, one at a time), warm (the timed phase). Series:
// requestsPerSec.
func countsScenario(fs *flag.FlagSet) func(context.Context, *env) (*Result, error) {
	var cfg countsConfig
	fs.IntVar(&cfg.Posts, "posts", 500, "posts with comments")
	fs.IntVar(&cfg.Comments, "comments", 4, "comments per post on average (post i gets i mod (2K+1))")
	fs.IntVar(&cfg.Page, "page", 50, "posts per request (1-100)")
	fs.IntVar(&cfg.Clients, "clients", 16, "concurrent HTTP clients of the timed phase")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to ask (at most 1h)")
	fs.IntVar(&cfg.Max, "max", 1_000_000, "stop after this many requests")
	fs.DurationVar(&cfg.Settle, "settle", 5*time.Minute, "how long to wait for the buffer to empty after posting")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the pages")
	return func(ctx context.Context, e *env) (*Result, error) {
		if cfg.Posts < 1 || cfg.Posts > 1_000_000 || cfg.Comments < 0 || cfg.Comments > 1000 || cfg.Page < 1 || cfg.Page > maxCountsPage {
			return nil, errBounds("posts within 1-1,000,000, comments within 0-1,000, page within 1-100")
		}
		if cfg.Page > cfg.Posts || cfg.Clients < 1 || cfg.Clients > 1000 || cfg.Duration <= 0 || cfg.Duration > time.Hour ||
			cfg.Max < 1 || cfg.Settle < 0 || cfg.Settle > time.Hour {
			return nil, errBounds("page at most posts; clients within 1-1,000; duration within 0-1h; max positive; settle within 0-1h")
		}
		return counts(ctx, e, cfg)
	}
}

func counts(ctx context.Context, e *env, cfg countsConfig) (*Result, error) {
	res := newResult("counts", e.label, cfg.params())
	if _, err := scrape(ctx, e.url); err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(e.url, "/")
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: cfg.Clients + 16,
		MaxIdleConnsPerHost: cfg.Clients + 16, DisableCompression: true}}
	defer hc.CloseIdleConnections()
	prefix := fmt.Sprintf("counts-%d", time.Now().UnixNano()) // a run's posts are its own
	posts := make([]string, cfg.Posts)
	want := make(map[string]int, cfg.Posts)
	total := 0
	for i := range posts {
		posts[i] = fmt.Sprintf("%s-%d", prefix, i)
		want[posts[i]] = i % (2*cfg.Comments + 1)
		total += want[posts[i]]
	}
	res.Values["posts"] = float64(cfg.Posts)
	res.Values["page"] = float64(cfg.Page)
	res.Values["comments"] = float64(total)

	setup := time.Now()
	if err := postComments(ctx, e, hc, base, posts, want, total); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, cfg.Settle)
	_, err := waitDepth(sctx, e.url, 0, 100*time.Millisecond)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("the buffer did not empty within %s: %w", cfg.Settle, err)
	}
	res.Values["setupSec"] = time.Since(setup).Seconds()

	// Cold, then warm: every post once, in pages, one request at a time.
	var wrong atomic.Int64
	pass := func(kind string) (float64, error) {
		before, err := e.mongoCommands(ctx)
		if err != nil {
			return 0, err
		}
		h := newLatency()
		for i := 0; i < len(posts); i += cfg.Page {
			page := posts[i:min(i+cfg.Page, len(posts))]
			t := time.Now()
			got, err := askCounts(ctx, hc, base, page)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", kind, err)
			}
			recordSince(h, time.Now(), t)
			wrong.Add(int64(countsWrong(got, page, want)))
		}
		res.Latency[kind] = percentiles(h)
		_, reads, _, err := e.mongoSince(ctx, before)
		return reads, err
	}
	coldReads, err := pass("cold")
	if err != nil {
		return nil, err
	}
	res.Values["coldRequests"] = float64(res.Latency["cold"].Count)
	if _, err := pass("warmPass"); err != nil {
		return nil, err
	}
	if e.mongo != nil {
		res.Values["coldMongoReads"] = coldReads
	}

	before, err := e.mongoCommands(ctx)
	if err != nil {
		return nil, err
	}
	cs := make([]*countsClient, cfg.Clients)
	for i := range cs {
		cs[i] = &countsClient{rng: rand.New(rand.NewPCG(cfg.Seed+uint64(i), 0x636f756e7473)), lat: newLatency(), codes: map[string]int64{}}
	}
	var rReq rate
	rec := startRecorder(time.Second, func(t float64) map[string]float64 {
		ok, _ := countsTotals(cs)
		return map[string]float64{"requestsPerSec": rReq.next(float64(ok), t)}
	})
	var bar *progress
	if !e.quiet {
		bar = startProgress("counts", cfg.Duration, func() string {
			ok, failed := countsTotals(cs)
			return fmt.Sprintf("requests %d failed %d", ok, failed)
		})
	}
	var sent atomic.Int64
	deadline := time.Now().Add(cfg.Duration)
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			page := make([]string, cfg.Page)
			for time.Now().Before(deadline) && sent.Add(1) <= int64(cfg.Max) && ctx.Err() == nil {
				c.pickPage(page, posts)
				t := time.Now()
				got, err := askCounts(ctx, hc, base, page)
				if err != nil {
					c.fail(err)
					continue
				}
				recordSince(c.lat, time.Now(), t)
				c.ok.Add(1)
				wrong.Add(int64(countsWrong(got, page, want)))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if bar != nil {
		bar.end()
	}
	res.Series = rec.end()

	ok, failed := countsTotals(cs)
	sec := elapsed.Seconds()
	res.Elapsed = sec
	res.Values["requests"] = float64(ok)
	res.Values["failed"] = float64(failed)
	res.Values["requestsPerSec"] = float64(ok) / sec
	res.Values["postCountsPerSec"] = float64(ok) * float64(cfg.Page) / sec
	res.Values["wrong"] = float64(wrong.Load())
	lat := newLatency()
	for _, c := range cs {
		lat.Merge(c.lat)
		for code, n := range c.codes {
			res.Values["failed "+code] += float64(n)
		}
	}
	res.Latency["warm"] = percentiles(lat)
	_, reads, measured, err := e.mongoSince(ctx, before)
	if err != nil {
		return nil, err
	}
	if measured {
		res.Values["mongoReads"] = reads
		if ok > 0 {
			res.Values["mongoReadsPer1000Requests"] = 1000 * reads / float64(ok)
		}
	}
	return res, nil
}

// countsClient is one HTTP client of the timed phase.
type countsClient struct {
	rng *rand.Rand
	lat *hdrhistogram.Histogram // its own goroutine's; merged after

	mu    sync.Mutex
	codes map[string]int64 // failures by HTTP status or "error"

	ok, failed atomic.Int64
}

// pickPage fills page with distinct posts drawn at random.
func (c *countsClient) pickPage(page, posts []string) {
	seen := make(map[int]bool, len(page))
	for i := range page {
		j := c.rng.IntN(len(posts))
		for seen[j] {
			j = c.rng.IntN(len(posts))
		}
		seen[j] = true
		page[i] = posts[j]
	}
}

func (c *countsClient) fail(err error) {
	c.failed.Add(1)
	code := "error"
	var se statusError
	if errors.As(err, &se) {
		code = fmt.Sprint(int(se))
	}
	c.mu.Lock()
	c.codes[code]++
	c.mu.Unlock()
}

func countsTotals(cs []*countsClient) (ok, failed int64) {
	for _, c := range cs {
		ok += c.ok.Load()
		failed += c.failed.Load()
	}
	return
}

// statusError is an answer other than 200.
type statusError int

func (s statusError) Error() string { return fmt.Sprintf("HTTP %d", int(s)) }

// askCounts asks GET /api/counts for posts.
func askCounts(ctx context.Context, hc *http.Client, base string, posts []string) (map[string]int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/counts?posts="+strings.Join(posts, ","), nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(resp.StatusCode)
	}
	var out struct {
		OK     bool           `json:"ok"`
		Counts map[string]int `json:"counts"`
	}
	if err := json.Unmarshal(body, &out); err != nil || !out.OK {
		return nil, fmt.Errorf("counts: unreadable answer %.200s", body)
	}
	return out.Counts, nil
}

// countsWrong returns how many of page's counts differ from want.
func countsWrong(got map[string]int, page []string, want map[string]int) int {
	n := 0
	for _, p := range page {
		if got[p] != want[p] {
			n++
		}
	}
	return n
}

// postComments posts want[p] comments to each post over REST, 16
// requests at a time.
func postComments(ctx context.Context, e *env, hc *http.Client, base string, posts []string, want map[string]int, total int) error {
	type job struct{ post string }
	jobs := make(chan job)
	var done atomic.Int64
	var bar *progress
	if !e.quiet {
		bar = startProgress("counts setup", 0, func() string { return fmt.Sprintf("%d/%d comments", done.Load(), total) })
		defer bar.end()
	}
	body, _ := json.Marshal(map[string]string{"userId": "bench", "content": benchContent})
	var mu sync.Mutex
	var first error
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
	}
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return first != nil
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if failed() {
					continue // drain the jobs
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/posts/"+j.post+"/comments", bytes.NewReader(body))
				if err != nil {
					fail(err)
					continue
				}
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					fail(err)
					continue
				}
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					fail(fmt.Errorf("post to %s: %s %.200s", j.post, resp.Status, b))
					continue
				}
				done.Add(1)
			}
		}()
	}
	// Round-robin over the posts, so that the buffer holds them interleaved.
	for round, more := 0, true; more && ctx.Err() == nil; round++ {
		more = false
		for _, p := range posts {
			if want[p] <= round {
				continue
			}
			more = true
			select {
			case jobs <- job{p}:
			case <-ctx.Done():
			}
		}
	}
	close(jobs)
	wg.Wait()
	if first != nil {
		return fmt.Errorf("setup: %w", first)
	}
	return ctx.Err()
}
