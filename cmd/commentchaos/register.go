package main

import (
	"strconv"
	"strings"
)

// The register checker: each comment is a register whose writes are its
// changes. A change acked {ok:true} tells the state at its version; a
// room event, a join or a history page tells a state too. Versions are
// totally ordered per comment, so:
//
//   - every state told for one version is the same (else a fork);
//   - an acked state shows its change (an edit's content, a delete's
//     tombstone, a hide's status...), by someone allowed to make it;
//   - MongoDB's version is at least the highest confirmed one (else a
//     confirmed change was lost or overwritten: a wrong final state) and
//     at least the highest told one (else a change was broadcast but never
//     stored: a phantom change);
//   - at a version some client was told, MongoDB holds exactly that state;
//   - beyond every version told, the state must follow from the last told
//     one by changes whose outcome is unknown (no answer, UNAVAILABLE,
//     INTERNAL), each applied at most once, in some order, each allowed at
//     the state it met (nothing after a delete; an edit with v only at
//     that version; an edit by its author; moderation by a moderator);
//   - a comment whose delete was confirmed, or told by a comment_removed
//     that cannot mean a hide, is a tombstone in MongoDB or absent
//     (created and deleted in one batch), never a comment again.

// authorOf returns the user who created the comment of token "chaos
// c3-17": u3.
func authorOf(token string) string {
	rest, ok := strings.CutPrefix(token, "chaos c")
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, "-")
	if !ok {
		return ""
	}
	if _, err := strconv.Atoi(id); err != nil {
		return ""
	}
	return "u" + id
}

// registers checks the acks, the told states and each comment's final
// state.
func (ck *checker) registers(v *Verdict) {
	ids := map[string]bool{}
	for id, chs := range ck.chs {
		ids[id] = true
		for _, a := range chs {
			if a.Outcome == applied {
				ck.checkAck(v, a)
			}
		}
	}
	for _, t := range ck.h.told.comments {
		ids[t.id] = true
		for _, s := range t.states {
			if strings.Contains(s.Content, editMark) {
				if o, ok := ck.edits[s.Content]; !ok || o == refused {
					ck.wrongState(v, t.id, "%s was told as %s, an edit that was never sent or always refused", t.id, s)
				}
			}
		}
	}
	for id := range ck.docs {
		ids[id] = true
	}
	for id := range ids {
		ck.register(v, id)
	}
}

// checkAck checks that an acked state shows its change, made by someone
// allowed to.
func (ck *checker) checkAck(v *Verdict, a change) {
	if a.State == nil {
		ck.wrongState(v, a.Comment, "%s of %s by %s acked without a state", a.Op, a.Comment, a.User)
		return
	}
	st := *a.State
	author := authorOf(ck.token[a.Comment])
	ok := st.V >= 2 && (a.BaseV == 0 || st.V == a.BaseV+1)
	switch a.Op {
	case "react": // a second react changes nothing: any version
		ok = !st.Deleted && reactionCounts(st.Reactions)[a.Content] >= 1
	case "unreact":
		ok = !st.Deleted
	case "edit":
		ok = ok && !a.Mod && a.User == author && st.Content == a.Content && !st.Deleted && st.EditedAt != ""
	case "delete":
		ok = ok && (a.Mod || a.User == author) && st.Deleted && st.Content == "" && st.UserID == "" && !st.Pinned
	case "hide":
		ok = ok && a.Mod && st.Status == "hidden"
	case "restore":
		ok = ok && a.Mod && st.Status == ""
	case "pin":
		ok = ok && a.Mod && st.Pinned
	case "unpin":
		ok = ok && a.Mod && !st.Pinned
	}
	if !ok {
		ck.wrongState(v, a.Comment, "%s of %s by %s (base v%d, author %s) acked as %s", a.Op, a.Comment, a.User, a.BaseV, author, st)
	}
}

// register checks the state MongoDB holds of one comment.
func (ck *checker) register(v *Verdict, id string) {
	t := ck.h.told.get(id)
	chs := ck.chs[id]
	vc := 0 // the highest confirmed version
	var cands []change
	for _, a := range chs {
		switch {
		case a.Outcome == applied && a.State != nil:
			vc = max(vc, a.State.V)
		case a.Outcome == unknown:
			cands = append(cands, a)
		}
	}

	if vc > 0 || len(cands) > 0 {
		v.ChangedComments++
	}
	// Its replies' creates and changes may have changed its count: told to
	// readers, never acked, so each may or may not be why it moved on.
	cands = append(cands, ck.repliesOf[id]...)
	d := ck.docs[id]
	if d == nil {
		return // not stored: lost, phantom or deleted in its first batch (queue and deliveries)
	}
	ds := d.state()
	vt := 0
	if t != nil {
		vt = t.maxV()
	}
	if ck.toldDeleted[id] && !ds.Deleted {
		ck.resurrect(v, id, "MongoDB holds %s as %s, its delete confirmed or told (v%d)", id, ds, ck.deleteV[id])
		return
	}
	if ds.V < vc {
		ck.wrongState(v, id, "MongoDB holds %s as %s, a change to v%d was confirmed", id, ds, vc)
		return
	}
	if ds.V < vt {
		v.PhantomChanges++
		s, _ := t.at(vt)
		v.example("phantom change: MongoDB holds %s as %s, clients were told %s", id, ds, s)
		return
	}
	if t != nil {
		if s, ok := t.at(ds.V); ok {
			if s != ds {
				ck.wrongState(v, id, "MongoDB holds %s as %s, clients were told %s", id, ds, s)
			}
			return
		}
	}
	// Beyond every version told: unknown-outcome changes must explain it.
	var base state
	if vt > 0 {
		base, _ = t.at(vt)
	} else if tok := ck.token[id]; tok != "" {
		base = state{PostID: d.PostID, UserID: authorOf(tok), Content: tok, V: 1}
	} else {
		return // never sent: unexpected (queue)
	}
	v.Reachability++
	if !reachable(base, cands, ds) {
		ck.wrongState(v, id, "MongoDB holds %s as %s; the last state told is %s, and its %d changes of unknown outcome cannot lead there",
			id, ds, base, len(cands))
	}
}

// unknownEditedAt stands for the editedAt of an edit whose answer never
// came: the server's clock, unknown to the client.
const unknownEditedAt = "?"

// apply returns st after change a, as the server would decide it, and
// whether a could apply to st at all.
func apply(st state, a change) (state, bool) {
	switch a.Op {
	case "replies+", "replies-": // a reply to it became visible or stopped being (tombstones too)
		if a.Op == "replies-" {
			if st.Replies == 0 {
				return st, false
			}
			st.Replies--
		} else {
			st.Replies++
		}
		st.V++
		return st, true
	}
	if st.Deleted || a.BaseV > 0 && a.BaseV != st.V {
		return st, false
	}
	switch a.Op {
	case "react", "unreact":
		counts := reactionCounts(st.Reactions)
		if a.Op == "react" {
			counts[a.Content]++
		} else if counts[a.Content] == 0 {
			return st, false
		} else {
			counts[a.Content]--
		}
		st.Reactions = reactionsKey(counts)
	case "edit":
		if a.Mod || a.User != st.UserID {
			return st, false
		}
		st.Content, st.EditedAt = a.Content, unknownEditedAt
	case "delete":
		if !a.Mod && a.User != st.UserID {
			return st, false
		}
		st.Deleted, st.Content, st.UserID, st.Pinned = true, "", "", false
	case "hide", "restore", "pin", "unpin":
		if !a.Mod {
			return st, false
		}
		switch a.Op {
		case "hide":
			st.Status = "hidden"
		case "restore":
			st.Status = ""
		case "pin":
			st.Pinned = true
		default:
			st.Pinned = false
		}
	default:
		return st, false
	}
	st.V++
	return st, true
}

// matches reports whether st, built by apply, is target.
func matches(st, target state) bool {
	if st.EditedAt == unknownEditedAt {
		if target.EditedAt == "" {
			return false
		}
		st.EditedAt = target.EditedAt
	}
	return st == target
}

// reachable reports whether target follows from base by applying some of
// cands, each at most once, in some order.
func reachable(base state, cands []change, target state) bool {
	if target.V-base.V > len(cands) || target.V < base.V {
		return false
	}
	if len(cands) > 60 {
		cands = cands[len(cands)-60:] // the used set is a 64-bit mask
	}
	type key struct {
		st   state
		used uint64
	}
	failed := map[key]bool{}
	var dfs func(st state, used uint64) bool
	dfs = func(st state, used uint64) bool {
		if st.V == target.V {
			return matches(st, target)
		}
		k := key{st, used}
		if failed[k] {
			return false
		}
		for i, a := range cands {
			if used&(1<<i) != 0 {
				continue
			}
			if next, ok := apply(st, a); ok && dfs(next, used|1<<i) {
				return true
			}
		}
		failed[k] = true
		return false
	}
	return dfs(base, 0)
}
