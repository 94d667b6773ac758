package flusher

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commentd/commentd/comment"
)

// ErrLeaseLost is what a Source returns when a token is no longer the
// shard's lease. The flusher stops working on that shard.
var ErrLeaseLost = errors.New("flusher: lease lost")

// Source is where batches come from: the buffer, with a lease per shard.
type Source interface {
	Shards() int
	AcquireLease(ctx context.Context, shard int, owner string, ttl time.Duration) (token string, ok bool, err error)
	RenewLease(ctx context.Context, shard int, token string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, shard int, token string) error
	Pending(ctx context.Context, shard int) (int64, error)
	// Claim returns the next batch: new comments (Op create) and changes,
	// in the shard's order.
	Claim(ctx context.Context, shard int, token string, max int) ([]comment.Change, error)
	Ack(ctx context.Context, shard int, token string, dead []comment.Rejected) error
	// Heartbeat announces owner as a live flusher for ttl and returns how
	// many are alive; Leave withdraws it.
	Heartbeat(ctx context.Context, owner string, ttl time.Duration) (int, error)
	Leave(ctx context.Context, owner string) error
	// HolderAlive reports whether the shard's lease is held by a flusher
	// that announces itself (Heartbeat): one that will drain the shard.
	HolderAlive(ctx context.Context, shard int) (bool, error)
}

// Sink is where batches go: the database. Write must be idempotent:
// writing a batch again changes nothing (ids are unique, changes are
// guarded by version). It returns the writes refused for reasons of their
// own, or an error if the batch as a whole failed.
type Sink interface {
	Write(ctx context.Context, batch []comment.Change) ([]comment.Rejected, error)
}

// FlushCallback is told of each acked batch: what was stored and what was
// dead-lettered, and how long it took.
type FlushCallback func(shard int, stored []comment.Change, dead []comment.Rejected, took time.Duration)

// Config configures a Flusher. Zero fields take the defaults noted.
type Config struct {
	Owner        string        // name in lease tokens; random
	BatchSize    int           // entries (new comments and changes) per write; 1000
	Interval     time.Duration // longest wait before a partial batch is flushed; 1s
	LeaseTTL     time.Duration // lease lifetime, renewed every LeaseTTL/3; 10s
	DrainTimeout time.Duration // limit of the drain when Run stops; 10s
	MaxAttempts  int           // inserts of a rejected comment before it is dead-lettered; 5
	MinBackoff   time.Duration // first wait after a failed insert; 100ms
	MaxBackoff   time.Duration // longest wait between failed inserts; 10s
	Logger       *slog.Logger  // slog.Default()
	// IsLeaseLost tells a Source's lease-lost error; errors.Is(err, ErrLeaseLost).
	IsLeaseLost func(error) bool
	// OnFlush, if set, is called after each acked batch (for metrics and
	// "persisted" notices).
	OnFlush FlushCallback
	// OnInsertError, if set, is called for each failed insert of a batch.
	OnInsertError func(shard int, err error)
}

func (c *Config) setDefaults() {
	if c.Owner == "" {
		var b [6]byte
		crand.Read(b[:])
		c.Owner = hex.EncodeToString(b[:])
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 1000
	}
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 10 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 10 * time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.IsLeaseLost == nil {
		c.IsLeaseLost = func(err error) bool { return errors.Is(err, ErrLeaseLost) }
	}
}

// Flusher moves batches from a Source to a Sink.
type Flusher struct {
	src       Source
	sink      Sink
	cfg       Config
	batchSize atomic.Int64
	interval  atomic.Int64 // time.Duration
	held      atomic.Int64 // leases held now
	log       *slog.Logger
}

// Held returns how many shard leases the flusher holds now.
func (f *Flusher) Held() int { return int(f.held.Load()) }

// New returns a Flusher; Run or FlushOnce does the work.
func New(src Source, sink Sink, cfg Config) *Flusher {
	cfg.setDefaults()
	f := &Flusher{src: src, sink: sink, cfg: cfg, log: cfg.Logger.With("owner", cfg.Owner)}
	f.batchSize.Store(int64(cfg.BatchSize))
	f.interval.Store(int64(cfg.Interval))
	return f
}

// SetBatchSize changes the batch size of a running flusher.
func (f *Flusher) SetBatchSize(n int) {
	if n > 0 {
		f.batchSize.Store(int64(n))
	}
}

// SetInterval changes the flush interval of a running flusher.
func (f *Flusher) SetInterval(d time.Duration) {
	if d > 0 {
		f.interval.Store(int64(d))
	}
}

// BatchSize returns the current batch size.
func (f *Flusher) BatchSize() int { return int(f.batchSize.Load()) }

// Interval returns the current flush interval.
func (f *Flusher) Interval() time.Duration { return time.Duration(f.interval.Load()) }

// Run flushes the shards whose leases it can take until ctx is done, then
// drains them within DrainTimeout and releases their leases. It returns nil
// after a clean drain, or the drain's error.
//
// Flushers share the shards: each announces itself (Source.Heartbeat) and
// holds at most its fair share, ceil(shards / flushers alive). A flusher
// over its share (one joined) drains a shard and lets it go; the shards of
// one that died are taken when their leases expire.
func (f *Flusher) Run(ctx context.Context) error {
	type running struct {
		r    *shardRun
		stop context.CancelFunc
	}
	var (
		mu       sync.Mutex
		held     = make(map[int]running)
		wg       sync.WaitGroup
		drainErr error
	)
	defer func() {
		lctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		f.src.Leave(lctx, f.cfg.Owner)
		cancel()
	}()
	tick := time.NewTicker(f.cfg.LeaseTTL / 3)
	defer tick.Stop()
	shards := f.src.Shards()
	for {
		share := shards
		if alive, err := f.src.Heartbeat(ctx, f.cfg.Owner, f.cfg.LeaseTTL); err == nil && alive > 0 {
			share = (shards + alive - 1) / alive
		}
		mu.Lock()
		n := len(held)
		if n > share {
			// Over the fair share: drain and release one shard a tick.
			for _, h := range held {
				h.stop()
				break
			}
		}
		mu.Unlock()
		start := rand.N(shards) // nodes start at different shards
		for i := 0; i < shards && n < share; i++ {
			shard := (start + i) % shards
			mu.Lock()
			_, ok := held[shard]
			mu.Unlock()
			if ok {
				continue
			}
			token, ok, err := f.src.AcquireLease(ctx, shard, f.cfg.Owner, f.cfg.LeaseTTL)
			if err != nil {
				if ctx.Err() == nil {
					f.log.Warn("flusher: acquire lease", "shard", shard, "err", err)
				}
				continue
			}
			if !ok {
				continue
			}
			f.log.Debug("flusher: lease taken", "shard", shard)
			n++
			r := newShardRun(f, shard, token)
			rctx, stop := context.WithCancel(ctx)
			mu.Lock()
			held[shard] = running{r: r, stop: stop}
			mu.Unlock()
			f.held.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer f.held.Add(-1)
				defer stop()
				if err := r.run(rctx); err != nil {
					mu.Lock()
					drainErr = errors.Join(drainErr, err)
					mu.Unlock()
				}
				mu.Lock()
				delete(held, shard)
				mu.Unlock()
			}()
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			return drainErr
		case <-tick.C:
		}
	}
}

// FlushOnce takes the lease of every shard, flushes everything buffered,
// releases the leases and returns how many entries it flushed and which
// shards it skipped. A shard whose lease a live flusher holds (one that
// heartbeats: it drains the shard itself) is skipped at once; a lease
// left by a dead holder is waited for until it expires, up to ctx. A Sink
// that keeps failing makes it return the error once ctx is done.
func (f *Flusher) FlushOnce(ctx context.Context) (n int, skipped []int, err error) {
	total := 0
	for shard := range f.src.Shards() {
		token, held, err := f.acquireOnce(ctx, shard)
		if err != nil {
			return total, skipped, err
		}
		if held {
			skipped = append(skipped, shard)
			continue
		}
		r := newShardRun(f, shard, token)
		n, err := r.drainAll(ctx)
		total += n
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		relErr := f.src.ReleaseLease(rctx, shard, token)
		cancel()
		r.stopKeeper()
		if err != nil {
			return total, skipped, err
		}
		if relErr != nil {
			return total, skipped, relErr
		}
	}
	return total, skipped, nil
}

// acquireOnce takes a shard's lease for FlushOnce, waiting out a dead
// holder's; held is true when a live flusher has it.
func (f *Flusher) acquireOnce(ctx context.Context, shard int) (token string, held bool, err error) {
	for {
		t, ok, err := f.src.AcquireLease(ctx, shard, f.cfg.Owner, f.cfg.LeaseTTL)
		if err != nil {
			return "", false, err
		}
		if ok {
			return t, false, nil
		}
		alive, err := f.src.HolderAlive(ctx, shard)
		if err != nil {
			return "", false, err
		}
		if alive {
			return "", true, nil
		}
		select {
		case <-ctx.Done():
			return "", false, ctx.Err()
		case <-time.After(f.cfg.LeaseTTL / 10):
		}
	}
}

// backoff returns the wait before attempt n (1-based): exponential from
// MinBackoff, capped at MaxBackoff, with full jitter in its upper half.
func (f *Flusher) backoff(n int) time.Duration {
	d := f.cfg.MinBackoff
	for i := 1; i < n && d < f.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, f.cfg.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}
