package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/realtime/socketio"
)

// The conversation around a post: react, load_replies, the counts, and
// comment_reactions, coalesced per comment (at most Config.ReactionsPushRate
// a second), so a viral comment's reactions do not flood its readers.

// reactRequest is react's argument, and the body of its REST route.
type reactRequest struct {
	PostID    string `json:"postId"`
	CommentID string `json:"commentId"`
	Reaction  string `json:"reaction"`
	On        *bool  `json:"on"`     // default true
	UserID    string `json:"userId"` // auth.mode none: who reacts
}

func (r reactRequest) service() comment.ReactRequest {
	return comment.ReactRequest{PostID: r.PostID, CommentID: r.CommentID, Reaction: r.Reaction, On: r.On == nil || *r.On}
}

// react is the one path of a reaction, for the socket and REST.
func (a *Comments) react(ctx context.Context, id identity, bucket *socketBucket, req reactRequest) (comment.Comment, error) {
	actor, err := a.actorOf(id, req.UserID)
	if err != nil {
		return comment.Comment{}, err
	}
	if !actor.Moderator && !a.limits.allow(bucket, actor.UserID) {
		return comment.Comment{}, comment.Errorf(comment.CodeRateLimited, "too many reactions, slow down")
	}
	return a.svc.React(ctx, actor, req.service())
}

// onReact answers react by ack: {ok:true, comment} with the comment's
// state after it (its reactions).
func (a *Comments) onReact(s *socketio.Socket, ev *socketio.Event) {
	var req reactRequest
	if err := decodeArg(ev.Args, &req, "react takes {postId, commentId, reaction, on}"); err != nil {
		a.fail(s, ev, "Failed to react", err)
		return
	}
	sess := sessionOf(s)
	ctx, cancel := a.ctx()
	defer cancel()
	c, err := a.react(ctx, sess.id(), &sess.bucket, req)
	if err != nil {
		a.fail(s, ev, "Failed to react", err)
		return
	}
	ev.AckRaw(wrapComment(`{"ok":true,"comment":`, c.JSON()))
}

// decodeArg decodes an event's object argument into v, or says how to
// call it (usage).
func decodeArg(args []json.RawMessage, v any, usage string) error {
	raw, ok := objectArg(args)
	if !ok || json.Unmarshal(raw, v) != nil {
		return comment.Errorf(comment.CodeInvalidPayload, usage)
	}
	return nil
}

// postReaction is POST /api/posts/{postId}/comments/{id}/reactions
// {reaction, on}.
func (a *Comments) postReaction(w http.ResponseWriter, r *http.Request) {
	var req reactRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil || json.Unmarshal(body, &req) != nil {
		a.writeError(w, comment.Errorf(comment.CodeInvalidPayload, "the body must be a JSON object {reaction, on}"))
		return
	}
	id, err := a.actingIdentity(r)
	if err != nil {
		a.writeError(w, err)
		return
	}
	req.PostID, req.CommentID = r.PathValue("postId"), r.PathValue("id")
	if req.UserID == "" {
		req.UserID = r.URL.Query().Get("userId")
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	c, err := a.react(ctx, id, a.restBucket(r), req)
	if err != nil {
		a.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "comment": c})
}

// loadRepliesRequest is load_replies's argument.
type loadRepliesRequest struct {
	PostID   string `json:"postId"`
	ParentID string `json:"parentId"`
	Before   string `json:"before"`
	Limit    int    `json:"limit"`
}

// loadReplies answers a page of a comment's direct replies by ack:
// {ok:true, comments (oldest first), next}.
func (a *Comments) loadReplies(s *socketio.Socket, ev *socketio.Event) {
	var req loadRepliesRequest
	if err := decodeArg(ev.Args, &req, "load_replies takes {postId, parentId, before?, limit?}"); err != nil {
		a.fail(s, ev, "Failed to load replies", err)
		return
	}
	if req.Limit == 0 {
		req.Limit = defaultPageLimit
	}
	ctx, cancel := a.ctx()
	defer cancel()
	page, err := a.svc.Replies(ctx, sessionOf(s).id().actor(), req.PostID, req.ParentID, req.Before, req.Limit)
	if err != nil {
		a.fail(s, ev, "Failed to load replies", err)
		return
	}
	ev.Ack(pageJSON(page))
}

// getCounts is GET /api/counts?posts=a,b,c: {ok, counts: {a: 12, ...}}.
func (a *Comments) getCounts(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.reader(w, r); !ok {
		return
	}
	var posts []string
	for _, v := range r.URL.Query()["posts"] {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				posts = append(posts, p)
			}
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	counts, err := a.svc.Counts(ctx, posts)
	if err != nil {
		a.writeError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "counts": counts})
}

// reactionPushes coalesces comment_reactions per comment.
type reactionPushes struct {
	mu      sync.Mutex
	m       map[string]*reactionPush // by comment id, while one was sent within the interval
	stopped bool
}

type reactionPush struct {
	postID  string
	pending *comment.Comment // the latest state not yet sent
	timer   *time.Timer      // ends the interval
}

// stop ends every interval without sending what waits: the node is
// closing.
func (r *reactionPushes) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	for id, p := range r.m {
		p.timer.Stop()
		delete(r.m, id)
	}
}

// pushReactions sends comment_reactions for c now if none was sent for it
// within the interval, else once the interval is over, with the latest
// counts then.
func (a *Comments) pushReactions(postID string, c comment.Comment) {
	a.pushes.mu.Lock()
	defer a.pushes.mu.Unlock()
	if a.pushes.stopped {
		return
	}
	if a.pushes.m == nil {
		a.pushes.m = map[string]*reactionPush{}
	}
	if p := a.pushes.m[c.ID]; p != nil {
		if p.pending == nil || p.pending.Version() < c.Version() {
			p.pending = &c
		}
		return
	}
	p := &reactionPush{postID: postID}
	a.pushes.m[c.ID] = p
	a.emitReactions(postID, c)
	a.schedulePush(c.ID, p)
}

// schedulePush ends a comment's interval: what arrived meanwhile is sent
// and starts the next one; else the comment is forgotten. a.pushes.mu is
// held.
func (a *Comments) schedulePush(id string, p *reactionPush) {
	p.timer = time.AfterFunc(a.pushInterval(), func() {
		a.pushes.mu.Lock()
		defer a.pushes.mu.Unlock()
		if a.pushes.m[id] != p {
			return // stopped
		}
		if p.pending == nil {
			delete(a.pushes.m, id)
			return
		}
		c := *p.pending
		p.pending = nil
		a.emitReactions(p.postID, c)
		a.schedulePush(id, p)
	})
}

func (a *Comments) pushInterval() time.Duration {
	rate := a.cfg.ReactionsPushRate
	if rate <= 0 {
		rate = 4
	}
	return time.Duration(float64(time.Second) / rate)
}

// emitReactions queues comment_reactions {postId, commentId, reactions, v}
// on the sockets of the post's room that may see c.
func (a *Comments) emitReactions(postID string, c comment.Comment) {
	r := c.Reactions
	if r == nil {
		r = map[string]int{}
	}
	b, _ := json.Marshal(struct {
		PostID    string         `json:"postId"`
		CommentID string         `json:"commentId"`
		Reactions map[string]int `json:"reactions"`
		V         int            `json:"v"`
	}{postID, c.ID, r, c.Version()})
	if c.Visible() {
		if !a.batchReactions(postID, c.ID, b) {
			a.nsp.EmitToRaw(Room(postID), nil, "comment_reactions", json.RawMessage(b))
		}
		return
	}
	a.inOrder(postID, func() {
		a.nsp.EmitToRawWhere(Room(postID), func(s *socketio.Socket) bool {
			return sessionOf(s).id().actor().MaySee(c)
		}, "comment_reactions", json.RawMessage(b))
	})
}
