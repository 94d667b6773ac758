package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/commentd/commentd/comment"
)

// Routes adds the HTTP API to mux:
//
//	GET  /api/posts/{postId}/comments?before=&limit=   a page of history
//	POST /api/posts/{postId}/comments                  post a comment
//	GET  /api/posts/{postId}/stream                    Server-Sent Events
func (a *Comments) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/posts/{postId}/comments", a.getComments)
	mux.HandleFunc("POST /api/posts/{postId}/comments", a.postComment)
	mux.HandleFunc("GET /api/posts/{postId}/stream", a.stream)
}

// defaultPageLimit is the page size when the request names none.
const defaultPageLimit = 50

// maxBodyBytes bounds a POSTed comment.
const maxBodyBytes = 64 << 10

// statusOf maps a stable code to an HTTP status.
func statusOf(code comment.Code) int {
	switch code {
	case comment.CodeRateLimited:
		return http.StatusTooManyRequests
	case comment.CodeUnauthorized:
		return http.StatusUnauthorized
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

// mayRead reports whether r may read comments: always without auth or with
// auth.anonymous_read, else with a valid token (Bearer, cookie, or a token
// query parameter, for EventSource which cannot set headers).
func (a *Comments) mayRead(w http.ResponseWriter, r *http.Request) bool {
	if !a.auth.on() || a.cfg.Auth.AnonymousRead {
		return true
	}
	tok := a.auth.requestToken(r, nil)
	if tok == "" {
		tok = r.URL.Query().Get("token")
	}
	if _, err := a.auth.verify(tok); err != nil {
		a.writeError(w, comment.Errorf(comment.CodeUnauthorized, "a valid token is needed to read comments"))
		return false
	}
	return true
}

func (a *Comments) getComments(w http.ResponseWriter, r *http.Request) {
	if !a.mayRead(w, r) {
		return
	}
	limit := defaultPageLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			a.writeError(w, comment.Errorf(comment.CodeInvalidPayload, "limit must be a number"))
			return
		}
		limit = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	page, err := a.svc.History(ctx, r.PathValue("postId"), r.URL.Query().Get("before"), limit)
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
	var next any
	if p.Next != "" {
		next = p.Next
	}
	return map[string]any{"ok": true, "comments": cs, "next": next}
}

func (a *Comments) postComment(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		a.count(comment.CodeInvalidPayload)
		a.writeError(w, comment.Errorf(comment.CodeInvalidPayload, "the body is too large or unreadable"))
		return
	}
	sub := ""
	if a.auth.on() {
		if sub, err = a.auth.verify(a.auth.requestToken(r, nil)); err != nil {
			a.count(comment.CodeUnauthorized)
			a.writeError(w, comment.Errorf(comment.CodeUnauthorized, "a valid token is needed to comment"))
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	// Without a socket, the client's address stands for it.
	c, err := a.post(ctx, []json.RawMessage{body}, r.PathValue("postId"), sub, a.restBucket(r))
	if err != nil {
		a.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"ok": true, "comment": c})
}

// sseKeepAlive is how often an idle stream gets a comment line, so proxies
// keep it open.
const sseKeepAlive = 25 * time.Second

// sseWriteTimeout bounds one write to a stream.
const sseWriteTimeout = 10 * time.Second

// sseQueue bounds the comments waiting for one stream; a stream that falls
// further behind is closed (it reconnects with Last-Event-ID).
const sseQueue = 256

// streams are the SSE clients of this node, by post, and their count by
// client address.
type streams struct {
	mu    sync.Mutex
	posts map[string]map[chan streamEvent]struct{}
	perIP map[string]int
}

// streamEvent is a comment for the streams: its id and JSON.
type streamEvent struct {
	id      string
	payload []byte
}

// enter counts a stream of ip; false when its streams and its other
// connections reach limit (0: no limit).
func (s *streams) enter(ip string, limit, others int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perIP == nil {
		s.perIP = make(map[string]int)
	}
	if limit > 0 && s.perIP[ip]+others >= limit {
		return false
	}
	s.perIP[ip]++
	return true
}

func (s *streams) leave(ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
}

func (s *streams) add(postID string, ch chan streamEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.posts == nil {
		s.posts = make(map[string]map[chan streamEvent]struct{})
	}
	m := s.posts[postID]
	if m == nil {
		m = make(map[chan streamEvent]struct{})
		s.posts[postID] = m
	}
	m[ch] = struct{}{}
}

func (s *streams) remove(postID string, ch chan streamEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.posts[postID]; m != nil {
		delete(m, ch)
		if len(m) == 0 {
			delete(s.posts, postID)
		}
	}
}

// deliver queues ev on the post's streams; a full one is dropped and
// closed.
func (s *streams) deliver(postID string, ev streamEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.posts[postID] {
		select {
		case ch <- ev:
		default:
			delete(s.posts[postID], ch)
			close(ch)
		}
	}
}

// stream serves a post's new comments as Server-Sent Events. With a
// Last-Event-ID header (or lastEventId query parameter), the comments after
// that id are sent first, so a reconnecting client misses nothing.
func (a *Comments) stream(w http.ResponseWriter, r *http.Request) {
	postID := r.PathValue("postId")
	if err := comment.ValidatePostID(postID); err != nil {
		a.writeError(w, err)
		return
	}
	if !a.mayRead(w, r) {
		return
	}
	ip := clientHost(r)
	others := 0
	if a.cfg.SocketsFrom != nil {
		others = a.cfg.SocketsFrom(ip)
	}
	if !a.streams.enter(ip, a.cfg.MaxStreamsPerIP, others) {
		a.writeError(w, comment.Errorf(comment.CodeRateLimited, "too many streams from this address"))
		return
	}
	defer a.streams.leave(ip)
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("lastEventId")
	}
	if last != "" && !comment.ValidID(last) {
		a.writeError(w, comment.Errorf(comment.CodeInvalidPayload, "Last-Event-ID must be a comment id"))
		return
	}
	rc := http.NewResponseController(w)
	// flush writes what is pending, within a deadline: a reader that stops
	// reading is dropped, never waited for.
	flush := func() bool {
		rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
		return rc.Flush() == nil
	}
	ctx := r.Context()
	sctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	err := a.feed.Subscribe(sctx, postID)
	cancel()
	if err != nil {
		a.writeError(w, comment.Errorf(comment.CodeUnavailable, "comments are unavailable, try again"))
		return
	}
	defer a.feed.Unsubscribe(postID)
	ch := make(chan streamEvent, sseQueue)
	a.streams.add(postID, ch)
	defer a.streams.remove(postID, ch)

	rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "retry: 3000\n\n")

	sent := map[string]bool{}
	if last != "" {
		jctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
		missed, err := a.svc.Join(jctx, postID, last)
		cancel()
		if err != nil {
			io.WriteString(w, "event: error\ndata: {\"code\":\"UNAVAILABLE\"}\n\n")
			return
		}
		for _, c := range missed {
			writeEvent(w, c.ID, c.JSON())
			sent[c.ID] = true
		}
	}
	if !flush() {
		return
	}
	keep := time.NewTicker(sseKeepAlive)
	defer keep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.closing:
			return
		case <-keep.C:
			io.WriteString(w, ": keep-alive\n\n")
			if !flush() {
				return
			}
		case ev, ok := <-ch:
			if !ok {
				return // fell behind: the client reconnects with Last-Event-ID
			}
			if len(sent) > 0 {
				if sent[ev.id] {
					continue
				}
				sent = map[string]bool{} // past the replay's overlap
			}
			writeEvent(w, ev.id, ev.payload)
			if !flush() {
				return
			}
		}
	}
}

func writeEvent(w io.Writer, id string, data []byte) {
	io.WriteString(w, "id: "+id+"\nevent: comment_added\ndata: ")
	w.Write(data)
	io.WriteString(w, "\n\n")
}
