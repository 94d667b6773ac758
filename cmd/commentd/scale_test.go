package main

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/stretchr/testify/require"
)

// Three flushing nodes share six shards, two each; when one stops its
// shards move to the others; comments appended all along are stored
// exactly once.
func TestFlushSharesSpreadOverNodes(t *testing.T) {
	e := newEnv(t, 6)
	var apps []*App
	var stops []func()
	for range 3 {
		app, stop := startApp(t, e.config(6))
		apps, stops = append(apps, app), append(stops, stop)
	}
	held := func() []int {
		var out []int
		for _, a := range apps {
			out = append(out, a.fl.Held())
		}
		return out
	}

	var mu sync.Mutex
	var ids []string
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			c, _ := comment.New(comment.Input{PostID: fmt.Sprintf("p%d", i%30), UserID: "u", Content: "x"}, time.Now(), 0)
			if e.buf.Append(context.Background(), c) == nil {
				mu.Lock()
				ids = append(ids, c.ID)
				mu.Unlock()
			}
			time.Sleep(time.Millisecond)
		}
	}()

	require.Eventually(t, func() bool {
		h := held()
		return h[0] == 2 && h[1] == 2 && h[2] == 2
	}, 20*time.Second, 50*time.Millisecond, "fair shares: %v", held())

	stops[2]() // drains, releases, leaves
	apps = apps[:2]
	require.Eventually(t, func() bool {
		h := held()
		return h[0] == 3 && h[1] == 3
	}, 20*time.Second, 50*time.Millisecond, "shares after a node left: %v", held())

	close(done)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	e.requireStoredExactly(t, ids, time.Minute)
	stops[1]()
	stops[0]()
}

// Roles: a socket-only node (flush.enabled false) buffers; a separate
// `commentd flush` worker moves the buffer into MongoDB, and drains on
// SIGTERM.
func TestFlushWorkerRole(t *testing.T) {
	e := newEnv(t, 2)
	cfg := e.config(2)
	cfg.Flush.Enabled = false
	app, stop := startApp(t, cfg)
	c := dialSIO(t, app.Addr())
	var ids []string
	for i := range 20 {
		ids = append(ids, c.post("roles", fmt.Sprint(i)).ID)
	}
	time.Sleep(300 * time.Millisecond)
	n, err := e.store.Count(context.Background(), "")
	require.NoError(t, err)
	require.Zero(t, n, "a socket-only node does not flush")

	w := startBinary(t, append([]string{"flush"}, e.args(2, "--flush.interval", "100ms", "--log.level", "info")...)...)
	e.requireStoredExactly(t, ids, time.Minute)
	for i := range 5 {
		ids = append(ids, c.post("roles", fmt.Sprint("more ", i)).ID)
	}
	e.requireStoredExactly(t, ids, time.Minute)
	require.NoError(t, w.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, w.wait(t, 30*time.Second))
	stop()
}
