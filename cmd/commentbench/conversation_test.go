package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// mongoCounterOf opens a command counter on the backend's devmongo.
func mongoCounterOf(t *testing.T, b backend) *mongoCounter {
	t.Helper()
	c, err := openMongo(context.Background(), b.mongo.URI)
	require.NoError(t, err)
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	return &mongoCounter{client: c}
}

// reactions, tiny, against a write-behind commentd (fast flushes): the
// comment's counts and the readers' last comment_reactions hold exactly
// the reactions the users hold, readers get at most push_rate a second,
// and a batch writes the hot comment once.
func TestReactionsSmoke(t *testing.T) {
	b := startBackend(t)
	url, pid := startCommentd(t, b, "reactions", "--flush.interval", "100ms")
	e := &env{url: url, label: "write-behind", serverPID: pid, mongo: mongoCounterOf(t, b), quiet: true}
	res, err := reactions(context.Background(), e, reactionsConfig{Clients: 4, Users: 200, Window: 2, Readers: 3, Kinds: 3,
		Off: 0.2, Duration: 1500 * time.Millisecond, Max: 2000, Settle: time.Minute, Seed: 3})
	require.NoError(t, err)
	v := res.Values
	require.Positive(t, v["reacts"])
	require.Positive(t, v["unreacts"], "some take their reaction back")
	require.LessOrEqual(t, v["reactions"], 2000.0)
	require.Zero(t, v["failed"])
	require.Equal(t, v["reacts"]-v["unreacts"], v["held"], "every react changes the count")
	require.Zero(t, v["finalMismatch"])
	require.Zero(t, v["readersStale"])
	require.Positive(t, v["pushes"])
	// At most 4 a second, one more for the jitter of a receive time.
	require.LessOrEqual(t, v["pushMaxPerSec"], 5.0)
	require.Positive(t, v["pushMinGapMs"])
	require.Equal(t, int64(v["reactions"]), res.Latency["react"].Count)
	require.NotContains(t, v, "notDrained")
	require.Zero(t, v["mongoReads"], "a fresh comment's reactors are all in Redis")
	// Per batch: one update of the hot comment, one insert of reactors and
	// at most one delete.
	require.Positive(t, v["batches"])
	require.Equal(t, v["insertCommands"]+v["updateCommands"]+v["deleteCommands"], v["writeCommands"])
	require.LessOrEqual(t, v["updateCommands"], v["batches"])
	require.LessOrEqual(t, v["insertCommands"], v["batches"])
	require.Equal(t, v["writeCommands"], v["computedWrites"], "devmongo too is sent one update a batch")
	require.InDelta(t, 1000*v["writeCommands"]/v["reactions"], v["writesPer1000Reactions"], 1e-9)
	require.NotEmpty(t, res.Series)
}

// counts, tiny, against a write-behind commentd, where warm requests are
// answered from Redis, and a write-through one, where every request is a
// MongoDB aggregation; the answers equal what was posted.
func TestCountsSmoke(t *testing.T) {
	b := startBackend(t)
	counter := mongoCounterOf(t, b)
	cfg := countsConfig{Posts: 60, Comments: 2, Page: 25, Clients: 3, Duration: time.Second, Max: 5000, Settle: time.Minute, Seed: 5}
	check := func(t *testing.T, res *Result) {
		v := res.Values
		require.Equal(t, 60.0, v["posts"])
		require.Equal(t, 120.0, v["comments"], "post i gets i mod 5")
		require.Equal(t, 3.0, v["coldRequests"], "60 posts in pages of 25")
		require.Positive(t, v["requests"])
		require.LessOrEqual(t, v["requests"], 5000.0)
		require.Zero(t, v["failed"])
		require.Zero(t, v["wrong"])
		require.InDelta(t, v["coldRequests"], v["coldMongoReads"], 0, "one aggregation per cold request")
		require.Equal(t, int64(v["requests"]), res.Latency["warm"].Count)
		require.Equal(t, int64(3), res.Latency["warmPass"].Count)
	}
	t.Run("write-behind", func(t *testing.T) {
		url, pid := startCommentd(t, b, "counts-wb", "--mongo.database", "counts_wb", "--flush.interval", "100ms")
		e := &env{url: url, label: "write-behind", serverPID: pid, mongo: counter, quiet: true}
		res, err := counts(context.Background(), e, cfg)
		require.NoError(t, err)
		check(t, res)
		require.Zero(t, res.Values["mongoReads"], "warm counts come from Redis")
	})
	t.Run("write-through", func(t *testing.T) {
		url, pid := startCommentd(t, b, "counts-wt", "--mongo.database", "counts_wt", "--flush.mode", "write-through")
		e := &env{url: url, label: "write-through", serverPID: pid, mongo: counter, quiet: true}
		res, err := counts(context.Background(), e, cfg)
		require.NoError(t, err)
		check(t, res)
		require.Equal(t, res.Values["requests"], res.Values["mongoReads"], "one aggregation per request")
	})
}

func TestCountsDiff(t *testing.T) {
	require.Zero(t, countsDiff(nil, map[string]int{}))
	require.Equal(t, 3, countsDiff(map[string]int{"👍": 2, "❤️": 1}, map[string]int{"👍": 1, "😂": 1}))
	m, err := ackedReactions([]byte(`[{"ok":true,"comment":{"_id":"x","reactions":{"👍":3}}}]`))
	require.NoError(t, err)
	require.Equal(t, map[string]int{"👍": 3}, m)
	_, err = ackedReactions([]byte(`[{"ok":false,"error":{"code":"NOT_FOUND"}}]`))
	require.Error(t, err)
}
