package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/commentd/commentd/comment"
)

// Routes adds the HTTP API to mux:
//
//	GET    /api/posts/{postId}/comments?before=&limit=    a page of history
//	POST   /api/posts/{postId}/comments                   post a comment
//	PATCH  /api/posts/{postId}/comments/{id}              edit {content, v?}
//	DELETE /api/posts/{postId}/comments/{id}              delete {reason?}
//	POST   /api/moderation/posts/{postId}/comments/{id}   moderate {action, reason?}
//	POST   /api/moderation/posts/{postId}/lock            lock or unlock {locked, reason?}
//	GET    /api/moderation/bans                           the bans in force
//	POST   /api/moderation/bans                           ban {userId, duration, reason}
//	DELETE /api/moderation/bans/{userId}                  lift a ban
//	GET    /api/moderation/log?before=&limit=             the audit log, newest first
//	GET    /api/moderation/stats                          live figures (Stats)
//	GET    /api/posts/{postId}/stream                     Server-Sent Events
//	GET    /api/users/{userId}/comments?before=&limit=    a user's own comments
//	DELETE /api/users/{userId}                            erase a user's comments
func (a *Comments) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/posts/{postId}/comments", a.getComments)
	mux.HandleFunc("POST /api/posts/{postId}/comments", a.postComment)
	mux.HandleFunc("PATCH /api/posts/{postId}/comments/{id}", a.restChange(comment.OpEdit))
	mux.HandleFunc("DELETE /api/posts/{postId}/comments/{id}", a.restChange(comment.OpDelete))
	mux.HandleFunc("POST /api/moderation/posts/{postId}/comments/{id}", a.restChange(""))
	mux.HandleFunc("GET /api/moderation/queue", a.getQueue)
	mux.HandleFunc("GET /api/users/{userId}/comments", a.getUserComments)
	mux.HandleFunc("POST /api/posts/{postId}/comments/{id}/reactions", a.postReaction)
	mux.HandleFunc("GET /api/counts", a.getCounts)
	mux.HandleFunc("DELETE /api/users/{userId}", a.deleteUser)
	mux.HandleFunc("POST /api/moderation/posts/{postId}/lock", a.moderation(a.postLock))
	mux.HandleFunc("POST /api/moderation/posts/{postId}/slow_mode", a.moderation(a.postSlowMode))
	mux.HandleFunc("GET /api/moderation/bans", a.moderation(a.getBans))
	mux.HandleFunc("POST /api/moderation/bans", a.moderation(a.postBan))
	mux.HandleFunc("DELETE /api/moderation/bans/{userId}", a.moderation(a.deleteBan))
	mux.HandleFunc("GET /api/moderation/log", a.moderation(a.getAuditLog))
	mux.HandleFunc("GET /api/moderation/stats", a.moderation(a.getStats))
	mux.HandleFunc("GET /api/posts/{postId}/stream", a.stream)
}

// defaultPageLimit is the page size when the request names none.
const defaultPageLimit = 50

// maxBodyBytes bounds a POSTed comment.
const maxBodyBytes = 64 << 10

// statusOf maps a stable code to an HTTP status.
func statusOf(code comment.Code) int {
	switch code {
	case comment.CodeRateLimited, comment.CodeSlowMode:
		return http.StatusTooManyRequests
	case comment.CodeUnauthorized:
		return http.StatusUnauthorized
	case comment.CodeForbidden, comment.CodeEditWindowClosed, comment.CodeBanned, comment.CodePostLocked:
		return http.StatusForbidden
	case comment.CodeNotFound:
		return http.StatusNotFound
	case comment.CodeConflict:
		return http.StatusConflict
	case comment.CodeRejected:
		return http.StatusUnprocessableEntity
	case comment.CodeBusy, comment.CodeUnavailable:
		return http.StatusServiceUnavailable
	case comment.CodeInternal:
		return http.StatusInternalServerError
	default:
		return http.StatusBadRequest
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (a *Comments) writeError(w http.ResponseWriter, err error) {
	var e *comment.Error
	if !errors.As(err, &e) {
		a.log.Error("http request failed", "err", err)
		e = comment.Errorf(comment.CodeInternal, "internal error")
	}
	writeJSON(w, statusOf(e.Code), map[string]any{"ok": false, "error": map[string]any{"code": e.Code, "message": e.Message}})
}

// reader returns who reads, and whether they may: everyone without auth
// or with auth.anonymous_read, else with a valid token (Bearer, cookie, or
// a token query parameter, for EventSource which cannot set headers). The
// admin token reads as a moderator.
func (a *Comments) reader(w http.ResponseWriter, r *http.Request) (identity, bool) {
	tok := a.auth.requestToken(r, nil)
	if tok == "" {
		tok = r.URL.Query().Get("token")
	}
	if a.auth.isAdmin(tok) {
		return adminIdentity, true
	}
	if !a.auth.on() {
		return identity{}, true
	}
	id, err := a.auth.verify(tok)
	if err != nil && !((a.cfg.Auth.AnonymousRead || a.cfg.Auth.Guests) && errors.Is(err, errNoToken)) {
		a.writeError(w, comment.Errorf(comment.CodeUnauthorized, "a valid token is needed to read comments"))
		return identity{}, false
	}
	return id, true
}

func (a *Comments) getComments(w http.ResponseWriter, r *http.Request) {
	id, ok := a.reader(w, r)
	if !ok {
		return
	}
	limit, err := queryLimit(r, defaultPageLimit)
	if err != nil {
		a.writeError(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	var page comment.Page
	if parent := r.URL.Query().Get("parent"); parent != "" {
		page, err = a.svc.Replies(ctx, id.actor(), r.PathValue("postId"), parent, r.URL.Query().Get("before"), limit)
	} else {
		page, err = a.svc.Sorted(ctx, id.actor(), r.PathValue("postId"), r.URL.Query().Get("sort"), r.URL.Query().Get("before"), limit)
	}
	if err != nil {
		a.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, pageJSON(page))
}

func pageJSON(p comment.Page) map[string]any {
	cs := p.Comments
	if cs == nil {
		cs = []comment.Comment{}
	}
	return map[string]any{"ok": true, "comments": cs, "next": cursor(p.Next)}
}

// cursor is a page's next cursor on the wire: null on the last page.
func cursor(next string) any {
	if next == "" {
		return nil
	}
	return next
}

func (a *Comments) postComment(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		a.count(comment.CodeInvalidPayload)
		a.writeError(w, comment.Errorf(comment.CodeInvalidPayload, "the body is too large or unreadable"))
		return
	}
	var id identity
	if a.auth.on() {
		id, err = a.auth.verify(a.auth.requestToken(r, nil))
		if err != nil && !(a.cfg.Auth.Guests && errors.Is(err, errNoToken)) {
			a.count(comment.CodeUnauthorized)
			a.writeError(w, comment.Errorf(comment.CodeUnauthorized, "a valid token is needed to comment"))
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	// Without a socket, the client's address stands for it.
	c, err := a.post(ctx, []json.RawMessage{body}, r.PathValue("postId"), id, a.restBucket(r))
	if err != nil {
		a.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"ok": true, "comment": c})
}

// restChange serves a change: PATCH (edit), DELETE, and the moderation
// route (op "": the body's action). The actor is the token's: a user's
// bearer token or cookie with auth.mode jwt, or the admin token; without
// auth, the userId of the body or the query, as for posting.
// actingIdentity is who acts on a REST change: the admin token, a valid
// token with auth.mode jwt, or nobody yet (auth.mode none: the userId).
func (a *Comments) actingIdentity(r *http.Request) (identity, error) {
	tok := a.auth.requestToken(r, nil)
	switch {
	case a.auth.isAdmin(tok):
		return adminIdentity, nil
	case a.auth.on():
		id, err := a.auth.verify(tok)
		if err != nil {
			return identity{}, comment.Errorf(comment.CodeUnauthorized, "a valid token is needed to change comments")
		}
		return id, nil
	}
	return identity{}, nil
}

func (a *Comments) restChange(route comment.Op) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		op := route
		var req changeRequest
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		if err != nil {
			a.writeError(w, comment.Errorf(comment.CodeInvalidPayload, "the body is too large or unreadable"))
			return
		}
		if len(body) > 0 && json.Unmarshal(body, &req) != nil {
			a.writeError(w, comment.Errorf(comment.CodeInvalidPayload, "the body must be a JSON object"))
			return
		}
		if op == "" {
			op = comment.Op(req.Action)
			if !comment.ModOps[op] {
				a.writeError(w, comment.Errorf(comment.CodeInvalidPayload, "action must be hide, restore, pin, unpin, approve or reject"))
				return
			}
		}
		if req.UserID == "" {
			req.UserID = r.URL.Query().Get("userId")
		}
		id, err := a.actingIdentity(r)
		if err != nil {
			a.writeError(w, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
		defer cancel()
		ch, err := a.change(ctx, id, req.UserID, a.restBucket(r), comment.ChangeRequest{
			Op: op, PostID: r.PathValue("postId"), CommentID: r.PathValue("id"), Content: req.Content, V: req.V,
			Reason: req.Reason})
		if err != nil {
			a.writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "comment": ch.State})
	}
}

// getUserComments serves GET /api/users/{userId}/comments?limit=&before=:
// a person's own comments, newest first (the page is {ok, comments, next},
// comments oldest first as in history), to that user's token or a
// moderator's.
func (a *Comments) getUserComments(w http.ResponseWriter, r *http.Request) {
	id, ok := a.userOrAdmin(w, r, "list a user's comments")
	if !ok {
		return
	}
	limit, err := queryLimit(r, defaultPageLimit)
	if err != nil {
		a.writeError(w, err)
		return
	}
	page, err := a.svc.UserComments(r.Context(), id.actor(), r.PathValue("userId"), r.URL.Query().Get("before"), limit)
	if err != nil {
		a.writeError(w, err)
		return
	}
	slices.Reverse(page.Comments)
	writeJSON(w, http.StatusOK, pageJSON(page))
}

// userOrAdmin returns who makes a request about a user's own data: the
// admin token's holder, or the user of a valid token (auth.mode jwt); it
// answers UNAUTHORIZED otherwise. what says what the token is needed for.
func (a *Comments) userOrAdmin(w http.ResponseWriter, r *http.Request, what string) (identity, bool) {
	tok := a.auth.requestToken(r, nil)
	switch {
	case a.auth.isAdmin(tok):
		return adminIdentity, true
	case !a.auth.on():
		a.writeError(w, comment.Errorf(comment.CodeUnauthorized, "to "+what+", auth.mode jwt (the user's token) or admin.token is needed"))
		return identity{}, false
	}
	id, err := a.auth.verify(tok)
	if err != nil {
		a.writeError(w, comment.Errorf(comment.CodeUnauthorized, "a valid token is needed to "+what))
		return identity{}, false
	}
	return id, true
}

// eraseTimeout bounds one erase request. The erase goes on if the client
// goes away; one cut short is finished by asking again.
const eraseTimeout = 5 * time.Minute

// deleteUser serves DELETE /api/users/{userId}: every comment of the user
// becomes a tombstone (comment.Service.Erase), for the user's own token or
// a moderator's (the admin token is one); {ok:true, erased:N}.
func (a *Comments) deleteUser(w http.ResponseWriter, r *http.Request) {
	id, ok := a.userOrAdmin(w, r, "erase a user")
	if !ok {
		return
	}
	actor := id.actor()
	if !actor.Moderator && !a.limits.allow(a.restBucket(r), actor.UserID) {
		a.writeError(w, comment.Errorf(comment.CodeRateLimited, "too many changes, slow down"))
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), eraseTimeout)
	defer cancel()
	n, err := a.svc.Erase(ctx, actor, r.PathValue("userId"))
	if err != nil {
		a.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "erased": n})
}

// queryLimit reads a request's limit query parameter, def without one.
func queryLimit(r *http.Request, def int) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, comment.Errorf(comment.CodeInvalidPayload, "limit must be a number")
	}
	return n, nil
}
