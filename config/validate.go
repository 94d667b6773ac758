package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// KeyError is a bad value of one key. Load and Validate return one per bad
// key, joined with errors.Join; find them with errors.As.
type KeyError struct {
	Key    string // "flush.batch_size"
	Value  any    // the value given; nil for secrets
	Reason string // "must be between 1 and 100000"
}

// Error returns "config: KEY: REASON, got VALUE".
func (e *KeyError) Error() string {
	if e.Value == nil {
		return fmt.Sprintf("config: %s: %s", e.Key, e.Reason)
	}
	if s, ok := e.Value.(string); ok {
		return fmt.Sprintf("config: %s: %s, got %q", e.Key, e.Reason, s)
	}
	return fmt.Sprintf("config: %s: %s, got %v", e.Key, e.Reason, e.Value)
}

// Limits of the ranges Validate checks.
const (
	maxShards    = 1024
	maxBatchSize = 100_000
	maxHistory   = 1000
	minLeaseTTL  = 100 * time.Millisecond // tests use short leases; 1s+ in production
	// maxHookTimeout bounds moderation.hook_timeout: a comment waits for
	// the hook before it is acked, and a reader for the comment.
	maxHookTimeout = 30 * time.Second
)

// Validate checks every key and returns all the problems joined, each a
// *KeyError naming its key and value; nil if c is usable.
func (c *Config) Validate() error {
	var errs []error
	check := func(ok bool, key string, value any, reason string) {
		if !ok {
			errs = append(errs, &KeyError{Key: key, Value: value, Reason: reason})
		}
	}
	between := func(key string, n, lo, hi int64) {
		check(n >= lo && n <= hi, key, n, fmt.Sprintf("must be between %d and %d", lo, hi))
	}
	positive := func(key string, d time.Duration) {
		check(d > 0, key, d, "must be positive")
	}
	oneOf := func(key, s string, allowed ...string) {
		for _, a := range allowed {
			if s == a {
				return
			}
		}
		check(false, key, s, "must be one of "+strings.Join(allowed, ", "))
	}

	check(validAddr(c.HTTP.Addr), "http.addr", c.HTTP.Addr, `must be host:port, such as ":8080"`)
	if c.HTTP.AdvertiseAddr != "" {
		check(validAddr(c.HTTP.AdvertiseAddr), "http.advertise_addr", c.HTTP.AdvertiseAddr, `must be host:port, such as "10.0.0.7:8080"`)
	}

	check(len(c.Redis.Addrs) > 0, "redis.addrs", c.Redis.Addrs, "must list at least one address")
	for _, a := range c.Redis.Addrs {
		check(validAddr(a), "redis.addrs", a, `must be host:port, such as "127.0.0.1:6379"`)
	}
	check(c.Redis.Prefix != "", "redis.prefix", c.Redis.Prefix, "must not be empty")
	check(c.Redis.DB >= 0, "redis.db", c.Redis.DB, "must not be negative")
	check(c.Redis.DB == 0 || len(c.Redis.Addrs) < 2, "redis.db", c.Redis.DB, "must be 0 with Redis Cluster (several redis.addrs)")

	check(validMongoURI(c.Mongo.URI), "mongo.uri", shown("mongo.uri", c.Mongo.URI), "must be mongodb://host[:port] or mongodb+srv://host")
	check(c.Mongo.Database != "", "mongo.database", c.Mongo.Database, "must not be empty")
	check(c.Mongo.Collection != "", "mongo.collection", c.Mongo.Collection, "must not be empty")

	between("buffer.shards", int64(c.Buffer.Shards), 1, maxShards)
	check(c.Buffer.MaxLen > 0, "buffer.max_len", c.Buffer.MaxLen, "must be positive")

	oneOf("flush.mode", c.Flush.Mode, ModeWriteBehind, ModeWriteThrough)
	between("flush.batch_size", int64(c.Flush.BatchSize), 1, maxBatchSize)
	positive("flush.interval", c.Flush.Interval)
	check(c.Flush.LeaseTTL >= minLeaseTTL, "flush.lease_ttl", c.Flush.LeaseTTL, "must be at least "+minLeaseTTL.String())
	positive("flush.drain_timeout", c.Flush.DrainTimeout)
	check(c.Flush.MaxAttempts >= 1, "flush.max_attempts", c.Flush.MaxAttempts, "must be at least 1")

	between("history.limit", int64(c.History.Limit), 1, maxHistory)
	check(c.History.RecentLen >= c.History.Limit, "history.recent_len", c.History.RecentLen,
		fmt.Sprintf("must be at least history.limit (%d)", c.History.Limit))
	positive("history.recent_ttl", c.History.RecentTTL)
	check(c.History.LogLen >= 1, "history.log_len", c.History.LogLen, "must be at least 1")

	positive("socketio.ping_interval", c.SocketIO.PingInterval)
	positive("socketio.ping_timeout", c.SocketIO.PingTimeout)
	check(c.SocketIO.MaxPayload > 0, "socketio.max_payload", c.SocketIO.MaxPayload, "must be positive")
	check(c.SocketIO.MaxPollBody >= c.SocketIO.MaxPayload, "socketio.max_poll_body", c.SocketIO.MaxPollBody,
		fmt.Sprintf("must be at least socketio.max_payload (%d)", c.SocketIO.MaxPayload))
	check(c.SocketIO.MaxPollPackets >= 1, "socketio.max_poll_packets", c.SocketIO.MaxPollPackets, "must be at least 1")

	for _, o := range c.CORS.Origins {
		check(validOrigin(o), "cors.origins", o, `must be "*" or scheme://host[:port], such as "https://example.com"`)
	}

	oneOf("auth.mode", c.Auth.Mode, AuthNone, AuthJWT)
	if c.Auth.Mode == AuthJWT {
		keys := 0
		for _, s := range []string{c.Auth.JWTSecret, c.Auth.JWTPublicKeyFile, c.Auth.JWKSURL} {
			if s != "" {
				keys++
			}
		}
		check(keys > 0, "auth.jwt_secret", nil, "auth.mode jwt needs auth.jwt_secret, auth.jwt_public_key_file or auth.jwks_url")
		check(keys < 2, "auth.jwt_secret", nil, "set one of auth.jwt_secret, auth.jwt_public_key_file and auth.jwks_url")
	}
	if c.Auth.JWKSURL != "" {
		check(validHTTPURL(c.Auth.JWKSURL), "auth.jwks_url", shown("auth.jwks_url", c.Auth.JWKSURL),
			`must be an http or https URL, such as "https://id.example/.well-known/jwks.json"`)
	}
	check(c.Auth.JWKSRefresh >= time.Second, "auth.jwks_refresh", c.Auth.JWKSRefresh, "must be at least 1s")

	check(c.Limits.CommentMaxRunes >= 1, "limits.comment_max_runes", c.Limits.CommentMaxRunes, "must be at least 1")
	check(c.Limits.CommentsPerSecond >= 0, "limits.comments_per_second", c.Limits.CommentsPerSecond, "must not be negative (0 = off)")
	check(c.Limits.CommentsBurst >= 1 || c.Limits.CommentsPerSecond == 0, "limits.comments_burst", c.Limits.CommentsBurst,
		"must be at least 1 while limits.comments_per_second is on")
	check(c.Limits.ConnectionsPerIP >= 0, "limits.connections_per_ip", c.Limits.ConnectionsPerIP, "must not be negative (0 = off)")
	check(c.Limits.RoomsPerSocket >= 1, "limits.rooms_per_socket", c.Limits.RoomsPerSocket, "must be at least 1")
	positive("socketio.connect_timeout", c.SocketIO.ConnectTimeout)
	check(c.SocketIO.RecoveryWindow >= 0, "socketio.recovery_window", c.SocketIO.RecoveryWindow, "must not be negative (0 = off)")

	oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf("log.format", c.Log.Format, "text", "json")
	positive("comment.dedupe_window", c.Comment.DedupeWindow)
	oneOf("moderation.mode", c.Moderation.Mode, "off", "all", "guests", "first")
	check(c.Moderation.Mode == "off" || c.Flush.Mode == ModeWriteBehind, "moderation.mode", c.Moderation.Mode,
		"needs flush.mode write-behind (the moderation queue is kept by the buffer)")
	check(c.Moderation.AuditLen >= 1, "moderation.audit_len", c.Moderation.AuditLen, "must be at least 1")
	c.validateModeration(check, oneOf)
	check(c.Threads.MaxDepth >= 1 && c.Threads.MaxDepth <= 10, "threads.max_depth", c.Threads.MaxDepth, "must be 1 to 10")
	check(len(c.Reactions.Allowed) >= 1 && len(c.Reactions.Allowed) <= 20, "reactions.allowed", c.Reactions.Allowed, "must list 1 to 20 reactions")
	for _, r := range c.Reactions.Allowed {
		check(r != "" && len(r) <= 16 && utf8.ValidString(r) && !strings.ContainsAny(r, "\n\"\\"), "reactions.allowed", r, "each must be 1 to 16 bytes of UTF-8, without quotes or newlines")
	}
	check(c.Reactions.PushRate > 0 && c.Reactions.PushRate <= 100, "reactions.push_rate", c.Reactions.PushRate, "must be above 0 and at most 100")
	check(c.Hot.Window >= 10*time.Millisecond && c.Hot.Window <= 5*time.Second, "hot.window", c.Hot.Window, "must be 10ms to 5s")
	check(c.Hot.Threshold >= 0, "hot.threshold", c.Hot.Threshold, "must not be negative (0 = off)")
	c.validateWebhooks(check, between, positive)
	check(c.Comment.EditWindow >= 0, "comment.edit_window", c.Comment.EditWindow, "must not be negative (0 = no limit)")
	if c.Admin.Addr != "" {
		check(validAddr(c.Admin.Addr), "admin.addr", c.Admin.Addr, `must be host:port, such as "127.0.0.1:6060", or empty`)
	}

	return errors.Join(errs...)
}

// validateModeration checks the filters and the hook.
func (c *Config) validateModeration(check func(ok bool, key string, value any, reason string), oneOf func(key, s string, allowed ...string)) {
	m := c.Moderation
	oneOf("moderation.words_action", m.WordsAction, ActionHold, ActionReject)
	check(m.MaxLinks >= 0, "moderation.max_links", m.MaxLinks, "must not be negative (0 = off)")
	oneOf("moderation.hook_failure", m.HookFailure, ActionHold, ActionAllow)
	check(m.HookTimeout > 0 && m.HookTimeout <= maxHookTimeout, "moderation.hook_timeout", m.HookTimeout,
		"must be positive and at most "+maxHookTimeout.String())
	if m.HookURL != "" {
		check(validHTTPURL(m.HookURL), "moderation.hook_url", shown("moderation.hook_url", m.HookURL),
			`must be an http or https URL, such as "https://mod.example/commentd"`)
		check(m.HookSecret != "", "moderation.hook_secret", nil, "must be set with moderation.hook_url (it signs the requests)")
	}
	if rest, ok := strings.CutPrefix(m.HookSecret, "whsec_"); ok {
		check(validBase64(rest), "moderation.hook_secret", nil, "must be base64 after whsec_")
	}
	if c.Flush.Mode != ModeWriteBehind {
		// Held comments wait in the moderation queue, which the buffer keeps.
		const reason = "holds comments, which needs flush.mode write-behind (the moderation queue is kept by the buffer)"
		check(m.WordsAction != ActionHold || len(m.Words) == 0 && m.WordsFile == "", "moderation.words_action", m.WordsAction, reason)
		check(m.MaxLinks == 0, "moderation.max_links", m.MaxLinks, reason)
		check(m.HookURL == "", "moderation.hook_url", shown("moderation.hook_url", m.HookURL), reason)
	}
}

// webhookEvents are the event types an endpoint's events may list (the
// webhook package's Types).
var webhookEvents = []string{"comment.created", "comment.updated", "comment.removed", "comment.approved", "user.banned"}

// maxWebhookTimeout bounds webhooks.timeout: a request holds its endpoint's
// lease while it waits.
const maxWebhookTimeout = time.Minute

// validateWebhooks checks the endpoints and the delivery settings.
func (c *Config) validateWebhooks(check func(ok bool, key string, value any, reason string),
	between func(key string, n, lo, hi int64), positive func(key string, d time.Duration)) {
	w := c.Webhooks
	between("webhooks.batch_size", int64(w.BatchSize), 1, 1000)
	check(w.MaxAttempts >= 1, "webhooks.max_attempts", w.MaxAttempts, "must be at least 1")
	check(w.Timeout > 0 && w.Timeout <= maxWebhookTimeout, "webhooks.timeout", w.Timeout,
		"must be positive and at most "+maxWebhookTimeout.String())
	positive("webhooks.min_backoff", w.MinBackoff)
	check(w.MaxBackoff >= w.MinBackoff, "webhooks.max_backoff", w.MaxBackoff, "must be at least webhooks.min_backoff")
	check(w.LeaseTTL >= minLeaseTTL, "webhooks.lease_ttl", w.LeaseTTL, "must be at least "+minLeaseTTL.String())
	check(w.MaxLen >= 1, "webhooks.max_len", w.MaxLen, "must be at least 1")
	if len(w.Endpoints) > 0 {
		check(c.Flush.Mode == ModeWriteBehind, "webhooks.endpoints", nil,
			"need flush.mode write-behind (the flusher publishes the events once they are stored)")
	}
	names := map[string]bool{}
	for i, ep := range w.Endpoints {
		key := fmt.Sprintf("webhooks.endpoints[%d]", i)
		check(validName(ep.Name) && !names[ep.Name], key+".name", ep.Name,
			"must be set, unique, and of letters, digits, '_', '-' and '.' (at most 64)")
		names[ep.Name] = true
		check(validHTTPURL(ep.URL), key+".url", redactURI(ep.URL), `must be an http or https URL, such as "https://search.example/commentd"`)
		check(ep.Secret != "", key+".secret", nil, "must be set (it signs the requests): whsec_ + base64, or any string")
		if rest, ok := strings.CutPrefix(ep.Secret, "whsec_"); ok {
			check(validBase64(rest), key+".secret", nil, "must be base64 after whsec_")
		}
		for _, e := range ep.Events {
			check(slices.Contains(webhookEvents, e), key+".events", e, "must be one of "+strings.Join(webhookEvents, ", "))
		}
	}
}

// validName reports whether s names a webhook endpoint: it goes in Redis
// keys and metric labels.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// validBase64 reports whether s is non-empty base64, padded or not.
func validBase64(s string) bool {
	_, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		_, err = base64.RawStdEncoding.DecodeString(s)
	}
	return err == nil && s != ""
}

// validAddr reports whether a is host:port with a port (host may be empty).
func validAddr(a string) bool {
	_, port, err := net.SplitHostPort(a)
	return err == nil && port != ""
}

// validOrigin reports whether o is "*" or a bare origin, as browsers send it.
func validOrigin(o string) bool {
	if o == "*" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}

// validHTTPURL reports whether s is an absolute http or https URL.
func validHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// validMongoURI checks only the scheme and that a host follows; the driver
// parses the rest (several hosts, options).
func validMongoURI(s string) bool {
	rest, ok := strings.CutPrefix(s, "mongodb://")
	if !ok {
		rest, ok = strings.CutPrefix(s, "mongodb+srv://")
	}
	hosts, _, _ := strings.Cut(rest, "/")
	hosts, _, _ = strings.Cut(hosts, "?")
	if i := strings.LastIndex(hosts, "@"); i >= 0 {
		hosts = hosts[i+1:]
	}
	return ok && hosts != ""
}

// shown is what an error may show of key's value: nothing of a secret.
func shown(key string, value any) any {
	switch key {
	case "redis.password", "auth.jwt_secret", "moderation.hook_secret", "webhooks.endpoints":
		return nil
	case "mongo.uri", "auth.jwks_url", "moderation.hook_url":
		if s, ok := value.(string); ok {
			return redactURI(s)
		}
	}
	return value
}

// redactURI hides the password of a URI so errors can be logged.
func redactURI(s string) any {
	u, err := url.Parse(s)
	if err != nil {
		return nil // may hold a password we cannot find
	}
	return u.Redacted()
}
