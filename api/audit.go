package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/commentd/commentd/comment"
)

// The admin page's reads: the audit log of moderation actions and the
// live figures. Moderators only (moderatorOf).

// getAuditLog serves GET /api/moderation/log?limit=&before=: the audit
// log, newest first, {ok, entries, next}; next (null on the last page) is
// the before of the next, older, page.
func (a *Comments) getAuditLog(ctx context.Context, id identity, r *http.Request, _ []byte) (map[string]any, error) {
	q := r.URL.Query()
	limit := comment.DefaultAuditLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, comment.Errorf(comment.CodeInvalidPayload, "limit must be a number from 1 to 1000")
		}
		limit = n
	}
	page, err := a.svc.AuditLog(ctx, id.actor(), q.Get("before"), limit)
	if err != nil {
		return nil, err
	}
	entries := page.Entries
	if entries == nil {
		entries = []comment.Audit{}
	}
	return map[string]any{"entries": entries, "next": cursor(page.Next)}, nil
}

// Stats are the live figures of GET /api/moderation/stats.
type Stats struct {
	// CommentsPerSecond is the rate of new comments this node accepted
	// over the last seconds (not the cluster's: each node counts its own).
	CommentsPerSecond float64 `json:"commentsPerSecond"`
	// BufferDepth is the number of entries (comments and changes) in
	// Redis not yet in MongoDB, of every shard: the cluster's.
	BufferDepth int64 `json:"bufferDepth"`
	// Shards is the depth of each shard.
	Shards []ShardDepth `json:"shards"`
	// Connections is the number of connections open on this node.
	Connections int `json:"connections"`
}

// ShardDepth is one shard's share of Stats.BufferDepth.
type ShardDepth struct {
	Shard int   `json:"shard"`
	Depth int64 `json:"depth"`
}

// StatsSource computes the live figures (the binary, from what its
// metrics read).
type StatsSource interface {
	Stats(ctx context.Context) (Stats, error)
}

// getStats serves GET /api/moderation/stats.
func (a *Comments) getStats(ctx context.Context, _ identity, _ *http.Request, _ []byte) (map[string]any, error) {
	if a.cfg.Stats == nil {
		return nil, comment.Errorf(comment.CodeUnavailable, "figures are not available on this server")
	}
	st, err := a.cfg.Stats.Stats(ctx)
	if err != nil {
		a.log.Warn("stats", "err", err)
		return nil, comment.Errorf(comment.CodeUnavailable, "figures are unavailable, try again")
	}
	if st.Shards == nil {
		st.Shards = []ShardDepth{}
	}
	return map[string]any{"commentsPerSecond": st.CommentsPerSecond, "bufferDepth": st.BufferDepth,
		"shards": st.Shards, "connections": st.Connections}, nil
}
