package comment

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Ban is a user barred from posting: by whom, when, why, and until when
// (the zero Until: until a moderator lifts it).
type Ban struct {
	UserID string
	Reason string
	By     string    // the moderator who banned
	At     time.Time // UTC milliseconds
	Until  time.Time // UTC milliseconds; zero: until lifted
}

// ActiveAt reports whether the ban holds at t.
func (b Ban) ActiveAt(t time.Time) bool { return b.Until.IsZero() || t.Before(b.Until) }

// untilText says until when a ban holds, for a client's message.
func (b Ban) untilText() string {
	if b.Until.IsZero() {
		return "until a moderator lifts the ban"
	}
	return "until " + b.Until.UTC().Format(TimeLayout)
}

type wireBan struct {
	UserID string  `json:"userId"`
	Reason string  `json:"reason"`
	By     string  `json:"by"`
	At     string  `json:"at"`
	Until  *string `json:"until"` // null: until lifted
}

// MarshalJSON encodes the wire form {userId, reason, by, at, until}, until
// null for a ban without end; times RFC 3339 UTC with milliseconds.
func (b Ban) MarshalJSON() ([]byte, error) {
	w := wireBan{UserID: b.UserID, Reason: b.Reason, By: b.By, At: b.At.UTC().Format(TimeLayout)}
	if !b.Until.IsZero() {
		u := b.Until.UTC().Format(TimeLayout)
		w.Until = &u
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes the wire form.
func (b *Ban) UnmarshalJSON(data []byte) error {
	var w wireBan
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	at, err := time.Parse(time.RFC3339Nano, w.At)
	if err != nil {
		return fmt.Errorf("ban: at: %w", err)
	}
	*b = Ban{UserID: w.UserID, Reason: w.Reason, By: w.By, At: at.UTC()}
	if w.Until != nil {
		u, err := time.Parse(time.RFC3339Nano, *w.Until)
		if err != nil {
			return fmt.Errorf("ban: until: %w", err)
		}
		b.Until = u.UTC()
	}
	return nil
}

// Bans is the ban list as the Service needs it. Banned is on the path of
// every new comment: it answers from memory, without a round trip.
type Bans interface {
	// Banned returns the user's ban, if one holds at now.
	Banned(userID string, now time.Time) (Ban, bool)
	// Put stores a ban (replacing one of the same user) and makes it hold
	// on every node; it is logged (the audit log) as made by b.By at b.At
	// for b.Reason.
	Put(ctx context.Context, b Ban) error
	// Lift removes the user's ban and returns it, if there was one; a
	// ban that held at at is logged as lifted by by (the audit log).
	Lift(ctx context.Context, userID, by string, at time.Time) (Ban, bool, error)
	// List returns the bans that hold at now.
	List(ctx context.Context, now time.Time) ([]Ban, error)
}

// Locks is the lock state of posts as the Service needs it. The buffer
// refuses new comments and edits of a locked post itself, atomically with
// the append (ErrLocked).
type Locks interface {
	// SetLocked locks or unlocks a post and tells its readers on every
	// node (post_info); changed is false if it already was so. A change
	// is logged (the audit log) as made by by at at for reason.
	SetLocked(ctx context.Context, postID string, locked bool, by, reason string, at time.Time) (changed bool, err error)
	// Locked reports whether a post is locked.
	Locked(ctx context.Context, postID string) (bool, error)
}

// SlowModes is the slow mode of posts (the buffer): each user may comment
// on a slow post once per interval.
type SlowModes interface {
	// SetSlowMode sets a post's interval in seconds (0: off) and tells
	// its readers on every node (post_info); changed is false if it
	// already was so. A change is logged as made by by at at for reason.
	SetSlowMode(ctx context.Context, postID string, seconds int, by, reason string, at time.Time) (changed bool, err error)
	// SlowMode returns a post's interval in seconds (0: off).
	SlowMode(ctx context.Context, postID string) (int, error)
	// SlowPass lets userID comment if it did not within seconds, and
	// starts its interval; else it returns how long to wait.
	SlowPass(ctx context.Context, postID, userID string, seconds int) (wait time.Duration, err error)
}

// MaxSlowMode is the longest slow-mode interval, in seconds.
const MaxSlowMode = 3600

// slowCacheFor is how long a node trusts the slow mode it read of a post:
// a change reaches other nodes' new comments within it.
const slowCacheFor = 2 * time.Second

// PostInfo is what readers of a post are told about it (post_info).
// Viewers, the sockets reading the post on every node, is filled in by
// the node that sends it (nil: not counted, and left out).
type PostInfo struct {
	PostID  string `json:"postId"`
	Count   *int   `json:"count,omitempty"` // comments a reader may see (Counts); nil: not known
	Viewers *int   `json:"viewers,omitempty"`
	Locked  bool   `json:"locked"`
	// SlowMode is the seconds a user waits between two comments (0: off).
	SlowMode int `json:"slowMode,omitempty"`
}

// BanRequest is what a moderator asks with ban_user.
type BanRequest struct {
	UserID   string
	Duration time.Duration // 0: until lifted
	Reason   string
}

// Limits of a ban request.
const (
	MaxBanReasonRunes = MaxReasonRunes
	MaxBanDuration    = 100 * 365 * 24 * time.Hour // longer is "until lifted" (0)
)

// Validate checks a ban request.
func (r BanRequest) Validate() error {
	if err := ValidateUserID(r.UserID); err != nil {
		return err
	}
	if r.Duration < 0 || r.Duration > MaxBanDuration {
		return Errorf(CodeInvalidPayload, "duration must be between 0 (until lifted) and 3153600000 seconds")
	}
	return ValidateReason(r.Reason)
}

// errNoBans is what a Service without a ban list answers.
var errNoBans = Errorf(CodeUnavailable, "bans are not available on this server")

// banned returns BANNED if userID is banned now.
func (s *Service) banned(userID string) error {
	if s.cfg.Bans == nil || userID == "" {
		return nil
	}
	if b, ok := s.cfg.Bans.Banned(userID, s.cfg.Now()); ok {
		return Errorf(CodeBanned, "you are banned from commenting "+b.untilText())
	}
	return nil
}

// BanUser bans a user from posting and editing, on every node, for
// req.Duration (0: until lifted). Moderators only.
func (s *Service) BanUser(ctx context.Context, actor Actor, req BanRequest) (Ban, error) {
	if !actor.Moderator {
		return Ban{}, Errorf(CodeForbidden, "only moderators may ban users")
	}
	if err := req.Validate(); err != nil {
		return Ban{}, err
	}
	if s.cfg.Bans == nil {
		return Ban{}, errNoBans
	}
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
	b := Ban{UserID: req.UserID, Reason: strings.TrimSpace(req.Reason), By: actor.UserID, At: now}
	if req.Duration > 0 {
		b.Until = now.Add(req.Duration).Truncate(time.Millisecond)
	}
	if err := s.cfg.Bans.Put(ctx, b); err != nil {
		return Ban{}, s.clientError(err)
	}
	return b, nil
}

// UnbanUser lifts a user's ban and returns it; NOT_FOUND if none holds.
// Moderators only.
func (s *Service) UnbanUser(ctx context.Context, actor Actor, userID string) (Ban, error) {
	if !actor.Moderator {
		return Ban{}, Errorf(CodeForbidden, "only moderators may lift bans")
	}
	if err := ValidateUserID(userID); err != nil {
		return Ban{}, err
	}
	if s.cfg.Bans == nil {
		return Ban{}, errNoBans
	}
	b, found, err := s.cfg.Bans.Lift(ctx, userID, actor.UserID, s.cfg.Now().UTC().Truncate(time.Millisecond))
	if err != nil {
		return Ban{}, s.clientError(err)
	}
	if !found || !b.ActiveAt(s.cfg.Now()) {
		return Ban{}, Errorf(CodeNotFound, "this user is not banned")
	}
	return b, nil
}

// ListBans returns the bans that hold now. Moderators only.
func (s *Service) ListBans(ctx context.Context, actor Actor) ([]Ban, error) {
	if !actor.Moderator {
		return nil, Errorf(CodeForbidden, "only moderators may list bans")
	}
	if s.cfg.Bans == nil {
		return nil, errNoBans
	}
	bans, err := s.cfg.Bans.List(ctx, s.cfg.Now())
	if err != nil {
		return nil, s.clientError(err)
	}
	return bans, nil
}

// LockPost locks a post (no new comments, no edits: POST_LOCKED) or
// unlocks it; readers of the post on every node get post_info. Deletes and
// moderation still apply to a locked post. Moderators only.
func (s *Service) LockPost(ctx context.Context, actor Actor, postID string, locked bool, reason string) (PostInfo, error) {
	if !actor.Moderator {
		return PostInfo{}, Errorf(CodeForbidden, "only moderators may lock posts")
	}
	if err := ValidatePostID(postID); err != nil {
		return PostInfo{}, err
	}
	if err := ValidateReason(reason); err != nil {
		return PostInfo{}, err
	}
	if s.cfg.Locks == nil {
		return PostInfo{}, Errorf(CodeUnavailable, "locks are not available on this server")
	}
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
	if _, err := s.cfg.Locks.SetLocked(ctx, postID, locked, actor.UserID, CleanReason(reason), now); err != nil {
		return PostInfo{}, s.clientError(err)
	}
	return PostInfo{PostID: postID, Locked: locked}, nil
}

// SetSlowMode sets a post's slow mode: each user who does not moderate
// may comment once per seconds (0 turns it off, at most MaxSlowMode);
// readers of the post on every node get post_info. Moderators only.
func (s *Service) SetSlowMode(ctx context.Context, actor Actor, postID string, seconds int, reason string) (PostInfo, error) {
	if !actor.Moderator {
		return PostInfo{}, Errorf(CodeForbidden, "only moderators may set slow mode")
	}
	if err := ValidatePostID(postID); err != nil {
		return PostInfo{}, err
	}
	if seconds < 0 || seconds > MaxSlowMode {
		return PostInfo{}, Errorf(CodeInvalidPayload, fmt.Sprintf("slow mode takes 0 (off) to %d seconds", MaxSlowMode))
	}
	if err := ValidateReason(reason); err != nil {
		return PostInfo{}, err
	}
	if s.cfg.Slow == nil {
		return PostInfo{}, Errorf(CodeUnavailable, "slow mode is not available on this server")
	}
	now := s.cfg.Now().UTC().Truncate(time.Millisecond)
	if _, err := s.cfg.Slow.SetSlowMode(ctx, postID, seconds, actor.UserID, CleanReason(reason), now); err != nil {
		return PostInfo{}, s.clientError(err)
	}
	s.mu.Lock()
	s.slow[postID] = slowEntry{seconds, time.Now().Add(slowCacheFor)}
	s.mu.Unlock()
	return s.PostInfo(ctx, postID)
}

type slowEntry struct {
	seconds int
	until   time.Time
}

// slowMode returns a post's slow mode as this node read it within
// slowCacheFor.
func (s *Service) slowMode(ctx context.Context, postID string) (int, error) {
	s.mu.Lock()
	e, ok := s.slow[postID]
	s.mu.Unlock()
	if ok && time.Now().Before(e.until) {
		return e.seconds, nil
	}
	seconds, err := s.cfg.Slow.SlowMode(ctx, postID)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	if len(s.slow) >= 100_000 {
		clear(s.slow) // a bound: forgetting costs a read
	}
	s.slow[postID] = slowEntry{seconds, time.Now().Add(slowCacheFor)}
	s.mu.Unlock()
	return seconds, nil
}

// SlowModeChanged tells the Service of a post's slow mode as a post_info
// of the post brought it (this node has readers of it), so that this
// node applies a change before its cached read expires.
func (s *Service) SlowModeChanged(postID string, seconds int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.slow[postID]; ok {
		s.slow[postID] = slowEntry{seconds, time.Now().Add(slowCacheFor)}
	}
}

// slowPass refuses a comment of a user who commented on a slow post less
// than its interval ago (SLOW_MODE), and starts the interval of one it
// lets through. Moderators are not slowed.
func (s *Service) slowPass(ctx context.Context, in Input) error {
	if s.cfg.Slow == nil || in.Moderator {
		return nil
	}
	seconds, err := s.slowMode(ctx, in.PostID)
	if err != nil {
		return s.clientError(err)
	}
	if seconds == 0 {
		return nil
	}
	wait, err := s.cfg.Slow.SlowPass(ctx, in.PostID, in.UserID, seconds)
	if err != nil {
		return s.clientError(err)
	}
	if wait > 0 {
		return Errorf(CodeSlowMode, fmt.Sprintf("slow mode: one comment every %ds here; wait %ds", seconds, int((wait+time.Second-1)/time.Second)))
	}
	return nil
}

// PostInfo returns what readers of a post are told on join.
func (s *Service) PostInfo(ctx context.Context, postID string) (PostInfo, error) {
	if err := ValidatePostID(postID); err != nil {
		return PostInfo{}, err
	}
	info := PostInfo{PostID: postID}
	if s.counter != nil {
		// A join never waits for a database count: a post not counted yet
		// gets its count in a later post_info.
		if counts, err := s.counter.Cached(ctx, []string{postID}); err != nil {
			s.cfg.Logger.Warn("post_info: count failed", "post", postID, "err", err)
		} else if n, ok := counts[postID]; ok {
			info.Count = &n
		}
	}
	if s.cfg.Locks == nil {
		return info, nil
	}
	locked, err := s.cfg.Locks.Locked(ctx, postID)
	if err != nil {
		return PostInfo{}, s.clientError(err)
	}
	info.Locked = locked
	if s.cfg.Slow != nil {
		if info.SlowMode, err = s.slowMode(ctx, postID); err != nil {
			return PostInfo{}, s.clientError(err)
		}
	}
	return info, nil
}

// lockedWriteThrough refuses a new comment or an edit of a locked post in
// write-through mode, before the database write. Not atomic with it: the
// naive design has no single place where both happen; the write-behind
// path checks in the append script.
func (s *Service) lockedWriteThrough(ctx context.Context, postID string) error {
	if s.cfg.Locks == nil {
		return nil
	}
	locked, err := s.cfg.Locks.Locked(ctx, postID)
	if err != nil {
		return s.clientError(err)
	}
	if locked {
		return s.clientError(ErrLocked)
	}
	return nil
}
