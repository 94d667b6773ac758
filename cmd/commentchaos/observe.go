package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// state is a comment's state as the checker compares it: the fields a
// change sets, and the version. Two states of one comment with the same
// version must be equal: versions are totally ordered per comment.
type state struct {
	PostID   string `json:"postId"`
	UserID   string `json:"userId"`
	Content  string `json:"content"`
	EditedAt string `json:"editedAt,omitempty"` // wire format, "" if never edited
	Deleted  bool   `json:"deleted,omitempty"`
	Status   string `json:"status,omitempty"`
	Pinned   bool   `json:"pinned,omitempty"`
	// Reactions is the reactions' counts as "👍3 ❤️1", sorted; "" for none.
	Reactions string `json:"reactions,omitempty"`
	Replies   int    `json:"replies,omitempty"`
	V         int    `json:"v"`
}

// tombstone reports whether st is a deleted comment kept for its replies,
// which readers are shown: no content, no author.
func (st state) tombstone() bool {
	return st.Deleted && st.Replies > 0 && st.Content == "" && st.UserID == ""
}

// reactionsKey is the canonical form of a comment's reactions.
func reactionsKey(r map[string]int) string {
	keys := make([]string, 0, len(r))
	for k, n := range r {
		if n > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s%d", k, r[k])
	}
	return b.String()
}

// reactionCounts parses reactionsKey's form.
func reactionCounts(s string) map[string]int {
	out := map[string]int{}
	for f := range strings.FieldsSeq(s) {
		i := strings.IndexFunc(f, func(r rune) bool { return r >= '0' && r <= '9' })
		if i > 0 {
			n, _ := strconv.Atoi(f[i:])
			out[f[:i]] = n
		}
	}
	return out
}

func (s state) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "v%d %q", s.V, s.Content)
	if s.UserID != "" {
		fmt.Fprintf(&b, " by %s", s.UserID)
	}
	if s.Deleted {
		b.WriteString(" deleted")
	}
	if s.Status != "" {
		b.WriteString(" " + s.Status)
	}
	if s.Pinned {
		b.WriteString(" pinned")
	}
	if s.EditedAt != "" {
		b.WriteString(" edited " + s.EditedAt)
	}
	if s.Reactions != "" {
		b.WriteString(" reactions " + s.Reactions)
	}
	if s.Replies > 0 {
		fmt.Fprintf(&b, " replies %d", s.Replies)
	}
	return b.String()
}

// wireComment is a comment as the server sends it.
type wireComment struct {
	ID        string         `json:"_id"`
	PostID    string         `json:"postId"`
	UserID    string         `json:"userId"`
	Content   string         `json:"content"`
	EditedAt  string         `json:"editedAt"`
	Deleted   bool           `json:"deleted"`
	Status    string         `json:"status"`
	Pinned    bool           `json:"pinned"`
	ParentID  string         `json:"parentId"`
	Reactions map[string]int `json:"reactions"`
	Replies   int            `json:"replies"`
	V         int            `json:"v"`
}

func (w wireComment) state() state {
	v := w.V
	if v <= 0 {
		v = 1 // a comment without v is at version 1
	}
	return state{PostID: w.PostID, UserID: w.UserID, Content: w.Content, EditedAt: w.EditedAt,
		Deleted: w.Deleted, Status: w.Status, Pinned: w.Pinned, Reactions: reactionsKey(w.Reactions), Replies: w.Replies, V: v}
}

// wireTime formats a stored time as the wire does (RFC 3339, UTC, ms).
func wireTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// editMark separates a comment's token from an edit's in edited content:
// "chaos c3-17 ~e3-5" is client 3's 5th change of comment "chaos c3-17".
const editMark = " ~e"

// tokenOf returns the create token a content starts with ("" for a
// tombstone's).
func tokenOf(content string) string {
	if i := strings.Index(content, editMark); i >= 0 {
		return content[:i]
	}
	return content
}

// Where a state was told: an ack of a change or create, a live event, a
// join or history page.
const (
	toldAck  = 'k'
	toldLive = 'l'
	toldJoin = 'j'
)

// told is what clients were told of one comment: its id, post, create
// token, and its states by version (the first report of each).
type told struct {
	id     string
	post   string
	token  string
	states []state // distinct versions, in the order first told
	from   []byte  // where states[i] was told first
}

func (t *told) at(v int) (state, bool) {
	for _, s := range t.states {
		if s.V == v {
			return s, true
		}
	}
	return state{}, false
}

// maxV is the highest version told, 0 if none.
func (t *told) maxV() int {
	m := 0
	for _, s := range t.states {
		m = max(m, s.V)
	}
	return m
}

// observed is every comment state any client was told, shared by the
// clients: ids are interned (events hold an index), and a second state
// for a version already told, if different, is a fork.
type observed struct {
	mu       sync.Mutex
	index    map[string]int32
	comments []*told
	forks    []string          // examples, the first 20
	forked   map[[2]int32]bool // comment index and version told two ways
	nForks   int               // len(forked)
}

func newObserved() *observed {
	return &observed{index: map[string]int32{}, forked: map[[2]int32]bool{}}
}

// intern returns the index of comment id, adding it.
func (o *observed) intern(id, post string) int32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.internLocked(id, post)
}

func (o *observed) internLocked(id, post string) int32 {
	if i, ok := o.index[id]; ok {
		return i
	}
	i := int32(len(o.comments))
	o.index[id] = i
	o.comments = append(o.comments, &told{id: id, post: post})
	return i
}

// tell records that a client was told st for comment id and returns the
// comment's index.
func (o *observed) tell(id string, st state, from byte) int32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	i := o.internLocked(id, st.PostID)
	t := o.comments[i]
	if tok := tokenOf(st.Content); t.token == "" && tok != "" {
		t.token = tok
	}
	for j, s := range t.states {
		if s.V != st.V {
			continue
		}
		if k := [2]int32{i, int32(st.V)}; s != st && !o.forked[k] {
			o.forked[k] = true
			o.nForks++
			if len(o.forks) < 20 {
				o.forks = append(o.forks, fmt.Sprintf("fork: %s v%d told as %s (%c) and as %s (%c)",
					id, st.V, s, t.from[j], st, from))
			}
		}
		return i
	}
	t.states = append(t.states, st)
	t.from = append(t.from, from)
	return i
}

// get returns the comment with id, nil if nobody was told of it.
func (o *observed) get(id string) *told {
	o.mu.Lock()
	defer o.mu.Unlock()
	if i, ok := o.index[id]; ok {
		return o.comments[i]
	}
	return nil
}

// event is one room event a client received, kept small (millions of
// them): the comment's index in observed, the version (0 for
// comment_removed), when, the client's connection number, the kind and
// flags.
type event struct {
	c     int32
	v     int32
	at    uint32 // ms since the start of the load
	conn  uint16
	kind  byte // evAdded, evUpdated, evRemoved
	flags byte // flagDeleted, flagHiddenForeign
}

const (
	evAdded   = 'a'
	evUpdated = 'u'
	evRemoved = 'r'

	flagDeleted       = 1 // the state carried deleted:true with content or author (a deleted comment shown)
	flagHiddenForeign = 2 // a hidden comment of another user, to a reader who is no moderator
	flagTombstone     = 4 // a tombstone kept for its replies: deleted, no content or author
)

// key identifies what an event tells across clients: the comment, the
// kind, and the version of an added or updated comment.
func (e event) key() uint64 {
	return uint64(uint32(e.c))<<32 | uint64(uint32(e.v))<<8 | uint64(e.kind)
}

// decodeState decodes a comment from an event or an ack.
func decodeState(raw json.RawMessage) (wireComment, bool) {
	var w wireComment
	if json.Unmarshal(raw, &w) != nil || w.ID == "" {
		return w, false
	}
	return w, true
}
