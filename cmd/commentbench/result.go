package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Result is what one run of a scenario measured. Values holds the scalar
// results by name (see each scenario for its names), so that the report
// can take medians and ratios without knowing every scenario.
type Result struct {
	Scenario string                 `json:"scenario"`
	Label    string                 `json:"label,omitempty"` // e.g. the flush mode of the server
	Params   map[string]any         `json:"params"`
	Started  time.Time              `json:"started"`
	Elapsed  float64                `json:"elapsedSec"`
	Values   map[string]float64     `json:"values"`
	Latency  map[string]Percentiles `json:"latencyMs,omitempty"`
	Series   []Point                `json:"series,omitempty"`
	Procs    map[string]ProcUsage   `json:"procs,omitempty"`
}

// Point is one sample of a time series, T seconds after the start.
type Point struct {
	T      float64            `json:"t"`
	Values map[string]float64 `json:"v"`
}

// Percentiles of a latency histogram, in milliseconds.
type Percentiles struct {
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
	Count int64   `json:"count"`
}

// newLatency returns a histogram of microseconds up to 100 seconds, 3
// significant digits.
func newLatency() *hdrhistogram.Histogram { return hdrhistogram.New(1, 100_000_000, 3) }

func percentiles(h *hdrhistogram.Histogram) Percentiles {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Percentiles{P50: ms(h.ValueAtQuantile(50)), P95: ms(h.ValueAtQuantile(95)),
		P99: ms(h.ValueAtQuantile(99)), Max: ms(h.Max()), Count: h.TotalCount()}
}

// recordSince records the time since t in µs (at least 1).
func recordSince(h *hdrhistogram.Histogram, now, t time.Time) {
	us := now.Sub(t).Microseconds()
	us = min(max(us, 1), h.HighestTrackableValue()) // a latency beyond 100 s is recorded as 100 s
	h.RecordValue(us)
}

func newResult(scenario, label string, params map[string]any) *Result {
	return &Result{Scenario: scenario, Label: label, Params: params, Started: time.Now(),
		Values: map[string]float64{}, Latency: map[string]Percentiles{}}
}

func (r *Result) print(w io.Writer) {
	fmt.Fprintf(w, "scenario %s %s (%.1fs)\n", r.Scenario, r.Label, r.Elapsed)
	for _, k := range slices.Sorted(mapKeys(r.Values)) {
		fmt.Fprintf(w, "  %-26s %.4g\n", k, r.Values[k])
	}
	for _, k := range slices.Sorted(mapKeys(r.Latency)) {
		p := r.Latency[k]
		fmt.Fprintf(w, "  %-10s ms  p50 %.2f  p95 %.2f  p99 %.2f  max %.2f  (n=%d)\n", k, p.P50, p.P95, p.P99, p.Max, p.Count)
	}
	for _, k := range slices.Sorted(mapKeys(r.Procs)) {
		p := r.Procs[k]
		fmt.Fprintf(w, "  proc %-14s cpu %.0f%%  rss peak %.1f MB\n", k, p.CPUPercent, p.RSSPeakMB)
	}
}

func (r *Result) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func readResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

func mapKeys[M ~map[string]V, V any](m M) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
