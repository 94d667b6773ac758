package api

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/realtime/socketio"
)

// The socket events of new comments and history: join_post, leave_post,
// new_comment, load_more.

// joinRequest is join_post's argument: a post id, or {postId, since,
// batch}. batch asks for comments_added frames (batch.go).
type joinRequest struct {
	PostID string `json:"postId"`
	Since  string `json:"since"`
	Batch  bool   `json:"batch"`
}

func parseJoin(args []json.RawMessage) (joinRequest, error) {
	var req joinRequest
	if len(args) == 0 {
		return req, comment.Errorf(comment.CodeInvalidPayload, "join_post needs a post id")
	}
	if err := json.Unmarshal(args[0], &req.PostID); err == nil {
		return req, nil
	}
	if err := json.Unmarshal(args[0], &req); err != nil {
		return req, comment.Errorf(comment.CodeInvalidPayload, "join_post takes a post id or {postId, since, batch}")
	}
	return req, nil
}

func (a *Comments) joinPost(s *socketio.Socket, ev *socketio.Event) {
	req, err := parseJoin(ev.Args)
	if err == nil {
		err = comment.ValidatePostID(req.PostID)
	}
	if err != nil {
		a.fail(s, ev, "Failed to join post", err)
		return
	}
	ctx, cancel := a.ctx()
	defer cancel()
	room := Room(req.PostID)
	if !s.In(room) && a.cfg.RoomsPerSocket > 0 && postRooms(s) >= a.cfg.RoomsPerSocket {
		a.fail(s, ev, "Failed to join post", comment.Errorf(comment.CodeRateLimited,
			"joined too many posts at once; leave one first"))
		return
	}
	if !s.In(room) {
		// Subscribe before reading history, so nothing falls between the
		// two; a comment in both is told apart by its _id.
		if err := a.feed.Subscribe(ctx, req.PostID); err != nil {
			a.log.Warn("join: subscribe failed", "post", req.PostID, "err", err)
			a.fail(s, ev, "Failed to join post", comment.Errorf(comment.CodeUnavailable, "comments are unavailable, try again"))
			return
		}
		s.Join(room)
		a.viewerJoined(req.PostID)
	}
	if br := batchRoom(req.PostID); req.Batch != s.In(br) {
		// What waits goes first: to this socket as a reader of the kind
		// it was.
		a.inOrder(req.PostID, func() {
			if req.Batch {
				s.Join(br)
			} else {
				s.Leave(br)
			}
		})
	}
	viewer := sessionOf(s).id().actor()
	if viewer.Moderator {
		s.Join(modRoom(req.PostID))
	}
	cs, err := a.svc.Join(ctx, viewer, req.PostID, req.Since)
	if err != nil {
		a.fail(s, ev, "Failed to join post", err)
		return
	}
	if cs == nil {
		cs = []comment.Comment{}
	}
	// What the post is (locked or not) comes as post_info, after the
	// comments: read after subscribing, so a later change arrives live.
	info, err := a.svc.PostInfo(ctx, req.PostID)
	if err != nil {
		a.fail(s, ev, "Failed to join post", err)
		return
	}
	info = a.joinInfo(ctx, info)
	s.Emit("load_comments", cs)
	s.Emit("post_info", info)
	if info.Count == nil {
		a.countChanged(req.PostID) // counted once, then sent to the room
	}
	ev.Ack(map[string]any{"ok": true, "comments": cs})
}

// postRooms counts the posts s has joined.
func postRooms(s *socketio.Socket) int {
	n := 0
	for _, room := range s.Rooms() {
		if strings.HasPrefix(room, "post_") {
			n++
		}
	}
	return n
}

func (a *Comments) leavePost(s *socketio.Socket, ev *socketio.Event) {
	req, err := parseJoin(ev.Args)
	if err == nil {
		err = comment.ValidatePostID(req.PostID)
	}
	if err != nil {
		a.fail(s, ev, "Failed to leave post", err)
		return
	}
	a.leave(s, Room(req.PostID))
	ev.Ack(map[string]any{"ok": true})
}

// leave takes s out of a post's room and drops the node's subscription
// with its last reader.
func (a *Comments) leave(s *socketio.Socket, room string) {
	if !s.In(room) {
		return
	}
	s.Leave(room)
	leaveModRoom(s, room)
	postID := strings.TrimPrefix(room, "post_")
	s.Leave(batchRoom(postID))
	a.viewerLeft(postID)
	a.feed.Unsubscribe(postID)
}

// disconnecting runs while the socket is still in its rooms; each post
// room it is in loses a reader.
func (a *Comments) disconnecting(s *socketio.Socket, reason string) {
	for _, room := range s.Rooms() {
		if postID, ok := strings.CutPrefix(room, "post_"); ok {
			a.viewerLeft(postID)
			a.feed.Unsubscribe(postID)
		}
	}
}

// newCommentRequest is new_comment's argument, as an object or as a JSON
// string holding one.
type newCommentRequest struct {
	PostID   string `json:"postId"`
	Content  string `json:"content"`
	UserID   string `json:"userId"`
	ClientID string `json:"clientId"`
	ParentID string `json:"parentId"` // a reply to this comment
	UserName string `json:"userName"` // without a token: the name shown (a guest's, or auth.mode none's)
}

// objectArg returns an event's first argument if it is a JSON object, or a
// JSON string holding one (as clients of the system commentd replaces send).
func objectArg(args []json.RawMessage) (json.RawMessage, bool) {
	if len(args) == 0 {
		return nil, false
	}
	raw := args[0]
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			raw = json.RawMessage(s)
		}
	}
	return raw, len(raw) > 0 && raw[0] == '{'
}

func parseNewComment(args []json.RawMessage) (newCommentRequest, error) {
	var req newCommentRequest
	bad := comment.Errorf(comment.CodeInvalidPayload, "new_comment takes {postId, content, userId}")
	raw, ok := objectArg(args)
	if !ok {
		return req, bad
	}
	if decodePlain(raw, &req) {
		return req, nil
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return req, bad
	}
	return req, nil
}

func (a *Comments) newComment(s *socketio.Socket, ev *socketio.Event) {
	sess := sessionOf(s)
	// The read loop goes on to the socket's next packet while Redis
	// answers: a client's comments share group commits, in its order.
	ctx, cancel := a.ctx()
	a.postAsync(ctx, ev.Args, "", sess.id(), &sess.bucket, func(c comment.Comment, err error) {
		defer cancel()
		if err != nil {
			a.fail(s, ev, "Failed to post comment", err)
			return
		}
		a.claim(sess, c.UserID)
		cj := c.JSON()
		s.EmitRaw("comment_confirmed", wrapComment(`{"message":"Comment posted","comment":`, cj))
		ev.AckRaw(wrapComment(`{"ok":true,"comment":`, cj))
	})
}

// wrapComment returns head + the comment's JSON + "}".
func wrapComment(head string, cj []byte) json.RawMessage {
	b := make([]byte, 0, len(head)+len(cj)+1)
	b = append(b, head...)
	b = append(b, cj...)
	return append(b, '}')
}

// post is postAsync for a caller that waits: REST.
func (a *Comments) post(ctx context.Context, args []json.RawMessage, pathPost string, id identity, bucket *socketBucket) (comment.Comment, error) {
	type result struct {
		c   comment.Comment
		err error
	}
	ch := make(chan result, 1)
	a.postAsync(ctx, args, pathPost, id, bucket, func(c comment.Comment, err error) { ch <- result{c, err} })
	r := <-ch
	return r.c, r.err
}

// postAsync is the one pipeline of a new comment, for the socket and for
// REST: parse, the poster (the token's subject with auth), the rate limits,
// the Service, and the count of the outcome. pathPost is the URL's post (""
// on a socket); bucket is the socket's (the address's, over REST). done gets
// the outcome, on another goroutine once the comment is queued.
func (a *Comments) postAsync(ctx context.Context, args []json.RawMessage, pathPost string, id identity, bucket *socketBucket, done func(comment.Comment, error)) {
	finish := func(c comment.Comment, err error) {
		var e *comment.Error
		switch {
		case err == nil:
			a.count("")
		case errors.As(err, &e):
			a.count(e.Code)
		default:
			a.count(comment.CodeInternal)
		}
		done(c, err)
	}
	req, err := parseNewComment(args)
	if err != nil {
		finish(comment.Comment{}, err)
		return
	}
	if pathPost != "" {
		if req.PostID != "" && req.PostID != pathPost {
			finish(comment.Comment{}, comment.Errorf(comment.CodeInvalidPostID, "postId in the body differs from the URL"))
			return
		}
		req.PostID = pathPost
	}
	who, err := a.auth.poster(id, req.UserID, req.UserName)
	if err != nil {
		finish(comment.Comment{}, err)
		return
	}
	if !a.limits.allow(bucket, who.user) {
		finish(comment.Comment{}, comment.Errorf(comment.CodeRateLimited, "too many comments, slow down"))
		return
	}
	a.svc.PostAsync(ctx, comment.Input{PostID: req.PostID, UserID: who.user, UserName: who.name, Avatar: who.avatar,
		Content: req.Content, ClientID: req.ClientID, ParentID: req.ParentID, Moderator: id.moderator}, finish)
}

// loadMoreRequest is load_more's argument.
type loadMoreRequest struct {
	PostID string `json:"postId"`
	Before string `json:"before"` // the cursor: the last page's next
	Limit  int    `json:"limit"`
	Sort   string `json:"sort"` // "" (newest pages, oldest first in each), newest, oldest, top
}

// loadMore answers a page of older comments by ack:
// {ok:true, comments (oldest first), next (cursor or null)}.
func (a *Comments) loadMore(s *socketio.Socket, ev *socketio.Event) {
	var req loadMoreRequest
	if len(ev.Args) == 0 || json.Unmarshal(ev.Args[0], &req) != nil {
		a.fail(s, ev, "Failed to load comments", comment.Errorf(comment.CodeInvalidPayload, "load_more takes {postId, before, limit}"))
		return
	}
	if req.Limit == 0 {
		req.Limit = defaultPageLimit
	}
	ctx, cancel := a.ctx()
	defer cancel()
	page, err := a.svc.Sorted(ctx, sessionOf(s).id().actor(), req.PostID, req.Sort, req.Before, req.Limit)
	if err != nil {
		a.fail(s, ev, "Failed to load comments", err)
		return
	}
	ev.Ack(pageJSON(page))
}
