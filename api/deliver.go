package api

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/realtime/socketio"
)

// Comments is the fan-out's Handler (buffer.Handler): what is published for
// a post reaches the post's room and streams on this node here, one post's
// events at a time, in the buffer's order.

// HandleComment broadcasts a new comment (its JSON, as published) to the
// post's room: comment_added, encoded once whatever the number of readers.
// With recovery on, the comment's id goes last as the event's offset: a
// client that reconnects sends the last one it got. A held comment goes to
// its author and moderators only.
func (a *Comments) HandleComment(postID, id string, payload []byte) {
	if comment.IsPendingJSON(payload) {
		var c comment.Comment
		if err := c.UnmarshalJSON(payload); err != nil {
			a.log.Error("undecodable comment published", "post", postID, "err", err)
			return
		}
		a.emitUpdate(postID, id, comment.Update{Comment: c, Created: true, Offset: id})
		return
	}
	a.batchComment(postID, id, payload)
	a.streams.deliver(postID, streamEvent{id: id, event: "comment_added", payload: payload})
	a.countChanged(postID)
}

// HandleChange tells the post's room of a change: comment_updated with the
// comment's new state to every reader allowed to see it, comment_removed
// {postId, commentId} to the others (a delete, or a hide for readers who
// are neither its author nor moderators); an approved comment is
// comment_added for those who did not see it held (viewEvent).
func (a *Comments) HandleChange(postID string, ch comment.Change, _ []byte) {
	if ch.Delta != 0 {
		a.countChanged(postID)
	}
	if ch.Op == comment.OpReact || ch.Op == comment.OpUnreact {
		a.pushReactions(postID, ch.State)
		return
	}
	offset := ch.ID
	if offset == "" {
		offset = comment.IDFloor(time.Now()) // a catch-up's: no record id
	}
	a.emitUpdate(postID, offset, comment.Update{Comment: ch.State, Offset: offset, Op: ch.Op, Delta: ch.Delta})
}

// emitUpdate sends u to every socket of the post's room as viewEvent says,
// and to the post's streams.
func (a *Comments) emitUpdate(postID, offset string, u comment.Update) {
	a.inOrder(postID, func() { a.emitUpdateRoom(postID, offset, u) })
	a.streams.deliver(postID, streamEvent{id: offset, update: &u})
}

func (a *Comments) emitUpdateRoom(postID, offset string, u comment.Update) {
	st := u.Comment
	room := Room(postID)
	state := json.RawMessage(st.JSON())
	removed := removedJSON(postID, st.ID)
	switch {
	case st.Deleted && !st.Tombstone() && !u.Unseen():
		a.nsp.EmitToRaw(room, nil, "comment_removed", a.args(offset, removed)...)
	case (st.Visible() || st.Tombstone()) && !u.Created && u.Op != comment.OpApprove:
		a.nsp.EmitToRaw(room, nil, "comment_updated", a.args(offset, state)...)
	default:
		br := batchRoom(postID)
		for _, e := range []struct {
			event   string
			payload json.RawMessage
		}{{"comment_added", state}, {"comments_added", joinArray([][]byte{state})},
			{"comment_updated", state}, {"comment_removed", removed}} {
			a.nsp.EmitToRawWhere(room, func(s *socketio.Socket) bool {
				event, _ := viewEvent(sessionOf(s).id().actor(), u)
				if event == "comment_added" && s.InLocked(br) {
					event = "comments_added"
				}
				return event == e.event
			}, e.event, a.args(offset, e.payload)...)
		}
	}
}

// HandlePersisted tells the post's room that comments are in MongoDB:
// comment_persisted {ids}.
func (a *Comments) HandlePersisted(postID string, ids []string) {
	b, _ := json.Marshal(map[string][]string{"ids": ids})
	a.notice(postID, "comment_persisted", json.RawMessage(b))
}

// args returns an event's arguments: payload, and with recovery on the
// offset last (socket.io-client keeps the last string argument).
func (a *Comments) args(offset string, payload json.RawMessage) []json.RawMessage {
	if !a.recovery {
		return []json.RawMessage{payload}
	}
	return []json.RawMessage{payload, offsetArg(offset)}
}

func offsetArg(id string) json.RawMessage { return json.RawMessage(`"` + id + `"`) }

// removedJSON is comment_removed's argument.
func removedJSON(postID, commentID string) json.RawMessage {
	b, _ := json.Marshal(struct {
		PostID    string `json:"postId"`
		CommentID string `json:"commentId"`
	}{postID, commentID})
	return b
}

// EnableRecovery turns on connection state recovery with store: a client
// that comes back within the window gets its rooms back and what it
// missed, in order. Events then carry their offset as a last argument.
func (a *Comments) EnableRecovery(store socketio.RecoveryStore) {
	a.recovery = true
	a.nsp.EnableRecovery(store, a.recover)
}

// recover resubscribes a recovered socket's posts and replays what it
// missed: the comments after its offset and the changes since, or, without
// an offset, what happened since it went away. Broadcasts held meanwhile
// follow, but those the replay had (by offset) are dropped.
func (a *Comments) recover(s *socketio.Socket, offset string, since time.Time) socketio.Sift {
	if !comment.ValidID(offset) {
		offset = comment.IDFloor(since.Add(-time.Second))
	}
	viewer := sessionOf(s).id().actor()
	replayed := map[string]map[string]bool{} // post → offsets sent
	for _, room := range s.Rooms() {
		postID, ok := strings.CutPrefix(room, "post_")
		if !ok {
			continue
		}
		ctx, cancel := a.ctx()
		if err := a.feed.Subscribe(ctx, postID); err != nil {
			a.log.Warn("recover: subscribe failed", "post", postID, "err", err)
		}
		a.viewerJoined(postID)
		missed, err := a.svc.Replay(ctx, viewer, postID, offset)
		cancel()
		last := offset // each post replays from the client's offset
		if err != nil {
			a.log.Warn("recover: history failed", "post", postID, "err", err)
			continue
		}
		sent := map[string]bool{}
		replayed[postID] = sent
		// A batching reader gets the missed comments in a row as one
		// comments_added.
		batch := s.In(batchRoom(postID))
		var added [][]byte
		addedOff := last
		for _, u := range missed {
			event, payload := viewEvent(viewer, u)
			if event == "" {
				continue
			}
			off := u.Offset
			if off == "" {
				off = last // a state: the offset stays
			} else {
				last = off
				sent[off] = true
			}
			if batch && event == "comment_added" {
				added, addedOff = append(added, payload), off
				continue
			}
			if len(added) > 0 {
				s.EmitRaw("comments_added", a.args(addedOff, joinArray(added))...)
				added = added[:0]
			}
			s.EmitRaw(event, a.args(off, payload)...)
		}
		if len(added) > 0 {
			s.EmitRaw("comments_added", a.args(addedOff, joinArray(added))...)
		}
	}
	return replayedSift(replayed)
}

// replayedSift drops from a recovered socket's broadcasts what its replay
// had (by offset, and the comments of a comments_added by id). The post's
// order makes the first comment the replay did not have the end of the
// duplicates for that post.
func replayedSift(replayed map[string]map[string]bool) socketio.Sift {
	return func(h socketio.Held) ([]json.RawMessage, bool, bool) {
		sent := replayed[postOfRoom(h.Room)]
		if sent == nil {
			return h.Args, true, len(replayed) == 0
		}
		caughtUp := func() { delete(replayed, postOfRoom(h.Room)) }
		switch h.Event {
		case "comment_added":
			if off := offsetOf(h.Args); off != "" && sent[off] {
				return nil, false, false
			}
			caughtUp()
			return h.Args, true, len(replayed) == 0
		case "comments_added":
			var list []json.RawMessage
			if len(h.Args) == 0 || json.Unmarshal(h.Args[0], &list) != nil {
				return h.Args, true, false
			}
			keep := make([][]byte, 0, len(list))
			for _, c := range list {
				var id struct {
					ID string `json:"_id"`
				}
				if json.Unmarshal(c, &id) != nil || !sent[id.ID] {
					keep = append(keep, c)
				}
			}
			if len(keep) == 0 {
				return nil, false, false
			}
			caughtUp()
			if len(keep) == len(list) {
				return h.Args, true, len(replayed) == 0
			}
			args := slices.Clone(h.Args)
			args[0] = joinArray(keep)
			return args, true, len(replayed) == 0
		}
		if off := offsetOf(h.Args); off != "" && sent[off] {
			return nil, false, false
		}
		return h.Args, true, false
	}
}

// postOfRoom returns the post of a post's room or batch room, else "".
func postOfRoom(room string) string {
	if id, ok := strings.CutPrefix(room, "post_"); ok {
		return id
	}
	id, _ := strings.CutPrefix(room, "batch_")
	return id
}

// offsetOf returns an event's offset: its last argument if a plain JSON
// string, else "".
func offsetOf(args []json.RawMessage) string {
	if len(args) == 0 {
		return ""
	}
	last := args[len(args)-1]
	if n := len(last); n >= 2 && last[0] == '"' && last[n-1] == '"' && !bytes.ContainsRune(last[1:n-1], '\\') {
		return string(last[1 : n-1])
	}
	return ""
}
