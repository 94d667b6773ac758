package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The report renders charts, index.html and BENCHMARKS.md from result
// files, with medians of the runs and write-behind / write-through ratios.
func TestReport(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	require.NoError(t, os.MkdirAll(results, 0o755))
	write := func(name string, r *Result) {
		require.NoError(t, r.writeJSON(filepath.Join(results, name)))
	}
	for i, rate := range []float64{900, 1000, 1100} {
		for _, label := range []string{wb, wt} {
			r := newResult("ingest", label, map[string]any{"clients": 4})
			k := 1.0
			if label == wb {
				k = 30
			}
			r.Values["confirmedPerSec"] = k * rate
			r.Latency["confirm"] = Percentiles{P50: 1, P95: 2, P99: 3 * float64(i+1), Max: 9, Count: 100}
			r.Series = []Point{{T: 1, Values: map[string]float64{"confirmedPerSec": k * rate}}, {T: 2, Values: map[string]float64{"confirmedPerSec": k * rate}}}
			r.Procs = map[string]ProcUsage{"commentd": {CPUPercent: 50, RSSPeakMB: 20}}
			write(label+"-ingest-"+string(rune('0'+i))+".json", r)
		}
	}
	for _, label := range []string{wb, wt} {
		r := newResult("changes", label, nil)
		r.Values = map[string]float64{"opsPerSec": 1400, "createsPerSec": 1000, "changesPerSec": 400,
			"writesPer1000Changes": 25, "writesPer1000Ops": 7.1, "computedPer1000Changes": 2.5, "computedPer1000Ops": 0.714}
		if label == wt {
			r.Values = map[string]float64{"opsPerSec": 140, "createsPerSec": 100, "changesPerSec": 40,
				"writesPer1000Changes": 3500, "writesPer1000Ops": 1000, "computedPer1000Changes": 3500, "computedPer1000Ops": 1000}
		}
		r.Latency["create"] = Percentiles{P50: 2, P99: 4, Count: 10}
		r.Latency["change"] = Percentiles{P50: 3, P99: 5, Count: 4}
		r.Series = []Point{{T: 1, Values: map[string]float64{"createsPerSec": 1000, "changesPerSec": 400, "depth": 10}}}
		write(label+"-changes.json", r)
	}
	rx := newResult("reactions", wb, nil)
	rx.Values = map[string]float64{"reactionsPerSec": 3000, "writesPer1000Reactions": 3, "computedPer1000Reactions": 3,
		"pushMaxPerSec": 4, "pushesPerReaderSec": 3.9, "pushMinGapMs": 249}
	rx.Series = []Point{{T: 1, Values: map[string]float64{"reactionsPerSec": 3000, "pushesPerSec": 3.9, "depth": 500}}}
	write("reactions.json", rx)
	for _, label := range []string{wb, wt} {
		c := newResult("counts", label, nil)
		c.Values = map[string]float64{"requestsPerSec": 2000, "page": 50, "mongoReadsPer1000Requests": 0}
		if label == wt {
			c.Values = map[string]float64{"requestsPerSec": 30, "page": 50, "mongoReadsPer1000Requests": 1000}
		}
		c.Series = []Point{{T: 1, Values: map[string]float64{"requestsPerSec": c.Values["requestsPerSec"]}}}
		write(label+"-counts.json", c)
	}
	d := newResult("drain", wb, nil)
	d.Values["drainVsRaw"] = 0.95
	d.Series = []Point{{T: 0.25, Values: map[string]float64{"depth": 1000}}, {T: 0.5, Values: map[string]float64{"depth": 0}}}
	write("drain.json", d)
	meta, _ := json.Marshal(reportMeta{Machine: map[string]string{"nproc": "2"}, Commands: []string{"bench/run.sh"}})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "meta.json"), meta, 0o644))

	out, md := filepath.Join(dir, "report"), filepath.Join(dir, "BENCHMARKS.md")
	require.NoError(t, run(context.Background(), []string{"report", "-results", results, "-out", out, "-md", md, "-meta", filepath.Join(dir, "meta.json")}))
	for _, f := range []string{"index.html", "ingest-throughput.svg", "ingest-latency.svg", "drain-depth.svg",
		"changes-throughput.svg", "changes-depth.svg", "changes-latency.svg", "reactions-throughput.svg", "reactions-pushes.svg",
		"reactions-depth.svg", "counts-throughput.svg"} {
		b, err := os.ReadFile(filepath.Join(out, f))
		require.NoError(t, err, f)
		require.NotEmpty(t, b, f)
	}
	svg, _ := os.ReadFile(filepath.Join(out, "ingest-throughput.svg"))
	require.True(t, strings.HasPrefix(string(svg), "<?xml") || strings.Contains(string(svg), "<svg"))
	b, err := os.ReadFile(md)
	require.NoError(t, err)
	s := string(b)
	require.Contains(t, s, "| ingest confirmed/s | 1,000 | 30,000 | ≥ 25× write-through | 30.0× — met |")
	require.Contains(t, s, "| confirmedPerSec | 30,000 | 1,000 | 30.0× |")
	require.Contains(t, s, "| write-behind | confirm | 1.0 | 2.0 | 6.0 |", "the median p99 of 3, 6, 9")
	require.Contains(t, s, "(report/ingest-throughput.svg)")
	require.Contains(t, s, "| ≤ 12 KB | not measured |")
	require.Contains(t, s, "| MongoDB write commands per 1,000 changes (changes; devmongo, measured) | 3,500 (1,000 per 1,000 ops) | 25.0 (7.1 per 1,000 ops) | ≤ 3 | **not met** |")
	require.Contains(t, s, "| 3,500 (1,000 per 1,000 ops) | 2.5 (0.714 per 1,000 ops) | ≤ 3 | met (computed) |")
	require.Contains(t, s, "| write-behind | 30,000 | 1,400 | 1,000 | 400 | 1.0 / 6.0 | 2.0 / 4.0 | 3.0 / 5.0 |")
	require.Contains(t, s, "(report/changes-throughput.svg)")
	require.Less(t, strings.Index(s, "## ingest\n"), strings.Index(s, "## changes\n"))
	require.Less(t, strings.Index(s, "## changes\n"), strings.Index(s, "## drain\n"))
	require.Contains(t, s, "| MongoDB write commands per 1,000 reactions (reactions; devmongo, measured) | – | 3.0 | ≤ 2 | **not met** |")
	require.Contains(t, s, "| ≤ 2 | **not met** (computed) |")
	require.Contains(t, s, "| – | 4.0 (mean 3.9, shortest gap 249 ms) | ≤ 4 | met |")
	require.Contains(t, s, "| counts: MongoDB reads per 1,000 warm requests of 50 posts | 1,000 | 0 | 0 once warm | met |")
	require.Contains(t, s, "**reactions.** One hot comment")
	require.Less(t, strings.Index(s, "## drain\n"), strings.Index(s, "## reactions\n"))
	require.Less(t, strings.Index(s, "## reactions\n"), strings.Index(s, "## counts\n"))
	require.Contains(t, s, "(report/counts-throughput.svg)")
	require.NotContains(t, s, "Peers, started by", "a result set without peers has no peer columns")
	require.NotContains(t, s, "beside the node peer")
	html, _ := os.ReadFile(filepath.Join(out, "index.html"))
	require.Contains(t, string(html), `<img src="ingest-latency.svg"`)
}

// A peer's results are columns after write-behind and write-through, with
// ratios: write-behind / the peer for values, the peer / write-behind for
// p99 and for the server's CPU per unit of work; scenarios the peer did
// not run have no column for it.
func TestReportPeers(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	require.NoError(t, os.MkdirAll(results, 0o755))
	for _, label := range []string{"node", wt, wb} {
		r := newResult("ingest", label, nil)
		rate, p99, cpu, server := map[string]float64{wb: 30000, wt: 1000, "node": 500}[label], 10.0, 20.0, "commentd"
		if label == "node" {
			p99, cpu, server = 400, 18, "node"
		}
		r.Values = map[string]float64{"confirmedPerSec": rate, "confirmed": rate * 20}
		r.Latency["confirm"] = Percentiles{P50: 1, P95: 2, P99: p99, Max: 900, Count: 100}
		r.Series = []Point{{T: 1, Values: map[string]float64{"confirmedPerSec": rate}}}
		r.Procs = map[string]ProcUsage{server: {CPUPercent: 90, CPUSeconds: cpu, RSSPeakMB: 50}, "commentbench": {CPUSeconds: 6}}
		require.NoError(t, r.writeJSON(filepath.Join(results, label+"-ingest.json")))
		if label != "node" {
			j := newResult("join", label, nil)
			j.Values = map[string]float64{"loadsPerSec": 100, "loads": 1000}
			require.NoError(t, j.writeJSON(filepath.Join(results, label+"-join.json")))
		}
	}
	out, md := filepath.Join(dir, "report"), filepath.Join(dir, "BENCHMARKS.md")
	require.NoError(t, run(context.Background(), []string{"report", "-results", results, "-out", out, "-md", md}))
	b, err := os.ReadFile(md)
	require.NoError(t, err)
	for _, want := range []string{
		"Peers, started by bench/run.sh",
		"| median of runs | write-behind | write-through | node | write-behind / write-through | write-behind / node |",
		"| confirmedPerSec | 30,000 | 1,000 | 500 | 30.0× | 60.0× |",
		"| ingest confirmed/s beside the node peer (node: 500) | 1,000 | 30,000 | ≥ 50× node | 60.0× — met |",
		"| node | confirm | 1.0 | 2.0 | 400 | 900 | 100 | 40.0× |",
		"| write-behind | confirm | 1.0 | 2.0 | 10.0 | 900 | 100 |  |",
		"| peak RSS MB | CPU ms per 1,000 confirmed comments | server's / write-behind's |",
		// CPU ms per 1,000 comments: write-behind 20 s / 600,000, node 18 s / 10,000.
		"| node | node | 90.0 | 18.0 | 50.0 | 1,800 | 54.0× |",
		"| write-through | commentd | 90.0 | 20.0 | 50.0 | 1,000 | 30.0× |",
		"| node | commentbench | 0 | 6.0 | 0 | 600 |  |",
		// join: node did not run it, so no node column.
		"| median of runs | write-behind | write-through | write-behind / write-through |\n",
	} {
		require.Contains(t, string(b), want)
	}
	html, _ := os.ReadFile(filepath.Join(out, "index.html"))
	require.Contains(t, string(html), "<th>write-behind / node</th>")
}

func TestMedian(t *testing.T) {
	require.Equal(t, 0.0, median(nil))
	require.Equal(t, 2.0, median([]float64{3, 1, 2}))
	require.Equal(t, 2.5, median([]float64{4, 1, 2, 3}))
}
