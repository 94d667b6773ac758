package main

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

// process is a server the harness starts, kills, pauses and starts again
// with the same arguments, port and data.
type process struct {
	name string
	path string
	args []string
	addr string // where it listens once ready
	log  string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	paused bool
}

// Start runs the process and waits until it listens (30s).
func (p *process) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.cmd != nil {
		p.mu.Unlock()
		return fmt.Errorf("%s already running", p.name)
	}
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	cmd := exec.Command(p.path, p.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		logf.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
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
		c, err := net.DialTimeout("tcp", p.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			p.mu.Lock()
			p.cmd = nil
			p.mu.Unlock()
			return fmt.Errorf("%s exited at start; see %s", p.name, p.log)
		case <-ctx.Done():
			p.Kill()
			return ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			p.Kill()
			return fmt.Errorf("%s not listening on %s after 30s; see %s", p.name, p.addr, p.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Running reports whether the process is alive (paused counts).
func (p *process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// Kill sends SIGKILL and waits for the exit.
func (p *process) Kill() { p.stop(syscall.SIGKILL, 0) }

// Stop sends SIGTERM and waits up to grace, then kills.
func (p *process) Stop(grace time.Duration) { p.stop(syscall.SIGTERM, grace) }

func (p *process) stop(sig syscall.Signal, grace time.Duration) {
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
func (p *process) Pause() bool { return p.signalPaused(syscall.SIGSTOP, true) }

func (p *process) Resume() bool { return p.signalPaused(syscall.SIGCONT, false) }

func (p *process) signalPaused(sig syscall.Signal, paused bool) bool {
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
func (p *process) Paused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
