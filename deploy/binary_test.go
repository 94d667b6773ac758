package deploy_test

import (
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// buildVersion is passed as the Dockerfile's VERSION build argument.
const buildVersion = "deploy-test"

// TestBinary runs the Dockerfile's own go build (its arguments read from the
// RUN line) and checks the result is what the distroless image needs: a
// static, stripped ELF whose version is stamped, which loads the packaged
// configurations. With a warm build cache it takes a few seconds; -short
// skips it.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds commentd")
	}
	args := buildCommand(t, readDockerfile(t))
	bin := filepath.Join(t.TempDir(), "commentd")
	for i, a := range args {
		if i > 0 && args[i-1] == "-o" {
			args[i] = bin
			continue
		}
		args[i] = os.Expand(a, func(k string) string {
			if k == "VERSION" {
				return buildVersion
			}
			t.Fatalf("Dockerfile: go build uses $%s, which this test does not know", k)
			return ""
		})
	}
	build := exec.Command("go", append([]string{"build"}, args...)...)
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	start := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("go build %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))

	t.Run("static", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("the image's binary is a Linux ELF; this one is for", runtime.GOOS)
		}
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("has a %v program header: dynamically linked, would not start on distroless/static", p.Type)
			}
		}
		if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
			t.Errorf("needs shared libraries %v (%v)", libs, err)
		}
		if _, err := f.Symbols(); !errors.Is(err, elf.ErrNoSymbols) {
			t.Errorf("symbol table present (%v): -ldflags -s did not apply", err)
		}
	})

	t.Run("version", func(t *testing.T) {
		out, err := exec.Command(bin, "version").Output()
		if err != nil {
			t.Fatal(err)
		}
		if want := "commentd " + buildVersion + " "; !strings.HasPrefix(string(out), want) {
			t.Errorf("version printed %q, want %q…: -X main.version did not apply", out, want)
		}
	})

	// commentd itself loads each packaged configuration. `flush --once`
	// loads and validates exactly as `serve` does, then stops at Redis,
	// which is pointed at a closed port: the error must be that one.
	t.Run("loads", func(t *testing.T) {
		load := func(t *testing.T, env map[string]string, args ...string) {
			t.Parallel()
			args = append(args, "--timeout", "2s", "--redis.addrs", unreachableRedis)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Dir = t.TempDir() // no ./config.yaml to pick up
			cmd.Env = []string{}  // none of the caller's COMMENTD_*
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			out, err := cmd.CombinedOutput()
			if want := "redis [" + unreachableRedis + "] unreachable"; err == nil || !strings.Contains(string(out), want) {
				t.Errorf("commentd %s: %v, want an error %q after the config loads:\n%s", strings.Join(args, " "), err, want, out)
			}
		}

		p := readCompose(t)
		for _, name := range commentdNodes {
			env := p.Services[name].env()
			t.Run("compose/"+name, func(t *testing.T) { load(t, env, "flush", "--once") })
		}

		m := readK8s(t)
		pods := map[string]podSpec{"Deployment": m.deploy.Template.Spec}
		if m.cronJob != nil {
			pods["CronJob"] = m.cronJob.Spec
		}
		for kind, spec := range pods {
			c := spec.Containers[0]
			path, content := m.configFile(t, spec, c)
			file := filepath.Join(t.TempDir(), filepath.Base(path))
			if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{}
			for k, v := range c.env() {
				if v != "" { // values from Secrets or resource fields are not known here
					env[k] = v
				}
			}
			var args []string
			if kind == "Deployment" {
				args = []string{"flush", "--once"} // serve would run; its flags are the same
			}
			for i := 0; i < len(c.Args); i++ {
				if c.Args[i] == "serve" || c.Args[i] == "--timeout" {
					if c.Args[i] == "--timeout" {
						i++ // replaced by load's
					}
					continue
				}
				if c.Args[i] == "--config" {
					args = append(args, "--config", file)
					i++
					continue
				}
				args = append(args, c.Args[i])
			}
			t.Run("kubernetes/"+kind, func(t *testing.T) { load(t, env, args...) })
		}
	})
}
