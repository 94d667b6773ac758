package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/commentd/commentd/buffer"
	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/flusher"
	"github.com/commentd/commentd/internal/testsvc"
	"github.com/commentd/commentd/store"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// Guarantee 1: 20,000 comments from 50 concurrent writers reach MongoDB
// exactly once.
func TestConcurrentWritersExactlyOnce(t *testing.T) {
	e := newEnv(t, 4)
	_, stop := startApp(t, e.config(4))
	ids := e.appendN(t, 20000, 50)
	e.requireStoredExactly(t, ids, 2*time.Minute)
	stop()
}

// Guarantee 1: a flusher killed (SIGKILL) after its insert and before its
// ack loses and duplicates nothing once a new holder takes the lease.
func TestFlusherKilledBetweenInsertAndAck(t *testing.T) {
	e := newEnv(t, 1)
	ids := e.appendN(t, 2500, 10)
	e.crashFlusherAfterWrite(t)

	// The batch is in MongoDB and still in flight in Redis.
	stored, err := e.store.Count(context.Background(), "")
	require.NoError(t, err)
	require.EqualValues(t, 1000, stored)
	pending, err := e.buf.Pending(context.Background(), 0)
	require.NoError(t, err)
	require.EqualValues(t, 2500, pending, "nothing acked")

	// A new flusher waits for the dead holder's lease (1s) and finishes.
	fl := flusher.New(e.buf, e.store, flusher.Config{BatchSize: 1000, LeaseTTL: time.Second, IsLeaseLost: isLeaseLost})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	flushed, _, err := fl.FlushOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 2500, flushed, "the in-flight batch is flushed again, then the rest")
	e.requireStoredExactly(t, ids, time.Minute)
}

// crashFlusherAfterWrite runs a flusher in a child process (helperMain)
// that writes its first batch of 1000 to MongoDB and is SIGKILLed before
// its ack.
func (e *env) crashFlusherAfterWrite(t *testing.T) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "COMMENTD_TEST_HELPER=crash-after-insert",
		"HELPER_REDIS="+e.redis.Addr, "HELPER_MONGO="+e.mongo.URI)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	line := make([]byte, 64)
	n, err := out.Read(line)
	require.NoError(t, err)
	require.Equal(t, "INSERTED 1000\n", string(line[:n]))
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	cmd.Wait()
}

// helperMain runs in a child process: a flusher whose sink reports after
// its first insert and then hangs, waiting for SIGKILL.
func helperMain() int {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("HELPER_REDIS")})
	buf := buffer.New(rdb, buffer.Config{Shards: 1})
	st, err := store.Open(store.Config{URI: os.Getenv("HELPER_MONGO")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fl := flusher.New(buf, hangAfterInsert{st}, flusher.Config{BatchSize: 1000, LeaseTTL: time.Second, IsLeaseLost: isLeaseLost})
	_, _, err = fl.FlushOnce(context.Background())
	fmt.Fprintln(os.Stderr, "helper: FlushOnce returned:", err)
	return 1
}

type hangAfterInsert struct{ st *store.Store }

func (h hangAfterInsert) Write(ctx context.Context, cs []comment.Change) ([]comment.Rejected, error) {
	rej, err := h.st.Write(ctx, cs)
	if err != nil || len(rej) > 0 {
		return rej, err
	}
	fmt.Printf("INSERTED %d\n", len(cs))
	select {}
}

// Guarantees 1 and 4 of the core: with MongoDB stopped, appends keep
// succeeding; once it is back, every comment arrives exactly once.
func TestMongoDownWhileAppending(t *testing.T) {
	e := newEnv(t, 4)
	app, stop := startApp(t, e.config(4))
	e.mongo.Stop()
	ids := e.appendN(t, 5000, 20)
	// The flusher fails and backs off a few times.
	require.Eventually(t, func() bool { return testutil.ToFloat64(app.metrics.mongoErrors) >= 3 },
		30*time.Second, 20*time.Millisecond)
	var pending int64
	for s := range 4 {
		n, err := e.buf.Pending(context.Background(), s)
		require.NoError(t, err)
		pending += n
	}
	require.EqualValues(t, 5000, pending, "all buffered while MongoDB is down")
	e.mongo.Start()
	e.requireStoredExactly(t, ids, 2*time.Minute)
	stop()
}

// Guarantee 7: over the high-water mark Append answers BUSY, and every
// comment accepted before reaches MongoDB (flush --once, exit 0).
func TestBusyThenFlushOnce(t *testing.T) {
	e := newEnv(t, 2)
	b := buffer.New(e.rdb, buffer.Config{Shards: 2, MaxLen: 100})
	defer b.Close()
	var accepted []string
	busy := 0
	for i := range 300 {
		c, err := comment.New(comment.Input{PostID: fmt.Sprintf("p%d", i%5), UserID: "u", Content: "x"}, time.Now(), 0)
		require.NoError(t, err)
		switch err := b.Append(context.Background(), c); {
		case err == nil:
			accepted = append(accepted, c.ID)
		case errors.Is(err, buffer.ErrBusy):
			busy++
		default:
			t.Fatal(err)
		}
	}
	require.LessOrEqual(t, len(accepted), 100)
	require.GreaterOrEqual(t, len(accepted), 50)
	require.Equal(t, 300-len(accepted), busy)

	p := startBinary(t, append([]string{"flush", "--once"}, e.args(2)...)...)
	p.waitLine(t, fmt.Sprintf("flushed %d entries", len(accepted)))
	require.Equal(t, 0, p.wait(t, time.Minute))
	e.requireStoredExactly(t, accepted, time.Minute)
}

// flush --once fails with a clear message and a non-zero exit code when
// Redis or MongoDB cannot be reached.
func TestFlushOnceUnreachable(t *testing.T) {
	e := newEnv(t, 1)
	dead := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"redis", []string{"--redis.addrs", dead}, "redis [" + dead + "] unreachable"},
		{"mongo", []string{"--mongo.uri", "mongodb://" + dead}, "mongodb mongodb://" + dead + " unreachable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := e.args(1)
			for i := 0; i < len(args); i += 2 {
				if args[i] == tc.args[0] {
					args[i+1] = tc.args[1]
				}
			}
			p := startBinary(t, append([]string{"flush", "--once"}, args...)...)
			require.Equal(t, 1, p.wait(t, time.Minute))
			require.Contains(t, p.stderr.String(), tc.msg)
		})
	}
}

// Guarantee 8: commentd serve with a backlog drains it into MongoDB on
// SIGTERM, exits 0 and releases its leases.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	e := newEnv(t, 4)
	// Batch size and interval so large that only the drain flushes; a
	// drain timeout a loaded machine cannot reach (the default 10s was
	// reached once, with devmongo sharing 2 cores with a chaos run).
	p := startBinary(t, append([]string{"serve"}, e.args(4, "--flush.interval", "1h", "--flush.batch_size", "100000",
		"--flush.drain_timeout", "1m")...)...)
	p.waitLine(t, "listening on")
	ids := e.appendN(t, 3000, 10)
	time.Sleep(300 * time.Millisecond)
	n, err := e.store.Count(context.Background(), "")
	require.NoError(t, err)
	require.Zero(t, n, "nothing flushed before SIGTERM")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, p.wait(t, time.Minute), "stderr:\n%s", p.stderr)
	e.requireStoredExactly(t, ids, 10*time.Second)
	keys, err := e.rdb.Keys(context.Background(), "cmt:*:lease").Result()
	require.NoError(t, err)
	require.Empty(t, keys, "leases released")
}

// A changed flush.batch_size in the config file applies without restart.
func TestConfigReloadBatchSize(t *testing.T) {
	e := newEnv(t, 1)
	file := filepath.Join(t.TempDir(), "config.yaml")
	write := func(batch int) {
		yaml := fmt.Sprintf("flush:\n  batch_size: %d\n  interval: 1h\n", batch)
		tmp := file + ".tmp"
		require.NoError(t, os.WriteFile(tmp, []byte(yaml), 0o644))
		require.NoError(t, os.Rename(tmp, file))
	}
	write(1000)
	p := startBinary(t, append([]string{"serve", "--config", file}, e.args(1, "--log.level", "info")...)...)
	p.waitLine(t, "listening on")
	ids := e.appendN(t, 10, 1)
	time.Sleep(500 * time.Millisecond)
	n, err := e.store.Count(context.Background(), "")
	require.NoError(t, err)
	require.Zero(t, n, "10 < batch_size 1000 and the interval is an hour")

	write(5)
	e.requireStoredExactly(t, ids, 30*time.Second)
	require.Contains(t, p.stderr.String(), "flush settings changed")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, p.wait(t, time.Minute))
}

func freePort(t *testing.T) int { return testsvc.FreePort(t) }

// A document MongoDB keeps refusing goes to the shard's dead-letter list,
// with the reason, after flush.max_attempts; the rest of its batch is
// stored, and nothing loops forever.
func TestDeadLetterEndToEnd(t *testing.T) {
	e := newEnv(t, 1)
	ids := e.appendN(t, 20, 2)
	bad, err := comment.New(comment.Input{PostID: "p", UserID: "u", Content: "refused"}, time.Now(), 0)
	require.NoError(t, err)
	bad.ID = "not-an-objectid" // MongoDB cannot take it as an ObjectId
	require.NoError(t, e.buf.Append(context.Background(), bad))
	ids = append(ids, e.appendN(t, 20, 2)...)

	cfg := e.config(1)
	cfg.Flush.MaxAttempts = 2
	_, stop := startApp(t, cfg)
	e.requireStoredExactly(t, ids, time.Minute)
	dead, err := e.buf.DeadLetters(context.Background(), 0)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	require.Equal(t, bad.ID, dead[0].Comment.ID)
	require.Contains(t, dead[0].Reason, "not-an-objectid")
	stop()
}

// flush --once beside a serving node whose flusher holds every lease skips
// those shards at once (the node drains them) and exits 0.
func TestFlushOnceSkipsLiveHolders(t *testing.T) {
	e := newEnv(t, 4)
	app, stop := startApp(t, e.config(4))
	defer stop()
	require.Eventually(t, func() bool { return app.fl.Held() == 4 }, 10*time.Second, 20*time.Millisecond)
	p := startBinary(t, append([]string{"flush", "--once"}, e.args(4)...)...)
	p.waitLine(t, "skipped shards [0 1 2 3]: held by a live flusher")
	require.Equal(t, 0, p.wait(t, 30*time.Second))
}

// /readyz answers within a probe's timeout (1s) when Redis hangs (SIGSTOP,
// not stopped): 503 naming Redis. A hung MongoDB does not delay it either.
func TestReadyzWhenBackendsHang(t *testing.T) {
	e := newEnv(t, 1)
	app, stop := startApp(t, e.config(1))
	probe := &http.Client{Timeout: time.Second}
	get := func() (int, map[string]string) {
		t.Helper()
		resp, err := probe.Get("http://" + app.Addr() + "/readyz")
		require.NoError(t, err, "a probe with the default 1s timeout")
		defer resp.Body.Close()
		var res map[string]string
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&res))
		return resp.StatusCode, res
	}
	code, _ := get()
	require.Equal(t, http.StatusOK, code)

	e.redis.Pause()
	code, res := get()
	e.redis.Resume()
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, res["redis"], "unreachable")

	// A hung MongoDB never holds the probe past its timeout (and never
	// makes it 503).
	e.mongo.Pause()
	code, _ = get()
	e.mongo.Resume()
	require.Equal(t, http.StatusOK, code)
	stop()
}
