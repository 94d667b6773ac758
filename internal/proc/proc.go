// Package proc runs the servers of the project's tests and tools
// (redis-server, devmongo, commentd nodes): start one and wait until it
// listens, kill it, stop it gracefully, pause it, and start it again with
// the same arguments, port and data.
package proc

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Process is one server. Set the exported fields, then Start it. Its
// methods are safe from several goroutines.
type Process struct {
	Name string
	Path string
	Args []string
	Addr string // where it listens once ready
	Log  string // its stdout and stderr are appended here

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	paused bool
}

// Start runs the process and waits until it listens (30s). It fails if
// the process is running, exits first, or does not listen in time.
func (p *Process) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.cmd != nil {
		p.mu.Unlock()
		return fmt.Errorf("%s already running", p.Name)
	}
	logf, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		logf.Close()
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	p.cmd, p.done, p.paused = cmd, done, false
	p.mu.Unlock()

	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			p.mu.Lock()
			p.cmd = nil
			p.mu.Unlock()
			return fmt.Errorf("%s exited at start; see %s", p.Name, p.Log)
		case <-ctx.Done():
			p.Kill()
			return ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			p.Kill()
			return fmt.Errorf("%s not listening on %s after 30s; see %s", p.Name, p.Addr, p.Log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Running reports whether the process is alive (paused counts).
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// Kill sends SIGKILL and waits for the exit.
func (p *Process) Kill() { p.stop(syscall.SIGKILL, 0) }

// Stop sends SIGTERM and waits up to grace, then kills.
func (p *Process) Stop(grace time.Duration) { p.stop(syscall.SIGTERM, grace) }

func (p *Process) stop(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	cmd, done, paused := p.cmd, p.done, p.paused
	p.cmd, p.paused = nil, false
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	if paused {
		cmd.Process.Signal(syscall.SIGCONT)
	}
	select {
	case <-done:
	case <-time.After(grace):
		cmd.Process.Kill()
		<-done
	}
}

// Pause stops the process with SIGSTOP; Resume continues it.
func (p *Process) Pause() bool { return p.signalPaused(syscall.SIGSTOP, true) }

func (p *Process) Resume() bool { return p.signalPaused(syscall.SIGCONT, false) }

func (p *Process) signalPaused(sig syscall.Signal, paused bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.paused == paused {
		return false
	}
	p.cmd.Process.Signal(sig)
	p.paused = paused
	return true
}

// Paused reports whether the process is stopped by Pause.
func (p *Process) Paused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
