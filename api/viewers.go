package api

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/commentd/commentd/comment"
)

// post_info {postId, viewers, locked} reaches a post's readers on this node
// on join, when the lock changes (HandlePostInfo, from the fan-out) and
// when the number of viewers changes (HandleViewers, at most once a
// second). Each message carries the whole state, so the two sources share
// a table of what was last sent, and send under its lock: a viewers update
// never carries a lock state older than one already sent.

// postInfos is what this node's readers of each post were told about it.
type postInfos struct {
	mu sync.Mutex
	m  map[string]*postState
}

// postState is one post's entry, while this node has readers of it.
type postState struct {
	refs      int
	locked    bool
	slow      int  // slow mode, seconds
	lockKnown bool // locked and slow were read (join) or told (a change)
	viewers   *int // last total known, nil before the first
	count     *int // comments a reader may see, last known
	countAt   time.Time
	counting  bool // a count is scheduled (countChanged)
}

// viewerJoined counts a socket that joined the post's room.
func (a *Comments) viewerJoined(postID string) {
	if a.cfg.Viewers == nil {
		return
	}
	a.cfg.Viewers.Join(postID)
	a.infos.mu.Lock()
	defer a.infos.mu.Unlock()
	if a.infos.m == nil {
		a.infos.m = make(map[string]*postState)
	}
	st := a.infos.m[postID]
	if st == nil {
		st = &postState{}
		a.infos.m[postID] = st
	}
	st.refs++
}

// viewerLeft uncounts a socket that left the post's room.
func (a *Comments) viewerLeft(postID string) {
	if a.cfg.Viewers == nil {
		return
	}
	a.cfg.Viewers.Leave(postID)
	a.infos.mu.Lock()
	defer a.infos.mu.Unlock()
	if st := a.infos.m[postID]; st != nil {
		if st.refs--; st.refs <= 0 {
			delete(a.infos.m, postID)
		}
	}
}

// joinInfo completes the post_info of a join (read after subscribing) with
// the viewers, the joining socket included.
func (a *Comments) joinInfo(ctx context.Context, info comment.PostInfo) comment.PostInfo {
	if a.cfg.Viewers == nil {
		return info
	}
	n, err := a.cfg.Viewers.Total(ctx, info.PostID)
	if err != nil {
		a.log.Warn("join: viewers", "post", info.PostID, "err", err)
		return info // without viewers: the next change brings them
	}
	info.Viewers = &n
	a.infos.mu.Lock()
	defer a.infos.mu.Unlock()
	if st := a.infos.m[info.PostID]; st != nil {
		if !st.lockKnown {
			st.locked, st.slow, st.lockKnown = info.Locked, info.SlowMode, true
		}
		st.viewers = &n
		if info.Count != nil && st.count == nil {
			st.count = info.Count
		}
	}
	return info
}

// HandlePostInfo tells the post's room what changed about the post (its
// lock or slow mode): post_info {postId, viewers, locked, slowMode}, with
// the viewers last known.
func (a *Comments) HandlePostInfo(postID string, info comment.PostInfo) {
	a.svc.SlowModeChanged(postID, info.SlowMode)
	a.infos.mu.Lock()
	defer a.infos.mu.Unlock()
	if st := a.infos.m[postID]; st != nil {
		st.locked, st.slow, st.lockKnown = info.Locked, info.SlowMode, true
		info.Viewers, info.Count = st.viewers, st.count
	}
	a.emitPostInfoLocked(postID, info, false)
}

// HandleViewers tells the post's room its new number of viewers.
func (a *Comments) HandleViewers(postID string, viewers int) {
	a.infos.mu.Lock()
	defer a.infos.mu.Unlock()
	st := a.infos.m[postID]
	if st == nil {
		return // no readers left here
	}
	st.viewers = &viewers
	if !st.lockKnown {
		return // the first join is still reading it, and sends both
	}
	a.emitPostInfoLocked(postID, comment.PostInfo{PostID: postID, Viewers: &viewers, Count: st.count, Locked: st.locked, SlowMode: st.slow}, true)
}

// countInterval is the least time between two post_info of a post for its
// count: a busy post's readers hear it at most once a second.
const countInterval = time.Second

// countChanged notes that a post's count changed (a comment became visible
// or stopped being); its readers on this node get post_info with the new
// count once the interval since the last one has passed. Without readers
// here, nothing.
func (a *Comments) countChanged(postID string) {
	a.infos.mu.Lock()
	defer a.infos.mu.Unlock()
	st := a.infos.m[postID]
	if st == nil || st.counting {
		return
	}
	st.counting = true
	wait := max(countInterval-time.Since(st.countAt), 0)
	time.AfterFunc(wait, func() { a.sendCount(postID) })
}

// sendCount reads a post's count and tells its readers here.
func (a *Comments) sendCount(postID string) {
	ctx, cancel := a.ctx()
	defer cancel()
	counts, err := a.svc.Counts(ctx, []string{postID})
	a.infos.mu.Lock()
	defer a.infos.mu.Unlock()
	st := a.infos.m[postID]
	if st == nil {
		return
	}
	st.counting, st.countAt = false, time.Now()
	if err != nil {
		a.log.Warn("post_info: count failed", "post", postID, "err", err)
		return
	}
	n := counts[postID]
	if st.count != nil && *st.count == n {
		return
	}
	st.count = &n
	if st.lockKnown {
		a.emitPostInfoLocked(postID, comment.PostInfo{PostID: postID, Viewers: st.viewers, Count: &n, Locked: st.locked, SlowMode: st.slow}, true)
	}
}

// emitPostInfoLocked queues post_info on the room's sockets (no I/O: each
// socket's writer sends it). a.infos.mu must be held, so that post_info
// messages leave in the order their states were made. A notice (count or
// viewers: nothing about comments changed) goes with a batching reader's
// window; a lock or slow-mode change in the post's order.
func (a *Comments) emitPostInfoLocked(postID string, info comment.PostInfo, notice bool) {
	b, _ := json.Marshal(info)
	if notice {
		a.notice(postID, "post_info", json.RawMessage(b))
		return
	}
	a.inOrder(postID, func() { a.nsp.EmitToRaw(Room(postID), nil, "post_info", json.RawMessage(b)) })
}
