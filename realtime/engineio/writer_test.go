package engineio

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// testSession is the writer's closer in these tests: what Conn.closeWith
// does to the writer, and the reasons it was closed for.
type testSession struct {
	mu      sync.Mutex
	w       writer
	reasons chan string
}

func (s *testSession) closeWith(reason string) {
	s.mu.Lock()
	ws, first := s.w.closeLocked()
	s.mu.Unlock()
	if !first {
		return
	}
	s.reasons <- reason
	if ws != nil {
		ws.Close()
	}
}

// reason returns why the session was closed, waiting for it.
func (s *testSession) reason(t *testing.T) string {
	t.Helper()
	select {
	case r := <-s.reasons:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("the session was not closed")
		return ""
	}
}

// newTestWriter returns a writer on one end of a net.Pipe, its session
// quiet for long (nothing written within a Linger), and the client's end.
// A net.Pipe write blocks until the client reads it: the client's reads
// drive the writer. The test fails if a goroutine outlives it.
func newTestWriter(t *testing.T, cfg Config) (*testSession, net.Conn) {
	t.Helper()
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) })
	srv := NewServer(cfg, nil)
	srv.epoch = time.Now().Add(-time.Hour)
	t.Cleanup(srv.Close) // waits for the writer goroutines
	s := &testSession{reasons: make(chan string, 4)}
	s.w.init(&s.mu, srv, s)
	server, client := net.Pipe()
	t.Cleanup(func() {
		s.closeWith(ReasonServerClose)
		client.Close()
	})
	s.mu.Lock()
	s.w.attachLocked(server)
	s.mu.Unlock()
	return s, client
}

// readFrame reads a server frame (short, unmasked) and returns its payload,
// failing if none arrives within d.
func readFrame(t *testing.T, nc net.Conn, d time.Duration) string {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(d))
	var hdr [2]byte
	_, err := io.ReadFull(nc, hdr[:])
	require.NoError(t, err)
	n := int(hdr[1] & 0x7f)
	require.Less(t, n, 126, "a test frame is short")
	p := make([]byte, n)
	_, err = io.ReadFull(nc, p)
	require.NoError(t, err)
	return string(p)
}

// requireNothing checks that nothing arrives on nc within d.
func requireNothing(t *testing.T, nc net.Conn, d time.Duration) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(d))
	var b [1]byte
	_, err := nc.Read(b[:])
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "nothing should have been written yet")
}

// requireClosed checks that the client's end reads EOF: the writer closed.
func requireClosed(t *testing.T, nc net.Conn) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	_, err := nc.Read(b[:])
	require.ErrorIs(t, err, io.EOF)
}

func msg(s string) *Prepared { return PrepareMessage([]byte(s)) }

// busy makes the session one written to within the last Linger: its
// broadcasts linger from now on.
func busy(t *testing.T, s *testSession, client net.Conn) {
	t.Helper()
	require.NoError(t, s.w.enqueue(false, msg("busy")))
	require.Equal(t, "4busy", readFrame(t, client, 5*time.Second))
}

// TestWriterLingerOrAtOnce: a broadcast waits for the ones after it only on
// a busy session, while lingering is on and the queue is small.
func TestWriterLingerOrAtOnce(t *testing.T) {
	const linger = 10 * time.Second // longer than the test: a lingering frame is not written
	tests := []struct {
		name    string
		linger  time.Duration
		busy    bool
		size    int // of the broadcast's data
		lingers bool
	}{
		{name: "quiet session", linger: linger, size: 10},
		{name: "busy session", linger: linger, busy: true, size: 10, lingers: true},
		{name: "linger off", linger: -1, busy: true, size: 10},
		// MaxQueueBytes 4096: a queue of a quarter of it goes at once.
		{name: "queue over lingerBytes", linger: linger, busy: true, size: 1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, client := newTestWriter(t, Config{Linger: tt.linger, MaxQueueBytes: 4096})
			if tt.busy {
				busy(t, s, client)
			}
			require.NoError(t, s.w.enqueue(true, msg(strings.Repeat("b", tt.size))))
			if tt.lingers {
				requireNothing(t, client, 50*time.Millisecond)
				s.mu.Lock()
				require.True(t, s.w.lingering)
				require.Len(t, s.w.queue, 1)
				s.mu.Unlock()
				return
			}
			if tt.size < 125 {
				require.Equal(t, "4"+strings.Repeat("b", tt.size), readFrame(t, client, time.Second))
				return
			}
			client.SetReadDeadline(time.Now().Add(time.Second))
			_, err := io.ReadFull(client, make([]byte, 4+1+tt.size))
			require.NoError(t, err)
		})
	}
}

// TestWriterLingerFlush: broadcasts of a busy session are held for Linger,
// then written together, in order.
func TestWriterLingerFlush(t *testing.T) {
	const linger = 200 * time.Millisecond
	s, client := newTestWriter(t, Config{Linger: linger})
	busy(t, s, client)
	start := time.Now()
	for _, m := range []string{"a", "b", "c"} {
		require.NoError(t, s.w.enqueue(true, msg(m)))
	}
	requireNothing(t, client, linger/4)
	s.mu.Lock()
	require.True(t, s.w.lingering)
	require.Len(t, s.w.queue, 3, "one batch: the writer takes the whole queue into one writev")
	s.mu.Unlock()
	for _, want := range []string{"4a", "4b", "4c"} {
		require.Equal(t, want, readFrame(t, client, 5*time.Second))
	}
	require.GreaterOrEqual(t, time.Since(start), linger/2)
	s.mu.Lock()
	require.False(t, s.w.lingering)
	require.Zero(t, s.w.queued)
	s.mu.Unlock()
}

// TestWriterUrgent: a packet that is not a broadcast is written at once and
// takes the lingering broadcasts before it along, in order.
func TestWriterUrgent(t *testing.T) {
	s, client := newTestWriter(t, Config{Linger: 10 * time.Second})
	busy(t, s, client)
	require.NoError(t, s.w.enqueue(true, msg("broadcast")))
	requireNothing(t, client, 20*time.Millisecond)
	require.NoError(t, s.w.enqueue(false, msg("ack"), msg("pong")))
	for _, want := range []string{"4broadcast", "4ack", "4pong"} {
		require.Equal(t, want, readFrame(t, client, time.Second))
	}
}

// TestWriterSlowConsumer: a client that does not read fills the queue; the
// send over MaxQueueBytes fails at once with ErrSlow, and the session is
// closed as a slow consumer with its queue dropped.
func TestWriterSlowConsumer(t *testing.T) {
	const limit = 256
	s, client := newTestWriter(t, Config{MaxQueueBytes: limit})
	m := msg(strings.Repeat("x", 60)) // 63 bytes on the wire
	var err error
	sent := 0
	for range 2 * limit / m.Size() {
		if err = s.w.enqueue(false, m); err != nil {
			break
		}
		sent++
	}
	require.ErrorIs(t, err, ErrSlow)
	// The writer took at most one frame off the queue before it blocked.
	require.LessOrEqual(t, (sent-1)*m.Size(), limit)
	require.Equal(t, ReasonSlowConsumer, s.reason(t))
	require.ErrorIs(t, s.w.enqueue(false, m), ErrClosed)
	s.mu.Lock()
	require.Zero(t, s.w.queued)
	require.Nil(t, s.w.queue)
	s.mu.Unlock()
	// What the writer was writing is cut short: the pipe is closed.
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.Copy(io.Discard, client)
	require.NoError(t, err)
}

// TestWriterWriteTimeout: a write the client does not take within
// WriteTimeout closes the session.
func TestWriterWriteTimeout(t *testing.T) {
	s, _ := newTestWriter(t, Config{WriteTimeout: 100 * time.Millisecond})
	require.NoError(t, s.w.enqueue(false, msg("never read")))
	require.Equal(t, ReasonTransportErr, s.reason(t))
}

// TestWriterCloseAfterFlush: what is queued, and the last frame, are
// written, then the session is closed; nothing can be queued meanwhile.
func TestWriterCloseAfterFlush(t *testing.T) {
	t.Run("queued", func(t *testing.T) {
		s, client := newTestWriter(t, Config{})
		require.NoError(t, s.w.enqueue(false, msg("a"), msg("b")))
		code := binary.BigEndian.AppendUint16(nil, closeProtocolError)
		s.w.closeAfterFlush(ReasonParseError, controlFrame(opClose, code))
		require.ErrorIs(t, s.w.enqueue(false, msg("late")), ErrClosed)
		require.Equal(t, "4a", readFrame(t, client, time.Second))
		require.Equal(t, "4b", readFrame(t, client, time.Second))
		require.Equal(t, string(code), readFrame(t, client, time.Second))
		requireClosed(t, client)
		require.Equal(t, ReasonParseError, s.reason(t))
	})
	t.Run("lingering", func(t *testing.T) {
		s, client := newTestWriter(t, Config{Linger: 10 * time.Second})
		busy(t, s, client)
		require.NoError(t, s.w.enqueue(true, msg("broadcast")))
		s.w.closeAfterFlush(ReasonServerClose, nil)
		require.Equal(t, "4broadcast", readFrame(t, client, time.Second))
		requireClosed(t, client)
		require.Equal(t, ReasonServerClose, s.reason(t))
	})
	t.Run("idle", func(t *testing.T) {
		s, client := newTestWriter(t, Config{})
		s.w.closeAfterFlush(ReasonServerClose, nil)
		require.Equal(t, ReasonServerClose, s.reason(t))
		requireClosed(t, client)
		require.ErrorIs(t, s.w.enqueue(false, msg("late")), ErrClosed)
	})
}

// TestWriterClosed: after the session closed, sends fail and the writer
// goroutine ends (newTestWriter checks for leaks).
func TestWriterClosed(t *testing.T) {
	s, client := newTestWriter(t, Config{})
	require.NoError(t, s.w.enqueue(false, msg("a")))
	s.closeWith(ReasonServerClose)
	require.Equal(t, ReasonServerClose, s.reason(t))
	err := s.w.enqueue(true, msg("b"))
	require.True(t, errors.Is(err, ErrClosed), err)
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.Copy(io.Discard, client)
	require.NoError(t, err)
}
