package main

import (
	"context"
	"sync"
	"time"

	"github.com/commentd/commentd/api"
)

// The live figures of the admin page (GET /api/moderation/stats), read
// from what the metrics read: the accepted comments counter, each shard's
// depth, the sockets of this node.

// rateWindow is how far back the comment rate looks: long enough to smooth
// the admin page's polls (every 2s), short enough to follow a burst.
const rateWindow = 10 * time.Second

// rateSample is the accepted counter at a time.
type rateSample struct {
	at time.Time
	n  uint64
}

// rateMeter turns a counter into a rate over about rateWindow, sampled
// when asked: no goroutine. Safe for concurrent use.
type rateMeter struct {
	mu      sync.Mutex
	samples []rateSample // oldest first; the first is older than rateWindow, or the start
}

func newRateMeter(now time.Time, n uint64) *rateMeter {
	return &rateMeter{samples: []rateSample{{at: now, n: n}}}
}

// rate records the counter n at now and returns its rate per second since
// the newest sample at least rateWindow old (else the oldest kept).
func (m *rateMeter) rate(now time.Time, n uint64) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	// Keep one sample older than the window as the base; drop the rest.
	i := 0
	for i+1 < len(m.samples) && now.Sub(m.samples[i+1].at) >= rateWindow {
		i++
	}
	m.samples = append(m.samples[i:], rateSample{at: now, n: n})
	base := m.samples[0]
	secs := now.Sub(base.at).Seconds()
	if secs <= 0 || n < base.n {
		return 0
	}
	return float64(n-base.n) / secs
}

// appStats computes api.Stats for the App.
type appStats struct {
	a     *App
	meter *rateMeter
}

var _ api.StatsSource = (*appStats)(nil)

func newAppStats(a *App) *appStats {
	return &appStats{a: a, meter: newRateMeter(time.Now(), a.metrics.acceptedN.Load())}
}

// Stats returns the comment rate of this node, the buffer's depth (every
// shard, one round trip each) and this node's connections.
func (s *appStats) Stats(ctx context.Context) (api.Stats, error) {
	st := api.Stats{CommentsPerSecond: s.meter.rate(time.Now(), s.a.metrics.acceptedN.Load())}
	for shard := range s.a.buf.Shards() {
		n, _, err := s.a.buf.Depth(ctx, shard)
		if err != nil {
			return api.Stats{}, err
		}
		st.Shards = append(st.Shards, api.ShardDepth{Shard: shard, Depth: n})
		st.BufferDepth += n
	}
	sio := s.a.sio.Stats()
	st.Connections = sio.WebSocket + sio.Polling
	return st, nil
}
