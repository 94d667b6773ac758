package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fixture builds a history: clients' events go through observed, as in a
// run.
type fixture struct {
	h    history
	docs []stored
}

func (f *fixture) client(id int, user string, mod bool) int {
	f.h.clients = append(f.h.clients, clientLog{id: id, user: user, mod: mod, events: map[string][]event{}})
	return len(f.h.clients) - 1
}

// live records that client ci got a room event: kind 'a' or 'u' with st
// (told), or 'r'.
func (f *fixture) live(ci int, kind byte, id string, st state, flags byte) {
	c := &f.h.clients[ci]
	e := event{kind: kind, conn: 1, flags: flags}
	if kind == evRemoved {
		e.c = f.h.told.intern(id, "p")
	} else {
		e.c, e.v = f.h.told.tell(id, st, toldLive), int32(st.V)
	}
	c.events["p"] = append(c.events["p"], e)
}

func (f *fixture) doc(id string) *stored {
	for i := range f.docs {
		if f.docs[i].ID == id {
			return &f.docs[i]
		}
	}
	return nil
}

func (f *fixture) dropDoc(id string) {
	for i := range f.docs {
		if f.docs[i].ID == id {
			f.docs = append(f.docs[:i], f.docs[i+1:]...)
			return
		}
	}
}

func st(content, user string, v int) state {
	return state{PostID: "p", UserID: user, Content: content, V: v}
}

const editedAt = "2026-12-03T10:00:00.000Z"

// cleanHistory: a retried comment stored once, an indeterminate one stored
// and one not; b edited (acked v2), then edited again without an answer
// (MongoDB holds that edit, v3); e deleted after its flush (a tombstone),
// f deleted before it (absent); g, another user's, hidden by a moderator;
// a pin of a without an answer that did not apply; a FORBIDDEN edit of a.
// Every client sees one order; a hidden comment is removed for the reader
// who is not its author; after the run a reader and a moderator read the
// post completely.
func cleanHistory() fixture {
	f := fixture{h: history{told: newObserved()}}
	f.h.ops = []op{
		{Token: "chaos c0-0", Post: "p", User: "u0", Attempts: 1, Confirmed: true, ID: "a"},
		{Token: "chaos c0-1", Post: "p", User: "u0", Attempts: 3, Confirmed: true, ID: "b"},
		{Token: "chaos c0-2", Post: "p", User: "u0", Attempts: 2},
		{Token: "chaos c0-3", Post: "p", User: "u0", Attempts: 1},
		{Token: "chaos c0-4", Post: "p", User: "u0", Attempts: 1, Confirmed: true, ID: "e"},
		{Token: "chaos c0-5", Post: "p", User: "u0", Attempts: 1, Confirmed: true, ID: "f"},
		{Token: "chaos c1-0", Post: "p", User: "u1", Attempts: 1, Confirmed: true, ID: "g"},
	}
	for _, o := range f.h.ops {
		if o.Confirmed {
			f.h.told.tell(o.ID, st(o.Token, o.User, 1), toldAck)
		}
	}
	bEdited := st("chaos c0-1 ~e0-10", "u0", 2)
	bEdited.EditedAt = editedAt
	tomb := func(v int) *state { s := st("", "", v); s.Deleted = true; return &s }
	gHidden := st("chaos c1-0", "u1", 2)
	gHidden.Status = "hidden"
	f.h.changes = []change{
		{Client: 0, User: "u0", Op: "edit", Post: "p", Comment: "b", Content: "chaos c0-1 ~e0-10", Try: 1, Outcome: applied, State: &bEdited},
		{Client: 0, User: "u0", Op: "edit", Post: "p", Comment: "b", Content: "chaos c0-1 ~e0-11", BaseV: 2, Try: 1, Outcome: unknown},
		{Client: 0, User: "u0", Op: "delete", Post: "p", Comment: "e", Try: 1, Outcome: applied, State: tomb(2)},
		{Client: 0, User: "u0", Op: "delete", Post: "p", Comment: "f", Try: 1, Outcome: unknown},
		{Client: 0, User: "u0", Op: "delete", Post: "p", Comment: "f", Try: 2, Outcome: refused, Code: "NOT_FOUND"},
		{Client: 9, User: "admin", Mod: true, Op: "hide", Post: "p", Comment: "g", Try: 1, Outcome: applied, State: &gHidden},
		{Client: 9, User: "admin", Mod: true, Op: "pin", Post: "p", Comment: "a", Try: 1, Outcome: unknown},
		{Client: 1, User: "u1", Op: "edit", Post: "p", Comment: "a", Content: "chaos c0-0 ~e1-3", Try: 1, Outcome: refused, Code: "FORBIDDEN"},
	}
	for _, a := range f.h.changes {
		if a.State != nil {
			f.h.told.tell(a.Comment, *a.State, toldAck)
		}
	}
	u0 := f.client(0, "u0", false)
	u1 := f.client(1, "u1", false)
	u2 := f.client(2, "u2", false)
	mod := f.client(9, "admin", true)
	for _, ci := range []int{u0, u1, u2, mod} {
		f.live(ci, evAdded, "a", st("chaos c0-0", "u0", 1), 0)
		f.live(ci, evAdded, "b", st("chaos c0-1", "u0", 1), 0)
		if ci != u2 { // u2 joined later
			f.live(ci, evAdded, "c", st("chaos c0-2", "u0", 1), 0)
		}
		f.live(ci, evUpdated, "b", bEdited, 0)
		f.live(ci, evAdded, "e", st("chaos c0-4", "u0", 1), 0)
		f.live(ci, evRemoved, "e", state{}, 0)
		f.live(ci, evAdded, "g", st("chaos c1-0", "u1", 1), 0)
		if ci == u1 || ci == mod {
			f.live(ci, evUpdated, "g", gHidden, 0)
		} else {
			f.live(ci, evRemoved, "g", state{}, 0)
		}
	}
	f.live(u0, evAdded, "a", st("chaos c0-0", "u0", 1), 0) // a repeat
	f.h.clients[u0].persisted = []string{"a", "b", "f"}

	bFinal := st("chaos c0-1 ~e0-11", "u0", 3)
	bFinal.EditedAt = "2026-12-03T10:00:01.000Z"
	f.docs = []stored{
		{ID: "a", PostID: "p", UserID: "u0", Content: "chaos c0-0", V: 1},
		{ID: "b", PostID: "p", UserID: "u0", Content: bFinal.Content, EditedAt: mustTime(bFinal.EditedAt), V: 3},
		{ID: "c", PostID: "p", UserID: "u0", Content: "chaos c0-2"},
		{ID: "e", PostID: "p", Deleted: true, V: 2},
		{ID: "g", PostID: "p", UserID: "u1", Content: "chaos c1-0", Status: "hidden", V: 2},
	}
	visible := []shown{
		{ID: "a", Via: "join", State: st("chaos c0-0", "u0", 1)},
		{ID: "b", Via: "join", State: bFinal},
		{ID: "c", Via: "load_more", State: st("chaos c0-2", "u0", 1)},
	}
	f.h.after = []readback{
		{Viewer: "reader", Post: "p", Complete: true, Seen: visible},
		{Viewer: "moderator", Mod: true, Post: "p", Complete: true, Seen: append(append([]shown(nil), visible...),
			shown{ID: "g", Via: "load_more", State: gHidden})},
	}
	return f
}

func TestCheckerCleanHistory(t *testing.T) {
	f := cleanHistory()
	v := check(f.h, f.docs)
	require.True(t, v.OK(), v.String())
	require.Equal(t, 7, v.Sent)
	require.Equal(t, 5, v.Confirmed)
	require.Equal(t, 2, v.Indeterminate)
	require.Equal(t, 1, v.IndeterminateStored)
	require.Equal(t, 2, v.Retried)
	require.Equal(t, 1, v.Tombstones)
	require.Equal(t, 1, v.DeletedUnstored)
	require.Equal(t, 8, v.ChangesSent)
	require.Equal(t, 3, v.ChangesApplied)
	require.Equal(t, 2, v.ChangesRefused)
	require.Equal(t, 3, v.ChangesUnknown)
	require.Equal(t, 1, v.Reachability, "b's final state comes from an edit without an answer")
	require.Equal(t, 1, v.RepeatedDeliveries)
}

// Each violation is caught and counted.
func TestCheckerCatchesEachViolation(t *testing.T) {
	type verdictField func(Verdict) int
	lost := func(v Verdict) int { return v.Lost }
	wrong := func(v Verdict) int { return v.WrongStates }
	unexpected := func(v Verdict) int { return v.Unexpected }
	resurrected := func(v Verdict) int { return v.Resurrected }
	leaks := func(v Verdict) int { return v.HiddenLeaks }
	history := func(v Verdict) int { return v.HistoryWrong }
	cases := []struct {
		name   string
		break_ func(*fixture)
		field  verdictField
	}{
		{"lost", func(f *fixture) { f.dropDoc("a") }, lost},
		{"lost, deleted by someone without the right", func(f *fixture) {
			f.dropDoc("a")
			f.h.changes = append(f.h.changes, change{User: "u1", Op: "delete", Comment: "a", Outcome: refused, Code: "FORBIDDEN"})
		}, lost},
		{"duplicated", func(f *fixture) { f.docs = append(f.docs, stored{ID: "a2", PostID: "p", Content: "chaos c0-0"}) },
			func(v Verdict) int { return v.Duplicated }},
		{"never sent", func(f *fixture) { f.docs = append(f.docs, stored{ID: "z", PostID: "p", Content: "zz"}) }, unexpected},
		{"tombstone nobody knew", func(f *fixture) { f.docs = append(f.docs, stored{ID: "z", PostID: "p", Deleted: true, V: 2}) }, unexpected},
		{"stored under another id", func(f *fixture) { f.doc("a").ID = "other" }, unexpected},
		{"stored on another post", func(f *fixture) { f.doc("a").PostID = "q" }, unexpected},
		{"rejected but stored", func(f *fixture) {
			f.h.ops[3].Code = "EMPTY_CONTENT"
			f.docs = append(f.docs, stored{ID: "d", PostID: "p", Content: "chaos c0-3"})
		}, unexpected},
		{"phantom", func(f *fixture) { f.live(1, evAdded, "ghost", st("chaos c0-3", "u0", 1), 0) },
			func(v Verdict) int { return v.Phantoms }},
		{"persisted not stored", func(f *fixture) { f.h.clients[0].persisted = append(f.h.clients[0].persisted, "ghost") },
			func(v Verdict) int { return v.EarlyPersisted }},
		{"order of new comments", func(f *fixture) {
			evs := f.h.clients[1].events["p"]
			evs[0], evs[1] = evs[1], evs[0]
		}, func(v Verdict) int { return v.OrderViolations }},
		{"order of an update and a new comment", func(f *fixture) {
			evs := f.h.clients[1].events["p"] // a b c u(b) ...
			evs[2], evs[3] = evs[3], evs[2]
		}, func(v Verdict) int { return v.OrderViolations }},
		{"order of a delete and a new comment, to a moderator", func(f *fixture) {
			evs := f.h.clients[3].events["p"] // a b c u(b) e r(e) g u(g)
			evs[5], evs[6] = evs[6], evs[5]
		}, func(v Verdict) int { return v.OrderViolations }},
		{"older state than confirmed", func(f *fixture) {
			*f.doc("b") = stored{ID: "b", PostID: "p", UserID: "u0", Content: "chaos c0-1", V: 1}
		}, wrong},
		{"a version told otherwise", func(f *fixture) {
			*f.doc("b") = stored{ID: "b", PostID: "p", UserID: "u0", Content: "chaos c0-1 ~e0-10", V: 2} // editedAt lost
		}, wrong},
		{"an edit that was refused", func(f *fixture) {
			f.doc("a").Content, f.doc("a").V, f.doc("a").EditedAt = "chaos c0-0 ~e1-3", 2, mustTime(editedAt)
		}, wrong},
		{"an edit that was refused, told", func(f *fixture) {
			s := st("chaos c0-0 ~e1-3", "u0", 2)
			s.EditedAt = editedAt
			f.live(0, evUpdated, "a", s, 0)
			f.doc("a").Content, f.doc("a").V, f.doc("a").EditedAt = s.Content, 2, mustTime(editedAt)
		}, wrong},
		{"more versions than unknown changes", func(f *fixture) {
			f.doc("b").V = 4
		}, wrong},
		{"an edit with v at another version", func(f *fixture) {
			f.h.changes[1].BaseV = 1
		}, wrong},
		{"a change after the delete", func(f *fixture) {
			f.h.changes = append(f.h.changes, change{User: "admin", Mod: true, Op: "pin", Comment: "e", Outcome: unknown})
			f.doc("e").Pinned, f.doc("e").V = true, 3
		}, wrong},
		{"acked state without its change", func(f *fixture) {
			s := *f.h.changes[5].State
			s.Status = ""
			f.h.changes[5].State = &s
		}, wrong},
		{"acked edit by someone else", func(f *fixture) {
			f.h.changes[0].User = "u1"
		}, wrong},
		{"fork", func(f *fixture) {
			s := st("chaos c0-1 ~e0-99", "u0", 2)
			f.live(2, evUpdated, "b", s, 0)
		}, func(v Verdict) int { return v.Forks }},
		{"phantom change", func(f *fixture) {
			s := st("chaos c0-0", "u0", 2)
			s.Pinned = true
			f.live(3, evUpdated, "a", s, 0)
		}, func(v Verdict) int { return v.PhantomChanges }},
		{"resurrected in MongoDB", func(f *fixture) {
			*f.doc("e") = stored{ID: "e", PostID: "p", UserID: "u0", Content: "chaos c0-4", V: 1}
		}, resurrected},
		{"resurrected in MongoDB after a delete told to a moderator", func(f *fixture) {
			f.h.changes[2].Outcome, f.h.changes[2].State = unknown, nil
			*f.doc("e") = stored{ID: "e", PostID: "p", UserID: "u0", Content: "chaos c0-4", V: 1}
		}, resurrected},
		{"resurrected live, after comment_removed", func(f *fixture) {
			f.live(0, evAdded, "e", st("chaos c0-4", "u0", 1), 0)
		}, resurrected},
		{"resurrected live, a tombstone shown", func(f *fixture) {
			s := st("", "", 2)
			s.Deleted = true
			f.live(2, evAdded, "e", s, flagDeleted)
		}, resurrected},
		{"resurrected in history", func(f *fixture) {
			f.h.after[0].Seen = append(f.h.after[0].Seen, shown{ID: "e", Via: "load_more", State: st("chaos c0-4", "u0", 1)})
		}, resurrected},
		{"resurrected in history, deleted before its flush", func(f *fixture) {
			f.h.after[1].Seen = append(f.h.after[1].Seen, shown{ID: "f", Via: "join", State: st("chaos c0-5", "u0", 1)})
		}, resurrected},
		{"version regression", func(f *fixture) {
			f.live(0, evUpdated, "b", st("chaos c0-1", "u0", 1), 0)
		}, func(v Verdict) int { return v.VersionRegressions }},
		{"hidden leak live", func(f *fixture) { f.live(2, evUpdated, "g", stateOf(f, "g", 2), flagHiddenForeign) }, leaks},
		{"hidden leak in a join", func(f *fixture) {
			f.h.clients[2].badJoins = []shown{{ID: "g", Via: "join", State: stateOf(f, "g", 2)}}
		}, leaks},
		{"tombstone in a join", func(f *fixture) {
			f.h.clients[2].badJoins = []shown{{ID: "e", Via: "join", State: state{PostID: "p", Deleted: true, V: 2}}}
		}, resurrected},
		{"hidden leak in history", func(f *fixture) {
			f.h.after[0].Seen = append(f.h.after[0].Seen, shown{ID: "g", Via: "load_more", State: stateOf(f, "g", 2)})
		}, leaks},
		{"history stale", func(f *fixture) { f.h.after[0].Seen[1].State = stateOf(f, "b", 2) }, history},
		{"history incomplete", func(f *fixture) { f.h.after[1].Seen = f.h.after[1].Seen[1:] }, history},
		{"history shows what MongoDB lacks", func(f *fixture) {
			f.h.after[0].Seen = append(f.h.after[0].Seen, shown{ID: "x", Via: "join", State: st("chaos c0-3", "u0", 1)})
		}, history},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := cleanHistory()
			tc.break_(&f)
			v := check(f.h, f.docs)
			require.False(t, v.OK(), v.String())
			require.Positive(t, tc.field(v), v.String())
			require.NotEmpty(t, v.Examples)
		})
	}
}

func stateOf(f *fixture, id string, v int) state {
	s, ok := f.h.told.get(id).at(v)
	if !ok {
		panic("no state told")
	}
	return s
}

func TestReachable(t *testing.T) {
	base := st("chaos c0-0", "u0", 1)
	edit := func(content string, baseV int) change {
		return change{User: "u0", Op: "edit", Content: content, BaseV: baseV}
	}
	mod := func(op string) change { return change{User: "admin", Mod: true, Op: op} }
	edited := func(content string, v int) state {
		s := st(content, "u0", v)
		s.EditedAt = editedAt
		return s
	}
	hiddenEdit := edited("x", 3)
	hiddenEdit.Status = "hidden"
	tomb := state{PostID: "p", Deleted: true, V: 3, EditedAt: editedAt}
	for _, tc := range []struct {
		name   string
		cands  []change
		target state
		want   bool
	}{
		{"nothing", nil, base, true},
		{"one edit", []change{edit("x", 0)}, edited("x", 2), true},
		{"an edit applied twice needs two sends", []change{edit("x", 0)}, edited("x", 3), false},
		{"an edit and its resend", []change{edit("x", 0), edit("x", 0)}, edited("x", 3), true},
		{"edit then hide, either order", []change{mod("hide"), edit("x", 0)}, hiddenEdit, true},
		{"an edit with v only at its version", []change{edit("x", 2)}, edited("x", 2), false},
		{"an edit with v after a pin", []change{edit("x", 2), mod("pin")}, func() state { s := edited("x", 3); s.Pinned = true; return s }(), true},
		{"edit then delete keeps editedAt", []change{edit("x", 0), mod("delete")}, tomb, true},
		{"nothing after a delete", []change{mod("delete"), mod("pin")}, state{PostID: "p", Deleted: true, Pinned: true, V: 3}, false},
		{"another user's edit never applies", []change{{User: "u1", Op: "edit", Content: "y"}}, edited("y", 2), false},
		{"only moderators hide", []change{{User: "u0", Op: "hide"}}, func() state { s := base; s.Status = "hidden"; s.V = 2; return s }(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, reachable(base, tc.cands, tc.target))
		})
	}
}

func TestOrderViolations(t *testing.T) {
	require.Zero(t, orderViolations([][]string{{"a", "b", "c"}, {"a", "c"}, {"x", "b", "c"}}))
	require.Equal(t, 1, orderViolations([][]string{{"a", "b"}, {"b", "a"}}))
	require.Equal(t, 2, orderViolations([][]string{{"a", "b"}, {"b", "a"}, {"a", "b"}}))
}

func TestAuthorOf(t *testing.T) {
	require.Equal(t, "u3", authorOf("chaos c3-17"))
	require.Equal(t, "u3", authorOf(tokenOf("chaos c3-17 ~e5-2")))
	require.Empty(t, authorOf("zz"))
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}
