package deploy_test

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one logical line of a Dockerfile (continuations joined).
type instruction struct {
	cmd  string // upper case: FROM, RUN, …
	args string
}

// readDockerfile returns the Dockerfile's instructions in order.
func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || line == "" {
			continue // Docker skips these, inside a continued line too
		}
		if l, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(l + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.Join(strings.Fields(args), " ")})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// buildCommand returns the arguments of the Dockerfile's `go build`, as the
// shell would split them, and checks it runs with CGO_ENABLED=0.
func buildCommand(t *testing.T, ins []instruction) []string {
	t.Helper()
	for _, in := range ins {
		if in.cmd != "RUN" {
			continue
		}
		env, cmd, ok := strings.Cut(in.args, "go build ")
		if !ok {
			continue
		}
		if !strings.Contains(env, "CGO_ENABLED=0") {
			t.Errorf("Dockerfile: go build runs without CGO_ENABLED=0")
		}
		args := shellWords(t, cmd)
		for _, want := range []string{"-trimpath", "-ldflags", "-o"} {
			if !slices.Contains(args, want) {
				t.Errorf("Dockerfile: go build %q lacks %s", args, want)
			}
		}
		if args[len(args)-1] != "./cmd/commentd" {
			t.Errorf("Dockerfile: go build %q does not build ./cmd/commentd", args)
		}
		return args
	}
	t.Fatal("Dockerfile: no RUN … go build")
	return nil
}

// shellWords splits s as sh would for the simple quoting a RUN line uses.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case r == '&' || r == ';' || r == '|':
			t.Fatalf("Dockerfile: go build is followed by another command (%q); keep it alone on its RUN", s)
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("Dockerfile: unbalanced quote in %q", s)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// TestDockerfile checks the Dockerfile's text: a golang build stage whose Go is
// go.mod's, a go build with CGO_ENABLED=0, and a distroless/static final
// stage that runs /commentd serve as 65532 on port 8080. Nothing can build the
// image here (no Docker engine); TestBinary runs its go build.
func TestDockerfile(t *testing.T) {
	ins := readDockerfile(t)
	var froms []string
	args := map[string]string{}
	var final []instruction // instructions of the last stage
	for _, in := range ins {
		switch in.cmd {
		case "FROM":
			froms = append(froms, in.args)
			final = nil
		case "ARG":
			if k, v, ok := strings.Cut(in.args, "="); ok {
				args[k] = v
			}
		}
		final = append(final, in)
	}
	if len(froms) < 2 {
		t.Fatalf("Dockerfile: %d stages, want a build stage and a final one", len(froms))
	}

	// The build stage's Go must be the go line of go.mod: the golang image
	// sets GOTOOLCHAIN=local, so an older one fails the build.
	buildFrom := regexp.MustCompile(`^(--platform=\S+ )?golang:(\S+)-bookworm AS build$`).FindStringSubmatch(froms[0])
	if buildFrom == nil {
		t.Fatalf("Dockerfile: first stage %q, want golang:<version>-bookworm AS build", froms[0])
	}
	goVersion := os.Expand(buildFrom[2], func(k string) string { return args[k] })
	gomod, err := os.ReadFile(root + "/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	modGo := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if modGo == nil {
		t.Fatal("go.mod: no go line")
	}
	if goVersion != string(modGo[1]) {
		t.Errorf("Dockerfile: builds with golang:%s, go.mod says go %s", goVersion, modGo[1])
	}

	if last := froms[len(froms)-1]; last != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("Dockerfile: final stage %q, want gcr.io/distroless/static-debian12:nonroot", last)
	}
	out := ""
	if a := buildCommand(t, ins); len(a) > 0 {
		out = a[slices.Index(a, "-o")+1]
	}
	want := map[string]string{
		"COPY":       "--from=build " + out + " /commentd",
		"USER":       "65532:65532",
		"EXPOSE":     "8080",
		"ENTRYPOINT": `["/commentd"]`,
		"CMD":        `["serve"]`,
	}
	for _, in := range final {
		if w, ok := want[in.cmd]; ok && in.args == w {
			delete(want, in.cmd)
		}
		if in.cmd == "HEALTHCHECK" && !strings.HasPrefix(in.args, "NONE") {
			t.Errorf("Dockerfile: HEALTHCHECK %q cannot run: distroless has no shell or curl", in.args)
		}
	}
	for cmd, args := range want {
		t.Errorf("Dockerfile: final stage lacks %s %s", cmd, args)
	}

	ign, err := os.ReadFile(dockerIgn)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(ign), "\n")
	for _, p := range []string{".git", "bin/", ".run/", "node_modules"} {
		if !slices.Contains(lines, p) {
			t.Errorf(".dockerignore lacks %s", p)
		}
	}
}
