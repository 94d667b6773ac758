package testsvc

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	sup "github.com/commentd/commentd/internal/proc"
)

// StartRedisCluster starts n redis-server masters with cluster mode on,
// joins them into one cluster (redis-cli --cluster create) and returns
// their addresses. They stop when the test ends.
func StartRedisCluster(t testing.TB, n int) []string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("testsvc: redis-server not found (make test installs it): %v", err)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("testsvc: redis-cli not found: %v", err)
	}
	var addrs []string
	for i := range n {
		dir := t.TempDir()
		port := FreePort(t)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		p := &proc{t: t, Process: &sup.Process{Name: fmt.Sprintf("redis-cluster-%d", i), Addr: addr, Path: path,
			Log: filepath.Join(dir, "redis.log"),
			Args: []string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", dir,
				"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
				"--appendonly", "yes", "--save", "", "--maxmemory-policy", "noeviction",
				"--daemonize", "no", "--loglevel", "warning"}}}
		p.start()
		t.Cleanup(func() { p.stop(syscall.SIGKILL) })
		addrs = append(addrs, addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("testsvc: redis-cli --cluster create: %v\n%s", err, out)
	}
	// Wait until every node agrees the cluster is up.
	deadline := time.Now().Add(30 * time.Second)
	for _, a := range addrs {
		host, port, _ := strings.Cut(a, ":")
		for {
			out, _ := exec.Command(cli, "-h", host, "-p", port, "cluster", "info").Output()
			if strings.Contains(string(out), "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("testsvc: cluster not ok at %s: %s", a, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return addrs
}
