package config

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

// waitFor polls cond until it holds or the deadline passes (nats checkFor).
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out: " + msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for slog's writes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// captureLog sends slog's default logger to a buffer for the test.
func captureLog(t *testing.T) *syncBuffer {
	buf := &syncBuffer{}
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return buf
}

// watcher runs Loader.Watch and records what it hands to onChange.
type watcher struct {
	mu   sync.Mutex
	got  []*Config
	done chan error
}

func startWatch(t *testing.T, l *Loader) (*watcher, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{done: make(chan error, 1)}
	go func() {
		w.done <- l.Watch(ctx, func(c *Config) {
			w.mu.Lock()
			w.got = append(w.got, c)
			w.mu.Unlock()
		})
	}()
	t.Cleanup(cancel)
	return w, cancel
}

func (w *watcher) last() *Config {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.got) == 0 {
		return nil
	}
	return w.got[len(w.got)-1]
}

func (w *watcher) hasBatchSize(n int) bool {
	c := w.last()
	return c != nil && c.Flush.BatchSize == n
}

// requireStops cancels Watch and requires it to return nil promptly.
func (w *watcher) requireStops(t *testing.T, cancel context.CancelFunc) {
	t.Helper()
	cancel()
	select {
	case err := <-w.done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after cancel")
	}
}

// repeatUntil runs act until cond holds, giving each try 500ms. Watch may
// not be watching yet when the first change lands, so one is not enough.
func repeatUntil(t *testing.T, msg string, act func(), cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		require.False(t, time.Now().After(deadline), "timed out: "+msg)
		act()
		for end := time.Now().Add(500 * time.Millisecond); !cond() && time.Now().Before(end); {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// write returns an act for repeatUntil that writes content to path.
func write(t *testing.T, path, content string) func() {
	return func() { require.NoError(t, os.WriteFile(path, []byte(content), 0o600)) }
}

func batchYAML(n int) string {
	return "flush:\n  batch_size: " + strconv.Itoa(n) + "\n"
}

func TestWatch(t *testing.T) {
	dir := isolate(t)
	logs := captureLog(t)
	path := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte(batchYAML(10)), 0o600))
	t.Setenv("COMMENTD_FLUSH_INTERVAL", "2s") // env still overrides on reload

	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{"--config", path, "--log.level=debug"}))
	w, cancel := startWatch(t, NewLoader(fs))

	repeatUntil(t, "reload to 20", write(t, path, batchYAML(20)), func() bool { return w.hasBatchSize(20) })
	c := w.last()
	require.Equal(t, 2*time.Second, c.Flush.Interval, "env over file")
	require.Equal(t, "debug", c.Log.Level, "flag over file")
	require.Equal(t, path, c.File)

	// An invalid file is logged, naming the key, and dropped: the last
	// config handed out stays the valid one.
	repeatUntil(t, "warning about flush.batch_size", write(t, path, batchYAML(0)), func() bool {
		return strings.Contains(logs.String(), "flush.batch_size")
	})
	require.Contains(t, logs.String(), "level=WARN")
	require.True(t, w.hasBatchSize(20))

	// Editors replace the file by renaming a new one over it.
	tmp := filepath.Join(dir, ".c.yaml.swp")
	require.NoError(t, os.WriteFile(tmp, []byte(batchYAML(30)), 0o600))
	require.NoError(t, os.Rename(tmp, path))
	waitFor(t, 5*time.Second, func() bool { return w.hasBatchSize(30) }, "reload after rename")

	w.mu.Lock()
	for _, c := range w.got {
		require.NotZero(t, c.Flush.BatchSize)
	}
	w.mu.Unlock()
	w.requireStops(t, cancel)
}

// TestWatchSymlinkSwap updates the file the way Kubernetes updates a
// mounted ConfigMap: c.yaml → ..data/c.yaml, and ..data is swapped by rename.
func TestWatchSymlinkSwap(t *testing.T) {
	dir := isolate(t)
	version := func(name string, n int) {
		require.NoError(t, os.Mkdir(filepath.Join(dir, name), 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name, "c.yaml"), []byte(batchYAML(n)), 0o600))
	}
	version("v1", 10)
	version("v2", 20)
	version("v3", 30)
	require.NoError(t, os.Symlink("v1", filepath.Join(dir, "..data")))
	path := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.Symlink(filepath.Join("..data", "c.yaml"), path))
	t.Setenv(envConfig, path)
	w, cancel := startWatch(t, NewLoader(nil))

	// Alternate v2 and v3 until the latest swap is reported.
	swaps, want := 0, 0
	repeatUntil(t, "reload after ..data swap", func() {
		name, n := "v2", 20
		if swaps%2 == 1 {
			name, n = "v3", 30
		}
		swaps++
		tmp := filepath.Join(dir, "..data_tmp")
		require.NoError(t, os.Symlink(name, tmp))
		require.NoError(t, os.Rename(tmp, filepath.Join(dir, "..data")))
		want = n
	}, func() bool { return want != 0 && w.hasBatchSize(want) })
	w.requireStops(t, cancel)
}

func TestWatchWithoutFile(t *testing.T) {
	isolate(t)
	w, cancel := startWatch(t, NewLoader(nil))
	w.requireStops(t, cancel)
	require.Empty(t, w.got)
}

func TestWatchMissingDirectory(t *testing.T) {
	dir := isolate(t)
	t.Setenv(envConfig, filepath.Join(dir, "nope", "c.yaml"))
	err := NewLoader(nil).Watch(context.Background(), func(*Config) {})
	require.ErrorContains(t, err, "nope")
}
