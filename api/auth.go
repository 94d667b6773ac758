package api

import (
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/golang-jwt/jwt/v5"
)

// AuthConfig configures who may post. Mode "none" (the default) takes the
// userId a client sends, validated; "jwt" takes the user from a token's sub.
type AuthConfig struct {
	Mode          string        // "none" or "jwt"
	Secret        string        // HS256 secret
	PublicKeyFile string        // PEM public key for RS256 or ES256
	JWKSURL       string        // JSON Web Key Set of RS/ES keys chosen by kid (jwks.go)
	JWKSRefresh   time.Duration // fetch JWKSURL again this often; 1h
	Issuer        string        // required iss, if set
	Audience      string        // required aud, if set
	Cookie        string        // cookie that may carry the token
	AnonymousRead bool          // with jwt: no token may still join and read
	RolesClaim    string        // claim listing the user's roles; "roles"
	NameClaim     string        // claim holding the display name; "name"
	AvatarClaim   string        // claim holding the picture's URL; "picture"
	Guests        bool          // with jwt: no token may post as guest:<name>
	// AdminToken, if set, is a bearer token (or socket auth token) that
	// acts as a moderator named "admin", whatever the mode.
	AdminToken string
}

// identity is who a token says a client is.
type identity struct {
	user      string // the token's subject; "" when anonymous
	moderator bool   // roles hold moderator or admin, or the admin token
	name      string // display name from the token, cleaned
	avatar    string // picture URL from the token, if acceptable
}

// guestPrefix starts the user id of a guest (auth.guests); no token may
// name such a user.
const guestPrefix = comment.GuestPrefix

// adminIdentity is the holder of the admin token.
var adminIdentity = identity{user: "admin", moderator: true}

// actor is the identity as the domain sees it.
func (id identity) actor() comment.Actor {
	return comment.Actor{UserID: id.user, Moderator: id.moderator}
}

// errNoToken means the request carried no token at all.
var errNoToken = errors.New("no token")

// verifier checks tokens. The zero verifier (mode none) accepts everyone.
type verifier struct {
	cfg     AuthConfig
	key     any     // the secret or public key, without JWKSURL
	keys    *keySet // with JWKSURL; nil otherwise
	methods []string
}

// newVerifier returns the verifier of cfg. With cfg.JWKSURL it fetches
// keys in the background until close.
func newVerifier(cfg AuthConfig, log *slog.Logger) (*verifier, error) {
	if cfg.RolesClaim == "" {
		cfg.RolesClaim = "roles"
	}
	if cfg.NameClaim == "" {
		cfg.NameClaim = "name"
	}
	if cfg.AvatarClaim == "" {
		cfg.AvatarClaim = "picture"
	}
	if cfg.JWKSRefresh <= 0 {
		cfg.JWKSRefresh = time.Hour
	}
	v := &verifier{cfg: cfg}
	if cfg.Mode != "jwt" {
		return v, nil
	}
	switch {
	case cfg.Secret != "":
		v.key, v.methods = []byte(cfg.Secret), []string{"HS256"}
	case cfg.PublicKeyFile != "":
		b, err := os.ReadFile(cfg.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		block, _ := pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("auth: %s holds no PEM block", cfg.PublicKeyFile)
		}
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("auth: %s: %w", cfg.PublicKeyFile, err)
		}
		v.key, v.methods = key, []string{"RS256", "ES256"}
	case cfg.JWKSURL != "":
		v.keys, v.methods = newKeySet(cfg.JWKSURL, cfg.JWKSRefresh, log), jwksMethods
	default:
		return nil, errors.New("auth: mode jwt needs a secret, a public key file or a JWKS URL")
	}
	return v, nil
}

// close stops fetching keys; tokens are still checked with those held.
func (v *verifier) close() {
	if v.keys != nil {
		v.keys.close()
	}
}

func (v *verifier) on() bool { return v.cfg.Mode == "jwt" }

// isAdmin reports whether token is the admin token (compared in constant
// time).
func (v *verifier) isAdmin(token string) bool {
	return v.cfg.AdminToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(v.cfg.AdminToken)) == 1
}

// verify checks a token and returns who it names: its subject, a valid
// user id, and whether its roles make them a moderator. Only the
// configured algorithms are accepted: never "none", never HS256 with a
// public key. With a key set, a token naming an unknown kid may wait
// jwksWait for a refresh.
func (v *verifier) verify(token string) (identity, error) {
	if token == "" {
		return identity{}, errNoToken
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(v.methods), jwt.WithExpirationRequired(), jwt.WithLeeway(0)}
	if v.cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.cfg.Issuer))
	}
	if v.cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(v.cfg.Audience))
	}
	keyFunc := func(*jwt.Token) (any, error) { return v.key, nil }
	if v.keys != nil {
		keyFunc = v.keys.keyFunc
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(token, claims, keyFunc, opts...); err != nil {
		return identity{}, err
	}
	sub, err := claims.GetSubject()
	if err != nil || comment.ValidateUserID(sub) != nil {
		return identity{}, errors.New("token subject is not a valid user id")
	}
	if strings.HasPrefix(sub, guestPrefix) {
		return identity{}, errors.New("token subject names a guest")
	}
	id := identity{user: sub, moderator: hasModRole(claims[v.cfg.RolesClaim])}
	if s, ok := claims[v.cfg.NameClaim].(string); ok {
		id.name = comment.CleanName(s)
	}
	if s, ok := claims[v.cfg.AvatarClaim].(string); ok {
		id.avatar = comment.CleanAvatar(s)
	}
	return id, nil
}

// hasModRole reports whether a roles claim, a list or a space-separated
// string, holds moderator or admin.
func hasModRole(claim any) bool {
	var roles []string
	switch r := claim.(type) {
	case string:
		roles = strings.Fields(r)
	case []any:
		for _, x := range r {
			if s, ok := x.(string); ok {
				roles = append(roles, s)
			}
		}
	}
	for _, r := range roles {
		if r == "moderator" || r == "admin" {
			return true
		}
	}
	return false
}

// requestToken finds a token in a socket's auth payload, else the request's
// Authorization: Bearer header, else its cookie.
func (v *verifier) requestToken(r *http.Request, auth json.RawMessage) string {
	var a struct {
		Token string `json:"token"`
	}
	if len(auth) > 0 && json.Unmarshal(auth, &a) == nil && a.Token != "" {
		return a.Token
	}
	if r == nil {
		return ""
	}
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimPrefix(h, "Bearer ")
	}
	if v.cfg.Cookie != "" {
		if c, err := r.Cookie(v.cfg.Cookie); err == nil {
			return c.Value
		}
	}
	return ""
}

// author is who posts a new comment: its user id, display name and
// picture.
type author struct{ user, name, avatar string }

// poster decides the author of a new comment. With jwt: the token's
// subject, name and picture (a different userId in the payload is
// refused); without a token and with guests on, guest:<userName>. Without
// auth: the payload's userId and userName.
func (v *verifier) poster(id identity, claimedUser, claimedName string) (author, error) {
	if !v.on() {
		return author{user: claimedUser, name: claimedName}, nil
	}
	if id.user == "" {
		if !v.cfg.Guests {
			return author{}, comment.Errorf(comment.CodeUnauthorized, "sign in to comment")
		}
		name := claimedName
		if name == "" {
			name = strings.TrimPrefix(claimedUser, guestPrefix)
		}
		if len(name) > comment.MaxNameRunes || comment.ValidateUserID(name) != nil {
			return author{}, comment.Errorf(comment.CodeInvalidUserID, "a guest's userName must be 1 to 64 letters, digits or -_.:@")
		}
		user := guestPrefix + name
		if claimedUser != "" && claimedUser != user {
			return author{}, comment.Errorf(comment.CodeUnauthorized, "a guest posts as guest:<userName>; sign in to post as a user")
		}
		return author{user: user, name: name}, nil
	}
	if claimedUser != "" && claimedUser != id.user {
		return author{}, comment.Errorf(comment.CodeUnauthorized, "userId does not match the token")
	}
	return author{user: id.user, name: id.name, avatar: id.avatar}, nil
}
