package deploy_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// Helpers shared by the tests of the packaging files.

// The tests run in deploy/; the packaging files are read where users find them.
const (
	root        = ".."
	dockerfile  = root + "/Dockerfile"
	dockerIgn   = root + "/.dockerignore"
	composeFile = root + "/docker-compose.yml"
	k8sFile     = "kubernetes/commentd.yaml"
	exampleFile = root + "/config.example.yaml"
)

// httpShutdown is the longest App.Run (cmd/commentd) waits for the HTTP
// server to stop before the flusher drains: a grace period must cover it
// plus flush.drain_timeout.
const httpShutdown = 5 * time.Second

// unreachableRedis is where the load checks point Redis: nothing listens on
// port 1, so commentd fails right after loading its configuration.
const unreachableRedis = "127.0.0.1:1"

// knownKeys returns every config key in dotted form (flush.drain_timeout),
// read from config.example.yaml, which documents all of them, with its value.
func knownKeys(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	readYAML(t, exampleFile, &doc)
	keys := flatten(doc)
	if len(keys) < 20 || keys["flush.drain_timeout"] == nil || keys["http.addr"] == nil {
		t.Fatalf("%s: only %d keys found, or flush.drain_timeout or http.addr missing", exampleFile, len(keys))
	}
	return keys
}

// flatten turns nested YAML maps into dotted keys and their leaf values.
func flatten(m map[string]any) map[string]any {
	out := make(map[string]any)
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
				continue
			}
			out[prefix+k] = v
		}
	}
	walk("", m)
	return out
}

// envName is the variable of a key, as config.envName builds it.
func envName(key string) string {
	return "COMMENTD_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// checkEnv reports each COMMENTD_* variable that is no config key's: viper
// silently ignores those, so a typo would go unnoticed in production.
func checkEnv(t *testing.T, where string, env map[string]string, keys map[string]any) {
	t.Helper()
	valid := map[string]bool{"COMMENTD_CONFIG": true}
	for k := range keys {
		valid[envName(k)] = true
	}
	for name := range env {
		if strings.HasPrefix(name, "COMMENTD_") && !valid[name] {
			t.Errorf("%s: %s names no config key (see %s); commentd would ignore it", where, name, exampleFile)
		}
	}
}

// durationOf returns key's value from env (as its variable) or else from
// the defaults of config.example.yaml.
func durationOf(t *testing.T, key string, env map[string]string, keys map[string]any) time.Duration {
	t.Helper()
	s, ok := env[envName(key)]
	if !ok {
		s = fmt.Sprint(keys[key])
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return d
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
