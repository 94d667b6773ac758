package main

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

type changesConfig struct {
	Clients  int
	Posts    int
	Window   int
	Duration time.Duration
	Max      int
	Mix      opMix
	Warm     int
	MinAge   time.Duration
	Settle   time.Duration
	Seed     uint64
}

func (c changesConfig) params() map[string]any {
	return map[string]any{"clients": c.Clients, "posts": c.Posts, "window": c.Window, "duration": c.Duration.String(),
		"max": c.Max, "edit": c.Mix.Edit, "delete": c.Mix.Delete, "warm": c.Warm, "minAge": c.MinAge.String(),
		"settle": c.Settle.String(), "seed": c.Seed}
}

// changesScenario: C clients over P posts, each a user of its own. First
// each posts -warm comments, and the buffer is let empty: the comments a
// user has from before, stored in MongoDB. Then each keeps W operations
// outstanding (closed loop, like ingest): new comments, and of its own
// confirmed comments, edits (-edit per comment posted, 0.3) and deletes
// (-delete, 0.1), interleaved at random, until the duration ends or max
// operations were sent. A comment posted in the timed phase is changed
// only once it is -min-age old: people fix a typo some seconds after
// posting, not within the millisecond a closed loop would, which would
// fold nearly every change into its comment's insert. An edit or delete
// with nothing ready to change is a create. Then it waits up to -settle
// for the buffer to empty, so that the MongoDB commands counted are all
// the timed phase's writes.
//
// Values: creates, edits, deletes, changes (edits + deletes), failed
// (failedCreates, failedChanges, and "failed CODE" by error code);
// createsPerSec, changesPerSec, opsPerSec; deliveries (comment_added,
// comment_updated, comment_removed received); drainSec (load end to an
// empty buffer; notDrained if not within -settle); batches and batchMean
// (flushed batches and entries per batch, from commentd's /metrics),
// flushErrors. With -mongo: mongoReads (read commands: a change of a
// comment that left the post's recent list in Redis reads it from
// MongoDB first), insertCommands, updateCommands,
// writeCommands (insert + update + delete + findAndModify), per 1,000
// changes (writesPer1000Changes) and per 1,000 operations, creates included
// (writesPer1000Ops); and computedWrites, computedPer1000Changes,
// computedPer1000Ops: what real MongoDB is sent for the same batches,
// computed, not measured (see computeRealMongo). Latency: create and
// change (edit or delete) acks, from the send. Series: creates/s and
// changes/s during the load, buffer depth during the load and the drain.
func changesScenario(fs *flag.FlagSet) func(context.Context, *env) (*Result, error) {
	var cfg changesConfig
	fs.IntVar(&cfg.Clients, "clients", 32, "concurrent clients, one user each")
	fs.IntVar(&cfg.Posts, "posts", 8, "posts the clients spread over")
	fs.IntVar(&cfg.Window, "window", 4, "operations each client keeps outstanding")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to send (at most 1h)")
	fs.IntVar(&cfg.Max, "max", 20_000, "stop after this many operations (creates, edits and deletes)")
	fs.Float64Var(&cfg.Mix.Edit, "edit", 0.3, "edits per comment posted (0-10)")
	fs.Float64Var(&cfg.Mix.Delete, "delete", 0.1, "deletes per comment posted (0-10)")
	fs.IntVar(&cfg.Warm, "warm", 10, "comments each client posts, and sees stored, before the timed phase")
	fs.DurationVar(&cfg.MinAge, "min-age", 2*time.Second, "a comment of the timed phase is changed only this long after its ack")
	fs.DurationVar(&cfg.Settle, "settle", 5*time.Minute, "how long to wait for the buffer to empty afterwards")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the operation mix")
	return func(ctx context.Context, e *env) (*Result, error) {
		if cfg.Clients < 1 || cfg.Posts < 1 || cfg.Window < 1 || cfg.Duration <= 0 || cfg.Duration > time.Hour || cfg.Max < 1 {
			return nil, errBounds("clients, posts, window and max must be positive; duration at most 1h")
		}
		if cfg.Mix.Edit < 0 || cfg.Mix.Edit > 10 || cfg.Mix.Delete < 0 || cfg.Mix.Delete > 10 || cfg.Warm < 0 || cfg.Warm > 10_000 ||
			cfg.MinAge < 0 || cfg.Settle < 0 || cfg.Settle > time.Hour {
			return nil, errBounds("edit and delete must be within 0-10, warm within 0-10,000; min-age not negative; settle within 0-1h")
		}
		return changes(ctx, e, cfg)
	}
}

func changes(ctx context.Context, e *env, cfg changesConfig) (*Result, error) {
	res := newResult("changes", e.label, cfg.params())
	if _, err := scrape(ctx, e.url); err != nil {
		return nil, err
	}
	cs, err := dialChangers(ctx, newDialer(e.url), "changes", cfg.Clients, cfg.Posts, cfg.Window, cfg.Mix, cfg.MinAge, cfg.Seed)
	if err != nil {
		return nil, err
	}
	warmStart := time.Now()
	if err := warmChangers(ctx, e, cs, cfg.Warm, cfg.Settle); err != nil {
		closeChangers(cs)
		return nil, err
	}
	res.Values["warmSec"] = time.Since(warmStart).Seconds()
	m0, err := scrape(ctx, e.url)
	if err != nil {
		closeChangers(cs)
		return nil, err
	}
	before, err := e.mongoCommands(ctx)
	if err != nil {
		closeChangers(cs)
		return nil, err
	}

	var rCreate, rChange rate
	var loading atomic.Bool // the rates are sampled during the load only; the depth during the drain too
	loading.Store(true)
	rec := startRecorder(time.Second, func(t float64) map[string]float64 {
		v := map[string]float64{}
		if loading.Load() {
			ok, _, _ := changerTotals(cs)
			v["createsPerSec"] = rCreate.next(float64(ok[opCreate]), t)
			v["changesPerSec"] = rChange.next(float64(ok[opEdit]+ok[opDelete]), t)
		}
		if m, err := scrape(ctx, e.url); err == nil {
			v["depth"] = m[mDepth]
		}
		return v
	})
	elapsed := changeLoop(ctx, e, cs, cfg.Duration, cfg.Max)
	loading.Store(false)
	closeChangers(cs)

	// The buffer empties after the load; the recorder keeps sampling.
	loadEnd := time.Now()
	sctx, cancel := context.WithTimeout(ctx, cfg.Settle)
	_, derr := waitDepth(sctx, e.url, 0, 200*time.Millisecond)
	cancel()
	res.Values["drainSec"] = time.Since(loadEnd).Seconds()
	if derr != nil {
		res.Values["notDrained"] = 1 // the buffer did not empty within -settle: the counts below are short
	}
	res.Series = rec.end()

	ok, failed, deliveries := changerTotals(cs)
	create, change := mergeChangeLatency(cs)
	creates, chg := float64(ok[opCreate]), float64(ok[opEdit]+ok[opDelete])
	sec := elapsed.Seconds()
	res.Elapsed = sec
	res.Values["creates"] = creates
	res.Values["edits"] = float64(ok[opEdit])
	res.Values["deletes"] = float64(ok[opDelete])
	res.Values["changes"] = chg
	res.Values["failed"] = float64(failed[opCreate] + failed[opEdit] + failed[opDelete])
	res.Values["failedCreates"] = float64(failed[opCreate])
	res.Values["failedChanges"] = float64(failed[opEdit] + failed[opDelete])
	for code, n := range changerCodes(cs) {
		res.Values["failed "+code] = float64(n)
	}
	res.Values["createsPerSec"] = creates / sec
	res.Values["changesPerSec"] = chg / sec
	res.Values["opsPerSec"] = (creates + chg) / sec
	res.Values["deliveries"] = float64(deliveries)
	res.Latency["create"] = percentiles(create)
	res.Latency["change"] = percentiles(change)

	batches, err := flushValues(ctx, e, res, m0)
	if err != nil {
		return nil, err
	}

	delta, measured, err := e.mongoDelta(ctx, before)
	if err != nil {
		return nil, err
	}
	if measured {
		writes, reads := commandTotals(delta)
		res.Values["mongoReads"] = reads // a change of a comment Redis no longer holds reads it first
		res.Values["insertCommands"] = delta["insert"]
		res.Values["updateCommands"] = delta["update"]
		res.Values["writeCommands"] = writes
		computed := computeRealMongo(delta, batches)
		res.Values["computedWrites"] = computed
		per := func(name string, n, of float64) {
			if of > 0 {
				res.Values[name] = 1000 * n / of
			}
		}
		per("writesPer1000Changes", writes, chg)
		per("writesPer1000Ops", writes, creates+chg)
		per("computedPer1000Changes", computed, chg)
		per("computedPer1000Ops", computed, creates+chg)
	}
	return res, nil
}

// computeRealMongo returns the write commands real MongoDB would have been
// sent for what devmongo was sent, given the batches the flusher wrote.
// The driver sends an unordered BulkWrite as one command per kind of write
// (insert, update; split only past 100,000 statements or 48 MB), so a
// batch is at most one insert and one update command. On devmongo the
// store sends the same inserts (one command per batch holding creates) but
// the updates 40 per command (store.ferretMaxUpdates), so a batch of u
// updates costs
// ceil(u/40) commands there and 1 on MongoDB. The batches that had updates
// are at most the batches and at most devmongo's update commands: the
// result is an upper bound. Without batches (write-through, one write per
// operation) both servers are sent the same.
func computeRealMongo(delta map[string]float64, batches float64) float64 {
	writes, _ := commandTotals(delta)
	if batches <= 0 {
		return writes
	}
	return writes - delta["update"] + min(batches, delta["update"])
}

// warmChangers has every changer post n comments, waits up to settle for
// the buffer to empty (at once in write-through), and resets the
// changers' counters.
func warmChangers(ctx context.Context, e *env, cs []*changer, n int, settle time.Duration) error {
	defer func() {
		for _, ch := range cs {
			ch.reset()
		}
	}()
	if n == 0 {
		return nil
	}
	var wg sync.WaitGroup
	var failed atomic.Bool
	for _, ch := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !ch.warm(ctx, n) {
				failed.Store(true)
			}
		}()
	}
	wg.Wait()
	if failed.Load() {
		return fmt.Errorf("warm: a connection closed")
	}
	sctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	if _, err := waitDepth(sctx, e.url, 0, 100*time.Millisecond); err != nil {
		return fmt.Errorf("warm: the buffer did not empty within %s: %w", settle, err)
	}
	return nil
}

// changeLoop has every changer keep its window full until the duration
// ends or maxOps operations were sent, waits for what is outstanding, and
// returns the time that took.
func changeLoop(ctx context.Context, e *env, cs []*changer, d time.Duration, maxOps int) time.Duration {
	return windowLoop(ctx, e, "changes", cs, d, maxOps, func() string {
		ok, failed, _ := changerTotals(cs)
		return fmt.Sprintf("creates %d edits %d deletes %d failed %d", ok[opCreate], ok[opEdit], ok[opDelete],
			failed[opCreate]+failed[opEdit]+failed[opDelete])
	})
}

// windowSender keeps a window of operations outstanding on a connection:
// a changer, a reactor.
type windowSender interface {
	send(ctx context.Context) bool // false once the connection is gone
	drain(timeout time.Duration)   // waits for what is outstanding
}

// windowLoop has every sender keep its window full until the duration ends
// or maxOps operations were sent, waits for what is outstanding, and
// returns the time that took. status is the progress bar's text.
func windowLoop[S windowSender](ctx context.Context, e *env, title string, ss []S, d time.Duration, maxOps int, status func() string) time.Duration {
	var sent atomic.Int64
	var bar *progress
	if !e.quiet {
		bar = startProgress(title, d, status)
	}
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && sent.Add(1) <= int64(maxOps) {
				if !s.send(ctx) {
					return
				}
			}
			s.drain(30 * time.Second)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if bar != nil {
		bar.end()
	}
	return elapsed
}
