package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// usage is the one-line help of every key, shown by --help. A test fails
// if a field of Config has no entry here.
var usage = map[string]string{
	"http.addr":                  "listen address for pages, /socket.io/, API and health",
	"http.advertise_addr":        "host:port other nodes reach this one at (polling forwarding); empty = derived",
	"redis.addrs":                "Redis addresses, comma-separated; several = Redis Cluster",
	"redis.prefix":               "prefix of every Redis key",
	"redis.password":             "Redis password",
	"redis.db":                   "Redis database number (0 with Cluster)",
	"mongo.uri":                  "MongoDB connection URI",
	"mongo.database":             "MongoDB database",
	"mongo.collection":           "MongoDB collection of comments",
	"buffer.shards":              "number of Redis buffer lists (1..1024)",
	"buffer.max_len":             "buffered comments above which new ones get BUSY",
	"flush.enabled":              "run the flusher in this process",
	"flush.mode":                 "write-behind or write-through",
	"flush.batch_size":           "comments per MongoDB insert (1..100000)",
	"flush.interval":             "flush a shard at least this often",
	"flush.lease_ttl":            "lifetime of a flusher's lease on a shard",
	"flush.drain_timeout":        "how long shutdown may spend flushing",
	"flush.max_attempts":         "inserts of a rejected document before it is dead-lettered",
	"history.limit":              "comments sent on join (1..1000)",
	"history.recent_len":         "comments kept per post in Redis (>= history.limit)",
	"history.recent_ttl":         "a post's recent list expires after this long without comments",
	"history.log_len":            "events kept per post in Redis, for catch-ups and recoveries in order",
	"socketio.ping_interval":     "Engine.IO ping interval",
	"socketio.ping_timeout":      "Engine.IO ping timeout",
	"socketio.max_payload":       "largest Engine.IO packet in bytes",
	"socketio.max_poll_body":     "largest long-polling POST body in bytes (several packets; >= socketio.max_payload)",
	"socketio.max_poll_packets":  "most packets in one long-polling response (python-engineio takes 16)",
	"socketio.connect_timeout":   "a connection that joins no namespace within this is closed",
	"socketio.recovery_window":   "a client that reconnects within this gets its state back (0 = off)",
	"cors.origins":               "allowed browser origins, comma-separated; empty = same origin, * = any",
	"auth.mode":                  "none or jwt",
	"auth.jwt_secret":            "HS256 secret (auth.mode jwt)",
	"auth.jwt_public_key_file":   "PEM public key file for RS256/ES256 (auth.mode jwt)",
	"auth.jwks_url":              "URL of a JSON Web Key Set whose keys check RS/ES tokens by kid (auth.mode jwt)",
	"auth.jwks_refresh":          "fetch auth.jwks_url again this often (and on an unknown kid)",
	"auth.anonymous_read":        "with jwt: allow joining and reading without a token",
	"auth.issuer":                "with jwt: required iss claim; empty = not checked",
	"auth.audience":              "with jwt: required aud claim; empty = not checked",
	"auth.cookie":                "with jwt: name of the cookie that may carry the token",
	"limits.comment_max_runes":   "longest comment in characters",
	"limits.comments_per_second": "comments per second per socket and per user (0 = off)",
	"limits.comments_burst":      "burst above limits.comments_per_second",
	"limits.connections_per_ip":  "open connections per client IP (0 = off)",
	"limits.rooms_per_socket":    "posts one socket may have joined at once",
	"log.level":                  "debug, info, warn or error",
	"log.format":                 "text or json",
	"comment.dedupe_window":      "a new_comment repeating a clientId within this returns the first comment",
	"comment.edit_window":        "an author may edit or delete a comment within this of posting (0 = no limit)",
	"moderation.mode":            "which new comments wait for a moderator's approval: off, all, guests, or first (until one of the user's is approved)",
	"threads.max_depth":          "deepest reply (1..10); a reply to one at this depth attaches to its parent",
	"reactions.allowed":          "the reactions readers may give, comma-separated (at most 20, each at most 16 bytes)",
	"reactions.push_rate":        "comment_reactions sent per comment per second at most (coalesced)",
	"hot.window":                 "a batching reader gets the comments (and reaction counts) of this long in one comments_added (comments_reactions) frame",
	"hot.threshold":              "comments per second past which every reader of a post gets comments_added, asked or not (0 = only readers who join with batch: true)",
	"moderation.audit_len":       "entries kept in each audit log stream (one per shard, one for bans), approximately; the oldest go",
	"moderation.words":           "words and phrases (comma-separated) that hold or reject a comment; whole words, any case",
	"moderation.words_file":      "file of more words and phrases, one per line, # comments; re-read on reload",
	"moderation.words_action":    "a new comment with a listed word: hold (pending) or reject (REJECTED)",
	"moderation.max_links":       "a new comment with more links than this is held (0 = off)",
	"moderation.hook_url":        "URL that is POSTed each new comment (signed) and answers allow, hold or reject; empty = off",
	"moderation.hook_secret":     "secret that signs the hook's requests (Standard Webhooks; whsec_ + base64, or any string)",
	"moderation.hook_timeout":    "the hook must answer within this",
	"moderation.hook_failure":    "what a hook that fails or times out means: hold or allow",
	"auth.roles_claim":           "with jwt: claim listing roles; moderator or admin may moderate",
	"auth.name_claim":            "with jwt: claim holding the user's display name (userName)",
	"auth.avatar_claim":          "with jwt: claim holding the URL of the user's picture (avatar)",
	"auth.guests":                "with jwt: a client without a token may post as guest:<userName>",
	"admin.token":                "bearer token (REST, or socket auth token) that acts as a moderator; empty = off",
	"admin.addr":                 "listen address of the admin server with pprof; empty = off",
	"webhooks.endpoints":         `webhook receivers: a list of {name, url, secret, events, moderation}; in env and flags a JSON array`,
	"webhooks.batch_size":        "events per webhook request (1..1000)",
	"webhooks.max_attempts":      "attempts of a webhook batch before it is dead-lettered",
	"webhooks.timeout":           "a webhook receiver must answer within this",
	"webhooks.min_backoff":       "wait after a failed webhook request, doubling with each failure",
	"webhooks.max_backoff":       "longest wait between attempts of a webhook batch",
	"webhooks.lease_ttl":         "another node delivers a dead node's webhook endpoints within this",
	"webhooks.max_len":           "events kept at most in the webhooks' Redis stream, delivered or not",
}

// field is one key of Config and the value it is stored in.
type field struct {
	key string
	v   reflect.Value
}

// fields lists every key of c, in struct order, from the mapstructure tags.
// Its values are addressable, so they can be read and set through c.
func fields(c *Config) []field {
	var out []field
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		for i := range v.NumField() {
			tag := v.Type().Field(i).Tag.Get("mapstructure")
			if tag == "" || tag == "-" {
				continue
			}
			key := prefix + tag
			f := v.Field(i)
			if f.Kind() == reflect.Struct && f.Type() != durationType {
				walk(key+".", f)
				continue
			}
			out = append(out, field{key: key, v: f})
		}
	}
	walk("", reflect.ValueOf(c).Elem())
	return out
}

// isKey reports whether key is a key of Config.
func isKey(key string) bool {
	_, ok := usage[key]
	return ok
}

var durationType = reflect.TypeFor[time.Duration]()

// flagConfig is the flag that names the config file.
const flagConfig = "config"

// envPrefix starts every environment variable: COMMENTD_FLUSH_BATCH_SIZE.
const envPrefix = "COMMENTD"

// envConfig names the config file when --config is not given.
const envConfig = envPrefix + "_CONFIG"

// RegisterFlags adds --config FILE and one flag per key, named as the key
// (--flush.batch_size), with the key's default. Lists are comma-separated.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String(flagConfig, "", "config file (YAML); default $"+envConfig+", else ./config.yaml if it exists")
	for _, f := range fields(Default()) {
		help := usage[f.key] + " ($" + envName(f.key) + ")"
		switch v := f.v.Interface().(type) {
		case string:
			fs.String(f.key, v, help)
		case []string:
			fs.StringSlice(f.key, v, help)
		case bool:
			fs.Bool(f.key, v, help)
		case int:
			fs.Int(f.key, v, help)
		case int64:
			fs.Int64(f.key, v, help)
		case float64:
			fs.Float64(f.key, v, help)
		case time.Duration:
			fs.Duration(f.key, v, help)
		case []WebhookEndpoint:
			fs.String(f.key, "", help) // JSON, decoded as env is
		default:
			panic(fmt.Sprintf("config: no flag type for %s (%T)", f.key, v))
		}
	}
}

// envName returns the environment variable of key.
func envName(key string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}
