package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// The kinds of fault the harness injects.
const (
	faultKillNode     = "kill-node"              // SIGKILL a node, restart it
	faultTermNode     = "term-node"              // SIGTERM a node (it drains), restart it
	faultKillFlusher  = "kill-flusher-mid-batch" // SIGKILL a node between its insert and its ack
	faultPauseHolder  = "pause-lease-holder"     // SIGSTOP a node mid-batch past its lease, then SIGCONT
	faultMongoDown    = "mongo-down"             // stop MongoDB, start it again
	faultRedisRestart = "redis-crash"            // SIGKILL redis-server, restart it (AOF replay)
	faultLatency      = "latency"                // delay a node's Redis or MongoDB traffic
)

var allFaults = []string{faultKillNode, faultTermNode, faultKillFlusher, faultPauseHolder, faultMongoDown, faultRedisRestart, faultLatency}

// faultRecord is one injected fault, for the report.
type faultRecord struct {
	Kind   string        `json:"kind"`
	Node   int           `json:"node"` // -1 when it is not a node's
	At     time.Duration `json:"atNs"` // since the start of the load
	Took   time.Duration `json:"tookNs"`
	Detail string        `json:"detail,omitempty"`
}

// injector runs faults one after the other until its context ends.
type injector struct {
	c       *cluster
	cfg     Config
	rng     *rand.Rand
	start   time.Time
	sampler *sampler

	outage atomic.Bool // the long MongoDB outage is on

	mu      sync.Mutex
	records []faultRecord
}

// needsMongo tells the faults that need MongoDB up: while the long
// outage has it down they wait for the next round.
func needsMongo(kind string) bool {
	return kind == faultMongoDown || kind == faultKillFlusher || kind == faultPauseHolder
}

// next takes the next fault of the round that can run now, starting a new
// shuffled round when this one is done; a kind that cannot run now (see
// needsMongo) is skipped without costing a fault's pause. It returns false
// when no kind can run now.
func (in *injector) next(round *[]string) (string, bool) {
	for refills := 0; refills < 2; {
		if len(*round) == 0 {
			*round = append(*round, in.cfg.Faults...)
			in.rng.Shuffle(len(*round), func(i, j int) { (*round)[i], (*round)[j] = (*round)[j], (*round)[i] })
			refills++
			if len(*round) == 0 {
				return "", false
			}
		}
		kind := (*round)[0]
		*round = (*round)[1:]
		if !(in.outage.Load() && needsMongo(kind)) {
			return kind, true
		}
	}
	return "", false
}

func (in *injector) run(ctx context.Context) {
	var long sync.WaitGroup
	defer long.Wait()
	longDue := in.cfg.LongMongoDown > 0
	var round []string // every kind once per round, in a random order
	for ctx.Err() == nil {
		sleepCtx(ctx, in.cfg.FaultGap/2+time.Duration(in.rng.Int64N(int64(in.cfg.FaultGap))))
		if ctx.Err() != nil {
			return
		}
		if longDue && time.Since(in.start) > in.cfg.Duration/3 {
			// The one long MongoDB outage, a third into the run; the other
			// faults go on meanwhile.
			longDue = false
			in.outage.Store(true)
			long.Add(1)
			go func() {
				defer long.Done()
				defer in.outage.Store(false)
				in.do(ctx, faultMongoDown+"-long")
			}()
			continue
		}
		kind, ok := in.next(&round)
		if !ok {
			if !longDue && len(in.cfg.Faults) == 0 {
				return
			}
			continue
		}
		in.do(ctx, kind)
	}
}

// do injects one fault, heals it, and records it.
func (in *injector) do(ctx context.Context, kind string) {
	rec := faultRecord{Kind: kind, Node: -1, At: time.Since(in.start)}
	t0 := time.Now()
	var err error
	switch kind {
	case faultKillNode:
		err = in.killNode(ctx, &rec)
	case faultTermNode:
		err = in.termNode(ctx, &rec)
	case faultKillFlusher:
		err = in.killFlusher(ctx, &rec)
	case faultPauseHolder:
		err = in.pauseHolder(ctx, &rec)
	case faultMongoDown:
		err = in.mongoDown(ctx, &rec, in.cfg.MongoDown/2+time.Duration(in.rng.Int64N(int64(in.cfg.MongoDown))), in.rng.IntN(2) == 0)
	case faultMongoDown + "-long":
		err = in.mongoDown(ctx, &rec, in.cfg.LongMongoDown, true)
	case faultRedisRestart:
		err = in.redisCrash(ctx, &rec)
	case faultLatency:
		err = in.latency(ctx, &rec)
	}
	rec.Took = time.Since(t0)
	if err != nil {
		rec.Detail += " error: " + err.Error()
		slog.Warn("chaos: fault did not complete", "kind", kind, "err", err)
	}
	slog.Info("chaos: fault", "kind", rec.Kind, "node", rec.Node, "took", rec.Took.Round(time.Millisecond), "detail", rec.Detail)
	in.mu.Lock()
	in.records = append(in.records, rec)
	in.mu.Unlock()
}

func (in *injector) Records() []faultRecord {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]faultRecord(nil), in.records...)
}

func (in *injector) randomNode() *node { return in.c.nodes[in.rng.IntN(len(in.c.nodes))] }

// restart brings the node back, whatever the context (a node left dead
// would make the next faults meaningless).
func (in *injector) restart(n *node) error {
	return in.c.startNode(context.Background(), n)
}

func (in *injector) killNode(ctx context.Context, rec *faultRecord) error {
	n := in.randomNode()
	rec.Node = n.id
	n.proc.Kill()
	sleepCtx(ctx, 200*time.Millisecond+time.Duration(in.rng.Int64N(int64(1500*time.Millisecond))))
	return in.restart(n)
}

// termNode stops a node the way an orchestrator does: SIGTERM, which
// drains (stop accepting, finish appends, flush, release leases).
func (in *injector) termNode(ctx context.Context, rec *faultRecord) error {
	n := in.randomNode()
	rec.Node = n.id
	t0 := time.Now()
	n.proc.Stop(30 * time.Second)
	rec.Detail = fmt.Sprintf("exited %s after SIGTERM", time.Since(t0).Round(time.Millisecond))
	sleepCtx(ctx, 200*time.Millisecond+time.Duration(in.rng.Int64N(int64(time.Second))))
	return in.restart(n)
}

// waitWrite holds the MongoDB replies of every node and waits for one of
// them to send a write (an insert or an update). It returns that node with
// its replies still held and the others released; nil if no write came.
func (in *injector) waitWrite(ctx context.Context, within time.Duration) *node {
	for _, n := range in.c.nodes {
		n.mongo.Hold()
		select { // drop a stale signal
		case <-n.mongo.WriteSeen():
		default:
		}
	}
	var got *node
	deadline := time.Now().Add(within)
	for got == nil && time.Now().Before(deadline) && ctx.Err() == nil {
		for _, n := range in.c.nodes {
			select {
			case <-n.mongo.WriteSeen():
				got = n
			default:
			}
			if got != nil {
				break
			}
		}
		if got == nil {
			time.Sleep(5 * time.Millisecond)
		}
	}
	for _, n := range in.c.nodes {
		if n != got {
			n.mongo.Release()
		}
	}
	return got
}

// killFlusher kills a node whose write reached MongoDB but whose reply it
// has not read: the batch is stored (or its first part: inserts go before
// updates) and not acked in Redis.
func (in *injector) killFlusher(ctx context.Context, rec *faultRecord) error {
	n := in.waitWrite(ctx, 5*time.Second)
	if n == nil {
		rec.Detail = "no write within 5s; nothing killed"
		return nil
	}
	rec.Node = n.id
	time.Sleep(150 * time.Millisecond) // let MongoDB apply it
	n.proc.Kill()
	n.mongo.Release()
	rec.Detail = "killed after its write reached MongoDB, before the reply"
	sleepCtx(ctx, 200*time.Millisecond)
	return in.restart(n)
}

// pauseHolder stops a node in the middle of a batch (write sent, reply
// held) for longer than its lease, so another node takes the shard over
// and flushes the batch again; then it continues the node, which must not
// ack what it no longer owns.
func (in *injector) pauseHolder(ctx context.Context, rec *faultRecord) error {
	n := in.waitWrite(ctx, 5*time.Second)
	if n == nil {
		rec.Detail = "no write within 5s; nothing paused"
		return nil
	}
	rec.Node = n.id
	time.Sleep(50 * time.Millisecond)
	n.proc.Pause()
	n.mongo.Release() // the reply waits in the paused node's socket
	sleepCtx(ctx, in.cfg.LeaseTTL+time.Second+time.Duration(in.rng.Int64N(int64(time.Second))))
	n.proc.Resume()
	rec.Detail = "paused with a write in flight, past its lease"
	return nil
}

// mongoDown stops MongoDB (SIGKILL, or SIGTERM) for d. The long outage
// runs beside other faults, so it must not use in.rng.
func (in *injector) mongoDown(ctx context.Context, rec *faultRecord, d time.Duration, kill bool) error {
	if kill {
		in.c.mongo.Kill()
		rec.Detail = "SIGKILL"
	} else {
		in.c.mongo.Stop(10 * time.Second)
		rec.Detail = "SIGTERM"
	}
	in.sampler.resetPeak()
	sleepCtx(ctx, d)
	err := in.c.mongo.Start(context.Background())
	up := time.Now()
	in.outage.Store(false) // the faults that need MongoDB go on while the backlog is flushed
	peak := in.sampler.resetPeak()
	rec.Detail += fmt.Sprintf(" for %s; buffer peak %.0f", d.Round(100*time.Millisecond), peak)
	if err != nil || d < 30*time.Second {
		return err
	}
	// A long outage: wait until the backlog is flushed, and time it; with
	// clients still posting at the high-water mark it may not be before
	// the load ends (Recovery stays 0).
	out := outage{Down: d, Peak: peak}
	for time.Since(up) < 10*time.Minute && ctx.Err() == nil {
		if depth, ok := in.sampler.last(); ok && depth <= float64(in.cfg.BatchSize) {
			out.Recovery = time.Since(up)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	out.Waited = time.Since(up)
	rec.Detail += "; " + out.recovery()
	in.sampler.addOutage(out)
	return nil
}

func (in *injector) redisCrash(ctx context.Context, rec *faultRecord) error {
	in.c.redis.Kill()
	sleepCtx(ctx, 200*time.Millisecond+time.Duration(in.rng.Int64N(int64(time.Second))))
	t0 := time.Now()
	err := in.c.redis.Start(context.Background())
	rec.Detail = fmt.Sprintf("SIGKILL, AOF appendfsync %s, back in %s", in.cfg.AppendFsync, time.Since(t0).Round(time.Millisecond))
	return err
}

func (in *injector) latency(ctx context.Context, rec *faultRecord) error {
	n := in.randomNode()
	rec.Node = n.id
	p, what := n.redis, "redis"
	if in.rng.IntN(2) == 0 {
		p, what = n.mongo, "mongo"
	}
	d := time.Duration(20+in.rng.IntN(280)) * time.Millisecond
	p.SetDelay(d)
	sleepCtx(ctx, time.Second+time.Duration(in.rng.Int64N(int64(3*time.Second))))
	p.SetDelay(0)
	rec.Detail = fmt.Sprintf("%s +%s", what, d)
	return nil
}

// heal undoes whatever a fault cut short: every process running and
// continued, no delay, no hold.
func (in *injector) heal() error {
	if !in.c.redis.Running() {
		if err := in.c.redis.Start(context.Background()); err != nil {
			return err
		}
	}
	if !in.c.mongo.Running() {
		if err := in.c.mongo.Start(context.Background()); err != nil {
			return err
		}
	}
	for _, n := range in.c.nodes {
		n.redis.SetDelay(0)
		n.mongo.SetDelay(0)
		n.mongo.Release()
		n.proc.Resume()
		if !n.proc.Running() {
			if err := in.restart(n); err != nil {
				return err
			}
		}
	}
	return nil
}
