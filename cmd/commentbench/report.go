package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// reportCommand reads the JSON results under -results (any depth), and
// writes SVG charts and index.html to -out and the Markdown summary to -md.
func reportCommand(args []string) error {
	fset := flag.NewFlagSet("commentbench report", flag.ContinueOnError)
	dir := fset.String("results", "", "folder of result JSON files (written with -json)")
	out := fset.String("out", "bench/report", "folder for the charts and index.html")
	md := fset.String("md", "BENCHMARKS.md", "Markdown summary to write; empty for none")
	meta := fset.String("meta", "", "JSON file describing the machine and the commands run (see bench/run.sh)")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errBounds("report needs -results")
	}
	results, err := loadResults(*dir)
	if err != nil {
		return err
	}
	if len(results) == 0 {
		return fmt.Errorf("no results under %s", *dir)
	}
	m := reportMeta{}
	if *meta != "" {
		b, err := os.ReadFile(*meta)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("%s: %w", *meta, err)
		}
	}
	rep := buildReport(results, m)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	charts, err := rep.charts(*out)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "index.html"), []byte(rep.html(charts)), 0o644); err != nil {
		return err
	}
	if *md != "" {
		rel, err := filepath.Rel(filepath.Dir(*md), *out)
		if err != nil {
			rel = *out
		}
		if err := os.WriteFile(*md, []byte(rep.markdown(charts, filepath.ToSlash(rel))), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("report: %d results, %d charts in %s\n", len(results), len(charts), *out)
	return nil
}

// reportMeta describes the run: written by bench/run.sh.
type reportMeta struct {
	Machine  map[string]string `json:"machine"`
	Commands []string          `json:"commands"`
	Notes    []string          `json:"notes"`
}

func loadResults(dir string) ([]*Result, error) {
	var out []*Result
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		r, err := readResult(path)
		if err != nil {
			return err
		}
		if r.Scenario != "" {
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// headline is the value that ranks the runs of a scenario: the median run
// by it is the one whose series are charted.
var headline = map[string]string{
	"ingest": "confirmedPerSec", "changes": "changesPerSec", "sustained": "confirmedPerSec", "fanout": "deliveriesPerSec",
	"conns": "kbPerConn", "join": "loadsPerSec", "drain": "drainPerSec", "reactions": "reactionsPerSec", "counts": "requestsPerSec",
	"hot":      "deliveriesPerSec",
	"coldjoin": "ingestRatio",
}

// scenarioOrder is the order of the report's sections.
var scenarioOrder = []string{"ingest", "changes", "sustained", "fanout", "conns", "join", "drain", "reactions", "counts", "hot", "coldjoin"}

// scenarioText introduces a scenario's section of the report.
var scenarioText = map[string]string{
	"hot": "A post gone viral: `-readers` readers of one post in several load-generator processes (at most 8,000 each), " +
		"`-writers` writers posting `-rate` comments a second (open loop) and `-react-rate` reactions a second on the newest comments. " +
		"Readers join with `{postId, batch: true}` and count `comment_added` and `comments_added` alike, each comment once; " +
		"framesPerSec counts frames holding comments (a `comments_added` counts once). Label `centrifugo`: Centrifugo v6, " +
		"in-memory broker, no history, published to through its HTTP API with up to 64 requests at once (no reactions; " +
		"a publish returns once the broadcast is queued), the fan-out ceiling; Centrifugo OSS writes publications as they come, " +
		"combining only what is queued already (a write delay that batches is a PRO feature). " +
		"write-through refuses reactions (they need the flusher), so its reactionsConfirmed is 0.",
	"coldjoin": "Many comments stored (`-prefill`, inserted directly, then `commentd stored-posts`), then the same ingest twice: " +
		"alone, and while `-clients` clients join `-posts` new posts (a join a second each). Values …Alone and …Joins: " +
		"confirmed/s, drainSec (end of the ingest to an empty buffer), flushed/s over ingest and drain, MongoDB read commands finished, " +
		"history reads commentd sent; readsPerNewPost is the run with joins' history reads less the run alone's, per new post.",
	"reactions": "One hot comment, many users (each its own userId) reacting to it over `react`, closed loop; " +
		"a share `-off` of the reacts take a reaction back, over `-kinds` of the allowed reactions. " +
		"Readers in the post's room count `comment_reactions` (coalesced to `reactions.push_rate`, 4 per comment per second). " +
		"Afterwards the comment's counts and each reader's last event must equal the reactions the users hold (finalMismatch, readersStale). " +
		"MongoDB write commands are counted once the buffer is empty again: per batch, one update of the comment (its counts collapsed), " +
		"one insert into `<comments>_reactions` for who reacted and one delete for who took one back.",
	"counts": "`GET /api/counts` for listing pages of `-page` posts. P posts get comments over REST and the buffer empties; " +
		"then one client asks for every post once in pages (cold: a post Redis does not count yet is counted in MongoDB, one aggregation per request, and kept), " +
		"the same pages again (warmPass), and then C clients ask for pages of random posts for the duration (warm). " +
		"wrong counts answers that differ from what was posted. In write-through, the naive design, every request is a MongoDB aggregation.",
}

// group is the runs of one scenario with one label.
type group struct {
	scenario, label string
	runs            []*Result
	values          map[string]float64     // medians
	latency         map[string]Percentiles // medians of each percentile
	procs           map[string]ProcUsage   // medians
	median          *Result                // the median run by the headline value
}

type report struct {
	meta   reportMeta
	groups map[string]map[string]*group // scenario → label → group
	labels []string
}

func buildReport(results []*Result, meta reportMeta) *report {
	rep := &report{meta: meta, groups: map[string]map[string]*group{}}
	for _, r := range results {
		byLabel := rep.groups[r.Scenario]
		if byLabel == nil {
			byLabel = map[string]*group{}
			rep.groups[r.Scenario] = byLabel
		}
		g := byLabel[r.Label]
		if g == nil {
			g = &group{scenario: r.Scenario, label: r.Label}
			byLabel[r.Label] = g
		}
		g.runs = append(g.runs, r)
		if !slices.Contains(rep.labels, r.Label) {
			rep.labels = append(rep.labels, r.Label)
		}
	}
	// write-behind, write-through, then the peers by name.
	sort.Slice(rep.labels, func(i, j int) bool { return labelLess(rep.labels[i], rep.labels[j]) })
	for _, byLabel := range rep.groups {
		for _, g := range byLabel {
			g.summarize()
		}
	}
	return rep
}

func (g *group) summarize() {
	g.values, g.latency, g.procs = map[string]float64{}, map[string]Percentiles{}, map[string]ProcUsage{}
	collect := func(get func(*Result) (float64, bool)) float64 {
		var xs []float64
		for _, r := range g.runs {
			if v, ok := get(r); ok {
				xs = append(xs, v)
			}
		}
		return median(xs)
	}
	for _, r := range g.runs {
		for k := range r.Values {
			if _, done := g.values[k]; !done {
				g.values[k] = collect(func(r *Result) (float64, bool) { v, ok := r.Values[k]; return v, ok })
			}
		}
		for k := range r.Latency {
			if _, done := g.latency[k]; done {
				continue
			}
			pick := func(f func(Percentiles) float64) float64 {
				return collect(func(r *Result) (float64, bool) { p, ok := r.Latency[k]; return f(p), ok })
			}
			g.latency[k] = Percentiles{P50: pick(func(p Percentiles) float64 { return p.P50 }),
				P95: pick(func(p Percentiles) float64 { return p.P95 }), P99: pick(func(p Percentiles) float64 { return p.P99 }),
				Max: pick(func(p Percentiles) float64 { return p.Max }), Count: int64(pick(func(p Percentiles) float64 { return float64(p.Count) }))}
		}
		for k := range r.Procs {
			if _, done := g.procs[k]; done {
				continue
			}
			pick := func(f func(ProcUsage) float64) float64 {
				return collect(func(r *Result) (float64, bool) { p, ok := r.Procs[k]; return f(p), ok })
			}
			g.procs[k] = ProcUsage{CPUPercent: pick(func(p ProcUsage) float64 { return p.CPUPercent }),
				CPUSeconds: pick(func(p ProcUsage) float64 { return p.CPUSeconds }),
				RSSPeakMB:  pick(func(p ProcUsage) float64 { return p.RSSPeakMB })}
		}
	}
	runs := slices.Clone(g.runs)
	key := headline[g.scenario]
	sort.Slice(runs, func(i, j int) bool { return runs[i].Values[key] < runs[j].Values[key] })
	g.median = runs[(len(runs)-1)/2]
}

// median of xs (the mean of the middle two for an even count); 0 if empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// get returns the group of scenario and label, or nil.
func (rep *report) get(scenario, label string) *group {
	return rep.groups[scenario][label]
}
