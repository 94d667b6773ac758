package buffer

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/redis/go-redis/v9"
)

// AcquireLease takes shard's lease for ttl if no one holds it, and returns
// its fencing token. ok is false when another holder has it.
func (b *Buffer) AcquireLease(ctx context.Context, shard int, owner string, ttl time.Duration) (token string, ok bool, err error) {
	res, err := acquireScript.Run(ctx, b.rdb,
		[]string{b.key(shard, "lease"), b.key(shard, "leasegen")}, owner, ttl.Milliseconds()).Text()
	if err == redis.Nil {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("acquire lease of shard %d: %w", shard, classify(err))
	}
	return res, true, nil
}

// RenewLease extends the lease of token by ttl. ok is false when token is no
// longer the lease (it expired, and perhaps someone else took it).
func (b *Buffer) RenewLease(ctx context.Context, shard int, token string, ttl time.Duration) (ok bool, err error) {
	n, err := renewScript.Run(ctx, b.rdb, []string{b.key(shard, "lease")}, token, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("renew lease of shard %d: %w", shard, classify(err))
	}
	return n == 1, nil
}

// ReleaseLease gives up the lease of token, if it still is the lease.
func (b *Buffer) ReleaseLease(ctx context.Context, shard int, token string) error {
	if err := releaseScript.Run(ctx, b.rdb, []string{b.key(shard, "lease")}, token).Err(); err != nil {
		return fmt.Errorf("release lease of shard %d: %w", shard, classify(err))
	}
	return nil
}

// Pending returns how many comments of shard are not yet in MongoDB:
// buffered plus in flight.
func (b *Buffer) Pending(ctx context.Context, shard int) (int64, error) {
	var buf, inflight *redis.IntCmd
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		buf = p.LLen(ctx, b.key(shard, "buf"))
		inflight = p.LLen(ctx, b.key(shard, "inflight"))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("pending of shard %d: %w", shard, classify(err))
	}
	return buf.Val() + inflight.Val(), nil
}

// Depth returns how many comments of shard are not yet in MongoDB, and when
// the oldest of them was created (zero if none).
func (b *Buffer) Depth(ctx context.Context, shard int) (int64, time.Time, error) {
	var buf, inflight *redis.IntCmd
	var head, ihead *redis.StringCmd
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		buf = p.LLen(ctx, b.key(shard, "buf"))
		inflight = p.LLen(ctx, b.key(shard, "inflight"))
		ihead = p.LIndex(ctx, b.key(shard, "inflight"), 0)
		head = p.LIndex(ctx, b.key(shard, "buf"), 0)
		return nil
	})
	if err != nil && err != redis.Nil {
		return 0, time.Time{}, fmt.Errorf("depth of shard %d: %w", shard, classify(err))
	}
	oldest := ihead.Val()
	if oldest == "" {
		oldest = head.Val()
	}
	var at time.Time
	if oldest != "" {
		if ch, err := comment.DecodeEntry([]byte(oldest)); err == nil {
			at = ch.At
		}
	}
	return buf.Val() + inflight.Val(), at, nil
}

// Claim returns the batch to flush next under the lease of token: the
// in-flight batch if a previous holder left one, else up to max entries
// (new comments and changes) moved from the shard's list to its in-flight
// list, oldest first. An entry that cannot be decoded is dead-lettered.
// The batch's posts are marked stored (MarkStored) before it is returned.
func (b *Buffer) Claim(ctx context.Context, shard int, token string, max int) ([]comment.Change, error) {
	raw, err := claimScript.Run(ctx, b.rdb,
		[]string{b.key(shard, "buf"), b.key(shard, "inflight"), b.key(shard, "lease")}, token, max).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("claim from shard %d: %w", shard, classify(err))
	}
	out := make([]comment.Change, 0, len(raw))
	var bad []string
	for _, s := range raw {
		ch, err := comment.DecodeEntry([]byte(s))
		if err != nil {
			bad = append(bad, s)
			continue
		}
		out = append(out, ch)
	}
	if len(bad) > 0 {
		b.cfg.Logger.Error("buffer: undecodable entries in shard", "shard", shard, "count", len(bad))
		if err := b.rdb.RPush(ctx, b.key(shard, "dead"), toAny(deadRaw(bad))...).Err(); err != nil {
			return nil, fmt.Errorf("claim from shard %d: dead-letter undecodable: %w", shard, classify(err))
		}
	}
	// Before the batch can be written: see stored.go.
	if err := b.markBatch(ctx, out); err != nil {
		return nil, fmt.Errorf("claim from shard %d: %w", shard, err)
	}
	return out, nil
}

// Ack ends the batch claimed under token: it is in MongoDB, except for the
// dead letters, which are kept in the shard's dead-letter list. It fails with
// ErrLeaseLost if token is no longer the lease; the batch then stays in
// flight for the next holder (writing it again is harmless: ids are unique
// and updates are guarded by version).
func (b *Buffer) Ack(ctx context.Context, shard int, token string, dead []comment.Rejected) error {
	args := make([]any, 1, 1+len(dead))
	args[0] = token
	now := time.Now()
	for _, d := range dead {
		dl := DeadLetter{Comment: d.Change.State, Reason: d.Reason, At: now.UTC()}
		if d.Change.Op != comment.OpCreate {
			ch := d.Change
			dl.Change = &ch
		}
		p, err := json.Marshal(dl)
		if err != nil {
			return fmt.Errorf("ack shard %d: %w", shard, err)
		}
		args = append(args, string(p))
	}
	err := ackScript.Run(ctx, b.rdb,
		[]string{b.key(shard, "inflight"), b.key(shard, "lease"), b.key(shard, "dead"), b.key(shard, "acks")}, args...).Err()
	if err != nil {
		return fmt.Errorf("ack shard %d: %w", shard, classify(err))
	}
	return nil
}

// DeadLetter is a write MongoDB kept refusing, with the reason: a new
// comment, or a change (Comment is then the state it was to set).
type DeadLetter struct {
	Comment comment.Comment `json:"comment"`
	Change  *comment.Change `json:"change,omitempty"`
	Reason  string          `json:"reason"`
	At      time.Time       `json:"at"`
	Raw     string          `json:"raw,omitempty"` // an entry that could not be decoded
}

func deadRaw(raw []string) []string {
	out := make([]string, len(raw))
	now := time.Now().UTC()
	for i, s := range raw {
		p, _ := json.Marshal(DeadLetter{Reason: "undecodable entry", At: now, Raw: s})
		out[i] = string(p)
	}
	return out
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// DeadLetters returns the dead letters of shard, oldest first.
func (b *Buffer) DeadLetters(ctx context.Context, shard int) ([]DeadLetter, error) {
	raw, err := b.rdb.LRange(ctx, b.key(shard, "dead"), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("dead letters of shard %d: %w", shard, classify(err))
	}
	out := make([]DeadLetter, 0, len(raw))
	for _, s := range raw {
		var d DeadLetter
		if err := json.Unmarshal([]byte(s), &d); err != nil {
			d = DeadLetter{Reason: "undecodable dead letter", Raw: s}
		}
		out = append(out, d)
	}
	return out, nil
}

// Heartbeat records owner as a live flusher until ttl from now and returns
// how many flushers are alive. The registry is one sorted set, by deadline.
func (b *Buffer) Heartbeat(ctx context.Context, owner string, ttl time.Duration) (int, error) {
	key := b.cfg.Prefix + ":flushers"
	now := time.Now()
	var card *redis.IntCmd
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, key, redis.Z{Score: float64(now.Add(ttl).UnixMilli()), Member: owner})
		p.ZRemRangeByScore(ctx, key, "-inf", fmt.Sprint(now.UnixMilli()))
		card = p.ZCard(ctx, key)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("heartbeat: %w", classify(err))
	}
	return int(card.Val()), nil
}

// HolderAlive reports whether the lease of shard is held by a flusher
// whose heartbeat is current. A lease token is "<owner>/<n>".
func (b *Buffer) HolderAlive(ctx context.Context, shard int) (bool, error) {
	token, err := b.rdb.Get(ctx, b.key(shard, "lease")).Result()
	if err == redis.Nil {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lease holder of shard %d: %w", shard, classify(err))
	}
	owner := token
	if i := strings.LastIndexByte(token, '/'); i >= 0 {
		owner = token[:i]
	}
	deadline, err := b.rdb.ZScore(ctx, b.cfg.Prefix+":flushers", owner).Result()
	if err == redis.Nil {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lease holder of shard %d: %w", shard, classify(err))
	}
	return int64(deadline) > time.Now().UnixMilli(), nil
}

// Leave removes owner from the live flushers.
func (b *Buffer) Leave(ctx context.Context, owner string) error {
	if err := b.rdb.ZRem(ctx, b.cfg.Prefix+":flushers", owner).Err(); err != nil {
		return fmt.Errorf("leave: %w", classify(err))
	}
	return nil
}
