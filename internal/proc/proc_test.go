package proc

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// A real redis-server through a whole life: start, pause, resume, stop,
// start again on the same port, kill; and a start that fails.
func TestLifecycle(t *testing.T) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found (make test installs it): %v", err)
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := &Process{Name: "redis-server", Path: path, Addr: fmt.Sprintf("127.0.0.1:%d", port), Log: filepath.Join(dir, "log"),
		Args: []string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", dir, "--save", ""}}
	ctx := context.Background()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if err := p.Start(ctx); err == nil {
		t.Fatal("a second Start of a running process succeeded")
	}
	if !p.Pause() || !p.Paused() || p.Pause() {
		t.Fatal("Pause: want true, then Paused, then false")
	}
	if !p.Resume() || p.Paused() {
		t.Fatal("Resume")
	}
	p.Pause()
	p.Stop(5 * time.Second) // a paused process is continued so that it can exit
	if p.Running() {
		t.Fatal("running after Stop")
	}
	if err := p.Start(ctx); err != nil {
		t.Fatalf("start again: %v", err)
	}
	p.Kill()
	if p.Running() {
		t.Fatal("running after Kill")
	}

	bad := &Process{Name: "bad", Path: path, Addr: p.Addr, Log: filepath.Join(dir, "bad.log"), Args: []string{"--no-such-option"}}
	if err := bad.Start(ctx); err == nil {
		bad.Kill()
		t.Fatal("a process that exits at once started")
	}
}
