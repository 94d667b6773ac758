package main

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/config"
	"github.com/commentd/commentd/internal/testsvc"
	"github.com/commentd/commentd/store"
	"github.com/stretchr/testify/require"
)

// On a Redis Cluster of three masters: every multi-key script stays in one
// hash slot, fan-out (sharded pub/sub) reaches readers on two nodes in one
// order, joins read Redis, and everything is flushed exactly once.
func TestRedisCluster(t *testing.T) {
	addrs := testsvc.StartRedisCluster(t, 3)
	m := testsvc.StartMongo(t)
	st, err := store.Open(store.Config{URI: m.URI})
	require.NoError(t, err)
	defer st.Close(context.Background())

	base := newClusterConfig(addrs, m.URI)
	app1, stop1 := startApp(t, base)
	base2 := newClusterConfig(addrs, m.URI)
	app2, stop2 := startApp(t, base2)

	var readers []*sioClient
	for _, a := range []*App{app1, app2} {
		for range 2 {
			c := dialSIO(t, a.Addr())
			for p := range 8 {
				c.join(fmt.Sprintf("post-%d", p))
			}
			readers = append(readers, c)
		}
	}
	w1, w2 := dialSIO(t, app1.Addr()), dialSIO(t, app2.Addr())
	var ids []string
	for i := range 80 {
		w := w1
		if i%2 == 1 {
			w = w2
		}
		ids = append(ids, w.post(fmt.Sprintf("post-%d", i%8), fmt.Sprint(i)).ID)
	}
	// Each reader gets all 80, and per post in the same order.
	var first map[string][]string
	for ri, r := range readers {
		per := map[string][]string{}
		for range 80 {
			var c comment.Comment
			require.NoError(t, json.Unmarshal(r.next("comment_added", 20*time.Second).Args[0], &c))
			per[c.PostID] = append(per[c.PostID], c.ID)
		}
		if ri == 0 {
			first = per
			continue
		}
		require.Equal(t, first, per, "reader %d", ri)
	}
	late := dialSIO(t, app2.Addr())
	require.Len(t, late.join("post-3"), 10)

	require.Eventually(t, func() bool {
		n, err := st.Count(context.Background(), "")
		return err == nil && n == 80
	}, time.Minute, 100*time.Millisecond)
	got, err := st.IDs(context.Background())
	require.NoError(t, err)
	require.ElementsMatch(t, ids, got)
	stop2()
	stop1()
}

func newClusterConfig(addrs []string, mongoURI string) *config.Config {
	cfg := config.Default()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Redis.Addrs = addrs
	cfg.Mongo.URI = mongoURI
	cfg.Flush.Interval = 100 * time.Millisecond
	cfg.Flush.LeaseTTL = time.Second
	cfg.Limits.CommentsPerSecond = 0
	cfg.Log.Level = "warn"
	return cfg
}
