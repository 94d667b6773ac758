package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// stored is a comment as MongoDB holds it.
type stored struct {
	ID        string         `bson:"_id"`
	PostID    string         `bson:"postId"`
	UserID    string         `bson:"userId"`
	Content   string         `bson:"content"`
	CreatedAt time.Time      `bson:"createdAt"`
	EditedAt  time.Time      `bson:"editedAt,omitempty"`
	Deleted   bool           `bson:"deleted,omitempty"`
	Status    string         `bson:"status,omitempty"`
	Pinned    bool           `bson:"pinned,omitempty"`
	ParentID  string         `bson:"parentId,omitempty"`
	Reactions map[string]int `bson:"reactions,omitempty"`
	Replies   int            `bson:"replies,omitempty"`
	V         int            `bson:"v,omitempty"`
}

func (d stored) state() state {
	v := d.V
	if v <= 0 {
		v = 1
	}
	return state{PostID: d.PostID, UserID: d.UserID, Content: d.Content, EditedAt: wireTime(d.EditedAt),
		Deleted: d.Deleted, Status: d.Status, Pinned: d.Pinned, Reactions: reactionsKey(d.Reactions), Replies: d.Replies, V: v}
}

// history is what the clients recorded.
type history struct {
	ops     []op
	changes []change
	clients []clientLog
	told    *observed
	after   []readback // joins and history pages after the run
	// reactors is who gave which reaction, as MongoDB holds it: comment
	// id → reaction → users (nil: not read, not checked).
	reactors map[string]map[string][]string
}

// clientLog is one client's room events.
type clientLog struct {
	id        int
	user      string
	mod       bool
	events    map[string][]event // post → events in arrival order
	persisted []string           // comment_persisted ids
	badJoins  []shown            // load_comments entries it may not be shown: a tombstone, another's hidden comment
}

// readback is what one viewer was shown of a post after the run: the
// join, then load_more pages back to the oldest comment (complete) or as
// far as the time allowed.
type readback struct {
	Viewer   string  `json:"viewer"`
	Mod      bool    `json:"mod"`
	Post     string  `json:"post"`
	Complete bool    `json:"complete"`
	Pages    int     `json:"pages"`
	Seen     []shown `json:"-"`
}

type shown struct {
	ID    string
	Via   string // join, load_more
	State state
}

// Verdict is the checker's result: the queue checker's terms (Jepsen's)
// for new comments, a register checker's for each comment's state.
type Verdict struct {
	Sent                int `json:"sent"`
	Confirmed           int `json:"confirmed"`
	Rejected            int `json:"rejected"`            // a final error code other than BUSY/UNAVAILABLE
	Indeterminate       int `json:"indeterminate"`       // never confirmed (a crash or the end of the run)
	IndeterminateStored int `json:"indeterminateStored"` // of those, stored anyway
	Retried             int `json:"retried"`             // comments sent more than once
	Stored              int `json:"stored"`
	Tombstones          int `json:"tombstones"`      // stored deleted
	DeletedUnstored     int `json:"deletedUnstored"` // confirmed, deleted, never stored (in one batch)

	ChangesSent     int `json:"changesSent"` // sends of change requests, resends included
	ChangesApplied  int `json:"changesApplied"`
	ChangesRefused  int `json:"changesRefused"`
	ChangesUnknown  int `json:"changesUnknown"`
	ChangedComments int `json:"changedComments"` // comments with an applied or unknown change
	Reachability    int `json:"reachability"`    // final states explained by unknown-outcome changes only

	Lost                int `json:"lost"`       // confirmed, not stored
	Duplicated          int `json:"duplicated"` // extra stored copies of one comment
	Unexpected          int `json:"unexpected"` // stored, never sent (or not as confirmed)
	WrongStates         int `json:"wrongStates"`
	Resurrected         int `json:"resurrected"` // comments whose delete was confirmed or told, back anywhere
	Phantoms            int `json:"phantoms"`    // broadcast, never stored
	PhantomChanges      int `json:"phantomChanges"`
	EarlyPersisted      int `json:"persistedNotStored"`
	Forks               int `json:"forks"` // one version of a comment told as two states
	Deliveries          int `json:"deliveries"`
	RepeatedDeliveries  int `json:"repeatedDeliveries"` // the same event twice to one client
	OrderViolations     int `json:"orderViolations"`
	VersionRegressions  int `json:"versionRegressions"` // a lower v after a higher on one connection
	HiddenLeaks         int `json:"hiddenLeaks"`        // a hidden comment shown to a reader who may not see it
	HistoryShown        int `json:"historyShown"`
	HistoryWrong        int `json:"historyWrong"` // after the run, a join or page disagreeing with MongoDB
	Replies             int `json:"replies"`      // stored comments that reply to another
	ReplyCountsWrong    int `json:"replyCountsWrong"`
	Reactions           int `json:"reactions"` // reactions stored (who gave which)
	ReactionCountsWrong int `json:"reactionCountsWrong"`

	Examples []string `json:"examples,omitempty"`
}

// OK reports whether every invariant held.
func (v Verdict) OK() bool {
	return v.Lost == 0 && v.Duplicated == 0 && v.Unexpected == 0 && v.WrongStates == 0 && v.Resurrected == 0 &&
		v.Phantoms == 0 && v.PhantomChanges == 0 && v.EarlyPersisted == 0 && v.Forks == 0 &&
		v.OrderViolations == 0 && v.VersionRegressions == 0 && v.HiddenLeaks == 0 && v.HistoryWrong == 0 &&
		v.ReplyCountsWrong == 0 && v.ReactionCountsWrong == 0
}

func (v *Verdict) example(format string, args ...any) {
	if len(v.Examples) < 30 {
		v.Examples = append(v.Examples, fmt.Sprintf(format, args...))
	}
}

// checker holds the indexes of one check.
type checker struct {
	h     history
	docs  map[string]*stored
	token map[string]string   // comment id → create token
	chs   map[string][]change // comment id → its change attempts, in send order per client
	edits map[string]outcome  // edit content → the best outcome of its sends

	maybeDeleted map[string]bool // a delete applied or of unknown outcome, or a tombstone
	maybeHidden  map[string]bool // a hide applied or of unknown outcome
	deleteV      map[string]int  // the version of a confirmed delete or of the tombstone
	toldDeleted  map[string]bool // a delete confirmed, or a comment_removed that can only mean it

	resurrected map[string]bool
	wrong       map[string]bool
	// repliesOf is, of each comment, the changes of its replies count its
	// replies' creates and changes may have made ("replies+", "replies-").
	repliesOf map[string][]change
}

// check compares the history with what MongoDB holds. New comments, as a
// queue: every confirmed comment stored exactly once with the confirmed
// id, nothing stored that no client sent, nothing broadcast or reported
// persisted that is not stored. Each comment's state, as a register: what
// MongoDB holds is the state after its last confirmed change or after
// later changes whose outcome is unknown; no version told two ways; a
// deleted comment never back. Room events: one order per post across all
// clients, no lower version after a higher one on a connection, nothing
// hidden shown to a reader who may not see it.
func check(h history, docs []stored) Verdict {
	var v Verdict
	if h.told == nil {
		h.told = newObserved()
	}
	ck := &checker{h: h, docs: make(map[string]*stored, len(docs)), token: map[string]string{},
		chs: map[string][]change{}, edits: map[string]outcome{},
		maybeDeleted: map[string]bool{}, maybeHidden: map[string]bool{}, deleteV: map[string]int{},
		toldDeleted: map[string]bool{}, resurrected: map[string]bool{}, wrong: map[string]bool{}, repliesOf: map[string][]change{}}
	ck.index(docs, &v)
	ck.queue(&v)
	ck.deliveries(&v)
	ck.registers(&v)
	ck.readbacks(&v)
	ck.conversation(&v)
	v.Forks = h.told.nForks
	for _, e := range h.told.forks {
		v.example("%s", e)
	}
	v.Resurrected = len(ck.resurrected)
	v.WrongStates = len(ck.wrong)
	return v
}

func (ck *checker) resurrect(v *Verdict, id, format string, args ...any) {
	if !ck.resurrected[id] {
		ck.resurrected[id] = true
		v.example("resurrected: "+format, args...)
	}
}

func (ck *checker) wrongState(v *Verdict, id, format string, args ...any) {
	if !ck.wrong[id] {
		ck.wrong[id] = true
		v.example("wrong state: "+format, args...)
	}
}

func (ck *checker) index(docs []stored, v *Verdict) {
	for i := range docs {
		d := &docs[i]
		ck.docs[d.ID] = d
		if d.Deleted {
			v.Tombstones++
			ck.maybeDeleted[d.ID] = true
			ck.deleteV[d.ID] = d.state().V
		}
	}
	v.Stored = len(docs)
	for _, o := range ck.h.ops {
		if o.Confirmed {
			ck.token[o.ID] = o.Token
		}
	}
	for _, t := range ck.h.told.comments {
		if t.token != "" && ck.token[t.id] == "" {
			ck.token[t.id] = t.token
		}
	}
	parentOf := map[string]string{}
	for _, d := range docs {
		if d.ParentID != "" {
			parentOf[d.ID] = d.ParentID
		}
	}
	for _, o := range ck.h.ops {
		if o.Parent == "" || o.Code != "" {
			continue
		}
		if o.ID != "" {
			parentOf[o.ID] = o.Parent
		}
		ck.repliesOf[o.Parent] = append(ck.repliesOf[o.Parent], change{Op: "replies+", Comment: o.Parent, Outcome: unknown})
	}
	for _, a := range ck.h.changes {
		if p := parentOf[a.Comment]; p != "" && a.Outcome != refused {
			switch a.Op {
			case "delete", "hide":
				ck.repliesOf[p] = append(ck.repliesOf[p], change{Op: "replies-", Comment: p, Outcome: unknown})
			case "restore":
				ck.repliesOf[p] = append(ck.repliesOf[p], change{Op: "replies+", Comment: p, Outcome: unknown})
			}
		}
	}
	for _, a := range ck.h.changes {
		ck.chs[a.Comment] = append(ck.chs[a.Comment], a)
		v.ChangesSent++
		switch a.Outcome {
		case applied:
			v.ChangesApplied++
		case refused:
			v.ChangesRefused++
		default:
			v.ChangesUnknown++
		}
		if a.Outcome == refused {
			if _, ok := ck.edits[a.Content]; !ok && a.Op == "edit" {
				ck.edits[a.Content] = refused
			}
			continue
		}
		if a.Op == "edit" {
			ck.edits[a.Content] = applied
		}
		switch a.Op {
		case "delete":
			ck.maybeDeleted[a.Comment] = true
			if a.Outcome == applied {
				ck.toldDeleted[a.Comment] = true
				if a.State != nil {
					ck.deleteV[a.Comment] = a.State.V
				}
			}
		case "hide":
			ck.maybeHidden[a.Comment] = true
		}
	}
}

// docToken is the create token of a stored comment: its content's, or
// for a tombstone the one its id was confirmed or told with.
func (ck *checker) docToken(d *stored) string {
	if d.Content != "" {
		return tokenOf(d.Content)
	}
	return ck.token[d.ID]
}

// queue checks new comments: lost, duplicated, unexpected.
func (ck *checker) queue(v *Verdict) {
	byToken := map[string][]*stored{}
	for _, d := range ck.docs {
		if t := ck.docToken(d); t != "" {
			byToken[t] = append(byToken[t], d)
		}
	}
	sent := map[string]bool{}
	for _, o := range ck.h.ops {
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
			if ck.docs[o.ID] == nil {
				if ck.maybeDeleted[o.ID] {
					v.DeletedUnstored++ // created and deleted in one batch
				} else {
					v.Lost++
					v.example("lost: %q confirmed as %s", o.Token, o.ID)
				}
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
	for _, d := range ck.docs {
		if t := ck.docToken(d); t == "" || !sent[t] {
			v.Unexpected++
			v.example("unexpected: %s %q was never sent (token %q)", d.ID, d.Content, t)
		}
	}
	for _, c := range ck.h.clients {
		for _, id := range c.persisted {
			if ck.docs[id] == nil && !ck.maybeDeleted[id] {
				v.EarlyPersisted++
				v.example("persisted but not stored: %s", id)
			}
		}
	}
}

// unambiguousRemoval reports whether a comment_removed of comment id to
// client c can only mean a delete: a moderator sees hidden comments, and
// a comment nobody may have hidden is removed only by a delete.
func (ck *checker) unambiguousRemoval(c clientLog, id string) bool {
	return c.mod || !ck.maybeHidden[id]
}

// deliveries checks the room events: phantoms, tombstones or hidden
// comments shown, versions going back on a connection, a deleted comment
// coming back after its comment_removed, and one order per post.
func (ck *checker) deliveries(v *Verdict) {
	comments := ck.h.told.comments
	// First the deletes that clients were told of, unambiguously.
	for _, c := range ck.h.clients {
		for _, evs := range c.events {
			for _, e := range evs {
				if id := comments[e.c].id; e.kind == evRemoved && ck.unambiguousRemoval(c, id) {
					ck.toldDeleted[id] = true
					ck.maybeDeleted[id] = true
				}
			}
		}
	}
	perPost := map[string][][]uint64{}
	who := map[string][]seqOwner{} // parallel to perPost: whose sequence, and each element's connection
	type connComment struct {
		conn uint16
		c    int32
	}
	for _, c := range ck.h.clients {
		for post, evs := range c.events {
			seen := make(map[uint64]bool, len(evs))
			seq := make([]uint64, 0, len(evs))
			conns := make([]uint16, 0, len(evs))
			ats := make([]uint32, 0, len(evs))
			lastV := map[connComment]int32{}
			removed := map[connComment]bool{}
			for _, e := range evs {
				v.Deliveries++
				id := comments[e.c].id
				cc := connComment{e.conn, e.c}
				if e.kind != evRemoved {
					if ck.docs[id] == nil && !ck.maybeDeleted[id] {
						v.Phantoms++
						v.example("phantom: client %d got %s v%d on %s, never stored", c.id, id, e.v, post)
					}
					if e.flags&flagDeleted != 0 {
						ck.resurrect(v, id, "client %d got %s as %s v%d with deleted:true", c.id, id, kindName(e.kind), e.v)
					}
					if e.flags&flagHiddenForeign != 0 {
						v.HiddenLeaks++
						v.example("hidden leak: client %d (%s) got hidden %s v%d as %s", c.id, c.user, id, e.v, kindName(e.kind))
					}
					if dv, ok := ck.deleteV[id]; ok && int(e.v) >= dv && e.flags&flagTombstone == 0 {
						ck.resurrect(v, id, "client %d got %s v%d as %s, deleted at v%d", c.id, id, e.v, kindName(e.kind), dv)
					}
					if removed[cc] && e.flags&flagTombstone == 0 {
						ck.resurrect(v, id, "client %d got %s v%d as %s after its comment_removed (connection %d)",
							c.id, id, e.v, kindName(e.kind), e.conn)
					}
					if last := lastV[cc]; e.v < last {
						v.VersionRegressions++
						v.example("version regression: client %d got %s v%d after v%d (connection %d)", c.id, id, e.v, last, e.conn)
					}
					lastV[cc] = max(lastV[cc], e.v)
				} else if ck.unambiguousRemoval(c, id) {
					removed[cc] = true
				}
				if e.kind == evRemoved && !ck.unambiguousRemoval(c, id) {
					continue // a hide or a delete: no key to compare across clients
				}
				k := e.key()
				if seen[k] {
					v.RepeatedDeliveries++
					continue
				}
				seen[k] = true
				seq = append(seq, k)
				conns = append(conns, e.conn)
				ats = append(ats, e.at)
			}
			perPost[post] = append(perPost[post], seq)
			who[post] = append(who[post], seqOwner{client: c.id, conns: conns, ats: ats})
		}
	}
	for _, c := range ck.h.clients {
		for _, s := range c.badJoins {
			if s.State.Deleted {
				ck.resurrect(v, s.ID, "client %d's join listed %s as %s", c.id, s.ID, s.State)
			} else {
				v.HiddenLeaks++
				v.example("hidden leak: client %d (%s)'s join listed %s as %s", c.id, c.user, s.ID, s.State)
			}
		}
	}
	for post, seqs := range perPost {
		if bad := orderViolations(seqs); bad > 0 {
			v.OrderViolations += bad
			v.example("order: %d pairs of clients disagree on post %s; first: %s", bad, post, ck.firstDisagreement(seqs, who[post]))
		}
	}
}

func kindName(k byte) string {
	switch k {
	case evAdded:
		return "comment_added"
	case evUpdated:
		return "comment_updated"
	}
	return "comment_removed"
}

// keyName spells an event key for a report.
func (ck *checker) keyName(k uint64) string {
	c, ver, kind := int32(k>>32), int(k>>8&0xffffff), byte(k)
	return fmt.Sprintf("%s(%s v%d)", kindName(kind), ck.h.told.comments[c].id, ver)
}

// seqOwner is whose event sequence it is: the client, and the connection
// each event came on.
type seqOwner struct {
	client int
	conns  []uint16
	ats    []uint32
}

// firstDisagreement names two events that two clients got in opposite
// orders, with the connections they came on and where.
func (ck *checker) firstDisagreement(seqs [][]uint64, who []seqOwner) string {
	for i := range seqs {
		for j := i + 1; j < len(seqs); j++ {
			a, b := common(seqs[i], seqs[j]), common(seqs[j], seqs[i])
			for n := range a {
				if a[n] == b[n] {
					continue
				}
				x, y := a[n], b[n] // i got x before y, j got y before x
				at := func(s []uint64, o seqOwner, k uint64) string {
					p := slices.Index(s, k)
					return fmt.Sprintf("%s (event %d, connection %d, at %s)", ck.keyName(k), p, o.conns[p],
						time.Duration(o.ats[p])*time.Millisecond)
				}
				return fmt.Sprintf("client %d got %s before %s; client %d got %s before %s",
					who[i].client, at(seqs[i], who[i], x), at(seqs[i], who[i], y),
					who[j].client, at(seqs[j], who[j], y), at(seqs[j], who[j], x))
			}
		}
	}
	return ""
}

// common returns the elements of s that are also in t, in s's order.
func common[T comparable](s, t []T) []T {
	in := make(map[T]bool, len(t))
	for _, x := range t {
		in[x] = true
	}
	out := make([]T, 0, min(len(s), len(t)))
	for _, x := range s {
		if in[x] {
			out = append(out, x)
		}
	}
	return out
}

// orderViolations counts the pairs of sequences whose common elements are
// not in the same order.
func orderViolations[T comparable](seqs [][]T) int {
	bad := 0
	sets := make([]map[T]bool, len(seqs))
	for i, s := range seqs {
		sets[i] = make(map[T]bool, len(s))
		for _, x := range s {
			sets[i][x] = true
		}
	}
	keep := func(s []T, in map[T]bool) []T {
		out := make([]T, 0, len(s))
		for _, x := range s {
			if in[x] {
				out = append(out, x)
			}
		}
		return out
	}
	for i := range seqs {
		for j := i + 1; j < len(seqs); j++ {
			if !slices.Equal(keep(seqs[i], sets[j]), keep(seqs[j], sets[i])) {
				bad++
			}
		}
	}
	return bad
}

// readbacks checks what joins and history pages showed after the run
// against MongoDB: nothing deleted, nothing hidden to a reader, every
// state as stored, and, where the pages went back to the oldest comment,
// every stored comment that everyone may see shown.
func (ck *checker) readbacks(v *Verdict) {
	for _, rb := range ck.h.after {
		got := map[string]bool{}
		for _, s := range rb.Seen {
			v.HistoryShown++
			got[s.ID] = true
			d := ck.docs[s.ID]
			switch {
			case d == nil && ck.maybeDeleted[s.ID]:
				ck.resurrect(v, s.ID, "%s's %s of %s shows %s, deleted", rb.Viewer, s.Via, rb.Post, s.ID)
			case d == nil:
				v.HistoryWrong++
				v.example("history: %s's %s of %s shows %s (%s), not in MongoDB", rb.Viewer, s.Via, rb.Post, s.ID, s.State)
			case s.State.tombstone() && d.Deleted && s.State != d.state():
				v.HistoryWrong++
				v.example("history: %s's %s of %s shows tombstone %s as %s, MongoDB holds %s", rb.Viewer, s.Via, rb.Post, s.ID, s.State, d.state())
			case s.State.tombstone() && d.Deleted:
			case d.Deleted || ck.toldDeleted[s.ID] || s.State.Deleted:
				ck.resurrect(v, s.ID, "%s's %s of %s shows %s (%s), deleted", rb.Viewer, s.Via, rb.Post, s.ID, s.State)
			case s.State.Status != "" && !rb.Mod:
				v.HiddenLeaks++
				v.example("hidden leak: %s's %s of %s shows %s (%s)", rb.Viewer, s.Via, rb.Post, s.ID, s.State)
			case s.State != d.state():
				v.HistoryWrong++
				v.example("history: %s's %s of %s shows %s as %s, MongoDB holds %s", rb.Viewer, s.Via, rb.Post, s.ID, s.State, d.state())
			}
		}
		if !rb.Complete {
			continue
		}
		// Every comment everyone may see is on the pages. (A moderator
		// is shown hidden comments from Redis, in joins, but history
		// pages read MongoDB for what every reader may see: a flushed
		// hidden comment is not on a moderator's pages either.)
		for _, d := range ck.docs {
			if d.PostID == rb.Post && !d.Deleted && d.Status == "" && !got[d.ID] {
				v.HistoryWrong++
				v.example("history: %s's pages of %s miss %s (%s)", rb.Viewer, rb.Post, d.ID, d.state())
			}
		}
	}
}

func (v Verdict) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sent %d, confirmed %d, rejected %d, indeterminate %d (%d of them stored), retried %d\n",
		v.Sent, v.Confirmed, v.Rejected, v.Indeterminate, v.IndeterminateStored, v.Retried)
	fmt.Fprintf(&b, "changes sent %d: applied (acked) %d, refused %d, unknown outcome %d; %d comments changed, %d final states explained only by unknown-outcome changes\n",
		v.ChangesSent, v.ChangesApplied, v.ChangesRefused, v.ChangesUnknown, v.ChangedComments, v.Reachability)
	fmt.Fprintf(&b, "stored %d (%d tombstones; %d deleted before any flush): lost %d, duplicated %d, unexpected %d, wrong final states %d, resurrected %d, forked versions %d\n",
		v.Stored, v.Tombstones, v.DeletedUnstored, v.Lost, v.Duplicated, v.Unexpected, v.WrongStates, v.Resurrected, v.Forks)
	fmt.Fprintf(&b, "deliveries %d: phantoms %d, phantom changes %d, repeated %d, order violations %d, version regressions %d, hidden leaks %d; persisted-but-not-stored %d\n",
		v.Deliveries, v.Phantoms, v.PhantomChanges, v.RepeatedDeliveries, v.OrderViolations, v.VersionRegressions, v.HiddenLeaks, v.EarlyPersisted)
	fmt.Fprintf(&b, "after the run: %d comments shown by joins and history pages, %d disagreeing with MongoDB\n", v.HistoryShown, v.HistoryWrong)
	fmt.Fprintf(&b, "conversation: %d stored replies, %d reply counts wrong; %d stored reactions, %d reaction counts wrong\n",
		v.Replies, v.ReplyCountsWrong, v.Reactions, v.ReactionCountsWrong)
	for _, e := range v.Examples {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	return b.String()
}

// conversation checks replies and reactions after all faults: each stored
// comment's replies is the number of stored replies to it a reader sees;
// its reactions are the users MongoDB holds as giving each, and those are
// between the users whose last answered react gave it and the users who
// may have (a react of unknown outcome).
func (ck *checker) conversation(v *Verdict) {
	visible := map[string]int{}
	for _, d := range ck.docs {
		if d.ParentID != "" {
			v.Replies++
			if !d.Deleted && d.Status == "" {
				visible[d.ParentID]++
			}
		}
	}
	for _, d := range ck.docs {
		if d.Replies != visible[d.ID] {
			v.ReplyCountsWrong++
			v.example("reply count: MongoDB holds %s with %d replies, %d visible replies to it are stored", d.ID, d.Replies, visible[d.ID])
		}
	}
	if ck.h.reactors == nil {
		return
	}
	type key struct{ comment, reaction, user string }
	last := map[key]change{} // the last answered send of each user's reaction
	maybe := map[key]bool{}  // a react sent whose outcome is unknown, or applied
	for _, a := range ck.h.changes {
		if a.Op != "react" && a.Op != "unreact" {
			continue
		}
		k := key{a.Comment, a.Content, a.User}
		if a.Outcome == unknown || a.Outcome == applied && a.Op == "react" {
			maybe[k] = true
		}
		if a.Outcome == applied {
			if l, ok := last[k]; !ok || l.At < a.At {
				last[k] = a
			}
		}
	}
	for _, d := range ck.docs {
		counts := d.Reactions
		held := ck.h.reactors[d.ID]
		for r, users := range held {
			v.Reactions += len(users)
			if counts[r] != len(users) {
				v.ReactionCountsWrong++
				v.example("reactions: MongoDB holds %s with %d %s, and %d users who gave it", d.ID, counts[r], r, len(users))
			}
			for _, u := range users {
				if !maybe[key{d.ID, r, u}] {
					v.ReactionCountsWrong++
					v.example("reactions: MongoDB holds %s's %s by %s, who never sent it", d.ID, r, u)
				}
			}
		}
		for r, n := range counts {
			if len(held[r]) != n {
				v.ReactionCountsWrong++
				v.example("reactions: MongoDB holds %s with %d %s, and %d users who gave it", d.ID, n, r, len(held[r]))
			}
		}
	}
	for k, a := range last {
		if a.Op != "react" || ck.docs[k.comment] == nil {
			continue
		}
		// Confirmed, and not taken back by a later send that may have applied.
		later := false
		for _, b := range ck.h.changes {
			if b.Op == "unreact" && b.Comment == k.comment && b.Content == k.reaction && b.User == k.user && b.At > a.At && b.Outcome != refused {
				later = true
			}
		}
		if !later && !slices.Contains(ck.h.reactors[k.comment][k.reaction], k.user) {
			v.ReactionCountsWrong++
			v.example("reactions: %s's %s by %s was confirmed, MongoDB does not hold it", k.comment, k.reaction, k.user)
		}
	}
}
