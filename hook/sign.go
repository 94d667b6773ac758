package hook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a signed request (Standard Webhooks,
// https://www.standardwebhooks.com/).
const (
	HeaderID        = "webhook-id"        // the message's id: "msg_" + the comment's id
	HeaderTimestamp = "webhook-timestamp" // Unix seconds when it was sent
	HeaderSignature = "webhook-signature" // "v1," + base64 HMAC-SHA256; receivers accept any of several, space-separated
)

// secretPrefix starts a Standard Webhooks secret, whose rest is base64.
const secretPrefix = "whsec_"

// Key returns the HMAC key of a secret: with the "whsec_" prefix, the bytes
// its base64 rest decodes to (as Standard Webhooks libraries do); else the
// secret's own bytes.
func Key(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		if secret == "" {
			return nil, errors.New("hook: empty secret")
		}
		return []byte(secret), nil
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(rest)
	}
	if err != nil || len(key) == 0 {
		return nil, errors.New("hook: a whsec_ secret must be followed by base64")
	}
	return key, nil
}

// Sign returns the webhook-signature of a message:
// "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)).
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Errors of Verify.
var (
	ErrNoSignature  = errors.New("hook: missing webhook headers")
	ErrBadSignature = errors.New("hook: no valid signature")
	ErrTooOld       = errors.New("hook: timestamp outside the tolerance")
)

// Verify checks a signed request as a receiver would: the headers are
// there, the timestamp is within tolerance of now (replays), and one of the
// space-separated v1 signatures is body's under key (compared in constant
// time).
func Verify(key []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return ErrNoSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrNoSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrTooOld
	}
	want := Sign(key, id, sec, body)
	for s := range strings.FieldsSeq(sigs) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return ErrBadSignature
}
