package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Limits of fetching a JSON Web Key Set (auth.jwks_url).
const (
	jwksFetchTimeout = 5 * time.Second // one fetch, from dialing to the last byte
	jwksWait         = 2 * time.Second // longest a token check waits for a refresh
	jwksMinInterval  = time.Second     // fetches start at least this far apart
	jwksMaxBytes     = 1 << 20         // largest key set read, in bytes
	minRSABits       = 2048            // smaller RSA keys are skipped
)

// jwksMethods are the algorithms a token checked against a key set may use:
// never HS256 (a public key is no secret), never none.
var jwksMethods = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"}

var (
	// errUnknownKey: the set holds no key for the token's kid (or no key
	// at all). Only this error makes a token check refresh the set.
	errUnknownKey = errors.New("auth: no key for the token's kid")
	errNeedKid    = errors.New("auth: the token has no kid and the key set holds several keys")
	errKeyAlg     = errors.New("auth: the token's alg does not fit its key")
)

// keySet is the keys of a JSON Web Key Set, fetched from a URL at start,
// every refresh interval, and when a token names a kid the set does not
// hold. Fetches are one at a time, start jwksMinInterval apart at least, and
// every caller that wants one meanwhile shares the next. A fetch that fails
// or brings no usable key keeps the keys held (and logs a warning).
type keySet struct {
	url       string
	every     time.Duration
	client    *http.Client
	transport *http.Transport // the client's own, so close can drop its connections
	log       *slog.Logger
	ctx       context.Context // cancelled by close: fetches end
	cancel    context.CancelFunc
	wg        sync.WaitGroup // the refresh loop and the fetch under way

	mu       sync.Mutex
	keys     []jwk
	last     time.Time     // start of the last fetch
	fetching chan struct{} // closed when the next fetch ends; nil if none is asked for
	closed   bool
}

// jwk is one usable key of a set.
type jwk struct {
	kid string
	alg string // the only alg it checks, if the set names one
	key any    // *rsa.PublicKey or *ecdsa.PublicKey
}

// newKeySet starts fetching the set at url, again every refresh.
func newKeySet(url string, every time.Duration, log *slog.Logger) *keySet {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	ctx, cancel := context.WithCancel(context.Background())
	s := &keySet{
		url: url, every: every, log: log, ctx: ctx, cancel: cancel,
		transport: tr, client: &http.Client{Transport: tr},
	}
	s.wg.Add(1)
	go s.run()
	return s
}

// close stops fetching and waits for the fetch under way to end.
func (s *keySet) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.transport.CloseIdleConnections()
}

// run fetches the set at once, then every s.every after the previous fetch
// (one for an unknown kid counts: a token checked before run's first tick
// has the set fetched already).
func (s *keySet) run() {
	defer s.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.ctx.Done():
			return
		}
		s.mu.Lock()
		last, asked := s.last, s.fetching != nil
		s.mu.Unlock()
		if since := time.Since(last); !asked && !last.IsZero() && since < s.every {
			t.Reset(s.every - since)
			continue
		}
		select {
		case <-s.refresh():
		case <-s.ctx.Done():
			return
		}
		t.Reset(s.every)
	}
}

// refresh asks for a fetch, or joins the one asked for already, and returns
// a channel closed when it ends.
func (s *keySet) refresh() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		done := make(chan struct{})
		close(done)
		return done
	}
	if s.fetching == nil {
		s.fetching = make(chan struct{})
		s.wg.Add(1)
		go s.fetch(time.Until(s.last.Add(jwksMinInterval)))
	}
	return s.fetching
}

// fetch waits delay, fetches the set and keeps its keys if it has usable
// ones, then tells the waiters.
func (s *keySet) fetch(delay time.Duration) {
	defer s.wg.Done()
	start := time.Now()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case start = <-t.C:
		case <-s.ctx.Done():
			t.Stop()
		}
	}
	keys, err := []jwk(nil), s.ctx.Err()
	if err == nil {
		keys, err = s.get()
	}
	s.mu.Lock()
	s.last = start
	if err == nil {
		s.keys = keys
	}
	held := len(s.keys)
	close(s.fetching)
	s.fetching = nil
	s.mu.Unlock()
	switch {
	case err == nil:
		s.log.Debug("jwks fetched", "url", s.url, "keys", len(keys))
	case s.ctx.Err() == nil:
		s.log.Warn("jwks not fetched, keeping the keys held", "url", s.url, "keys", held, "err", err)
	}
}

// get fetches and parses the set; an error if it holds no usable key.
func (s *keySet) get() ([]jwk, error) {
	ctx, cancel := context.WithTimeout(s.ctx, jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks: status %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	if len(b) > jwksMaxBytes {
		return nil, fmt.Errorf("jwks: larger than %d bytes", jwksMaxBytes)
	}
	keys, skipped, err := parseJWKS(b)
	if err != nil {
		return nil, err
	}
	for _, e := range skipped {
		s.log.Debug("jwks key skipped", "url", s.url, "err", e)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("jwks: no usable key: %w", errors.Join(skipped...))
	}
	return keys, nil
}

// keyFunc is the jwt.Keyfunc of tokens checked against the set: the key
// named by the token's kid, whose kind fits the token's alg. A token without
// kid is checked with the set's only key; with several keys it is refused,
// rather than tried against each. An unknown kid refreshes the set, waiting
// jwksWait at most.
func (s *keySet) keyFunc(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	alg := t.Method.Alg()
	key, err := s.find(kid, alg)
	if !errors.Is(err, errUnknownKey) {
		return key, err
	}
	wait := time.NewTimer(jwksWait)
	defer wait.Stop()
	select {
	case <-s.refresh():
	case <-wait.C:
	}
	return s.find(kid, alg)
}

// find returns the held key for a token's kid and alg.
func (s *keySet) find(kid, alg string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if kid == "" {
		switch len(s.keys) {
		case 0:
			return nil, errUnknownKey
		case 1:
			if s.keys[0].allows(alg) {
				return s.keys[0].key, nil
			}
			return nil, errKeyAlg
		default:
			return nil, errNeedKid
		}
	}
	err := errUnknownKey
	for _, k := range s.keys {
		if k.kid != kid {
			continue
		}
		if k.allows(alg) {
			return k.key, nil
		}
		err = errKeyAlg
	}
	return nil, err
}

// curve is an elliptic curve a JWK may name, with the length of its
// coordinates in bytes and the one alg it signs.
type curve struct {
	curve elliptic.Curve
	size  int
	alg   string
}

var curves = map[string]curve{
	"P-256": {elliptic.P256(), 32, "ES256"},
	"P-384": {elliptic.P384(), 48, "ES384"},
	"P-521": {elliptic.P521(), 66, "ES512"},
}

// allows reports whether a token signed with alg may be checked with k:
// alg fits k's kind (and curve), and is k's own alg if the set names one.
func (k jwk) allows(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch key := k.key.(type) {
	case *rsa.PublicKey:
		return alg == "RS256" || alg == "RS384" || alg == "RS512"
	case *ecdsa.PublicKey:
		return curves[key.Curve.Params().Name].alg == alg
	}
	return false
}

// rawJWK is a JSON Web Key as a set carries it (RFC 7517, RFC 7518 §6).
type rawJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS parses a key set: its usable keys, and why each other key was
// skipped. It fails only if b is not a JSON object.
func parseJWKS(b []byte) (keys []jwk, skipped []error, err error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, nil, fmt.Errorf("jwks: %w", err)
	}
	for i, m := range set.Keys {
		var r rawJWK
		k, err := jwk{}, json.Unmarshal(m, &r)
		if err == nil {
			k, err = r.parse()
		}
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d (kid %q): %w", i, r.Kid, err))
			continue
		}
		keys = append(keys, k)
	}
	return keys, skipped, nil
}

// parse returns the key r describes, if it signs with an alg we check.
func (r rawJWK) parse() (jwk, error) {
	if r.Use != "" && r.Use != "sig" {
		return jwk{}, fmt.Errorf("use %q", r.Use)
	}
	k := jwk{kid: r.Kid, alg: r.Alg}
	var err error
	switch r.Kty {
	case "RSA":
		k.key, err = parseRSA(r.N, r.E)
	case "EC":
		k.key, err = parseEC(r.Crv, r.X, r.Y)
	default:
		return jwk{}, fmt.Errorf("kty %q not supported", r.Kty)
	}
	if err != nil {
		return jwk{}, err
	}
	if r.Alg != "" && !k.allows(r.Alg) {
		return jwk{}, fmt.Errorf("alg %q not supported for kty %s", r.Alg, r.Kty)
	}
	return k, nil
}

func parseRSA(n64, e64 string) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(n64)
	if err != nil {
		return nil, fmt.Errorf("n: %w", err)
	}
	eb, err := base64.RawURLEncoding.DecodeString(e64)
	if err != nil {
		return nil, fmt.Errorf("e: %w", err)
	}
	n := new(big.Int).SetBytes(nb)
	if n.BitLen() < minRSABits {
		return nil, fmt.Errorf("%d-bit RSA key, under %d", n.BitLen(), minRSABits)
	}
	e := new(big.Int).SetBytes(eb)
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
		return nil, errors.New("e: not an odd exponent from 3 to 2^31-1")
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

func parseEC(crv, x64, y64 string) (*ecdsa.PublicKey, error) {
	c, ok := curves[crv]
	if !ok {
		return nil, fmt.Errorf("crv %q not supported", crv)
	}
	x, err := base64.RawURLEncoding.DecodeString(x64)
	if err != nil {
		return nil, fmt.Errorf("x: %w", err)
	}
	y, err := base64.RawURLEncoding.DecodeString(y64)
	if err != nil {
		return nil, fmt.Errorf("y: %w", err)
	}
	if len(x) != c.size || len(y) != c.size {
		return nil, fmt.Errorf("x and y must be %d bytes for %s", c.size, crv)
	}
	// Checks the point is on the curve.
	return ecdsa.ParseUncompressedPublicKey(c.curve, append(append([]byte{4}, x...), y...))
}
