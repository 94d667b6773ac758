package api

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/realtime/socketio"
)

// Pre-moderation: comments held for a moderator (moderation.mode) go to
// their author and to moderators only. A moderator's join_post also joins
// the post's moderation room; watch_moderation joins the room of every
// post. Both get moderation_queue with a held comment's state: pending
// when it is held or edited, another state when it leaves the queue
// (approved, rejected, deleted, hidden).

// modAll is the room of moderators watching every post.
const modAll = "mod_*"

// modRoom returns the moderation room of a post.
func modRoom(postID string) string { return "mod_" + postID }

// queueLimit bounds the queue a moderator is sent at once.
const queueLimit = 500

// watchModeration joins a moderator's socket to every post's moderation
// room and acks {ok:true, comments} with the queue, oldest first.
func (a *Comments) watchModeration(s *socketio.Socket, ev *socketio.Event) {
	ctx, cancel := a.ctx()
	defer cancel()
	cs, err := a.svc.Queue(ctx, sessionOf(s).id().actor(), queueLimit)
	if err != nil {
		a.fail(s, ev, "Failed to watch moderation", err)
		return
	}
	s.Join(modAll)
	if cs == nil {
		cs = []comment.Comment{}
	}
	ev.Ack(map[string]any{"ok": true, "comments": cs})
}

// HandleModeration tells this node's moderators of a held comment's
// change (the buffer's moderation channel, which every node hears):
// moderation_queue with its state, once per socket.
func (a *Comments) HandleModeration(ch comment.Change) {
	payload := json.RawMessage(ch.State.JSON())
	a.nsp.EmitToRaw(modAll, nil, "moderation_queue", payload)
	a.nsp.EmitToRawOutside(modRoom(ch.PostID), modAll, "moderation_queue", payload)
}

// getQueue serves GET /api/moderation/queue?limit=: the held comments,
// oldest first, to a moderator.
func (a *Comments) getQueue(w http.ResponseWriter, r *http.Request) {
	id, ok := a.reader(w, r)
	if !ok {
		return
	}
	limit, err := queryLimit(r, queueLimit)
	if err == nil && (limit < 1 || limit > 10*queueLimit) {
		err = comment.Errorf(comment.CodeInvalidPayload, "limit must be a number from 1 to 5000")
	}
	if err != nil {
		a.writeError(w, err)
		return
	}
	ctx, cancel := a.ctx()
	defer cancel()
	cs, err := a.svc.Queue(ctx, id.actor(), limit)
	if err != nil {
		a.writeError(w, err)
		return
	}
	if cs == nil {
		cs = []comment.Comment{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "comments": cs})
}

// viewEvent is how viewer learns of u: comment_added for a comment new to
// them (created, or approved for one who did not see it held),
// comment_updated for one they may see, comment_removed for one they may
// no longer see; "" for nothing (a held comment, or a rejected one or one
// erased unseen, of someone else).
func viewEvent(viewer comment.Actor, u comment.Update) (string, json.RawMessage) {
	c := u.Comment
	sawHeld := viewer.Moderator || viewer.UserID != "" && viewer.UserID == c.UserID
	switch {
	case u.Created && !viewer.MaySee(c):
		return "", nil
	case u.Created, u.Op == comment.OpApprove && !sawHeld:
		return "comment_added", json.RawMessage(c.JSON())
	case u.Unseen() && !sawHeld:
		return "", nil
	case (u.Op == comment.OpReplies || u.Op == comment.OpReact || u.Op == comment.OpUnreact) && !viewer.MaySee(c) && !c.Deleted:
		return "", nil // a count of one they cannot see
	case viewer.MaySee(c):
		return "comment_updated", json.RawMessage(c.JSON())
	default:
		return "comment_removed", removedJSON(c.PostID, c.ID)
	}
}

// leaveModRoom takes a moderator's socket out of a post's moderation room
// with the post's room.
func leaveModRoom(s *socketio.Socket, room string) {
	if postID, ok := strings.CutPrefix(room, "post_"); ok && s.In(modRoom(postID)) {
		s.Leave(modRoom(postID))
	}
}
