package main

import (
	"bufio"
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
	UpdateCommands int64          `json:"updateCommands"`
	FencedAcks     int            `json:"fencedAcks"`  // a flusher told its lease was gone
	RetryCodes     map[string]int `json:"retryCodes"`  // answers to new comments the clients retried after
	ChangeCodes    map[string]int `json:"changeCodes"` // answers to change attempts: ok, a code, or timeout
	ReadBack       []readback     `json:"readBack"`
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
	start := time.Now()
	obs, pl := newObserved(), &pool{}
	clients := make([]*client, cfg.Clients+cfg.Moderators)
	for i := range clients {
		if i >= cfg.Clients {
			clients[i] = newModerator(i, urls, posts, cfg, pl, obs, start)
			continue
		}
		mine := append([]string(nil), posts...)
		rng.Shuffle(len(mine), func(a, b int) { mine[a], mine[b] = mine[b], mine[a] })
		clients[i] = newClient(i, urls, mine[:min(len(mine), 3)], cfg, pl, obs, start)
	}

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
	rb, err := readBack(ctx, c.nodes[0].url, posts, cfg.AdminToken, cfg.ReadBack)
	if err != nil {
		return rep, err
	}
	rep.ReadBack = rb
	for _, n := range c.nodes {
		n.proc.Stop(15 * time.Second)
		rep.InsertCommands += n.mongo.Inserts()
		rep.UpdateCommands += n.mongo.Updates()
	}

	rep.FencedAcks = countLines(cfg.Dir, "commentd-*.log", `msg="flusher: lease lost"`)
	docs, reactors, err := readStored(ctx, "mongodb://"+c.mongo.Addr)
	if err != nil {
		return rep, err
	}
	h := history{told: obs, after: rb, reactors: reactors}
	rep.RetryCodes, rep.ChangeCodes = map[string]int{}, map[string]int{}
	for _, cl := range clients {
		for code, n := range cl.retryCodes {
			rep.RetryCodes[code] += n
		}
		for code, n := range cl.changeCodes {
			rep.ChangeCodes[code] += n
		}
		h.ops = append(h.ops, cl.ops...)
		h.changes = append(h.changes, cl.changes...)
		h.clients = append(h.clients, clientLog{id: cl.id, user: cl.user, mod: cl.mod, events: cl.events, persisted: cl.persisted, badJoins: cl.badJoins})
		rep.Reconnects += cl.reconnects - 1
	}
	rep.Verdict = check(h, docs)
	if cfg.EventsFile != "" {
		if err := writeEvents(cfg.EventsFile, h); err != nil {
			return rep, err
		}
	}
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

// readStored reads every comment MongoDB holds, and who gave which
// reaction: comment id → reaction → users.
func readStored(ctx context.Context, uri string) ([]stored, map[string]map[string][]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		return nil, nil, err
	}
	defer client.Disconnect(context.Background())
	db := client.Database("commentd")
	cur, err := db.Collection("comments").Find(ctx, bson.D{})
	if err != nil {
		return nil, nil, fmt.Errorf("read MongoDB: %w", err)
	}
	var docs []stored
	if err := cur.All(ctx, &docs); err != nil {
		return nil, nil, fmt.Errorf("read MongoDB: %w", err)
	}
	cur, err = db.Collection("comments_reactions").Find(ctx, bson.D{})
	if err != nil {
		return nil, nil, fmt.Errorf("read MongoDB reactions: %w", err)
	}
	var rs []struct {
		CommentID string `bson:"commentId"`
		UserID    string `bson:"userId"`
		Reaction  string `bson:"reaction"`
	}
	if err := cur.All(ctx, &rs); err != nil {
		return nil, nil, fmt.Errorf("read MongoDB reactions: %w", err)
	}
	reactors := map[string]map[string][]string{}
	for _, r := range rs {
		if reactors[r.CommentID] == nil {
			reactors[r.CommentID] = map[string][]string{}
		}
		reactors[r.CommentID][r.Reaction] = append(reactors[r.CommentID][r.Reaction], r.UserID)
	}
	return docs, reactors, nil
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
		fmt.Fprintf(w, "MongoDB down %s: buffer peak %.0f, %s\n", o.Down.Round(time.Second), o.Peak, o.recovery())
	}
	per1000 := 0.0
	if writes := r.Verdict.Confirmed + r.Verdict.ChangesApplied; writes > 0 {
		per1000 = float64(r.InsertCommands+r.UpdateCommands) * 1000 / float64(writes)
	}
	fmt.Fprintf(w, "answers retried: BUSY %d, UNAVAILABLE %d, INTERNAL %d\n",
		r.RetryCodes["BUSY"], r.RetryCodes["UNAVAILABLE"], r.RetryCodes["INTERNAL"])
	fmt.Fprintf(w, "flushers fenced (lease lost on claim/ack): %d\n", r.FencedAcks)
	fmt.Fprintf(w, "buffer peak %.0f; MongoDB insert commands %d, update commands %d (%.1f per 1000 confirmed creates and changes)\n",
		r.BufferPeak, r.InsertCommands, r.UpdateCommands, per1000)
	codes := make([]string, 0, len(r.ChangeCodes))
	for k := range r.ChangeCodes {
		codes = append(codes, k)
	}
	sort.Strings(codes)
	fmt.Fprint(w, "answers to changes:")
	for _, k := range codes {
		fmt.Fprintf(w, " %s %d", k, r.ChangeCodes[k])
	}
	fmt.Fprintln(w)
	complete, pages := 0, 0
	for _, rb := range r.ReadBack {
		pages += rb.Pages
		if rb.Complete {
			complete++
		}
	}
	fmt.Fprintf(w, "read back: %d of %d post reads complete (%d history pages)\n", complete, len(r.ReadBack), pages)
	fmt.Fprint(w, r.Verdict.String())
	if r.Verdict.OK() {
		fmt.Fprintln(w, "OK: lost 0, duplicated 0, unexpected 0, wrong final states 0, resurrected 0, phantoms 0, order violations 0")
	} else {
		fmt.Fprintln(w, "FAILED")
	}
}

// writeEvents writes every room event of h, a line each: client, post,
// ms since the start, connection, event, comment id, version.
func writeEvents(path string, h history) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, c := range h.clients {
		posts := make([]string, 0, len(c.events))
		for p := range c.events {
			posts = append(posts, p)
		}
		sort.Strings(posts)
		for _, p := range posts {
			for _, e := range c.events[p] {
				fmt.Fprintf(w, "c%d %s %d conn%d %s %s v%d\n", c.id, p, e.at, e.conn, kindName(e.kind), h.told.comments[e.c].id, e.v)
			}
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
