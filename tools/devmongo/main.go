// Command devmongo serves the MongoDB wire protocol on loopback for development
// and tests. It embeds FerretDB (github.com/FerretDB/FerretDB/ferretdb) with its
// SQLite handler, so it needs neither a real MongoDB nor any other service;
// or, with -backend postgresql, its PostgreSQL handler (filter, sort and
// limit pushed down to PostgreSQL, real indexes) on a PostgreSQL server.
//
// Usage:
//
//	devmongo [-listen 127.0.0.1:27017] [-data ./.devmongo] [-log-level warn]
//	devmongo -backend postgresql -postgresql-url postgres://127.0.0.1:5432/ferretdb
//
// Once the port accepts connections it prints one line to stdout:
//
//	devmongo listening on 127.0.0.1:27017
//
// SIGINT or SIGTERM stops it gracefully (exit code 0).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	os.Exit(run())
}

func run() int {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to serve the MongoDB wire protocol on")
	dataDir := flag.String("data", "./.devmongo", "folder for the SQLite files (created if missing)")
	syncMode := flag.String("synchronous", "normal", "SQLite synchronous mode: normal (WAL, no fsync per commit: survives a crash of the process, not of the machine) or full (fsync per commit)")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn or error")
	backend := flag.String("backend", "sqlite", "FerretDB handler: sqlite (files under -data) or postgresql (-postgresql-url)")
	pgURL := flag.String("postgresql-url", "", "with -backend postgresql: the database's URL, e.g. postgres://127.0.0.1:5432/ferretdb")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "devmongo: bad -log-level %q: %v\n", *logLevel, err)
		return 2
	}
	logger := slog.New(quiet{slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})})
	slog.SetDefault(logger)

	if *syncMode != "normal" && *syncMode != "full" {
		fmt.Fprintf(os.Stderr, "devmongo: -synchronous must be normal or full, not %q\n", *syncMode)
		return 2
	}
	if *backend != "sqlite" && *backend != "postgresql" {
		fmt.Fprintf(os.Stderr, "devmongo: -backend must be sqlite or postgresql, not %q\n", *backend)
		return 2
	}
	if (*backend == "postgresql") != (*pgURL != "") {
		fmt.Fprintln(os.Stderr, "devmongo: -postgresql-url is needed with -backend postgresql, and only then")
		return 2
	}
	if flag.NArg() > 0 {
		logger.Error("unexpected arguments", "args", flag.Args())
		return 2
	}

	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		logger.Error("resolve data folder", "data", *dataDir, "err", err)
		return 1
	}
	// FerretDB turns the folder into a "file:" URI without escaping it again,
	// so these characters would send the SQLite files elsewhere or fail.
	if strings.ContainsAny(dir, "%?#") {
		logger.Error("data folder path must not contain %, ? or #", "data", dir)
		return 2
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		logger.Error("create data folder", "data", dir, "err", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The embedded package never starts FerretDB's telemetry reporter and
	// explicitly disables and locks telemetry in its in-memory state (it uses
	// no state file); it has no update check either. So nothing here talks
	// to the network except the listener below.
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *listen},
		Logger:   logger.With("component", "ferretdb"),
		Handler:  *backend,
		// parseURI in FerretDB wants "file:" + an existing folder ending in "/".
		// synchronous(normal) in WAL mode: a commit is a write to the WAL
		// without fsync. Measured: an update (each is its own commit) took
		// ~25 ms with full, the fsync; the flusher's changes are updates.
		SQLiteURL:     (&url.URL{Scheme: "file", Path: dir + "/", RawQuery: "_pragma=synchronous(" + *syncMode + ")"}).String(),
		PostgreSQLURL: *pgURL,
	})
	if err != nil {
		logger.Error("start FerretDB", "err", err)
		return 1
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx) // always returns nil; closes listener, connections and SQLite on ctx cancel
	}()

	// ferretdb.New has already bound the port (net.Listen), so connections
	// are accepted from here on; Run's accept loop picks them up.
	addr := *listen
	if u, err := url.Parse(f.MongoDBURI()); err == nil && u.Host != "" {
		addr = u.Host // the real port when -listen used port 0
	}
	fmt.Printf("devmongo listening on %s\n", addr)
	logger.Info("serving", "addr", addr, "data", dir)

	<-ctx.Done()
	stop() // a second signal kills the process the default way
	logger.Info("shutting down (waits up to 3s for open client connections)")
	<-done
	logger.Info("stopped")
	return 0
}
