// Package api binds the wire to the domain: the Socket.IO events of the
// live-comment contract (DESIGN.md, "Wire contract") to comment.Service.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/realtime/socketio"
)

// Feed delivers the comments published for a post to this node: the
// fan-out through Redis. Subscribe returns once every comment appended
// afterwards will be delivered.
type Feed interface {
	Subscribe(ctx context.Context, postID string) error
	Unsubscribe(postID string)
}

// Config configures the binding. Zero fields take the defaults noted.
type Config struct {
	Timeout time.Duration // limit of one request's work (Redis, MongoDB); 5s
	Logger  *slog.Logger  // slog.Default()
	// OnComment, if set, is told the outcome of every new_comment: code
	// "" for accepted (for metrics).
	OnComment       func(code comment.Code)
	Auth            AuthConfig
	Limits          Limits // comment rate limits per socket and per user
	RoomsPerSocket  int    // posts a socket may have joined at once; 0 = no limit
	MaxStreamsPerIP int    // SSE streams per client address; 0 = no limit
	// SocketsFrom, if set, counts a client address's socket connections,
	// which share MaxStreamsPerIP with its streams.
	SocketsFrom func(ip string) int
}

// Comments serves the live-comment events on a namespace.
type Comments struct {
	nsp  *socketio.Namespace
	svc  *comment.Service
	feed Feed
	cfg  Config
	log  *slog.Logger

	auth    *verifier
	limits  limiters
	streams streams       // SSE clients of this node
	closing chan struct{} // closed by Close: streams end
	once    sync.Once

	recovery bool // set by EnableRecovery, before serving
}

// Close ends the SSE streams, so that an HTTP server can shut down; other
// requests are left to finish.
func (a *Comments) Close() { a.once.Do(func() { close(a.closing) }) }

// Room returns the room of a post.
func Room(postID string) string { return "post_" + postID }

// Bind serves the live-comment events on nsp. Deliver must then be called
// with each comment the Feed receives. It fails if the auth key cannot be
// read.
func Bind(nsp *socketio.Namespace, svc *comment.Service, feed Feed, cfg Config) (*Comments, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	v, err := newVerifier(cfg.Auth)
	if err != nil {
		return nil, err
	}
	a := &Comments{nsp: nsp, svc: svc, feed: feed, cfg: cfg, log: cfg.Logger, auth: v, closing: make(chan struct{})}
	a.limits.set(cfg.Limits)
	nsp.OnConnect(a.connect)
	nsp.On("join_post", a.joinPost)
	nsp.On("leave_post", a.leavePost)
	nsp.On("new_comment", a.newComment)
	nsp.On("load_more", a.loadMore)
	nsp.OnDisconnecting(a.disconnecting)
	return a, nil
}

// SetLimits changes the rate limits while running.
func (a *Comments) SetLimits(l Limits) { a.limits.set(l) }

// session is what a socket carries: its user (the token's subject, "" when
// anonymous or without auth) and its rate bucket.
type session struct {
	user   string
	bucket socketBucket
}

// connect checks the token of a new socket (auth.mode jwt).
func (a *Comments) connect(s *socketio.Socket, auth json.RawMessage) error {
	sess := &session{}
	s.SetData(sess)
	if !a.auth.on() {
		return nil
	}
	sub, err := a.auth.verify(a.auth.requestToken(s.Request(), auth))
	switch {
	case err == nil:
		sess.user = sub
	case errors.Is(err, errNoToken) && a.cfg.Auth.AnonymousRead:
	default:
		a.log.Debug("connection refused", "err", err)
		return &socketio.ConnectError{Message: "Not authorized", Data: map[string]string{"code": string(comment.CodeUnauthorized)}}
	}
	return nil
}

// Deliver broadcasts a comment (its JSON, as published) to the post's room
// on this node: encoded once, whatever the number of readers. With recovery
// on, the comment's id goes last, as the event's offset: a client that
// reconnects sends the last one it got. Without, the comment goes alone,
// as from the reference server (a one-argument handler works).
func (a *Comments) Deliver(postID, id string, payload []byte) {
	if a.recovery {
		a.nsp.EmitToRaw(Room(postID), nil, "comment_added", json.RawMessage(payload), offsetArg(id))
	} else {
		a.nsp.EmitToRaw(Room(postID), nil, "comment_added", json.RawMessage(payload))
	}
	a.streams.deliver(postID, streamEvent{id: id, payload: payload})
}

// Persisted tells the post's room that comments are in MongoDB:
// comment_persisted {ids}.
func (a *Comments) Persisted(postID string, ids []string) {
	b, _ := json.Marshal(map[string][]string{"ids": ids})
	a.nsp.EmitToRaw(Room(postID), nil, "comment_persisted", json.RawMessage(b))
}

func offsetArg(id string) json.RawMessage { return json.RawMessage(`"` + id + `"`) }

// EnableRecovery turns on connection state recovery with store: a client
// that comes back within the window gets its rooms back and the comments
// it missed, in order.
func (a *Comments) EnableRecovery(store socketio.RecoveryStore) {
	a.recovery = true
	a.nsp.EnableRecovery(store, a.recover)
}

// recover resubscribes a recovered socket's posts and replays what it
// missed: the comments after its offset, or, without one, those created
// since it went away.
func (a *Comments) recover(s *socketio.Socket, offset string, since time.Time) {
	if !comment.ValidID(offset) {
		offset = comment.IDFloor(since.Add(-time.Second))
	}
	for _, room := range s.Rooms() {
		postID, ok := strings.CutPrefix(room, "post_")
		if !ok {
			continue
		}
		ctx, cancel := a.ctx()
		if err := a.feed.Subscribe(ctx, postID); err != nil {
			a.log.Warn("recover: subscribe failed", "post", postID, "err", err)
		}
		missed, err := a.svc.Join(ctx, postID, offset)
		cancel()
		if err != nil {
			a.log.Warn("recover: history failed", "post", postID, "err", err)
			continue
		}
		for _, c := range missed {
			s.EmitRaw("comment_added", json.RawMessage(c.JSON()), offsetArg(c.ID))
		}
	}
}

func (a *Comments) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), a.cfg.Timeout)
}

// joinRequest is join_post's argument: a post id, or {postId, since}.
type joinRequest struct {
	PostID string `json:"postId"`
	Since  string `json:"since"`
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
		return req, comment.Errorf(comment.CodeInvalidPayload, "join_post takes a post id or {postId, since}")
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
	if !s.In(room) && a.cfg.RoomsPerSocket > 0 && len(s.Rooms()) >= a.cfg.RoomsPerSocket {
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
	}
	cs, err := a.svc.Join(ctx, req.PostID, req.Since)
	if err != nil {
		a.fail(s, ev, "Failed to join post", err)
		return
	}
	if cs == nil {
		cs = []comment.Comment{}
	}
	s.Emit("load_comments", cs)
	ev.Ack(map[string]any{"ok": true, "comments": cs})
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
	a.feed.Unsubscribe(strings.TrimPrefix(room, "post_"))
}

// disconnecting runs while the socket is still in its rooms; each post
// room it is in loses a reader.
func (a *Comments) disconnecting(s *socketio.Socket, reason string) {
	for _, room := range s.Rooms() {
		if postID, ok := strings.CutPrefix(room, "post_"); ok {
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
}

func parseNewComment(args []json.RawMessage) (newCommentRequest, error) {
	var req newCommentRequest
	bad := comment.Errorf(comment.CodeInvalidPayload, "new_comment takes {postId, content, userId}")
	if len(args) == 0 {
		return req, bad
	}
	raw := args[0]
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			raw = json.RawMessage(s)
		}
	}
	if len(raw) == 0 || raw[0] != '{' {
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
	sess, _ := s.Data().(*session)
	if sess == nil {
		sess = &session{}
	}
	// The read loop goes on to the socket's next packet while Redis
	// answers: a client's comments share group commits, in its order.
	ctx, cancel := a.ctx()
	a.postAsync(ctx, ev.Args, "", sess.user, &sess.bucket, func(c comment.Comment, err error) {
		defer cancel()
		if err != nil {
			a.fail(s, ev, "Failed to post comment", err)
			return
		}
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
func (a *Comments) post(ctx context.Context, args []json.RawMessage, pathPost, sub string, bucket *socketBucket) (comment.Comment, error) {
	type result struct {
		c   comment.Comment
		err error
	}
	ch := make(chan result, 1)
	a.postAsync(ctx, args, pathPost, sub, bucket, func(c comment.Comment, err error) { ch <- result{c, err} })
	r := <-ch
	return r.c, r.err
}

// postAsync is the one pipeline of a new comment, for the socket and for
// REST: parse, the poster (the token's subject with auth), the rate limits,
// the Service, and the count of the outcome. pathPost is the URL's post (""
// on a socket); bucket is the socket's (the address's, over REST). done gets
// the outcome, on another goroutine once the comment is queued.
func (a *Comments) postAsync(ctx context.Context, args []json.RawMessage, pathPost, sub string, bucket *socketBucket, done func(comment.Comment, error)) {
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
	user, err := a.auth.poster(sub, req.UserID)
	if err != nil {
		finish(comment.Comment{}, err)
		return
	}
	if !a.limits.allow(bucket, user) {
		finish(comment.Comment{}, comment.Errorf(comment.CodeRateLimited, "too many comments, slow down"))
		return
	}
	a.svc.PostAsync(ctx, comment.Input{PostID: req.PostID, UserID: user, Content: req.Content, ClientID: req.ClientID}, finish)
}

func (a *Comments) count(code comment.Code) {
	if a.cfg.OnComment != nil {
		a.cfg.OnComment(code)
	}
}

// loadMoreRequest is load_more's argument.
type loadMoreRequest struct {
	PostID string `json:"postId"`
	Before string `json:"before"`
	Limit  int    `json:"limit"`
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
	page, err := a.svc.History(ctx, req.PostID, req.Before, req.Limit)
	if err != nil {
		a.fail(s, ev, "Failed to load comments", err)
		return
	}
	ev.Ack(pageJSON(page))
}

// fail tells the client what went wrong: comment_error (message says what
// failed, error why, code is stable), and the ack.
func (a *Comments) fail(s *socketio.Socket, ev *socketio.Event, what string, err error) {
	e, ok := err.(*comment.Error)
	if !ok {
		a.log.Error("request failed", "event", ev.Name, "err", err)
		e = comment.Errorf(comment.CodeInternal, "internal error")
	}
	s.Emit("comment_error", map[string]any{"message": what, "error": e.Message, "code": e.Code})
	ev.Ack(map[string]any{"ok": false, "error": map[string]any{"code": e.Code, "message": e.Message}})
}
