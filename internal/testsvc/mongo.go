package testsvc

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	sup "github.com/commentd/commentd/internal/proc"
)

// Mongo is a devmongo (FerretDB on SQLite) of a test.
type Mongo struct {
	Addr string // 127.0.0.1:port
	URI  string // mongodb://127.0.0.1:port
	p    *proc
}

// DevmongoPath returns the devmongo binary: $COMMENTD_DEVMONGO, else
// bin/devmongo of the repository (built by `make devmongo`).
func DevmongoPath() (string, error) {
	if p := os.Getenv("COMMENTD_DEVMONGO"); p != "" {
		return p, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, "bin", "devmongo")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("testsvc: %s missing (make devmongo builds it): %w", p, err)
	}
	return p, nil
}

// StartMongo starts devmongo on a free port with a fresh data folder and
// stops it when the test ends.
func StartMongo(t testing.TB) *Mongo {
	t.Helper()
	path, err := DevmongoPath()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	m := &Mongo{
		Addr: addr,
		URI:  "mongodb://" + addr,
		p: &proc{t: t, Process: &sup.Process{Name: "devmongo", Addr: addr, Path: path,
			Args: []string{"-listen", addr, "-data", filepath.Join(dir, "data")},
			Log:  filepath.Join(dir, "devmongo.log")}},
	}
	m.p.start()
	t.Cleanup(func() { m.p.stop(syscall.SIGKILL) })
	return m
}

// Stop stops the server gracefully; Start brings it back on the same port
// with the same data.
func (m *Mongo) Stop() { m.p.stop(syscall.SIGTERM) }

// Kill stops the server with SIGKILL.
func (m *Mongo) Kill() { m.p.stop(syscall.SIGKILL) }

// Start starts a stopped server again.
func (m *Mongo) Start() { m.p.t.Helper(); m.p.start() }
