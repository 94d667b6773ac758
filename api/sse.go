package api

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/commentd/commentd/comment"
)

// Server-Sent Events: GET /api/posts/{postId}/stream, the post's events
// for clients that cannot speak Socket.IO.

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

// streamEvent is an event for the streams: a new comment (its JSON), or a
// change (the comment's new state; each stream tells its reader
// comment_updated or comment_removed, as they may see it).
type streamEvent struct {
	id      string
	event   string
	payload []byte
	update  *comment.Update // a change, or a comment not everyone sees
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
	id, ok := a.reader(w, r)
	if !ok {
		return
	}
	viewer := id.actor()
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
		missed, err := a.svc.Replay(jctx, viewer, postID, last)
		cancel()
		if err != nil {
			io.WriteString(w, "event: error\ndata: {\"code\":\"UNAVAILABLE\"}\n\n")
			return
		}
		for _, u := range missed {
			event, payload := viewEvent(viewer, u)
			if event == "" {
				continue
			}
			off := last // a state: the stream's place stays
			if u.Offset != "" {
				off = u.Offset
				sent[off] = true
			}
			writeEvent(w, off, event, payload)
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
			event, payload := ev.event, ev.payload
			if ev.update != nil {
				if event, payload = viewEvent(viewer, *ev.update); event == "" {
					continue
				}
			}
			writeEvent(w, ev.id, event, payload)
			if !flush() {
				return
			}
		}
	}
}

func writeEvent(w io.Writer, id, event string, data []byte) {
	io.WriteString(w, "id: "+id+"\nevent: "+event+"\ndata: ")
	w.Write(data)
	io.WriteString(w, "\n\n")
}
