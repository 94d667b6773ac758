package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// serverMetrics are the numbers read from one scrape of commentd's
// /metrics (Prometheus text format), summed over labels by metric name;
// gauges that are maxima over shards (the oldest age) keep the maximum.
type serverMetrics map[string]float64

// Names of commentd metrics the scenarios read.
const (
	mDepth     = "commentd_buffer_depth"
	mAge       = "commentd_buffer_oldest_age_seconds"
	mFlushed   = "commentd_flushed_comments_total"
	mAccepted  = "commentd_comments_accepted_total"
	mConns     = "commentd_connections"
	mDeliver   = "commentd_fanout_deliveries_total"
	mSlow      = "commentd_slow_consumer_disconnects_total"
	mBatchSum  = "commentd_flush_batch_size_sum"
	mBatchN    = "commentd_flush_batch_size_count"
	mMongoErr  = "commentd_mongo_errors_total"
	mHistory   = "commentd_history_reads_total"
	mRSS       = "process_resident_memory_bytes"
	maxMetrics = "commentd_buffer_oldest_age_seconds" // kept as a maximum over shards
)

var metricsClient = &http.Client{Timeout: 5 * time.Second}

// scrape reads base/metrics.
func scrape(ctx context.Context, base string) (serverMetrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := metricsClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape: %s", resp.Status)
	}
	m := serverMetrics{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		name := line[:sp]
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		if name == maxMetrics {
			m[name] = max(m[name], v)
		} else {
			m[name] += v
		}
	}
	return m, sc.Err()
}

// waitDepth polls /metrics until the buffer depth is at most want or ctx
// ends, and returns the last depth seen.
func waitDepth(ctx context.Context, base string, want float64, every time.Duration) (float64, error) {
	for {
		m, err := scrape(ctx, base)
		// A scrape over commentd's budget leaves the depth out: not 0.
		if d, ok := m[mDepth]; err == nil && ok && d <= want {
			return d, nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return -1, err
			}
			return m[mDepth], ctx.Err()
		case <-time.After(every):
		}
	}
}

// flushValues sets res's batches, batchMean (entries per batch) and
// flushErrors since the scrape m0, and returns the batches.
func flushValues(ctx context.Context, e *env, res *Result, m0 serverMetrics) (float64, error) {
	m1, err := scrape(ctx, e.url)
	if err != nil {
		return 0, err
	}
	batches := m1[mBatchN] - m0[mBatchN]
	res.Values["batches"] = batches
	if batches > 0 {
		res.Values["batchMean"] = (m1[mBatchSum] - m0[mBatchSum]) / batches
	}
	res.Values["flushErrors"] = m1[mMongoErr] - m0[mMongoErr]
	return batches, nil
}
