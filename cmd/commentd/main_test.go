package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commentd/commentd/buffer"
	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/config"
	"github.com/commentd/commentd/internal/testsvc"
	"github.com/commentd/commentd/store"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv("COMMENTD_TEST_HELPER") != "" {
		os.Exit(helperMain())
	}
	goleak.VerifyTestMain(m)
}

// env is a Redis and a devmongo for one test, with clients on them.
type env struct {
	redis *testsvc.Redis
	mongo *testsvc.Mongo
	rdb   *redis.Client
	buf   *buffer.Buffer // a producer, as the socket layer would be
	store *store.Store   // to check what reached MongoDB
}

func newEnv(t testing.TB, shards int) *env {
	t.Helper()
	e := &env{redis: testsvc.StartRedis(t), mongo: testsvc.StartMongo(t)}
	e.rdb = redis.NewClient(&redis.Options{Addr: e.redis.Addr})
	e.buf = buffer.New(e.rdb, buffer.Config{Shards: shards})
	st, err := store.Open(store.Config{URI: e.mongo.URI})
	require.NoError(t, err)
	e.store = st
	t.Cleanup(func() {
		e.buf.Close()
		e.rdb.Close()
		st.Close(context.Background())
	})
	return e
}

// config returns a config for this env with quick flushes and leases.
func (e *env) config(shards int) *config.Config {
	cfg := config.Default()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Redis.Addrs = []string{e.redis.Addr}
	cfg.Mongo.URI = e.mongo.URI
	cfg.Buffer.Shards = shards
	cfg.Flush.Interval = 100 * time.Millisecond
	cfg.Flush.LeaseTTL = time.Second
	cfg.Log.Level = "warn"
	cfg.Limits.CommentsPerSecond = 0 // tests that post in volume; rate limits have their own
	return cfg
}

// args returns the same settings as flags of the binary.
func (e *env) args(shards int, extra ...string) []string {
	return append([]string{
		"--http.addr", "127.0.0.1:0",
		"--redis.addrs", e.redis.Addr,
		"--mongo.uri", e.mongo.URI,
		"--buffer.shards", fmt.Sprint(shards),
		"--flush.lease_ttl", "1s",
		"--log.level", "warn",
	}, extra...)
}

// appendN appends n comments with w concurrent writers over a few posts and
// returns the ids Redis accepted.
func (e *env) appendN(t *testing.T, n, w int) []string {
	t.Helper()
	var (
		mu  sync.Mutex
		ids []string
		wg  sync.WaitGroup
	)
	errs := make(chan error, w)
	for i := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := i; j < n; j += w {
				c, err := comment.New(comment.Input{PostID: fmt.Sprintf("post%d", j%17), UserID: "u",
					Content: fmt.Sprintf("comment %d", j)}, time.Now(), 0)
				if err == nil {
					err = e.buf.Append(context.Background(), c)
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				ids = append(ids, c.ID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	return ids
}

// requireStoredExactly waits until MongoDB holds exactly want (as a set, each
// id once) and nothing is left in Redis.
func (e *env) requireStoredExactly(t *testing.T, want []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var got []string
	for {
		ids, err := e.store.IDs(context.Background())
		if err == nil {
			got = ids
			if len(got) >= len(want) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("MongoDB holds %d of %d comments after %s", len(got), len(want), within)
		}
		time.Sleep(100 * time.Millisecond)
	}
	slices.Sort(got)
	w := slices.Clone(want)
	slices.Sort(w)
	require.Equal(t, len(w), len(got), "count in MongoDB")
	for i := range w {
		if w[i] != got[i] {
			t.Fatalf("MongoDB differs from what was confirmed at sorted index %d: want %s, got %s", i, w[i], got[i])
		}
	}
	// The last batch may be stored and not yet acked: wait for the ack.
	for s := range e.buf.Shards() {
		var n int64
		for {
			var err error
			n, err = e.buf.Pending(context.Background(), s)
			require.NoError(t, err)
			if n == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		require.Zero(t, n, "shard %d still holds comments", s)
	}
}

func startApp(t testing.TB, cfg *config.Config) (*App, func()) {
	t.Helper()
	app, err := NewApp(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	return app, func() {
		cancel()
		require.NoError(t, <-done)
	}
}

// build is one build of the commentd binary, made once per test process.
type build struct {
	once sync.Once
	path string
	err  error
}

var raceBuild, plainBuild build

// commentdBinary builds commentd once, with -race, for the tests that run
// it as a process.
func commentdBinary(t testing.TB) string {
	t.Helper()
	return raceBuild.get(t, "-race")
}

// plainBinary builds commentd once without -race, for measurements.
func plainBinary(t testing.TB) string {
	t.Helper()
	return plainBuild.get(t)
}

func (b *build) get(t testing.TB, flags ...string) string {
	t.Helper()
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "commentd-bin")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "commentd")
		args := append(append([]string{"build"}, flags...), "-o", b.path, ".")
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, b.err)
	return b.path
}

// proc is a commentd process of a test.
type proc struct {
	cmd    *exec.Cmd
	stdout *bufio.Scanner
	stderr *lockedBuf
	done   chan error
}

func startBinary(t testing.TB, args ...string) *proc {
	t.Helper()
	return startBinaryAt(t, commentdBinary(t), args...)
}

// startBinaryAt runs the commentd binary at path.
func startBinaryAt(t testing.TB, path string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(path, args...)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	p := &proc{cmd: cmd, stdout: bufio.NewScanner(out), stderr: &lockedBuf{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	require.NoError(t, cmd.Start())
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

// waitLine waits for a stdout line containing s; the rest of stdout is
// drained. Call it once per process.
func (p *proc) waitLine(t testing.TB, s string) string {
	t.Helper()
	lines := make(chan string, 1)
	go func() {
		found := false
		for p.stdout.Scan() {
			if !found && strings.Contains(p.stdout.Text(), s) {
				found = true
				lines <- p.stdout.Text()
			}
		}
		if !found {
			close(lines)
		}
	}()
	select {
	case l, ok := <-lines:
		require.True(t, ok, "process ended before printing %q; stderr:\n%s", s, p.stderr)
		return l
	case <-time.After(30 * time.Second):
		t.Fatalf("no %q on stdout after 30s; stderr:\n%s", s, p.stderr)
		return ""
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if err == nil {
			return 0
		}
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		t.Fatal(err)
	case <-time.After(within):
		t.Fatalf("process still running after %s; stderr:\n%s", within, p.stderr)
	}
	return -1
}

type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(b)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
