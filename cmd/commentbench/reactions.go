package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"sync/atomic"
	"time"

	"github.com/commentd/commentd/internal/sioclient"
)

type reactionsConfig struct {
	Clients  int
	Users    int
	Window   int
	Readers  int
	Kinds    int
	Off      float64
	Duration time.Duration
	Max      int
	Settle   time.Duration
	Seed     uint64
}

func (c reactionsConfig) params() map[string]any {
	return map[string]any{"clients": c.Clients, "users": c.Users, "window": c.Window, "readers": c.Readers,
		"kinds": c.Kinds, "off": c.Off, "duration": c.Duration.String(), "max": c.Max, "settle": c.Settle.String(), "seed": c.Seed}
}

// reactionsScenario: one hot comment, many users reacting to it. One
// connection posts the comment and the buffer is let empty; R readers
// join its post. Then C connections, each keeping W reacts outstanding
// (closed loop), react for U users spread over them: a reaction the user
// does not have yet, of -kinds of the default reactions (the first the
// most used), or, a share -off of the reacts, taking back one a user gave.
// Every react changes the count. Afterwards the comment's counts (asked
// with a react that changes nothing) and each reader's last
// comment_reactions must equal the reactions the users hold; it then waits
// up to -settle for the buffer to empty, so that the MongoDB commands
// counted are all the load's writes.
//
// Values: reactions (acked reacts, given and taken back), reacts,
// unreacts, failed ("failed CODE" by error code), reactionsPerSec; held
// (reactions on at the end), finalMismatch (|comment's counts − held|
// summed over reactions), readersStale (readers whose last
// comment_reactions is not the final counts); pushes
// (comment_reactions received by the readers during the load),
// pushesPerReaderSec, pushMaxPerSec (the most one reader received in
// one second; commentd coalesces them to reactions.push_rate per comment
// per second, 4 by default) and pushMinGapMs (the shortest time between
// two that one reader received: commentd sends them 1/push_rate apart, so
// a shorter gap is the jitter of delivery, which can put 5 in a second); drainSec, notDrained, batches, batchMean,
// flushErrors as in changes. With -mongo: mongoReads, insertCommands,
// updateCommands, deleteCommands, writeCommands, writesPer1000Reactions;
// computedWrites and computedPer1000Reactions for real MongoDB (see
// computeRealMongo). Latency: react (ack, from the send). Series:
// reactionsPerSec, pushesPerSec (per reader), depth.
func reactionsScenario(fs *flag.FlagSet) func(context.Context, *env) (*Result, error) {
	var cfg reactionsConfig
	fs.IntVar(&cfg.Clients, "clients", 32, "connections sending reacts")
	fs.IntVar(&cfg.Users, "users", 20_000, "distinct users, spread over the connections")
	fs.IntVar(&cfg.Window, "window", 4, "reacts each connection keeps outstanding")
	fs.IntVar(&cfg.Readers, "readers", 10, "readers in the post's room, counting comment_reactions")
	fs.IntVar(&cfg.Kinds, "kinds", 3, "how many of the default reactions users give (1-5)")
	fs.Float64Var(&cfg.Off, "off", 0.2, "share of reacts that take a reaction back (0-0.9)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to react (at most 1h)")
	fs.IntVar(&cfg.Max, "max", 200_000, "stop after this many reacts")
	fs.DurationVar(&cfg.Settle, "settle", 5*time.Minute, "how long to wait for the buffer to empty, before and after")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the users' choices")
	return func(ctx context.Context, e *env) (*Result, error) {
		if cfg.Clients < 1 || cfg.Clients > 10_000 || cfg.Window < 1 || cfg.Window > 1000 || cfg.Readers < 0 || cfg.Readers > 10_000 ||
			cfg.Users < cfg.Clients || cfg.Users > 10_000_000 || cfg.Max < 1 {
			return nil, errBounds("clients within 1-10,000, window 1-1,000, readers 0-10,000, users from clients to 10,000,000, max positive")
		}
		if cfg.Kinds < 1 || cfg.Kinds > len(defaultReactions) || cfg.Off < 0 || cfg.Off > 0.9 ||
			cfg.Duration <= 0 || cfg.Duration > time.Hour || cfg.Settle < 0 || cfg.Settle > time.Hour {
			return nil, errBounds("kinds within 1-5, off within 0-0.9, duration within 0-1h, settle within 0-1h")
		}
		return reactions(ctx, e, cfg)
	}
}

func reactions(ctx context.Context, e *env, cfg reactionsConfig) (*Result, error) {
	res := newResult("reactions", e.label, cfg.params())
	if _, err := scrape(ctx, e.url); err != nil {
		return nil, err
	}
	d := newDialer(e.url)
	nonce := time.Now().UnixNano() // a run's post and users are its own
	post := fmt.Sprintf("reactions-%d", nonce)
	author, err := dialCaller(ctx, d)
	if err != nil {
		return nil, err
	}
	defer author.close()
	body, _ := json.Marshal(map[string]string{"postId": post, "userId": "reactions-author", "content": benchContent})
	ack, err := author.call(ctx, "new_comment", body)
	if err != nil {
		return nil, fmt.Errorf("hot comment: %w", err)
	}
	commentID, _, ok := decodeAckedComment(ack)
	if !ok || !ackOK(ack) {
		return nil, fmt.Errorf("hot comment: refused: %s", ack)
	}
	// The comment is stored before the load, so its insert is not counted.
	sctx, cancel := context.WithTimeout(ctx, cfg.Settle)
	_, err = waitDepth(sctx, e.url, 0, 100*time.Millisecond)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("the buffer did not empty within %s: %w", cfg.Settle, err)
	}

	seconds := int(cfg.Duration/time.Second) + 2
	readers, err := dialPushReaders(ctx, d, cfg.Readers, post, seconds)
	if err != nil {
		return nil, err
	}
	defer closePushReaders(readers)
	users := make([]string, cfg.Users)
	for i := range users {
		users[i] = fmt.Sprintf("rx%d-%d", nonce, i)
	}
	// Dialing reactors (they do not join) costs MongoDB nothing.
	m0, before, err := e.counters(ctx)
	if err != nil {
		return nil, err
	}
	rs, err := dialReactors(ctx, d, cfg.Clients, post, commentID, users, defaultReactions[:cfg.Kinds], cfg.Window, cfg.Off, cfg.Seed)
	if err != nil {
		return nil, err
	}

	var rReact, rPush rate
	var loading atomic.Bool
	loading.Store(true)
	pushes := func() int64 {
		var n int64
		for _, pr := range readers {
			n += pr.pushes.Load()
		}
		return n
	}
	perReader := float64(max(len(readers), 1))
	rec := startRecorder(time.Second, func(t float64) map[string]float64 {
		v := map[string]float64{}
		if loading.Load() {
			r, u, _ := reactorTotals(rs)
			v["reactionsPerSec"] = rReact.next(float64(r+u), t)
			v["pushesPerSec"] = rPush.next(float64(pushes()), t) / perReader
		}
		if m, err := scrape(ctx, e.url); err == nil {
			v["depth"] = m[mDepth]
		}
		return v
	})
	start := time.Now()
	for _, pr := range readers {
		pr.begin(start)
	}
	elapsed := windowLoop(ctx, e, "reactions", rs, cfg.Duration, cfg.Max, func() string {
		r, u, f := reactorTotals(rs)
		return fmt.Sprintf("reacts %d unreacts %d failed %d", r, u, f)
	})
	loading.Store(false)
	pushed := pushes()
	sec := elapsed.Seconds()
	closeReactors(rs)

	reacts, unreacts, failed := reactorTotals(rs)
	held := map[string]int{}
	codes := map[string]int64{}
	lat := newLatency()
	for _, r := range rs {
		r.expected(held)
		lat.Merge(r.lat)
		r.mu.Lock()
		for c, n := range r.codes {
			codes[c] += n
		}
		r.mu.Unlock()
	}
	for c, n := range codes {
		res.Values["failed "+c] = float64(n)
	}
	total := float64(reacts + unreacts)
	res.Elapsed = sec
	res.Values["reactions"] = total
	res.Values["reacts"] = float64(reacts)
	res.Values["unreacts"] = float64(unreacts)
	res.Values["failed"] = float64(failed)
	res.Values["reactionsPerSec"] = total / sec
	res.Latency["react"] = percentiles(lat)
	heldN := 0
	for _, n := range held {
		heldN += n
	}
	res.Values["held"] = float64(heldN)

	// The comment's counts now: taking back a reaction nobody gave changes
	// nothing and answers the comment.
	probe, _ := json.Marshal(map[string]any{"postId": post, "commentId": commentID, "reaction": defaultReactions[0],
		"on": false, "userId": fmt.Sprintf("rx%d-probe", nonce)})
	ack, err = author.call(ctx, "react", probe)
	if err != nil {
		return nil, fmt.Errorf("final counts: %w", err)
	}
	final, err := ackedReactions(ack)
	if err != nil {
		return nil, fmt.Errorf("final counts: %w", err)
	}
	res.Values["finalMismatch"] = float64(countsDiff(final, held))
	// Each reader's last comment_reactions is the final counts, within a
	// few push intervals.
	stale := 0
	for _, pr := range readers {
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, ok := pr.lastCounts()
			if ok && countsDiff(got, final) == 0 || (!ok && len(final) == 0) {
				break
			}
			if time.Now().After(deadline) {
				stale++
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	res.Values["readersStale"] = float64(stale)
	res.Values["pushes"] = float64(pushed)
	if len(readers) > 0 {
		res.Values["pushesPerReaderSec"] = float64(pushed) / float64(len(readers)) / sec
		most := 0
		for _, pr := range readers {
			most = max(most, pr.maxPerSec(int(sec)))
		}
		res.Values["pushMaxPerSec"] = float64(most)
		var gap time.Duration
		for _, pr := range readers {
			if g := pr.shortestGap(); g > 0 && (gap == 0 || g < gap) {
				gap = g
			}
		}
		res.Values["pushMinGapMs"] = float64(gap.Microseconds()) / 1000
	}

	loadEnd := time.Now()
	sctx, cancel = context.WithTimeout(ctx, cfg.Settle)
	_, derr := waitDepth(sctx, e.url, 0, 200*time.Millisecond)
	cancel()
	res.Values["drainSec"] = time.Since(loadEnd).Seconds()
	if derr != nil {
		res.Values["notDrained"] = 1 // the counts below are short
	}
	res.Series = rec.end()

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
		res.Values["mongoReads"] = reads
		res.Values["insertCommands"] = delta["insert"]
		res.Values["updateCommands"] = delta["update"]
		res.Values["deleteCommands"] = delta["delete"]
		res.Values["writeCommands"] = writes
		computed := computeRealMongo(delta, batches)
		res.Values["computedWrites"] = computed
		if total > 0 {
			res.Values["writesPer1000Reactions"] = 1000 * writes / total
			res.Values["computedPer1000Reactions"] = 1000 * computed / total
		}
	}
	return res, nil
}

// ackedReactions returns the reactions of the comment in an ack
// {ok:true, comment:{..., reactions}}.
func ackedReactions(ack []byte) (map[string]int, error) {
	var out []struct {
		OK      bool `json:"ok"`
		Comment struct {
			Reactions map[string]int `json:"reactions"`
		} `json:"comment"`
	}
	if err := json.Unmarshal(ack, &out); err != nil || len(out) == 0 || !out[0].OK {
		return nil, fmt.Errorf("refused or unreadable: %.200s", ack)
	}
	return out[0].Comment.Reactions, nil
}

// countsDiff returns the sum over keys of |a[k] − b[k]|.
func countsDiff(a, b map[string]int) int {
	keys := maps.Clone(a)
	maps.Copy(keys, b)
	n := 0
	for k := range keys {
		d := a[k] - b[k]
		n += max(d, -d)
	}
	return n
}

// caller is a connection that sends one event at a time and waits for
// its ack.
type caller struct {
	c    *sioclient.Conn
	done chan struct{}
	acks chan ackOf
	next int64
}

type ackOf struct {
	id      int64
	payload []byte
}

func dialCaller(ctx context.Context, d dialer) (*caller, error) {
	c, err := d.dial(ctx, nil)
	if err != nil {
		return nil, err
	}
	k := &caller{c: c, done: make(chan struct{}), acks: make(chan ackOf, 1)}
	go func() {
		defer close(k.done)
		c.ReadLoop(func(data []byte) {
			if id, payload, ok := decodeAck(data); ok {
				select {
				case k.acks <- ackOf{id, append([]byte(nil), payload...)}:
				default: // nobody waits: a late ack
				}
			}
		})
	}()
	return k, nil
}

// call emits event with arg and returns its ack's payload.
func (k *caller) call(ctx context.Context, event string, arg json.RawMessage) ([]byte, error) {
	k.next++
	id := k.next
	if err := k.c.Emit(id, event, arg); err != nil {
		return nil, err
	}
	timeout := time.After(handshakeTimeout)
	for {
		select {
		case a := <-k.acks:
			if a.id == id {
				return a.payload, nil
			}
		case <-k.done:
			return nil, fmt.Errorf("%s: connection closed", event)
		case <-timeout:
			return nil, fmt.Errorf("%s: no ack in %s", event, handshakeTimeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (k *caller) close() {
	k.c.Close()
	<-k.done
}
