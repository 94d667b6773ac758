package config

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDefaultIsValid(t *testing.T) {
	require.NoError(t, Default().Validate())
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		key    string // "" = valid
	}{
		{"empty http.addr", func(c *Config) { c.HTTP.Addr = "" }, "http.addr"},
		{"http.addr without port", func(c *Config) { c.HTTP.Addr = "localhost" }, "http.addr"},
		{"no redis.addrs", func(c *Config) { c.Redis.Addrs = nil }, "redis.addrs"},
		{"bad redis.addrs", func(c *Config) { c.Redis.Addrs = []string{"127.0.0.1:6379", "redis"} }, "redis.addrs"},
		{"empty redis.prefix", func(c *Config) { c.Redis.Prefix = "" }, "redis.prefix"},
		{"negative redis.db", func(c *Config) { c.Redis.DB = -1 }, "redis.db"},
		{"redis.db with cluster", func(c *Config) { c.Redis.Addrs = []string{"a:1", "b:2"}; c.Redis.DB = 1 }, "redis.db"},
		{"cluster", func(c *Config) { c.Redis.Addrs = []string{"a:1", "b:2"} }, ""},
		{"bad mongo.uri", func(c *Config) { c.Mongo.URI = "http://x" }, "mongo.uri"},
		{"mongo.uri without host", func(c *Config) { c.Mongo.URI = "mongodb://" }, "mongo.uri"},
		{"mongo.uri replica set", func(c *Config) { c.Mongo.URI = "mongodb://u:p@a:1,b:2/?replicaSet=rs" }, ""},
		{"mongo.uri srv", func(c *Config) { c.Mongo.URI = "mongodb+srv://cluster.example" }, ""},
		{"empty mongo.database", func(c *Config) { c.Mongo.Database = "" }, "mongo.database"},
		{"empty mongo.collection", func(c *Config) { c.Mongo.Collection = "" }, "mongo.collection"},
		{"zero buffer.shards", func(c *Config) { c.Buffer.Shards = 0 }, "buffer.shards"},
		{"too many buffer.shards", func(c *Config) { c.Buffer.Shards = 1025 }, "buffer.shards"},
		{"max buffer.shards", func(c *Config) { c.Buffer.Shards = 1024 }, ""},
		{"zero buffer.max_len", func(c *Config) { c.Buffer.MaxLen = 0 }, "buffer.max_len"},
		{"bad flush.mode", func(c *Config) { c.Flush.Mode = "write-around" }, "flush.mode"},
		{"zero flush.batch_size", func(c *Config) { c.Flush.BatchSize = 0 }, "flush.batch_size"},
		{"huge flush.batch_size", func(c *Config) { c.Flush.BatchSize = 100_001 }, "flush.batch_size"},
		{"zero flush.interval", func(c *Config) { c.Flush.Interval = 0 }, "flush.interval"},
		{"short flush.lease_ttl", func(c *Config) { c.Flush.LeaseTTL = 99 * time.Millisecond }, "flush.lease_ttl"},
		{"test flush.lease_ttl", func(c *Config) { c.Flush.LeaseTTL = 100 * time.Millisecond }, ""},
		{"zero flush.drain_timeout", func(c *Config) { c.Flush.DrainTimeout = 0 }, "flush.drain_timeout"},
		{"zero flush.max_attempts", func(c *Config) { c.Flush.MaxAttempts = 0 }, "flush.max_attempts"},
		{"zero history.limit", func(c *Config) { c.History.Limit = 0 }, "history.limit"},
		{"huge history.limit", func(c *Config) { c.History.Limit = 1001 }, "history.limit"},
		{"recent_len below limit", func(c *Config) { c.History.RecentLen = 99 }, "history.recent_len"},
		{"recent_len at limit", func(c *Config) { c.History.RecentLen = 100 }, ""},
		{"zero history.recent_ttl", func(c *Config) { c.History.RecentTTL = 0 }, "history.recent_ttl"},
		{"zero socketio.ping_interval", func(c *Config) { c.SocketIO.PingInterval = 0 }, "socketio.ping_interval"},
		{"zero socketio.ping_timeout", func(c *Config) { c.SocketIO.PingTimeout = 0 }, "socketio.ping_timeout"},
		{"zero socketio.max_payload", func(c *Config) { c.SocketIO.MaxPayload = 0 }, "socketio.max_payload"},
		{"max_poll_body under max_payload", func(c *Config) { c.SocketIO.MaxPollBody = c.SocketIO.MaxPayload - 1 }, "socketio.max_poll_body"},
		{"max_poll_body at max_payload", func(c *Config) { c.SocketIO.MaxPollBody = c.SocketIO.MaxPayload }, ""},
		{"zero socketio.max_poll_packets", func(c *Config) { c.SocketIO.MaxPollPackets = 0 }, "socketio.max_poll_packets"},
		{"any origin", func(c *Config) { c.CORS.Origins = []string{"*"} }, ""},
		{"origin with port", func(c *Config) { c.CORS.Origins = []string{"http://localhost:3000"} }, ""},
		{"origin without scheme", func(c *Config) { c.CORS.Origins = []string{"example.com"} }, "cors.origins"},
		{"origin with path", func(c *Config) { c.CORS.Origins = []string{"https://example.com/app"} }, "cors.origins"},
		{"bad auth.mode", func(c *Config) { c.Auth.Mode = "basic" }, "auth.mode"},
		{"jwt without key", func(c *Config) { c.Auth.Mode = AuthJWT }, "auth.jwt_secret"},
		{"jwt with both", func(c *Config) {
			c.Auth.Mode, c.Auth.JWTSecret, c.Auth.JWTPublicKeyFile = AuthJWT, "s", "k.pem"
		}, "auth.jwt_secret"},
		{"jwt with key file", func(c *Config) { c.Auth.Mode, c.Auth.JWTPublicKeyFile = AuthJWT, "k.pem" }, ""},
		{"jwt with jwks_url", func(c *Config) { c.Auth.Mode, c.Auth.JWKSURL = AuthJWT, "https://id.example/jwks.json" }, ""},
		{"jwt with secret and jwks_url", func(c *Config) {
			c.Auth.Mode, c.Auth.JWTSecret, c.Auth.JWKSURL = AuthJWT, "s", "https://id.example/jwks.json"
		}, "auth.jwt_secret"},
		{"jwks_url not http", func(c *Config) { c.Auth.Mode, c.Auth.JWKSURL = AuthJWT, "file:///etc/jwks.json" }, "auth.jwks_url"},
		{"jwks_url without host", func(c *Config) { c.Auth.Mode, c.Auth.JWKSURL = AuthJWT, "https:///jwks.json" }, "auth.jwks_url"},
		{"short auth.jwks_refresh", func(c *Config) { c.Auth.JWKSRefresh = 100 * time.Millisecond }, "auth.jwks_refresh"},
		{"zero limits.comment_max_runes", func(c *Config) { c.Limits.CommentMaxRunes = 0 }, "limits.comment_max_runes"},
		{"negative limits.comments_per_second", func(c *Config) { c.Limits.CommentsPerSecond = -1 }, "limits.comments_per_second"},
		{"zero limits.comments_burst", func(c *Config) { c.Limits.CommentsBurst = 0 }, "limits.comments_burst"},
		{"rate limit off", func(c *Config) { c.Limits.CommentsPerSecond, c.Limits.CommentsBurst = 0, 0 }, ""},
		{"negative limits.connections_per_ip", func(c *Config) { c.Limits.ConnectionsPerIP = -1 }, "limits.connections_per_ip"},
		{"bad log.level", func(c *Config) { c.Log.Level = "trace" }, "log.level"},
		{"bad log.format", func(c *Config) { c.Log.Format = "xml" }, "log.format"},
		{"bad moderation.words_action", func(c *Config) { c.Moderation.WordsAction = "drop" }, "moderation.words_action"},
		{"negative moderation.max_links", func(c *Config) { c.Moderation.MaxLinks = -1 }, "moderation.max_links"},
		{"hook without secret", func(c *Config) { c.Moderation.HookURL = "https://mod.example/hook" }, "moderation.hook_secret"},
		{"hook", func(c *Config) { c.Moderation.HookURL, c.Moderation.HookSecret = "https://mod.example/hook", "k" }, ""},
		{"hook not http", func(c *Config) { c.Moderation.HookURL, c.Moderation.HookSecret = "ftp://mod.example", "k" }, "moderation.hook_url"},
		{"whsec_ not base64", func(c *Config) { c.Moderation.HookSecret = "whsec_!!" }, "moderation.hook_secret"},
		{"whsec_ base64", func(c *Config) { c.Moderation.HookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }, ""},
		{"zero moderation.hook_timeout", func(c *Config) { c.Moderation.HookTimeout = 0 }, "moderation.hook_timeout"},
		{"long moderation.hook_timeout", func(c *Config) { c.Moderation.HookTimeout = time.Minute }, "moderation.hook_timeout"},
		{"bad moderation.hook_failure", func(c *Config) { c.Moderation.HookFailure = "reject" }, "moderation.hook_failure"},
		{"webhook endpoint", func(c *Config) { c.Webhooks.Endpoints = []WebhookEndpoint{testEndpoint()} }, ""},
		{"webhook endpoint plain secret", func(c *Config) {
			ep := testEndpoint()
			ep.Secret = "plain string"
			c.Webhooks.Endpoints = []WebhookEndpoint{ep}
		}, ""},
		{"webhook endpoint not http", func(c *Config) {
			ep := testEndpoint()
			ep.URL = "ftp://x.example"
			c.Webhooks.Endpoints = []WebhookEndpoint{ep}
		}, "webhooks.endpoints[0].url"},
		{"webhook endpoint without secret", func(c *Config) {
			ep := testEndpoint()
			ep.Secret = ""
			c.Webhooks.Endpoints = []WebhookEndpoint{ep}
		}, "webhooks.endpoints[0].secret"},
		{"webhook endpoint whsec_ not base64", func(c *Config) {
			ep := testEndpoint()
			ep.Secret = "whsec_!!"
			c.Webhooks.Endpoints = []WebhookEndpoint{ep}
		}, "webhooks.endpoints[0].secret"},
		{"webhook endpoint unknown event", func(c *Config) {
			ep := testEndpoint()
			ep.Events = []string{"comment.liked"}
			c.Webhooks.Endpoints = []WebhookEndpoint{ep}
		}, "webhooks.endpoints[0].events"},
		{"webhook endpoints same name", func(c *Config) { c.Webhooks.Endpoints = []WebhookEndpoint{testEndpoint(), testEndpoint()} },
			"webhooks.endpoints[1].name"},
		{"webhook endpoint bad name", func(c *Config) {
			ep := testEndpoint()
			ep.Name = "a b"
			c.Webhooks.Endpoints = []WebhookEndpoint{ep}
		}, "webhooks.endpoints[0].name"},
		{"webhooks write-through", func(c *Config) {
			c.Flush.Mode, c.Webhooks.Endpoints = ModeWriteThrough, []WebhookEndpoint{testEndpoint()}
		}, "webhooks.endpoints"},
		{"zero webhooks.batch_size", func(c *Config) { c.Webhooks.BatchSize = 0 }, "webhooks.batch_size"},
		{"zero webhooks.max_attempts", func(c *Config) { c.Webhooks.MaxAttempts = 0 }, "webhooks.max_attempts"},
		{"zero webhooks.timeout", func(c *Config) { c.Webhooks.Timeout = 0 }, "webhooks.timeout"},
		{"webhooks.max_backoff below min", func(c *Config) { c.Webhooks.MaxBackoff = time.Millisecond }, "webhooks.max_backoff"},
		{"short webhooks.lease_ttl", func(c *Config) { c.Webhooks.LeaseTTL = time.Millisecond }, "webhooks.lease_ttl"},
		{"words hold write-through", func(c *Config) {
			c.Flush.Mode, c.Moderation.Words = ModeWriteThrough, []string{"spam"}
		}, "moderation.words_action"},
		{"words reject write-through", func(c *Config) {
			c.Flush.Mode, c.Moderation.Words, c.Moderation.WordsAction = ModeWriteThrough, []string{"spam"}, ActionReject
		}, ""},
		{"max_links write-through", func(c *Config) { c.Flush.Mode, c.Moderation.MaxLinks = ModeWriteThrough, 2 }, "moderation.max_links"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(c)
			err := c.Validate()
			if tt.key == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, "config: "+tt.key+": ")
			var ke *KeyError
			require.True(t, errors.As(err, &ke))
			require.Equal(t, tt.key, ke.Key)
		})
	}
}

func TestValidateMessage(t *testing.T) {
	c := Default()
	c.Flush.BatchSize = 0
	require.EqualError(t, c.Validate(), "config: flush.batch_size: must be between 1 and 100000, got 0")

	c.Log.Level = "loud"
	c.Mongo.URI = "mongodb://user:hunter2@/"
	err := c.Validate()
	require.Equal(t, []string{"mongo.uri", "flush.batch_size", "log.level"}, errorKeys(err), "all errors, in key order")
	require.ErrorContains(t, err, `config: log.level: must be one of debug, info, warn, error, got "loud"`)
	require.NotContains(t, err.Error(), "hunter2", "passwords stay out of errors")
}

func testEndpoint() WebhookEndpoint {
	return WebhookEndpoint{Name: "search", URL: "https://search.example/hook", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
}
