package flusher

import (
	"context"
	"fmt"
	"time"

	"github.com/commentd/commentd/comment"
)

// pollEvery bounds how long a shard loop waits before looking at the
// shard's length again, so a full batch is noticed within this time.
const pollEvery = 50 * time.Millisecond

// shardRun is the work on one shard under one lease token.
type shardRun struct {
	f      *Flusher
	shard  int
	token  string
	ctx    context.Context // canceled when the lease is lost
	cancel context.CancelFunc

	keeperStop chan struct{}
	keeperDone chan struct{}
}

func newShardRun(f *Flusher, shard int, token string) *shardRun {
	ctx, cancel := context.WithCancel(context.Background())
	r := &shardRun{f: f, shard: shard, token: token, ctx: ctx, cancel: cancel,
		keeperStop: make(chan struct{}), keeperDone: make(chan struct{})}
	go r.keepLease()
	return r
}

// keepLease renews the lease every LeaseTTL/3. When the lease is gone, or
// could not be renewed for a whole LeaseTTL, it cancels r.ctx.
func (r *shardRun) keepLease() {
	defer close(r.keeperDone)
	ttl := r.f.cfg.LeaseTTL
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-r.keeperStop:
			return
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(r.ctx, ttl/3)
		ok, err := r.f.src.RenewLease(ctx, r.shard, r.token, ttl)
		cancel()
		switch {
		case err == nil && ok:
			lastOK = time.Now()
		case err == nil && !ok:
			r.f.log.Warn("flusher: lease lost", "shard", r.shard)
			r.cancel()
			return
		case time.Since(lastOK) >= ttl:
			r.f.log.Warn("flusher: lease not renewed in time", "shard", r.shard, "err", err)
			r.cancel()
			return
		}
	}
}

func (r *shardRun) stopKeeper() {
	close(r.keeperStop)
	<-r.keeperDone
	r.cancel()
}

// run flushes the shard until stop is done or the lease is lost, then
// drains what is left within DrainTimeout and releases the lease. A batch
// being retried when stop comes is abandoned (it stays in flight) and
// retried by the drain.
func (r *shardRun) run(stop context.Context) error {
	defer r.stopKeeper()
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	defer context.AfterFunc(stop, cancel)()
	last := time.Now()
	for {
		if stop.Err() != nil {
			return r.finish()
		}
		if r.ctx.Err() != nil {
			return nil // lease lost; the next holder carries on
		}
		wait := pollEvery
		pending, err := r.f.src.Pending(ctx, r.shard)
		if err != nil {
			if ctx.Err() == nil {
				r.f.log.Warn("flusher: pending", "shard", r.shard, "err", err)
			}
		} else {
			interval := r.f.Interval()
			since := time.Since(last)
			if pending >= int64(r.f.BatchSize()) || pending > 0 && since >= interval {
				if _, err := r.flushBatch(ctx); err != nil && ctx.Err() == nil {
					r.f.log.Warn("flusher: flush", "shard", r.shard, "err", err)
				}
				last = time.Now()
				continue
			}
			if pending > 0 {
				wait = min(wait, interval-since)
			}
		}
		sleep(ctx, wait)
	}
}

// finish drains the shard within DrainTimeout and releases the lease.
func (r *shardRun) finish() error {
	ctx, cancel := context.WithTimeout(r.ctx, r.f.cfg.DrainTimeout)
	defer cancel()
	n, err := r.drainAll(ctx)
	rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer rcancel()
	if rerr := r.f.src.ReleaseLease(rctx, r.shard, r.token); rerr != nil {
		r.f.log.Warn("flusher: release lease", "shard", r.shard, "err", rerr)
	}
	if err != nil {
		return fmt.Errorf("drain shard %d: %w", r.shard, err)
	}
	r.f.log.Debug("flusher: drained", "shard", r.shard, "comments", n)
	return nil
}

// drainAll flushes batches until the shard is empty.
func (r *shardRun) drainAll(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := r.flushBatch(ctx)
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			pending, err := r.f.src.Pending(ctx, r.shard)
			if err != nil {
				return total, err
			}
			if pending == 0 {
				return total, nil
			}
		}
	}
}

// flushBatch claims a batch, inserts it, retrying while the sink fails, and
// acks it. It returns how many comments it claimed.
func (r *shardRun) flushBatch(ctx context.Context) (int, error) {
	start := time.Now()
	batch, err := r.f.src.Claim(ctx, r.shard, r.token, r.f.BatchSize())
	if err != nil {
		if r.f.cfg.IsLeaseLost(err) {
			r.cancel()
		}
		return 0, err
	}
	docs := batch
	var dead []comment.Rejected
	failures, attempts := 0, 0
	for len(docs) > 0 {
		rejected, err := r.f.sink.Write(ctx, docs)
		if err != nil {
			failures++
			if r.f.cfg.OnInsertError != nil && ctx.Err() == nil {
				r.f.cfg.OnInsertError(r.shard, err)
			}
			if ctx.Err() == nil && (failures == 1 || failures%10 == 0) {
				r.f.log.Warn("flusher: insert failed, retrying", "shard", r.shard,
					"comments", len(docs), "failures", failures, "err", err)
			}
			if err := sleep(ctx, r.f.backoff(failures)); err != nil {
				return 0, err
			}
			continue
		}
		if len(rejected) == 0 {
			break
		}
		attempts++
		if attempts == 1 {
			r.f.log.Warn("flusher: comments rejected, retrying", "shard", r.shard,
				"count", len(rejected), "reason", rejected[0].Reason)
		}
		if attempts >= r.f.cfg.MaxAttempts {
			dead = rejected
			r.f.log.Error("flusher: comments dead-lettered", "shard", r.shard,
				"count", len(rejected), "reason", rejected[0].Reason)
			break
		}
		docs = docs[:0:0]
		for _, rj := range rejected {
			docs = append(docs, rj.Change)
		}
		if err := sleep(ctx, r.f.backoff(attempts)); err != nil {
			return 0, err
		}
	}
	if err := r.f.src.Ack(ctx, r.shard, r.token, dead); err != nil {
		if r.f.cfg.IsLeaseLost(err) {
			r.cancel()
		}
		return 0, err
	}
	if r.f.cfg.OnFlush != nil && len(batch) > 0 {
		stored := batch
		if len(dead) > 0 {
			stored = without(batch, dead)
		}
		r.f.cfg.OnFlush(r.shard, stored, dead, time.Since(start))
	}
	return len(batch), nil
}

func without(batch []comment.Change, dead []comment.Rejected) []comment.Change {
	skip := make(map[string]bool, len(dead))
	for _, d := range dead {
		skip[d.Change.CommentID] = true
	}
	out := make([]comment.Change, 0, len(batch))
	for _, c := range batch {
		if !skip[c.CommentID] {
			out = append(out, c)
		}
	}
	return out
}

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
