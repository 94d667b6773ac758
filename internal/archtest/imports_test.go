package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/commentd/commentd"

// allowed lists, per package of the module, what it may import directly:
// packages of the module (by path below mod) and third-party module prefixes.
// This is the "Layout" table of DESIGN.md; a new package needs a row here.
var allowed = map[string][]string{
	"cmd/commentd":         {"*"},
	"cmd/commentbench":     {"realtime/", "internal/sioclient", "github.com/gorilla/websocket", "github.com/HdrHistogram/", "gonum.org/", "go.mongodb.org/mongo-driver"},
	"cmd/commentchaos":     {"realtime/", "internal/sioclient", "internal/proc", "github.com/gorilla/websocket", "go.mongodb.org/"}, // checks MongoDB itself, not through store
	"config":               {"github.com/spf13/viper", "github.com/spf13/pflag", "github.com/fsnotify/fsnotify", "github.com/go-viper/mapstructure"},
	"comment":              {"internal/jsonenc"},
	"api":                  {"comment", "realtime/socketio", "golang.org/x/time/rate", "github.com/golang-jwt/jwt/v5"},
	"realtime/engineio":    {"github.com/gorilla/websocket"},
	"realtime/socketio":    {"realtime/engineio", "internal/jsonenc"},
	"buffer":               {"comment", "github.com/redis/go-redis/v9"},
	"store":                {"comment", "go.mongodb.org/mongo-driver"},
	"flusher":              {"comment"},
	"transfer":             {"comment"},                                                             // import and export: parsers, batching; store and buffer behind its interfaces
	"hook":                 {"comment"},                                                             // the moderation hook: signed HTTP calls (Standard Webhooks)
	"webhook":              {"comment", "hook", "internal/jsonenc", "github.com/redis/go-redis/v9"}, // outbound webhooks: a Redis stream, delivered per endpoint
	"webhook/webhooktest":  {"hook"},                                                                // a receiver for tests
	"web":                  {},
	"internal/testsvc":     {"internal/proc"},
	"internal/archtest":    {},
	"internal/jsonenc":     {},
	"internal/proc":        {},
	"internal/sioclient":   {"realtime/", "github.com/gorilla/websocket"},
	"examples/conformance": {"realtime/"},
	"deploy":               {},
}

// forbidden lists what a package must not reach even indirectly.
var forbidden = map[string][]string{
	"realtime/": {mod + "/comment", mod + "/buffer", mod + "/store", "github.com/redis/", "go.mongodb.org/"},
	"buffer":    {"go.mongodb.org/", mod + "/store"},
	"store":     {"github.com/redis/", mod + "/buffer"},
	"flusher":   {"github.com/redis/", "go.mongodb.org/"},
	"transfer":  {"github.com/redis/", "go.mongodb.org/"},
	"comment":   {"github.com/", "go.mongodb.org/"},
	"webhook":   {"go.mongodb.org/", mod + "/store", mod + "/buffer"},
}

type pkg struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Deps       []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Standard,Imports,Deps", "./...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(p.ImportPath, mod+"/") {
			pkgs = append(pkgs, p)
		}
	}
	return pkgs
}

func isStd(path string) bool { return !strings.Contains(strings.SplitN(path, "/", 2)[0], ".") }

func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 6 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(p.ImportPath, mod+"/")
		rules, ok := allowed[rel]
		if !ok {
			t.Errorf("%s: not in the layout table of DESIGN.md (add a row to allowed)", rel)
			continue
		}
		for _, imp := range p.Imports {
			if isStd(imp) {
				continue
			}
			if !permitted(rules, imp) {
				t.Errorf("%s imports %s, which DESIGN.md does not allow", rel, imp)
			}
			if irel, ok := strings.CutPrefix(imp, mod+"/"); ok {
				if (irel == "config" || strings.HasPrefix(irel, "cmd/")) && !strings.HasPrefix(rel, "cmd/") {
					t.Errorf("%s imports %s: only cmd may", rel, irel)
				}
				if irel == "internal/testsvc" {
					t.Errorf("%s imports internal/testsvc outside tests", rel)
				}
			}
		}
		for prefix, bad := range forbidden {
			if rel != prefix && !(strings.HasSuffix(prefix, "/") && strings.HasPrefix(rel, prefix)) {
				continue
			}
			for _, d := range p.Deps {
				for _, b := range bad {
					// "github.com/" means third-party code: the module's own
					// packages are ruled by allowed.
					if strings.HasPrefix(d, b) && !strings.HasPrefix(d, mod+"/") {
						t.Errorf("%s depends on %s (via its imports), which DESIGN.md forbids", rel, d)
					}
				}
			}
		}
	}
}

func permitted(rules []string, imp string) bool {
	if slices.Contains(rules, "*") {
		return true
	}
	rel, own := strings.CutPrefix(imp, mod+"/")
	for _, r := range rules {
		if own && (rel == r || strings.HasSuffix(r, "/") && strings.HasPrefix(rel, r)) {
			return true
		}
		if !own && strings.HasPrefix(imp, r) {
			return true
		}
	}
	return false
}
