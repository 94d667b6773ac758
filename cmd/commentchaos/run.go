package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Report is the outcome of a run.
type Report struct {
	Config         Config         `json:"config"`
	Verdict        Verdict        `json:"verdict"`
	Faults         []faultRecord  `json:"faults"`
	FaultCounts    map[string]int `json:"faultCounts"`
	Outages        []outage       `json:"mongoOutages"`
	BufferPeak     float64        `json:"bufferPeak"`
	Load           time.Duration  `json:"loadNs"`
	Drain          time.Duration  `json:"drainNs"` // after the load, until the buffer was empty
	ConfirmedPerS  float64        `json:"confirmedPerSec"`
	Reconnects     int            `json:"reconnects"`
	InsertCommands int64          `json:"insertCommands"`
	FencedAcks     int            `json:"fencedAcks"` // a flusher told its lease was gone
	RetryCodes     map[string]int `json:"retryCodes"` // answers the clients retried after`
	Depth          []sample       `json:"bufferDepth"`
}

// run starts the cluster, loads it under faults, heals it, waits for the
// buffer to drain, and checks what MongoDB holds against the history.
func run(ctx context.Context, cfg Config) (rep Report, err error) {
	rep.Config = cfg
	c, err := startCluster(ctx, cfg)
	if err != nil {
		return rep, err
	}
	defer c.Close()
	slog.Info("chaos: cluster up", "nodes", cfg.Nodes, "dir", cfg.Dir, "seed", cfg.Seed)

	rng := rand.New(rand.NewPCG(cfg.Seed, 1))
	urls := func() []string {
		var out []string
		for _, n := range c.nodes {
			out = append(out, n.url)
		}
		return out
	}
	posts := make([]string, cfg.Posts)
	for i := range posts {
		posts[i] = fmt.Sprintf("chaos-%d", i)
	}
	clients := make([]*client, cfg.Clients)
	for i := range clients {
		mine := append([]string(nil), posts...)
		rng.Shuffle(len(mine), func(a, b int) { mine[a], mine[b] = mine[b], mine[a] })
		clients[i] = newClient(i, urls, mine[:min(len(mine), 3)], cfg.Think, cfg.AckTimeout, cfg.Seed)
	}

	start := time.Now()
	samplerCtx, stopSampler := context.WithCancel(ctx)
	defer stopSampler()
	smp := &sampler{c: c, start: start}
	go smp.run(samplerCtx, 250*time.Millisecond)

	send, stopSend := context.WithTimeout(ctx, cfg.Duration)
	defer stopSend()
	grace, stopGrace := context.WithTimeout(ctx, cfg.Duration+2*time.Minute)
	defer stopGrace()
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl.run(send, grace)
		}()
	}
	in := &injector{c: c, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 2)), start: start, sampler: smp}
	injected := make(chan struct{})
	go func() {
		defer close(injected)
		if len(cfg.Faults) > 0 || cfg.LongMongoDown > 0 {
			in.run(send)
		}
	}()
	<-send.Done()
	<-injected
	rep.Load = time.Since(start)
	if err := in.heal(); err != nil {
		return rep, fmt.Errorf("heal: %w", err)
	}
	slog.Info("chaos: load over, faults healed; finishing the comments in hand")
	wg.Wait()
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}

	// Wait for the buffer to empty: two readings of 0 in a row.
	drainStart := time.Now()
	zeros := 0
	for zeros < 2 {
		if time.Since(drainStart) > 10*time.Minute {
			return rep, fmt.Errorf("buffer not empty 10 min after the load")
		}
		if d, err := c.depth(ctx); err == nil && d == 0 {
			zeros++
		} else {
			zeros = 0
		}
		time.Sleep(250 * time.Millisecond)
	}
	rep.Drain = time.Since(drainStart)
	time.Sleep(time.Second) // the last comment_persisted events
	for _, cl := range clients {
		cl.closeConn()
	}
	stopSampler()
	for _, n := range c.nodes {
		n.proc.Stop(15 * time.Second)
		rep.InsertCommands += n.mongo.Inserts()
	}

	rep.FencedAcks = countLines(cfg.Dir, "commentd-*.log", `msg="flusher: lease lost"`)
	docs, err := readStored(ctx, "mongodb://"+c.mongo.Addr)
	if err != nil {
		return rep, err
	}
	h := history{}
	rep.RetryCodes = map[string]int{}
	for _, cl := range clients {
		for code, n := range cl.retryCodes {
			rep.RetryCodes[code] += n
		}
		h.ops = append(h.ops, cl.ops...)
		h.added = append(h.added, cl.added)
		h.persisted = append(h.persisted, cl.persisted)
		rep.Reconnects += cl.reconnects - 1
	}
	rep.Verdict = check(h, docs)
	rep.ConfirmedPerS = float64(rep.Verdict.Confirmed) / rep.Load.Seconds()
	rep.Faults = in.Records()
	rep.FaultCounts = map[string]int{}
	for _, f := range rep.Faults {
		rep.FaultCounts[f.Kind]++
	}
	rep.Depth, rep.Outages, rep.BufferPeak = smp.snapshot()
	return rep, nil
}

// countLines counts the lines holding s in the files matching pattern.
func countLines(dir, pattern, s string) int {
	files, _ := filepath.Glob(filepath.Join(dir, pattern))
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil {
			n += strings.Count(string(b), s)
		}
	}
	return n
}

// readStored reads every comment MongoDB holds.
func readStored(ctx context.Context, uri string) ([]stored, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		return nil, err
	}
	defer client.Disconnect(context.Background())
	cur, err := client.Database("commentd").Collection("comments").Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("read MongoDB: %w", err)
	}
	var docs []stored
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read MongoDB: %w", err)
	}
	return docs, nil
}

func (r Report) print(w io.Writer) {
	fmt.Fprintf(w, "chaos: %d nodes, %d clients, %d posts, AOF appendfsync %s, seed %d\n",
		r.Config.Nodes, r.Config.Clients, r.Config.Posts, r.Config.AppendFsync, r.Config.Seed)
	fmt.Fprintf(w, "load %s (%.0f confirmed/s), drained %s after, %d reconnects\n",
		r.Load.Round(time.Second), r.ConfirmedPerS, r.Drain.Round(100*time.Millisecond), r.Reconnects)
	kinds := make([]string, 0, len(r.FaultCounts))
	for k := range r.FaultCounts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "faults %d:", len(r.Faults))
	for _, k := range kinds {
		fmt.Fprintf(w, " %s %d", k, r.FaultCounts[k])
	}
	fmt.Fprintln(w)
	for _, o := range r.Outages {
		fmt.Fprintf(w, "MongoDB down %s: buffer peak %.0f, backlog flushed %s after restart\n",
			o.Down.Round(time.Second), o.Peak, o.Recovery.Round(100*time.Millisecond))
	}
	per1000 := 0.0
	if r.Verdict.Stored > 0 {
		per1000 = float64(r.InsertCommands) * 1000 / float64(r.Verdict.Stored)
	}
	fmt.Fprintf(w, "answers retried: BUSY %d, UNAVAILABLE %d, INTERNAL %d\n",
		r.RetryCodes["BUSY"], r.RetryCodes["UNAVAILABLE"], r.RetryCodes["INTERNAL"])
	fmt.Fprintf(w, "flushers fenced (lease lost on claim/ack): %d\n", r.FencedAcks)
	fmt.Fprintf(w, "buffer peak %.0f; MongoDB insert commands %d (%.1f per 1000 stored)\n", r.BufferPeak, r.InsertCommands, per1000)
	fmt.Fprint(w, r.Verdict.String())
	if r.Verdict.OK() {
		fmt.Fprintln(w, "OK: lost 0, duplicated 0, unexpected 0, phantoms 0, order violations 0")
	} else {
		fmt.Fprintln(w, "FAILED")
	}
}
