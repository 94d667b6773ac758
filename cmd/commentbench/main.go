// Command commentbench is the load generator of commentd: Socket.IO clients
// over WebSocket, its own lean client on the project's codecs, against a
// server on loopback only, bounded in count and time.
//
//	commentbench -url http://127.0.0.1:8080 -clients 32 -posts 8 -window 4 -duration 10s
//
// Scenario ingest (the only one so far): every client joins one of the
// posts and keeps -window comments outstanding (closed loop). It reports
// confirmed comments per second, confirm latency percentiles (HDR), and
// comment_added deliveries per second with their latency (from the
// comment's createdAt, millisecond resolution). -json writes the result.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "commentbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("commentbench", flag.ContinueOnError)
	var cfg ingestConfig
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080", "commentd base URL (loopback only)")
	fs.IntVar(&cfg.Clients, "clients", 32, "concurrent clients")
	fs.IntVar(&cfg.Posts, "posts", 8, "posts the clients spread over")
	fs.IntVar(&cfg.Window, "window", 4, "comments each client keeps outstanding")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to send")
	fs.IntVar(&cfg.Max, "max", 1_000_000, "stop after this many comments")
	jsonOut := fs.String("json", "", "write the result as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := loopbackOnly(cfg.URL); err != nil {
		return err
	}
	if cfg.Clients < 1 || cfg.Posts < 1 || cfg.Window < 1 || cfg.Duration <= 0 || cfg.Duration > time.Hour {
		return errors.New("clients, posts and window must be positive; duration at most 1h")
	}
	res, err := ingest(ctx, cfg)
	if err != nil {
		return err
	}
	res.print(os.Stdout)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		return os.WriteFile(*jsonOut, b, 0o644)
	}
	return nil
}

// loopbackOnly refuses targets other than this machine: a load generator
// must not be pointed at someone else's server by accident.
func loopbackOnly(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-url %s: only loopback targets (127.0.0.0/8, ::1, localhost)", raw)
}
