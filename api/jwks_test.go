package api

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testRSA returns the i-th RSA key of the tests, generated once: 2048-bit
// keys take a while under -race.
var testRSA = func() func(t testing.TB, i int) *rsa.PrivateKey {
	var mu sync.Mutex
	keys := map[int]*rsa.PrivateKey{}
	return func(t testing.TB, i int) *rsa.PrivateKey {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if keys[i] == nil {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			require.NoError(t, err)
			keys[i] = k
		}
		return keys[i]
	}
}()

func testEC(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	require.NoError(t, err)
	return k
}

// testKey is a signing key of the tests and the kid its set gives it.
type testKey struct {
	kid  string
	priv crypto.Signer
	alg  string // the alg the set names; "" = none
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwk returns k's public key as a set carries it.
func (k testKey) jwk() map[string]any {
	m := map[string]any{"kid": k.kid, "use": "sig"}
	if k.alg != "" {
		m["alg"] = k.alg
	}
	switch p := k.priv.Public().(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64(p.N.Bytes()), b64(big.NewInt(int64(p.E)).Bytes())
	case *ecdsa.PublicKey:
		size := (p.Curve.Params().BitSize + 7) / 8
		m["kty"], m["crv"] = "EC", p.Curve.Params().Name
		m["x"], m["y"] = b64(p.X.FillBytes(make([]byte, size))), b64(p.Y.FillBytes(make([]byte, size)))
	}
	return m
}

// sign returns a token of claims, valid for an hour, signed with key under
// kid (no kid header if kid is "").
func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	c := jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()}
	for n, v := range claims {
		c[n] = v
	}
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// token returns a token of sub signed with k under its kid.
func (k testKey) token(t *testing.T, sub string) string {
	t.Helper()
	m := jwt.SigningMethod(jwt.SigningMethodRS256)
	if ec, ok := k.priv.(*ecdsa.PrivateKey); ok {
		m = jwt.GetSigningMethod(curves[ec.Curve.Params().Name].alg)
	}
	if k.alg != "" {
		m = jwt.GetSigningMethod(k.alg)
	}
	return sign(t, m, k.priv, k.kid, jwt.MapClaims{"sub": sub})
}

// jwksServer is a JWKS endpoint whose answer a test changes; it counts
// requests.
type jwksServer struct {
	*httptest.Server
	answer atomic.Pointer[jwksAnswer]
	hits   atomic.Int64
}

type jwksAnswer struct {
	status int
	body   []byte
}

func newJWKSServer(t *testing.T, keys ...testKey) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.serve(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		a := s.answer.Load()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		w.Write(a.body)
	}))
	t.Cleanup(s.Close)
	return s
}

// serve makes the server answer the set of keys.
func (s *jwksServer) serve(t *testing.T, keys ...testKey) {
	t.Helper()
	set := map[string][]map[string]any{"keys": {}}
	for _, k := range keys {
		set["keys"] = append(set["keys"], k.jwk())
	}
	b, err := json.Marshal(set)
	require.NoError(t, err)
	s.serveRaw(http.StatusOK, b)
}

func (s *jwksServer) serveRaw(status int, body []byte) {
	s.answer.Store(&jwksAnswer{status: status, body: body})
}

// jwksVerifier returns a verifier of the keys at url, closed at the end of
// the test.
func jwksVerifier(t *testing.T, url string, refresh time.Duration) *verifier {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	v, err := newVerifier(AuthConfig{Mode: "jwt", JWKSURL: url, JWKSRefresh: refresh}, log)
	require.NoError(t, err)
	t.Cleanup(v.close)
	return v
}

// requireUser checks that tok verifies as user.
func requireUser(t *testing.T, v *verifier, tok, user string) {
	t.Helper()
	id, err := v.verify(tok)
	require.NoError(t, err)
	require.Equal(t, user, id.user)
}

func TestJWKSKnownKid(t *testing.T) {
	rsaKey := testKey{kid: "rsa-1", priv: testRSA(t, 0)}
	ecKey := testKey{kid: "ec-1", priv: testEC(t, elliptic.P256())}
	ec384 := testKey{kid: "ec-2", priv: testEC(t, elliptic.P384()), alg: "ES384"}
	rs512 := testKey{kid: "rsa-2", priv: testRSA(t, 1), alg: "RS512"}
	srv := newJWKSServer(t, rsaKey, ecKey, ec384, rs512)
	v := jwksVerifier(t, srv.URL, time.Hour)

	// The first check waits for the fetch at start.
	requireUser(t, v, rsaKey.token(t, "alice"), "alice")
	requireUser(t, v, ecKey.token(t, "bob"), "bob")
	requireUser(t, v, ec384.token(t, "carol"), "carol")
	requireUser(t, v, rs512.token(t, "dan"), "dan")
	// RS384 with an RSA key whose alg the set does not name.
	requireUser(t, v, sign(t, jwt.SigningMethodRS384, rsaKey.priv, rsaKey.kid, jwt.MapClaims{"sub": "erin"}), "erin")

	id, err := v.verify(sign(t, jwt.SigningMethodES256, ecKey.priv, ecKey.kid,
		jwt.MapClaims{"sub": "ann", "name": "Ann", "picture": "https://img.example/a.png"}))
	require.NoError(t, err)
	require.Equal(t, identity{user: "ann", name: "Ann", avatar: "https://img.example/a.png"}, id)
	require.EqualValues(t, 1, srv.hits.Load(), "known kids need no refresh")
}

// A token with a new kid fetches the set again: a rotated key works with
// its first token, and the key it replaced stops working.
func TestJWKSRotation(t *testing.T) {
	old := testKey{kid: "2024", priv: testRSA(t, 0)}
	next := testKey{kid: "2025", priv: testEC(t, elliptic.P256())}
	srv := newJWKSServer(t, old)
	v := jwksVerifier(t, srv.URL, time.Hour)
	requireUser(t, v, old.token(t, "alice"), "alice")

	srv.serve(t, next)
	requireUser(t, v, next.token(t, "alice"), "alice")
	require.EqualValues(t, 2, srv.hits.Load())

	_, err := v.verify(old.token(t, "alice"))
	require.ErrorIs(t, err, errUnknownKey, "the old key left the set")
}

func TestJWKSUnknownKidRefused(t *testing.T) {
	known := testKey{kid: "known", priv: testRSA(t, 0)}
	srv := newJWKSServer(t, known)
	v := jwksVerifier(t, srv.URL, time.Hour)
	requireUser(t, v, known.token(t, "alice"), "alice")

	// Signed with the known key itself, under a kid of no set.
	_, err := v.verify(sign(t, jwt.SigningMethodRS256, known.priv, "stranger", jwt.MapClaims{"sub": "alice"}))
	require.ErrorIs(t, err, errUnknownKey)
	require.EqualValues(t, 2, srv.hits.Load(), "one refresh for the unknown kid")
}

// With the JWKS server gone, the keys held keep working.
func TestJWKSServerDownKeepsKeys(t *testing.T) {
	k := testKey{kid: "k", priv: testEC(t, elliptic.P256())}
	srv := newJWKSServer(t, k)
	v := jwksVerifier(t, srv.URL, time.Hour)
	requireUser(t, v, k.token(t, "alice"), "alice")

	srv.Close()
	_, err := v.verify(sign(t, jwt.SigningMethodES256, k.priv, "other", jwt.MapClaims{"sub": "alice"}))
	require.ErrorIs(t, err, errUnknownKey, "the refresh failed")
	requireUser(t, v, k.token(t, "alice"), "alice")
}

// A JWKS server that answers garbage leaves the keys held in place.
func TestJWKSGarbageKeepsKeys(t *testing.T) {
	k := testKey{kid: "k", priv: testRSA(t, 0)}
	cases := []struct {
		name   string
		status int
		body   string
	}{
		{"not JSON", http.StatusOK, "<html>oops</html>"},
		{"no keys", http.StatusOK, `{"keys":[]}`},
		{"no usable key", http.StatusOK, `{"keys":[{"kty":"oct","k":"c2VjcmV0"},{"kty":"RSA","kid":"k","n":"AQAB","e":"AQAB"}]}`},
		{"server error", http.StatusInternalServerError, `{"keys":[]}`},
		{"over 1 MiB", http.StatusOK, `{"keys":[]` + strings.Repeat(" ", jwksMaxBytes) + `}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newJWKSServer(t, k)
			v := jwksVerifier(t, srv.URL, time.Hour)
			requireUser(t, v, k.token(t, "alice"), "alice")

			srv.serveRaw(tc.status, []byte(tc.body))
			_, err := v.verify(sign(t, jwt.SigningMethodRS256, k.priv, "other", jwt.MapClaims{"sub": "alice"}))
			require.ErrorIs(t, err, errUnknownKey)
			require.Eventually(t, func() bool { return srv.hits.Load() == 2 }, 10*time.Second, 10*time.Millisecond)
			requireUser(t, v, k.token(t, "alice"), "alice")
		})
	}
}

// Never HS256 with the public key as its secret, never none, never an alg
// of another kind or curve than the key's, nor other than the key's own.
func TestJWKSAlgMismatchRefused(t *testing.T) {
	rsaKey := testKey{kid: "rsa", priv: testRSA(t, 0)}
	ecKey := testKey{kid: "ec", priv: testEC(t, elliptic.P256())}
	pinned := testKey{kid: "pinned", priv: testRSA(t, 1), alg: "RS256"}
	srv := newJWKSServer(t, rsaKey, ecKey, pinned)
	v := jwksVerifier(t, srv.URL, time.Hour)
	requireUser(t, v, rsaKey.token(t, "alice"), "alice")

	der, err := x509.MarshalPKIXPublicKey(rsaKey.priv.Public())
	require.NoError(t, err)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	attacker := testEC(t, elliptic.P256())
	p384 := testEC(t, elliptic.P384())
	claims := jwt.MapClaims{"sub": "alice"}
	cases := []struct {
		name string
		tok  string
	}{
		{"HS256 with the PEM public key", sign(t, jwt.SigningMethodHS256, pemKey, "rsa", claims)},
		{"HS256 with the DER public key", sign(t, jwt.SigningMethodHS256, der, "rsa", claims)},
		{"HS256 with the modulus", sign(t, jwt.SigningMethodHS256, rsaKey.priv.Public().(*rsa.PublicKey).N.Bytes(), "rsa", claims)},
		{"none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "rsa", claims)},
		{"ES256 under an RSA key's kid", sign(t, jwt.SigningMethodES256, attacker, "rsa", claims)},
		{"RS256 under an EC key's kid", sign(t, jwt.SigningMethodRS256, rsaKey.priv, "ec", claims)},
		{"ES384 under a P-256 key's kid", sign(t, jwt.SigningMethodES384, p384, "ec", claims)},
		{"RS512 under a key of alg RS256", sign(t, jwt.SigningMethodRS512, pinned.priv, "pinned", claims)},
		{"PS256 under an RSA key's kid", sign(t, jwt.SigningMethodPS256, rsaKey.priv, "rsa", claims)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.verify(tc.tok)
			require.Error(t, err)
		})
	}
	require.EqualValues(t, 1, srv.hits.Load(), "a known kid with the wrong alg needs no refresh")
}

// A token without kid is checked with the set's only key; with several
// keys it is refused.
func TestJWKSNoKid(t *testing.T) {
	a := testKey{kid: "a", priv: testEC(t, elliptic.P256())}
	b := testKey{kid: "b", priv: testEC(t, elliptic.P256())}
	noKid := func(k testKey) string {
		return sign(t, jwt.SigningMethodES256, k.priv, "", jwt.MapClaims{"sub": "alice"})
	}
	srv := newJWKSServer(t, a)
	v := jwksVerifier(t, srv.URL, time.Hour)
	requireUser(t, v, noKid(a), "alice")
	_, err := v.verify(noKid(b))
	require.Error(t, err, "signed with a key not in the set")

	srv2 := newJWKSServer(t, a, b)
	v2 := jwksVerifier(t, srv2.URL, time.Hour)
	requireUser(t, v2, a.token(t, "alice"), "alice")
	_, err = v2.verify(noKid(a))
	require.ErrorIs(t, err, errNeedKid)
}

// Many tokens with made-up kids, all at once: fetches stay one at a time
// and jwksMinInterval apart, each shared by every check waiting for it.
func TestJWKSRefreshRateLimited(t *testing.T) {
	k := testKey{kid: "k", priv: testEC(t, elliptic.P256())}
	srv := newJWKSServer(t, k)
	start := time.Now()
	v := jwksVerifier(t, srv.URL, time.Hour)
	requireUser(t, v, k.token(t, "alice"), "alice")

	const rounds, checks = 3, 30
	var wg sync.WaitGroup
	errs := make(chan error, rounds*checks)
	for r := range rounds {
		for i := range checks {
			tok := sign(t, jwt.SigningMethodES256, k.priv, fmt.Sprintf("made-up-%d-%d", r, i), jwt.MapClaims{"sub": "alice"})
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := v.verify(tok)
				errs <- err
			}()
		}
		wg.Wait()
	}
	close(errs)
	for err := range errs {
		require.Error(t, err)
	}
	v.close() // waits for a fetch under way
	fetches := srv.hits.Load()
	bound := 1 + int64(time.Since(start)/jwksMinInterval)
	t.Logf("%d fetches for %d unknown kids in %s", fetches, rounds*checks, time.Since(start))
	require.LessOrEqual(t, fetches, bound, "at most one fetch per %s", jwksMinInterval)
	require.GreaterOrEqual(t, fetches, int64(2), "an unknown kid did refresh")
	requireUser(t, v, k.token(t, "alice"), "alice")
}

// The set is fetched again every auth.jwks_refresh without any token
// asking (here as often as jwksMinInterval allows).
func TestJWKSPeriodicRefresh(t *testing.T) {
	a := testKey{kid: "a", priv: testEC(t, elliptic.P256())}
	b := testKey{kid: "b", priv: testEC(t, elliptic.P256())}
	srv := newJWKSServer(t, a)
	v := jwksVerifier(t, srv.URL, 10*time.Millisecond)
	require.Eventually(t, func() bool { return srv.hits.Load() >= 1 }, 10*time.Second, 10*time.Millisecond)
	srv.serve(t, b)
	require.Eventually(t, func() bool {
		_, err := v.keys.find("b", "ES256")
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "fetched without a token asking")
}

// A JWKS server that never answers: a token check gives up after
// jwksWait, and close cancels the fetch.
func TestJWKSHangingServer(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	v := jwksVerifier(t, srv.URL, time.Hour)
	k := testKey{kid: "k", priv: testEC(t, elliptic.P256())}
	_, err := v.verify(k.token(t, "alice"))
	require.ErrorIs(t, err, errUnknownKey, "no keys yet")
	v.close()
}

func TestParseJWKS(t *testing.T) {
	good := testKey{kid: "good", priv: testEC(t, elliptic.P256())}.jwk()
	rsaGood := testKey{kid: "rsa", priv: testRSA(t, 0)}.jwk()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	with := func(m map[string]any, kv ...any) map[string]any {
		c := map[string]any{}
		for k, v := range m {
			c[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
			} else {
				c[kv[i].(string)] = kv[i+1]
			}
		}
		return c
	}
	offCurve := b64(make([]byte, 32))
	skipped := map[string]any{
		"use enc":             with(rsaGood, "use", "enc"),
		"kty oct":             map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
		"kty OKP":             map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(make([]byte, 32))},
		"no kty":              with(good, "kty", nil),
		"RSA under 2048 bits": testKey{kid: "small", priv: small}.jwk(),
		"RSA even e":          with(rsaGood, "e", b64([]byte{2})),
		"RSA e of 1":          with(rsaGood, "e", b64([]byte{1})),
		"RSA huge e":          with(rsaGood, "e", b64([]byte{1, 0, 0, 0, 1})),
		"RSA n padded b64":    with(rsaGood, "n", rsaGood["n"].(string)+"=="),
		"RSA n std b64":       with(rsaGood, "n", "+/+/"+rsaGood["n"].(string)),
		"RSA alg PS256":       with(rsaGood, "alg", "PS256"),
		"RSA alg ES256":       with(rsaGood, "alg", "ES256"),
		"EC alg ES384":        with(good, "alg", "ES384"),
		"EC crv P-224":        with(good, "crv", "P-224"),
		"EC crv secp256k1":    with(good, "crv", "secp256k1"),
		"EC point off curve":  with(good, "x", offCurve, "y", offCurve),
		"EC short x":          with(good, "x", b64(make([]byte, 31))),
		"EC no y":             with(good, "y", nil),
		"kid not a string":    with(good, "kid", 7),
		"not an object":       "key",
	}
	for name, raw := range skipped {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(map[string]any{"keys": []any{raw, good}})
			require.NoError(t, err)
			keys, skip, err := parseJWKS(b)
			require.NoError(t, err)
			require.Len(t, keys, 1, "the good key is kept")
			require.Equal(t, "good", keys[0].kid)
			require.Len(t, skip, 1)
		})
	}
	_, _, err = parseJWKS([]byte("[1,2]"))
	require.Error(t, err)
}

func FuzzParseJWKS(f *testing.F) {
	var keys []map[string]any
	for i, k := range []crypto.Signer{testRSA(f, 0), testEC(f, elliptic.P256()), testEC(f, elliptic.P521())} {
		keys = append(keys, testKey{kid: fmt.Sprint(i), priv: k}.jwk())
	}
	set, _ := json.Marshal(map[string]any{"keys": keys})
	f.Add(set)
	f.Add(set[:len(set)/2])
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":""},{"kty":"RSA","n":"AA","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, _, err := parseJWKS(b)
		if err != nil {
			return
		}
		for _, k := range keys {
			ok := false
			for _, alg := range jwksMethods {
				ok = ok || k.allows(alg)
			}
			if !ok {
				t.Fatalf("key %q checks no alg", k.kid)
			}
		}
	})
}
