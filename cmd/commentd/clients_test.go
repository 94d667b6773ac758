package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pythonSuiteTimeout bounds one run of clients/python/contract.py, or of
// the clients/goclient tests: their idle scenarios alone take a minute.
const pythonSuiteTimeout = 4 * time.Minute

// TestPythonClients runs clients/python/contract.py with Debian's
// python3-socketio (make test installs it), the sync socketio.Client and
// the asyncio socketio.AsyncClient, each on long-polling, WebSocket, and
// polling upgraded to WebSocket: six runs side by side, against two real
// Apps on one Redis and devmongo, one with socketio.recovery_window 0 (a
// one-argument comment_added handler) and one with recovery on (two
// arguments). Both ping every 2s, for the idle scenario.
//
// COMMENTD_PYTHON names the interpreter (default /usr/bin/python3, the one
// Debian's packages are for); COMMENTD_PYTHON_IDLE the idle scenario's
// seconds (default 60).
func TestPythonClients(t *testing.T) {
	t.Parallel() // mostly idle for a minute: beside the other tests
	python := os.Getenv("COMMENTD_PYTHON")
	if python == "" {
		python = "/usr/bin/python3"
	}
	if out, err := exec.Command(python, "-c", "import socketio, engineio, aiohttp, requests, websocket").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import socketio and its transports (`make test` installs python3-socketio, "+
			"python3-aiohttp, python3-requests and python3-websocket from apt): %v\n%s", python, err, out)
	}
	idle := os.Getenv("COMMENTD_PYTHON_IDLE")
	if idle == "" {
		idle = "60"
	}
	script := filepath.Join(commentdRoot(t), "clients", "python", "contract.py")

	plain, recovery := clientServers(t)

	t.Run("clients", func(t *testing.T) { // waits for its parallel subtests, before the Apps stop
		for _, client := range []string{"sync", "async"} {
			for _, transport := range []string{"polling", "websocket", "upgrade"} {
				t.Run(client+"/"+transport, func(t *testing.T) {
					t.Parallel()
					ctx, cancel := context.WithTimeout(context.Background(), pythonSuiteTimeout)
					defer cancel()
					cmd := exec.CommandContext(ctx, python, script, "--client", client, "--transport", transport,
						"--url", plain, "--recovery-url", recovery, "--idle", idle)
					cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
					cmd.WaitDelay = 5 * time.Second
					out, err := cmd.CombinedOutput()
					if ctx.Err() != nil {
						err = fmt.Errorf("%w after %s", ctx.Err(), pythonSuiteTimeout)
					}
					if err != nil || testing.Verbose() {
						for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
							t.Log(line)
						}
					}
					if err != nil {
						t.Fatalf("%s %s --client %s --transport %s: %v (its output is above)",
							python, filepath.Base(script), client, transport, err)
					}
				})
			}
		}
	})
}

// clientServers starts the two Apps the client suites run against, on one
// Redis and devmongo, and returns their URLs: plain has
// socketio.recovery_window 0, recovery has it on. Both ping every 2s (the
// idle scenarios) and have comment rate limits off (bursts).
func clientServers(t *testing.T) (plain, recovery string) {
	t.Helper()
	e := newEnv(t, 2)
	urls := map[bool]string{}
	for _, on := range []bool{false, true} {
		cfg := e.config(2)
		cfg.SocketIO.PingInterval = 2 * time.Second
		cfg.SocketIO.PingTimeout = 5 * time.Second
		if !on {
			cfg.SocketIO.RecoveryWindow = 0
		}
		app, stop := startApp(t, cfg)
		t.Cleanup(stop)
		urls[on] = "http://" + app.Addr()
	}
	return urls[false], urls[true]
}

// TestGoClient runs the tests of clients/goclient, a module of its own
// (go test ./... here does not enter it), with the Go client
// github.com/zishang520/socket.io/clients/socket/v3 on WebSocket against
// clientServers. Its polling transport sends nothing while a poll is open
// (a client bug, README), so polling is not tested.
func TestGoClient(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(commentdRoot(t), "clients", "goclient")
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not found: %v", err)
	}
	plain, recovery := clientServers(t)
	run := func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), pythonSuiteTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, goBin, "test", "-count=1", "-v", "./...")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "COMMENTD_URL="+plain, "COMMENTD_RECOVERY_URL="+recovery)
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w after %s", ctx.Err(), pythonSuiteTimeout)
		}
		return string(out), err
	}
	logLines := func(out string) {
		for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
			t.Log(line)
		}
	}
	out, err := run()
	if err != nil {
		// Seen twice in about 30 runs, never with the Python or Node
		// clients: this client never connected, or its 30 emits got no
		// ack. One more run, and the first one's output stays in the log.
		logLines(out)
		t.Logf("FLAKY? go test in %s failed (%v); running it once more", dir, err)
		out, err = run()
	}
	if err != nil || testing.Verbose() {
		logLines(out)
	}
	if err != nil {
		t.Fatalf("go test in %s: %v (its output is above)", dir, err)
	}
}
