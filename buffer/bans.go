package buffer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/redis/go-redis/v9"
)

// BanList is the list of banned users, shared by every node through Redis
// and held in memory on each, so that checking a new comment's author
// costs no round trip (comment.Bans).
//
// The bans live in one hash, <prefix>:{bans}:bans (user id → stored ban),
// and every change is published on the sharded channel
// <prefix>:{bans}:events of the same hash slot (so both work on Redis
// Cluster) with a sequence number. A node loads the whole hash when its
// subscription is confirmed, at start and again each time go-redis
// resubscribes after a reconnect, so a message missed while disconnected
// cannot leave a ban stale; the sequence numbers let it ignore messages
// its load already reflects and apply the rest in order.
//
// A ban ends at its until time on every node's clock; hash fields do not
// expire, so ended bans are dropped from the hash by the next change.
type BanList struct {
	rdb      redis.UniversalClient
	key      string // the hash
	seqKey   string // the sequence counter
	auditKey string // the bans' audit log (stream)
	auditLen int64
	channel  string
	log      *slog.Logger

	mu   sync.RWMutex
	bans map[string]comment.Ban
	seen map[string]int64 // user id → sequence of the last change applied
	base int64            // sequence the last load reflects

	ps       *redis.PubSub
	loaded   chan struct{} // closed after the first load
	loadOnce sync.Once
	closing  chan struct{}
	done     chan struct{}
	once     sync.Once
}

var _ comment.Bans = (*BanList)(nil)

// storedBan is a ban as the hash holds it: times in Unix ms, until 0 for a
// ban until lifted (lua/ban.lua compares until with now).
type storedBan struct {
	Reason string `json:"reason"`
	By     string `json:"by"`
	At     int64  `json:"at"`
	Until  int64  `json:"until"`
}

func toStored(b comment.Ban) storedBan {
	s := storedBan{Reason: b.Reason, By: b.By, At: b.At.UnixMilli()}
	if !b.Until.IsZero() {
		s.Until = b.Until.UnixMilli()
	}
	return s
}

func (s storedBan) ban(userID string) comment.Ban {
	b := comment.Ban{UserID: userID, Reason: s.Reason, By: s.By, At: time.UnixMilli(s.At).UTC()}
	if s.Until > 0 {
		b.Until = time.UnixMilli(s.Until).UTC()
	}
	return b
}

// banMessage is what lua/ban.lua publishes: a ban put, or lifted (Ban nil).
type banMessage struct {
	Seq    int64      `json:"seq"`
	UserID string     `json:"userId"`
	Ban    *storedBan `json:"ban"`
}

// NewBanList subscribes to the ban list's channel and loads it; Wait
// returns once it is loaded. Close stops it.
func (b *Buffer) NewBanList() *BanList {
	l := &BanList{
		rdb:      b.rdb,
		key:      b.cfg.Prefix + ":{bans}:bans",
		seqKey:   b.cfg.Prefix + ":{bans}:bans:seq",
		auditKey: b.bansAuditKey(),
		auditLen: b.cfg.AuditLen,
		channel:  b.cfg.Prefix + ":{bans}:events",
		log:      b.cfg.Logger,
		bans:     map[string]comment.Ban{},
		seen:     map[string]int64{},
		loaded:   make(chan struct{}),
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
	}
	// An error here is retried: go-redis subscribes again on Receive.
	l.ps = b.rdb.SSubscribe(context.Background(), l.channel)
	go l.receive()
	return l
}

// Wait returns once the list was loaded from Redis the first time.
func (l *BanList) Wait(ctx context.Context) error {
	select {
	case <-l.loaded:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("load bans: %w", ctx.Err())
	}
}

// Close unsubscribes and waits for the receiver.
func (l *BanList) Close() error {
	l.once.Do(func() {
		close(l.closing)
		l.ps.Close()
	})
	<-l.done
	return nil
}

func (l *BanList) closed() bool {
	select {
	case <-l.closing:
		return true
	default:
		return false
	}
}

// receive applies the channel's messages, and loads the list whenever the
// subscription is (re)confirmed, until Close.
func (l *BanList) receive() {
	defer close(l.done)
	ctx := context.Background()
	for {
		msg, err := l.ps.Receive(ctx)
		if err != nil {
			if errors.Is(err, redis.ErrClosed) || l.closed() {
				return
			}
			// Not yet subscribed, or the connection broke: go-redis
			// reconnects and resubscribes on the next Receive.
			select {
			case <-l.closing:
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "ssubscribe" {
				l.reload()
			}
		case *redis.Message:
			var bm banMessage
			if err := json.Unmarshal([]byte(m.Payload), &bm); err != nil {
				l.log.Error("buffer: undecodable ban message", "err", err)
				continue
			}
			l.apply(bm.Seq, bm.UserID, bm.Ban)
		}
	}
}

// reload loads the whole list, retrying until it succeeds or Close: every
// change after the subscription is then either in the load or in a message
// still to come.
func (l *BanList) reload() {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := l.load()
		if err == nil {
			l.loadOnce.Do(func() { close(l.loaded) })
			return
		}
		l.log.Warn("buffer: load bans", "err", err)
		select {
		case <-l.closing:
			return
		case <-time.After(wait):
		}
	}
}

func (l *BanList) load() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var all *redis.MapStringStringCmd
	var seq *redis.StringCmd
	// One transaction: the hash as of the sequence number.
	_, err := l.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		all = p.HGetAll(ctx, l.key)
		seq = p.Get(ctx, l.seqKey)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return classify(err)
	}
	base, _ := strconv.ParseInt(seq.Val(), 10, 64)
	bans := make(map[string]comment.Ban, len(all.Val()))
	now := time.Now()
	for user, raw := range all.Val() {
		var s storedBan
		if err := json.Unmarshal([]byte(raw), &s); err != nil {
			l.log.Error("buffer: undecodable ban", "user", user, "err", err)
			continue
		}
		if b := s.ban(user); b.ActiveAt(now) {
			bans[user] = b
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bans, l.seen, l.base = bans, map[string]int64{}, base
	return nil
}

// apply applies change seq of a user's ban (nil: lifted), unless the list
// reflects it or a later one already.
func (l *BanList) apply(seq int64, userID string, s *storedBan) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq <= l.base || seq <= l.seen[userID] {
		return
	}
	l.seen[userID] = seq
	if s == nil {
		delete(l.bans, userID)
	} else {
		l.bans[userID] = s.ban(userID)
	}
}

// Banned returns the user's ban if one holds at now, from memory.
func (l *BanList) Banned(userID string, now time.Time) (comment.Ban, bool) {
	l.mu.RLock()
	b, ok := l.bans[userID]
	l.mu.RUnlock()
	if !ok || !b.ActiveAt(now) {
		return comment.Ban{}, false
	}
	return b, true
}

// Put stores a ban, publishes it to every node and logs it (the audit
// log); this node applies it before Put returns.
func (l *BanList) Put(ctx context.Context, b comment.Ban) error {
	s := toStored(b)
	raw, _ := json.Marshal(s)
	entry := comment.Audit{At: b.At, By: b.By, Action: comment.AuditBan, UserID: b.UserID, Reason: b.Reason}
	seq, _, err := l.run(ctx, "put", b.UserID, string(raw), entry)
	if err != nil {
		return err
	}
	l.apply(seq, b.UserID, &s)
	return nil
}

// Lift removes the user's ban, on every node, and returns it if there was
// one; a ban that held is logged as lifted by by at at (the audit log).
// This node applies it before Lift returns.
func (l *BanList) Lift(ctx context.Context, userID, by string, at time.Time) (comment.Ban, bool, error) {
	entry := comment.Audit{At: at, By: by, Action: comment.AuditUnban, UserID: userID}
	seq, old, err := l.run(ctx, "lift", userID, "", entry)
	if err != nil {
		return comment.Ban{}, false, err
	}
	l.apply(seq, userID, nil)
	if old == nil {
		return comment.Ban{}, false, nil
	}
	return old.ban(userID), true, nil
}

func (l *BanList) run(ctx context.Context, op, userID, ban string, entry comment.Audit) (int64, *storedBan, error) {
	res, err := banScript.Run(ctx, l.rdb, []string{l.key, l.seqKey, l.auditKey}, op, userID, ban, time.Now().UnixMilli(),
		l.channel, entry.JSON(), l.auditLen).Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("ban script returned %d values", len(res))
	}
	if err != nil {
		return 0, nil, fmt.Errorf("%s ban: %w", op, classify(err))
	}
	seq, _ := res[0].(int64)
	raw, ok := res[1].(string)
	if !ok {
		return seq, nil, nil
	}
	var old storedBan
	if err := json.Unmarshal([]byte(raw), &old); err != nil {
		return seq, nil, fmt.Errorf("%s ban: decode: %w", op, err)
	}
	return seq, &old, nil
}

// List returns the bans that hold at now, from Redis, by user id.
func (l *BanList) List(ctx context.Context, now time.Time) ([]comment.Ban, error) {
	all, err := l.rdb.HGetAll(ctx, l.key).Result()
	if err != nil {
		return nil, fmt.Errorf("list bans: %w", classify(err))
	}
	out := make([]comment.Ban, 0, len(all))
	for user, raw := range all {
		var s storedBan
		if json.Unmarshal([]byte(raw), &s) != nil {
			continue
		}
		if b := s.ban(user); b.ActiveAt(now) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b comment.Ban) int { return strings.Compare(a.UserID, b.UserID) })
	return out, nil
}
