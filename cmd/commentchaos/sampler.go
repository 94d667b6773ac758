package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// sampler reads the buffer depth from the nodes every tick: the series for
// the report, the peak during an outage, the recovery after it.
type sampler struct {
	c     *cluster
	start time.Time

	mu      sync.Mutex
	series  []sample
	peak    float64
	lastVal float64
	lastAt  time.Time
	outages []outage
}

type sample struct {
	At    time.Duration `json:"atNs"`
	Depth float64       `json:"depth"`
}

// outage is one long MongoDB outage: how long, the buffer's peak, and how
// long after MongoDB came back the backlog was flushed (0: not while the
// harness waited, Waited after the restart).
type outage struct {
	Down     time.Duration `json:"downNs"`
	Peak     float64       `json:"bufferPeak"`
	Recovery time.Duration `json:"recoveryNs"`
	Waited   time.Duration `json:"waitedNs"`
}

func (o outage) recovery() string {
	if o.Recovery == 0 {
		return fmt.Sprintf("backlog not flushed in the %s after restart that the load went on", o.Waited.Round(time.Second))
	}
	return fmt.Sprintf("backlog flushed %s after restart", o.Recovery.Round(100*time.Millisecond))
}

func (s *sampler) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d, err := s.c.depth(ctx)
		if err != nil {
			continue
		}
		s.mu.Lock()
		s.series = append(s.series, sample{At: time.Since(s.start), Depth: d})
		s.peak = max(s.peak, d)
		s.lastVal, s.lastAt = d, time.Now()
		s.mu.Unlock()
	}
}

// resetPeak returns the peak since the last reset and starts a new one.
func (s *sampler) resetPeak() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peak
	s.peak = s.lastVal
	return p
}

// last is the latest depth, if read in the last second.
func (s *sampler) last() (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastVal, time.Since(s.lastAt) < time.Second
}

func (s *sampler) addOutage(o outage) {
	s.mu.Lock()
	s.outages = append(s.outages, o)
	s.mu.Unlock()
}

func (s *sampler) snapshot() ([]sample, []outage, float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	peak := 0.0
	for _, x := range s.series {
		peak = max(peak, x.Depth)
	}
	return append([]sample(nil), s.series...), append([]outage(nil), s.outages...), peak
}
