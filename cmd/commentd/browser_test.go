package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// browserSuiteTimeout bounds the whole browser run; it takes about 15s.
	browserSuiteTimeout = 3 * time.Minute
	// browserStopGrace is how long node has after SIGTERM to close chromium
	// (playwright closes the browsers it launched on SIGTERM) before it is
	// killed.
	browserStopGrace = 10 * time.Second
)

// TestBrowser runs the demo page in a real browser: Debian's headless
// chromium driven by playwright-core, the node:test suite of web/test/browser
// against a real App on Redis and devmongo. Two pages on one post, markup
// shown as text, long-polling only pages, and the /chat room.
func TestBrowser(t *testing.T) {
	e := newEnv(t, 2)
	cfg := e.config(2)
	cfg.Admin.Token = "browser-admin-token" // changes.test.mjs moderates with it
	cfg.Moderation.Mode = "guests"          // moderation.test.mjs: guests' comments are held
	app, stop := startApp(t, cfg)
	t.Cleanup(stop)
	runBrowserSuite(t, "browser/*.test.mjs", browserSuiteTimeout,
		"COMMENTD_URL=http://"+app.Addr(),
		"COMMENTD_ADMIN_TOKEN="+cfg.Admin.Token, // changes.test.mjs, widget.test.mjs
	)
}

// runBrowserSuite runs the files of web/test matching glob (e.g.
// browser/*.test.mjs) with node --test, with
// env added to the test's environment (and CHROMIUM), and fails the test
// with node's output if the suite fails.
func runBrowserSuite(t *testing.T, glob string, timeout time.Duration, env ...string) {
	t.Helper()
	dir := filepath.Join(commentdRoot(t), "web", "test")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("web/test/node_modules/playwright-core is missing (`make test` installs it; by hand: npm ci --prefix web/test): %v", err)
	}
	chromium := cmp.Or(os.Getenv("CHROMIUM"), "/usr/bin/chromium")
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("chromium is missing (`make test` installs Debian's: apt-get install chromium; or set CHROMIUM to a chromium binary): %v", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (Node 20 or later runs the browser suite): %v", err)
	}
	files, err := filepath.Glob(filepath.Join(dir, glob))
	if err != nil || len(files) == 0 {
		t.Fatalf("no %s in %s (%v)", glob, dir, err)
	}
	rel := make([]string, len(files))
	for i, f := range files {
		rel[i], _ = filepath.Rel(dir, f)
	}

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"--test", "--test-reporter=spec", "--test-concurrency=1"}, rel...)...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "CHROMIUM="+chromium, "NO_COLOR=1"), env...)
	out := &lockedBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	// node and its test file processes in a group of their own: on timeout
	// all of them get SIGTERM, so each closes the chromium it launched
	// (chromium runs in its own group, which playwright kills).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = browserStopGrace
	start := time.Now()
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w after %s", ctx.Err(), timeout)
	}
	if err != nil && cmd.Process != nil {
		// Whatever of node's group outlived it (a test file's process).
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil || testing.Verbose() {
		for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
			t.Log(line)
		}
	}
	if err != nil {
		t.Fatalf("node --test %s: %v (its output is above; screenshots of failed tests are in the folder it names)",
			strings.Join(rel, " "), err)
	}
	t.Logf("%s passed in %s", glob, time.Since(start).Round(100*time.Millisecond))
}
