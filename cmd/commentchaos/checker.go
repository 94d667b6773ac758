package main

import (
	"fmt"
	"slices"
	"strings"
)

// stored is a comment as MongoDB holds it.
type stored struct {
	ID      string `bson:"_id"`
	PostID  string `bson:"postId"`
	Content string `bson:"content"`
}

// history is what the clients recorded.
type history struct {
	ops       []op
	added     []map[string][]string // per client: post → comment_added ids in order
	persisted [][]string            // per client: comment_persisted ids
}

// Verdict is the checker's result, in the terms of Jepsen's queue checker.
type Verdict struct {
	Sent                int      `json:"sent"`
	Confirmed           int      `json:"confirmed"`
	Rejected            int      `json:"rejected"`            // a final error code other than BUSY/UNAVAILABLE
	Indeterminate       int      `json:"indeterminate"`       // never confirmed (a crash or the end of the run)
	IndeterminateStored int      `json:"indeterminateStored"` // of those, stored anyway
	Retried             int      `json:"retried"`             // comments sent more than once
	Stored              int      `json:"stored"`
	Lost                int      `json:"lost"`       // confirmed, not stored
	Duplicated          int      `json:"duplicated"` // extra stored copies of one comment
	Unexpected          int      `json:"unexpected"` // stored, never sent (or not as confirmed)
	Phantoms            int      `json:"phantoms"`   // broadcast, never stored
	EarlyPersisted      int      `json:"persistedNotStored"`
	Deliveries          int      `json:"deliveries"`
	RepeatedDeliveries  int      `json:"repeatedDeliveries"` // the same id twice to one client
	OrderViolations     int      `json:"orderViolations"`
	Examples            []string `json:"examples,omitempty"`
}

// OK reports whether every invariant held.
func (v Verdict) OK() bool {
	return v.Lost == 0 && v.Duplicated == 0 && v.Unexpected == 0 && v.Phantoms == 0 &&
		v.EarlyPersisted == 0 && v.OrderViolations == 0
}

func (v *Verdict) example(format string, args ...any) {
	if len(v.Examples) < 20 {
		v.Examples = append(v.Examples, fmt.Sprintf(format, args...))
	}
}

// check compares the history with what MongoDB holds: every confirmed
// comment stored exactly once with the confirmed id, nothing stored that
// no client sent, nothing broadcast or reported persisted that is not
// stored, and one order per post across all clients.
func check(h history, docs []stored) Verdict {
	var v Verdict
	byToken := map[string][]stored{}
	storedIDs := map[string]bool{}
	for _, d := range docs {
		byToken[d.Content] = append(byToken[d.Content], d)
		storedIDs[d.ID] = true
	}
	v.Stored = len(docs)
	sent := map[string]bool{}
	for _, o := range h.ops {
		v.Sent++
		sent[o.Token] = true
		if o.Attempts > 1 {
			v.Retried++
		}
		copies := byToken[o.Token]
		if len(copies) > 1 {
			v.Duplicated += len(copies) - 1
			v.example("duplicated: %q stored %d times", o.Token, len(copies))
		}
		switch {
		case o.Confirmed:
			v.Confirmed++
			if !slices.ContainsFunc(copies, func(d stored) bool { return d.ID == o.ID }) {
				v.Lost++
				v.example("lost: %q confirmed as %s", o.Token, o.ID)
			}
			for _, d := range copies {
				if d.ID != o.ID && len(copies) == 1 {
					v.Unexpected++
					v.example("unexpected: %q stored as %s, confirmed as %s", o.Token, d.ID, o.ID)
				}
				if d.PostID != o.Post {
					v.Unexpected++
					v.example("unexpected: %q stored on post %s, sent to %s", o.Token, d.PostID, o.Post)
				}
			}
		case o.Code != "":
			v.Rejected++
			if len(copies) > 0 {
				v.Unexpected++
				v.example("unexpected: %q rejected with %s but stored", o.Token, o.Code)
			}
		default:
			v.Indeterminate++
			if len(copies) > 0 {
				v.IndeterminateStored++
			}
		}
	}
	for _, d := range docs {
		if !sent[d.Content] {
			v.Unexpected++
			v.example("unexpected: %s %q was never sent", d.ID, d.Content)
		}
	}
	for _, ids := range h.persisted {
		for _, id := range ids {
			if !storedIDs[id] {
				v.EarlyPersisted++
				v.example("persisted but not stored: %s", id)
			}
		}
	}
	// Per post: each client's comment_added sequence, repeats dropped.
	perPost := map[string][][]string{}
	for ci, added := range h.added {
		for post, ids := range added {
			seen := make(map[string]bool, len(ids))
			seq := make([]string, 0, len(ids))
			for _, id := range ids {
				v.Deliveries++
				if !storedIDs[id] {
					v.Phantoms++
					v.example("phantom: client %d got %s on %s, never stored", ci, id, post)
				}
				if seen[id] {
					v.RepeatedDeliveries++
					continue
				}
				seen[id] = true
				seq = append(seq, id)
			}
			perPost[post] = append(perPost[post], seq)
		}
	}
	for post, seqs := range perPost {
		if bad := orderViolations(seqs); bad > 0 {
			v.OrderViolations += bad
			v.example("order: %d pairs of clients disagree on post %s", bad, post)
		}
	}
	return v
}

// orderViolations counts the pairs of sequences whose common elements are
// not in the same order.
func orderViolations(seqs [][]string) int {
	bad := 0
	sets := make([]map[string]bool, len(seqs))
	for i, s := range seqs {
		sets[i] = make(map[string]bool, len(s))
		for _, id := range s {
			sets[i][id] = true
		}
	}
	common := func(s []string, in map[string]bool) []string {
		out := make([]string, 0, len(s))
		for _, id := range s {
			if in[id] {
				out = append(out, id)
			}
		}
		return out
	}
	for i := range seqs {
		for j := i + 1; j < len(seqs); j++ {
			if !slices.Equal(common(seqs[i], sets[j]), common(seqs[j], sets[i])) {
				bad++
			}
		}
	}
	return bad
}

func (v Verdict) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sent %d, confirmed %d, rejected %d, indeterminate %d (%d of them stored), retried %d\n",
		v.Sent, v.Confirmed, v.Rejected, v.Indeterminate, v.IndeterminateStored, v.Retried)
	fmt.Fprintf(&b, "stored %d: lost %d, duplicated %d, unexpected %d\n", v.Stored, v.Lost, v.Duplicated, v.Unexpected)
	fmt.Fprintf(&b, "deliveries %d: phantoms %d, repeated %d, order violations %d; persisted-but-not-stored %d\n",
		v.Deliveries, v.Phantoms, v.RepeatedDeliveries, v.OrderViolations, v.EarlyPersisted)
	for _, e := range v.Examples {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	return b.String()
}
