package sioclient_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/sioclient"
	"github.com/commentd/commentd/realtime/engineio"
	"github.com/commentd/commentd/realtime/socketio"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Against the real server: an emit with an ack id gets its ack, pings are
// answered (the connection outlives several ping timeouts), and ReadLoop
// ends when the server closes the session.
func TestAgainstTheServer(t *testing.T) {
	srv := socketio.NewServer(socketio.Config{Engine: engineio.Config{PingInterval: 50 * time.Millisecond, PingTimeout: 100 * time.Millisecond}})
	srv.Of("/").On("echo", func(s *socketio.Socket, ev *socketio.Event) { ev.AckRaw(ev.Args...) })
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Close()

	c, err := sioclient.Dial(context.Background(), hs.URL, sioclient.Options{Timeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
	require.NoError(t, err)
	defer c.Close()
	packets := make(chan string, 10)
	ended := make(chan error, 1)
	go func() { ended <- c.ReadLoop(func(data []byte) { packets <- string(data) }) }()

	time.Sleep(500 * time.Millisecond) // 5 ping timeouts
	require.NoError(t, c.Emit(7, "echo", json.RawMessage(`{"a":1}`)))
	select {
	case p := <-packets:
		require.Equal(t, `37[{"a":1}]`, p)
	case err := <-ended:
		t.Fatalf("read loop ended: %v (pings not answered?)", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no ack")
	}

	srv.Close() // the server closes every session
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("ReadLoop still running after the server closed")
	}
	require.False(t, c.Closed())
	c.Close()
	require.True(t, c.Closed())
}

func TestURL(t *testing.T) {
	require.Equal(t, "ws://127.0.0.1:8080/socket.io/?EIO=4&transport=websocket", sioclient.URL("http://127.0.0.1:8080/"))
	require.Equal(t, "wss://example.test/socket.io/?EIO=4&transport=websocket", sioclient.URL("https://example.test"))
}
