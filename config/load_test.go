package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// keyCase sets one key to a value other than its default.
type keyCase struct {
	key   string
	value string            // as env and flags give it
	yaml  string            // as the file gives it; "" = value, quoted if want is a string
	want  any               // the field's value afterwards
	get   func(*Config) any // reads the field
	also  map[string]string // env settings the value needs to be valid
}

// keyCases has one entry per key; TestKeyCasesCoverEveryKey fails if a key
// of Config has none, so a new key cannot go untested.
var keyCases = []keyCase{
	{key: "http.addr", value: ":9090", want: ":9090", get: func(c *Config) any { return c.HTTP.Addr }},
	{key: "http.advertise_addr", value: "10.0.0.7:8080", want: "10.0.0.7:8080", get: func(c *Config) any { return c.HTTP.AdvertiseAddr }},
	{key: "redis.addrs", value: "10.0.0.1:7000, 10.0.0.2:7001", yaml: `["10.0.0.1:7000", "10.0.0.2:7001"]`,
		want: []string{"10.0.0.1:7000", "10.0.0.2:7001"}, get: func(c *Config) any { return c.Redis.Addrs }},
	{key: "redis.prefix", value: "x", want: "x", get: func(c *Config) any { return c.Redis.Prefix }},
	{key: "redis.password", value: "s3cret", want: "s3cret", get: func(c *Config) any { return c.Redis.Password }},
	{key: "redis.db", value: "3", want: 3, get: func(c *Config) any { return c.Redis.DB }},
	{key: "mongo.uri", value: "mongodb://db.example:27018", want: "mongodb://db.example:27018", get: func(c *Config) any { return c.Mongo.URI }},
	{key: "mongo.database", value: "other", want: "other", get: func(c *Config) any { return c.Mongo.Database }},
	{key: "mongo.collection", value: "notes", want: "notes", get: func(c *Config) any { return c.Mongo.Collection }},
	{key: "buffer.shards", value: "16", want: 16, get: func(c *Config) any { return c.Buffer.Shards }},
	{key: "buffer.max_len", value: "5000", want: int64(5000), get: func(c *Config) any { return c.Buffer.MaxLen }},
	{key: "flush.enabled", value: "false", want: false, get: func(c *Config) any { return c.Flush.Enabled }},
	{key: "flush.mode", value: "write-through", want: ModeWriteThrough, get: func(c *Config) any { return c.Flush.Mode }},
	{key: "flush.batch_size", value: "250", want: 250, get: func(c *Config) any { return c.Flush.BatchSize }},
	{key: "flush.interval", value: "250ms", want: 250 * time.Millisecond, get: func(c *Config) any { return c.Flush.Interval }},
	{key: "flush.lease_ttl", value: "30s", want: 30 * time.Second, get: func(c *Config) any { return c.Flush.LeaseTTL }},
	{key: "flush.drain_timeout", value: "1m", want: time.Minute, get: func(c *Config) any { return c.Flush.DrainTimeout }},
	{key: "flush.max_attempts", value: "3", want: 3, get: func(c *Config) any { return c.Flush.MaxAttempts }},
	{key: "history.limit", value: "50", want: 50, get: func(c *Config) any { return c.History.Limit }},
	{key: "history.recent_len", value: "500", want: 500, get: func(c *Config) any { return c.History.RecentLen }},
	{key: "history.log_len", value: "900", want: 900, get: func(c *Config) any { return c.History.LogLen }},
	{key: "history.recent_ttl", value: "24h", want: 24 * time.Hour, get: func(c *Config) any { return c.History.RecentTTL }},
	{key: "socketio.ping_interval", value: "10s", want: 10 * time.Second, get: func(c *Config) any { return c.SocketIO.PingInterval }},
	{key: "socketio.ping_timeout", value: "5s", want: 5 * time.Second, get: func(c *Config) any { return c.SocketIO.PingTimeout }},
	{key: "socketio.max_payload", value: "1048576", want: int64(1 << 20), get: func(c *Config) any { return c.SocketIO.MaxPayload },
		also: map[string]string{"socketio.max_poll_body": "2000000"}},
	{key: "socketio.max_poll_body", value: "2000000", want: int64(2_000_000), get: func(c *Config) any { return c.SocketIO.MaxPollBody }},
	{key: "socketio.max_poll_packets", value: "64", want: 64, get: func(c *Config) any { return c.SocketIO.MaxPollPackets }},
	{key: "cors.origins", value: "https://a.example,https://b.example", yaml: `["https://a.example", "https://b.example"]`,
		want: []string{"https://a.example", "https://b.example"}, get: func(c *Config) any { return c.CORS.Origins }},
	{key: "auth.mode", value: "jwt", want: AuthJWT, get: func(c *Config) any { return c.Auth.Mode },
		also: map[string]string{"auth.jwt_secret": "k"}},
	{key: "auth.jwt_secret", value: "k", want: "k", get: func(c *Config) any { return c.Auth.JWTSecret }},
	{key: "auth.jwt_public_key_file", value: "/etc/commentd/jwt.pem", want: "/etc/commentd/jwt.pem",
		get: func(c *Config) any { return c.Auth.JWTPublicKeyFile }},
	{key: "auth.jwks_url", value: "https://id.example/.well-known/jwks.json", want: "https://id.example/.well-known/jwks.json",
		get: func(c *Config) any { return c.Auth.JWKSURL }},
	{key: "auth.jwks_refresh", value: "10m", want: 10 * time.Minute, get: func(c *Config) any { return c.Auth.JWKSRefresh }},
	{key: "auth.anonymous_read", value: "true", want: true, get: func(c *Config) any { return c.Auth.AnonymousRead }},
	{key: "auth.issuer", value: "https://id.example", want: "https://id.example", get: func(c *Config) any { return c.Auth.Issuer }},
	{key: "auth.audience", value: "commentd", want: "commentd", get: func(c *Config) any { return c.Auth.Audience }},
	{key: "auth.cookie", value: "tok", want: "tok", get: func(c *Config) any { return c.Auth.Cookie }},
	{key: "limits.comment_max_runes", value: "500", want: 500, get: func(c *Config) any { return c.Limits.CommentMaxRunes }},
	{key: "limits.comments_per_second", value: "0.5", want: 0.5, get: func(c *Config) any { return c.Limits.CommentsPerSecond }},
	{key: "limits.comments_burst", value: "3", want: 3, get: func(c *Config) any { return c.Limits.CommentsBurst }},
	{key: "limits.connections_per_ip", value: "0", want: 0, get: func(c *Config) any { return c.Limits.ConnectionsPerIP }},
	{key: "limits.rooms_per_socket", value: "5", want: 5, get: func(c *Config) any { return c.Limits.RoomsPerSocket }},
	{key: "socketio.connect_timeout", value: "3s", want: 3 * time.Second, get: func(c *Config) any { return c.SocketIO.ConnectTimeout }},
	{key: "socketio.recovery_window", value: "30s", want: 30 * time.Second, get: func(c *Config) any { return c.SocketIO.RecoveryWindow }},
	{key: "log.level", value: "debug", want: "debug", get: func(c *Config) any { return c.Log.Level }},
	{key: "log.format", value: "json", want: "json", get: func(c *Config) any { return c.Log.Format }},
	{key: "comment.dedupe_window", value: "1m", want: time.Minute, get: func(c *Config) any { return c.Comment.DedupeWindow }},
	{key: "comment.edit_window", value: "1h", want: time.Hour, get: func(c *Config) any { return c.Comment.EditWindow }},
	{key: "moderation.mode", value: "first", want: "first", get: func(c *Config) any { return c.Moderation.Mode }},
	{key: "threads.max_depth", value: "5", want: 5, get: func(c *Config) any { return c.Threads.MaxDepth }},
	{key: "reactions.allowed", value: "+1,heart", yaml: `["+1", "heart"]`, want: []string{"+1", "heart"}, get: func(c *Config) any { return c.Reactions.Allowed }},
	{key: "reactions.push_rate", value: "2.5", want: 2.5, get: func(c *Config) any { return c.Reactions.PushRate }},
	{key: "moderation.audit_len", value: "5000", want: int64(5000), get: func(c *Config) any { return c.Moderation.AuditLen }},
	{key: "moderation.words", value: "spam, buy now", yaml: `["spam", "buy now"]`,
		want: []string{"spam", "buy now"}, get: func(c *Config) any { return c.Moderation.Words }},
	{key: "moderation.words_file", value: "/etc/commentd/words.txt", want: "/etc/commentd/words.txt",
		get: func(c *Config) any { return c.Moderation.WordsFile }},
	{key: "moderation.words_action", value: "reject", want: "reject", get: func(c *Config) any { return c.Moderation.WordsAction }},
	{key: "moderation.max_links", value: "3", want: 3, get: func(c *Config) any { return c.Moderation.MaxLinks }},
	{key: "moderation.hook_url", value: "https://mod.example/hook", want: "https://mod.example/hook",
		get: func(c *Config) any { return c.Moderation.HookURL }, also: map[string]string{"moderation.hook_secret": "k"}},
	{key: "moderation.hook_secret", value: "whsec_c2VjcmV0", want: "whsec_c2VjcmV0", get: func(c *Config) any { return c.Moderation.HookSecret }},
	{key: "moderation.hook_timeout", value: "500ms", want: 500 * time.Millisecond, get: func(c *Config) any { return c.Moderation.HookTimeout }},
	{key: "moderation.hook_failure", value: "allow", want: "allow", get: func(c *Config) any { return c.Moderation.HookFailure }},
	{key: "auth.roles_claim", value: "perms", want: "perms", get: func(c *Config) any { return c.Auth.RolesClaim }},
	{key: "auth.name_claim", value: "nick", want: "nick", get: func(c *Config) any { return c.Auth.NameClaim }},
	{key: "auth.avatar_claim", value: "img", want: "img", get: func(c *Config) any { return c.Auth.AvatarClaim }},
	{key: "auth.guests", value: "true", want: true, get: func(c *Config) any { return c.Auth.Guests }},
	{key: "admin.token", value: "s3cret", want: "s3cret", get: func(c *Config) any { return c.Admin.Token }},
	{key: "admin.addr", value: "127.0.0.1:6060", want: "127.0.0.1:6060", get: func(c *Config) any { return c.Admin.Addr }},
	{key: "webhooks.endpoints", value: `[{"name":"search","url":"https://search.example/hook","secret":"whsec_c2VjcmV0","events":["comment.created"],"moderation":true}]`,
		yaml: `[{name: search, url: "https://search.example/hook", secret: whsec_c2VjcmV0, events: [comment.created], moderation: true}]`,
		want: []WebhookEndpoint{{Name: "search", URL: "https://search.example/hook", Secret: "whsec_c2VjcmV0",
			Events: []string{"comment.created"}, Moderation: true}},
		get: func(c *Config) any { return c.Webhooks.Endpoints }},
	{key: "webhooks.batch_size", value: "10", want: 10, get: func(c *Config) any { return c.Webhooks.BatchSize }},
	{key: "webhooks.max_attempts", value: "3", want: 3, get: func(c *Config) any { return c.Webhooks.MaxAttempts }},
	{key: "webhooks.timeout", value: "2s", want: 2 * time.Second, get: func(c *Config) any { return c.Webhooks.Timeout }},
	{key: "webhooks.min_backoff", value: "100ms", want: 100 * time.Millisecond, get: func(c *Config) any { return c.Webhooks.MinBackoff }},
	{key: "webhooks.max_backoff", value: "5s", want: 5 * time.Second, get: func(c *Config) any { return c.Webhooks.MaxBackoff }},
	{key: "webhooks.lease_ttl", value: "1s", want: time.Second, get: func(c *Config) any { return c.Webhooks.LeaseTTL }},
	{key: "webhooks.max_len", value: "5000", want: int64(5000), get: func(c *Config) any { return c.Webhooks.MaxLen }},
	{key: "hot.window", value: "250ms", want: 250 * time.Millisecond, get: func(c *Config) any { return c.Hot.Window }},
	{key: "hot.threshold", value: "50", want: 50.0, get: func(c *Config) any { return c.Hot.Threshold }},
}

// keys returns every key of Config.
func keys() []string {
	fs := fields(Default())
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.key
	}
	return out
}

func TestKeyCasesCoverEveryKey(t *testing.T) {
	var tested []string
	for _, tc := range keyCases {
		tested = append(tested, tc.key)
	}
	// What viper knows, what the struct declares and what --help documents
	// must be the same keys, each with one test case.
	require.ElementsMatch(t, keys(), newViper().AllKeys())
	require.ElementsMatch(t, keys(), tested)
	var documented []string
	for k := range usage {
		documented = append(documented, k)
	}
	require.ElementsMatch(t, keys(), documented)
}

// isolate runs the test in an empty directory (no ./config.yaml) with no
// COMMENTD_* variable from the caller's environment.
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, envPrefix+"_") {
			t.Setenv(name, "")
		}
	}
	return dir
}

// loadArgs parses args with the flags of RegisterFlags and loads.
func loadArgs(t *testing.T, args ...string) (*Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(fs)
	require.NoError(t, fs.Parse(args))
	return NewLoader(fs).Load()
}

// writeYAML writes the settings (key → raw YAML value) as a nested file.
func writeYAML(t *testing.T, path string, kv map[string]string) {
	t.Helper()
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		section, leaf, _ := strings.Cut(k, ".")
		b.WriteString(section + ":\n  " + leaf + ": " + kv[k] + "\n")
	}
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
}

func (tc keyCase) yamlValue() string {
	switch {
	case tc.yaml != "":
		return tc.yaml
	case isString(tc.want):
		return strconv.Quote(tc.value)
	}
	return tc.value
}

func isString(v any) bool { _, ok := v.(string); return ok }

func TestEveryKeyFromEverySource(t *testing.T) {
	sources := []struct {
		name string
		set  func(t *testing.T, dir string, tc keyCase) []string // returns flags
	}{
		{"file", func(t *testing.T, dir string, tc keyCase) []string {
			path := filepath.Join(dir, "c.yaml")
			writeYAML(t, path, map[string]string{tc.key: tc.yamlValue()})
			return []string{"--config", path}
		}},
		{"env", func(t *testing.T, dir string, tc keyCase) []string {
			t.Setenv(envName(tc.key), tc.value)
			return nil
		}},
		{"flag", func(t *testing.T, dir string, tc keyCase) []string {
			return []string{"--" + tc.key + "=" + tc.value}
		}},
	}
	for _, tc := range keyCases {
		require.NotEqual(t, tc.want, tc.get(Default()), "%s: test value is the default", tc.key)
		for _, src := range sources {
			t.Run(tc.key+"/"+src.name, func(t *testing.T) {
				dir := isolate(t)
				for k, v := range tc.also {
					t.Setenv(envName(k), v)
				}
				c, err := loadArgs(t, src.set(t, dir, tc)...)
				require.NoError(t, err)
				require.Equal(t, tc.want, tc.get(c))
			})
		}
	}
}

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name            string
		file, env, flag string // flush.batch_size from each source; "" = unset
		want            int
	}{
		{"default", "", "", "", 1000},
		{"file over default", "10", "", "", 10},
		{"env over file", "10", "20", "", 20},
		{"flag over env", "10", "20", "30", 30},
		{"flag over file", "10", "", "30", 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := isolate(t)
			var args []string
			if tt.file != "" {
				path := filepath.Join(dir, "c.yaml")
				writeYAML(t, path, map[string]string{"flush.batch_size": tt.file})
				args = append(args, "--config="+path)
			}
			if tt.env != "" {
				t.Setenv("COMMENTD_FLUSH_BATCH_SIZE", tt.env)
			}
			if tt.flag != "" {
				args = append(args, "--flush.batch_size="+tt.flag)
			}
			c, err := loadArgs(t, args...)
			require.NoError(t, err)
			require.Equal(t, tt.want, c.Flush.BatchSize)
		})
	}
}

func TestConfigFileChoice(t *testing.T) {
	t.Run("no file", func(t *testing.T) {
		isolate(t)
		c, err := loadArgs(t)
		require.NoError(t, err)
		want := Default()
		require.Equal(t, want, c)
	})
	t.Run("./config.yaml", func(t *testing.T) {
		dir := isolate(t)
		writeYAML(t, filepath.Join(dir, "config.yaml"), map[string]string{"log.level": "warn"})
		c, err := loadArgs(t)
		require.NoError(t, err)
		require.Equal(t, "config.yaml", c.File)
		require.Equal(t, "warn", c.Log.Level)
	})
	t.Run("COMMENTD_CONFIG over ./config.yaml", func(t *testing.T) {
		dir := isolate(t)
		writeYAML(t, filepath.Join(dir, "config.yaml"), map[string]string{"log.level": "warn"})
		writeYAML(t, filepath.Join(dir, "other.yaml"), map[string]string{"log.level": "error"})
		t.Setenv(envConfig, "other.yaml")
		c, err := loadArgs(t)
		require.NoError(t, err)
		require.Equal(t, "other.yaml", c.File)
		require.Equal(t, "error", c.Log.Level)
	})
	t.Run("--config over COMMENTD_CONFIG", func(t *testing.T) {
		dir := isolate(t)
		writeYAML(t, filepath.Join(dir, "a.yaml"), map[string]string{"log.level": "warn"})
		writeYAML(t, filepath.Join(dir, "b.yaml"), map[string]string{"log.level": "error"})
		t.Setenv(envConfig, "a.yaml")
		c, err := loadArgs(t, "--config", "b.yaml")
		require.NoError(t, err)
		require.Equal(t, "b.yaml", c.File)
		require.Equal(t, "error", c.Log.Level)
	})
	t.Run("missing --config", func(t *testing.T) {
		isolate(t)
		_, err := loadArgs(t, "--config", "nope.yaml")
		require.ErrorIs(t, err, os.ErrNotExist)
		require.ErrorContains(t, err, "nope.yaml")
	})
	t.Run("missing COMMENTD_CONFIG", func(t *testing.T) {
		isolate(t)
		t.Setenv(envConfig, "nope.yaml")
		_, err := loadArgs(t)
		require.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("nil flag set", func(t *testing.T) {
		isolate(t)
		t.Setenv("COMMENTD_HTTP_ADDR", ":1")
		c, err := NewLoader(nil).Load()
		require.NoError(t, err)
		require.Equal(t, ":1", c.HTTP.Addr)
	})
}

func TestLoadErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name string
		file string            // YAML
		env  map[string]string // key → value
		key  string            // named by the error
		want string            // also in the error
	}{
		{name: "unknown key", file: "flush:\n  batchsize: 5\n", key: "flush.batchsize", want: "unknown key"},
		{name: "unknown section", file: "flsh:\n  batch_size: 5\n", key: "flsh.batch_size", want: "unknown key"},
		{name: "env not an int", env: map[string]string{"flush.batch_size": "abc"}, key: "flush.batch_size", want: `"abc"`},
		{name: "env not a duration", env: map[string]string{"flush.interval": "10"}, key: "flush.interval", want: "duration"},
		{name: "env not a bool", env: map[string]string{"flush.enabled": "yes please"}, key: "flush.enabled", want: "true or false"},
		{name: "file duration without unit", file: "flush:\n  interval: 100\n", key: "flush.interval", want: "unit"},
		{name: "file float for int", file: "flush:\n  batch_size: 1.5\n", key: "flush.batch_size", want: "integer"},
		{name: "file number for string", file: "redis:\n  password: 12345\n", key: "redis.password", want: "quote"},
		{name: "file invalid value", file: "flush:\n  batch_size: 0\n", key: "flush.batch_size", want: "got 0"},
		{name: "env invalid value", env: map[string]string{"log.level": "loud"}, key: "log.level", want: `got "loud"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := isolate(t)
			var args []string
			if tt.file != "" {
				path := filepath.Join(dir, "c.yaml")
				require.NoError(t, os.WriteFile(path, []byte(tt.file), 0o600))
				args = []string{"--config", path}
			}
			for k, v := range tt.env {
				t.Setenv(envName(k), v)
			}
			c, err := loadArgs(t, args...)
			require.Nil(t, c)
			require.ErrorContains(t, err, "config: "+tt.key+":")
			require.ErrorContains(t, err, tt.want)
			var ke *KeyError
			require.True(t, errors.As(err, &ke))
			require.Equal(t, tt.key, ke.Key)
		})
	}
}

func TestLoadReportsEveryBadKey(t *testing.T) {
	dir := isolate(t)
	path := filepath.Join(dir, "c.yaml")
	yaml := "http:\n  addr: 8080\nredis:\n  password: 12345\nflush:\n  interval: 100\n"
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	_, err := loadArgs(t, "--config", path)
	require.ElementsMatch(t, []string{"http.addr", "redis.password", "flush.interval"}, errorKeys(err))
	require.NotContains(t, err.Error(), "12345", "secrets stay out of errors")
}

func TestExampleIsDefault(t *testing.T) {
	isolate(t)
	path, err := filepath.Abs(filepath.Join(testDir, "..", "config.example.yaml"))
	require.NoError(t, err)
	c, err := loadArgs(t, "--config", path)
	require.NoError(t, err)
	want := Default()
	want.File = path
	require.Equal(t, want, c)
}

func TestExampleDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testDir, "..", "config.example.yaml"))
	require.NoError(t, err)

	// Each key is a "  leaf:" line under its "section:" line, right below
	// a comment that names the key's environment variable.
	found := map[string]bool{}
	var section, prev string
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "#"), strings.TrimSpace(line) == "":
		case !strings.HasPrefix(line, " "):
			section = strings.TrimSuffix(line, ":")
		default:
			leaf, _, ok := strings.Cut(strings.TrimSpace(line), ":")
			if !strings.HasPrefix(strings.TrimSpace(line), "#") && ok {
				key := section + "." + leaf
				found[key] = true
				require.Contains(t, prev, "#", "%s: no comment above", key)
				require.Contains(t, prev, envName(key), "%s: comment does not name its env var", key)
			}
		}
		prev = line
	}
	for _, k := range keys() {
		require.True(t, found[k], "%s missing from config.example.yaml", k)
	}
	for k := range found {
		require.True(t, isKey(k), "config.example.yaml has unknown key %s", k)
	}
}

// testDir is the package directory, where go test starts; isolate moves
// the working directory, so tests use this path instead.
var testDir = func() string {
	d, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return d
}()

func TestRegisterFlags(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(fs)
	require.NotNil(t, fs.Lookup("config"))
	for _, k := range keys() {
		f := fs.Lookup(k)
		require.NotNil(t, f, k)
		require.Contains(t, f.Usage, envName(k))
	}
	require.Equal(t, "1000", fs.Lookup("flush.batch_size").DefValue)
	require.Equal(t, "1s", fs.Lookup("flush.interval").DefValue)
}

// Endpoints as config.example.yaml shows them: a block list of maps.
func TestWebhookEndpointsBlockYAML(t *testing.T) {
	dir := isolate(t)
	path := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`webhooks:
  endpoints:
    - name: search
      url: https://search.example/commentd
      secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
      events: [comment.created, comment.removed]
    - name: moderators
      url: http://mod.example/hooks
      secret: another-secret
      moderation: true
`), 0o600))
	c, err := loadArgs(t, "--config", path)
	require.NoError(t, err)
	require.Equal(t, []WebhookEndpoint{
		{Name: "search", URL: "https://search.example/commentd", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			Events: []string{"comment.created", "comment.removed"}},
		{Name: "moderators", URL: "http://mod.example/hooks", Secret: "another-secret", Moderation: true},
	}, c.Webhooks.Endpoints)

	t.Setenv("COMMENTD_WEBHOOKS_ENDPOINTS", `not json`)
	_, err = loadArgs(t, "--config", path)
	require.Equal(t, []string{"webhooks.endpoints"}, errorKeys(err))
	require.NotContains(t, err.Error(), "another-secret", "secrets stay out of errors")
}
