package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/commentd/commentd/internal/sioclient"
)

// Bounds of the hot scenario.
const (
	hotMaxReaders  = 60_000
	hotMaxDuration = 10 * time.Minute
	// hotPerWorkerMax: each process may hold 20,000 open files, and a
	// worker's readers are not its only descriptors.
	hotPerWorkerMax = 8000
	// hotReactWindow is how many of the newest comments reactions go to.
	hotReactWindow = 10
	// hotQuiet ends the wait for acks and deliveries after the last comment
	// when none came for this long (the grace bounds it too): at 10,000
	// readers a window of ~70 comments reached them seconds after the last.
	hotQuiet = 10 * time.Second
)

type hotConfig struct {
	Readers   int
	PerWorker int // readers per worker process, at most hotPerWorkerMax
	Sources   int
	Rate      int // comments per second, over all writers
	Writers   int
	ReactRate int // reactions per second on the newest comments
	Batch     bool
	Duration  time.Duration
	Grace     time.Duration
}

// hotScenario: a post gone viral. S readers of one post, spread over
// worker processes (the scenario re-executes itself as `hot-worker`, at
// most -per-worker readers each), W writers posting R comments per second
// (open loop; each comment carries its send time), and reactions on the
// newest comments. Readers join with {postId, batch: true} and count
// comment_added and comments_added alike, each comment once.
// Values: offeredDeliveriesPerSec (S×R), deliveriesPerSec, deliveries,
// expected, misses, missedReaders, disconnected, duplicates, published,
// unsent (still queued when the grace ran out), publishErrors (not sent,
// or answered with an error), confirmed, reactions, reactionsConfirmed,
// framesPerSec (frames holding comments), allFramesPerSec, commentsPerFrame, workers, loadgenCPUSec and
// loadgenCPUPercent (workers and this process, while publishing and
// draining). Latency: delivery (from when the comment was due), sendLag
// (from due to sent: a writer behind, such as Centrifugo's 64 publish
// calls at once all waiting for their broadcasts). Series: deliveries/s
// (readers in this process only).
//
// With -target centrifugo, readers subscribe to a Centrifugo channel and
// comments are published through its HTTP API, 64 requests at once (no
// reactions).
func hotScenario(fs *flag.FlagSet) func(context.Context, *env) (*Result, error) {
	var cfg hotConfig
	fs.IntVar(&cfg.Readers, "readers", 10000, "readers of the post (at most 60,000)")
	fs.IntVar(&cfg.PerWorker, "per-worker", 5000, "readers per load-generator process (at most 8,000)")
	fs.IntVar(&cfg.Sources, "sources", 4, "source addresses 127.0.0.1..N of each worker's readers")
	fs.IntVar(&cfg.Rate, "rate", 100, "comments per second, over all writers")
	fs.IntVar(&cfg.Writers, "writers", 10, "writer connections")
	fs.IntVar(&cfg.ReactRate, "react-rate", 100, "reactions per second on the newest comments (commentd only)")
	fs.BoolVar(&cfg.Batch, "batch", true, "readers join with {postId, batch: true} (comments_added)")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "how long to publish (at most 10m)")
	fs.DurationVar(&cfg.Grace, "grace", 30*time.Second, "how long to wait for deliveries after the last comment")
	return func(ctx context.Context, e *env) (*Result, error) {
		if cfg.Readers < 1 || cfg.Readers > hotMaxReaders || cfg.Rate < 1 || cfg.Writers < 1 || cfg.ReactRate < 0 ||
			cfg.Duration <= 0 || cfg.Duration > hotMaxDuration || cfg.PerWorker < 1 || cfg.PerWorker > hotPerWorkerMax ||
			cfg.Sources < 1 || cfg.Sources > 254 {
			return nil, errBounds("readers 1..60000, per-worker 1..8000, sources 1..254, rate and writers positive, duration at most 10m")
		}
		return hot(ctx, e, "hot", cfg, true)
	}
}

// hotWorker is one load-generator process of hot: it gets its readerSpec
// as JSON in args[0], connects and joins, writes {"ready":n} to stdout,
// reads {"expect":N,"graceMs":G} from stdin once the publishing is done,
// waits for the deliveries, and writes its readerTotals.
func hotWorker(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("hot-worker: want one JSON argument")
	}
	var spec readerSpec
	if err := json.Unmarshal([]byte(args[0]), &spec); err != nil {
		return fmt.Errorf("hot-worker: %w", err)
	}
	if err := loopbackOnly(spec.URL); err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	g, err := connectReaders(ctx, spec, nil)
	if err != nil {
		if g != nil {
			g.close()
		}
		return err
	}
	if err := enc.Encode(workerMsg{Ready: spec.Readers}); err != nil {
		g.close()
		return err
	}
	var m workerMsg
	if err := json.NewDecoder(stdin).Decode(&m); err != nil {
		g.close()
		return fmt.Errorf("hot-worker: stdin: %w", err)
	}
	g.wait(ctx, m.Expect, hotQuiet, time.Now().Add(time.Duration(m.GraceMs)*time.Millisecond))
	t := g.totals(m.Expect)
	return enc.Encode(workerMsg{Result: &t})
}

// workerMsg is one line between the scenario and a worker.
type workerMsg struct {
	Ready   int           `json:"ready,omitempty"`  // worker → scenario: readers joined
	Expect  int64         `json:"expect,omitempty"` // scenario → worker: comments each reader should have
	GraceMs int64         `json:"graceMs,omitempty"`
	Result  *readerTotals `json:"result,omitempty"`
}

// worker is a running hot-worker process.
type worker struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *json.Decoder
	cpu0  float64
	pid   int
	ready int
}

// startWorkers re-executes this binary as hot-worker processes, one per
// spec, and waits until each has joined its readers.
func startWorkers(ctx context.Context, specs []readerSpec) ([]*worker, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var ws []*worker
	for _, spec := range specs {
		arg, _ := json.Marshal(spec)
		cmd := exec.CommandContext(ctx, self, "hot-worker", string(arg))
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			return ws, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return ws, err
		}
		if err := cmd.Start(); err != nil {
			return ws, fmt.Errorf("hot-worker: %w", err)
		}
		ws = append(ws, &worker{cmd: cmd, in: in, out: json.NewDecoder(bufio.NewReader(out)), pid: cmd.Process.Pid})
	}
	for i, w := range ws {
		var m workerMsg
		if err := w.out.Decode(&m); err != nil || m.Ready == 0 {
			return ws, fmt.Errorf("hot-worker %d did not get ready: %v", i, err)
		}
		w.ready = m.Ready
	}
	return ws, nil
}

// stopWorkers kills what is left of the workers and reaps them.
func stopWorkers(ws []*worker) {
	for _, w := range ws {
		w.in.Close()
		w.cmd.Process.Kill()
		w.cmd.Wait()
	}
}

// splitReaders spreads n readers over groups of at most per.
func splitReaders(base readerSpec, n, per int) []readerSpec {
	k := (n + per - 1) / per
	var out []readerSpec
	first := 0
	for i := range k {
		s := base
		s.Readers = n / k
		if i < n%k {
			s.Readers++
		}
		s.First = first
		first += s.Readers
		out = append(out, s)
	}
	return out
}

// hotPublisher posts the bench's comments (and reactions) to the target.
type hotPublisher interface {
	// publish sends comment seq, due at the time its content carries.
	publish(ctx context.Context, writer int, seq int64, due time.Time) error
	// react sends one reaction; false if there is nothing to react to yet.
	react(writer int, n int64) bool
	// counts returns the comments and reactions the target confirmed.
	counts() (comments, reactions int64)
	// refused returns the comments sent that the target answered with an
	// error (publish returned before the answer).
	refused() int64
	close()
}

// timedContent is comment seq's content: "fo <seq> <due unix nanos>".
// Latency counts from when the comment was due, not from when a writer got
// to send it: a writer that falls behind (Centrifugo's publish call waits
// for the broadcast) must not hide the wait (coordinated omission).
func timedContent(seq int64, due time.Time) string {
	return fmt.Sprintf("fo %d %d", seq, due.UnixNano())
}

// commentdWriters are W Socket.IO connections that post new_comment (ack
// id seq+1) and react (ack ids from reactAckBase).
type commentdWriters struct {
	post      string
	conns     []*sioclient.Conn
	confirmed atomic.Int64
	reacted   atomic.Int64
	failed    atomic.Int64 // comments acked with an error
	mu        sync.Mutex
	newest    []string // ids of the newest confirmed comments, at most hotReactWindow
	wg        sync.WaitGroup
}

const reactAckBase = 1 << 40

func dialCommentdWriters(ctx context.Context, base, post string, n int) (*commentdWriters, error) {
	w := &commentdWriters{post: post}
	conns, err := dialMany(ctx, newDialer(base), n, sourceAddrs(1), func(_ int, c *sioclient.Conn) error {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			c.ReadLoop(w.onAck)
		}()
		return nil
	}, nil)
	w.conns = conns
	if err != nil {
		w.close()
		return nil, fmt.Errorf("writers: %w", err)
	}
	return w, nil
}

func (w *commentdWriters) onAck(data []byte) {
	id, payload, ok := decodeAck(data)
	if !ok {
		return
	}
	if !ackOK(payload) {
		if id < reactAckBase {
			w.failed.Add(1)
		}
		return
	}
	if id >= reactAckBase {
		w.reacted.Add(1)
		return
	}
	w.confirmed.Add(1)
	if cid, _, ok := decodeAckedComment(payload); ok {
		w.mu.Lock()
		w.newest = append(w.newest, cid)
		if len(w.newest) > hotReactWindow {
			w.newest = w.newest[len(w.newest)-hotReactWindow:]
		}
		w.mu.Unlock()
	}
}

func (w *commentdWriters) publish(_ context.Context, i int, seq int64, due time.Time) error {
	body, _ := json.Marshal(map[string]string{"postId": w.post, "userId": fmt.Sprintf("writer-%d", i), "content": timedContent(seq, due)})
	return w.conns[i%len(w.conns)].Emit(seq+1, "new_comment", body)
}

func (w *commentdWriters) react(i int, n int64) bool {
	w.mu.Lock()
	if len(w.newest) == 0 {
		w.mu.Unlock()
		return false
	}
	cid := w.newest[int(n)%len(w.newest)]
	w.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"postId": w.post, "commentId": cid, "reaction": "👍", "on": true,
		"userId": fmt.Sprintf("reader-%d", n)})
	return w.conns[i%len(w.conns)].Emit(reactAckBase+n, "react", body) == nil
}

func (w *commentdWriters) counts() (int64, int64) { return w.confirmed.Load(), w.reacted.Load() }
func (w *commentdWriters) refused() int64         { return w.failed.Load() }

func (w *commentdWriters) close() {
	for _, c := range w.conns {
		c.Close()
	}
	w.wg.Wait()
}

// centrifugoWriters publish through Centrifugo's HTTP API, up to
// centrifugoInflight requests at once: a publish call returns when the
// server has queued the publication to every subscriber, so one call at a
// time per writer would measure the driver's round trips, not Centrifugo's
// fan-out (commentd's writers do not wait for their acks either).
type centrifugoWriters struct {
	pub       *centrifugoPublisher
	channel   string
	inflight  chan struct{}
	wg        sync.WaitGroup
	confirmed atomic.Int64
	failed    atomic.Int64
}

// centrifugoInflight bounds the driver's concurrent publish requests.
const centrifugoInflight = 64

func newCentrifugoWriters(t centrifugoTarget, channel string) *centrifugoWriters {
	return &centrifugoWriters{pub: newCentrifugoPublisher(t, centrifugoInflight), channel: channel,
		inflight: make(chan struct{}, centrifugoInflight)}
}

// publish waits for a free request slot only; the request runs on.
func (w *centrifugoWriters) publish(ctx context.Context, _ int, seq int64, due time.Time) error {
	data, _ := json.Marshal(map[string]string{"content": timedContent(seq, due)})
	select {
	case w.inflight <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	w.wg.Add(1)
	go func() {
		defer func() { <-w.inflight; w.wg.Done() }()
		if err := w.pub.publish(ctx, w.channel, data); err != nil {
			w.failed.Add(1)
			return
		}
		w.confirmed.Add(1)
	}()
	return nil
}

func (w *centrifugoWriters) react(int, int64) bool  { return false }
func (w *centrifugoWriters) counts() (int64, int64) { return w.confirmed.Load(), 0 }
func (w *centrifugoWriters) refused() int64         { return w.failed.Load() }
func (w *centrifugoWriters) close()                 { w.wg.Wait() }

// hot runs the scenario, with its readers in worker processes when procs
// is true, else in this process; fanout runs it too (one writer, no
// reactions, readers here).
func hot(ctx context.Context, e *env, name string, cfg hotConfig, procs bool) (*Result, error) {
	target := e.targetName()
	res := newResult(name, e.label, map[string]any{"readers": cfg.Readers, "rate": cfg.Rate, "writers": cfg.Writers,
		"reactRate": cfg.ReactRate, "batch": cfg.Batch, "duration": cfg.Duration.String(), "target": target})
	post := fmt.Sprintf("hot-%d", time.Now().UnixNano())
	base := readerSpec{Target: target, URL: e.url, Post: post, Sources: cfg.Sources, Batch: cfg.Batch}
	if target == targetCentrifugo {
		base.URL = e.centrifugo.ws
	}

	// Readers: in worker processes, or here.
	var workers []*worker
	var local *readerGroup
	if procs {
		var err error
		workers, err = startWorkers(ctx, splitReaders(base, cfg.Readers, cfg.PerWorker))
		defer stopWorkers(workers)
		if err != nil {
			return nil, err
		}
	} else {
		spec := base
		spec.Readers = cfg.Readers
		var err error
		local, err = connectReaders(ctx, spec, nil)
		if local != nil {
			defer local.close()
		}
		if err != nil {
			return nil, err
		}
	}

	var pub hotPublisher
	if target == targetCentrifugo {
		pub = newCentrifugoWriters(e.centrifugo, post)
	} else {
		w, err := dialCommentdWriters(ctx, e.url, post, cfg.Writers)
		if err != nil {
			return nil, err
		}
		pub = w
	}
	defer pub.close()

	for _, w := range workers {
		w.cpu0, _ = procCPU(w.pid)
	}
	self0, _ := procCPU(os.Getpid())
	var delivered func() int64
	if local != nil {
		delivered = local.deliveries.Load
	}
	var rDel rate
	rec := startRecorder(time.Second, func(t float64) map[string]float64 {
		if delivered == nil {
			return map[string]float64{}
		}
		return map[string]float64{"deliveriesPerSec": rDel.next(float64(delivered()), t)}
	})

	start := time.Now()
	lag := newLatency()
	wc := runWriters(ctx, pub, cfg, e.quiet, name, lag)
	published := wc.published
	confirmed, reacted := pub.counts()
	// Acks still due (an overloaded server confirms late): until all came,
	// none came for hotQuiet, or the grace ran out.
	last, lastChange := confirmed, time.Now()
	for end := time.Now().Add(cfg.Grace); confirmed < published && time.Now().Before(end) && time.Since(lastChange) < hotQuiet; {
		time.Sleep(20 * time.Millisecond)
		if confirmed, reacted = pub.counts(); confirmed != last {
			last, lastChange = confirmed, time.Now()
		}
	}

	var tot readerTotals
	graceEnd := time.Now().Add(cfg.Grace)
	if local != nil {
		local.wait(ctx, confirmed, hotQuiet, graceEnd)
		tot = local.totals(confirmed)
	} else {
		for _, w := range workers {
			if err := json.NewEncoder(w.in).Encode(workerMsg{Expect: confirmed, GraceMs: cfg.Grace.Milliseconds()}); err != nil {
				return nil, fmt.Errorf("hot-worker: %w", err)
			}
		}
		for i, w := range workers {
			var m workerMsg
			if err := w.out.Decode(&m); err != nil || m.Result == nil {
				return nil, fmt.Errorf("hot-worker %d: no result: %v", i, err)
			}
			// Read before the worker is reaped: its CPU while publishing and draining.
			if cpu, err := procCPU(w.pid); err == nil {
				m.Result.CPUSec = cpu - w.cpu0
			}
			tot.merge(*m.Result)
		}
	}
	self1, _ := procCPU(os.Getpid())
	res.Series = rec.end()

	span := time.Duration(tot.LastNanos - start.UnixNano())
	if tot.Deliveries == 0 || span <= 0 {
		span = time.Since(start)
	}
	expected := int64(cfg.Readers) * confirmed
	v := res.Values
	res.Elapsed = span.Seconds()
	v["readers"] = float64(cfg.Readers)
	v["workers"] = float64(len(workers))
	v["published"] = float64(published)
	v["publishErrors"] = float64(wc.failed + pub.refused())
	v["unsent"] = float64(wc.unsent)
	v["confirmed"] = float64(confirmed)
	v["reactions"] = float64(wc.reactions)
	v["reactionsConfirmed"] = float64(reacted)
	v["offeredDeliveriesPerSec"] = float64(cfg.Readers) * float64(wc.published+wc.unsent) / cfg.Duration.Seconds()
	v["deliveries"] = float64(tot.Deliveries)
	v["deliveriesPerSec"] = float64(tot.Deliveries) / span.Seconds()
	v["expected"] = float64(expected)
	v["misses"] = float64(tot.Missed)
	v["missedReaders"] = float64(tot.MissedReaders)
	v["disconnected"] = float64(tot.Disconnected)
	v["duplicates"] = float64(tot.Duplicates)
	v["framesPerSec"] = float64(tot.CommentFrames) / span.Seconds()
	v["allFramesPerSec"] = float64(tot.Frames) / span.Seconds()
	if tot.CommentFrames > 0 {
		v["commentsPerFrame"] = float64(tot.Deliveries+tot.Duplicates) / float64(tot.CommentFrames)
	}
	loadgen := tot.CPUSec + self1 - self0
	v["loadgenCPUSec"] = loadgen
	v["loadgenCPUPercent"] = 100 * loadgen / time.Since(start).Seconds()
	if tot.Latency != nil {
		res.Latency["delivery"] = percentiles(hdrhistogram.Import(tot.Latency))
	}
	res.Latency["sendLag"] = percentiles(lag)
	return res, nil
}

// runWriters publishes cfg.Rate comments a second for cfg.Duration (open
// loop: each writer has a queue, and a slow send delays only its own), and
// cfg.ReactRate reactions a second. It records into lag how long after
// its due time each comment was sent.
func runWriters(ctx context.Context, pub hotPublisher, cfg hotConfig, quiet bool, name string, lag *hdrhistogram.Histogram) writerCounts {
	var sent, failed, unsent, reacts atomic.Int64
	var lagMu sync.Mutex
	// A writer that is behind (Centrifugo's publish calls wait for their
	// broadcasts) drains its queue for the grace at most, so that the run
	// stays bounded.
	drainEnd := time.Now().Add(cfg.Duration + cfg.Grace)
	type job struct {
		seq int64
		due time.Time
	}
	queues := make([]chan job, cfg.Writers)
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan job, 1024)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queues[i] {
				if time.Now().After(drainEnd) {
					unsent.Add(1)
					continue
				}
				lagMu.Lock()
				recordSince(lag, time.Now(), j.due)
				lagMu.Unlock()
				if err := pub.publish(ctx, i, j.seq, j.due); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	var bar *progress
	if !quiet {
		bar = startProgress(name, cfg.Duration, func() string {
			c, r := pub.counts()
			return fmt.Sprintf("published %d confirmed %d reactions %d", sent.Load(), c, r)
		})
	}
	stopReacts := make(chan struct{})
	var rwg sync.WaitGroup
	if cfg.ReactRate > 0 {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			interval := time.Second / time.Duration(cfg.ReactRate)
			var n int64
			for due := time.Now(); ; due = due.Add(interval) {
				select {
				case <-stopReacts:
					return
				case <-time.After(time.Until(due)):
				}
				if pub.react(int(n), n) {
					n++
					reacts.Store(n)
				}
			}
		}()
	}
	interval := time.Second / time.Duration(cfg.Rate)
	start := time.Now()
	var seq int64
	for due := start; due.Before(start.Add(cfg.Duration)) && ctx.Err() == nil; due = due.Add(interval) {
		time.Sleep(time.Until(due))
		select {
		case queues[seq%int64(len(queues))] <- job{seq, due}:
			sent.Add(1)
		default:
			failed.Add(1) // the writer is 1,024 comments behind
		}
		seq++
	}
	close(stopReacts)
	rwg.Wait()
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	if bar != nil {
		bar.end()
	}
	return writerCounts{published: sent.Load() - unsent.Load(), reactions: reacts.Load(), failed: failed.Load(), unsent: unsent.Load()}
}

// writerCounts is what runWriters sent.
type writerCounts struct {
	published int64 // comments sent
	reactions int64
	failed    int64 // comments whose send failed, or that found their writer's queue full
	unsent    int64 // comments still queued when the grace after the duration ran out
}

// targetName is the system the scenario measures.
func (e *env) targetName() string {
	if e.target == "" {
		return targetCommentd
	}
	return strings.ToLower(e.target)
}
