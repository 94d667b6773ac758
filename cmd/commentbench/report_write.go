package main

import (
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
)

// table is a report table, written both as Markdown and as HTML.
type table struct {
	title  string
	header []string
	rows   [][]string
}

const (
	wb = "write-behind"
	wt = "write-through"
)

// num formats a measured number for a table.
func num(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "–"
	case v == 0:
		return "0"
	case math.Abs(v) >= 1000:
		return commas(int64(math.Round(v)))
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// value returns a median value and whether it was measured.
func (rep *report) value(scenario, label, key string) (float64, bool) {
	g := rep.get(scenario, label)
	if g == nil {
		return 0, false
	}
	v, ok := g.values[key]
	return v, ok
}

func (rep *report) cell(scenario, label, key string) string {
	if v, ok := rep.value(scenario, label, key); ok {
		return num(v)
	}
	return "–"
}

func (rep *report) p99(scenario, label, kind string) (float64, bool) {
	g := rep.get(scenario, label)
	if g == nil {
		return 0, false
	}
	p, ok := g.latency[kind]
	return p.P99, ok && p.Count > 0
}

func verdict(ok, measured bool) string {
	switch {
	case !measured:
		return "not measured"
	case ok:
		return "met"
	default:
		return "**not met**"
	}
}

// p99cell is the median p99 of a latency, or "–".
func (rep *report) p99cell(scenario, label, kind string) string {
	if v, ok := rep.p99(scenario, label, kind); ok {
		return num(v)
	}
	return "–"
}

// targets is the table of the targets with the medians measured;
// a target whose scenario did not run says "not measured".
func (rep *report) targets() table {
	t := table{title: "Targets", header: []string{"target", wt, wb, "goal", "result"}}
	add := func(name, a, b, goal, res string) { t.rows = append(t.rows, []string{name, a, b, goal, res}) }

	cwt, okT := rep.value("ingest", wt, "confirmedPerSec")
	cwb, okB := rep.value("ingest", wb, "confirmedPerSec")
	res := verdict(false, false)
	if okT && okB && cwt > 0 {
		res = fmt.Sprintf("%s× — %s", num(cwb/cwt), verdict(cwb/cwt >= 25, true))
	}
	add("ingest confirmed/s", rep.cell("ingest", wt, "confirmedPerSec"), rep.cell("ingest", wb, "confirmedPerSec"), "≥ 25× write-through", res)
	p, ok := rep.p99("ingest", wb, "confirm")
	add("ingest confirm p99 ms", rep.p99cell("ingest", wt, "confirm"), rep.p99cell("ingest", wb, "confirm"), "≤ 50 ms", verdict(p <= 50, ok))

	rep.peerTargets(add)
	rep.changesTargets(add)
	rep.conversationTargets(add)

	name := "fanout deliveries/s"
	if off, ok := rep.value("fanout", wb, "offeredDeliveriesPerSec"); ok {
		name += " (offered " + num(off) + ")"
	}
	res = verdict(false, false)
	if miss, ok := rep.value("fanout", wb, "misses"); ok {
		res = fmt.Sprintf("%s misses — %s", num(miss), verdict(miss == 0, true))
	}
	add(name, rep.cell("fanout", wt, "deliveriesPerSec"), rep.cell("fanout", wb, "deliveriesPerSec"), "every delivery made", res)
	p, ok = rep.p99("fanout", wb, "delivery")
	add("fanout delivery p99 ms", rep.p99cell("fanout", wt, "delivery"), rep.p99cell("fanout", wb, "delivery"), "≤ 250 ms", verdict(p <= 250, ok))

	kb, ok := rep.value("conns", wb, "kbPerConn")
	add("conns: server RSS per idle connection, KB (at "+rep.cell("conns", wb, "conns")+" held)",
		rep.cell("conns", wt, "kbPerConn"), rep.cell("conns", wb, "kbPerConn"), "≤ 12 KB", verdict(kb <= 12, ok))

	ins, ok := rep.value("sustained", wb, "insertsPer1000")
	add("MongoDB insert commands per 1,000 comments (sustained)", rep.cell("sustained", wt, "insertsPer1000"),
		rep.cell("sustained", wb, "insertsPer1000"), "≤ 2", verdict(ins <= 2, ok))

	dr, ok := rep.value("drain", wb, "drainVsRaw")
	cell := "–"
	if ok {
		cell = fmt.Sprintf("%s/s vs raw %s/s = %.0f%%", rep.cell("drain", wb, "drainPerSec"), rep.cell("drain", wb, "rawInsertPerSec"), 100*dr)
	}
	add("drain "+rep.cell("drain", wb, "backlog")+" buffered comments: flush rate vs raw InsertMany (batch 1,000)", "–", cell,
		"≥ 90% of raw", verdict(dr >= 0.9, ok))
	return t
}

// changesTargets adds the rows of the changes scenario: MongoDB write
// commands per 1,000 changes (edits and deletes; per 1,000 operations,
// creates included, in brackets), as devmongo was sent them and as real
// MongoDB would be sent them for the same batches (computed, not
// measured).
func (rep *report) changesTargets(add func(name, a, b, goal, res string)) {
	cell := func(label, perChanges, perOps string) string {
		v, ok := rep.value("changes", label, perChanges)
		if !ok {
			return "–"
		}
		out := num(v)
		if o, ok := rep.value("changes", label, perOps); ok {
			out += " (" + num(o) + " per 1,000 ops)"
		}
		return out
	}
	v, ok := rep.value("changes", wb, "writesPer1000Changes")
	add("MongoDB write commands per 1,000 changes (changes; devmongo, measured)", cell(wt, "writesPer1000Changes", "writesPer1000Ops"),
		cell(wb, "writesPer1000Changes", "writesPer1000Ops"), "≤ 3", verdict(v <= 3, ok))
	v, ok = rep.value("changes", wb, "computedPer1000Changes")
	res := verdict(v <= 3, ok)
	if ok {
		res += " (computed)"
	}
	add("MongoDB write commands per 1,000 changes (changes; real MongoDB, computed from the batches: 1 insert + 1 update command each)",
		cell(wt, "computedPer1000Changes", "computedPer1000Ops"), cell(wb, "computedPer1000Changes", "computedPer1000Ops"), "≤ 3", res)
}

// conversationTargets adds the rows of the reactions and counts
// scenarios: MongoDB writes per 1,000 reactions (measured on devmongo and
// computed for real MongoDB), the comment_reactions a reader got, and
// the MongoDB reads of warm counts requests.
func (rep *report) conversationTargets(add func(name, a, b, goal, res string)) {
	v, ok := rep.value("reactions", wb, "writesPer1000Reactions")
	add("MongoDB write commands per 1,000 reactions (reactions; devmongo, measured)", rep.cell("reactions", wt, "writesPer1000Reactions"),
		rep.cell("reactions", wb, "writesPer1000Reactions"), "≤ 2", verdict(v <= 2, ok))
	v, ok = rep.value("reactions", wb, "computedPer1000Reactions")
	res := verdict(v <= 2, ok)
	if ok {
		res += " (computed)"
	}
	add("MongoDB write commands per 1,000 reactions (reactions; real MongoDB, computed from the batches)", rep.cell("reactions", wt, "computedPer1000Reactions"),
		rep.cell("reactions", wb, "computedPer1000Reactions"), "≤ 2", res)
	pushes := func(label string) string {
		m, ok := rep.value("reactions", label, "pushMaxPerSec")
		if !ok {
			return "–"
		}
		out := num(m) + " (mean " + rep.cell("reactions", label, "pushesPerReaderSec")
		if g, ok := rep.value("reactions", label, "pushMinGapMs"); ok {
			out += ", shortest gap " + num(g) + " ms"
		}
		return out + ")"
	}
	v, ok = rep.value("reactions", wb, "pushMaxPerSec")
	add("comment_reactions a reader got in one second, most (reactions; push_rate 4)", pushes(wt), pushes(wb), "≤ 4", verdict(v <= 4, ok))
	name := "counts: MongoDB reads per 1,000 warm requests"
	if page, ok := rep.value("counts", wb, "page"); ok {
		name += fmt.Sprintf(" of %.0f posts", page)
	}
	v, ok = rep.value("counts", wb, "mongoReadsPer1000Requests")
	add(name, rep.cell("counts", wt, "mongoReadsPer1000Requests"),
		rep.cell("counts", wb, "mongoReadsPer1000Requests"), "0 once warm", verdict(v == 0, ok))
	v, ok = rep.value("coldjoin", wb, "ingestRatio")
	add("coldjoin: ingest confirmed/s with joins of new posts / alone", "–", rep.cell("coldjoin", wb, "ingestRatio"), "≥ 0.9", verdict(v >= 0.9, ok))
	v, ok = rep.value("coldjoin", wb, "drainRatio")
	add("coldjoin: flushed/s with joins of new posts / alone", "–", rep.cell("coldjoin", wb, "drainRatio"), "≥ 0.9", verdict(v >= 0.9, ok))
	v, ok = rep.value("coldjoin", wb, "readsPerNewPost")
	add("coldjoin: MongoDB reads per new post joined", "–", rep.cell("coldjoin", wb, "readsPerNewPost"), "≤ 1", verdict(v <= 1, ok))
}

// changesBesideIngest compares the changes scenario with ingest of the
// same run, per label: operations per second and ack latencies.
func (rep *report) changesBesideIngest() table {
	t := table{title: "changes beside ingest (same run, median of runs)", header: []string{"run", "ingest confirmed/s",
		"changes: ops/s", "creates/s", "changes/s", "ingest confirm p50 / p99 ms", "changes: create p50 / p99 ms", "change p50 / p99 ms"}}
	lat := func(scenario, label, kind string) string {
		g := rep.get(scenario, label)
		if g == nil {
			return "–"
		}
		p, ok := g.latency[kind]
		if !ok || p.Count == 0 {
			return "–"
		}
		return num(p.P50) + " / " + num(p.P99)
	}
	for _, l := range rep.labels {
		if rep.get("changes", l) == nil {
			continue
		}
		t.rows = append(t.rows, []string{l, rep.cell("ingest", l, "confirmedPerSec"), rep.cell("changes", l, "opsPerSec"),
			rep.cell("changes", l, "createsPerSec"), rep.cell("changes", l, "changesPerSec"), lat("ingest", l, "confirm"),
			lat("changes", l, "create"), lat("changes", l, "change")})
	}
	return t
}

// scenarioTables are the median values, latencies and process usage of
// one scenario, per label, with ratios: write-behind / write-through and
// write-behind / each peer for the values; each other label's p99 over
// write-behind's for the latencies; and each other label's server CPU per
// unit of work over write-behind's for the processes.
func (rep *report) scenarioTables(scenario string) []table {
	byLabel := rep.groups[scenario]
	var labels []string
	for _, l := range rep.labels {
		if byLabel[l] != nil {
			labels = append(labels, l)
		}
	}
	// The labels write-behind's values are divided by.
	var over []string
	if byLabel[wb] != nil {
		for _, l := range labels[1:] {
			if l == wt || isPeer(l) {
				over = append(over, l)
			}
		}
	}
	header := append([]string{"median of runs"}, labels...)
	for _, l := range over {
		header = append(header, "write-behind / "+l)
	}
	runs := []string{"runs"}
	keys := map[string]bool{}
	for _, l := range labels {
		runs = append(runs, fmt.Sprint(len(byLabel[l].runs)))
		for k := range byLabel[l].values {
			keys[k] = true
		}
	}
	for range over {
		runs = append(runs, "")
	}
	values := table{title: scenario, header: header, rows: [][]string{runs}}
	for _, k := range slices.Sorted(mapKeys(keys)) {
		row := []string{k}
		for _, l := range labels {
			row = append(row, rep.cell(scenario, l, k))
		}
		a, okA := rep.value(scenario, wb, k)
		for _, l := range over {
			b, okB := rep.value(scenario, l, k)
			row = append(row, ratio(a, okA, b, okB))
		}
		values.rows = append(values.rows, row)
	}
	out := []table{values}
	if scenario == "changes" {
		out = append(out, rep.changesBesideIngest())
	}

	lat := table{title: scenario + " latency (ms, median of runs)", header: []string{"run", "latency", "p50", "p95", "p99", "max", "samples", "p99 / write-behind's"}}
	for _, l := range labels {
		g := byLabel[l]
		for _, k := range slices.Sorted(mapKeys(g.latency)) {
			p := g.latency[k]
			r := ""
			if l != wb {
				w, okW := rep.p99(scenario, wb, k)
				r = ratio(p.P99, p.Count > 0, w, okW)
			}
			lat.rows = append(lat.rows, []string{l, k, num(p.P50), num(p.P95), num(p.P99), num(p.Max), num(float64(p.Count)), r})
		}
	}
	if len(lat.rows) > 0 {
		out = append(out, lat)
	}

	procs := table{title: scenario + " processes (median of runs)", header: []string{"run", "process", "CPU % of one core", "CPU s", "peak RSS MB"}}
	unit, perUnit := workUnit[scenario]
	if perUnit {
		procs.header = append(procs.header, "CPU ms per 1,000 "+unit[1], "server's / write-behind's")
	}
	for _, l := range labels {
		g := byLabel[l]
		for _, k := range slices.Sorted(mapKeys(g.procs)) {
			p := g.procs[k]
			row := []string{l, k, num(p.CPUPercent), num(p.CPUSeconds), num(p.RSSPeakMB)}
			if perUnit {
				c, ok := rep.cpuPerUnit(scenario, l, k)
				cell, r := "–", ""
				if ok {
					cell = num(c)
				}
				if l != wb && k == serverProc(l) {
					w, okW := rep.cpuPerUnit(scenario, wb, "commentd")
					r = ratio(c, ok, w, okW)
				}
				row = append(row, cell, r)
			}
			procs.rows = append(procs.rows, row)
		}
	}
	if len(procs.rows) > 0 {
		out = append(out, procs)
	}
	return out
}

func (rep *report) machineTable() table {
	t := table{title: "Machine", header: []string{"", ""}}
	for _, k := range slices.Sorted(mapKeys(rep.meta.Machine)) {
		t.rows = append(t.rows, []string{k, rep.meta.Machine[k]})
	}
	return t
}

func (rep *report) markdown(charts []chart, chartDir string) string {
	var b strings.Builder
	b.WriteString("# commentd benchmarks\n\n")
	b.WriteString("Written by `make bench` (bench/run.sh, then `commentbench report`); every number below is measured by that run. " +
		"Everything runs on one machine: the load generator, commentd, redis-server and devmongo (FerretDB on SQLite) share its cores. " +
		"`write-through` is the naive design (one insert per comment, one update per edit or delete, before the ack), `write-behind` the default. " +
		rep.peerIntro() + "Charts: [" + chartDir + "/index.html](" + chartDir + "/index.html).\n\n")
	for _, n := range rep.meta.Notes {
		fmt.Fprintf(&b, "> %s\n\n", n)
	}
	writeMD(&b, rep.machineTable())
	if len(rep.meta.Commands) > 0 {
		b.WriteString("## Commands\n\n```\n" + strings.Join(rep.meta.Commands, "\n") + "\n```\n\n")
	}
	writeMD(&b, rep.targets())
	for _, s := range scenarioOrder {
		if rep.groups[s] == nil {
			continue
		}
		if txt := scenarioText[s]; txt != "" {
			fmt.Fprintf(&b, "**%s.** %s\n\n", s, txt)
		}
		for _, t := range rep.scenarioTables(s) {
			writeMD(&b, t)
		}
		for _, c := range charts {
			if strings.HasPrefix(c.File, s+"-") {
				fmt.Fprintf(&b, "![%s](%s/%s)\n\n", c.Title, chartDir, c.File)
			}
		}
	}
	return b.String()
}

func writeMD(b *strings.Builder, t table) {
	fmt.Fprintf(b, "## %s\n\n", t.title)
	b.WriteString("| " + strings.Join(t.header, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat("---|", len(t.header)) + "\n")
	for _, r := range t.rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	b.WriteString("\n")
}

func (rep *report) html(charts []chart) string {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><title>commentd benchmarks</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:0 0 1.5em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}img{max-width:100%;display:block;margin:1em 0}</style>
</head><body><h1>commentd benchmarks</h1>
<p>write-through: one MongoDB insert per comment, one update per edit or delete, before the ack (the naive design); write-behind: Redis buffer, batched writes. Medians of the runs; one machine for everything.</p>
`)
	if intro := rep.peerIntro(); intro != "" {
		fmt.Fprintf(&b, "<p>%s</p>\n", html.EscapeString(strings.ReplaceAll(intro, "`", "")))
	}
	for _, n := range rep.meta.Notes {
		fmt.Fprintf(&b, "<p><em>%s</em></p>\n", html.EscapeString(n))
	}
	writeHTML(&b, rep.machineTable())
	writeHTML(&b, rep.targets())
	for _, s := range scenarioOrder {
		if rep.groups[s] == nil {
			continue
		}
		if txt := scenarioText[s]; txt != "" {
			fmt.Fprintf(&b, "<p><strong>%s.</strong> %s</p>\n", s, html.EscapeString(strings.ReplaceAll(txt, "`", "")))
		}
		for _, c := range charts {
			if strings.HasPrefix(c.File, s+"-") {
				fmt.Fprintf(&b, "<img src=\"%s\" alt=\"%s\">\n", html.EscapeString(c.File), html.EscapeString(c.Title))
			}
		}
		for _, t := range rep.scenarioTables(s) {
			writeHTML(&b, t)
		}
	}
	if len(rep.meta.Commands) > 0 {
		b.WriteString("<h2>Commands</h2><pre>" + html.EscapeString(strings.Join(rep.meta.Commands, "\n")) + "</pre>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

func writeHTML(b *strings.Builder, t table) {
	fmt.Fprintf(b, "<h2>%s</h2>\n<table><tr>", html.EscapeString(t.title))
	for _, h := range t.header {
		fmt.Fprintf(b, "<th>%s</th>", html.EscapeString(h))
	}
	b.WriteString("</tr>\n")
	for _, r := range t.rows {
		b.WriteString("<tr>")
		for _, c := range r {
			c = strings.ReplaceAll(html.EscapeString(c), "**", "")
			fmt.Fprintf(b, "<td>%s</td>", c)
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n")
}
