package testsvc

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	sup "github.com/commentd/commentd/internal/proc"
)

// Redis is a redis-server of a test.
type Redis struct {
	Addr string // 127.0.0.1:port
	p    *proc
}

// StartRedis starts redis-server on a free port with AOF on
// (appendfsync everysec) and maxmemory-policy noeviction, as DESIGN.md
// requires, and stops it when the test ends.
func StartRedis(t testing.TB, extra ...string) *Redis {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("testsvc: redis-server not found (make test installs it): %v", err)
	}
	dir := t.TempDir()
	port := FreePort(t)
	args := []string{
		"--port", fmt.Sprint(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--save", "",
		"--appendonly", "yes",
		"--appendfsync", "everysec",
		"--maxmemory-policy", "noeviction",
		"--daemonize", "no",
		"--loglevel", "warning",
	}
	args = append(args, extra...)
	r := &Redis{
		Addr: fmt.Sprintf("127.0.0.1:%d", port),
		p: &proc{t: t, Process: &sup.Process{Name: "redis-server", Addr: fmt.Sprintf("127.0.0.1:%d", port),
			Path: path, Args: args, Log: filepath.Join(dir, "redis.log")}},
	}
	r.p.start()
	t.Cleanup(func() { r.p.stop(syscall.SIGKILL) })
	return r
}

// Stop stops the server gracefully (SIGTERM); Start brings it back with the
// same port and data.
func (r *Redis) Stop() { r.p.stop(syscall.SIGTERM) }

// Kill stops the server with SIGKILL.
func (r *Redis) Kill() { r.p.stop(syscall.SIGKILL) }

// Start starts a stopped server again.
func (r *Redis) Start() { r.p.t.Helper(); r.p.start() }

// Pause freezes the server (SIGSTOP): connections stay open, nothing is
// answered, as with a stalled host. Resume thaws it.
func (r *Redis) Pause() { r.p.Pause() }

// Resume thaws a paused server (SIGCONT).
func (r *Redis) Resume() { r.p.Resume() }
