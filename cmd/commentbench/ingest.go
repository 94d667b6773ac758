package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/commentd/commentd/realtime/engineio"
	"github.com/commentd/commentd/realtime/socketio"
	"github.com/gorilla/websocket"
)

type ingestConfig struct {
	URL      string
	Clients  int
	Posts    int
	Window   int
	Duration time.Duration
	Max      int
}

// Result is what a run measured.
type Result struct {
	Scenario        string        `json:"scenario"`
	Clients         int           `json:"clients"`
	Window          int           `json:"window"`
	Elapsed         time.Duration `json:"elapsedNs"`
	Confirmed       int64         `json:"confirmed"`
	Failed          int64         `json:"failed"`
	ConfirmedPerSec float64       `json:"confirmedPerSec"`
	ConfirmMs       Percentiles   `json:"confirmLatencyMs"`
	Deliveries      int64         `json:"deliveries"`
	DeliveriesPerS  float64       `json:"deliveriesPerSec"`
	DeliveryMs      Percentiles   `json:"deliveryLatencyMs"`
}

// Percentiles of a latency histogram, in milliseconds.
type Percentiles struct {
	P50, P95, P99, Max float64
}

func percentiles(h *hdrhistogram.Histogram) Percentiles {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Percentiles{P50: ms(h.ValueAtQuantile(50)), P95: ms(h.ValueAtQuantile(95)),
		P99: ms(h.ValueAtQuantile(99)), Max: ms(h.Max())}
}

func (r Result) print(w io.Writer) {
	fmt.Fprintf(w, "scenario %s: %d clients × window %d, %s\n", r.Scenario, r.Clients, r.Window, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "confirmed   %d (%.0f/s), failed %d\n", r.Confirmed, r.ConfirmedPerSec, r.Failed)
	fmt.Fprintf(w, "confirm ms  p50 %.2f  p95 %.2f  p99 %.2f  max %.2f\n", r.ConfirmMs.P50, r.ConfirmMs.P95, r.ConfirmMs.P99, r.ConfirmMs.Max)
	fmt.Fprintf(w, "deliveries  %d (%.0f/s)\n", r.Deliveries, r.DeliveriesPerS)
	fmt.Fprintf(w, "delivery ms p50 %.2f  p95 %.2f  p99 %.2f  max %.2f\n", r.DeliveryMs.P50, r.DeliveryMs.P95, r.DeliveryMs.P99, r.DeliveryMs.Max)
}

// ingest runs the closed-loop ingest scenario.
func ingest(ctx context.Context, cfg ingestConfig) (Result, error) {
	wsURL := "ws" + strings.TrimPrefix(strings.TrimSuffix(cfg.URL, "/"), "http") + "/socket.io/?EIO=4&transport=websocket"
	clients := make([]*benchClient, cfg.Clients)
	for i := range clients {
		c, err := dialBench(wsURL, fmt.Sprintf("bench-%d", i%cfg.Posts))
		if err != nil {
			for _, c := range clients[:i] {
				c.ws.Close()
			}
			return Result{}, fmt.Errorf("client %d: %w", i, err)
		}
		clients[i] = c
	}
	var sent atomic.Int64
	deadline := time.Now().Add(cfg.Duration)
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(ctx, cfg.Window, deadline, func() bool { return sent.Add(1) <= int64(cfg.Max) })
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	confirm := hdrhistogram.New(1, 60_000_000, 3) // µs
	delivery := hdrhistogram.New(1, 60_000_000, 3)
	res := Result{Scenario: "ingest", Clients: cfg.Clients, Window: cfg.Window, Elapsed: elapsed}
	for _, c := range clients {
		c.ws.Close()
		confirm.Merge(c.confirm)
		delivery.Merge(c.delivery)
		res.Confirmed += c.confirmed
		res.Failed += c.failed
		res.Deliveries += c.deliveries
	}
	res.ConfirmedPerSec = float64(res.Confirmed) / elapsed.Seconds()
	res.DeliveriesPerS = float64(res.Deliveries) / elapsed.Seconds()
	res.ConfirmMs, res.DeliveryMs = percentiles(confirm), percentiles(delivery)
	return res, nil
}

// benchClient is a lean Socket.IO client: one reader goroutine, writes
// under a lock, acks matched by id.
type benchClient struct {
	ws   *websocket.Conn
	post string

	mu      sync.Mutex
	nextID  int64
	pending map[int64]time.Time
	slots   chan struct{}

	confirm, delivery             *hdrhistogram.Histogram
	confirmed, failed, deliveries int64
}

func dialBench(url, post string) (*benchClient, error) {
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		return nil, err
	}
	c := &benchClient{ws: ws, post: post, pending: map[int64]time.Time{},
		confirm: hdrhistogram.New(1, 60_000_000, 3), delivery: hdrhistogram.New(1, 60_000_000, 3)}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := ws.ReadMessage(); err != nil { // open
		ws.Close()
		return nil, err
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		ws.Close()
		return nil, err
	}
	if _, m, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(m), "40") {
		ws.Close()
		return nil, fmt.Errorf("connect: %q %v", m, err)
	}
	arg, _ := json.Marshal(post)
	if err := ws.WriteMessage(websocket.TextMessage, append([]byte("4"), socketio.AppendEvent(nil, "/", -1, "join_post", arg)...)); err != nil {
		ws.Close()
		return nil, err
	}
	ws.SetReadDeadline(time.Time{})
	return c, nil
}

// run keeps window comments outstanding until the deadline or until more
// reports false, then waits for the acks still due.
func (c *benchClient) run(ctx context.Context, window int, deadline time.Time, more func() bool) {
	c.slots = make(chan struct{}, window)
	done := make(chan struct{})
	go c.read(done)
	body, _ := json.Marshal(map[string]string{"postId": c.post, "userId": "bench", "content": "a comment of some fifty bytes, give or take a few"})
	for time.Now().Before(deadline) && ctx.Err() == nil && more() {
		select {
		case c.slots <- struct{}{}:
		case <-done:
			return
		}
		c.mu.Lock()
		c.nextID++
		id := c.nextID
		c.pending[id] = time.Now()
		frame := append([]byte("4"), socketio.AppendEvent(nil, "/", id, "new_comment", body)...)
		err := c.ws.WriteMessage(websocket.TextMessage, frame)
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
	// Wait for what is outstanding, up to 10s.
	for i := 0; i < window; i++ {
		select {
		case c.slots <- struct{}{}:
		case <-done:
			return
		case <-time.After(10 * time.Second):
			return
		}
	}
}

func (c *benchClient) read(done chan struct{}) {
	defer close(done)
	for {
		_, m, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		p, err := engineio.DecodeText(m)
		if err != nil {
			continue
		}
		switch p.Type {
		case engineio.Ping:
			c.mu.Lock()
			c.ws.WriteMessage(websocket.TextMessage, []byte("3"))
			c.mu.Unlock()
		case engineio.Message:
			c.packet(p.Data)
		}
	}
}

func (c *benchClient) packet(data []byte) {
	pk, err := socketio.Decode(data, socketio.Limits{})
	if err != nil {
		return
	}
	now := time.Now()
	switch pk.Type {
	case socketio.PacketAck:
		c.mu.Lock()
		sentAt, ok := c.pending[pk.ID]
		delete(c.pending, pk.ID)
		c.mu.Unlock()
		if !ok {
			return
		}
		if strings.Contains(string(pk.Data), `"ok":true`) {
			c.confirmed++
			c.confirm.RecordValue(max(now.Sub(sentAt).Microseconds(), 1))
		} else {
			c.failed++
		}
		<-c.slots
	case socketio.PacketEvent:
		name, args, err := socketio.EventName(pk.Data)
		if err != nil || name != "comment_added" || len(args) == 0 {
			return
		}
		c.deliveries++
		var cm struct {
			CreatedAt string `json:"createdAt"`
		}
		if json.Unmarshal(args[0], &cm) == nil {
			if t, err := time.Parse(time.RFC3339Nano, cm.CreatedAt); err == nil {
				c.delivery.RecordValue(max(now.Sub(t).Microseconds(), 1))
			}
		}
	}
}
