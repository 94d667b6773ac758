// Package config owns commentd's settings: their shape, defaults and
// validation, and reading them from a YAML file, COMMENTD_* environment
// variables and command-line flags (viper), with hot reload of the file.
//
// Precedence, lowest first: Default, the file, the environment, flags the
// user set. Only this package and cmd know viper; every other package gets
// plain values from Config.
package config

import "time"

// Config is the whole configuration. Each field's comment gives its key and
// default; config.example.yaml documents the same keys.
type Config struct {
	// File is the path of the config file that was read, "" if none.
	File string `mapstructure:"-"`

	HTTP     HTTP     `mapstructure:"http"`
	Redis    Redis    `mapstructure:"redis"`
	Mongo    Mongo    `mapstructure:"mongo"`
	Buffer   Buffer   `mapstructure:"buffer"`
	Flush    Flush    `mapstructure:"flush"`
	History  History  `mapstructure:"history"`
	SocketIO SocketIO `mapstructure:"socketio"`
	CORS     CORS     `mapstructure:"cors"`
	Auth     Auth     `mapstructure:"auth"`
	Limits   Limits   `mapstructure:"limits"`
	Log      Log      `mapstructure:"log"`
	Admin    Admin    `mapstructure:"admin"`
	Comment  Comment  `mapstructure:"comment"`

	Moderation Moderation `mapstructure:"moderation"`
	Threads    Threads    `mapstructure:"threads"`
	Reactions  Reactions  `mapstructure:"reactions"`
	Hot        Hot        `mapstructure:"hot"`
	Webhooks   Webhooks   `mapstructure:"webhooks"`
}

// Threads configures replies.
type Threads struct {
	MaxDepth int `mapstructure:"max_depth"` // threads.max_depth; 3 (1..10): deeper replies attach to the deepest allowed ancestor
}

// Reactions configures reactions to comments.
type Reactions struct {
	Allowed  []string `mapstructure:"allowed"`   // reactions.allowed; 👍 ❤️ 😂 😮 😢
	PushRate float64  `mapstructure:"push_rate"` // reactions.push_rate; 4 comment_reactions per comment per second
}

// Hot configures coalesced delivery to busy posts' readers.
type Hot struct {
	Window    time.Duration `mapstructure:"window"`    // hot.window; 100ms: comments_added carries what arrived within it (10ms..5s)
	Threshold float64       `mapstructure:"threshold"` // hot.threshold; 0 (off): comments per second past which every reader of a post gets comments_added
}

// Webhooks configures the outbound webhooks; read at start.
type Webhooks struct {
	Endpoints   []WebhookEndpoint `mapstructure:"endpoints"`    // webhooks.endpoints; none (off). In env and flags: a JSON array
	BatchSize   int               `mapstructure:"batch_size"`   // webhooks.batch_size; 50 events per request (1..1000)
	MaxAttempts int               `mapstructure:"max_attempts"` // webhooks.max_attempts; 10, then dead-letter
	Timeout     time.Duration     `mapstructure:"timeout"`      // webhooks.timeout; 5s per request
	MinBackoff  time.Duration     `mapstructure:"min_backoff"`  // webhooks.min_backoff; 1s after a first failure, doubling
	MaxBackoff  time.Duration     `mapstructure:"max_backoff"`  // webhooks.max_backoff; 60s (>= min_backoff)
	LeaseTTL    time.Duration     `mapstructure:"lease_ttl"`    // webhooks.lease_ttl; 10s (>= 100ms): another node takes a dead one's endpoints within this
	MaxLen      int64             `mapstructure:"max_len"`      // webhooks.max_len; 1,000,000 events kept at most in the stream
}

// WebhookEndpoint is one receiver of webhooks.
type WebhookEndpoint struct {
	Name       string   `mapstructure:"name" json:"name"`             // unique, [A-Za-z0-9_.-]
	URL        string   `mapstructure:"url" json:"url"`               // http or https
	Secret     string   `mapstructure:"secret" json:"secret"`         // "whsec_" + base64, or any other string used as is
	Events     []string `mapstructure:"events" json:"events"`         // event types; none = all
	Moderation bool     `mapstructure:"moderation" json:"moderation"` // may get pending and hidden comments
}

// Moderation configures pre-moderation, the content filters and the
// moderation hook, and the audit log. Words, WordsFile, WordsAction and MaxLinks may change on
// reload; the hook's settings are read at start.
type Moderation struct {
	Mode        string        `mapstructure:"mode"`         // moderation.mode; "off", "all", "guests" or "first"
	Words       []string      `mapstructure:"words"`        // moderation.words; none: words and phrases that hold or reject a comment
	WordsFile   string        `mapstructure:"words_file"`   // moderation.words_file; "" (one entry per line, # comments)
	WordsAction string        `mapstructure:"words_action"` // moderation.words_action; "hold" or "reject"
	MaxLinks    int           `mapstructure:"max_links"`    // moderation.max_links; 0 (off): more links hold a comment
	HookURL     string        `mapstructure:"hook_url"`     // moderation.hook_url; "" (off)
	HookSecret  string        `mapstructure:"hook_secret"`  // moderation.hook_secret; "" (required with hook_url)
	HookTimeout time.Duration `mapstructure:"hook_timeout"` // moderation.hook_timeout; 2s
	HookFailure string        `mapstructure:"hook_failure"` // moderation.hook_failure; "hold" or "allow"
	AuditLen    int64         `mapstructure:"audit_len"`    // moderation.audit_len; 100000 entries per audit stream
}

// Actions of moderation.words_action and moderation.hook_failure.
const (
	ActionHold   = "hold"
	ActionReject = "reject"
	ActionAllow  = "allow"
)

// Comment holds settings of comments themselves.
type Comment struct {
	DedupeWindow time.Duration `mapstructure:"dedupe_window"` // comment.dedupe_window; 10m
	EditWindow   time.Duration `mapstructure:"edit_window"`   // comment.edit_window; 15m (0 = no limit)
}

// HTTP configures the listener.
type HTTP struct {
	Addr          string `mapstructure:"addr"`           // http.addr; ":8080"
	AdvertiseAddr string `mapstructure:"advertise_addr"` // http.advertise_addr; "" (derived from http.addr)
}

// Redis configures the Redis client.
type Redis struct {
	Addrs    []string `mapstructure:"addrs"`    // redis.addrs; ["127.0.0.1:6379"]; several = Redis Cluster
	Prefix   string   `mapstructure:"prefix"`   // redis.prefix; "cmt"
	Password string   `mapstructure:"password"` // redis.password; ""
	DB       int      `mapstructure:"db"`       // redis.db; 0 (must be 0 with Cluster)
}

// Mongo configures the MongoDB client.
type Mongo struct {
	URI        string `mapstructure:"uri"`        // mongo.uri; "mongodb://127.0.0.1:27017"
	Database   string `mapstructure:"database"`   // mongo.database; "commentd"
	Collection string `mapstructure:"collection"` // mongo.collection; "comments"
}

// Buffer configures the Redis write-behind buffer.
type Buffer struct {
	Shards int   `mapstructure:"shards"`  // buffer.shards; 4 (1..1024)
	MaxLen int64 `mapstructure:"max_len"` // buffer.max_len; 1,000,000 comments, high-water mark
}

// Flush configures the flusher. BatchSize and Interval may change on reload.
type Flush struct {
	Enabled      bool          `mapstructure:"enabled"`       // flush.enabled; true
	Mode         string        `mapstructure:"mode"`          // flush.mode; "write-behind" or "write-through"
	BatchSize    int           `mapstructure:"batch_size"`    // flush.batch_size; 1000 (1..100000)
	Interval     time.Duration `mapstructure:"interval"`      // flush.interval; 1s
	LeaseTTL     time.Duration `mapstructure:"lease_ttl"`     // flush.lease_ttl; 10s (>= 100ms)
	DrainTimeout time.Duration `mapstructure:"drain_timeout"` // flush.drain_timeout; 10s
	MaxAttempts  int           `mapstructure:"max_attempts"`  // flush.max_attempts; 5, then dead-letter
}

// Flush modes.
const (
	ModeWriteBehind  = "write-behind"  // buffer in Redis, insert in batches
	ModeWriteThrough = "write-through" // insert each comment before confirming
)

// History configures what a join sends and what Redis keeps per post.
type History struct {
	Limit     int           `mapstructure:"limit"`      // history.limit; 100 (1..1000)
	RecentLen int           `mapstructure:"recent_len"` // history.recent_len; 200 (>= Limit)
	RecentTTL time.Duration `mapstructure:"recent_ttl"` // history.recent_ttl; 168h
	LogLen    int           `mapstructure:"log_len"`    // history.log_len; 500
}

// SocketIO configures Engine.IO heartbeats and packet size.
type SocketIO struct {
	PingInterval   time.Duration `mapstructure:"ping_interval"`    // socketio.ping_interval; 25s
	PingTimeout    time.Duration `mapstructure:"ping_timeout"`     // socketio.ping_timeout; 20s
	MaxPayload     int64         `mapstructure:"max_payload"`      // socketio.max_payload; 65536 bytes
	MaxPollBody    int64         `mapstructure:"max_poll_body"`    // socketio.max_poll_body; 1000000 bytes (>= max_payload)
	MaxPollPackets int           `mapstructure:"max_poll_packets"` // socketio.max_poll_packets; 16
	ConnectTimeout time.Duration `mapstructure:"connect_timeout"`  // socketio.connect_timeout; 10s
	RecoveryWindow time.Duration `mapstructure:"recovery_window"`  // socketio.recovery_window; 2m (0 = off)
}

// CORS lists the browser origins allowed.
type CORS struct {
	Origins []string `mapstructure:"origins"` // cors.origins; none = same origin only, "*" = any
}

// Auth configures who may post.
type Auth struct {
	Mode             string        `mapstructure:"mode"`                // auth.mode; "none" or "jwt"
	JWTSecret        string        `mapstructure:"jwt_secret"`          // auth.jwt_secret; "" (HS256)
	JWTPublicKeyFile string        `mapstructure:"jwt_public_key_file"` // auth.jwt_public_key_file; "" (PEM, RS256/ES256)
	JWKSURL          string        `mapstructure:"jwks_url"`            // auth.jwks_url; "" (JSON Web Key Set: RS/ES keys chosen by kid)
	JWKSRefresh      time.Duration `mapstructure:"jwks_refresh"`        // auth.jwks_refresh; 1h
	AnonymousRead    bool          `mapstructure:"anonymous_read"`      // auth.anonymous_read; false
	Issuer           string        `mapstructure:"issuer"`              // auth.issuer; "" (not checked)
	Audience         string        `mapstructure:"audience"`            // auth.audience; "" (not checked)
	Cookie           string        `mapstructure:"cookie"`              // auth.cookie; "commentd_token"
	RolesClaim       string        `mapstructure:"roles_claim"`         // auth.roles_claim; "roles" (moderator or admin moderate)
	NameClaim        string        `mapstructure:"name_claim"`          // auth.name_claim; "name": the comment's userName
	AvatarClaim      string        `mapstructure:"avatar_claim"`        // auth.avatar_claim; "picture": the comment's avatar
	Guests           bool          `mapstructure:"guests"`              // auth.guests; false: with jwt, no token may post as guest:<name>
}

// Auth modes.
const (
	AuthNone = "none"
	AuthJWT  = "jwt"
)

// Limits bounds what one client may do. Per-second limits may change on reload.
type Limits struct {
	CommentMaxRunes   int     `mapstructure:"comment_max_runes"`   // limits.comment_max_runes; 2000
	CommentsPerSecond float64 `mapstructure:"comments_per_second"` // limits.comments_per_second; 5 (0 = off)
	CommentsBurst     int     `mapstructure:"comments_burst"`      // limits.comments_burst; 10
	ConnectionsPerIP  int     `mapstructure:"connections_per_ip"`  // limits.connections_per_ip; 1000 (0 = off)
	RoomsPerSocket    int     `mapstructure:"rooms_per_socket"`    // limits.rooms_per_socket; 50
}

// Log configures the process logger.
// Admin is the optional admin listener (pprof).
type Admin struct {
	Addr  string `mapstructure:"addr"`  // admin.addr; "" (off)
	Token string `mapstructure:"token"` // admin.token; "" (off): a bearer token that moderates
}

// Log is the logging setup.
type Log struct {
	Level  string `mapstructure:"level"`  // log.level; "info" (debug|info|warn|error)
	Format string `mapstructure:"format"` // log.format; "text" (text|json)
}

// Default returns the defaults of every key: what runs with no file, no
// environment and no flags. Each call returns a new value.
func Default() *Config {
	return &Config{
		HTTP: HTTP{Addr: ":8080"},
		Redis: Redis{
			Addrs:  []string{"127.0.0.1:6379"},
			Prefix: "cmt",
		},
		Mongo: Mongo{
			URI:        "mongodb://127.0.0.1:27017",
			Database:   "commentd",
			Collection: "comments",
		},
		Buffer: Buffer{Shards: 4, MaxLen: 1_000_000},
		Flush: Flush{
			Enabled:      true,
			Mode:         ModeWriteBehind,
			BatchSize:    1000,
			Interval:     time.Second,
			LeaseTTL:     10 * time.Second,
			DrainTimeout: 10 * time.Second,
			MaxAttempts:  5,
		},
		History: History{Limit: 100, RecentLen: 200, RecentTTL: 7 * 24 * time.Hour, LogLen: 500},
		SocketIO: SocketIO{
			PingInterval:   25 * time.Second,
			PingTimeout:    20 * time.Second,
			MaxPayload:     65536,
			MaxPollBody:    1_000_000,
			MaxPollPackets: 16,
			ConnectTimeout: 10 * time.Second,
			RecoveryWindow: 2 * time.Minute,
		},
		Auth: Auth{Mode: AuthNone, Cookie: "commentd_token", RolesClaim: "roles", NameClaim: "name", AvatarClaim: "picture",
			JWKSRefresh: time.Hour},
		Limits: Limits{
			CommentMaxRunes:   2000,
			CommentsPerSecond: 5,
			CommentsBurst:     10,
			ConnectionsPerIP:  1000,
			RoomsPerSocket:    50,
		},
		Log:        Log{Level: "info", Format: "text"},
		Comment:    Comment{DedupeWindow: 10 * time.Minute, EditWindow: 15 * time.Minute},
		Moderation: Moderation{Mode: "off", WordsAction: ActionHold, HookTimeout: 2 * time.Second, HookFailure: ActionHold, AuditLen: 100_000},
		Threads:    Threads{MaxDepth: 3},
		Reactions:  Reactions{Allowed: []string{"👍", "❤️", "😂", "😮", "😢"}, PushRate: 4},
		Hot:        Hot{Window: 100 * time.Millisecond},
		Webhooks: Webhooks{BatchSize: 50, MaxAttempts: 10, Timeout: 5 * time.Second, MinBackoff: time.Second,
			MaxBackoff: time.Minute, LeaseTTL: 10 * time.Second, MaxLen: 1_000_000},
	}
}
