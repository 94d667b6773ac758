// Command commentbench is the load generator of commentd: Socket.IO clients
// over WebSocket, its own lean client on the project's codecs, against a
// server on loopback only, every scenario bounded in count and time.
//
//	commentbench SCENARIO [flags]     run a scenario (ingest if omitted)
//	commentbench report [flags]       charts, HTML page and BENCHMARKS.md from results
//
// Scenarios: ingest (closed loop), changes (closed loop of new comments,
// edits and deletes), sustained (fixed offered rate), fanout (one
// publisher, many subscribers), conns (idle connections, server memory),
// join (history loads and MongoDB reads), drain (flush a backlog),
// reactions (one hot comment, many users reacting), counts (comment
// counts of listing pages), hot (a viral post: readers in several
// processes, writers and reactions), coldjoin (readers of new posts during
// an ingest, with many comments stored). fanout and hot also measure
// Centrifugo (-target centrifugo), the fan-out ceiling.
// `commentbench SCENARIO -h` lists its flags. Each prints its result and,
// with -json, writes it; bench/run.sh runs them all.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
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

// scenario registers its flags and returns the function that runs it.
type scenario func(fs *flag.FlagSet) func(ctx context.Context, e *env) (*Result, error)

var scenarios = map[string]scenario{
	"ingest":    ingestScenario,
	"changes":   changesScenario,
	"sustained": sustainedScenario,
	"fanout":    fanoutScenario,
	"conns":     connsScenario,
	"join":      joinScenario,
	"drain":     drainScenario,
	"reactions": reactionsScenario,
	"counts":    countsScenario,
	"hot":       hotScenario,
	"coldjoin":  coldJoinScenario,
}

// env is what every scenario gets: the target and the optional probes.
type env struct {
	url       string
	label     string
	serverPID int           // commentd's PID, for conns; 0 if unknown
	mongo     *mongoCounter // nil without -mongo
	quiet     bool          // no progress bar
	procs     *procSampler  // samples the processes of -server-pid and -procs
	// target is the system under test: commentd, or centrifugo (fanout
	// and hot only).
	target     string
	centrifugo centrifugoTarget
}

func run(ctx context.Context, args []string) error {
	name := "ingest"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "report" {
		return reportCommand(args)
	}
	if name == "hot-worker" { // hot's load-generator processes
		return hotWorker(ctx, args, os.Stdin, os.Stdout)
	}
	sc, ok := scenarios[name]
	if !ok {
		return fmt.Errorf("unknown scenario %q (ingest, changes, sustained, fanout, conns, join, drain, reactions, counts, hot, coldjoin, report)", name)
	}
	fs := flag.NewFlagSet("commentbench "+name, flag.ContinueOnError)
	e := &env{}
	fs.StringVar(&e.url, "url", "http://127.0.0.1:8080", "commentd base URL (loopback only)")
	fs.StringVar(&e.label, "label", "", "label of the run in the result, e.g. the server's flush mode")
	fs.IntVar(&e.serverPID, "server-pid", 0, "commentd's PID: its RSS and CPU are sampled from /proc")
	procs := fs.String("procs", "", "more processes to sample, name=pid,name=pid (redis=123,devmongo=456)")
	mongoURI := fs.String("mongo", "", "MongoDB URI of commentd's database, to count write and read commands (serverStatus)")
	jsonOut := fs.String("json", "", "write the result as JSON to this file")
	fs.BoolVar(&e.quiet, "quiet", false, "no progress bar")
	cpuProfile := fs.String("cpuprofile", "", "write commentbench's own CPU profile to this file")
	fs.StringVar(&e.target, "target", targetCommentd, "system under test: commentd, or centrifugo (fanout and hot)")
	fs.StringVar(&e.centrifugo.ws, "centrifugo-url", "ws://127.0.0.1:29000/connection/websocket", "-target centrifugo: its client WebSocket endpoint")
	fs.StringVar(&e.centrifugo.api, "centrifugo-api", "http://127.0.0.1:29000/api", "-target centrifugo: its server HTTP API")
	fs.StringVar(&e.centrifugo.apiKey, "centrifugo-key", "", "-target centrifugo: its HTTP API key (X-API-Key)")
	runScenario := sc(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := loopbackOnly(e.url); err != nil {
		return err
	}
	switch e.targetName() {
	case targetCommentd:
	case targetCentrifugo:
		if name != "fanout" && name != "hot" {
			return fmt.Errorf("-target centrifugo: fanout and hot only")
		}
		for _, u := range []string{e.centrifugo.ws, e.centrifugo.api} {
			if err := loopbackOnly(u); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("-target %q: commentd or centrifugo", e.target)
	}
	pids, err := parsePIDs(*procs)
	if err != nil {
		return err
	}
	pids["commentbench"] = os.Getpid()
	if e.serverPID > 0 {
		pids[e.targetName()] = e.serverPID
	}
	if *mongoURI != "" {
		client, err := openMongo(ctx, *mongoURI)
		if err != nil {
			return err
		}
		defer client.Disconnect(context.Background())
		e.mongo = &mongoCounter{client: client}
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	e.procs = newProcSampler(pids)
	stop := make(chan struct{})
	go e.procs.run(stop, time.Second)
	res, err := runScenario(ctx, e)
	close(stop)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	res.Procs = e.procs.usage()
	res.print(os.Stdout)
	if *jsonOut != "" {
		return res.writeJSON(*jsonOut)
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

// errBounds reports a flag out of its bounds.
func errBounds(what string) error { return errors.New(what) }
