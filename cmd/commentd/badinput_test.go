package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/config"
	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// The bad-input suite (issue 6, guarantee 5 of DESIGN.md): every case sends
// one kind of hostile or broken input to one App and checks its own
// outcome — an error code, its connection kept or closed, an HTTP status.
// Between cases the suite checks that the case released its connections
// and that a bystander, connected all along, was not disturbed. After the
// table a normal client still connects, posts and receives, and every
// comment confirmed during the suite is in MongoDB after the drain, and
// nothing else is.
//
// Settings of the App under test; small so that cases stay quick.
const (
	badMaxPayload     = 16384       // socketio.max_payload, bytes
	badConnsPerIP     = 20          // limits.connections_per_ip; the suite's own connections count
	badRoomsPerSocket = 5           // limits.rooms_per_socket
	badPerSecond      = 2           // limits.comments_per_second
	badBurst          = 4           // limits.comments_burst
	badConnectTimeout = time.Second // socketio.connect_timeout
	badIssuer         = "https://id.example"
	badAllowedOrigin  = "https://allowed.example"
	badEvilOrigin     = "https://evil.example"
	badWait           = 5 * time.Second // longest wait for an expected outcome
)

// badCase is one row of the suite: want says the expected outcome in words
// (run asserts it).
type badCase struct {
	name string
	want string
	run  func(t *testing.T, s *badSuite)
}

// badSuite is the App under test and what the cases share. Only the
// test's goroutine, or the running subtest's, touches it.
type badSuite struct {
	e         *env
	app       *App
	addr      string
	hc        *http.Client
	baseline  int        // Engine.IO sessions the suite holds between cases (the bystander)
	bystander *sioClient // connected, and in the room of post "bystander", all along
	confirmed []string   // ids of every comment confirmed (ack ok) during the suite
	stray     []string   // ids stored although nobody was confirmed (BUG cases)
	script    comment.Comment
	users     int
	probes    int
}

func TestBadInputSuite(t *testing.T) {
	e := newEnv(t, 2)
	cfg := e.config(2)
	cfg.Auth.Mode = config.AuthJWT
	cfg.Auth.JWTSecret = testSecret
	cfg.Auth.Issuer = badIssuer
	cfg.Auth.AnonymousRead = false
	cfg.Limits.CommentsPerSecond = badPerSecond
	cfg.Limits.CommentsBurst = badBurst
	cfg.Limits.ConnectionsPerIP = badConnsPerIP
	cfg.Limits.RoomsPerSocket = badRoomsPerSocket
	cfg.SocketIO.MaxPayload = badMaxPayload
	cfg.SocketIO.ConnectTimeout = badConnectTimeout
	cfg.CORS.Origins = []string{badAllowedOrigin}

	// net/http recovers a panic of a handler goroutine (every WebSocket
	// reader runs on one) and only logs it: watch the standard logger.
	// Errors the App logs are watched too: bad input is the client's fault,
	// never an internal error.
	stdlog := &lockedBuf{}
	log.SetOutput(stdlog)
	defer log.SetOutput(os.Stderr)
	applog := &lockedBuf{}
	app, err := NewApp(cfg, slog.New(slog.NewTextHandler(applog, &slog.HandlerOptions{Level: slog.LevelWarn})))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			require.NoError(t, <-done)
		}
	}
	defer stop()

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	s := &badSuite{e: e, app: app, addr: app.Addr(), hc: &http.Client{Transport: tr, Timeout: 2 * badWait}}

	reply, by := connectWith(t, s.addr, s.auth("bystander"), nil)
	require.NotNil(t, by, reply)
	s.bystander = by
	by.join("bystander")
	s.baseline = 1
	s.settle(t, "start")

	for _, tc := range badCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Logf("want: %s", tc.want)
			tc.run(t, s)
		})
		s.settle(t, tc.name)
		s.checkBystander(t, tc.name)
	}

	// A normal client still connects, posts and receives.
	c := s.client(t, s.user("final"))
	c.join("bystander")
	ok, cm, code := s.post(t, c, map[string]any{"postId": "bystander", "content": "after the suite"})
	require.True(t, ok, code)
	for _, r := range []*sioClient{c, s.bystander} {
		var got comment.Comment
		for got.ID != cm.ID {
			require.NoError(t, json.Unmarshal(r.next("comment_added", badWait).Args[0], &got))
		}
	}
	c.close()

	stop() // drains into MongoDB
	require.NotContains(t, stdlog.String(), "panic", "a handler panicked:\n%s", stdlog)
	if out := stdlog.String(); out != "" {
		t.Logf("standard log:\n%s", out)
	}
	require.NotContains(t, applog.String(), "level=ERROR", "bad input caused internal errors:\n%s", applog)
	want := append(append([]string(nil), s.confirmed...), s.stray...)
	t.Logf("%d comments confirmed during the suite, %d stored unconfirmed", len(s.confirmed), len(s.stray))
	e.requireStoredExactly(t, want, 30*time.Second)
	if s.script.ID == "" {
		return // the script case did not run (go test -run)
	}
	stored, err := e.store.History(context.Background(), "bystander", "", 1000)
	require.NoError(t, err)
	found := false
	for _, c := range stored {
		if c.ID == s.script.ID {
			found = true
			require.Equal(t, s.script.Content, c.Content, "MongoDB holds the script content verbatim")
		}
	}
	require.True(t, found, "the script comment is in MongoDB")
}

// badCases is the table. Cases run in order against one App.
func badCases() []badCase {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	claims := func(sub, iss string, exp time.Duration) jwt.MapClaims {
		return jwt.MapClaims{"sub": sub, "iss": iss, "exp": time.Now().Add(exp).Unix()}
	}
	return []badCase{
		// Impersonation.
		{"forged userId", "new_comment with a userId other than the token's subject: UNAUTHORIZED (ack and comment_error), kept; the subject's own id is accepted", caseForgedUserID},
		{"forged userId over REST", "POST /api/posts/{id}/comments with another userId: 401 UNAUTHORIZED; without a token: 401", caseForgedUserIDREST},
		refused("expired token", func(*badSuite) string {
			return badSign(jwt.SigningMethodHS256, []byte(testSecret), claims("mallory", badIssuer, -time.Minute))
		}),
		refused("forged signature", func(*badSuite) string {
			return badSign(jwt.SigningMethodHS256, []byte("not the secret"), claims("alice", badIssuer, time.Hour))
		}),
		refused("alg none", func(*badSuite) string {
			return badSign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("alice", badIssuer, time.Hour))
		}),
		refused("wrong issuer", func(*badSuite) string {
			return badSign(jwt.SigningMethodHS256, []byte(testSecret), claims("alice", badEvilOrigin, time.Hour))
		}),
		refused("no token with anonymous_read off", func(*badSuite) string { return "" }),
		{"forged token in the Authorization header", "CONNECT_ERROR UNAUTHORIZED", func(t *testing.T, s *badSuite) {
			forged := badSign(jwt.SigningMethodHS256, []byte("not the secret"), claims("alice", badIssuer, time.Hour))
			reply, c := connectWith(t, s.addr, "", http.Header{"Authorization": {"Bearer " + forged}})
			require.Nil(t, c)
			require.Equal(t, badUnauthorized, reply)
		}},

		{"recovery: forged pid and offset", "connected as a new socket, not recovered; kept", caseForgedPID},
		{"recovery: another session's pid without a token", "CONNECT_ERROR UNAUTHORIZED (recovery does not skip authentication); the owner still recovers its session", caseLeakedPID},

		{"anonymous_read off: REST history without a token", "401 UNAUTHORIZED, as for a socket", caseRESTReadNoToken},
		{"anonymous_read off: SSE stream without a token", "401 UNAUTHORIZED, as for a socket", caseSSENoToken},
		{"REST POST body over 64 KiB", "400 INVALID_PAYLOAD", caseRESTTooLarge},
		{"SSE stream flood from one IP", "429 at connections_per_ip, as for sockets", caseSSEFlood},

		// Cross-site WebSocket hijacking and CORS.
		{"CSWSH: WebSocket handshake from a foreign origin", "403, the message names the origin; no session", caseCSWSHWebSocket},
		{"CSWSH: polling handshake from a foreign origin", "403, the message names the origin, no CORS headers, preflight too; no session", caseCSWSHPolling},
		{"CSWSH: Origin null", "403 on both transports", caseOriginNull},
		{"allowed origin", "connected on WebSocket; polling answers with CORS headers for it", caseAllowedOrigin},

		// Sizes.
		{"WebSocket text frame over max_payload", "closed (1009)", caseOversizedText},
		{"WebSocket binary frame over max_payload", "closed", caseOversizedBinary},
		{"WebSocket frame of exactly max_payload", "kept; the comment in it is CONTENT_TOO_LONG", caseFrameAtLimit},
		{"polling POST with a packet over max_payload", "413; the session is kept", casePollingTooLarge},
		{"polling POST body over max_payload, its packets under", "200, as from python-engineio, which sends all it has queued in one POST", casePollingBodyOverPacketLimit},
		{"polling POST body over max_poll_body", "413; the session is kept", casePollingBodyTooLarge},
		{"polling POST of more than 1000 packets", "400; the session is closed", casePollingTooManyPackets},

		// Encoding and content.
		{"invalid UTF-8 in a WebSocket text frame", "closed", onSocket("", badClosed, badText("42[\"new_comment\",{\"postId\":\"u\",\"content\":\"\xff\xfe\"}]"))},
		{"invalid UTF-8 in a polling body", "the session is closed", casePollingInvalidUTF8},
		{"lone surrogate escaped in JSON", "accepted, stored with U+FFFD as encoding/json decodes it", caseLoneSurrogate},
		{"control characters in content", "INVALID_PAYLOAD for NUL, BEL, ESC and C1 NEL; kept", caseControlChars},
		{"script content", "stored and returned verbatim as text: ack, comment_added, MongoDB", caseScript},
		{"new_comment payload of the wrong type", "INVALID_PAYLOAD; kept", caseWrongTypes},
		{"join_post with an invalid post id", "INVALID_POST_ID; kept", caseBadPostID},

		// Floods.
		{"comment flood over the rate limit", "RATE_LIMITED past the burst, per socket and per user; kept; other users unaffected", caseCommentFlood},
		{"connection flood from one IP", "429 on both transports at connections_per_ip; slots freed on close", caseConnectionFlood},
		{"room flood over rooms_per_socket", "RATE_LIMITED; kept", caseRoomFlood},
		{"idle handshake", "no CONNECT: closed at connect_timeout", caseIdleHandshake},

		// Engine.IO packets of every type, and bad ones, on WebSocket.
		{"EIO: empty text frame", "closed", onSocket("", badClosed, badText(""))},
		{"EIO: unknown packet type 7", "closed", onSocket("", badClosed, badText("7"))},
		{"EIO: packet type not a digit", "closed", onSocket("", badClosed, badText("x{}"))},
		{"EIO: open packet from the client", "closed", onSocket("", badClosed, badText("0{\"sid\":\"x\"}"))},
		{"EIO: base64 binary packet in a text frame", "closed", onSocket("", badClosed, badText("bAQIDBA=="))},
		{"EIO: close packet", "closed", onSocket("", badClosed, badText("1"))},
		{"EIO: ping from the client", "answered with a pong; kept (engine.io 6 closes it: invalid heartbeat direction)", onSocket("3", badKept, badText("2"))},
		{"EIO: unsolicited pong, upgrade and noop", "ignored; kept", onSocket("", badKept, badText("3"), badText("5"), badText("6"))},
		{"EIO: binary frame with no binary packet pending", "closed (socket.io-parser: got binary data when not reconstructing a packet)", onSocket("", badClosed, badBinary("world"))},

		// Engine.IO on long-polling.
		{"polling: empty body", "400; closed", pollingBad("")},
		{"polling: empty packet between separators", "400; closed", pollingBad("6\x1e\x1e6")},
		{"polling: invalid base64", "400; closed", pollingBad("b!!!!")},
		{"polling: newline in base64", "400; closed", pollingBad("bAQID\nBA==")},
		{"polling: unknown packet type", "400; closed", pollingBad("9")},
		{"polling: handshake and session errors", "400 with Engine.IO error codes 0, 1, 2, 5", caseHandshakeErrors},
		{"polling: overlapping GETs", "400; closed", caseOverlappingGets},

		// Socket.IO packets of every type, and bad ones.
		{"SIO: unknown packet type 9", "closed", onSocket("", badClosed, badText("49"))},
		{"SIO: namespace without a leading slash", "closed", onSocket("", badClosed, badText("42admin,[\"x\"]"))},
		{"SIO: namespace over 256 bytes", "closed", onSocket("", badClosed, badText("42/"+strings.Repeat("a", 300)+",[\"x\"]"))},
		{"SIO: invalid JSON", "closed", onSocket("", badClosed, badText("42[\"new_comment\",{\"postId\":"))},
		{"SIO: event data is an object", "closed", onSocket("", badClosed, badText("42{\"name\":\"new_comment\"}"))},
		{"SIO: event data is a string", "closed", onSocket("", badClosed, badText("42\"new_comment\""))},
		{"SIO: empty event array", "closed", onSocket("", badClosed, badText("42[]"))},
		{"SIO: integer event name", "closed (stricter than socket.io-parser, which accepts numbers)", onSocket("", badClosed, badText("42[1,\"a\"]"))},
		{"SIO: reserved event name, escaped", "closed", onSocket("", badClosed, badText("42[\"\\u0063onnect\"]"))},
		{"SIO: unknown event", "ignored; kept", onSocket("", badKept, badText("42[\"no_such_event\",1]"))},
		{"SIO: huge ack id 99999999999999999999", "closed", onSocket("", badClosed, badText("4299999999999999999999[\"join_post\",\"p\"]"))},
		{"SIO: ack id 2^53, over Number.MAX_SAFE_INTEGER", "closed", onSocket("", badClosed, badText("429007199254740992[\"join_post\",\"p\"]"))},
		{"SIO: ack id 2^53-1", "answered with that id; kept", onSocket("439007199254740991[{", badKept, badText("429007199254740991[\"join_post\",\"p\"]"))},
		{"SIO: JSON nested 10000 deep, unclosed", "closed", onSocket("", badClosed, badText("42[\"x\","+strings.Repeat("[", 10000)))},
		{"SIO: JSON nested 7000 deep", "closed", onSocket("", badClosed, badText("42[\"x\","+deep(7000)+"]"))},
		{"SIO: JSON nested 33 deep", "closed (limit 32)", onSocket("", badClosed, badText("42[\"x\","+deep(32)+"]"))},
		{"SIO: JSON nested 32 deep", "accepted (the unknown event is ignored); kept", onSocket("", badKept, badText("42[\"x\","+deep(31)+"]"))},
		{"SIO: binary event, then a text packet instead of its attachment", "closed", onSocket("", badClosed, badText("451-[\"x\",{\"_placeholder\":true,\"num\":0}]"), badText("42[\"join_post\",\"p\"]"))},
		{"SIO: binary event with 11 attachments", "closed (limit 10)", onSocket("", badClosed, badText("4511-[\"x\"]"))},
		{"SIO: binary event with 0 attachments", "closed", onSocket("", badClosed, badText("450-[\"x\"]"))},
		{"SIO: binary event with its attachment", "delivered (unknown event, ignored); kept", onSocket("", badKept, badText("451-[\"x\",{\"_placeholder\":true,\"num\":0}]"), badBinary("abc"))},
		{"SIO: binary ack, then text instead of its attachment", "closed", onSocket("", badClosed, badText("461-1[{\"_placeholder\":true,\"num\":0}]"), badText("42[\"join_post\",\"p\"]"))},
		{"SIO: CONNECT to an unknown namespace", "44/x,{\"message\":\"Invalid namespace\"}; kept", onSocket("44/x,{\"message\":\"Invalid namespace\"}", badKept, badText("40/x,"))},
		{"SIO: second CONNECT to /, right after the first", "answered again (a client's repeat, as the reference server answers CONNECTs decoded together)", onSocket("40{", badKept, badText("40"))},
		{"SIO: second CONNECT to / once the socket is in use", "closed", onSocket("", badClosed, badText(`42["leave_post","x"]`), badText("40"))},
		{"SIO: CONNECT_ERROR from the client", "closed", onSocket("", badClosed, badText("44{\"message\":\"x\"}"))},
		{"SIO: ACK with object data", "closed", onSocket("", badClosed, badText("431{}"))},
		{"SIO: ACK for an unknown id", "ignored; kept", onSocket("", badKept, badText("4377[\"x\"]"))},
		{"SIO: event on a namespace not joined", "ignored; kept", onSocket("", badKept, badText("42/nope,[\"x\"]"))},
		{"SIO: DISCONNECT with data", "closed", onSocket("", badClosed, badText("41{}"))},
		{"SIO: DISCONNECT, then an event", "the socket leaves /; the event is ignored; a new CONNECT works", caseDisconnectThenEvent},

		// socket.io-parser test/parser.js, "throw an error upon parsing error".
		{"socket.io-parser: 442[\"some\",\"data\"", "closed", onSocket("", badClosed, badText("442[\"some\",\"data\""))},
		{"socket.io-parser: 0/admin,\"invalid\"", "closed", onSocket("", badClosed, badText("40/admin,\"invalid\""))},
		{"socket.io-parser: 0[]", "closed", onSocket("", badClosed, badText("40[]"))},
		{"socket.io-parser: 1/admin,{}", "closed", onSocket("", badClosed, badText("41/admin,{}"))},
		{"socket.io-parser: 2/admin,\"invalid", "closed", onSocket("", badClosed, badText("42/admin,\"invalid"))},
		{"socket.io-parser: 2/admin,{}", "closed", onSocket("", badClosed, badText("42/admin,{}"))},
		{"socket.io-parser: 2[true,\"foo\"]", "closed", onSocket("", badClosed, badText("42[true,\"foo\"]"))},
		{"socket.io-parser: 2[null,\"bar\"]", "closed", onSocket("", badClosed, badText("42[null,\"bar\"]"))},
		{"socket.io-parser: 2[\"connect\"]", "closed", onSocket("", badClosed, badText("42[\"connect\"]"))},
		{"socket.io-parser: 2[\"disconnect\",\"123\"]", "closed", onSocket("", badClosed, badText("42[\"disconnect\",\"123\"]"))},
		{"socket.io-parser: 999", "closed", onSocket("", badClosed, badText("4999"))},
		{"socket.io-parser: 5, a bad binary packet", "closed", onSocket("", badClosed, badText("45"))},
		// socket.io-parser test/buffer.js.
		{"socket.io-parser: binary event, then 2[\"hello\"]", "closed", onSocket("", badClosed, badText("451-[\"hello\",{\"_placeholder\":true,\"num\":0}]"), badText("42[\"hello\"]"))},

		// Published advisories.
		{"CVE-2023-32695 socket.io-parser: event name {\"toString\":\"foo\"}", "closed", onSocket("", badClosed, badText("42[{\"toString\":\"foo\"}]"))},
		placeholder("CVE-2022-2421 socket.io-parser: placeholder num \"splice\"", `"splice"`),
		placeholder("CVE-2022-2421 socket.io-parser: placeholder num \"__proto__\"", `"__proto__"`),
		placeholder("CVE-2022-2421 socket.io-parser: placeholder num out of range", `1`),
		placeholder("CVE-2022-2421 socket.io-parser: placeholder num negative", `-1`),
		{"CVE-2022-41940 engine.io: aborted invalid upgrade", "HEAD with Upgrade: h2c gets 400; invalid upgrades reset mid-request (RST) harm nothing", caseAbortedUpgrade},
		{"CVE-2022-21676 engine.io: WebSocket frame with RSV2 and RSV3 set", "closed", caseRSVBits},
		{"CVE-2020-27813 gorilla/websocket: 64-bit length 0x7fffffffffffffff", "closed (1009) without waiting for a payload", caseHugeLength},
		{"CVE-2020-27813 gorilla/websocket: 64-bit length with the top bit set", "closed", caseNegativeLength},
		{"CVE-2020-27813 gorilla/websocket: continuation frames over max_payload", "closed", caseContinuationOverflow},
		{"CVE-2020-27813 gorilla/websocket: fragmented message under the limit", "reassembled and answered; kept", caseFragmented},
		{"RFC 6455: unmasked client frame", "closed", caseUnmasked},
		{"RFC 6455: continuation frame with nothing to continue", "closed", caseStrayContinuation},
		{"RFC 6455: ping control frame over 125 bytes", "closed", caseBigPing},
		{"RFC 6455: compression offered", "not negotiated; a frame with RSV1 set is closed", caseCompression},

		// A connection closed for a protocol violation handles nothing after it.
		{"WebSocket: new_comment after a protocol violation in the same segment", "closed; the comment is not stored", caseAfterViolationWS},
		{"polling: new_comment after a protocol violation in the same body", "closed; the comment is not stored", caseAfterViolationPolling},
	}
}

// badUnauthorized is the CONNECT_ERROR of a refused token.
const badUnauthorized = `44{"message":"Not authorized","data":{"code":"UNAUTHORIZED"}}`

// Outcomes of onSocket.
const (
	badKept   = "kept"
	badClosed = "closed"
)

type badFrame struct {
	binary bool
	data   string
}

func badText(s string) badFrame   { return badFrame{data: s} }
func badBinary(s string) badFrame { return badFrame{binary: true, data: s} }

// onSocket returns a case that sends frames on an authorized, connected
// WebSocket, waits for a frame starting with reply (if not ""), then
// checks that the connection is kept (it answers a join) or closed.
func onSocket(reply, outcome string, frames ...badFrame) func(*testing.T, *badSuite) {
	return func(t *testing.T, s *badSuite) {
		ws := s.connected(t, s.user("sock"), nil)
		defer ws.Close()
		for _, f := range frames {
			mt := websocket.TextMessage
			if f.binary {
				mt = websocket.BinaryMessage
			}
			require.NoError(t, ws.WriteMessage(mt, []byte(f.data)))
		}
		if reply != "" {
			badReadUntil(t, ws, "a frame starting with "+reply, func(m string) bool { return strings.HasPrefix(m, reply) })
		}
		if outcome == badKept {
			s.expectKept(t, ws)
		} else {
			badExpectClosed(t, ws)
		}
	}
}

// refused returns a case whose CONNECT carries the token tok makes: it is
// refused, and the connection, in no namespace, closes at connect_timeout.
func refused(name string, tok func(*badSuite) string) badCase {
	return badCase{name, "CONNECT_ERROR UNAUTHORIZED, then closed at connect_timeout", func(t *testing.T, s *badSuite) {
		ws := s.dial(t, nil)
		defer ws.Close()
		auth := ""
		if tk := tok(s); tk != "" {
			auth = fmt.Sprintf(`{"token":%q}`, tk)
		}
		require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("40"+auth)))
		_, reply, err := ws.ReadMessage()
		require.NoError(t, err)
		require.Equal(t, badUnauthorized, string(reply))
		start := time.Now()
		badExpectClosed(t, ws)
		require.Less(t, time.Since(start), badConnectTimeout+badWait/2, "closed by connect_timeout")
	}}
}

// placeholder returns a CVE-2022-2421 case: a binary event whose
// placeholder has an invalid num, with its one attachment. socket.io-parser
// refuses it since 4.2.1 ("illegal attachments"), and the server closes
// the connection.
func placeholder(name, num string) badCase {
	return badCase{name, "closed, as with socket.io-parser >= 4.2.1 (illegal attachments)", func(t *testing.T, s *badSuite) {
		ws := s.connected(t, s.user("ph"), nil)
		defer ws.Close()
		require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(`451-["new_comment",{"_placeholder":true,"num":`+num+`}]`)))
		require.NoError(t, ws.WriteMessage(websocket.BinaryMessage, []byte("world")))
		if closed, _ := badClosedWithin(ws, time.Second); !closed {
			t.Fatal("regression: a binary event whose placeholder num is " + num + ", not an index of its attachments, is accepted and dispatched; socket.io-parser >= 4.2.1 (CVE-2022-2421) closes the connection (\"illegal attachments\"). realtime/socketio does not check placeholders against the attachments")
		}
	}}
}

// pollingBad returns a case that POSTs body on an authorized polling
// session: 400, and the session is closed.
func pollingBad(body string) func(*testing.T, *badSuite) {
	return func(t *testing.T, s *badSuite) {
		p := s.polling(t, s.user("poll"), nil)
		st, _ := p.post(t, body)
		require.Equal(t, http.StatusBadRequest, st)
		p.expectClosed(t)
	}
}

func caseForgedUserID(t *testing.T, s *badSuite) {
	me := s.user("alice")
	c := s.client(t, me)
	ok, _, code := s.post(t, c, map[string]any{"postId": "forged", "content": "posing as bob", "userId": "bob"})
	require.False(t, ok)
	require.Equal(t, "UNAUTHORIZED", code)
	ev := c.next("comment_error", badWait)
	require.Contains(t, string(ev.Args[0]), `"UNAUTHORIZED"`)
	ok, cm, code := s.post(t, c, map[string]any{"postId": "forged", "content": "as myself", "userId": me})
	require.True(t, ok, code)
	require.Equal(t, me, cm.UserID)
	ok, cm, code = s.post(t, c, map[string]any{"postId": "forged", "content": "no userId"})
	require.True(t, ok, code)
	require.Equal(t, me, cm.UserID, "the user is the token's subject")
}

func caseForgedUserIDREST(t *testing.T, s *badSuite) {
	u := "http://" + s.addr + "/api/posts/forged/comments"
	bearer := http.Header{"Authorization": {"Bearer " + s.token(s.user("alice"))}, "Content-Type": {"application/json"}}
	st, body, _ := s.do(t, "POST", u, []byte(`{"content":"posing as bob","userId":"bob"}`), bearer)
	require.Equal(t, http.StatusUnauthorized, st, body)
	require.Contains(t, body, `"UNAUTHORIZED"`)
	st, body, _ = s.do(t, "POST", u, []byte(`{"content":"nobody"}`), nil)
	require.Equal(t, http.StatusUnauthorized, st, body)
}

// badConnectReply is the CONNECT answer of "/": sid, and pid with
// connection state recovery.
type badConnectReply struct{ SID, PID string }

func caseForgedPID(t *testing.T, s *badSuite) {
	ws := s.dial(t, nil)
	defer ws.Close()
	auth := fmt.Sprintf(`{"token":%q,"pid":%q,"offset":%q}`, s.token(s.user("pid")), "*forged*"+strings.Repeat("\\x", 1000), "../../x")
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("40"+auth)))
	_, reply, err := ws.ReadMessage()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(reply), "40{"), string(reply))
	var r badConnectReply
	require.NoError(t, json.Unmarshal(reply[2:], &r))
	require.NotEmpty(t, r.SID)
	require.NotContains(t, r.PID, "forged")
	s.expectKept(t, ws)
}

func caseLeakedPID(t *testing.T, s *badSuite) {
	owner := s.user("owner")
	ws := s.dial(t, nil)
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("40"+s.auth(owner))))
	_, reply, err := ws.ReadMessage()
	require.NoError(t, err)
	var first badConnectReply
	require.NoError(t, json.Unmarshal(reply[2:], &first), string(reply))
	if first.PID == "" {
		t.Skip("connection state recovery is off")
	}
	s.expectKept(t, ws) // joins a room: state worth stealing
	ws.Close()          // a transport close: the state is kept for recovery
	s.settle(t, "the owner's close")
	time.Sleep(300 * time.Millisecond) // the session is forgotten before its state is saved

	thief := s.dial(t, nil)
	defer thief.Close()
	require.NoError(t, thief.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`40{"pid":%q,"offset":""}`, first.PID))))
	_, reply, err = thief.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, badUnauthorized, string(reply))
	thief.Close()

	again := s.dial(t, nil)
	defer again.Close()
	require.NoError(t, again.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`40{"token":%q,"pid":%q,"offset":""}`, s.token(owner), first.PID))))
	_, reply, err = again.ReadMessage()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(reply), "40{"), string(reply))
	var r badConnectReply
	require.NoError(t, json.Unmarshal(reply[2:], &r))
	if r.SID != first.SID {
		t.Fatal("regression: a CONNECT refused by OnConnect still consumes the recovery state of the pid it names (RecoveryStore.Take runs before the auth hook), so whoever learns a pid can, without any token, keep its owner from recovering; the owner got a new socket id")
	}
}

func caseRESTReadNoToken(t *testing.T, s *badSuite) {
	st, body, _ := s.do(t, "GET", "http://"+s.addr+"/api/posts/bystander/comments?limit=5", nil, nil)
	if st == http.StatusOK {
		t.Fatal("regression: with auth.mode jwt and auth.anonymous_read false, GET /api/posts/{postId}/comments answers 200 with the comments to a request without a token, while a socket without one is refused: api/http.go getComments checks no token (or document that anonymous_read governs sockets only)")
	}
	require.Equal(t, http.StatusUnauthorized, st, body)
}

func caseSSENoToken(t *testing.T, s *badSuite) {
	ctx, cancel := context.WithTimeout(context.Background(), badWait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+s.addr+"/api/posts/bystander/stream", nil)
	require.NoError(t, err)
	resp, err := s.hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("regression: with auth.mode jwt and auth.anonymous_read false, GET /api/posts/{postId}/stream streams the post's comments to a request without a token, while a socket without one is refused: api/http.go stream checks no token (or document that anonymous_read governs sockets only)")
	}
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func caseRESTTooLarge(t *testing.T, s *badSuite) {
	h := http.Header{"Authorization": {"Bearer " + s.token(s.user("rest"))}, "Content-Type": {"application/json"}}
	body := `{"content":"` + strings.Repeat("a", 64<<10) + `"}`
	st, resp, _ := s.do(t, "POST", "http://"+s.addr+"/api/posts/big/comments", []byte(body), h)
	require.Equal(t, http.StatusBadRequest, st, resp)
	require.Contains(t, resp, `"INVALID_PAYLOAD"`)
}

func caseSSEFlood(t *testing.T, s *badSuite) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var open []*http.Response
	defer func() {
		cancel()
		for _, r := range open {
			r.Body.Close()
		}
	}()
	bearer := "Bearer " + s.token(s.user("sse"))
	limited := 0
	for range badConnsPerIP + 5 {
		req, err := http.NewRequestWithContext(ctx, "GET", "http://"+s.addr+"/api/posts/flood/stream", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", bearer)
		resp, err := s.hc.Do(req)
		require.NoError(t, err)
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
			limited++
			continue
		}
		open = append(open, resp)
	}
	if limited == 0 {
		t.Fatalf("regression: %d Server-Sent Event streams from one address were all accepted; limits.connections_per_ip (%d) counts Engine.IO sessions only, so each stream (a goroutine, a Redis subscription) escapes it", len(open), badConnsPerIP)
	}
	require.Len(t, open, badConnsPerIP-s.baseline, "streams and sessions share the limit")
}

func caseCSWSHWebSocket(t *testing.T, s *badSuite) {
	ws, resp, err := websocket.DefaultDialer.Dial(s.wsURL(), http.Header{"Origin": {badEvilOrigin}})
	if ws != nil {
		ws.Close()
	}
	require.ErrorIs(t, err, websocket.ErrBadHandshake)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e struct {
		Code    int
		Message string
	}
	require.NoError(t, json.Unmarshal(body, &e), string(body))
	require.Equal(t, 4, e.Code)
	require.Contains(t, e.Message, badEvilOrigin)
	require.Equal(t, s.baseline, s.app.sio.Conns(), "no session was opened")
}

func caseCSWSHPolling(t *testing.T, s *badSuite) {
	st, body, h := s.do(t, "GET", s.pollURL(""), nil, http.Header{"Origin": {badEvilOrigin}})
	require.Equal(t, http.StatusForbidden, st)
	require.Contains(t, body, badEvilOrigin)
	require.Empty(t, h.Get("Access-Control-Allow-Origin"))
	require.Empty(t, h.Get("Access-Control-Allow-Credentials"))
	st, _, h = s.do(t, "OPTIONS", s.pollURL(""), nil, http.Header{"Origin": {badEvilOrigin}, "Access-Control-Request-Method": {"POST"}})
	require.Equal(t, http.StatusForbidden, st, "preflight too")
	require.Empty(t, h.Get("Access-Control-Allow-Origin"))
	require.Equal(t, s.baseline, s.app.sio.Conns(), "no session was opened")
}

func caseOriginNull(t *testing.T, s *badSuite) {
	ws, resp, err := websocket.DefaultDialer.Dial(s.wsURL(), http.Header{"Origin": {"null"}})
	if ws != nil {
		ws.Close()
	}
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp.Body.Close()
	st, _, _ := s.do(t, "GET", s.pollURL(""), nil, http.Header{"Origin": {"null"}})
	require.Equal(t, http.StatusForbidden, st)
}

func caseAllowedOrigin(t *testing.T, s *badSuite) {
	ws := s.connected(t, s.user("web"), http.Header{"Origin": {badAllowedOrigin}})
	s.expectKept(t, ws)
	ws.Close()
	p := s.polling(t, s.user("web"), http.Header{"Origin": {badAllowedOrigin}})
	require.Equal(t, badAllowedOrigin, p.lastHeader.Get("Access-Control-Allow-Origin"))
	require.Equal(t, "true", p.lastHeader.Get("Access-Control-Allow-Credentials"))
	p.close(t)
}

func caseOversizedText(t *testing.T, s *badSuite) {
	ws := s.connected(t, s.user("big"), nil)
	defer ws.Close()
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, append([]byte("42[\"x\",\""), bytes.Repeat([]byte("a"), badMaxPayload)...)))
	err := badExpectClosed(t, ws)
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
		require.Equal(t, websocket.CloseMessageTooBig, ce.Code)
	}
}

func caseOversizedBinary(t *testing.T, s *badSuite) {
	ws := s.connected(t, s.user("big"), nil)
	defer ws.Close()
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(`451-["x",{"_placeholder":true,"num":0}]`)))
	require.NoError(t, ws.WriteMessage(websocket.BinaryMessage, make([]byte, badMaxPayload+2)))
	badExpectClosed(t, ws)
}

func caseFrameAtLimit(t *testing.T, s *badSuite) {
	ws := s.connected(t, s.user("big"), nil)
	defer ws.Close()
	head := `427["new_comment",{"postId":"big","content":"`
	tail := `"}]`
	frame := head + strings.Repeat("a", badMaxPayload+1-len(head)-len(tail)) + tail
	require.Len(t, frame, badMaxPayload+1, "the type byte and max_payload bytes")
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(frame)))
	m := badReadUntil(t, ws, "the ack", func(m string) bool { return strings.HasPrefix(m, "437[") })
	require.Contains(t, m, `"CONTENT_TOO_LONG"`)
	s.expectKept(t, ws)
}

func casePollingTooLarge(t *testing.T, s *badSuite) {
	p := s.polling(t, s.user("poll"), nil)
	st, _ := p.post(t, `42["x","`+strings.Repeat("a", badMaxPayload)+`"]`)
	require.Equal(t, http.StatusRequestEntityTooLarge, st)
	p.expectKept(t)
	p.close(t)
}

func casePollingBodyOverPacketLimit(t *testing.T, s *badSuite) {
	p := s.polling(t, s.user("poll"), nil)
	pkt := `42["x","` + strings.Repeat("a", badMaxPayload-16) + `"]`
	body := strings.Join([]string{pkt, pkt, pkt}, "\x1e")
	require.Greater(t, len(body), badMaxPayload)
	st, _ := p.post(t, body)
	require.Equal(t, http.StatusOK, st)
	p.expectKept(t)
	p.close(t)
}

func casePollingBodyTooLarge(t *testing.T, s *badSuite) {
	p := s.polling(t, s.user("poll"), nil)
	pkt := `42["x","` + strings.Repeat("a", badMaxPayload-16) + `"]`
	n := int(config.Default().SocketIO.MaxPollBody)/len(pkt) + 1
	st, _ := p.post(t, strings.TrimSuffix(strings.Repeat(pkt+"\x1e", n), "\x1e"))
	require.Equal(t, http.StatusRequestEntityTooLarge, st)
	p.expectKept(t)
	p.close(t)
}

func casePollingTooManyPackets(t *testing.T, s *badSuite) {
	p := s.polling(t, s.user("poll"), nil)
	st, _ := p.post(t, strings.Repeat("6\x1e", 1000)+"6")
	require.Equal(t, http.StatusBadRequest, st)
	p.expectClosed(t)
}

func casePollingInvalidUTF8(t *testing.T, s *badSuite) {
	p := s.polling(t, s.user("poll"), nil)
	p.post(t, "42[\"new_comment\",{\"postId\":\"u\",\"content\":\"\xff\xfe\"}]")
	p.expectClosed(t)
}

func caseLoneSurrogate(t *testing.T, s *badSuite) {
	c := s.client(t, s.user("sur"))
	ok, cm, code := s.post(t, c, json.RawMessage(`{"postId":"surrogate","content":"a\ud800b"}`))
	require.True(t, ok, code)
	require.Equal(t, "a\ufffdb", cm.Content)
}

func caseControlChars(t *testing.T, s *badSuite) {
	c := s.client(t, s.user("ctl"))
	for _, content := range []string{"nul\x00", "bell\a", "\x1b[31mred", "nel\u0085"} {
		ok, _, code := s.post(t, c, map[string]any{"postId": "ctl", "content": content})
		require.False(t, ok, "%q", content)
		require.Equal(t, "INVALID_PAYLOAD", code, "%q", content)
	}
	c.join("ctl") // kept
}

func caseScript(t *testing.T, s *badSuite) {
	c := s.client(t, s.user("xss"))
	content := "<script>alert(\"x\")</script><img src=x onerror=alert(1)> &amp; </textarea>\n\t'quotes' \u2028"
	ok, cm, code := s.post(t, c, map[string]any{"postId": "bystander", "content": content})
	require.True(t, ok, code)
	require.Equal(t, content, cm.Content, "ack")
	deadline := time.After(badWait)
	for {
		select {
		case ev := <-s.bystander.events:
			if ev.Name != "comment_added" {
				continue
			}
			var got comment.Comment
			require.NoError(t, json.Unmarshal(ev.Args[0], &got))
			if got.ID != cm.ID {
				continue
			}
			require.Equal(t, content, got.Content, "comment_added")
			s.script = cm
			return
		case <-deadline:
			t.Fatal("the bystander got no comment_added for the script comment")
		}
	}
}

func caseWrongTypes(t *testing.T, s *badSuite) {
	c := s.client(t, s.user("types"))
	for _, arg := range []string{`42`, `null`, `["postId"]`, `{"postId":123,"content":"x"}`, `{"postId":"p","content":["x"]}`, `"{not json"`} {
		ok, _, code := s.post(t, c, json.RawMessage(arg))
		require.False(t, ok, arg)
		require.Equal(t, "INVALID_PAYLOAD", code, arg)
	}
	a := c.emit(true, "new_comment")
	require.Contains(t, string(a), `"INVALID_PAYLOAD"`, "no argument")
}

func caseBadPostID(t *testing.T, s *badSuite) {
	c := s.client(t, s.user("pid"))
	for _, id := range []string{"", "../etc/passwd", "a b", strings.Repeat("p", 1000), "post\x00"} {
		a := c.emit(true, "join_post", id)
		require.Contains(t, string(a), `"INVALID_POST_ID"`, "%q", id)
	}
	c.join("fine")
}

func caseCommentFlood(t *testing.T, s *badSuite) {
	flooder := s.user("flooder")
	a := s.client(t, flooder)
	start := time.Now()
	accepted, limited := 0, 0
	for i := range 12 {
		ok, _, code := s.post(t, a, map[string]any{"postId": "flood", "content": fmt.Sprint("flood ", i)})
		if ok {
			accepted++
		} else {
			require.Equal(t, "RATE_LIMITED", code)
			limited++
		}
	}
	// The same user on a second socket shares the user's bucket.
	b := s.client(t, flooder)
	bLimited := 0
	for i := range 3 {
		ok, _, code := s.post(t, b, map[string]any{"postId": "flood", "content": fmt.Sprint("again ", i)})
		if ok {
			accepted++
		} else {
			require.Equal(t, "RATE_LIMITED", code)
			bLimited++
		}
	}
	refill := int(time.Since(start).Seconds()*badPerSecond) + 1
	require.GreaterOrEqual(t, accepted, badBurst, "the burst is accepted")
	require.LessOrEqual(t, accepted, badBurst+refill, "no more than the burst and the refill")
	require.Positive(t, limited)
	require.Positive(t, bLimited, "per user, not only per socket")
	a.join("flood") // kept
	// Another user is not affected.
	ok, _, code := s.post(t, s.client(t, s.user("other")), map[string]any{"postId": "flood", "content": "hello"})
	require.True(t, ok, code)
}

func caseConnectionFlood(t *testing.T, s *badSuite) {
	var open []*websocket.Conn
	defer func() {
		for _, ws := range open {
			ws.Close()
		}
	}()
	auth := s.auth(s.user("flood"))
	var refusedResp *http.Response
	for range badConnsPerIP + 5 {
		ws, resp, err := websocket.DefaultDialer.Dial(s.wsURL(), nil)
		if err != nil {
			require.NotNil(t, resp, "dial: %v", err)
			refusedResp = resp
			break
		}
		open = append(open, ws)
		_, _, err = ws.ReadMessage()
		require.NoError(t, err)
		require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("40"+auth)))
		_, reply, err := ws.ReadMessage()
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(reply), "40{"), string(reply))
	}
	require.NotNil(t, refusedResp, "no connection over the limit was refused")
	body, _ := io.ReadAll(refusedResp.Body)
	refusedResp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, refusedResp.StatusCode, string(body))
	require.Len(t, open, badConnsPerIP-s.baseline, "the suite's own connections count")
	st, _, _ := s.do(t, "GET", s.pollURL(""), nil, nil)
	require.Equal(t, http.StatusTooManyRequests, st, "polling too")
	s.expectKept(t, open[0])
	for _, ws := range open {
		ws.Close()
	}
	open = nil
	require.Eventually(t, func() bool { return s.app.sio.Conns() == s.baseline }, badWait, 10*time.Millisecond)
	ws := s.connected(t, s.user("flood"), nil)
	s.expectKept(t, ws)
	ws.Close()
}

func caseRoomFlood(t *testing.T, s *badSuite) {
	c := s.client(t, s.user("rooms"))
	for i := range badRoomsPerSocket {
		c.join(fmt.Sprint("room-", i))
	}
	a := c.emit(true, "join_post", "one-too-many")
	require.Contains(t, string(a), `"RATE_LIMITED"`)
	c.emit(true, "leave_post", "room-0")
	c.join("one-too-many")
}

func caseIdleHandshake(t *testing.T, s *badSuite) {
	ws := s.dial(t, nil)
	defer ws.Close()
	start := time.Now()
	badExpectClosed(t, ws)
	require.GreaterOrEqual(t, time.Since(start), badConnectTimeout/2, "not before connect_timeout")
}

func caseHandshakeErrors(t *testing.T, s *badSuite) {
	base := "http://" + s.addr + "/socket.io/"
	for _, tc := range []struct {
		method, url string
		code        int
	}{
		{"GET", base + "?EIO=3&transport=polling", 5},
		{"GET", base + "?EIO=4&transport=flashsocket", 0},
		{"POST", base + "?EIO=4&transport=polling", 2},
		{"GET", base + "?EIO=4&transport=polling&sid=no-such-session", 1},
		{"POST", base + "?EIO=4&transport=polling&sid=no-such-session", 1},
	} {
		st, body, _ := s.do(t, tc.method, tc.url, []byte("40"), nil)
		require.Equal(t, http.StatusBadRequest, st, tc.url)
		require.Contains(t, body, fmt.Sprintf(`"code":%d`, tc.code), tc.url)
	}
}

func caseOverlappingGets(t *testing.T, s *badSuite) {
	p := s.polling(t, s.user("poll"), nil)
	first := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", s.pollURL(p.sid), nil)
		resp, err := s.hc.Do(req)
		if err != nil {
			first <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	time.Sleep(100 * time.Millisecond) // the first GET is waiting
	st, _ := p.get(t)
	require.Equal(t, http.StatusBadRequest, st)
	select {
	case <-first: // it ends with the session
	case <-time.After(badWait):
		t.Fatal("the first GET still waits")
	}
	p.expectClosed(t)
}

func caseDisconnectThenEvent(t *testing.T, s *badSuite) {
	user := s.user("disc")
	ws := s.connected(t, user, nil)
	defer ws.Close()
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("41")))
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(`4242["join_post","p"]`)))
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("40"+s.auth(user))))
	m := badReadUntil(t, ws, "the answer to the new CONNECT", func(m string) bool { return strings.HasPrefix(m, "4") })
	require.True(t, strings.HasPrefix(m, "40{"), "the event after DISCONNECT is not answered, the new CONNECT is: %s", m)
	s.expectKept(t, ws)
}

func caseAbortedUpgrade(t *testing.T, s *badSuite) {
	req := "HEAD /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + s.addr +
		"\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
	nc, err := net.Dial("tcp", s.addr)
	require.NoError(t, err)
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(badWait))
	_, err = io.WriteString(nc, req)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(nc), &http.Request{Method: "HEAD"})
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	// The advisory's crash: the client resets the connection (SO_LINGER 0)
	// while the server turns the invalid upgrade down.
	for _, r := range []string{req, strings.Replace(req, "HEAD", "GET", 1),
		"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + s.addr + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\n\r\n"} {
		nc, err := net.Dial("tcp", s.addr)
		require.NoError(t, err)
		_, err = io.WriteString(nc, r)
		require.NoError(t, err)
		nc.(*net.TCPConn).SetLinger(0)
		nc.Close()
	}
}

func caseRSVBits(t *testing.T, s *badSuite) {
	r := s.raw(t, s.user("raw"), "")
	r.write(t, badRawFrame(0x80|0x20|0x10|0x1, nil)) // FIN, RSV2, RSV3, text, empty
	r.expectClosed(t)
}

func caseHugeLength(t *testing.T, s *badSuite) {
	r := s.raw(t, s.user("raw"), "")
	r.write(t, badRawHeader(0x81, 0x7fffffffffffffff))
	require.Equal(t, websocket.CloseMessageTooBig, r.expectClosed(t))
}

func caseNegativeLength(t *testing.T, s *badSuite) {
	r := s.raw(t, s.user("raw"), "")
	r.write(t, badRawHeader(0x81, 0xffffffffffffffff))
	r.expectClosed(t)
}

func caseContinuationOverflow(t *testing.T, s *badSuite) {
	r := s.raw(t, s.user("raw"), "")
	part := bytes.Repeat([]byte("a"), badMaxPayload/2)
	// Each frame is under the limit, their sum is not. One write, so that
	// none fails on a connection the server closed already.
	r.write(t, badRawFrame(0x01, append([]byte(`42["x","`), part...)), // text, not final
		badRawFrame(0x00, part), // continuation
		badRawFrame(0x00, part), // continuation, over the limit
		badRawFrame(0x80, []byte(`"]`)))
	r.expectClosed(t)
}

func caseFragmented(t *testing.T, s *badSuite) {
	r := s.raw(t, s.user("raw"), "")
	r.write(t, badRawFrame(0x01, []byte(`4213["join`)), badRawFrame(0x00, []byte(`_post","fr`)),
		badRawFrame(0x89, []byte("ping between fragments")), badRawFrame(0x80, []byte(`ag"]`)))
	r.readUntil(t, func(op byte, p []byte) bool {
		return op == 0x1 && bytes.HasPrefix(p, []byte(`4313[{`)) && bytes.Contains(p, []byte(`"ok":true`))
	})
}

func caseUnmasked(t *testing.T, s *badSuite) {
	r := s.raw(t, s.user("raw"), "")
	r.write(t, []byte{0x81, 0x02, '4', '2'})
	r.expectClosed(t)
}

func caseStrayContinuation(t *testing.T, s *badSuite) {
	r := s.raw(t, s.user("raw"), "")
	r.write(t, badRawFrame(0x80, []byte(`42["x"]`)))
	r.expectClosed(t)
}

func caseBigPing(t *testing.T, s *badSuite) {
	r := s.raw(t, s.user("raw"), "")
	r.write(t, badRawFrame(0x89, bytes.Repeat([]byte("p"), 126)))
	r.expectClosed(t)
}

func caseCompression(t *testing.T, s *badSuite) {
	r := s.raw(t, s.user("raw"), "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
	require.Empty(t, r.resp.Header.Get("Sec-WebSocket-Extensions"), "compression is off")
	r.write(t, badRawFrame(0x80|0x40|0x1, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})) // RSV1: "compressed"
	r.expectClosed(t)
}

func caseAfterViolationWS(t *testing.T, s *badSuite) {
	r := s.raw(t, s.user("after"), "")
	// Both frames in one write: the second is already buffered when the
	// first closes the connection.
	r.write(t, badRawFrame(0x81, []byte(`42["connect"]`)),
		badRawFrame(0x81, []byte(`42["new_comment",{"postId":"after-ws","content":"must not be stored"}]`)))
	r.expectClosed(t)
	s.requireNotStored(t, "after-ws")
}

func caseAfterViolationPolling(t *testing.T, s *badSuite) {
	p := s.polling(t, s.user("after"), nil)
	p.post(t, "42[\"connect\"]\x1e42[\"new_comment\",{\"postId\":\"after-polling\",\"content\":\"must not be stored\"}]")
	p.expectClosed(t)
	s.requireNotStored(t, "after-polling")
}

// requireNotStored checks that post holds no comment in Redis. One that
// does was handled after its connection had been closed: it reaches
// MongoDB although nobody was confirmed, so it is counted as stray.
func (s *badSuite) requireNotStored(t *testing.T, post string) {
	t.Helper()
	var cs []comment.Comment
	for range 10 { // a frame still being handled may append a little later
		var err error
		cs, _, err = s.e.buf.Recent(context.Background(), post, 10)
		require.NoError(t, err)
		if len(cs) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(cs) > 0 {
		for _, c := range cs {
			s.stray = append(s.stray, c.ID)
		}
		t.Fatalf("regression: %d comment(s) of post %q were appended after a protocol violation had closed the connection: the rest of the segment or body is still handed to the handler", len(cs), post)
	}
}

// Suite helpers.

func (s *badSuite) user(prefix string) string {
	s.users++
	return fmt.Sprintf("%s%d", prefix, s.users)
}

func badSign(m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	tk, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		panic(err)
	}
	return tk
}

// token is a valid token of user.
func (s *badSuite) token(user string) string {
	return badSign(jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": user, "iss": badIssuer, "exp": time.Now().Add(time.Hour).Unix()})
}

// auth is the CONNECT auth payload of user.
func (s *badSuite) auth(user string) string { return fmt.Sprintf(`{"token":%q}`, s.token(user)) }

func (s *badSuite) wsURL() string { return "ws://" + s.addr + "/socket.io/?EIO=4&transport=websocket" }

func (s *badSuite) pollURL(sid string) string {
	u := "http://" + s.addr + "/socket.io/?EIO=4&transport=polling"
	if sid != "" {
		u += "&sid=" + sid
	}
	return u
}

// client is a connected sioClient of user.
func (s *badSuite) client(t *testing.T, user string) *sioClient {
	t.Helper()
	reply, c := connectWith(t, s.addr, s.auth(user), nil)
	require.NotNil(t, c, reply)
	return c
}

// post emits new_comment with an ack; a confirmed comment is recorded.
func (s *badSuite) post(t *testing.T, c *sioClient, arg any) (bool, comment.Comment, string) {
	t.Helper()
	a := c.emit(true, "new_comment", arg)
	var res struct {
		OK      bool
		Comment comment.Comment
		Error   struct{ Code string }
	}
	require.NoError(t, json.Unmarshal(a, &res), string(a))
	if res.OK {
		require.NotEmpty(t, res.Comment.ID)
		s.confirmed = append(s.confirmed, res.Comment.ID)
	}
	return res.OK, res.Comment, res.Error.Code
}

// dial opens a WebSocket session and reads its open packet.
func (s *badSuite) dial(t *testing.T, h http.Header) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(s.wsURL(), h)
	require.NoError(t, err)
	ws.SetReadDeadline(time.Now().Add(badWait))
	_, open, err := ws.ReadMessage()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(open), "0{"), string(open))
	return ws
}

// connected is a WebSocket session connected to "/" as user.
func (s *badSuite) connected(t *testing.T, user string, h http.Header) *websocket.Conn {
	t.Helper()
	ws := s.dial(t, h)
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("40"+s.auth(user))))
	_, reply, err := ws.ReadMessage()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(reply), "40{"), string(reply))
	return ws
}

// expectKept checks that ws answers a join: the connection is open and
// its socket works.
func (s *badSuite) expectKept(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	s.probes++
	id := 900000 + s.probes
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`42%d["join_post","probe"]`, id))))
	want := fmt.Sprintf(`43%d[{`, id)
	m := badReadUntil(t, ws, "the ack of a join (the connection is kept)", func(m string) bool { return strings.HasPrefix(m, want) })
	require.Contains(t, m, `"ok":true`)
}

// badReadUntil reads frames until one satisfies ok; it fails if the
// connection closes or none comes within badWait.
func badReadUntil(t *testing.T, ws *websocket.Conn, what string, ok func(string) bool) string {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(badWait))
	var seen []string
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for %s: %v; frames before: %q", what, err, seen)
		}
		seen = append(seen, string(b))
		if string(b) == "2" {
			ws.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		if ok(string(b)) {
			return string(b)
		}
	}
}

// badClosedWithin reads until the connection ends or d passes.
func badClosedWithin(ws *websocket.Conn, d time.Duration) (bool, error) {
	ws.SetReadDeadline(time.Now().Add(d))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return false, err
			}
			return true, err
		}
	}
}

// badExpectClosed checks that the server closes ws within badWait, and
// returns the read error (a *websocket.CloseError if it sent a close frame).
func badExpectClosed(t *testing.T, ws *websocket.Conn) error {
	t.Helper()
	closed, err := badClosedWithin(ws, badWait)
	if !closed {
		t.Fatalf("the connection is still open after %s", badWait)
	}
	return err
}

// settle waits until only the suite's own sessions are open: every case
// releases what it opened, and closed sessions are forgotten.
func (s *badSuite) settle(t *testing.T, after string) {
	t.Helper()
	deadline := time.Now().Add(badWait)
	for s.app.sio.Conns() != s.baseline {
		if time.Now().After(deadline) {
			t.Fatalf("after %q: %d sessions open, want %d", after, s.app.sio.Conns(), s.baseline)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkBystander checks that the bystander, connected all along, is still
// connected and answers.
func (s *badSuite) checkBystander(t *testing.T, after string) {
	t.Helper()
	select {
	case <-s.bystander.done:
		t.Fatalf("after %q: the bystander's connection was closed", after)
	default:
	}
	for len(s.bystander.events) > 0 { // load_comments of earlier checks
		<-s.bystander.events
	}
	a := s.bystander.emit(true, "join_post", "bystander")
	require.Contains(t, string(a), `"ok":true`, "after %q", after)
}

// do sends one HTTP request and returns status, body and headers.
func (s *badSuite) do(t *testing.T, method, url string, body []byte, h http.Header) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := s.hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// badPoll is a long-polling session.
type badPoll struct {
	s          *badSuite
	sid        string
	hdr        http.Header
	lastHeader http.Header
}

// polling opens a polling session connected to "/" as user.
func (s *badSuite) polling(t *testing.T, user string, h http.Header) *badPoll {
	t.Helper()
	st, body, _ := s.do(t, "GET", s.pollURL(""), nil, h)
	require.Equal(t, http.StatusOK, st, body)
	require.True(t, strings.HasPrefix(body, "0{"), body)
	var open struct{ SID string }
	require.NoError(t, json.Unmarshal([]byte(body[1:]), &open))
	p := &badPoll{s: s, sid: open.SID, hdr: h}
	st, body = p.post(t, "40"+s.auth(user))
	require.Equal(t, http.StatusOK, st, body)
	st, body = p.get(t)
	require.Equal(t, http.StatusOK, st, body)
	require.True(t, strings.HasPrefix(body, "40{"), body)
	return p
}

func (p *badPoll) post(t *testing.T, body string) (int, string) {
	t.Helper()
	h := http.Header{"Content-Type": {"text/plain;charset=UTF-8"}}
	for k, v := range p.hdr {
		h[k] = v
	}
	st, b, hdr := p.s.do(t, "POST", p.s.pollURL(p.sid), []byte(body), h)
	p.lastHeader = hdr
	return st, b
}

func (p *badPoll) get(t *testing.T) (int, string) {
	t.Helper()
	st, b, hdr := p.s.do(t, "GET", p.s.pollURL(p.sid), nil, p.hdr)
	p.lastHeader = hdr
	return st, b
}

// expectKept checks that the session answers a join.
func (p *badPoll) expectKept(t *testing.T) {
	t.Helper()
	p.s.probes++
	id := 900000 + p.s.probes
	st, body := p.post(t, fmt.Sprintf(`42%d["join_post","probe"]`, id))
	require.Equal(t, http.StatusOK, st, body)
	want := fmt.Sprintf(`43%d[{`, id)
	for range 3 {
		st, body = p.get(t)
		require.Equal(t, http.StatusOK, st, body)
		for _, pkt := range strings.Split(body, "\x1e") {
			if strings.HasPrefix(pkt, want) {
				require.Contains(t, pkt, `"ok":true`)
				return
			}
		}
	}
	t.Fatalf("no ack of a join on the polling session (last body %q)", body)
}

// expectClosed checks that the session is gone: a GET gets 400, or the
// close packet.
func (p *badPoll) expectClosed(t *testing.T) {
	t.Helper()
	st, body := p.get(t)
	if st == http.StatusOK {
		require.Equal(t, "1", body, "the session is closed")
		return
	}
	require.Equal(t, http.StatusBadRequest, st, body)
}

// close closes the session as a client does: a close packet, then the GET
// that gets the final noop.
func (p *badPoll) close(t *testing.T) {
	t.Helper()
	p.post(t, "1")
	p.get(t)
}

// badRaw is a WebSocket on a bare TCP connection, for frames no client
// library would send.
type badRaw struct {
	nc   net.Conn
	br   *bufio.Reader
	resp *http.Response
}

// raw opens a WebSocket by hand (extra: more handshake header lines) and
// connects to "/" as user.
func (s *badSuite) raw(t *testing.T, user, extra string) *badRaw {
	t.Helper()
	nc, err := net.Dial("tcp", s.addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	var key [16]byte
	rand.Read(key[:])
	_, err = io.WriteString(nc, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: "+s.addr+
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "+base64.StdEncoding.EncodeToString(key[:])+
		"\r\nSec-WebSocket-Version: 13\r\n"+extra+"\r\n")
	require.NoError(t, err)
	r := &badRaw{nc: nc, br: bufio.NewReader(nc)}
	nc.SetDeadline(time.Now().Add(badWait))
	r.resp, err = http.ReadResponse(r.br, &http.Request{Method: "GET"})
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, r.resp.StatusCode)
	r.readUntil(t, func(op byte, p []byte) bool { return op == 0x1 && bytes.HasPrefix(p, []byte("0{")) })
	r.write(t, badRawFrame(0x81, []byte("40"+s.auth(user))))
	r.readUntil(t, func(op byte, p []byte) bool { return op == 0x1 && bytes.HasPrefix(p, []byte("40{")) })
	return r
}

// badRawHeader is the header of a masked client frame with first byte b0
// (FIN, RSV, opcode) that declares n payload bytes.
func badRawHeader(b0 byte, n uint64) []byte {
	h := []byte{b0}
	switch {
	case n < 126:
		h = append(h, 0x80|byte(n))
	case n < 1<<16:
		h = binary.BigEndian.AppendUint16(append(h, 0x80|126), uint16(n))
	default:
		h = binary.BigEndian.AppendUint64(append(h, 0x80|127), n)
	}
	return append(h, 0x12, 0x34, 0x56, 0x78) // mask key
}

// badRawFrame is a masked client frame.
func badRawFrame(b0 byte, payload []byte) []byte {
	f := badRawHeader(b0, uint64(len(payload)))
	key := f[len(f)-4:]
	for i, c := range payload {
		f = append(f, c^key[i%4])
	}
	return f
}

func (r *badRaw) write(t *testing.T, frames ...[]byte) {
	t.Helper()
	r.nc.SetWriteDeadline(time.Now().Add(badWait))
	_, err := r.nc.Write(bytes.Join(frames, nil))
	require.NoError(t, err)
}

// readFrame reads one server frame (unmasked).
func (r *badRaw) readFrame() (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("server frame of %d bytes", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r.br, p); err != nil {
		return 0, nil, err
	}
	return h[0] & 0x0f, p, nil
}

func (r *badRaw) readUntil(t *testing.T, ok func(op byte, p []byte) bool) {
	t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(badWait))
	for {
		op, p, err := r.readFrame()
		require.NoError(t, err)
		if ok(op, p) {
			return
		}
	}
}

// expectClosed checks that the server ends the connection within badWait
// and returns the code of its close frame (0 if none came before the end).
func (r *badRaw) expectClosed(t *testing.T) int {
	t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(badWait))
	code := 0
	for {
		op, p, err := r.readFrame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the connection is still open after %s", badWait)
			}
			return code
		}
		if op == 0x8 && len(p) >= 2 {
			code = int(binary.BigEndian.Uint16(p))
		}
	}
}
