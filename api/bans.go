package api

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/realtime/socketio"
)

// The moderation of users and posts: ban_user, unban_user and lock_post,
// on the socket and over REST. Moderators only (the roles claim, or the
// admin token); the Service refuses anyone else with FORBIDDEN.

// banRequest is ban_user's argument and POST /api/moderation/bans' body.
type banRequest struct {
	UserID   string   `json:"userId"`
	Duration *float64 `json:"duration"` // seconds; 0 or absent: until lifted
	Reason   string   `json:"reason"`
	// HideComments (hide all the user's comments) is refused: not built.
	// A hide per comment would need the user's comments across posts,
	// which the store cannot find without scanning the collection.
	HideComments bool `json:"hideComments"`
}

func (r banRequest) domain() (comment.BanRequest, error) {
	req := comment.BanRequest{UserID: r.UserID, Reason: r.Reason}
	if r.HideComments {
		return req, comment.Errorf(comment.CodeInvalidPayload, "hideComments is not supported: hide their comments with moderate")
	}
	if r.Duration != nil {
		d := *r.Duration
		if d < 0 || math.IsNaN(d) || d > comment.MaxBanDuration.Seconds() {
			return req, comment.Errorf(comment.CodeInvalidPayload, "duration must be between 0 (until lifted) and 3153600000 seconds")
		}
		req.Duration = time.Duration(d * float64(time.Second))
	}
	return req, nil
}

// lockRequest is lock_post's argument (postId in the URL over REST).
type lockRequest struct {
	PostID string `json:"postId"`
	Locked *bool  `json:"locked"`
	Reason string `json:"reason"` // optional, for the audit log
}

const (
	banUsage   = "ban_user takes {userId, duration (seconds, 0 = until lifted), reason}"
	unbanUsage = "unban_user takes {userId}"
	lockUsage  = "lock_post takes {postId, locked, reason?}"
	slowUsage  = "slow_mode takes {postId, seconds (0 = off), reason?}"
)

// slowRequest is slow_mode's argument (postId in the URL over REST). The
// interval may also be named slow_mode or slowMode, as post_info names it.
type slowRequest struct {
	PostID    string `json:"postId"`
	Seconds   *int   `json:"seconds"`
	SlowMode  *int   `json:"slow_mode"`
	SlowMode2 *int   `json:"slowMode"`
	Reason    string `json:"reason"` // optional, for the audit log
}

// seconds returns the interval asked for, or nil.
func (r slowRequest) seconds() *int {
	for _, p := range []*int{r.Seconds, r.SlowMode, r.SlowMode2} {
		if p != nil {
			return p
		}
	}
	return nil
}

// slowMode serves slow_mode {postId, seconds, reason?}: moderators set
// the seconds each user waits between two comments on the post.
func (a *Comments) slowMode(s *socketio.Socket, ev *socketio.Event) {
	var req slowRequest
	raw, ok := objectArg(ev.Args)
	if !ok || json.Unmarshal(raw, &req) != nil || req.seconds() == nil {
		a.fail(s, ev, "Failed to set slow mode", comment.Errorf(comment.CodeInvalidPayload, slowUsage))
		return
	}
	ctx, cancel := a.ctx()
	defer cancel()
	info, err := a.svc.SetSlowMode(ctx, sessionOf(s).id().actor(), req.PostID, *req.seconds(), req.Reason)
	if err != nil {
		a.fail(s, ev, "Failed to set slow mode", err)
		return
	}
	ev.Ack(map[string]any{"ok": true, "postId": info.PostID, "slowMode": info.SlowMode})
}

// postSlowMode serves POST /api/moderation/posts/{postId}/slow_mode
// {seconds, reason?}.
func (a *Comments) postSlowMode(ctx context.Context, id identity, r *http.Request, body []byte) (map[string]any, error) {
	var req slowRequest
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	if req.seconds() == nil {
		return nil, comment.Errorf(comment.CodeInvalidPayload, "the body must be {seconds: 0..3600, reason?}")
	}
	info, err := a.svc.SetSlowMode(ctx, id.actor(), r.PathValue("postId"), *req.seconds(), req.Reason)
	return map[string]any{"postId": info.PostID, "slowMode": info.SlowMode}, err
}

func (a *Comments) banUser(s *socketio.Socket, ev *socketio.Event) {
	var req banRequest
	raw, ok := objectArg(ev.Args)
	if !ok || json.Unmarshal(raw, &req) != nil {
		a.fail(s, ev, "Failed to ban user", comment.Errorf(comment.CodeInvalidPayload, banUsage))
		return
	}
	ctx, cancel := a.ctx()
	defer cancel()
	b, err := a.ban(ctx, sessionOf(s).id(), req)
	if err != nil {
		a.fail(s, ev, "Failed to ban user", err)
		return
	}
	ev.Ack(map[string]any{"ok": true, "ban": b})
}

func (a *Comments) ban(ctx context.Context, id identity, req banRequest) (comment.Ban, error) {
	if !id.moderator {
		// Before looking at the payload: a reader learns nothing.
		return comment.Ban{}, comment.Errorf(comment.CodeForbidden, "only moderators may ban users")
	}
	dreq, err := req.domain()
	if err != nil {
		return comment.Ban{}, err
	}
	b, err := a.svc.BanUser(ctx, id.actor(), dreq)
	if err == nil && a.cfg.Banned != nil {
		// The ban holds: a failed notice is logged, not the request's error.
		if nerr := a.cfg.Banned.Banned(ctx, b); nerr != nil {
			a.log.Warn("ban not notified", "user", b.UserID, "err", nerr)
		}
	}
	return b, err
}

func (a *Comments) unbanUser(s *socketio.Socket, ev *socketio.Event) {
	var req struct {
		UserID string `json:"userId"`
	}
	raw, ok := objectArg(ev.Args)
	if !ok || json.Unmarshal(raw, &req) != nil {
		a.fail(s, ev, "Failed to lift ban", comment.Errorf(comment.CodeInvalidPayload, unbanUsage))
		return
	}
	ctx, cancel := a.ctx()
	defer cancel()
	b, err := a.svc.UnbanUser(ctx, sessionOf(s).id().actor(), req.UserID)
	if err != nil {
		a.fail(s, ev, "Failed to lift ban", err)
		return
	}
	ev.Ack(map[string]any{"ok": true, "ban": b})
}

func (a *Comments) lockPost(s *socketio.Socket, ev *socketio.Event) {
	var req lockRequest
	raw, ok := objectArg(ev.Args)
	if !ok || json.Unmarshal(raw, &req) != nil || req.Locked == nil {
		a.fail(s, ev, "Failed to lock post", comment.Errorf(comment.CodeInvalidPayload, lockUsage))
		return
	}
	ctx, cancel := a.ctx()
	defer cancel()
	info, err := a.svc.LockPost(ctx, sessionOf(s).id().actor(), req.PostID, *req.Locked, req.Reason)
	if err != nil {
		a.fail(s, ev, "Failed to lock post", err)
		return
	}
	ev.Ack(map[string]any{"ok": true, "postId": info.PostID, "locked": info.Locked})
}

// moderatorOf returns who makes a moderation request over REST: the admin
// token, or a token whose roles make a moderator. Anyone else gets
// UNAUTHORIZED without a valid token, FORBIDDEN with one.
func (a *Comments) moderatorOf(r *http.Request) (identity, error) {
	tok := a.auth.requestToken(r, nil)
	if a.auth.isAdmin(tok) {
		return adminIdentity, nil
	}
	if tok == "" || !a.auth.on() {
		return identity{}, comment.Errorf(comment.CodeUnauthorized, "a moderator's token or the admin token is needed")
	}
	id, err := a.auth.verify(tok)
	if err != nil {
		return identity{}, comment.Errorf(comment.CodeUnauthorized, "a valid token is needed")
	}
	if !id.moderator {
		return identity{}, comment.Errorf(comment.CodeForbidden, "moderators only")
	}
	return id, nil
}

// modHandler is the work of a moderation request over REST, by the
// moderator id: its answer's fields besides ok, or an error.
type modHandler func(ctx context.Context, id identity, r *http.Request, body []byte) (map[string]any, error)

// moderation serves a moderation request: a moderator's token (else
// UNAUTHORIZED or FORBIDDEN), the body, then do within the timeout;
// the answer is {ok:true, ...} or the error.
func (a *Comments) moderation(do modHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := a.moderatorOf(r)
		if err != nil {
			a.writeError(w, err)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		if err != nil {
			a.writeError(w, comment.Errorf(comment.CodeInvalidPayload, "the body is too large or unreadable"))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
		defer cancel()
		res, err := do(ctx, id, r, body)
		if err != nil {
			a.writeError(w, err)
			return
		}
		res["ok"] = true
		writeJSON(w, http.StatusOK, res)
	}
}

// decodeBody decodes a JSON object body into v (an empty body leaves v).
func decodeBody(body []byte, v any) error {
	if len(body) > 0 && json.Unmarshal(body, v) != nil {
		return comment.Errorf(comment.CodeInvalidPayload, "the body must be a JSON object")
	}
	return nil
}

// postBan serves POST /api/moderation/bans {userId, duration, reason}.
func (a *Comments) postBan(ctx context.Context, id identity, _ *http.Request, body []byte) (map[string]any, error) {
	var req banRequest
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	b, err := a.ban(ctx, id, req)
	return map[string]any{"ban": b}, err
}

// deleteBan serves DELETE /api/moderation/bans/{userId}.
func (a *Comments) deleteBan(ctx context.Context, id identity, r *http.Request, _ []byte) (map[string]any, error) {
	b, err := a.svc.UnbanUser(ctx, id.actor(), r.PathValue("userId"))
	return map[string]any{"ban": b}, err
}

// getBans serves GET /api/moderation/bans: the bans that hold now.
func (a *Comments) getBans(ctx context.Context, id identity, _ *http.Request, _ []byte) (map[string]any, error) {
	bans, err := a.svc.ListBans(ctx, id.actor())
	return map[string]any{"bans": bans}, err
}

// postLock serves POST /api/moderation/posts/{postId}/lock {locked, reason?}.
func (a *Comments) postLock(ctx context.Context, id identity, r *http.Request, body []byte) (map[string]any, error) {
	var req lockRequest
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	if req.Locked == nil {
		return nil, comment.Errorf(comment.CodeInvalidPayload, "the body must be {locked: true|false, reason?}")
	}
	info, err := a.svc.LockPost(ctx, id.actor(), r.PathValue("postId"), *req.Locked, req.Reason)
	return map[string]any{"postId": info.PostID, "locked": info.Locked}, err
}
