// Package api binds the wire to the domain: the Socket.IO events of the
// live-comment contract (DESIGN.md, "Wire contract" and "Wire additions"),
// the REST API and the SSE streams, to comment.Service.
//
// Files by surface: socket.go (joins, new comments, history), changes.go
// (edit, delete, moderate), moderation.go (the queue), bans.go (bans and
// locks), audit.go (the audit log and live figures), deliver.go (what the fan-out hands this node,
// to its rooms and streams, and recovery), rest.go, sse.go, auth.go
// (tokens and roles), jwks.go (keys from a JSON Web Key Set), limits.go,
// chat.go (the /chat tutorial namespace).
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/realtime/socketio"
)

// Feed delivers the events published for a post to this node: the
// fan-out through Redis. Subscribe returns once every event appended
// afterwards will be delivered.
type Feed interface {
	Subscribe(ctx context.Context, postID string) error
	Unsubscribe(postID string)
}

// Viewers counts the sockets reading each post on this node and knows
// the total over every node (buffer.Viewers). Changed totals come back
// through HandleViewers.
type Viewers interface {
	Join(postID string)
	Leave(postID string)
	Total(ctx context.Context, postID string) (int, error)
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
	// Stats, if set, serves GET /api/moderation/stats; else it answers
	// UNAVAILABLE.
	Stats StatsSource
	// Viewers, if set, counts the readers of each post: post_info then
	// carries viewers, and changes of it reach the post's room.
	Viewers Viewers
	// ReactionsPushRate is comment_reactions per comment per second at
	// most; 4.
	ReactionsPushRate float64
	// Batch configures coalesced delivery (comments_added).
	Batch BatchConfig
	// Banned, if set, is told of each ban once it is applied (the
	// webhooks' user.banned).
	Banned BanNotifier
}

// BanNotifier is told of a ban once it holds.
type BanNotifier interface {
	Banned(ctx context.Context, b comment.Ban) error
}

// Comments serves the live-comment events on a namespace.
type Comments struct {
	nsp  *socketio.Namespace
	svc  *comment.Service
	feed Feed
	cfg  Config
	log  *slog.Logger

	auth     *verifier
	limits   limiters
	recovery bool          // connection state recovery is on: events carry offsets
	streams  streams       // SSE clients of this node
	infos    postInfos     // what this node's readers were told of each post
	closing  chan struct{} // closed by Close: streams end
	pushes   reactionPushes
	batches  batches // coalesced delivery's windows
	once     sync.Once
}

// Close ends the SSE streams, so that an HTTP server can shut down, and
// stops fetching auth keys; other requests are left to finish.
func (a *Comments) Close() {
	a.once.Do(func() {
		close(a.closing)
		a.auth.close()
		a.pushes.stop()
		a.stopBatches()
	})
}

// Room returns the room of a post.
func Room(postID string) string { return "post_" + postID }

// Bind serves the live-comment events on nsp. The Feed's events must then
// reach the Comments (it is the fan-out's Handler). It fails if the auth
// key cannot be read. Close it when done.
func Bind(nsp *socketio.Namespace, svc *comment.Service, feed Feed, cfg Config) (*Comments, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	v, err := newVerifier(cfg.Auth, cfg.Logger)
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
	nsp.On("edit_comment", a.editComment)
	nsp.On("delete_comment", a.deleteComment)
	nsp.On("moderate", a.moderate)
	nsp.On("watch_moderation", a.watchModeration)
	nsp.On("ban_user", a.banUser)
	nsp.On("unban_user", a.unbanUser)
	nsp.On("lock_post", a.lockPost)
	nsp.On("react", a.onReact)
	nsp.On("load_replies", a.loadReplies)
	nsp.OnDisconnecting(a.disconnecting)
	return a, nil
}

// SetLimits changes the rate limits while running.
func (a *Comments) SetLimits(l Limits) { a.limits.set(l) }

// session is what a socket carries: who it is and its rate bucket. Who it
// is comes from its token; without auth, from the userId it last posted or
// changed a comment with (it then sees its own held or hidden comments).
type session struct {
	who    atomic.Pointer[identity] // read by broadcasts on other goroutines
	bucket socketBucket
}

// id returns who the socket is (the zero identity when anonymous).
func (s *session) id() identity {
	if p := s.who.Load(); p != nil {
		return *p
	}
	return identity{}
}

func (s *session) setID(id identity) { s.who.Store(&id) }

// claim records, without auth, the user a socket says it is.
func (a *Comments) claim(sess *session, user string) {
	if !a.auth.on() && user != "" && sess.id() == (identity{}) {
		sess.setID(identity{user: user})
	}
}

// sessionOf returns the session of s.
func sessionOf(s *socketio.Socket) *session {
	if sess, ok := s.Data().(*session); ok {
		return sess
	}
	return &session{}
}

// connect checks the token of a new socket: the admin token makes it a
// moderator; with auth.mode jwt a token is needed unless reading
// anonymously is allowed.
func (a *Comments) connect(s *socketio.Socket, auth json.RawMessage) error {
	sess := &session{}
	s.SetData(sess)
	tok := a.auth.requestToken(s.Request(), auth)
	if a.auth.isAdmin(tok) {
		sess.setID(adminIdentity)
		return nil
	}
	if !a.auth.on() {
		return nil
	}
	id, err := a.auth.verify(tok)
	switch {
	case err == nil:
		sess.setID(id)
	case errors.Is(err, errNoToken) && (a.cfg.Auth.AnonymousRead || a.cfg.Auth.Guests):
	default:
		a.log.Debug("connection refused", "err", err)
		return &socketio.ConnectError{Message: "Not authorized", Data: map[string]string{"code": string(comment.CodeUnauthorized)}}
	}
	return nil
}

func (a *Comments) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), a.cfg.Timeout)
}

func (a *Comments) count(code comment.Code) {
	if a.cfg.OnComment != nil {
		a.cfg.OnComment(code)
	}
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
