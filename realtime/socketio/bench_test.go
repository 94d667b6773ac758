package socketio_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/commentd/commentd/realtime/engineio"
	"github.com/commentd/commentd/realtime/socketio"
	"github.com/gorilla/websocket"
)

// BenchmarkBroadcast emits one comment_added to a room of N sockets on real
// WebSocket connections over loopback, and waits until every receiver has
// read it. Allocations per broadcast must not grow with N: the packet is
// encoded once and the same bytes are queued on every connection. The
// receivers count raw bytes, so they allocate nothing themselves.
func BenchmarkBroadcast(b *testing.B) {
	payload := json.RawMessage(`{"_id":"6745a0c1e4b0a1b2c3d4e5f6","postId":"post-1","userId":"alice","content":"a comment of some fifty bytes, give or take a few","createdAt":"2026-11-25T22:47:33.123Z"}`)
	frame := engineio.PrepareMessage(socketio.AppendEvent(nil, "/", -1, "comment_added", payload)).Size()
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("receivers=%d", n), func(b *testing.B) {
			srv := socketio.NewServer(socketio.Config{Engine: engineio.Config{MaxQueueBytes: 64 << 20}})
			nsp := srv.Of("/")
			nsp.OnConnection(func(s *socketio.Socket) { s.Join("room") })
			hs := httptest.NewServer(srv)
			defer func() { hs.Close(); srv.Close() }()
			url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"

			conns := make([]*websocket.Conn, n)
			for i := range conns {
				ws, _, err := websocket.DefaultDialer.Dial(url, nil)
				if err != nil {
					b.Fatal(err)
				}
				ws.ReadMessage() // open
				ws.WriteMessage(websocket.TextMessage, []byte("40"))
				ws.ReadMessage() // CONNECT reply
				conns[i] = ws
			}
			for nsp.RoomLen("room") < n {
			}
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			want := int64(b.N) * int64(frame)
			got := make([]atomic.Int64, n)
			for i, ws := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, 64<<10)
					for got[i].Load() < want {
						m, err := ws.NetConn().Read(buf)
						if err != nil {
							b.Errorf("receiver %d after %d of %d bytes: %v", i, got[i].Load(), want, err)
							return
						}
						got[i].Add(int64(m))
					}
				}()
			}
			// The sender stays within maxAhead broadcasts of the slowest
			// receiver: what is measured is delivery, not queue growth up
			// to a slow-consumer disconnect.
			const maxAhead = 4096
			for i := range b.N {
				nsp.EmitToRaw("room", nil, "comment_added", payload)
				if i%256 == 0 && i > maxAhead {
					floor := int64(i-maxAhead) * int64(frame)
					for r := range got {
						for got[r].Load() < floor && !b.Failed() {
							runtime.Gosched()
						}
					}
				}
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)*float64(n)/b.Elapsed().Seconds(), "deliveries/s")
			for _, ws := range conns {
				ws.Close()
			}
		})
	}
}
