package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/commentd/commentd/internal/sioclient"
)

type fanoutConfig struct {
	Subscribers int
	Rate        int
	Duration    time.Duration
	Grace       time.Duration
}

// fanoutScenario: S subscribers join one post, one publisher (not in the
// room) posts R comments per second to it (open loop). Every comment
// carries its send time in its content, so delivery latency is exact.
// Values: offeredDeliveriesPerSec (S×R), deliveriesPerSec (from the first
// send to the last delivery), deliveries, expected (S × confirmed),
// misses, disconnected (subscribers the server dropped), published,
// confirmed. Latency: delivery. Series: deliveries/s.
func fanoutScenario(fs *flag.FlagSet) func(context.Context, *env) (*Result, error) {
	var cfg fanoutConfig
	fs.IntVar(&cfg.Subscribers, "subscribers", 2000, "connections in the post's room")
	fs.IntVar(&cfg.Rate, "rate", 200, "comments per second the publisher posts")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "how long to publish (at most 1h)")
	fs.DurationVar(&cfg.Grace, "grace", 30*time.Second, "how long to wait for deliveries after the last comment")
	return func(ctx context.Context, e *env) (*Result, error) {
		if cfg.Subscribers < 1 || cfg.Rate < 1 || cfg.Duration <= 0 || cfg.Duration > time.Hour {
			return nil, errBounds("subscribers and rate must be positive; duration at most 1h")
		}
		return fanout(ctx, e, cfg)
	}
}

// histShards spreads the subscribers' latencies over a few histograms
// (one per subscriber would take ~100 KB each).
const histShards = 16

type fanoutRun struct {
	delivered atomic.Int64
	lastNanos atomic.Int64
	dropped   atomic.Int64
	hist      [histShards]struct {
		sync.Mutex
		h *hdrhistogram.Histogram
	}
}

var contentMark = []byte(`"content":"fo `)

// deliver handles one packet of subscriber i: a comment_added of ours
// has content "fo <seq> <send unix nanos>". It avoids a JSON decode: the
// benchmark client must not be the bottleneck.
func (r *fanoutRun) deliver(i int, data []byte) {
	if !bytes.Contains(data, []byte(`"comment_added"`)) {
		return
	}
	j := bytes.Index(data, contentMark)
	if j < 0 {
		return
	}
	rest := data[j+len(contentMark):]
	sp := bytes.IndexByte(rest, ' ')
	q := bytes.IndexByte(rest, '"')
	if sp < 0 || q < sp {
		return
	}
	sent, err := strconv.ParseInt(string(rest[sp+1:q]), 10, 64)
	if err != nil {
		return
	}
	now := time.Now()
	r.delivered.Add(1)
	r.lastNanos.Store(now.UnixNano())
	s := &r.hist[i%histShards]
	s.Lock()
	recordSince(s.h, now, time.Unix(0, sent))
	s.Unlock()
}

func fanout(ctx context.Context, e *env, cfg fanoutConfig) (*Result, error) {
	res := newResult("fanout", e.label, map[string]any{"subscribers": cfg.Subscribers, "rate": cfg.Rate, "duration": cfg.Duration.String()})
	post := fmt.Sprintf("fanout-%d", time.Now().UnixNano())
	r := &fanoutRun{}
	for i := range r.hist {
		r.hist[i].h = newLatency()
	}
	d := newDialer(e.url)
	var wg sync.WaitGroup
	joined := make(chan struct{}, cfg.Subscribers)
	subs, err := dialMany(ctx, d, cfg.Subscribers, sourceAddrs(1), func(i int, c *sioclient.Conn) error {
		wg.Add(1)
		go func() {
			defer wg.Done()
			once := false
			c.ReadLoop(func(data []byte) {
				if !once {
					if _, _, ok := decodeAck(data); ok {
						once = true
						joined <- struct{}{}
						return
					}
				}
				r.deliver(i, data)
			})
			if !c.Closed() {
				r.dropped.Add(1)
			}
		}()
		return c.Emit(1, "join_post", quoted(post))
	}, nil)
	defer func() {
		for _, c := range subs {
			c.Close()
		}
		wg.Wait()
	}()
	if err != nil {
		return nil, err
	}
	for range cfg.Subscribers {
		select {
		case <-joined:
		case <-time.After(30 * time.Second):
			return nil, fmt.Errorf("subscribers did not all join within 30s")
		}
	}

	pub, err := d.dial(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("publisher: %w", err)
	}
	defer pub.Close()
	var confirmed atomic.Int64
	go pub.ReadLoop(func(data []byte) {
		if _, payload, ok := decodeAck(data); ok && ackOK(payload) {
			confirmed.Add(1)
		}
	})

	var rDel rate
	rec := startRecorder(time.Second, func(t float64) map[string]float64 {
		return map[string]float64{"deliveriesPerSec": rDel.next(float64(r.delivered.Load()), t)}
	})
	var bar *progress
	if !e.quiet {
		bar = startProgress("fanout", cfg.Duration, func() string {
			return fmt.Sprintf("published %d delivered %d dropped %d", confirmed.Load(), r.delivered.Load(), r.dropped.Load())
		})
	}
	interval := time.Second / time.Duration(cfg.Rate)
	start := time.Now()
	published := 0
	for due := start; due.Before(start.Add(cfg.Duration)) && ctx.Err() == nil; due = due.Add(interval) {
		time.Sleep(time.Until(due))
		body, _ := json.Marshal(map[string]string{"postId": post, "userId": "bench",
			"content": fmt.Sprintf("fo %d %d", published, time.Now().UnixNano())})
		if err := pub.Emit(int64(published+1), "new_comment", body); err != nil {
			return nil, fmt.Errorf("publish: %w", err)
		}
		published++
	}
	if bar != nil {
		bar.end()
	}
	// Wait for the deliveries still due: until all came, or none for 5s.
	last, lastChange := int64(-1), time.Now()
	for graceEnd := time.Now().Add(cfg.Grace); time.Now().Before(graceEnd) && ctx.Err() == nil; time.Sleep(100 * time.Millisecond) {
		n := r.delivered.Load()
		if n >= int64(cfg.Subscribers)*confirmed.Load() && int(confirmed.Load()) == published {
			break
		}
		if n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) > 5*time.Second {
			break
		}
	}
	res.Series = rec.end()

	delivered := r.delivered.Load()
	expected := int64(cfg.Subscribers) * confirmed.Load()
	span := time.Duration(r.lastNanos.Load() - start.UnixNano())
	if delivered == 0 {
		span = time.Since(start)
	}
	all := newLatency()
	for i := range r.hist {
		r.hist[i].Lock() // late deliveries may still come in
		all.Merge(r.hist[i].h)
		r.hist[i].Unlock()
	}
	res.Elapsed = span.Seconds()
	res.Values["published"] = float64(published)
	res.Values["confirmed"] = float64(confirmed.Load())
	res.Values["offeredDeliveriesPerSec"] = float64(cfg.Subscribers) * float64(published) / cfg.Duration.Seconds()
	res.Values["deliveries"] = float64(delivered)
	res.Values["deliveriesPerSec"] = float64(delivered) / span.Seconds()
	res.Values["expected"] = float64(expected)
	res.Values["misses"] = float64(max(expected-delivered, 0))
	res.Values["disconnected"] = float64(r.dropped.Load())
	res.Latency["delivery"] = percentiles(all)
	return res, nil
}
