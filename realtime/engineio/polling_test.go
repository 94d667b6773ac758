package engineio

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Handler that keeps the sessions and messages it gets.
type recorder struct {
	mu     sync.Mutex
	conns  chan *Conn
	msgs   []string
	closed chan string
}

func newRecorder() *recorder {
	return &recorder{conns: make(chan *Conn, 4), closed: make(chan string, 4)}
}

func (h *recorder) Open(c *Conn) { h.conns <- c }

func (h *recorder) Message(c *Conn, data []byte, binary bool) {
	h.mu.Lock()
	h.msgs = append(h.msgs, string(data))
	h.mu.Unlock()
}

func (h *recorder) Closed(c *Conn, reason string) { h.closed <- reason }

func (h *recorder) messages() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.msgs...)
}

// pollSession is a long-polling client of a test server.
type pollSession struct {
	t    *testing.T
	url  string // with sid
	conn *Conn  // the server's side
}

func openPolling(t *testing.T, cfg Config) (*pollSession, *recorder) {
	t.Helper()
	h := newRecorder()
	srv := NewServer(cfg, h)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	base := hs.URL + "/socket.io/?EIO=4&transport=polling"
	status, body := httpDo(t, http.MethodGet, base, "")
	require.Equal(t, http.StatusOK, status, body)
	require.True(t, strings.HasPrefix(body, "0{"), body)
	var open struct{ SID string }
	require.NoError(t, json.Unmarshal([]byte(body[1:]), &open))
	c := <-h.conns
	require.Equal(t, open.SID, c.ID())
	return &pollSession{t: t, url: base + "&sid=" + open.SID, conn: c}, h
}

func httpDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	cl := &http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// get polls once and returns the packets of the response.
func (p *pollSession) get() []Packet {
	p.t.Helper()
	status, body := httpDo(p.t, http.MethodGet, p.url, "")
	require.Equal(p.t, http.StatusOK, status, body)
	ps, err := DecodePayload([]byte(body), 0)
	require.NoError(p.t, err)
	return ps
}

func (p *pollSession) post(body string) (int, string) {
	p.t.Helper()
	return httpDo(p.t, http.MethodPost, p.url, body)
}

func TestPollResponseCapsPackets(t *testing.T) {
	for _, tc := range []struct {
		name      string
		max, sent int
		close     bool // CloseAfterFlush once queued: closes only after the last packet went out
	}{
		{"default 16, burst of 30", 0, 30, false},
		{"cap 4, 10", 4, 10, false},
		{"cap 16, exactly 16", 16, 16, false},
		{"cap 16, 40 then close", 16, 40, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := openPolling(t, Config{MaxPollPackets: tc.max})
			limit := tc.max
			if limit == 0 {
				limit = 16 // python-engineio's max_decode_packets
			}
			var want []string
			for i := range tc.sent {
				want = append(want, fmt.Sprint("m", i))
				require.NoError(t, p.conn.Send([]byte(want[i])))
			}
			if tc.close {
				p.conn.CloseAfterFlush()
			}
			var got []string
			for len(got) < tc.sent {
				ps := p.get()
				require.LessOrEqual(t, len(ps), limit, "packets in one response")
				require.NotEmpty(t, ps)
				for _, pk := range ps {
					require.Equal(t, Message, pk.Type)
					got = append(got, string(pk.Data))
				}
				if len(got) < tc.sent {
					select {
					case <-p.conn.Done():
						t.Fatalf("closed after %d of %d packets", len(got), tc.sent)
					default:
					}
				}
			}
			require.Equal(t, want, got, "every packet, in order")
			if tc.close {
				select {
				case <-p.conn.Done():
				case <-time.After(5 * time.Second):
					t.Fatal("not closed once the queue was written")
				}
			}
		})
	}
}

func TestPollBodyLimits(t *testing.T) {
	const maxPayload, maxBody = 1000, 5000
	p, h := openPolling(t, Config{MaxPayload: maxPayload, MaxPollBody: maxBody})
	pkt := func(tag string, n int) string { return "4" + tag + strings.Repeat("x", n-len(tag)) }

	// Three packets of max_payload each: a body over max_payload, under the body limit.
	three := strings.Join([]string{pkt("a", maxPayload), pkt("b", maxPayload), pkt("c", maxPayload)}, "\x1e")
	status, body := p.post(three)
	require.Equal(t, http.StatusOK, status, body)
	msgs := h.messages()
	require.Len(t, msgs, 3)
	for i, tag := range []string{"a", "b", "c"} {
		require.Equal(t, pkt(tag, maxPayload)[1:], msgs[i])
	}

	// One packet over max_payload refuses the whole body, nothing handled.
	status, _ = p.post(pkt("d", 10) + "\x1e" + pkt("e", maxPayload+1))
	require.Equal(t, http.StatusRequestEntityTooLarge, status)
	// A body over the body limit, each packet under max_payload.
	var parts []string
	for range 6 {
		parts = append(parts, pkt("f", maxPayload))
	}
	status, _ = p.post(strings.Join(parts, "\x1e"))
	require.Equal(t, http.StatusRequestEntityTooLarge, status)
	require.Len(t, h.messages(), 3, "nothing of a refused body is handled")

	// The session is kept.
	status, _ = p.post("4g")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "g", h.messages()[3])
}

func TestPollBodyLimitDefaults(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want int64
	}{
		{Config{}, 1_000_000},
		{Config{MaxPayload: 65536}, 1_000_000},
		{Config{MaxPayload: 2_000_000}, 2_000_000},
		{Config{MaxPayload: 65536, MaxPollBody: 100_000}, 100_000},
	} {
		tc.cfg.setDefaults()
		require.Equal(t, tc.want, tc.cfg.MaxPollBody, "%+v", tc.cfg)
		require.Equal(t, 16, tc.cfg.MaxPollPackets)
	}
}

// TestRefusedOriginGetsNoCORS: a page whose origin is not allowed gets 403
// with Engine.IO code 4 naming it, no CORS headers (it cannot read the
// answer; the widget tells it from a server down by probing /healthz), and
// no session.
func TestRefusedOriginGetsNoCORS(t *testing.T) {
	srv := NewServer(Config{Origins: []string{"https://site.example"}}, newRecorder())
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	req, err := http.NewRequest(http.MethodGet, hs.URL+"/socket.io/?EIO=4&transport=polling", nil)
	require.NoError(t, err)
	req.Header.Set("Origin", "https://other.example")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	require.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))
	require.Empty(t, res.Header.Get("Access-Control-Allow-Credentials"))
	var e struct {
		Code    int
		Message string
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&e))
	require.Equal(t, 4, e.Code)
	require.Contains(t, e.Message, "https://other.example")
}
