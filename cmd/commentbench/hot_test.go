package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/commentd/commentd/internal/testsvc"
	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary serve as hot's worker processes: hot
// re-executes os.Executable(), which is the test binary here.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "hot-worker" {
		if err := hotWorker(context.Background(), os.Args[2:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "hot-worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// comment returns the JSON of a bench comment as commentd sends it.
func benchJSON(seq int64, sent time.Time) string {
	return fmt.Sprintf(`{"_id":"65f0c0ffee0000000000%04x","postId":"p","userId":"w","content":"fo %d %d","createdAt":"2026-12-07T05:00:00.000Z"}`,
		seq, seq, sent.UnixNano())
}

func TestBenchComment(t *testing.T) {
	sent := time.Now().Add(-time.Millisecond)
	frame := []byte(`2["comments_added",[` + benchJSON(1, sent) + `,` + benchJSON(2, sent) + `],"65f0c0ffee00000000000002"]`)
	var seqs []int64
	for data := frame; ; {
		seq, at, rest, ok := benchComment(data)
		if !ok {
			break
		}
		require.Equal(t, sent.UnixNano(), at)
		seqs, data = append(seqs, seq), rest
	}
	require.Equal(t, []int64{1, 2}, seqs)

	for _, bad := range []string{`2["comment_added",{"content":"fo x 1"}]`, `2["comment_added",{"content":"fo 1"}]`,
		`2["comment_added",{"content":"hello"}]`, `{"content":"fo 1 2`, ``} {
		_, _, _, ok := benchComment([]byte(bad))
		require.False(t, ok, bad)
	}
	// A user's content quoting the mark is escaped JSON: \"content\":\"fo 1 2\" does not match.
	_, _, _, ok := benchComment([]byte(`2["comment_added",{"content":"say \"content\":\"fo 1 2\""}]`))
	require.False(t, ok)
}

// A comments_added frame counts once however many comments it holds; each
// comment counts once per reader however often it comes.
func TestReaderGroupCounts(t *testing.T) {
	g := newReaderGroup(readerSpec{Target: targetCommentd, Readers: 2})
	sent := time.Now().Add(-5 * time.Millisecond)
	g.onCommentd(0, []byte(`2["comment_added",`+benchJSON(0, sent)+`]`))
	g.onCommentd(0, []byte(`2["comments_added",[`+benchJSON(1, sent)+`,`+benchJSON(2, sent)+`,`+benchJSON(3, sent)+`],"x"]`))
	g.onCommentd(0, []byte(`2["comment_added",`+benchJSON(2, sent)+`]`)) // again
	g.onCommentd(0, []byte(`2["comment_reactions",{"commentId":"x","counts":{"👍":1}}]`))
	g.onCommentd(1, []byte(`2["comments_added",[`+benchJSON(0, sent)+`,`+benchJSON(1, sent)+`,`+benchJSON(2, sent)+`,`+benchJSON(3, sent)+`,`+benchJSON(4, sent)+`]]`))

	tot := g.totals(5)
	require.Equal(t, int64(4+5), tot.Deliveries)
	require.Equal(t, int64(1), tot.Duplicates)
	require.Equal(t, int64(4), tot.CommentFrames)
	require.Equal(t, int64(5), tot.Frames)
	require.Equal(t, int64(1), tot.Missed, "reader 0 missed comment 4")
	require.Equal(t, 1, tot.MissedReaders)
	require.Equal(t, int64(9), hdrhistogram.Import(tot.Latency).TotalCount())
}

// Centrifugo sends several pushes in one frame, one per line.
func TestReaderGroupCentrifugoFrame(t *testing.T) {
	g := newReaderGroup(readerSpec{Target: targetCentrifugo, Readers: 1})
	now := time.Now().UnixNano()
	frame := fmt.Sprintf(`{"push":{"channel":"hot-1","pub":{"data":{"content":"fo 7 %d"}}}}`+"\n"+
		`{"push":{"channel":"hot-1","pub":{"data":{"content":"fo 8 %d"}}}}`, now, now)
	g.frames.Add(1)
	g.onComments(0, []byte(frame))
	tot := g.totals(2)
	require.Equal(t, int64(2), tot.Deliveries)
	require.Equal(t, int64(1), tot.CommentFrames)
	require.Zero(t, tot.Missed)
}

func TestReaderTotalsMerge(t *testing.T) {
	a, b := newReaderGroup(readerSpec{Readers: 1}), newReaderGroup(readerSpec{Readers: 2})
	sent := time.Now().Add(-time.Millisecond)
	a.onCommentd(0, []byte(`2["comment_added",`+benchJSON(0, sent)+`]`))
	b.onCommentd(0, []byte(`2["comment_added",`+benchJSON(0, sent)+`]`))
	b.onCommentd(1, []byte(`2["comment_added",`+benchJSON(0, sent)+`]`))
	ta, tb := a.totals(1), b.totals(2)
	ta.CPUSec, tb.CPUSec = 1.5, 2
	// Through JSON, as from a worker.
	var wire readerTotals
	raw, err := json.Marshal(tb)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &wire))

	var sum readerTotals
	sum.merge(ta)
	sum.merge(wire)
	require.Equal(t, 3, sum.Readers)
	require.Equal(t, int64(3), sum.Deliveries)
	require.Equal(t, int64(3), sum.CommentFrames)
	require.Equal(t, int64(2), sum.Missed) // b's readers got 1 of 2
	require.Equal(t, 2, sum.MissedReaders)
	require.Equal(t, 3.5, sum.CPUSec)
	require.Equal(t, int64(3), hdrhistogram.Import(sum.Latency).TotalCount())
	require.Equal(t, max(ta.LastNanos, tb.LastNanos), sum.LastNanos)
}

func TestSplitReaders(t *testing.T) {
	sizes := func(specs []readerSpec) (n []int, first []int) {
		for _, s := range specs {
			n, first = append(n, s.Readers), append(first, s.First)
		}
		return n, first
	}
	n, first := sizes(splitReaders(readerSpec{Post: "p"}, 10000, 5000))
	require.Equal(t, []int{5000, 5000}, n)
	require.Equal(t, []int{0, 5000}, first)
	n, first = sizes(splitReaders(readerSpec{}, 10001, 5000))
	require.Equal(t, []int{3334, 3334, 3333}, n)
	require.Equal(t, []int{0, 3334, 6668}, first)
	n, _ = sizes(splitReaders(readerSpec{}, 7, 8000))
	require.Equal(t, []int{7}, n)
}

func TestSeqSet(t *testing.T) {
	var s seqSet
	require.True(t, s.add(0))
	require.True(t, s.add(1000))
	require.False(t, s.add(1000))
	require.True(t, s.add(63))
	require.Equal(t, 3, s.n)
}

// hot end to end against a real commentd, readers in two worker processes
// (this test binary, see TestMain).
func TestHotSmoke(t *testing.T) {
	b := startBackend(t)
	url, pid := startCommentd(t, b, "hot", "--flush.interval", "100ms")
	e := &env{url: url, label: "write-behind", serverPID: pid, quiet: true}
	res, err := hot(context.Background(), e, "hot", hotConfig{Readers: 30, PerWorker: 15, Sources: 2, Rate: 20, Writers: 2,
		ReactRate: 10, Batch: true, Duration: time.Second, Grace: 10 * time.Second}, true)
	require.NoError(t, err)
	v := res.Values
	require.Equal(t, 2.0, v["workers"])
	require.InDelta(t, 20, v["published"], 2)
	require.Equal(t, v["published"], v["confirmed"])
	require.Equal(t, 30*v["confirmed"], v["deliveries"])
	require.Zero(t, v["misses"])
	require.Zero(t, v["disconnected"])
	require.Positive(t, v["reactionsConfirmed"])
	require.Positive(t, v["framesPerSec"])
	require.Positive(t, v["loadgenCPUSec"])
	require.Equal(t, int64(v["deliveries"]), res.Latency["delivery"].Count)
	// 20 comments a second in 100 ms windows: about 2 a frame.
	require.Greater(t, v["commentsPerFrame"], 1.0, "batch: true gets comments_added")

	res, err = hot(context.Background(), e, "hot", hotConfig{Readers: 10, PerWorker: 10, Sources: 1, Rate: 20, Writers: 1,
		Duration: 500 * time.Millisecond, Grace: 10 * time.Second}, true)
	require.NoError(t, err)
	require.Zero(t, res.Values["misses"])
	require.Equal(t, 1.0, res.Values["commentsPerFrame"], "without batch, one comment_added per comment")
}

// fanout and hot against Centrifugo, if bin/centrifugo is there
// (bench/centrifugo.sh install).
func TestCentrifugoSmoke(t *testing.T) {
	bin, err := filepath.Abs("../../bin/centrifugo")
	require.NoError(t, err)
	if _, err := os.Stat(bin); err != nil {
		t.Skip("no bin/centrifugo: bench/centrifugo.sh install")
	}
	port := testsvc.FreePort(t)
	conf := filepath.Join(t.TempDir(), "centrifugo.json")
	out, err := exec.Command("../../bench/centrifugo.sh", "config", fmt.Sprint(port), conf).CombinedOutput()
	require.NoError(t, err, string(out))
	cmd := exec.Command(bin, "-c", conf)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := fmt.Sprintf("127.0.0.1:%d", port)
	e := &env{url: "http://" + base, label: targetCentrifugo, target: targetCentrifugo, quiet: true,
		centrifugo: centrifugoTarget{ws: "ws://" + base + "/connection/websocket", api: "http://" + base + "/api", apiKey: "commentbench"}}
	require.Eventually(t, func() bool {
		return newCentrifugoPublisher(e.centrifugo, 1).publish(context.Background(), "probe", json.RawMessage(`{}`)) == nil
	}, 20*time.Second, 50*time.Millisecond)

	res, err := fanout(context.Background(), e, fanoutConfig{Subscribers: 20, Rate: 50, Duration: time.Second, Grace: 10 * time.Second})
	require.NoError(t, err)
	require.Equal(t, "fanout", res.Scenario)
	require.Equal(t, 20*res.Values["confirmed"], res.Values["deliveries"])
	require.Zero(t, res.Values["misses"])

	res, err = hot(context.Background(), e, "hot", hotConfig{Readers: 20, PerWorker: 10, Sources: 1, Rate: 20, Writers: 2,
		ReactRate: 10, Duration: time.Second, Grace: 10 * time.Second}, true)
	require.NoError(t, err)
	require.InDelta(t, 20, res.Values["confirmed"], 2)
	require.Equal(t, 20*res.Values["confirmed"], res.Values["deliveries"])
	require.Zero(t, res.Values["disconnected"])
	require.True(t, strings.EqualFold(res.Params["target"].(string), targetCentrifugo))
}

// Centrifugo's ping may come alone or in a frame with pushes.
func TestScanCentrifugoFrame(t *testing.T) {
	push := `{"push":{"channel":"c","pub":{"data":{"content":"fo 1 2"}}}}`
	for _, c := range []struct {
		frame        string
		ping, pushes bool
	}{
		{`{}`, true, false},
		{push, false, true},
		{push + "\n{}", true, true},
		{"{}\n" + push + "\n" + push, true, true},
		{`{"id":2,"subscribe":{}}`, false, false},
	} {
		ping, pushes := scanCentrifugoFrame([]byte(c.frame))
		require.Equal(t, c.ping, ping, c.frame)
		require.Equal(t, c.pushes, pushes, c.frame)
	}
}

// slowPublisher takes its time over each comment, like Centrifugo's publish
// call at 10,000 readers.
type slowPublisher struct {
	delay     time.Duration
	published atomic.Int64
}

func (p *slowPublisher) publish(context.Context, int, int64, time.Time) error {
	time.Sleep(p.delay)
	p.published.Add(1)
	return nil
}
func (p *slowPublisher) react(int, int64) bool  { return false }
func (p *slowPublisher) counts() (int64, int64) { return p.published.Load(), 0 }
func (p *slowPublisher) refused() int64         { return 0 }
func (p *slowPublisher) close()                 {}

// A writer that falls behind drains its queue for the grace at most; what
// is left is unsent, and sendLag shows how late the rest went.
func TestRunWritersBounded(t *testing.T) {
	p := &slowPublisher{delay: 100 * time.Millisecond}
	lag := newLatency()
	start := time.Now()
	wc := runWriters(context.Background(), p, hotConfig{Rate: 50, Writers: 1, Duration: 200 * time.Millisecond,
		Grace: 200 * time.Millisecond}, true, "test", lag)
	require.Less(t, time.Since(start), time.Second)
	require.Equal(t, int64(10), wc.published+wc.unsent)
	require.Positive(t, wc.unsent)
	require.Equal(t, p.published.Load(), wc.published)
	require.Equal(t, wc.published, lag.TotalCount())
	require.Greater(t, lag.Max(), int64(100_000), "the later comments went out more than 100 ms late")
}
