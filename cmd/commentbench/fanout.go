package main

import (
	"context"
	"flag"
	"time"
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
// confirmed, and hot's other values. Latency: delivery. Series:
// deliveries/s.
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

// histShards spreads the readers' latencies over a few histograms (one
// per reader would take ~100 KB each).
const histShards = 16

// contentMark starts the content of a bench comment: "fo <seq> <send unix
// nanos>" (timedContent).
var contentMark = []byte(`"content":"fo `)

// fanout is hot with its readers in this process, one writer, no
// reactions and no batching; against Centrifugo too.
func fanout(ctx context.Context, e *env, cfg fanoutConfig) (*Result, error) {
	return hot(ctx, e, "fanout", hotConfig{Readers: cfg.Subscribers, Rate: cfg.Rate, Writers: 1, Sources: 1,
		Duration: cfg.Duration, Grace: cfg.Grace}, false)
}
