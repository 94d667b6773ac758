package api

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/realtime/socketio"
)

// The socket events that change comments: edit_comment, delete_comment and
// moderate. Each is decided against the comment's current state and goes
// through the buffer (comment.Service.Change); the room hears of it from
// the fan-out (deliver.go), in the post's order, on every node.

// changeRequest is the argument of the three events, as an object or a
// JSON string holding one.
type changeRequest struct {
	PostID    string `json:"postId"`
	CommentID string `json:"commentId"`
	Content   string `json:"content"` // edit_comment
	V         int    `json:"v"`       // optional: the version the client saw
	Action    string `json:"action"`  // moderate
	UserID    string `json:"userId"`  // auth.mode none: who acts; with a token, must be its subject
	Reason    string `json:"reason"`  // moderate, and a moderator's delete: for the audit log
}

func parseChange(args []json.RawMessage, usage string) (changeRequest, error) {
	var req changeRequest
	err := decodeArg(args, &req, usage)
	return req, err
}

// actorOf returns who acts: a moderator's identity (admin token or role);
// with auth.mode jwt the token's subject (a different userId in the
// payload is refused); without auth, the payload's userId, as for posting.
func (a *Comments) actorOf(id identity, claimed string) (comment.Actor, error) {
	if id.moderator {
		return id.actor(), nil
	}
	if a.auth.on() {
		if id.user == "" && a.cfg.Auth.Guests && strings.HasPrefix(claimed, guestPrefix) && comment.ValidateUserID(claimed) == nil {
			return comment.Actor{UserID: claimed}, nil // a guest, as trusted as for posting
		}
		if id.user == "" {
			return comment.Actor{}, comment.Errorf(comment.CodeUnauthorized, "sign in to change comments")
		}
		if claimed != "" && claimed != id.user {
			return comment.Actor{}, comment.Errorf(comment.CodeUnauthorized, "userId does not match the token")
		}
		return id.actor(), nil
	}
	if err := comment.ValidateUserID(claimed); err != nil {
		return comment.Actor{}, err
	}
	return comment.Actor{UserID: claimed}, nil
}

// change is the one path of a change, for the socket and REST: who acts,
// the rate limits (moderators are not limited), the Service.
func (a *Comments) change(ctx context.Context, id identity, claimed string, bucket *socketBucket, req comment.ChangeRequest) (comment.Change, error) {
	actor, err := a.actorOf(id, claimed)
	if err != nil {
		return comment.Change{}, err
	}
	if !actor.Moderator && !a.limits.allow(bucket, actor.UserID) {
		return comment.Change{}, comment.Errorf(comment.CodeRateLimited, "too many changes, slow down")
	}
	return a.svc.Change(ctx, actor, req)
}

// onChange runs a change event: ack {ok:true, comment} with the comment's
// new state, or the error.
func (a *Comments) onChange(s *socketio.Socket, ev *socketio.Event, what string, req changeRequest, op comment.Op) {
	sess := sessionOf(s)
	ctx, cancel := a.ctx()
	defer cancel()
	ch, err := a.change(ctx, sess.id(), req.UserID, &sess.bucket, comment.ChangeRequest{
		Op: op, PostID: req.PostID, CommentID: req.CommentID, Content: req.Content, V: req.V, Reason: req.Reason})
	if err != nil {
		a.fail(s, ev, what, err)
		return
	}
	a.claim(sess, req.UserID)
	ev.AckRaw(wrapComment(`{"ok":true,"comment":`, ch.State.JSON()))
}

func (a *Comments) editComment(s *socketio.Socket, ev *socketio.Event) {
	req, err := parseChange(ev.Args, "edit_comment takes {postId, commentId, content, v?}")
	if err != nil {
		a.fail(s, ev, "Failed to edit comment", err)
		return
	}
	a.onChange(s, ev, "Failed to edit comment", req, comment.OpEdit)
}

func (a *Comments) deleteComment(s *socketio.Socket, ev *socketio.Event) {
	req, err := parseChange(ev.Args, "delete_comment takes {postId, commentId, reason?}")
	if err != nil {
		a.fail(s, ev, "Failed to delete comment", err)
		return
	}
	a.onChange(s, ev, "Failed to delete comment", req, comment.OpDelete)
}

func (a *Comments) moderate(s *socketio.Socket, ev *socketio.Event) {
	req, err := parseChange(ev.Args, "moderate takes {postId, commentId, action, reason?}")
	if err == nil && !comment.ModOps[comment.Op(req.Action)] {
		err = comment.Errorf(comment.CodeInvalidPayload, "action must be hide, restore, pin, unpin, approve or reject")
	}
	if err != nil {
		a.fail(s, ev, "Failed to moderate comment", err)
		return
	}
	a.onChange(s, ev, "Failed to moderate comment", req, comment.Op(req.Action))
}
