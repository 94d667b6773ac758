package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/config"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// jwksKey is a signing key of an identity provider and its kid.
type jwksKey struct {
	kid    string
	priv   crypto.Signer
	method jwt.SigningMethod
}

// jwksSet returns the JSON Web Key Set of keys (EC keys on P-256).
func jwksSet(t *testing.T, keys ...jwksKey) []byte {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	var set []map[string]string
	for _, k := range keys {
		m := map[string]string{"kid": k.kid, "use": "sig", "alg": k.method.Alg()}
		switch p := k.priv.Public().(type) {
		case *rsa.PublicKey:
			m["kty"], m["n"], m["e"] = "RSA", b64(p.N.Bytes()), b64(big.NewInt(int64(p.E)).Bytes())
		case *ecdsa.PublicKey:
			m["kty"], m["crv"] = "EC", p.Curve.Params().Name
			m["x"], m["y"] = b64(p.X.FillBytes(make([]byte, 32))), b64(p.Y.FillBytes(make([]byte, 32)))
		}
		set = append(set, m)
	}
	b, err := json.Marshal(map[string]any{"keys": set})
	require.NoError(t, err)
	return b
}

// With auth.jwks_url, tokens are checked with the keys of the identity
// provider's key set: a comment carries the token's name and picture; a
// rotated key works with its first token and the key it replaced stops
// working; with the key set's server down, the keys held keep working.
func TestJWKSEndToEnd(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	first := jwksKey{kid: "2024", priv: rsaKey, method: jwt.SigningMethodRS256}
	second := jwksKey{kid: "2025", priv: ecKey, method: jwt.SigningMethodES256}

	var set atomic.Pointer[[]byte]
	var fetches atomic.Int64
	serve := func(keys ...jwksKey) {
		b := jwksSet(t, keys...)
		set.Store(&b)
	}
	serve(first)
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(*set.Load())
	}))
	defer idp.Close()

	e := newEnv(t, 1)
	cfg := e.config(1)
	cfg.Auth.Mode = config.AuthJWT
	cfg.Auth.JWKSURL = idp.URL + "/.well-known/jwks.json"
	cfg.Auth.Issuer = "https://id.example"
	require.NoError(t, cfg.Validate())
	app, stop := startApp(t, cfg)
	defer stop()

	tok := func(k jwksKey, sub, name string) string {
		t.Helper()
		claims := jwt.MapClaims{"sub": sub, "iss": "https://id.example", "exp": time.Now().Add(time.Hour).Unix(),
			"name": name, "picture": "https://img.example/" + sub + ".png"}
		j := jwt.NewWithClaims(k.method, claims)
		j.Header["kid"] = k.kid
		s, err := j.SignedString(k.priv)
		require.NoError(t, err)
		return s
	}
	connect := func(token string) *sioClient {
		t.Helper()
		reply, c := connectWith(t, app.Addr(), `{"token":"`+token+`"}`, nil)
		require.NotNil(t, c, reply)
		return c
	}
	refused := func(token string) {
		t.Helper()
		reply, c := connectWith(t, app.Addr(), `{"token":"`+token+`"}`, nil)
		require.Nil(t, c)
		require.Equal(t, `44{"message":"Not authorized","data":{"code":"UNAUTHORIZED"}}`, reply)
	}
	post := func(c *sioClient, content string) comment.Comment {
		t.Helper()
		a, err := ackOf(c.ack("new_comment", map[string]string{"postId": "jwks", "content": content}))
		require.NoError(t, err)
		require.True(t, a.OK, "%+v", a)
		return a.Comment
	}

	ann := connect(tok(first, "ann", "Ann Lee"))
	ann.join("jwks")
	posted := post(ann, "hello")
	require.Equal(t, "ann", posted.UserID)
	added := commentOf(t, ann.next("comment_added", 5*time.Second))
	require.Equal(t, posted.ID, added.ID)
	require.Equal(t, "Ann Lee", added.UserName, "on the wire")
	require.Equal(t, "https://img.example/ann.png", added.Avatar)

	// The provider rotates to a new key: its first token fetches the set.
	serve(second)
	bob := connect(tok(second, "bob", "Bob"))
	require.Equal(t, "Bob", post(bob, "rotated").UserName)
	refused(tok(first, "ann", "Ann Lee"))

	// The provider is down: the key held keeps working, a new kid does not.
	idp.Close()
	seen := fetches.Load()
	refused(tok(jwksKey{kid: "2026", priv: ecKey, method: jwt.SigningMethodES256}, "carol", "Carol"))
	carol := connect(tok(second, "carol", "Carol"))
	require.Equal(t, "Carol", post(carol, "still here").UserName)
	require.Equal(t, seen, fetches.Load(), "nothing was fetched from the stopped server")
}
