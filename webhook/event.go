package webhook

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/internal/jsonenc"
)

// The event types.
const (
	TypeCreated  = "comment.created"
	TypeUpdated  = "comment.updated"
	TypeRemoved  = "comment.removed"
	TypeApproved = "comment.approved"
	TypeBanned   = "user.banned"
)

// Types lists every event type, for validating an endpoint's filter.
var Types = []string{TypeCreated, TypeUpdated, TypeRemoved, TypeApproved, TypeBanned}

// Event is one event in the stream: its JSON for moderation endpoints
// (Full) and for the others (Public; nil when they must not get it: a
// pending or hidden comment).
type Event struct {
	ID     string // stable: "evt_" + the change record's id (a create's: the comment's id)
	Type   string
	Full   []byte
	Public []byte
}

// appendHead appends {"id":…,"type":…,"timestamp":…,"data": to dst.
func appendHead(dst []byte, id, typ string, at time.Time) []byte {
	dst = append(dst, `{"id":`...)
	dst = jsonenc.AppendString(dst, id, true)
	dst = append(dst, `,"type":`...)
	dst = jsonenc.AppendString(dst, typ, true)
	dst = append(dst, `,"timestamp":`...)
	dst = jsonenc.AppendString(dst, at.UTC().Format(time.RFC3339Nano), true)
	return append(dst, `,"data":`...)
}

// commentEvent is {id, type, timestamp, data: the comment}.
func commentEvent(id, typ string, at time.Time, c comment.Comment) []byte {
	dst := appendHead(make([]byte, 0, 160+len(c.Content)), id, typ, at)
	dst = c.AppendJSON(dst)
	return append(dst, '}')
}

// removedEvent is {id, type, timestamp, data: {postId, commentId, reason,
// v, comment?}}; the comment's last state only for moderation endpoints.
func removedEvent(id string, ch comment.Change, withState bool) []byte {
	dst := appendHead(make([]byte, 0, 192+len(ch.State.Content)), id, TypeRemoved, ch.At)
	dst = append(dst, `{"postId":`...)
	dst = jsonenc.AppendString(dst, ch.PostID, true)
	dst = append(dst, `,"commentId":`...)
	dst = jsonenc.AppendString(dst, ch.CommentID, true)
	dst = append(dst, `,"reason":`...)
	dst = jsonenc.AppendString(dst, string(ch.Op), true)
	dst = append(dst, `,"v":`...)
	dst = strconv.AppendInt(dst, int64(ch.V), 10)
	if withState {
		dst = append(dst, `,"comment":`...)
		dst = ch.State.AppendJSON(dst)
	}
	return append(dst, "}}"...)
}

// EventsOf returns the events of a stored batch, in its order, leaving out
// the changes MongoDB refused (dead). Reactions and reply counts send
// nothing (react, unreact, replies): they change often and carry no content.
func EventsOf(batch []comment.Change, dead []comment.Rejected) []Event {
	var skip map[string]bool
	if len(dead) > 0 {
		skip = make(map[string]bool, len(dead))
		for _, d := range dead {
			skip[d.Change.ID] = true
		}
	}
	out := make([]Event, 0, len(batch))
	for _, ch := range batch {
		if skip[ch.ID] {
			continue
		}
		if ev, ok := eventOf(ch); ok {
			out = append(out, ev)
		}
	}
	return out
}

// eventOf maps one change to its event; ok is false for changes that send
// none. A comment a reader may not see (pending, hidden) goes only to
// moderation endpoints; a non-moderation one hears of a hide only as
// {postId, commentId} and of an approval as comment.approved with the
// comment, the first it hears of it.
func eventOf(ch comment.Change) (Event, bool) {
	id := "evt_" + ch.ID
	visible := ch.State.Status == ""
	switch ch.Op {
	case comment.OpCreate:
		full := commentEvent(id, TypeCreated, ch.At, ch.State)
		return Event{ID: id, Type: TypeCreated, Full: full, Public: publicIf(visible, full)}, true
	case comment.OpEdit, comment.OpRestore, comment.OpPin, comment.OpUnpin:
		full := commentEvent(id, TypeUpdated, ch.At, ch.State)
		return Event{ID: id, Type: TypeUpdated, Full: full, Public: publicIf(visible && !ch.State.Deleted, full)}, true
	case comment.OpApprove:
		full := commentEvent(id, TypeApproved, ch.At, ch.State)
		return Event{ID: id, Type: TypeApproved, Full: full, Public: full}, true
	case comment.OpHide:
		return Event{ID: id, Type: TypeRemoved, Full: removedEvent(id, ch, true), Public: removedEvent(id, ch, false)}, true
	case comment.OpDelete, comment.OpReject, comment.OpErase:
		// A delete leaves no content. Readers never saw a comment that
		// was pending or hidden before: they hear nothing of its removal.
		ev := removedEvent(id, ch, false)
		return Event{ID: id, Type: TypeRemoved, Full: ev, Public: publicIf(visible && ch.Op != comment.OpReject, ev)}, true
	}
	return Event{}, false
}

func publicIf(ok bool, b []byte) []byte {
	if ok {
		return b
	}
	return nil
}

// BanEvent returns the user.banned event of a ban: data {userId, reason,
// by, at, until} (until null for a ban until lifted). Every endpoint may
// get it.
func BanEvent(b comment.Ban) Event {
	id := "evt_ban_" + b.UserID + "_" + strconv.FormatInt(b.At.UnixMilli(), 10)
	data := struct {
		UserID string     `json:"userId"`
		Reason string     `json:"reason"`
		By     string     `json:"by"`
		At     time.Time  `json:"at"`
		Until  *time.Time `json:"until"`
	}{UserID: b.UserID, Reason: b.Reason, By: b.By, At: b.At}
	if !b.Until.IsZero() {
		data.Until = &b.Until
	}
	p, _ := json.Marshal(data) // plain types: cannot fail
	dst := appendHead(nil, id, TypeBanned, b.At)
	dst = append(append(dst, p...), '}')
	return Event{ID: id, Type: TypeBanned, Full: dst, Public: dst}
}
