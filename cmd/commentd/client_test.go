package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeSuiteTimeout bounds one Node run; the suite takes seconds.
const nodeSuiteTimeout = 5 * time.Minute

// allowedOrigin is the browser origin the contract suite's server allows
// (cors.origins); origin.test.mjs checks it, a refused one, and the
// server's own.
const allowedOrigin = "http://allowed.example"

// oldClients are older socket.io-client releases (npm aliases of
// web/test/package.json, COMMENTD_SIO_CLIENT) and the suite's files they
// run: those that need no later client feature (recovery and retry need
// 4.6's socket.recovered and retries, upgrade 4.8's NodeXHR; outage is
// about the server alone and takes the longest).
var oldClients = []struct{ name, pkg string }{
	{"4.0", "socket.io-client-40"},
	{"4.5", "socket.io-client-45"},
}

var oldClientFiles = []string{"contract", "chat", "origin"}

// TestSocketIOClientContract proves the wire contract of DESIGN.md with the
// official socket.io-client: it runs the node:test suite of web/test once
// per transport, WebSocket and long-polling that is never upgraded
// (COMMENTD_TRANSPORT), each against a real App of its own on Redis and
// devmongo; with 4.8 every file, with 4.0 and 4.5 (subtests 4.0/websocket,
// ...) oldClientFiles. The suite stops and starts the backends through a control
// server of this test (POST /mongo/stop, /mongo/start, /redis/stop,
// /redis/start, /redis/pause, /redis/resume at COMMENTD_CONTROL); they run on the subtest's goroutine,
// as testsvc requires.
func TestSocketIOClientContract(t *testing.T) {
	dir := filepath.Join(commentdRoot(t), "web", "test")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io-client", "package.json")); err != nil {
		t.Fatalf("web/test/node_modules is missing (`make test` installs it; by hand: npm ci --prefix web/test): %v", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (Node 20 or later runs the socket.io-client suite): %v", err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.test.mjs"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no *.test.mjs in %s (%v)", dir, err)
	}
	// COMMENTD_NODE_TESTS=recovery,retry runs only those files (debugging).
	if only := os.Getenv("COMMENTD_NODE_TESTS"); only != "" {
		files = keepFiles(files, strings.Split(only, ","))
		if len(files) == 0 {
			t.Fatalf("COMMENTD_NODE_TESTS=%s names no file in %s", only, dir)
		}
	}
	// The runs share nothing (an App, Redis and devmongo each), so they
	// run side by side: the suite spends most of its time waiting.
	for _, transport := range []string{"websocket", "polling"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			runContractSuite(t, node, dir, files, transport, "socket.io-client")
		})
	}
	old := keepFiles(files, oldClientFiles)
	if len(old) == 0 {
		return
	}
	for _, c := range oldClients {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", c.pkg, "package.json")); err != nil {
			t.Fatalf("web/test/node_modules/%s is missing (npm ci --prefix web/test): %v", c.pkg, err)
		}
		for _, transport := range []string{"websocket", "polling"} {
			t.Run(c.name+"/"+transport, func(t *testing.T) {
				t.Parallel()
				runContractSuite(t, node, dir, old, transport, c.pkg)
			})
		}
	}
}

// keepFiles returns the files named NAME.test.mjs for a name in names.
func keepFiles(files, names []string) []string {
	var keep []string
	for _, f := range files {
		for _, name := range names {
			if filepath.Base(f) == name+".test.mjs" {
				keep = append(keep, f)
			}
		}
	}
	return keep
}

// runContractSuite runs the suite's files with node --test against a new
// App, its clients (of the npm package client) on transport only.
func runContractSuite(t *testing.T, node, dir string, files []string, transport, client string) {
	e := newEnv(t, 2)
	cfg := e.config(2)
	// Rate limits are not what this suite is about: 20 clients fire 10
	// comments each at once, and the error cases post back to back.
	cfg.Limits.CommentsPerSecond = 0
	cfg.CORS.Origins = []string{allowedOrigin}
	app, stop := startApp(t, cfg)
	t.Cleanup(stop)

	ctl := newControl(t)

	ctx, cancel := context.WithTimeout(context.Background(), nodeSuiteTimeout)
	defer cancel()
	// Files one at a time: outage.test.mjs stops the backends the others use.
	args := append([]string{"--test", "--test-reporter=spec", "--test-concurrency=1"}, files...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"COMMENTD_URL=http://"+app.Addr(),
		"COMMENTD_TRANSPORT="+transport,
		"COMMENTD_SIO_CLIENT="+client,
		"COMMENTD_ALLOWED_ORIGIN="+allowedOrigin,
		"COMMENTD_CONTROL="+ctl.url,
		"NO_COLOR=1",
	)
	out := &lockedBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var err error
	for {
		select {
		case req := <-ctl.reqs:
			req.reply <- ctl.do(t, e, req.op)
			continue
		case err = <-done:
		}
		break
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w after %s", ctx.Err(), nodeSuiteTimeout)
	}
	if err != nil || testing.Verbose() {
		for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
			t.Log(line)
		}
	}
	if err != nil {
		t.Fatalf("COMMENTD_TRANSPORT=%s COMMENTD_SIO_CLIENT=%s node --test %s: %v (its output is above)",
			transport, client, strings.Join(relative(dir, files), " "), err)
	}
	for _, s := range []string{"mongo", "redis"} {
		if ctl.down[s] {
			t.Errorf("the suite left %s stopped", s)
		}
	}
}

// control serves the suite's requests to stop and start the backends and
// hands them to the test's goroutine, which may t.Fatal.
type control struct {
	url  string
	reqs chan controlReq
	down map[string]bool // only on the test's goroutine
}

type controlReq struct {
	op    string // "mongo/stop", ...
	reply chan error
}

func newControl(t *testing.T) *control {
	t.Helper()
	c := &control{reqs: make(chan controlReq), down: map[string]bool{}}
	quit := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		req := controlReq{op: strings.TrimPrefix(r.URL.Path, "/"), reply: make(chan error, 1)}
		select {
		case c.reqs <- req:
		case <-quit:
			http.Error(w, "test over", http.StatusServiceUnavailable)
			return
		}
		select {
		case err := <-req.reply:
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			fmt.Fprintln(w, "ok")
		case <-quit:
			http.Error(w, "test over", http.StatusServiceUnavailable)
		}
	}))
	c.url = srv.URL
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(quit) }) // first: unblocks handlers, so Close returns
	return c
}

// do runs one control request on the test's goroutine.
func (c *control) do(t *testing.T, e *env, op string) error {
	svc, action, _ := strings.Cut(op, "/")
	if svc == "redis" && (action == "pause" || action == "resume") {
		if action == "pause" {
			e.redis.Pause()
		} else {
			e.redis.Resume()
		}
		t.Logf("control: %s", op)
		return nil
	}
	type server interface {
		Stop()
		Start()
	}
	var s server
	switch svc {
	case "mongo":
		s = e.mongo
	case "redis":
		s = e.redis
	default:
		return fmt.Errorf("unknown service %q: mongo or redis", svc)
	}
	switch {
	case action == "stop" && !c.down[svc]:
		s.Stop()
		c.down[svc] = true
	case action == "start" && c.down[svc]:
		s.Start()
		c.down[svc] = false
	case action == "stop":
		return fmt.Errorf("%s is already stopped", svc)
	case action == "start":
		return fmt.Errorf("%s is already running", svc)
	default:
		return fmt.Errorf("unknown action %q: stop or start", action)
	}
	t.Logf("control: %s", op)
	return nil
}

// commentdRoot is the repository's root: the folder of commentd's go.mod,
// from the test's working directory (cmd/commentd) upwards.
func commentdRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/commentd/commentd\n") {
			return dir
		}
		if !errors.Is(err, os.ErrNotExist) && err != nil {
			t.Fatal(err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod of github.com/commentd/commentd not found above the working directory")
		}
		dir = parent
	}
}

func relative(dir string, files []string) []string {
	rel := make([]string, len(files))
	for i, f := range files {
		rel[i], _ = filepath.Rel(dir, f)
	}
	return rel
}
