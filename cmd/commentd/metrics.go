package main

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the Prometheus metrics of one App. Components report through
// plain hooks and Stats methods; only cmd knows Prometheus.
type metrics struct {
	reg          *prometheus.Registry
	accepted     prometheus.Counter
	acceptedN    atomic.Uint64 // accepted, readable without Prometheus (the admin page's rate)
	rejected     *prometheus.CounterVec
	batchSize    prometheus.Histogram
	flushTime    prometheus.Histogram
	flushed      prometheus.Counter
	deadLetters  prometheus.Counter
	mongoErrors  prometheus.Counter
	historyReads prometheus.Counter
	whDelivered  *prometheus.CounterVec
	whFailed     *prometheus.CounterVec
	whDead       *prometheus.CounterVec
	scrapeBudget time.Duration
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "commentd_comments_accepted_total", Help: "Comments accepted (buffered, or stored in write-through)."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commentd_comments_rejected_total", Help: "Comments rejected, by error code."}, []string{"code"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "commentd_flush_batch_size", Help: "Comments per flushed batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9)}),
		flushTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "commentd_flush_duration_seconds", Help: "Time to claim, insert and ack one batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 3, 10)}),
		flushed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "commentd_flushed_comments_total", Help: "Comments moved from Redis into MongoDB."}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "commentd_dead_letters_total", Help: "Comments MongoDB kept refusing, moved to the dead-letter list."}),
		mongoErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "commentd_mongo_errors_total", Help: "Failed MongoDB inserts of a batch (retried)."}),
		historyReads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "commentd_history_reads_total", Help: "Post history reads sent to MongoDB (joins and history pages), finished or not."}),
		whDelivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commentd_webhook_delivered_events_total", Help: "Webhook events delivered (2xx), by endpoint."}, []string{"endpoint"}),
		whFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commentd_webhook_failed_requests_total", Help: "Webhook requests that failed (non-2xx, timeout, network), by endpoint."}, []string{"endpoint"}),
		whDead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commentd_webhook_dead_events_total", Help: "Webhook events given up after webhooks.max_attempts, by endpoint."}, []string{"endpoint"}),
		scrapeBudget: 2 * time.Second,
	}
	m.reg.MustRegister(m.accepted, m.rejected, m.batchSize, m.flushTime, m.flushed, m.deadLetters, m.mongoErrors, m.historyReads,
		m.whDelivered, m.whFailed, m.whDead,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// onComment counts a new_comment outcome; code "" is accepted.
func (m *metrics) onComment(code comment.Code) {
	if code == "" {
		m.accepted.Inc()
		m.acceptedN.Add(1)
		return
	}
	m.rejected.WithLabelValues(string(code)).Inc()
}

func (m *metrics) onFlush(_ int, stored []comment.Change, dead []comment.Rejected, took time.Duration) {
	m.batchSize.Observe(float64(len(stored) + len(dead)))
	m.flushTime.Observe(took.Seconds())
	m.flushed.Add(float64(len(stored)))
	m.deadLetters.Add(float64(len(dead)))
}

func (m *metrics) onInsertError(int, error) { m.mongoErrors.Inc() }

// Delivered, Failed and Dead count webhook deliveries (webhook.Observer).
func (m *metrics) Delivered(endpoint string, events int) {
	m.whDelivered.WithLabelValues(endpoint).Add(float64(events))
}

func (m *metrics) Failed(endpoint string) { m.whFailed.WithLabelValues(endpoint).Inc() }

func (m *metrics) Dead(endpoint string, events int) {
	m.whDead.WithLabelValues(endpoint).Add(float64(events))
}

// appCollector reads the App's gauges at scrape time.
type appCollector struct {
	a *App
	m *metrics

	conns, rooms, depth, age, leases, deliveries, slow, whLag *prometheus.Desc
}

func (m *metrics) register(a *App) {
	m.reg.MustRegister(&appCollector{a: a, m: m,
		conns:      prometheus.NewDesc("commentd_connections", "Open connections, by transport.", []string{"transport"}, nil),
		rooms:      prometheus.NewDesc("commentd_rooms", "Rooms with members on this node.", nil, nil),
		depth:      prometheus.NewDesc("commentd_buffer_depth", "Comments in Redis not yet in MongoDB, by shard.", []string{"shard"}, nil),
		age:        prometheus.NewDesc("commentd_buffer_oldest_age_seconds", "Age of the oldest comment not yet in MongoDB, by shard.", []string{"shard"}, nil),
		leases:     prometheus.NewDesc("commentd_leases_held", "Shard leases this node's flusher holds.", nil, nil),
		deliveries: prometheus.NewDesc("commentd_fanout_deliveries_total", "Broadcast packets queued to sockets, one per receiver.", nil, nil),
		slow:       prometheus.NewDesc("commentd_slow_consumer_disconnects_total", "Connections closed because they did not read fast enough.", nil, nil),
		whLag:      prometheus.NewDesc("commentd_webhook_lag_seconds", "Age of the oldest webhook event not yet delivered, by endpoint.", []string{"endpoint"}, nil),
	})
}

func (c *appCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.rooms, c.depth, c.age, c.leases, c.deliveries, c.slow, c.whLag} {
		ch <- d
	}
}

func (c *appCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.a.sio.Stats()
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(st.WebSocket), "websocket")
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(st.Polling), "polling")
	ch <- prometheus.MustNewConstMetric(c.rooms, prometheus.GaugeValue, float64(st.Rooms))
	ch <- prometheus.MustNewConstMetric(c.deliveries, prometheus.CounterValue, float64(st.Deliveries))
	ch <- prometheus.MustNewConstMetric(c.slow, prometheus.CounterValue, float64(st.SlowConsumers))
	held := 0
	if c.a.fl != nil {
		held = c.a.fl.Held()
	}
	ch <- prometheus.MustNewConstMetric(c.leases, prometheus.GaugeValue, float64(held))
	ctx, cancel := context.WithTimeout(context.Background(), c.m.scrapeBudget)
	defer cancel()
	if c.a.wh != nil {
		if lag, err := c.a.wh.Lag(ctx); err == nil {
			for name, d := range lag {
				ch <- prometheus.MustNewConstMetric(c.whLag, prometheus.GaugeValue, d.Seconds(), name)
			}
		}
	}
	now := time.Now()
	for shard := range c.a.buf.Shards() {
		n, oldest, err := c.a.buf.Depth(ctx, shard)
		if err != nil {
			continue // Redis down: readiness says so; no stale numbers
		}
		label := strconv.Itoa(shard)
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(n), label)
		age := 0.0
		if !oldest.IsZero() {
			age = now.Sub(oldest).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age, label)
	}
}

// countedHistory is the store as the Service reads it, counting the
// history reads it sends (commentd_history_reads_total): MongoDB's own
// counters (serverStatus) count a command when it finishes, and a read
// that a join gave up on may never finish.
type countedHistory struct {
	*store.Store
	reads prometheus.Counter
}

func (c countedHistory) History(ctx context.Context, postID, before string, limit int) ([]comment.Comment, error) {
	c.reads.Inc()
	return c.Store.History(ctx, postID, before, limit)
}

func (c countedHistory) HistoryAll(ctx context.Context, postID, before string, limit int) ([]comment.Comment, error) {
	c.reads.Inc()
	return c.Store.HistoryAll(ctx, postID, before, limit)
}
