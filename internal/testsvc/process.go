package testsvc

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	sup "github.com/commentd/commentd/internal/proc"
)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testsvc: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is a server process of a test: proc.Process, failing the test when
// it cannot start.
type proc struct {
	t testing.TB
	*sup.Process
}

func (p *proc) start() {
	p.t.Helper()
	if err := p.Start(context.Background()); err != nil {
		p.t.Fatalf("testsvc: %v; log:\n%s", err, tail(p.Log))
	}
}

// stop sends sig and waits for the process to exit (SIGKILL after 10s).
func (p *proc) stop(sig syscall.Signal) {
	if sig == syscall.SIGKILL {
		p.Kill()
		return
	}
	p.Stop(10 * time.Second)
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// repoRoot finds the folder holding the service's go.mod, from the test's
// working directory upwards.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.HasPrefix(string(b), "module github.com/commentd/commentd\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testsvc: go.mod of commentd not found above the working directory")
		}
		dir = parent
	}
}
