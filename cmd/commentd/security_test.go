package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/config"
	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

const testSecret = "test-secret-of-some-length"

func token(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	require.NoError(t, err)
	return s
}

// connectWith opens a socket with an auth payload and returns the CONNECT
// answer: "40{...}" or "44{...}", and the client when it connected.
func connectWith(t *testing.T, addr, auth string, header http.Header) (string, *sioClient) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", header)
	require.NoError(t, err)
	_, _, err = ws.ReadMessage()
	require.NoError(t, err)
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("40"+auth)))
	_, reply, err := ws.ReadMessage()
	require.NoError(t, err)
	if !strings.HasPrefix(string(reply), "40") {
		ws.Close()
		return string(reply), nil
	}
	c := &sioClient{t: t, ws: ws, acks: map[int]chan json.RawMessage{}, events: make(chan sioEvent, 1000), done: make(chan struct{})}
	go c.read()
	t.Cleanup(c.close)
	return string(reply), c
}

func jwtConfig(e *env, anonymous bool) *config.Config {
	cfg := e.config(1)
	cfg.Auth.Mode = config.AuthJWT
	cfg.Auth.JWTSecret = testSecret
	cfg.Auth.Issuer = "https://id.example"
	cfg.Auth.AnonymousRead = anonymous
	return cfg
}

func postResult(t *testing.T, c *sioClient, body map[string]string) (bool, string, string) {
	t.Helper()
	a := c.emit(true, "new_comment", body)
	var res struct {
		OK      bool
		Comment struct{ UserID string }
		Error   struct{ Code string }
	}
	require.NoError(t, json.Unmarshal(a, &res))
	return res.OK, res.Comment.UserID, res.Error.Code
}

func TestJWTAuth(t *testing.T) {
	e := newEnv(t, 1)
	app, stop := startApp(t, jwtConfig(e, false))
	addr := app.Addr()
	now := time.Now()
	good := jwt.MapClaims{"sub": "alice", "iss": "https://id.example", "exp": now.Add(time.Hour).Unix()}
	valid := token(t, jwt.SigningMethodHS256, []byte(testSecret), good)

	cases := []struct {
		name string
		tok  string
	}{
		{"no token", ""},
		{"expired", token(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "alice", "iss": "https://id.example", "exp": now.Add(-time.Minute).Unix()})},
		{"forged signature", token(t, jwt.SigningMethodHS256, []byte("another secret"), good)},
		{"alg none", token(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good)},
		{"wrong issuer", token(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "alice", "iss": "https://evil.example", "exp": now.Add(time.Hour).Unix()})},
		{"no expiry", token(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "alice", "iss": "https://id.example"})},
		{"bad subject", token(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "a b", "iss": "https://id.example", "exp": now.Add(time.Hour).Unix()})},
		{"garbage", "not.a.token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			auth := ""
			if tc.tok != "" {
				auth = fmt.Sprintf(`{"token":%q}`, tc.tok)
			}
			reply, c := connectWith(t, addr, auth, nil)
			require.Nil(t, c)
			require.Equal(t, `44{"message":"Not authorized","data":{"code":"UNAUTHORIZED"}}`, reply)
		})
	}

	t.Run("valid token: the user is the subject", func(t *testing.T) {
		_, c := connectWith(t, addr, fmt.Sprintf(`{"token":%q}`, valid), nil)
		require.NotNil(t, c)
		ok, user, _ := postResult(t, c, map[string]string{"postId": "auth", "content": "hi"})
		require.True(t, ok)
		require.Equal(t, "alice", user)
		ok, user, _ = postResult(t, c, map[string]string{"postId": "auth", "content": "hi", "userId": "alice"})
		require.True(t, ok)
		require.Equal(t, "alice", user)
		ok, _, code := postResult(t, c, map[string]string{"postId": "auth", "content": "as bob", "userId": "bob"})
		require.False(t, ok, "a forged userId is refused")
		require.Equal(t, "UNAUTHORIZED", code)
	})
	t.Run("bearer header and cookie", func(t *testing.T) {
		_, c := connectWith(t, addr, "", http.Header{"Authorization": {"Bearer " + valid}})
		require.NotNil(t, c)
		_, c = connectWith(t, addr, "", http.Header{"Cookie": {"commentd_token=" + valid}})
		require.NotNil(t, c)
	})
	t.Run("REST", func(t *testing.T) {
		post := func(auth string) int {
			req, _ := http.NewRequest("POST", "http://"+addr+"/api/posts/auth/comments", strings.NewReader(`{"content":"via REST"}`))
			if auth != "" {
				req.Header.Set("Authorization", "Bearer "+auth)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			return resp.StatusCode
		}
		require.Equal(t, http.StatusUnauthorized, post(""))
		require.Equal(t, http.StatusUnauthorized, post(cases[2].tok))
		require.Equal(t, http.StatusCreated, post(valid))
	})
	stop()
}

func TestAnonymousRead(t *testing.T) {
	e := newEnv(t, 1)
	app, stop := startApp(t, jwtConfig(e, true))
	_, c := connectWith(t, app.Addr(), "", nil)
	require.NotNil(t, c, "no token: may connect")
	c.join("anon")
	ok, _, code := postResult(t, c, map[string]string{"postId": "anon", "content": "hi", "userId": "alice"})
	require.False(t, ok)
	require.Equal(t, "UNAUTHORIZED", code)
	reply, _ := connectWith(t, app.Addr(), `{"token":"forged.token.here"}`, nil)
	require.True(t, strings.HasPrefix(reply, "44"), "a bad token is refused even so")
	stop()
}

// Floods over the rate limit get RATE_LIMITED, per socket and per user;
// what was accepted is confirmed and kept.
func TestRateLimits(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.config(1)
	cfg.Limits.CommentsPerSecond = 1
	cfg.Limits.CommentsBurst = 5
	app, stop := startApp(t, cfg)
	c := dialSIO(t, app.Addr())
	accepted, limited := 0, 0
	for i := range 12 {
		ok, _, code := postResult(t, c, map[string]string{"postId": "flood", "userId": "mallory", "content": fmt.Sprint(i)})
		if ok {
			accepted++
		} else {
			require.Equal(t, "RATE_LIMITED", code)
			limited++
		}
	}
	require.InDelta(t, 5, accepted, 1, "the burst, give or take one refill")
	require.Equal(t, 12-accepted, limited)
	// The same user on another socket shares the user's bucket.
	c2 := dialSIO(t, app.Addr())
	ok, _, code := postResult(t, c2, map[string]string{"postId": "flood", "userId": "mallory", "content": "again"})
	require.False(t, ok)
	require.Equal(t, "RATE_LIMITED", code)
	// Another user is not affected.
	ok, _, _ = postResult(t, c2, map[string]string{"postId": "flood", "userId": "trent", "content": "hello"})
	require.True(t, ok)
	stop() // drains into MongoDB
	n, err := e.store.Count(t.Context(), "flood")
	require.NoError(t, err)
	require.EqualValues(t, accepted+1, n, "every accepted comment is kept")
}

// Connection floods from one address stop at limits.connections_per_ip;
// rooms per socket at limits.rooms_per_socket; others are not disturbed.
func TestConnectionAndRoomLimits(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.config(1)
	cfg.Limits.ConnectionsPerIP = 5
	cfg.Limits.RoomsPerSocket = 3
	app, stop := startApp(t, cfg)
	var clients []*sioClient
	for range 5 {
		clients = append(clients, dialSIO(t, app.Addr()))
	}
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+app.Addr()+"/socket.io/?EIO=4&transport=websocket", nil)
	require.Error(t, err, "the sixth is refused")
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	pr, err := http.Get("http://" + app.Addr() + "/socket.io/?EIO=4&transport=polling")
	require.NoError(t, err)
	pr.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, pr.StatusCode, "polling too")

	c := clients[0]
	for i := range 3 {
		c.join(fmt.Sprint("room-", i))
	}
	a := c.emit(true, "join_post", "room-3")
	require.Contains(t, string(a), `"RATE_LIMITED"`)
	c.emit(true, "leave_post", "room-0")
	c.join("room-3")
	clients[4].close()
	require.Eventually(t, func() bool {
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+app.Addr()+"/socket.io/?EIO=4&transport=websocket", nil)
		if err == nil {
			ws.Close()
		}
		return err == nil
	}, 5*time.Second, 20*time.Millisecond, "a freed slot can be used again")
	stop()
}

// Text frames must be UTF-8: a frame that is not closes that connection
// only.
func TestInvalidUTF8Frame(t *testing.T) {
	e := newEnv(t, 1)
	app, stop := startApp(t, e.config(1))
	good := dialSIO(t, app.Addr())
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+app.Addr()+"/socket.io/?EIO=4&transport=websocket", nil)
	require.NoError(t, err)
	defer ws.Close()
	ws.ReadMessage()
	ws.WriteMessage(websocket.TextMessage, []byte("40"))
	ws.ReadMessage()
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("42[\"new_comment\",{\"postId\":\"u\",\"userId\":\"u\",\"content\":\"\xff\xfe\"}]")))
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			break
		}
	}
	good.post("u", "still fine")
	stop()
}

// RS256 and ES256 with a public key file; an HS256 token "signed" with the
// public key (algorithm confusion) is refused.
func TestJWTPublicKeys(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		pub    any
		method jwt.SigningMethod
		priv   any
	}{
		{"ES256", &ecKey.PublicKey, jwt.SigningMethodES256, ecKey},
		{"RS256", &rsaKey.PublicKey, jwt.SigningMethodRS256, rsaKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der, err := x509.MarshalPKIXPublicKey(tc.pub)
			require.NoError(t, err)
			pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			file := filepath.Join(t.TempDir(), "jwt.pem")
			require.NoError(t, os.WriteFile(file, pemBytes, 0o600))
			e := newEnv(t, 1)
			cfg := e.config(1)
			cfg.Auth.Mode = config.AuthJWT
			cfg.Auth.JWTPublicKeyFile = file
			app, stop := startApp(t, cfg)
			claims := jwt.MapClaims{"sub": "carol", "exp": time.Now().Add(time.Hour).Unix()}
			_, c := connectWith(t, app.Addr(), fmt.Sprintf(`{"token":%q}`, token(t, tc.method, tc.priv, claims)), nil)
			require.NotNil(t, c)
			ok, user, _ := postResult(t, c, map[string]string{"postId": "pk", "content": "signed"})
			require.True(t, ok)
			require.Equal(t, "carol", user)
			confused := token(t, jwt.SigningMethodHS256, pemBytes, claims)
			reply, c2 := connectWith(t, app.Addr(), fmt.Sprintf(`{"token":%q}`, confused), nil)
			require.Nil(t, c2)
			require.True(t, strings.HasPrefix(reply, "44"), reply)
			stop()
		})
	}
}

// auth.audience: a token for another audience is refused.
func TestJWTAudience(t *testing.T) {
	e := newEnv(t, 1)
	cfg := jwtConfig(e, false)
	cfg.Auth.Audience = "commentd"
	app, stop := startApp(t, cfg)
	exp := time.Now().Add(time.Hour).Unix()
	for _, tc := range []struct {
		aud any
		ok  bool
	}{
		{"commentd", true},
		{[]string{"other", "commentd"}, true},
		{"other", false},
		{nil, false},
	} {
		claims := jwt.MapClaims{"sub": "dave", "iss": "https://id.example", "exp": exp}
		if tc.aud != nil {
			claims["aud"] = tc.aud
		}
		reply, c := connectWith(t, app.Addr(), fmt.Sprintf(`{"token":%q}`, token(t, jwt.SigningMethodHS256, []byte(testSecret), claims)), nil)
		require.Equal(t, tc.ok, c != nil, "aud %v: %s", tc.aud, reply)
	}
	stop()
}
