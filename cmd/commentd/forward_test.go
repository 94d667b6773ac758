package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// A long-polling session works behind a round-robin balancer: each request
// goes to the other node, which forwards it to the session's owner; the
// upgrade to WebSocket through the other node works too.
func TestPollingAcrossNodes(t *testing.T) {
	e := newEnv(t, 2)
	a, stopA := startApp(t, e.config(2))
	b, stopB := startApp(t, e.config(2))
	nodes := []string{a.Addr(), b.Addr()}
	turn := 0
	next := func() string { turn++; return nodes[turn%2] }

	resp, err := http.Get("http://" + nodes[0] + "/socket.io/?EIO=4&transport=polling")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var open struct{ SID string }
	require.NoError(t, json.Unmarshal(body[1:], &open))
	url := func(node string) string {
		return "http://" + node + "/socket.io/?EIO=4&transport=polling&sid=" + open.SID
	}
	post := func(payload string) {
		t.Helper()
		resp, err := http.Post(url(next()), "text/plain;charset=UTF-8", strings.NewReader(payload))
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	}
	// poll reads packets until one has prefix.
	poll := func(prefix string) string {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			resp, err := http.Get(url(next()))
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
			for _, p := range strings.Split(string(b), "\x1e") {
				if strings.HasPrefix(p, prefix) {
					return p
				}
			}
		}
		t.Fatalf("no packet %q", prefix)
		return ""
	}

	post("40")
	poll(`40{"sid"`)
	post(`42["join_post","fwd"]`)
	poll(`42["load_comments"`)
	writer := dialSIO(t, nodes[1])
	c := writer.post("fwd", "to a polling reader on another node")
	got := poll(`42["comment_added"`)
	require.Contains(t, got, c.ID)

	// Upgrade through the node that does not hold the session.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+nodes[1]+"/socket.io/?EIO=4&transport=websocket&sid="+open.SID, nil)
	require.NoError(t, err)
	defer ws.Close()
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("2probe")))
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, probe, err := ws.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, "3probe", string(probe))
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("5")))
	c2 := writer.post("fwd", "after the upgrade")
	for {
		_, m, err := ws.ReadMessage()
		require.NoError(t, err)
		if strings.HasPrefix(string(m), `42["comment_added"`) {
			require.Contains(t, string(m), c2.ID)
			break
		}
	}
	ws.Close()
	stopB()
	stopA()
}
