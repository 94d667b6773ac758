package deploy_test

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// composeProject is what the tests read of docker-compose.yml.
type composeProject struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string   `yaml:"image"`
	Build       any      `yaml:"build"` // "dir" or {context, dockerfile, args}
	Command     any      `yaml:"command"`
	Environment any      `yaml:"environment"` // map or list of K=V
	Ports       []string `yaml:"ports"`
	Volumes     []string `yaml:"volumes"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	StopGracePeriod string `yaml:"stop_grace_period"`
}

// env returns the service's environment, whichever form it is written in.
func (s composeService) env() map[string]string {
	env := make(map[string]string)
	switch e := s.Environment.(type) {
	case map[string]any:
		for k, v := range e {
			env[k] = fmt.Sprint(v)
		}
	case []any:
		for _, kv := range e {
			k, v, _ := strings.Cut(fmt.Sprint(kv), "=")
			env[k] = v
		}
	}
	return env
}

func words(v any) string {
	switch v := v.(type) {
	case []any:
		s := make([]string, len(v))
		for i, w := range v {
			s[i] = fmt.Sprint(w)
		}
		return strings.Join(s, " ")
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// commentdNodes are the compose services that run commentd.
var commentdNodes = []string{"commentd-1", "commentd-2"}

func readCompose(t *testing.T) composeProject {
	t.Helper()
	var p composeProject
	readYAML(t, composeFile, &p)
	return p
}

// TestCompose checks docker-compose.yml: Redis with AOF and noeviction, MongoDB,
// both with volumes and healthchecks; two commentd nodes built from the
// Dockerfile, waiting for healthy stores, on loopback ports, with config
// variables that exist and a stop grace period that lets the drain finish.
func TestCompose(t *testing.T) {
	keys := knownKeys(t)
	p := readCompose(t)
	for _, name := range append([]string{"redis", "mongo"}, commentdNodes...) {
		if _, ok := p.Services[name]; !ok {
			t.Fatalf("%s: no service %q", composeFile, name)
		}
	}

	redis := p.Services["redis"]
	if !strings.HasPrefix(redis.Image, "redis:7") {
		t.Errorf("redis: image %q, want redis:7 (sharded pub/sub needs Redis 7)", redis.Image)
	}
	for _, want := range []string{"--appendonly yes", "--maxmemory-policy noeviction"} {
		if !strings.Contains(words(redis.Command), want) {
			t.Errorf("redis: command %q lacks %q", words(redis.Command), want)
		}
	}
	if hc := strings.Join(redis.Healthcheck.Test, " "); !strings.Contains(hc, "redis-cli ping") {
		t.Errorf("redis: healthcheck %q, want redis-cli ping", hc)
	}
	mongo := p.Services["mongo"]
	if !strings.HasPrefix(mongo.Image, "mongo:7") {
		t.Errorf("mongo: image %q, want mongo:7", mongo.Image)
	}
	if hc := strings.Join(mongo.Healthcheck.Test, " "); !strings.Contains(hc, "mongosh") || !strings.Contains(hc, "ping") {
		t.Errorf("mongo: healthcheck %q, want mongosh … ping", hc)
	}
	for name, dir := range map[string]string{"redis": "/data", "mongo": "/data/db"} {
		s := p.Services[name]
		if !slices.ContainsFunc(s.Volumes, func(v string) bool { return strings.HasSuffix(v, ":"+dir) }) {
			t.Errorf("%s: no volume on %s; its data would not outlive the container", name, dir)
		}
	}

	hostPorts := map[string]string{}
	for _, name := range commentdNodes {
		s := p.Services[name]
		where := composeFile + ": " + name
		env := s.env()
		checkEnv(t, where, env, keys)

		ctx := "."
		switch b := s.Build.(type) {
		case string:
			ctx = b
		case map[string]any:
			if c, ok := b["context"].(string); ok {
				ctx = c
			}
			if f, ok := b["dockerfile"].(string); ok && f != "Dockerfile" {
				t.Errorf("%s: builds %s, not the Dockerfile this test checks", where, f)
			}
		default:
			t.Errorf("%s: not built from the Dockerfile", where)
		}
		if _, err := os.Stat(filepath.Join(root, ctx, "Dockerfile")); err != nil {
			t.Errorf("%s: build context %q: %v", where, ctx, err)
		}

		for _, dep := range []string{"redis", "mongo"} {
			if c := s.DependsOn[dep].Condition; c != "service_healthy" {
				t.Errorf("%s: depends_on %s condition %q, want service_healthy", where, dep, c)
			}
		}
		for _, v := range []string{"COMMENTD_REDIS_ADDRS", "COMMENTD_MONGO_URI", "COMMENTD_HTTP_ADDR"} {
			if env[v] == "" {
				t.Errorf("%s: %s not set", where, v)
			}
		}
		for _, addr := range strings.Split(env["COMMENTD_REDIS_ADDRS"], ",") {
			if host, _, _ := net.SplitHostPort(strings.TrimSpace(addr)); host != "redis" {
				t.Errorf("%s: COMMENTD_REDIS_ADDRS %q, want the redis service", where, addr)
			}
		}
		if u, err := url.Parse(env["COMMENTD_MONGO_URI"]); err != nil || u.Hostname() != "mongo" {
			t.Errorf("%s: COMMENTD_MONGO_URI %q, want the mongo service", where, env["COMMENTD_MONGO_URI"])
		}

		_, listen, _ := net.SplitHostPort(env["COMMENTD_HTTP_ADDR"])
		if len(s.Ports) == 0 {
			t.Errorf("%s: no ports", where)
		}
		for _, port := range s.Ports {
			// 127.0.0.1:8081:8080: published on loopback only.
			parts := strings.Split(port, ":")
			if len(parts) != 3 || parts[0] != "127.0.0.1" || parts[2] != listen {
				t.Errorf("%s: port %q, want 127.0.0.1:<host port>:%s", where, port, listen)
				continue
			}
			if other, dup := hostPorts[parts[1]]; dup {
				t.Errorf("%s: host port %s already published by %s", where, parts[1], other)
			}
			hostPorts[parts[1]] = name
		}

		grace, err := time.ParseDuration(s.StopGracePeriod)
		if err != nil {
			t.Errorf("%s: stop_grace_period %q: %v (Compose's default, 10s, cuts the drain short)", where, s.StopGracePeriod, err)
		} else if need := httpShutdown + durationOf(t, "flush.drain_timeout", env, keys); grace <= need {
			t.Errorf("%s: stop_grace_period %v, want more than HTTP shutdown + flush.drain_timeout = %v", where, grace, need)
		}
	}
}
