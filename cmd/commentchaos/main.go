// Command commentchaos is the durability chaos harness of commentd. It runs
// redis-server (AOF), devmongo and several commentd nodes on loopback,
// drives comments from many Socket.IO clients, injects faults (SIGKILL of
// nodes, of a flusher between insert and ack, SIGSTOP of a lease holder
// mid-batch, MongoDB down, Redis crashes, latency), then checks MongoDB the
// way Jepsen's queue checker does (every confirmed comment stored exactly
// once, nothing stored that no client sent, nothing broadcast that was not
// stored, one order per post on every client) and each comment as a
// register: clients also edit and delete their comments and moderators
// hide, restore, pin and delete, and MongoDB must hold each comment in the
// state of its last confirmed change (or of a later one whose outcome is
// unknown), never a deleted comment again.
//
//	commentchaos -duration 10m -nodes 3 -clients 24 -long-mongo-down 2m -json chaos.json
//
// It exits 1 when an invariant does not hold.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Config is one chaos run.
type Config struct {
	Duration      time.Duration // load with faults
	Nodes         int
	Clients       int
	Posts         int
	Think         time.Duration // pause between a client's comments
	AckTimeout    time.Duration // a client retries after this
	Faults        []string
	FaultGap      time.Duration // mean pause between faults
	MongoDown     time.Duration // mean short MongoDB outage
	LongMongoDown time.Duration // one long outage (0: none)
	AppendFsync   string        // everysec or always
	Shards        int
	MaxLen        int // buffer.max_len: the high-water mark, BUSY above it
	BatchSize     int
	FlushInterval time.Duration
	LeaseTTL      time.Duration
	Seed          uint64

	ChangeShare float64       // of an author's operations, the share that change a comment
	ReactShare  float64       // of an author's operations, the share that react to a recent comment
	ReplyShare  float64       // of new comments, the share that reply to a recent comment
	Moderators  int           // clients that moderate with the admin token
	AdminToken  string        // admin.token of the nodes
	ReadBack    time.Duration // after the run, time to page through every post's history
	EventsFile  string        // write every room event received here ("": none)

	Commentd, Devmongo, RedisServer string // binaries
	Dir                             string // data and logs
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code, err := cli(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "commentchaos:", err)
	}
	os.Exit(code)
}

func cli(ctx context.Context, args []string, out io.Writer) (int, error) {
	fs := flag.NewFlagSet("commentchaos", flag.ContinueOnError)
	cfg := Config{}
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Minute, "how long to load and inject faults (at most 2h)")
	fs.IntVar(&cfg.Nodes, "nodes", 3, "commentd nodes")
	fs.IntVar(&cfg.Clients, "clients", 24, "Socket.IO clients")
	fs.IntVar(&cfg.Posts, "posts", 6, "posts")
	fs.DurationVar(&cfg.Think, "think", 20*time.Millisecond, "mean pause between a client's comments")
	fs.DurationVar(&cfg.AckTimeout, "ack-timeout", 2*time.Second, "a client resends (same clientId) after this")
	faults := fs.String("faults", strings.Join(allFaults, ","), "faults to inject, comma-separated: "+strings.Join(allFaults, ", "))
	fs.DurationVar(&cfg.FaultGap, "fault-gap", 2*time.Second, "mean pause between faults")
	fs.DurationVar(&cfg.MongoDown, "mongo-down", 8*time.Second, "mean short MongoDB outage")
	fs.DurationVar(&cfg.LongMongoDown, "long-mongo-down", 2*time.Minute, "one long MongoDB outage a third into the run (0: none)")
	fs.StringVar(&cfg.AppendFsync, "appendfsync", "everysec", "Redis AOF fsync policy: everysec or always")
	fs.IntVar(&cfg.Shards, "shards", 8, "buffer.shards")
	fs.IntVar(&cfg.MaxLen, "max-len", 20000, "buffer.max_len (a long MongoDB outage reaches it: BUSY)")
	fs.IntVar(&cfg.BatchSize, "batch", 500, "flush.batch_size")
	fs.DurationVar(&cfg.FlushInterval, "flush-interval", 200*time.Millisecond, "flush.interval")
	fs.DurationVar(&cfg.LeaseTTL, "lease-ttl", 2*time.Second, "flush.lease_ttl")
	fs.Float64Var(&cfg.ChangeShare, "changes", 0.25, "share of an author's operations that edit or delete a comment instead of posting one (0: none)")
	fs.Float64Var(&cfg.ReactShare, "reactions", 0.1, "share of an author's operations that react to a recent comment, or take a reaction back (0: none)")
	fs.Float64Var(&cfg.ReplyShare, "replies", 0.2, "share of new comments that reply to a recent comment (0: none)")
	fs.IntVar(&cfg.Moderators, "moderators", 2, "clients that hide, restore, pin, unpin and delete recent comments with the admin token")
	fs.DurationVar(&cfg.ReadBack, "read-back", 3*time.Minute, "after the run, time for a reader and a moderator to page through every post's history")
	fs.Uint64Var(&cfg.Seed, "seed", uint64(time.Now().UnixNano()), "random seed (faults and clients)")
	fs.StringVar(&cfg.Commentd, "commentd", "", "commentd binary (default: go build ./cmd/commentd)")
	fs.StringVar(&cfg.Devmongo, "devmongo", "bin/devmongo", "devmongo binary")
	fs.StringVar(&cfg.RedisServer, "redis-server", "redis-server", "redis-server binary")
	fs.StringVar(&cfg.Dir, "dir", "", "folder for data and logs (default: a new temporary one)")
	jsonOut := fs.String("json", "", "write the report as JSON to this file")
	fs.StringVar(&cfg.EventsFile, "events", "", "write every room event each client received to this file, one a line (for investigating a violation)")
	if err := fs.Parse(args); err != nil {
		return 2, err
	}
	cfg.Faults = nil
	for _, f := range strings.Split(*faults, ",") {
		if f = strings.TrimSpace(f); f != "" {
			cfg.Faults = append(cfg.Faults, f)
		}
	}
	if err := cfg.prepare(); err != nil {
		return 2, err
	}
	rep, err := run(ctx, cfg)
	if err != nil {
		return 1, err
	}
	rep.print(out)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			return 1, err
		}
	}
	if !rep.Verdict.OK() {
		return 1, errors.New("invariants violated")
	}
	return 0, nil
}

// prepare checks the config and fills in the binaries and the folder.
func (cfg *Config) prepare() error {
	if cfg.Duration <= 0 || cfg.Duration > 2*time.Hour {
		return errors.New("-duration must be in (0, 2h]")
	}
	if cfg.Nodes < 1 || cfg.Nodes > 16 || cfg.Clients < 1 || cfg.Clients > 2000 || cfg.Posts < 1 {
		return errors.New("-nodes in [1,16], -clients in [1,2000], -posts ≥ 1")
	}
	if cfg.AppendFsync != "everysec" && cfg.AppendFsync != "always" {
		return fmt.Errorf("-appendfsync %q: everysec or always", cfg.AppendFsync)
	}
	if cfg.MaxLen < 1 || cfg.Shards < 1 || cfg.BatchSize < 1 {
		return errors.New("-max-len, -shards and -batch must be positive")
	}
	if cfg.ReactShare < 0 || cfg.ReactShare > 1 || cfg.ReplyShare < 0 || cfg.ReplyShare > 1 ||
		cfg.ChangeShare < 0 || cfg.ChangeShare > 1 || cfg.Moderators < 0 || cfg.Moderators > 100 {
		return errors.New("-changes, -reactions and -replies in [0,1], -moderators in [0,100]")
	}
	if cfg.AdminToken == "" {
		cfg.AdminToken = "chaos-admin"
	}
	if cfg.FaultGap <= 0 || cfg.MongoDown <= 0 || cfg.AckTimeout <= 0 {
		return errors.New("-fault-gap, -mongo-down and -ack-timeout must be positive")
	}
	for _, f := range cfg.Faults {
		if !contains(allFaults, f) {
			return fmt.Errorf("-faults: unknown fault %q", f)
		}
	}
	if cfg.Dir == "" {
		d, err := os.MkdirTemp("", "commentchaos")
		if err != nil {
			return err
		}
		cfg.Dir = d
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return err
	}
	if cfg.Commentd == "" {
		cfg.Commentd = filepath.Join(cfg.Dir, "commentd")
		if out, err := exec.Command("go", "build", "-o", cfg.Commentd, "github.com/commentd/commentd/cmd/commentd").CombinedOutput(); err != nil {
			return fmt.Errorf("go build commentd: %v\n%s", err, out)
		}
	}
	for _, p := range []*string{&cfg.Devmongo, &cfg.RedisServer} {
		path, err := exec.LookPath(*p)
		if err != nil {
			return fmt.Errorf("%s: %w (make devmongo builds bin/devmongo; apt-get install redis-server)", *p, err)
		}
		*p, _ = filepath.Abs(path)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func init() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
}
