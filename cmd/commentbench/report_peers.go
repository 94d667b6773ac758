package main

import "fmt"

// Peers are the systems commentd is compared with (bench/run.sh's
// BENCH_PEERS): every label other than commentd's two flush modes. A peer
// is driven by the same scenarios, and its server process is sampled under
// the peer's name (-procs node=PID), as commentd's is under "commentd".

// isPeer tells whether label is a peer's rather than a commentd mode's.
func isPeer(label string) bool { return label != wb && label != wt }

// labelLess orders the report's columns: write-behind, write-through, then
// the peers by name.
func labelLess(a, b string) bool {
	rank := func(l string) int {
		switch l {
		case wb:
			return 0
		case wt:
			return 1
		}
		return 2
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra < rb
	}
	return a < b
}

// serverProc is the name under which label's server process is sampled.
func serverProc(label string) string {
	if isPeer(label) {
		return label
	}
	return "commentd"
}

// peerText says what each peer is, for the report's introduction.
var peerText = map[string]string{
	"node": "the system commentd replaces, written for the benchmark (bench/peers/node): Node.js + Express + Socket.IO 4, " +
		"one MongoDB insertOne per comment awaited before the broadcast and the ack, every join's history read from MongoDB",
}

// peerIntro is the report's sentence on the peers that have results, or "".
func (rep *report) peerIntro() string {
	var out string
	for _, l := range rep.labels {
		if !isPeer(l) {
			continue
		}
		if out != "" {
			out += "; "
		}
		out += "`" + l + "`"
		if t := peerText[l]; t != "" {
			out += ", " + t
		}
	}
	if out == "" {
		return ""
	}
	return "Peers, started by bench/run.sh on the same machine in the same run and driven by the same scenarios at the same sizes: " + out +
		". Ratios: write-behind / the peer for values, the peer / write-behind for p99 latency and for the server's CPU per unit of work. "
}

// peerGoal is one of the targets against a peer: write-behind's
// headline value at least times the peer's.
type peerGoal struct {
	name  string // the target's row, e.g. "ingest confirmed/s"
	times float64
}

// peerGoals are the targets against peers, by scenario and peer.
var peerGoals = map[string]map[string]peerGoal{"ingest": {"node": {"ingest confirmed/s", 50}}}

// workUnit is what a scenario counts as its work, to compare CPU per unit
// across labels that did different amounts of it: the value's key and
// its name in the table. Scenarios whose processes also work outside the
// counted part (join posts the comments it then loads) have none.
var workUnit = map[string][2]string{
	"ingest":    {"confirmed", "confirmed comments"},
	"sustained": {"confirmed", "confirmed comments"},
	"fanout":    {"deliveries", "deliveries"},
	"counts":    {"requests", "requests"},
}

// peers returns the peer labels that have results for scenario, in order.
func (rep *report) peers(scenario string) []string {
	var out []string
	for _, l := range rep.labels {
		if isPeer(l) && rep.get(scenario, l) != nil {
			out = append(out, l)
		}
	}
	return out
}

// ratio formats a / b as "N×", or "–" if either is missing or b is 0.
func ratio(a float64, okA bool, b float64, okB bool) string {
	if !okA || !okB || b == 0 {
		return "–"
	}
	return num(a/b) + "×"
}

// peerTargets adds a row per peer goal whose scenario ran against the
// peer: write-behind's headline value over the peer's.
func (rep *report) peerTargets(add func(name, a, b, goal, res string)) {
	for _, scenario := range scenarioOrder {
		key := headline[scenario]
		for _, peer := range rep.peers(scenario) {
			goal, ok := peerGoals[scenario][peer]
			if !ok {
				continue
			}
			p, okP := rep.value(scenario, peer, key)
			w, okW := rep.value(scenario, wb, key)
			res := verdict(false, false)
			if okP && okW && p > 0 {
				res = fmt.Sprintf("%s× — %s", num(w/p), verdict(w/p >= goal.times, true))
			}
			add(fmt.Sprintf("%s beside the %s peer (%s: %s)", goal.name, peer, peer, rep.cell(scenario, peer, key)),
				rep.cell(scenario, wt, key), rep.cell(scenario, wb, key), fmt.Sprintf("≥ %g× %s", goal.times, peer), res)
		}
	}
}

// cpuPerUnit returns the CPU milliseconds proc spent per 1,000 units of
// scenario's work in label's median, if both were measured.
func (rep *report) cpuPerUnit(scenario, label, proc string) (float64, bool) {
	g := rep.get(scenario, label)
	unit, okU := workUnit[scenario]
	if g == nil || !okU {
		return 0, false
	}
	p, okP := g.procs[proc]
	n, okN := g.values[unit[0]]
	if !okP || !okN || n <= 0 || p.CPUSeconds <= 0 {
		return 0, false
	}
	return 1e6 * p.CPUSeconds / n, true
}
