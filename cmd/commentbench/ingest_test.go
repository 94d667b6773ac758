package main

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/realtime/socketio"
	"github.com/stretchr/testify/require"
)

func TestLoopbackOnly(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:80", "http://127.9.9.9:1"} {
		require.NoError(t, loopbackOnly(ok), ok)
	}
	for _, bad := range []string{"http://10.0.0.1:8080", "http://example.com", "http://0.0.0.0:80", "::", "http://192.168.1.2:8080"} {
		require.Error(t, loopbackOnly(bad), bad)
	}
	require.NoError(t, loopbackMongo("mongodb://127.0.0.1:27017"))
	for _, bad := range []string{"mongodb://10.1.2.3:27017", "mongodb+srv://cluster.example.com", "http://127.0.0.1:1"} {
		require.Error(t, loopbackMongo(bad), bad)
	}
	// The command refuses before it connects anywhere.
	err := run(context.Background(), []string{"ingest", "-url", "http://10.0.0.1:8080", "-quiet"})
	require.ErrorContains(t, err, "only loopback")
	err = run(context.Background(), []string{"join", "-url", "http://127.0.0.1:1", "-mongo", "mongodb://10.0.0.1:27017"})
	require.ErrorContains(t, err, "only loopback")
}

// Every scenario but drain, tiny, against one real commentd (write-behind,
// fast flushes) on real redis-server and devmongo.
func TestScenariosSmoke(t *testing.T) {
	b := startBackend(t)
	url, pid := startCommentd(t, b, "smoke", "--flush.interval", "100ms")
	ctx := context.Background()
	counter := func() *mongoCounter {
		c, err := openMongo(ctx, b.mongo.URI)
		require.NoError(t, err)
		t.Cleanup(func() { c.Disconnect(context.Background()) })
		return &mongoCounter{client: c}
	}()
	e := &env{url: url, label: "write-behind", serverPID: pid, mongo: counter, quiet: true}

	t.Run("ingest", func(t *testing.T) {
		res, err := ingest(ctx, e, ingestConfig{Clients: 4, Posts: 2, Window: 2, Duration: 500 * time.Millisecond, Max: 2000})
		require.NoError(t, err)
		v := res.Values
		require.Positive(t, v["confirmed"])
		require.Zero(t, v["failed"])
		require.LessOrEqual(t, v["confirmed"], 2000.0)
		// Each comment reaches the 2 members of its post's room.
		require.InDelta(t, 2*v["confirmed"], v["deliveries"], 2*4*2)
		require.Greater(t, res.Latency["confirm"].Max, 0.0)
	})
	t.Run("sustained", func(t *testing.T) {
		res, err := sustained(ctx, e, sustainedConfig{Rate: 200, Clients: 4, Posts: 2, Window: 16,
			Duration: 1500 * time.Millisecond, Settle: 20 * time.Second})
		require.NoError(t, err)
		v := res.Values
		require.InDelta(t, 300, v["confirmed"], 60)
		require.Zero(t, v["notEmptied"])
		require.Positive(t, v["insertCommands"])
		require.Less(t, v["insertsPer1000"], 1000.0, "write-behind inserts in batches")
		require.NotEmpty(t, res.Series)
		require.Contains(t, res.Series[0].Values, "depth")
	})
	t.Run("fanout", func(t *testing.T) {
		res, err := fanout(ctx, e, fanoutConfig{Subscribers: 20, Rate: 50, Duration: time.Second, Grace: 10 * time.Second})
		require.NoError(t, err)
		v := res.Values
		require.InDelta(t, 50, v["published"], 2)
		require.Equal(t, 20*v["confirmed"], v["deliveries"])
		require.Zero(t, v["misses"])
		require.Zero(t, v["disconnected"])
		require.Equal(t, int64(v["deliveries"]), res.Latency["delivery"].Count)
	})
	t.Run("conns", func(t *testing.T) {
		res, err := conns(ctx, e, connsConfig{Conns: 60, Sources: 3, Posts: 2, Hold: 200 * time.Millisecond})
		require.NoError(t, err)
		require.Equal(t, 60.0, res.Values["conns"])
		require.GreaterOrEqual(t, res.Values["serverConns"], 60.0)
		require.Positive(t, res.Values["rssHeldMB"])
	})
	t.Run("join", func(t *testing.T) {
		res, err := join(ctx, e, joinConfig{Clients: 4, Posts: 2, Warm: 20, Duration: 500 * time.Millisecond})
		require.NoError(t, err)
		require.Positive(t, res.Values["loads"])
		require.Zero(t, res.Values["failed"])
		require.Contains(t, res.Values, "mongoReads")
	})
}

// drain: a commentd without a flusher fills the buffer, a `commentd flush`
// worker empties it, then the raw insert runs.
func TestDrainSmoke(t *testing.T) {
	b := startBackend(t)
	url, _ := startCommentd(t, b, "drain", "--flush.enabled=false")
	flushCmd := commentdBinary(t) + " flush " + strings.Join(b.serviceFlags("drain"), " ")
	dir := t.TempDir()
	out := filepath.Join(dir, "drain.json")
	err := run(context.Background(), []string{"drain", "-url", url, "-mongo", b.mongo.URI, "-quiet", "-n", "3000",
		"-clients", "8", "-posts", "4", "-flush-cmd", flushCmd, "-label", "write-behind", "-json", out})
	require.NoError(t, err)
	res, err := readResult(out)
	require.NoError(t, err)
	require.Equal(t, 3000.0, res.Values["backlog"])
	require.Positive(t, res.Values["drainPerSec"])
	require.Positive(t, res.Values["rawInsertPerSec"])
	require.Contains(t, res.Procs, "commentbench")
	require.Contains(t, res.Procs, "commentd-flush")
	_, err = os.Stat(out)
	require.NoError(t, err)
}

// The client peeks at packets instead of decoding them; it must read what
// the server's own encoders write.
func TestPeekPackets(t *testing.T) {
	at := time.Date(2026, 11, 26, 4, 5, 6, 789e6, time.UTC)
	c, err := json.Marshal(comment.Comment{ID: "0123456789abcdef01234567", PostID: "p", UserID: "u",
		Content: `fake "createdAt":"2001-01-01T00:00:00.000Z" and "comment_added"`, CreatedAt: at})
	require.NoError(t, err)
	added := socketio.AppendEvent(nil, "/", -1, "comment_added", c, json.RawMessage(`"0123456789abcdef01234567"`))
	got, ok := decodeAdded(added)
	require.True(t, ok)
	require.True(t, at.Equal(got), "createdAt %s, want %s", got, at)
	for _, other := range [][]byte{
		socketio.AppendEvent(nil, "/", -1, "comment_persisted", json.RawMessage(`{"ids":[]}`)),
		socketio.AppendEvent(nil, "/", -1, "comment_confirmed", json.RawMessage(`{"comment":`+string(c)+`}`)),
		[]byte(`2["comment_added"]`),
	} {
		_, ok := decodeAdded(other)
		require.False(t, ok, "%s", other)
	}

	// The id and version of the comment in an ack; no v is version 1.
	for _, v := range []int{0, 1, 12} {
		c, err := json.Marshal(comment.Comment{ID: "0123456789abcdef01234567", PostID: "p", UserID: "u",
			Content: `fake "v":99 and "_id":"ffffffffffffffffffffffff"`, CreatedAt: at, V: v})
		require.NoError(t, err)
		ack := socketio.AppendEncode(nil, &socketio.Packet{Type: socketio.PacketAck, Namespace: "/", ID: 7,
			Data: json.RawMessage(`[{"ok":true,"comment":` + string(c) + `}]`)})
		_, payload, ok := decodeAck(ack)
		require.True(t, ok)
		id, got, ok := decodeAckedComment(payload)
		require.True(t, ok)
		require.Equal(t, "0123456789abcdef01234567", id)
		require.Equal(t, max(v, 1), got, "%s", ack)
	}
	_, _, ok = decodeAckedComment([]byte(`[{"ok":false,"error":{"code":"NOT_FOUND"}}]`))
	require.False(t, ok)

	ack := socketio.AppendEncode(nil, &socketio.Packet{Type: socketio.PacketAck, Namespace: "/", ID: 42, Data: json.RawMessage(`[{"ok":true}]`)})
	id, payload, ok := decodeAck(ack)
	require.True(t, ok, "%s", ack)
	require.Equal(t, int64(42), id)
	require.True(t, ackOK(payload))
	for _, other := range []string{"3", "3[]", "342", "2[\"x\"]", `3a[{"ok":true}]`} {
		_, _, ok := decodeAck([]byte(other))
		require.False(t, ok, other)
	}
}

// changes, tiny, against a write-behind commentd (fast flushes) and a
// write-through one on real redis-server and devmongo: every kind of
// operation is confirmed, and the MongoDB write commands add up.
func TestChangesSmoke(t *testing.T) {
	b := startBackend(t)
	ctx := context.Background()
	counter := func() *mongoCounter {
		c, err := openMongo(ctx, b.mongo.URI)
		require.NoError(t, err)
		t.Cleanup(func() { c.Disconnect(context.Background()) })
		return &mongoCounter{client: c}
	}()
	cfg := changesConfig{Clients: 4, Posts: 2, Window: 2, Duration: 2 * time.Second, Max: 400,
		Mix: opMix{Edit: 0.3, Delete: 0.1}, Warm: 8, MinAge: 100 * time.Millisecond, Settle: time.Minute, Seed: 7}

	check := func(t *testing.T, res *Result) {
		v := res.Values
		require.Positive(t, v["creates"])
		require.Positive(t, v["edits"])
		require.Positive(t, v["deletes"])
		require.Equal(t, v["edits"]+v["deletes"], v["changes"])
		require.LessOrEqual(t, v["creates"]+v["changes"], 400.0)
		require.Zero(t, v["failed"], "an edit carries the version of the last ack: a CONFLICT is a lost update")
		require.NotContains(t, v, "notDrained")
		// Each operation reaches the 2 members of its post's room.
		require.InDelta(t, 2*(v["creates"]+v["changes"]), v["deliveries"], 2*4*2)
		require.Equal(t, int64(v["creates"]), res.Latency["create"].Count)
		require.Equal(t, int64(v["changes"]), res.Latency["change"].Count)
		require.Positive(t, v["updateCommands"], "the warm comments are stored before they change")
		require.Equal(t, v["insertCommands"]+v["updateCommands"], v["writeCommands"])
		require.InDelta(t, 1000*v["writeCommands"]/v["changes"], v["writesPer1000Changes"], 1e-9)
	}

	t.Run("write-behind", func(t *testing.T) {
		url, pid := startCommentd(t, b, "changes-wb", "--mongo.database", "changes_wb", "--flush.interval", "100ms")
		e := &env{url: url, label: "write-behind", serverPID: pid, mongo: counter, quiet: true}
		res, err := changes(ctx, e, cfg)
		require.NoError(t, err)
		check(t, res)
		v := res.Values
		require.Positive(t, v["batches"])
		require.Positive(t, v["insertCommands"])
		// Real MongoDB: the same inserts, at most one update command a batch.
		require.LessOrEqual(t, v["computedWrites"], v["writeCommands"])
		require.LessOrEqual(t, v["computedWrites"], v["insertCommands"]+v["batches"])
		require.GreaterOrEqual(t, v["computedWrites"], v["insertCommands"]+1)
	})
	t.Run("write-through", func(t *testing.T) {
		url, pid := startCommentd(t, b, "changes-wt", "--mongo.database", "changes_wt", "--flush.mode", "write-through")
		e := &env{url: url, label: "write-through", serverPID: pid, mongo: counter, quiet: true}
		res, err := changes(ctx, e, cfg)
		require.NoError(t, err)
		check(t, res)
		v := res.Values
		// One insert per comment, one update per edit or delete, and no batches.
		require.Equal(t, v["creates"], v["insertCommands"])
		require.Equal(t, v["changes"], v["updateCommands"])
		require.Zero(t, v["batches"])
		require.Equal(t, v["writeCommands"], v["computedWrites"])
	})
}

func TestOpMix(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var n [numOps]int
	for range 14_000 {
		n[opMix{Edit: 0.3, Delete: 0.1}.pick(r)]++
	}
	require.InDelta(t, 10_000, n[opCreate], 300)
	require.InDelta(t, 3_000, n[opEdit], 200)
	require.InDelta(t, 1_000, n[opDelete], 150)
	for range 100 {
		require.Equal(t, opCreate, opMix{}.pick(r))
	}
}
