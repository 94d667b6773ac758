// Package hook calls the moderation hook (moderation.hook_url): each new
// comment of a user who does not moderate is POSTed to it as JSON, signed
// as Standard Webhooks sign outbound webhooks, and the hook answers with
// the action to take.
//
// The request:
//
//	POST <hook_url>
//	content-type: application/json
//	webhook-id: msg_<comment id>
//	webhook-timestamp: <unix seconds>
//	webhook-signature: v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>
//
//	{"type":"comment.created","comment":{"_id":…,"postId":…,"userId":…,"content":…,…}}
//
// The answer, within the timeout: a 2xx with {"action":"allow"|"hold"|"reject"}.
// Anything else (a timeout, a network error, another status, a redirect, a
// body without one of those actions) is a failure, which the caller maps to
// moderation.hook_failure.
package hook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/commentd/commentd/comment"
)

// Config configures a Client. Zero fields take the defaults noted.
type Config struct {
	URL      string           // the hook's http or https URL; required
	Secret   string           // signing secret: "whsec_" + base64, or any other string used as is; required
	Timeout  time.Duration    // limit of one call, connecting included; 2s
	MaxConns int              // connections to the hook at once; comment.DefaultHookInFlight
	Now      func() time.Time // time.Now
}

// maxAnswer bounds the hook's answer, in bytes: it is {"action":"…"}.
const maxAnswer = 64 << 10

// EventCreated is the type of the request for a new comment.
const EventCreated = "comment.created"

// Client calls one hook over one shared http.Client. It is safe for
// concurrent use.
type Client struct {
	url     string
	key     []byte
	timeout time.Duration
	now     func() time.Time
	hc      *http.Client
	tr      *http.Transport
}

// New returns a Client of cfg.
func New(cfg Config) (*Client, error) {
	if cfg.URL == "" {
		return nil, errors.New("hook: no URL")
	}
	key, err := Key(cfg.Secret)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = comment.DefaultHookInFlight
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          cfg.MaxConns,
		MaxIdleConnsPerHost:   cfg.MaxConns, // one host: keep what a burst opened
		MaxConnsPerHost:       cfg.MaxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
	}
	return &Client{
		url:     cfg.URL,
		key:     key,
		timeout: cfg.Timeout,
		now:     cfg.Now,
		tr:      tr,
		hc: &http.Client{
			Transport: tr,
			Timeout:   cfg.Timeout,
			// A redirect is a failure: the signed content goes to the
			// configured URL only.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// request is the body POSTed to the hook.
type request struct {
	Type    string          `json:"type"`
	Comment json.RawMessage `json:"comment"`
}

// answer is the hook's answer.
type answer struct {
	Action comment.Verdict `json:"action"`
}

// Check POSTs c to the hook and returns its verdict, or why there is none.
func (h *Client) Check(ctx context.Context, c comment.Comment) (comment.Verdict, error) {
	body, err := json.Marshal(request{Type: EventCreated, Comment: c.JSON()})
	if err != nil {
		return "", fmt.Errorf("hook: encode: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("hook: %w", err)
	}
	id, ts := "msg_"+c.ID, h.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "commentd")
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(h.key, id, ts, body))
	resp, err := h.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("hook: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return "", fmt.Errorf("hook: read answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("hook: status %d", resp.StatusCode)
	}
	if len(b) > maxAnswer {
		return "", errors.New("hook: answer too large")
	}
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		return "", fmt.Errorf("hook: answer: %w", err)
	}
	switch a.Action {
	case comment.VerdictAllow, comment.VerdictHold, comment.VerdictReject:
		return a.Action, nil
	}
	return "", fmt.Errorf("hook: answer has no known action: %q", a.Action)
}

// Close closes the idle connections to the hook. Calls after it open new
// ones.
func (h *Client) Close() { h.tr.CloseIdleConnections() }
