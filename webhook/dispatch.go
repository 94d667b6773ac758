package webhook

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/commentd/commentd/hook"
	"github.com/redis/go-redis/v9"
)

// Endpoint is one receiver of webhooks.
type Endpoint struct {
	Name       string   // unique; names its Redis keys and its metrics
	URL        string   // http or https
	Secret     string   // signing secret: "whsec_" + base64, or any other string used as is
	Events     []string // types it gets; empty: all
	Moderation bool     // may get pending and hidden comments
}

// Observer is told of deliveries, for metrics. Its methods must not block.
type Observer interface {
	Delivered(endpoint string, events int)
	Failed(endpoint string)
	Dead(endpoint string, events int)
}

// Config configures a Dispatcher. Zero fields take the defaults noted.
type Config struct {
	Prefix      string        // Redis key prefix; "cmt"
	Endpoints   []Endpoint    // at least one
	BatchSize   int           // events per request; 50
	MaxAttempts int           // attempts of a batch before it is dead-lettered; 10
	Timeout     time.Duration // limit of one request, connecting included; 5s
	MinBackoff  time.Duration // wait after a first failure, doubling; 1s
	MaxBackoff  time.Duration // longest wait between attempts; 60s
	LeaseTTL    time.Duration // an endpoint's lease, renewed every LeaseTTL/3; 10s
	Poll        time.Duration // wait when there is nothing to send; 200ms
	DeadLen     int64         // dead letters (batches) kept per endpoint; 10000
	Owner       string        // name in lease tokens; random
	Observer    Observer      // nil: none
	Logger      *slog.Logger  // slog.Default()
}

func (c *Config) setDefaults() {
	if c.Prefix == "" {
		c.Prefix = "cmt"
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 50
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Minute
	}
	c.MaxBackoff = max(c.MaxBackoff, c.MinBackoff)
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 10 * time.Second
	}
	if c.Poll <= 0 {
		c.Poll = 200 * time.Millisecond
	}
	if c.DeadLen <= 0 {
		c.DeadLen = 10_000
	}
	if c.Owner == "" {
		var b [6]byte
		crand.Read(b[:])
		c.Owner = hex.EncodeToString(b[:])
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Dispatcher delivers the stream's events to the endpoints: one goroutine
// per endpoint, each delivering only while it holds the endpoint's lease.
type Dispatcher struct {
	rdb     redis.UniversalClient
	cfg     Config
	keys    keys
	workers []*worker
}

// NewDispatcher returns a Dispatcher of cfg; Run delivers.
func NewDispatcher(rdb redis.UniversalClient, cfg Config) (*Dispatcher, error) {
	cfg.setDefaults()
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("webhook: no endpoints")
	}
	d := &Dispatcher{rdb: rdb, cfg: cfg, keys: newKeys(cfg.Prefix)}
	seen := map[string]bool{}
	for _, ep := range cfg.Endpoints {
		if ep.Name == "" || seen[ep.Name] {
			return nil, fmt.Errorf("webhook: endpoint names must be unique and set, got %q", ep.Name)
		}
		seen[ep.Name] = true
		key, err := hook.Key(ep.Secret)
		if err != nil {
			return nil, fmt.Errorf("webhook: endpoint %s: %w", ep.Name, err)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		d.workers = append(d.workers, &worker{d: d, ep: ep, key: key, tr: tr,
			hc: &http.Client{Transport: tr, Timeout: cfg.Timeout,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
			log: cfg.Logger.With("webhook", ep.Name)})
	}
	return d, nil
}

// Run delivers until ctx ends, then releases the leases it holds and
// returns once every goroutine it started has.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, w := range d.workers {
		wg.Go(func() { w.run(ctx) })
	}
	wg.Wait()
	for _, w := range d.workers {
		w.tr.CloseIdleConnections()
	}
}

// Lag returns, per endpoint, the age of the oldest event not yet
// delivered (0 when it is caught up).
func (d *Dispatcher) Lag(ctx context.Context) (map[string]time.Duration, error) {
	out := make(map[string]time.Duration, len(d.workers))
	now := time.Now()
	for _, w := range d.workers {
		cursor, err := d.rdb.Get(ctx, d.keys.cursor(w.ep.Name)).Result()
		if err != nil && err != redis.Nil {
			return nil, err
		}
		if cursor == "" {
			cursor = "0-0"
		}
		msgs, err := d.rdb.XRangeN(ctx, d.keys.stream(), "("+cursor, "+", 1).Result()
		if err != nil {
			return nil, err
		}
		if len(msgs) == 1 {
			out[w.ep.Name] = max(0, now.Sub(idTime(msgs[0].ID)))
		} else {
			out[w.ep.Name] = 0
		}
	}
	return out, nil
}

// DeadLetters returns the dead letters of an endpoint, oldest first: each
// the JSON of a DeadLetter.
func (d *Dispatcher) DeadLetters(ctx context.Context, endpoint string) ([]string, error) {
	return d.rdb.LRange(ctx, d.keys.dead(endpoint), 0, -1).Result()
}

// idTime is the time of a stream id ("<ms>-<seq>").
func idTime(id string) time.Time {
	ms, _, _ := strings.Cut(id, "-")
	n, _ := strconv.ParseInt(ms, 10, 64)
	return time.UnixMilli(n)
}

// backoff returns the wait after failed attempt n (1-based): exponential
// from MinBackoff, capped at MaxBackoff, jittered in its upper half so
// that endpoints failing together do not retry together.
func (c *Config) backoff(n int) time.Duration {
	d := c.MinBackoff
	for i := 1; i < n && d < c.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// wants reports whether ep takes events of type t.
func (ep Endpoint) wants(t string) bool {
	return len(ep.Events) == 0 || slices.Contains(ep.Events, t)
}
