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
	dir := dataDir(t)
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

// Pause freezes the server (SIGSTOP): it hangs instead of refusing.
func (m *Mongo) Pause() { m.p.Pause() }

// Resume thaws a paused server (SIGCONT).
func (m *Mongo) Resume() { m.p.Resume() }

// dataDir returns a fresh folder for a test's devmongo files, removed when
// the test ends: in memory (/dev/shm) where there is one. Every update of
// FerretDB on SQLite is a commit; on this project's shared CI disks a
// commit waited on I/O for tens of milliseconds, and a test of the
// flusher's changes spent minutes in iowait. COMMENTD_TEST_DATA sets
// another parent folder.
func dataDir(t testing.TB) string {
	parent := os.Getenv("COMMENTD_TEST_DATA")
	if parent == "" {
		if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
			parent = "/dev/shm"
		}
	}
	if parent == "" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp(parent, "commentd-test-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
