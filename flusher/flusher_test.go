package flusher

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memSource is an in-memory Source with the buffer's claim/ack semantics.
type memSource struct {
	mu       sync.Mutex
	shards   [][]comment.Comment
	inflight [][]comment.Comment
	lease    []string
	gen      int
	dead     []comment.Rejected
	claims   int
}

func newMemSource(shards int) *memSource {
	return &memSource{shards: make([][]comment.Comment, shards),
		inflight: make([][]comment.Comment, shards), lease: make([]string, shards)}
}

func (m *memSource) add(shard int, cs ...comment.Comment) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.shards[shard] = append(m.shards[shard], cs...)
}

func (m *memSource) Shards() int { return len(m.shards) }

func (m *memSource) Heartbeat(context.Context, string, time.Duration) (int, error) { return 1, nil }

func (m *memSource) Leave(context.Context, string) error { return nil }

func (m *memSource) HolderAlive(context.Context, int) (bool, error) { return false, nil }

func (m *memSource) AcquireLease(_ context.Context, shard int, owner string, _ time.Duration) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lease[shard] != "" {
		return "", false, nil
	}
	m.gen++
	m.lease[shard] = fmt.Sprintf("%s/%d", owner, m.gen)
	return m.lease[shard], true, nil
}

func (m *memSource) RenewLease(_ context.Context, shard int, token string, _ time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lease[shard] == token, nil
}

func (m *memSource) ReleaseLease(_ context.Context, shard int, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lease[shard] == token {
		m.lease[shard] = ""
	}
	return nil
}

func (m *memSource) Pending(_ context.Context, shard int) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.shards[shard]) + len(m.inflight[shard])), nil
}

func (m *memSource) Claim(_ context.Context, shard int, token string, max int) ([]comment.Change, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lease[shard] != token {
		return nil, ErrLeaseLost
	}
	m.claims++
	if len(m.inflight[shard]) == 0 {
		n := min(max, len(m.shards[shard]))
		m.inflight[shard] = append([]comment.Comment(nil), m.shards[shard][:n]...)
		m.shards[shard] = m.shards[shard][n:]
	}
	out := make([]comment.Change, len(m.inflight[shard]))
	for i, c := range m.inflight[shard] {
		out[i] = comment.CreateOf(c)
	}
	return out, nil
}

func (m *memSource) Ack(_ context.Context, shard int, token string, dead []comment.Rejected) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lease[shard] != token {
		return ErrLeaseLost
	}
	m.dead = append(m.dead, dead...)
	m.inflight[shard] = nil
	return nil
}

// memSink stores by id; it fails while failing > 0 and rejects ids in bad.
type memSink struct {
	mu      sync.Mutex
	stored  map[string]int
	calls   []int // batch sizes
	failing int
	bad     map[string]bool
}

func newMemSink() *memSink { return &memSink{stored: map[string]int{}, bad: map[string]bool{}} }

func (s *memSink) Write(_ context.Context, cs []comment.Change) ([]comment.Rejected, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, len(cs))
	if s.failing > 0 {
		s.failing--
		return nil, errors.New("mongo down")
	}
	var rej []comment.Rejected
	for _, c := range cs {
		if s.bad[c.CommentID] {
			rej = append(rej, comment.Rejected{Change: c, Reason: "bad doc"})
			continue
		}
		s.stored[c.CommentID]++
	}
	return rej, nil
}

func (s *memSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.stored)
}

func comments(n int, post string) []comment.Comment {
	out := make([]comment.Comment, n)
	for i := range out {
		out[i] = comment.Comment{ID: comment.NewID(time.Now()), PostID: post, UserID: "u", Content: "x"}
	}
	return out
}

func fastConfig() Config {
	return Config{BatchSize: 10, Interval: 20 * time.Millisecond, LeaseTTL: 300 * time.Millisecond,
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, DrainTimeout: 2 * time.Second}
}

func TestRunFlushesInBatches(t *testing.T) {
	src, sink := newMemSource(2), newMemSink()
	src.add(0, comments(25, "a")...)
	src.add(1, comments(3, "b")...)
	f := New(src, sink, fastConfig())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	require.Eventually(t, func() bool { return sink.count() == 28 }, 5*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	for _, n := range sink.calls {
		require.LessOrEqual(t, n, 10)
	}
	require.Equal(t, []string{"", ""}, src.lease, "leases released")
}

func TestRetriesWhileSinkFails(t *testing.T) {
	src, sink := newMemSource(1), newMemSink()
	sink.failing = 5
	src.add(0, comments(7, "a")...)
	f := New(src, sink, fastConfig())
	n, _, err := f.FlushOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, 7, n)
	require.Equal(t, 7, sink.count())
	require.Len(t, sink.calls, 6)
}

func TestDeadLetterAfterMaxAttempts(t *testing.T) {
	src, sink := newMemSource(1), newMemSink()
	cs := comments(5, "a")
	sink.bad[cs[2].ID] = true
	src.add(0, cs...)
	cfg := fastConfig()
	cfg.MaxAttempts = 3
	var flushed []comment.Change
	cfg.OnFlush = func(_ int, stored []comment.Change, dead []comment.Rejected, _ time.Duration) {
		flushed = append(flushed, stored...)
	}
	f := New(src, sink, cfg)
	_, _, err := f.FlushOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, 4, sink.count())
	require.Len(t, src.dead, 1)
	require.Equal(t, cs[2].ID, src.dead[0].Change.CommentID)
	require.Equal(t, []int{5, 1, 1}, sink.calls, "only the rejected one is retried")
	require.Len(t, flushed, 4)
}

func TestDrainDeadlineKeepsBatchInFlight(t *testing.T) {
	src, sink := newMemSource(1), newMemSink()
	sink.failing = 1 << 30
	src.add(0, comments(5, "a")...)
	cfg := fastConfig()
	cfg.DrainTimeout = 100 * time.Millisecond
	f := New(src, sink, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	require.Eventually(t, func() bool { sink.mu.Lock(); defer sink.mu.Unlock(); return len(sink.calls) > 0 },
		5*time.Second, 5*time.Millisecond)
	cancel()
	require.Error(t, <-done, "drain could not finish")
	n, _ := src.Pending(context.Background(), 0)
	require.EqualValues(t, 5, n, "nothing lost: the batch stays for the next holder")
	require.Equal(t, "", src.lease[0])
}

func TestSetBatchSize(t *testing.T) {
	src, sink := newMemSource(1), newMemSink()
	f := New(src, sink, fastConfig())
	f.SetBatchSize(3)
	f.SetInterval(time.Hour)
	require.Equal(t, 3, f.BatchSize())
	require.Equal(t, time.Hour, f.Interval())
	src.add(0, comments(9, "a")...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	// Interval is an hour: only full batches flush.
	require.Eventually(t, func() bool { return sink.count() == 9 }, 5*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, []int{3, 3, 3}, sink.calls)
}

func TestBackoffBounds(t *testing.T) {
	f := New(newMemSource(1), newMemSink(), Config{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	for n := 1; n < 20; n++ {
		d := f.backoff(n)
		require.GreaterOrEqual(t, d, 50*time.Millisecond)
		require.LessOrEqual(t, d, time.Second)
	}
}
