package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/commentd/commentd/realtime/socketio"
	"github.com/stretchr/testify/require"
)

func TestLoopbackOnly(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:80", "http://127.9.9.9:1"} {
		require.NoError(t, loopbackOnly(ok), ok)
	}
	for _, bad := range []string{"http://10.0.0.1:8080", "http://example.com", "http://0.0.0.0:80", "::"} {
		require.Error(t, loopbackOnly(bad), bad)
	}
}

// The ingest client against a Socket.IO server that acks every comment and
// broadcasts it to the post's room, as commentd does.
func TestIngestAgainstSocketIOServer(t *testing.T) {
	srv := socketio.NewServer(socketio.Config{})
	nsp := srv.Of("/")
	nsp.On("join_post", func(s *socketio.Socket, ev *socketio.Event) {
		var post string
		json.Unmarshal(ev.Args[0], &post)
		s.Join("post_" + post)
	})
	nsp.On("new_comment", func(s *socketio.Socket, ev *socketio.Event) {
		var in struct{ PostID string }
		json.Unmarshal(ev.Args[0], &in)
		c := map[string]string{"postId": in.PostID, "createdAt": time.Now().UTC().Format("2006-01-02T15:04:05.000Z")}
		nsp.EmitTo("post_"+in.PostID, nil, "comment_added", c)
		ev.Ack(map[string]any{"ok": true, "comment": c})
	})
	hs := httptest.NewServer(srv)
	defer func() { hs.Close(); srv.Close() }()

	res, err := ingest(context.Background(), ingestConfig{URL: hs.URL, Clients: 4, Posts: 2, Window: 2, Duration: 500 * time.Millisecond, Max: 2000})
	require.NoError(t, err)
	require.Positive(t, res.Confirmed)
	require.Zero(t, res.Failed)
	require.LessOrEqual(t, res.Confirmed, int64(2000))
	// Each comment reaches the 2 members of its post's room.
	require.InDelta(t, 2*res.Confirmed, res.Deliveries, float64(2*4*2), "deliveries of in-flight comments may be cut off")
	require.Greater(t, res.ConfirmMs.Max, 0.0)
}
