package main

import (
	"fmt"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// chart is one rendered chart file of the report.
type chart struct {
	File, Title string
}

// seriesChart describes a time-series chart: each label's median run of
// scenario, plotting the series values named in keys.
type seriesChart struct {
	file, title, scenario, yLabel string
	keys                          []string
	onlyLabel                     string // if set, this label's runs only
}

var seriesCharts = []seriesChart{
	{"ingest-throughput.svg", "ingest: confirmed comments per second", "ingest", "comments/s", []string{"confirmedPerSec"}, ""},
	{"changes-throughput.svg", "changes: confirmed creates and changes (edits, deletes) per second", "changes", "per second", []string{"createsPerSec", "changesPerSec"}, ""},
	{"changes-depth.svg", "changes: buffer depth during the load and the drain (write-behind)", "changes", "entries in Redis", []string{"depth"}, "write-behind"},
	{"sustained-throughput.svg", "sustained: confirmed and flushed per second", "sustained", "comments/s", []string{"confirmedPerSec", "flushedPerSec"}, ""},
	{"sustained-depth.svg", "sustained: buffer depth (write-behind)", "sustained", "comments in Redis", []string{"depth"}, "write-behind"},
	{"sustained-age.svg", "sustained: age of the oldest buffered comment", "sustained", "seconds", []string{"ageSec"}, "write-behind"},
	{"fanout-throughput.svg", "fanout: deliveries per second", "fanout", "deliveries/s", []string{"deliveriesPerSec"}, ""},
	{"join-throughput.svg", "join: history loads per second", "join", "loads/s", []string{"loadsPerSec"}, ""},
	{"drain-depth.svg", "drain: buffer depth while the flusher drains it", "drain", "comments in Redis", []string{"depth"}, ""},
	{"reactions-throughput.svg", "reactions: acked reacts per second", "reactions", "reacts/s", []string{"reactionsPerSec"}, ""},
	{"reactions-pushes.svg", "reactions: comment_reactions per reader per second", "reactions", "events/s", []string{"pushesPerSec"}, ""},
	{"reactions-depth.svg", "reactions: buffer depth during the load and the drain (write-behind)", "reactions", "entries in Redis", []string{"depth"}, "write-behind"},
	{"counts-throughput.svg", "counts: GET /api/counts requests per second", "counts", "requests/s", []string{"requestsPerSec"}, ""},
}

// charts renders every chart there is data for into dir.
func (rep *report) charts(dir string) ([]chart, error) {
	var out []chart
	for _, sc := range seriesCharts {
		p := plot.New()
		p.Title.Text, p.X.Label.Text, p.Y.Label.Text = sc.title, "seconds", sc.yLabel
		p.Legend.Top = true
		n := 0
		for _, label := range rep.labels {
			g := rep.get(sc.scenario, label)
			if g == nil || (sc.onlyLabel != "" && label != sc.onlyLabel) {
				continue
			}
			for _, key := range sc.keys {
				var xys plotter.XYs
				for _, pt := range g.median.Series {
					if v, ok := pt.Values[key]; ok {
						xys = append(xys, plotter.XY{X: pt.T, Y: v})
					}
				}
				if len(xys) == 0 {
					continue
				}
				l, err := plotter.NewLine(xys)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", sc.file, err)
				}
				l.Color = plotutil.Color(n)
				l.Width = vg.Points(1.5)
				p.Add(l)
				name := label
				if len(sc.keys) > 1 {
					name += " " + key
				}
				p.Legend.Add(name, l)
				n++
			}
		}
		if n == 0 {
			continue
		}
		p.Add(plotter.NewGrid())
		if err := p.Save(8*vg.Inch, 3.5*vg.Inch, filepath.Join(dir, sc.file)); err != nil {
			return nil, fmt.Errorf("%s: %w", sc.file, err)
		}
		out = append(out, chart{sc.file, sc.title})
	}
	lat, err := rep.latencyCharts(dir)
	return append(out, lat...), err
}

// latencyCharts draws, per scenario, the median percentiles of each of its
// latencies and labels on a log scale.
func (rep *report) latencyCharts(dir string) ([]chart, error) {
	var out []chart
	ticks := []plot.Tick{{Value: 0, Label: "p50"}, {Value: 1, Label: "p95"}, {Value: 2, Label: "p99"}, {Value: 3, Label: "max"}}
	for _, scenario := range scenarioOrder {
		p := plot.New()
		p.Title.Text = scenario + ": latency percentiles (median of runs)"
		p.Y.Label.Text = "ms (log)"
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		// The right of the chart is left empty for the legend: on a log
		// scale the slowest lines run along the top.
		p.X.Min, p.X.Max = -0.2, 5.4
		p.Legend.Top, p.Legend.Left, p.Legend.XOffs = true, true, 3.9*vg.Inch
		n := 0
		for _, label := range rep.labels {
			g := rep.get(scenario, label)
			if g == nil {
				continue
			}
			for _, kind := range slices.Sorted(mapKeys(g.latency)) {
				pc := g.latency[kind]
				if pc.Count == 0 {
					continue
				}
				xys := plotter.XYs{{X: 0, Y: pc.P50}, {X: 1, Y: pc.P95}, {X: 2, Y: pc.P99}, {X: 3, Y: pc.Max}}
				for i := range xys {
					xys[i].Y = max(xys[i].Y, 0.001) // log scale: no zero
				}
				l, pts, err := plotter.NewLinePoints(xys)
				if err != nil {
					return nil, err
				}
				l.Color, pts.Color = plotutil.Color(n), plotutil.Color(n)
				pts.Shape = plotutil.Shape(n)
				p.Add(l, pts)
				p.Legend.Add(label+" "+kind, l, pts)
				n++
			}
		}
		if n == 0 {
			continue
		}
		p.Add(plotter.NewGrid())
		file := scenario + "-latency.svg"
		if err := p.Save(7*vg.Inch, 3.5*vg.Inch, filepath.Join(dir, file)); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		out = append(out, chart{file, p.Title.Text})
	}
	return out, nil
}
