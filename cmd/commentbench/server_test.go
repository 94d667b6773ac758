package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/testsvc"
	"github.com/stretchr/testify/require"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// commentdBinary builds commentd once for the tests (without -race: the
// server is not under test here, the scripts are).
func commentdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "commentbench-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "commentd")
		out, err := exec.Command("go", "build", "-o", binPath, "../commentd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

// backend is a redis-server and a devmongo of one test.
type backend struct {
	redis *testsvc.Redis
	mongo *testsvc.Mongo
}

func startBackend(t *testing.T) backend {
	return backend{redis: testsvc.StartRedis(t), mongo: testsvc.StartMongo(t)}
}

// serviceFlags are the flags that point commentd at the backend, with the
// limits off as in bench/run.sh.
func (b backend) serviceFlags(prefix string) []string {
	return []string{"--redis.addrs", b.redis.Addr, "--mongo.uri", b.mongo.URI, "--redis.prefix", prefix,
		"--log.level", "warn", "--limits.comments_per_second", "0", "--limits.connections_per_ip", "0"}
}

// startCommentd runs `commentd serve` on a free port and returns its URL
// and PID once /healthz answers; it is killed when the test ends.
func startCommentd(t *testing.T, b backend, prefix string, extra ...string) (string, int) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testsvc.FreePort(t))
	args := append([]string{"serve", "--http.addr", addr}, b.serviceFlags(prefix)...)
	cmd := exec.Command(commentdBinary(t), append(args, extra...)...)
	var log strings.Builder
	var mu sync.Mutex
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			mu.Lock()
			t.Logf("commentd log:\n%s", log.String())
			mu.Unlock()
		}
	})
	url := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond, "commentd did not answer /healthz")
	return url, cmd.Process.Pid
}
