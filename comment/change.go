package comment

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/commentd/commentd/internal/jsonenc"
)

// Op is what a change does to a comment.
type Op string

// The operations of DESIGN.md "Changes through the buffer" built so far.
const (
	OpCreate  Op = "create"
	OpEdit    Op = "edit"
	OpDelete  Op = "delete"
	OpHide    Op = "hide"
	OpRestore Op = "restore"
	OpPin     Op = "pin"
	OpUnpin   Op = "unpin"
	OpApprove Op = "approve" // a pending comment becomes visible
	OpReject  Op = "reject"  // a pending comment is removed
	OpReact   Op = "react"   // a user adds a reaction (Change.Reaction)
	OpUnreact Op = "unreact" // a user takes a reaction back
	OpReplies Op = "replies" // the number of a comment's visible replies changed
	OpErase   Op = "erase_user"
)

// ModOps are the operations of the moderate event.
var ModOps = map[Op]bool{OpHide: true, OpRestore: true, OpPin: true, OpUnpin: true, OpApprove: true, OpReject: true}

// Change is one change to a comment: a record in its post's shard, next to
// new comments. State is the comment as the change leaves it (the record's
// "fields"), so applying a change is setting a state, and the last change
// of a comment in a batch is all the database needs. A new comment is a
// Change with Op OpCreate, State the comment and V 1.
type Change struct {
	Op        Op
	ID        string // an id of NewID: sorts by time; the comment's id for a create
	PostID    string
	CommentID string
	By        string    // acting user
	At        time.Time // when it was made, UTC milliseconds
	V         int       // the comment's version after the change
	// Delta is what the change does to the number of comments of the post
	// a reader may see: +1 when one becomes visible, -1 when one stops being.
	Delta int
	// Reaction is the reaction of OpReact and OpUnreact.
	Reaction string
	State    Comment
	// Parent is the state of the comment a reply answers, when the change
	// makes the reply visible or not (Delta != 0): the buffer changes the
	// parent's replies in the same step. Not part of the record.
	Parent *Comment
	// Audit, if set, is the change's entry in the audit log (a moderation
	// action), which the buffer writes with it. Not part of the record.
	Audit *Audit
}

// CreateOf returns the create record of a new comment.
func CreateOf(c Comment) Change {
	return Change{Op: OpCreate, ID: c.ID, PostID: c.PostID, CommentID: c.ID, By: c.UserID, At: c.CreatedAt,
		V: c.Version(), State: c}
}

// Reaction is a user's reaction to a comment, for the buffer to apply:
// once per user and reaction, counted in the comment's Reactions.
type Reaction struct {
	PostID    string
	CommentID string
	UserID    string
	Reaction  string
	On        bool      // give it, or take it back
	State     Comment   // the comment's state as last read, at its version
	Seed      string    // after ErrUnknownReactor: "1" if the database holds the user's reaction, "0" if not
	At        time.Time // UTC milliseconds
}

// changePrefix starts a change record's JSON; a comment's starts with
// {"_id", which tells the two apart in a shard's list and on a channel.
const changePrefix = `{"op":`

// IsChangeJSON reports whether b is a change record rather than a comment.
func IsChangeJSON(b []byte) bool {
	return len(b) >= len(changePrefix) && string(b[:len(changePrefix)]) == changePrefix
}

// AppendJSON appends the record's JSON:
// {op, id, postId, commentId, by, at, v, fields}, fields the state.
func (ch Change) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"op":`...)
	dst = jsonenc.AppendString(dst, string(ch.Op), true)
	dst = append(dst, `,"id":`...)
	dst = jsonenc.AppendString(dst, ch.ID, true)
	dst = append(dst, `,"postId":`...)
	dst = jsonenc.AppendString(dst, ch.PostID, true)
	dst = append(dst, `,"commentId":`...)
	dst = jsonenc.AppendString(dst, ch.CommentID, true)
	dst = append(dst, `,"by":`...)
	dst = jsonenc.AppendString(dst, ch.By, true)
	dst = append(dst, `,"at":"`...)
	dst = appendTime(dst, ch.At)
	dst = append(dst, `","v":`...)
	dst = strconv.AppendInt(dst, int64(ch.V), 10)
	if ch.Delta != 0 {
		dst = append(dst, `,"d":`...)
		dst = strconv.AppendInt(dst, int64(ch.Delta), 10)
	}
	if ch.Reaction != "" {
		dst = append(dst, `,"reaction":`...)
		dst = jsonenc.AppendString(dst, ch.Reaction, true)
	}
	dst = append(dst, `,"fields":`...)
	dst = ch.State.AppendJSON(dst)
	return append(dst, '}')
}

// JSON returns the record's JSON.
func (ch Change) JSON() []byte { return ch.AppendJSON(make([]byte, 0, 256+len(ch.State.Content))) }

// MarshalJSON encodes the record.
func (ch Change) MarshalJSON() ([]byte, error) { return ch.JSON(), nil }

type wireChange struct {
	Op        Op      `json:"op"`
	ID        string  `json:"id"`
	PostID    string  `json:"postId"`
	CommentID string  `json:"commentId"`
	By        string  `json:"by"`
	At        string  `json:"at"`
	V         int     `json:"v"`
	D         int     `json:"d"`
	Reaction  string  `json:"reaction"`
	Fields    Comment `json:"fields"`
}

// UnmarshalJSON decodes a record.
func (ch *Change) UnmarshalJSON(b []byte) error {
	var w wireChange
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	at, err := time.Parse(time.RFC3339Nano, w.At)
	if err != nil {
		return fmt.Errorf("change: at: %w", err)
	}
	if w.Op == "" || !ValidID(w.CommentID) {
		return fmt.Errorf("change: no op or comment id")
	}
	*ch = Change{Op: w.Op, ID: w.ID, PostID: w.PostID, CommentID: w.CommentID, By: w.By, At: at.UTC(), V: w.V, Delta: w.D, Reaction: w.Reaction, State: w.Fields}
	return nil
}

// DecodeEntry decodes an entry of a shard's list: a change record, or a
// comment (a create).
func DecodeEntry(b []byte) (Change, error) {
	if IsChangeJSON(b) {
		var ch Change
		err := ch.UnmarshalJSON(b)
		return ch, err
	}
	var c Comment
	if err := c.UnmarshalJSON(b); err != nil {
		return Change{}, err
	}
	// An id MongoDB cannot take is the store's to refuse (a dead letter
	// with its reason), as before changes.
	return CreateOf(c), nil
}

// Actor is who asks for a change: the user of the token (never of the
// payload), and whether they moderate.
type Actor struct {
	UserID    string
	Moderator bool
}

// MaySee reports whether the actor may see c: everyone sees a visible
// comment, and a tombstone with replies; its author and moderators see it
// pending or hidden.
func (a Actor) MaySee(c Comment) bool {
	if c.Deleted && (c.Replies == 0 || c.Status == "") {
		return c.Replies > 0
	}
	if c.Status == "" {
		return true
	}
	return a.Moderator || a.UserID != "" && a.UserID == c.UserID
}

// ChangeRequest is what a client asks: an op on a comment of a post, the
// new content for an edit, and optionally the version it saw.
type ChangeRequest struct {
	Op        Op
	PostID    string
	CommentID string
	Content   string // OpEdit
	V         int    // 0: any version; else CONFLICT unless it is the current one
	Reason    string // why, for the audit log of a moderator's action; at most MaxReasonRunes
	UserID    string // OpErase: the user erased; the comment must still be theirs
}

// Rules are the settings a change is checked against.
type Rules struct {
	EditWindow time.Duration // an author edits and deletes within this of createdAt; 0 = no limit
	MaxRunes   int           // longest content; DefaultMaxRunes
}

// Validate checks the parts of a request that need no state.
func (r ChangeRequest) Validate(maxRunes int) error {
	if err := ValidatePostID(r.PostID); err != nil {
		return err
	}
	if !ValidID(r.CommentID) {
		return Errorf(CodeInvalidPayload, "commentId must be a comment id")
	}
	if r.V < 0 {
		return Errorf(CodeInvalidPayload, "v must be a version number")
	}
	if err := ValidateReason(r.Reason); err != nil {
		return err
	}
	switch r.Op {
	case OpEdit:
		return ValidateContent(r.Content, maxRunes)
	case OpDelete, OpHide, OpRestore, OpPin, OpUnpin, OpApprove, OpReject:
		return nil
	case OpErase:
		return ValidateUserID(r.UserID)
	}
	return Errorf(CodeInvalidPayload, "unknown action")
}

// Decide checks req by actor against the comment's current state and
// returns the change to append: the new state with the next version. It
// is pure: the buffer then appends the change only if the comment is
// still at state's version, so the checks hold at the moment it applies.
func Decide(state Comment, found bool, req ChangeRequest, actor Actor, rules Rules, now time.Time) (Change, error) {
	now = now.UTC().Truncate(time.Millisecond)
	if req.Op == OpErase {
		return decideErase(state, found, req, actor, now)
	}
	if !found || state.PostID != req.PostID || state.Deleted || !actor.MaySee(state) {
		return Change{}, Errorf(CodeNotFound, "no such comment in this post")
	}
	author := actor.UserID != "" && actor.UserID == state.UserID
	inWindow := rules.EditWindow <= 0 || now.Sub(state.CreatedAt) <= rules.EditWindow
	switch req.Op {
	case OpEdit:
		if !author {
			return Change{}, Errorf(CodeForbidden, "only its author may edit a comment")
		}
		if !inWindow {
			return Change{}, Errorf(CodeEditWindowClosed, "comments can be edited only within "+rules.EditWindow.String()+" of posting")
		}
	case OpDelete:
		if !author && !actor.Moderator {
			return Change{}, Errorf(CodeForbidden, "only its author or a moderator may delete a comment")
		}
		if !actor.Moderator && !inWindow {
			return Change{}, Errorf(CodeEditWindowClosed, "comments can be deleted only within "+rules.EditWindow.String()+" of posting")
		}
	default:
		if !actor.Moderator {
			return Change{}, Errorf(CodeForbidden, "only moderators may "+string(req.Op)+" comments")
		}
	}
	pending := state.Status == StatusPending
	if (req.Op == OpApprove || req.Op == OpReject) && !pending {
		return Change{}, Errorf(CodeConflict, "the comment is not pending")
	}
	if req.Op == OpRestore && pending {
		return Change{}, Errorf(CodeConflict, "the comment is pending: approve or reject it")
	}
	if req.V != 0 && req.V != state.Version() {
		return Change{}, Errorf(CodeConflict, fmt.Sprintf("the comment changed: it is at version %d", state.Version()))
	}
	next := state
	next.V = state.Version() + 1
	switch req.Op {
	case OpEdit:
		next.Content, next.EditedAt = req.Content, now
	case OpDelete:
		next = tombstone(next)
	case OpReject:
		// A tombstone that keeps its author, who is told it was removed.
		next.Deleted, next.Content, next.Status = true, "", ""
		next.UserName, next.Avatar = "", ""
	case OpHide:
		next.Status = StatusHidden
	case OpRestore, OpApprove:
		next.Status = ""
	case OpPin:
		next.Pinned = true
	case OpUnpin:
		next.Pinned = false
	}
	return Change{Op: req.Op, ID: NewID(now), PostID: state.PostID, CommentID: state.ID, By: actor.UserID,
		At: now, V: next.V, Delta: next.visibility() - state.visibility(), State: next}, nil
}
