package buffer

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/commentd/commentd/comment"
	"github.com/redis/go-redis/v9"
)

// The audit log of moderation actions is a set of Redis streams, each
// written by the script that applies the action, in the same step (so the
// log is exactly what was applied, on Redis Cluster too):
//
//	<prefix>:{n}:audit      moderate ops, a moderator's delete (append.lua),
//	                        lock and unlock of the shard's posts (lock.lua)
//	<prefix>:{bans}:audit   ban and unban (ban.lua)
//
// Each entry holds one field, entry: a comment.Audit's JSON. Each stream
// keeps about Config.AuditLen entries (XADD MAXLEN ~): the log is capped,
// and as durable as the buffer (Redis with AOF). AuditLog merges the
// streams newest first.
//
// An entry's id is its stream id and its stream: "<ms>-<seq>-<src>", src
// the shard's number or "b" for the bans. Ids order entries by the time
// Redis added them, then by stream (shards in order, the bans last), so a
// page boundary never splits or repeats entries of the same millisecond.

// bansAuditKey is the audit log of the bans, in their hash slot.
func (b *Buffer) bansAuditKey() string { return b.cfg.Prefix + ":{bans}:audit" }

// auditSource is one stream of the audit log: its key, its name in entry
// ids, and its rank among streams.
type auditSource struct {
	key  string
	name string
	rank int
}

func (b *Buffer) auditSources() []auditSource {
	out := make([]auditSource, 0, b.cfg.Shards+1)
	for shard := range b.cfg.Shards {
		out = append(out, auditSource{key: b.key(shard, "audit"), name: strconv.Itoa(shard), rank: shard})
	}
	return append(out, auditSource{key: b.bansAuditKey(), name: "b", rank: b.cfg.Shards})
}

// auditPos is an entry's place in the merged log.
type auditPos struct {
	ms, seq uint64
	rank    int
}

func (p auditPos) compare(q auditPos) int {
	switch {
	case p.ms != q.ms:
		return cmpUint(p.ms, q.ms)
	case p.seq != q.seq:
		return cmpUint(p.seq, q.seq)
	}
	return p.rank - q.rank
}

func cmpUint(a, b uint64) int {
	if a < b {
		return -1
	}
	return 1
}

// streamID is the position's id within its stream.
func (p auditPos) streamID() string { return fmt.Sprintf("%d-%d", p.ms, p.seq) }

// parseStreamID parses a Redis stream id "<ms>-<seq>".
func parseStreamID(id string) (ms, seq uint64, err error) {
	a, c, ok := strings.Cut(id, "-")
	if !ok {
		return 0, 0, fmt.Errorf("stream id %q", id)
	}
	if ms, err = strconv.ParseUint(a, 10, 64); err != nil {
		return 0, 0, err
	}
	if seq, err = strconv.ParseUint(c, 10, 64); err != nil {
		return 0, 0, err
	}
	return ms, seq, nil
}

// parseAuditID parses an entry id of AuditLog.
func (b *Buffer) parseAuditID(id string) (auditPos, bool) {
	i := strings.LastIndexByte(id, '-')
	if i < 0 {
		return auditPos{}, false
	}
	ms, seq, err := parseStreamID(id[:i])
	if err != nil {
		return auditPos{}, false
	}
	for _, s := range b.auditSources() {
		if s.name == id[i+1:] {
			return auditPos{ms: ms, seq: seq, rank: s.rank}, true
		}
	}
	return auditPos{}, false
}

// AuditLog returns up to limit entries of the audit log older than the one
// of id before ("" for the newest), newest first, and whether older ones
// remain. A before that is not an entry id fails with comment.ErrBadCursor.
// One round trip: an XREVRANGE of limit+1 entries on each stream.
func (b *Buffer) AuditLog(ctx context.Context, before string, limit int) ([]comment.Audit, bool, error) {
	var cur *auditPos
	if before != "" {
		p, ok := b.parseAuditID(before)
		if !ok {
			return nil, false, comment.ErrBadCursor
		}
		cur = &p
	}
	srcs := b.auditSources()
	cmds := make([]*redis.XMessageSliceCmd, len(srcs))
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, s := range srcs {
			top := "+"
			if cur != nil {
				// Older than the cursor: below its stream id, or at it in
				// a stream ranked before the cursor's.
				top = "(" + cur.streamID()
				if s.rank < cur.rank {
					top = cur.streamID()
				}
			}
			cmds[i] = p.XRevRangeN(ctx, s.key, top, "-", int64(limit)+1)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("audit log: %w", classify(err))
	}
	type placed struct {
		pos auditPos
		a   comment.Audit
	}
	var all []placed
	for i, cmd := range cmds {
		for _, m := range cmd.Val() {
			ms, seq, err := parseStreamID(m.ID)
			raw, _ := m.Values["entry"].(string)
			var a comment.Audit
			if err == nil {
				err = a.UnmarshalJSON([]byte(raw))
			}
			if err != nil {
				b.cfg.Logger.Error("buffer: undecodable audit entry", "stream", srcs[i].key, "id", m.ID, "err", err)
				continue
			}
			a.ID = m.ID + "-" + srcs[i].name
			all = append(all, placed{pos: auditPos{ms: ms, seq: seq, rank: srcs[i].rank}, a: a})
		}
	}
	slices.SortFunc(all, func(x, y placed) int { return y.pos.compare(x.pos) })
	more := len(all) > limit
	if more {
		all = all[:limit]
	}
	out := make([]comment.Audit, len(all))
	for i, p := range all {
		out[i] = p.a
	}
	return out, more, nil
}
