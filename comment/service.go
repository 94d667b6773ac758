package comment

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AppendCallback is told the outcome of an append: the comment as stored
// (the first one under its idempotency key, with dup true, for a retry), or
// why it was not.
type AppendCallback func(stored Comment, dup bool, err error)

// PostCallback is told the outcome of a post: the comment as stored, or an
// *Error with a stable code.
type PostCallback func(c Comment, err error)

// Buffer is the write-behind buffer as the Service needs it.
type Buffer interface {
	// AppendOnceAsync buffers c and publishes it to the post's readers.
	// It returns once c is queued (a caller's comments are appended in the
	// order of its calls); done gets the outcome, on another goroutine
	// unless c could not be queued. With a key, a second comment under the
	// same key within the buffer's window is not appended: done gets the
	// first one, with dup true. parent is the state of the comment c
	// replies to, nil for a top-level one.
	AppendOnceAsync(ctx context.Context, c Comment, key string, parent *Comment, done AppendCallback)
	// React applies a reaction and returns the comment's state after it
	// (unchanged if the user's reaction was already so). It fails with
	// ErrStale if the comment changed in a way that needs a new decision
	// (deleted), ErrUnknownReactor if the database must be asked.
	React(ctx context.Context, r Reaction) (Comment, error)
	// Recent returns up to n of the post's latest comments, oldest first,
	// and whether they are known to be all the post has.
	Recent(ctx context.Context, postID string, n int) (cs []Comment, complete bool, err error)
	// Seed puts older comments (newest first) from the Store in front of
	// the post's recent ones, if the oldest is still headID.
	Seed(ctx context.Context, postID, headID string, older []Comment, complete bool) error
	// NeverStored reports whether the post is known to have nothing in
	// the Store, so that its joins and history need no Store read.
	// MarkStored records that posts may have comments in the Store: it
	// must return before any of their comments is written there.
	NeverStored(ctx context.Context, postID string) (bool, error)
	MarkStored(ctx context.Context, postIDs []string) error

	// State returns a comment's current state if Redis holds it: changed
	// lately, or among the post's recent comments.
	State(ctx context.Context, postID, commentID string) (Comment, bool, error)
	// Apply appends a change to the post's shard and applies it to the
	// post's state, if the comment is still at version base; else it
	// returns an error wrapping ErrStale. With buffered false the change
	// is applied and published but not queued for the flusher (it is in
	// the database already: write-through).
	Apply(ctx context.Context, ch Change, base int, buffered bool) error
	// ChangedSince returns the current state of the post's comments
	// changed at or after t (as far back as Redis keeps them).
	ChangedSince(ctx context.Context, postID string, t time.Time) ([]Comment, error)
	// Overrides returns the states Redis holds for changed comments among
	// ids, newer than or as new as the database's.
	Overrides(ctx context.Context, postID string, ids []string) (map[string]Comment, error)
	// Events returns the post's events published after the one of id
	// after, oldest first, if Redis still holds that one (found).
	Events(ctx context.Context, postID, after string) (evs []Change, found bool, err error)

	// Pinned returns the post's pinned comments, oldest first.
	Pinned(ctx context.Context, postID string) ([]Comment, error)
	// Queue returns the comments held for moderation, oldest first.
	Queue(ctx context.Context, limit int) ([]Comment, error)
	// Trusted reports whether a moderator approved a comment of userID;
	// Trust records it.
	Trusted(ctx context.Context, userID string) (bool, error)
	Trust(ctx context.Context, userID string) error
}

// Publisher publishes a comment to the post's readers and recent history
// without buffering it: the write-through path.
type Publisher interface {
	Publish(ctx context.Context, c Comment) error
}

// Store is the database as the Service needs it.
type Store interface {
	InsertMany(ctx context.Context, cs []Comment) ([]Rejected, error)
	// Write stores changes (versioned, idempotent): write-through.
	Write(ctx context.Context, chs []Change) ([]Rejected, error)
	// History returns up to limit visible comments older than before,
	// newest first; HistoryAll the hidden and held ones too.
	History(ctx context.Context, postID, before string, limit int) ([]Comment, error)
	HistoryAll(ctx context.Context, postID, before string, limit int) ([]Comment, error)
	// Get returns a stored comment by id.
	Get(ctx context.Context, id string) (Comment, bool, error)
	// ByUser returns up to limit stored comments of a user older than
	// before, newest first, in whatever state.
	ByUser(ctx context.Context, userID, before string, limit int) ([]Comment, error)
	// Replies returns up to limit direct replies to parentID older than
	// before, newest first; with all, the hidden and held ones too.
	Replies(ctx context.Context, postID, parentID, before string, limit int, all bool) ([]Comment, error)
	// Reacted reports whether a user's reaction to a comment is stored.
	Reacted(ctx context.Context, commentID, userID, reaction string) (bool, error)
}

// ServiceConfig configures a Service. Zero fields take the defaults noted.
type ServiceConfig struct {
	HistoryLimit int              // comments sent on join; 100
	MaxRunes     int              // longest content; DefaultMaxRunes
	WriteThrough bool             // insert into the Store before confirming (the naive design)
	StoreTimeout time.Duration    // limit of a Store read on join; 2s
	EditWindow   time.Duration    // an author edits or deletes within this; 15m (<0: no limit)
	Moderation   string           // which new comments are held: ModerateOff (default), ...All, ...Guests, ...First
	Bans         Bans             // the ban list; nil: nobody is banned, ban_user is UNAVAILABLE
	Locks        Locks            // post locks (the buffer); nil: lock_post is UNAVAILABLE
	Slow         SlowModes        // posts' slow mode (the buffer); nil: slow_mode is UNAVAILABLE
	Audit        AuditLog         // the audit log of moderation actions; nil: it cannot be read
	Traces       UserTraces       // a user's comments and traces in the buffer; nil: Erase is UNAVAILABLE
	Filters      Filters          // words and links filters; SetFilters changes them
	Hook         Hook             // the moderation hook; nil: none
	HookFailure  Verdict          // what a failed hook call means: VerdictHold (default) or VerdictAllow
	HookInFlight int              // hook calls at once, more are failures; DefaultHookInFlight
	MaxDepth     int              // deepest reply; DefaultMaxDepth
	Reactions    []string         // the reactions allowed; DefaultReactions
	Now          func() time.Time // time.Now
	Logger       *slog.Logger     // slog.Default()
}

// Service handles posts and joins: the domain logic behind the wire.
type Service struct {
	buf   Buffer
	pub   Publisher // write-through only
	store Store
	cfg   ServiceConfig

	mu      sync.Mutex
	reading map[string]*historyRead // joins' Store reads in progress, by post, size and viewer class
	failed  map[string]time.Time    // joins' Store reads that failed lately, by key: until when to skip them
	slow    map[string]slowEntry    // posts' slow mode as read lately
	trusted map[string]bool         // users known trusted (ModerateFirst): trust is never withdrawn
	counter Counter

	hk hooks
}

// historyRead is one Store read that concurrent joins of a cold post share.
type historyRead struct {
	done   chan struct{}
	before string // the read's cursor: comments older than this ("" none)
	older  []Comment
	err    error
}

// NewService returns a Service. pub is needed only with WriteThrough.
func NewService(buf Buffer, pub Publisher, store Store, cfg ServiceConfig) *Service {
	if cfg.HistoryLimit <= 0 {
		cfg.HistoryLimit = 100
	}
	if cfg.MaxRunes <= 0 {
		cfg.MaxRunes = DefaultMaxRunes
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = 2 * time.Second
	}
	if cfg.EditWindow == 0 {
		cfg.EditWindow = 15 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Moderation == "" {
		cfg.Moderation = ModerateOff
	}
	if cfg.HookFailure == "" {
		cfg.HookFailure = VerdictHold
	}
	if cfg.HookInFlight <= 0 {
		cfg.HookInFlight = DefaultHookInFlight
	}
	if cfg.MaxDepth <= 0 {
		cfg.MaxDepth = DefaultMaxDepth
	}
	if len(cfg.Reactions) == 0 {
		cfg.Reactions = DefaultReactions
	}
	s := &Service{buf: buf, pub: pub, store: store, cfg: cfg, reading: map[string]*historyRead{}, failed: map[string]time.Time{}, slow: map[string]slowEntry{},
		trusted: map[string]bool{}}
	s.hk.sem = make(chan struct{}, cfg.HookInFlight)
	s.SetFilters(cfg.Filters)
	return s
}

// PostAsync validates in, makes it a Comment and stores it: buffered
// (write-behind) or inserted (write-through), and published to the post's
// readers either way. It does not wait: in write-behind mode it returns
// once the comment is queued for Redis, so one caller's comments are
// buffered in the order of its calls, and done gets the outcome on another
// goroutine. An invalid comment goes to done at once, on the caller's
// goroutine. An error done gets is an *Error with a stable code.
//
// A comment of a user who does not moderate goes through the filters
// first, in this order: the ban list, the words, the links, the
// moderation hook, then pre-moderation (ServiceConfig.Moderation); it is
// held (pending) if any of them says so, and refused (REJECTED) if the
// words or the hook say so. With a hook, PostAsync returns before the hook
// answers and the comment is queued once it has: one caller's comments are
// then buffered in the order of the hook's answers, not of the calls.
func (s *Service) PostAsync(ctx context.Context, in Input, done PostCallback) {
	c, err := New(in, s.cfg.Now(), s.cfg.MaxRunes)
	if err == nil {
		err = s.banned(c.UserID) // from memory: no round trip
	}
	if err == nil {
		err = s.slowPass(ctx, in)
	}
	v := VerdictAllow
	if err == nil && !in.Moderator {
		v, err = s.filter(c.Content)
	}
	if err != nil {
		done(Comment{}, err)
		return
	}
	if v == VerdictHold {
		c.Status = StatusPending
	}
	if s.cfg.Hook != nil && !in.Moderator {
		s.askHookAsync(ctx, c, in, done)
		return
	}
	s.append(ctx, c, in, done)
}

// append holds c if pre-moderation says so, then stores it: PostAsync
// past the filters.
func (s *Service) append(ctx context.Context, c Comment, in Input, done PostCallback) {
	held, err := s.held(ctx, in)
	if err != nil {
		done(Comment{}, err)
		return
	}
	if held {
		c.Status = StatusPending
	}
	var parent *Comment
	if in.ParentID != "" {
		p, err := s.parentOf(ctx, c.PostID, in.ParentID)
		if err != nil {
			done(Comment{}, err)
			return
		}
		c.ParentID, parent = p.ID, &p
	}
	if s.cfg.WriteThrough {
		// The naive design: one insert per comment, concurrent like the
		// handlers of a Node.js server.
		go func() {
			if err := s.lockedWriteThrough(ctx, c.PostID); err != nil {
				done(Comment{}, err)
				return
			}
			done(s.writeThrough(ctx, c))
		}()
		return
	}
	key := ""
	if in.ClientID != "" {
		key = in.UserID + ":" + in.ClientID
	}
	s.appendReply(ctx, c, key, parent, done, 3)
}

// appendReply buffers c; if its parent changed meanwhile in a way Redis
// cannot follow (ErrStale), it reads the parent again and retries.
func (s *Service) appendReply(ctx context.Context, c Comment, key string, parent *Comment, done PostCallback, tries int) {
	s.buf.AppendOnceAsync(ctx, c, key, parent, func(stored Comment, _ bool, err error) {
		if errors.Is(err, ErrStale) && parent != nil && tries > 1 {
			p, perr := s.parentOf(ctx, c.PostID, parent.ID)
			if perr != nil {
				done(Comment{}, perr)
				return
			}
			c.ParentID = p.ID
			s.appendReply(ctx, c, key, &p, done, tries-1)
			return
		}
		if errors.Is(err, ErrStale) {
			err = Errorf(CodeConflict, "the comment replied to keeps changing, try again")
		}
		var e *Error
		if errors.As(err, &e) {
			done(Comment{}, e)
			return
		}
		if err != nil {
			done(Comment{}, s.clientError(err))
			return
		}
		done(stored, nil)
	})
}

// held reports whether a new comment waits for a moderator's approval
// (ServiceConfig.Moderation). Only ModerateFirst asks Redis, once per
// user until they are trusted.
func (s *Service) held(ctx context.Context, in Input) (bool, error) {
	if in.Moderator {
		return false, nil
	}
	switch s.cfg.Moderation {
	case ModerateAll:
		return true, nil
	case ModerateGuests:
		return strings.HasPrefix(in.UserID, GuestPrefix), nil
	case ModerateFirst:
		s.mu.Lock()
		known := s.trusted[in.UserID]
		s.mu.Unlock()
		if known {
			return false, nil
		}
		ok, err := s.buf.Trusted(ctx, in.UserID)
		if err != nil {
			return false, s.clientError(err)
		}
		if ok {
			s.trust(in.UserID)
		}
		return !ok, nil
	}
	return false, nil
}

// trust remembers a trusted user on this node (a bounded cache: forgetting
// costs one Redis read).
func (s *Service) trust(userID string) {
	s.mu.Lock()
	if len(s.trusted) >= 100_000 {
		clear(s.trusted)
	}
	s.trusted[userID] = true
	s.mu.Unlock()
}

// Queue returns the comments held for moderation, oldest first, to a
// moderator.
func (s *Service) Queue(ctx context.Context, viewer Actor, limit int) ([]Comment, error) {
	if !viewer.Moderator {
		return nil, Errorf(CodeForbidden, "only moderators may see the moderation queue")
	}
	cs, err := s.buf.Queue(ctx, limit)
	if err != nil {
		return nil, s.clientError(err)
	}
	return cs, nil
}

// writeThrough inserts c, then publishes it.
func (s *Service) writeThrough(ctx context.Context, c Comment) (Comment, error) {
	// Marked before it is stored: a post must not look never written
	// (NeverStored) while it has comments.
	if err := s.buf.MarkStored(ctx, []string{c.PostID}); err != nil {
		return Comment{}, s.clientError(err)
	}
	rej, err := s.store.InsertMany(ctx, []Comment{c})
	if err == nil && len(rej) > 0 {
		err = errors.New(rej[0].Reason)
	}
	if err != nil {
		s.cfg.Logger.Warn("write-through insert failed", "err", err)
		return Comment{}, Errorf(CodeUnavailable, "the database is unavailable, try again")
	}
	// Stored: the publish gets time of its own, not what the insert left
	// of the request's (under load a slow insert left too little, and
	// readers were not told of a stored comment).
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := s.pub.Publish(pctx, c); err != nil {
		// Stored, but readers were not told; the next join shows it.
		s.cfg.Logger.Warn("write-through publish failed", "err", err)
	}
	return c, nil
}

// publishTimeout bounds write-through's publish of a stored comment.
const publishTimeout = 5 * time.Second

// clientError turns an internal error into what a client is told, and logs
// the cause.
func (s *Service) clientError(err error) *Error {
	switch {
	case errors.Is(err, ErrBusy):
		return Errorf(CodeBusy, "too many comments are waiting to be saved, try again shortly")
	case errors.Is(err, ErrLocked):
		return Errorf(CodePostLocked, "this post is locked: it takes no new comments or edits")
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		s.cfg.Logger.Warn("comment not accepted", "err", err)
		return Errorf(CodeUnavailable, "comments are unavailable, try again")
	default:
		s.cfg.Logger.Error("comment not accepted", "err", err)
		return Errorf(CodeInternal, "internal error")
	}
}

// Join returns the latest HistoryLimit comments of a post that viewer may
// see, oldest first, flushed or not, in their current state. With since
// (the id of the last comment a reader has), only those after it. Recent
// comments come from the buffer; the Store is read only when the buffer
// holds fewer than the limit, and a Store that is down only shortens the
// answer.
func (s *Service) Join(ctx context.Context, viewer Actor, postID, since string) ([]Comment, error) {
	if err := ValidatePostID(postID); err != nil {
		return nil, err
	}
	if since != "" && !ValidID(since) {
		return nil, Errorf(CodeInvalidPayload, "since must be a comment id")
	}
	limit := s.cfg.HistoryLimit
	// Hidden and deleted comments take places in the recent list: read
	// more than the limit so that a few of them do not shorten a join.
	recent, complete, err := s.buf.Recent(ctx, postID, 2*limit)
	if err != nil {
		return nil, s.clientError(err)
	}
	if len(recent) < limit && !complete && s.store != nil && !s.reachesSince(recent, since) && !s.neverStored(ctx, postID) {
		before := ""
		if len(recent) > 0 {
			before = recent[0].ID
		}
		// A whole page is read whatever this join lacks, so that joins
		// arriving while comments come share the read.
		want := limit
		older, complete, err := s.readHistory(ctx, postID, before, want)
		switch {
		case errors.Is(err, errReadFailedLately): // said once, when it failed
		case err != nil:
			s.cfg.Logger.Warn("history from the database failed; joining with the buffer's", "post", postID, "err", err)
		default:
			// Keep them in Redis, so the next join needs no database read.
			if err := s.buf.Seed(ctx, postID, before, older, complete); err != nil {
				s.cfg.Logger.Warn("seeding recent comments failed", "post", postID, "err", err)
			}
			if ov, err := s.buf.Overrides(ctx, postID, ids(older)); err == nil {
				override(older, ov)
			}
			slices.Reverse(older)
			recent = append(older, recent...)
		}
	}
	if since != "" {
		recent = after(recent, since)
	}
	recent = visibleTo(viewer, recent)
	if len(recent) > limit {
		recent = recent[len(recent)-limit:]
	}
	if since != "" {
		return recent, nil // a rejoin: the pinned ones were sent before
	}
	return s.pinnedFirst(ctx, viewer, postID, recent)
}

// pinnedFirst returns cs (oldest first) with the post's pinned comments
// that viewer may see put first, oldest first, and not again in their
// place. Pins are few: a Redis read that fails only leaves them in place.
func (s *Service) pinnedFirst(ctx context.Context, viewer Actor, postID string, cs []Comment) ([]Comment, error) {
	pins, err := s.buf.Pinned(ctx, postID)
	if err != nil {
		s.cfg.Logger.Warn("pinned comments failed", "post", postID, "err", err)
		return cs, nil
	}
	pins = visibleTo(viewer, pins)
	if len(pins) == 0 {
		return cs, nil
	}
	return append(pins, withoutPinned(cs, pins)...), nil
}

// withoutPinned returns cs without the comments of pins.
func withoutPinned(cs, pins []Comment) []Comment {
	out := make([]Comment, 0, len(cs))
	for _, c := range cs {
		if !slices.ContainsFunc(pins, func(p Comment) bool { return p.ID == c.ID }) {
			out = append(out, c)
		}
	}
	return out
}

// Update is a comment a replay tells a reader of: one created after the
// reader's last (Created), or one changed since. Offset is the id of its
// event, "" when the replay knows only the comment's state.
type Update struct {
	Comment Comment
	Created bool
	Offset  string
	Op      Op  // the change's, when known ("" for a state)
	Delta   int // the change's Delta, when known
}

// Unseen reports whether u removes a comment that readers other than its
// author and moderators never saw: a rejected one, or one erased while it
// was not visible (held, hidden, rejected before) and not kept as a
// tombstone for its replies (shown to every reader, as a delete's). They
// are told nothing.
func (u Update) Unseen() bool {
	return u.Op == OpReject || u.Op == OpErase && u.Delta == 0 && !u.Comment.Tombstone()
}

// Replay returns what a reader whose last event was since (a comment or
// change id) missed. While Redis holds that event in the post's log, these
// are the events after it, in the post's order; else the current state of
// the comments it had that changed since, then the comments created after
// it, oldest first (so the last one is the newest offset). A reader that
// may not see a changed comment is told of its state anyway, to remove it.
func (s *Service) Replay(ctx context.Context, viewer Actor, postID, since string) ([]Update, error) {
	if err := ValidatePostID(postID); err != nil {
		return nil, err
	}
	if ValidID(since) {
		evs, found, err := s.buf.Events(ctx, postID, since)
		if err != nil {
			return nil, s.clientError(err)
		}
		if found {
			out := make([]Update, 0, len(evs))
			for _, ch := range evs {
				created := ch.Op == OpCreate
				if created && !viewer.MaySee(ch.State) {
					continue
				}
				out = append(out, Update{Comment: ch.State, Created: created, Offset: ch.ID, Op: ch.Op, Delta: ch.Delta})
			}
			return out, nil
		}
	}
	created, err := s.Join(ctx, viewer, postID, since)
	if err != nil {
		return nil, err
	}
	var out []Update
	if ValidID(since) {
		changed, err := s.buf.ChangedSince(ctx, postID, IDTime(since))
		if err != nil {
			return nil, s.clientError(err)
		}
		for _, c := range changed {
			// Comments pushed out of the recent list are among the
			// changed ones too; only those at version 2 or more changed.
			if c.ID <= since && c.Version() > 1 {
				out = append(out, Update{Comment: c})
			}
		}
	}
	for _, c := range created {
		out = append(out, Update{Comment: c, Created: true, Offset: c.ID})
	}
	return out, nil
}

// visibleTo returns the comments of cs viewer may see, in cs's array.
func visibleTo(viewer Actor, cs []Comment) []Comment {
	out := cs[:0]
	for _, c := range cs {
		if viewer.MaySee(c) {
			out = append(out, c)
		}
	}
	return out
}

func ids(cs []Comment) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// override replaces the comments of cs that ov holds a newer state of.
func override(cs []Comment, ov map[string]Comment) {
	for i, c := range cs {
		if o, ok := ov[c.ID]; ok && o.Version() >= c.Version() {
			cs[i] = o
		}
	}
}

// Change applies a client's request to a comment: checked against the
// comment's current state (Decide), then appended to the post's shard and
// applied in Redis only if the comment did not change meanwhile; a request
// that raced another change is decided again on the new state (unless it
// named a version: CONFLICT). It returns the change, whose State every
// reader of the post is then sent. No database write happens here: the
// flusher writes the change with the others of its batch.
func (s *Service) Change(ctx context.Context, actor Actor, req ChangeRequest) (Change, error) {
	return s.change(ctx, actor, req, nil)
}

// change is Change; stored, if not nil, is the comment as the Store holds
// it, read already (Erase's pages), which saves a Store read when Redis
// does not hold the comment.
func (s *Service) change(ctx context.Context, actor Actor, req ChangeRequest, stored *Comment) (Change, error) {
	if err := req.Validate(s.cfg.MaxRunes); err != nil {
		return Change{}, err
	}
	if req.Op == OpEdit {
		// A banned user may still delete their own comments: removing
		// words harms nobody, and a ban should not keep them up.
		if err := s.banned(actor.UserID); err != nil {
			return Change{}, err
		}
	}
	rules := Rules{EditWindow: max(s.cfg.EditWindow, 0), MaxRunes: s.cfg.MaxRunes}
	const attempts = 5
	for range attempts {
		state, found, err := s.stateOr(ctx, req.PostID, req.CommentID, stored)
		stored = nil // read again after a race
		if err != nil {
			return Change{}, err
		}
		ch, err := Decide(state, found, req, actor, rules, s.cfg.Now())
		if err == nil && ch.Op == OpEdit && !actor.Moderator {
			err = s.filterEdit(req.Content) // after Decide: a stranger's edit is FORBIDDEN, not REJECTED
		}
		if err != nil {
			return Change{}, err
		}
		if ch.Delta != 0 && state.ParentID != "" {
			// The reply's parent counts it: its state goes with the change.
			p, found, err := s.state(ctx, req.PostID, state.ParentID)
			if err != nil {
				return Change{}, err
			}
			if found {
				ch.Parent = &p
			}
		}
		if audited(actor, req.Op, state) {
			ch.Audit = &Audit{At: ch.At, By: actor.UserID, Action: string(req.Op), PostID: ch.PostID,
				CommentID: ch.CommentID, UserID: state.UserID, Reason: CleanReason(req.Reason)}
		}
		if s.cfg.WriteThrough {
			if ch.Op == OpEdit {
				if err := s.lockedWriteThrough(ctx, ch.PostID); err != nil {
					return Change{}, err
				}
			}
			// The naive design: the database first (guarded by version, so
			// a lost race changes nothing there), then readers.
			if rej, err := s.store.Write(ctx, []Change{ch}); err != nil || len(rej) > 0 {
				s.cfg.Logger.Warn("write-through change not stored", "comment", ch.CommentID, "err", err, "rejected", len(rej))
				return Change{}, Errorf(CodeUnavailable, "the database is unavailable, try again")
			}
		}
		err = s.buf.Apply(ctx, ch, state.Version(), !s.cfg.WriteThrough)
		if errors.Is(err, ErrStale) {
			if req.V != 0 {
				return Change{}, Errorf(CodeConflict, "the comment changed meanwhile")
			}
			continue
		}
		if err != nil {
			return Change{}, s.clientError(err)
		}
		if ch.Op == OpApprove && s.cfg.Moderation == ModerateFirst {
			// Not atomic with the approval: if it fails, the author's next
			// comment is held once more.
			if err := s.buf.Trust(ctx, state.UserID); err != nil {
				s.cfg.Logger.Warn("trusting an approved author failed", "user", state.UserID, "err", err)
			}
		}
		return ch, nil
	}
	return Change{}, Errorf(CodeConflict, "the comment keeps changing, try again")
}

// state returns a comment's current state: from Redis if it holds it (the
// recent or changed ones), else from the Store.
func (s *Service) state(ctx context.Context, postID, commentID string) (Comment, bool, error) {
	return s.stateOr(ctx, postID, commentID, nil)
}

// stateOr is state with the Store's state read already, if stored is not
// nil.
func (s *Service) stateOr(ctx context.Context, postID, commentID string, stored *Comment) (Comment, bool, error) {
	c, found, err := s.buf.State(ctx, postID, commentID)
	if err != nil {
		return Comment{}, false, s.clientError(err)
	}
	if found || s.store == nil {
		return c, found, nil
	}
	if stored != nil {
		return *stored, true, nil
	}
	sctx, cancel := context.WithTimeout(ctx, s.cfg.StoreTimeout)
	defer cancel()
	c, found, err = s.store.Get(sctx, commentID)
	if err != nil {
		s.cfg.Logger.Warn("comment from the database failed", "comment", commentID, "err", err)
		return Comment{}, false, Errorf(CodeUnavailable, "comments are unavailable, try again")
	}
	return c, found, nil
}

// failedReadMemory is how long a join's Store read that failed (or timed
// out) is not tried again: joins meanwhile go with the buffer's comments,
// instead of each waiting out a struggling database.
const failedReadMemory = 5 * time.Second

// errReadFailedLately is a Store read skipped because it failed lately.
var errReadFailedLately = errors.New("the database read failed lately; not tried again yet")

// neverStored reports whether the buffer knows the post has nothing in
// the Store. A buffer that cannot tell means it may have.
func (s *Service) neverStored(ctx context.Context, postID string) bool {
	never, err := s.buf.NeverStored(ctx, postID)
	return err == nil && never
}

// readHistory reads older comments of a post from the Store for a join:
// up to want of those older than before ("" for the newest), newest first,
// and whether that is all the Store has (complete).
//
// The read holds the hidden and held comments too, whoever joins: it is
// seeded into the buffer, which holds every comment from its head on, and
// later joins (a moderator's too) are answered from there, each showing
// what its viewer may see. So all joins of a post share a read in
// progress: many readers arriving on a cold post cost one database read,
// not one each. A read is shared even when the joins' buffers began at
// different comments (before moves while comments arrive: "" on an empty
// buffer, then the first new comment): a read older than r.before serves
// any join whose before is not newer than r.before, cut to the comments
// older than its own before. What it cuts off is in that join's buffer
// already (the buffer holds every comment from its head on), and every
// comment among the post's latest that is older than before is among the
// read's. A join whose before is newer (the buffer's head trimmed
// meanwhile) reads on its own. A read that failed is not tried again for
// failedReadMemory. The result is the caller's own copy.
func (s *Service) readHistory(ctx context.Context, postID, before string, want int) (older []Comment, complete bool, err error) {
	key := postID + "\x00" + strconv.Itoa(want)
	s.mu.Lock()
	if until, ok := s.failed[key]; ok {
		if time.Now().Before(until) {
			s.mu.Unlock()
			return nil, false, errReadFailedLately
		}
		delete(s.failed, key)
	}
	r, shared := s.reading[key]
	if shared && r.before != "" && (before == "" || before > r.before) {
		shared = false
		r = nil // a read of our own, not registered: rare
	}
	if !shared {
		r = &historyRead{done: make(chan struct{}), before: before}
		if _, busy := s.reading[key]; !busy {
			s.reading[key] = r
		}
	}
	s.mu.Unlock()
	if !shared {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.StoreTimeout)
		r.older, r.err = s.store.HistoryAll(sctx, postID, before, want)
		cancel()
		s.mu.Lock()
		if s.reading[key] == r {
			delete(s.reading, key)
		}
		if r.err != nil {
			if len(s.failed) >= 10_000 {
				clear(s.failed) // a bound: forgetting costs a read
			}
			s.failed[key] = time.Now().Add(failedReadMemory)
		}
		s.mu.Unlock()
		close(r.done)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	if r.err != nil {
		return nil, false, r.err
	}
	complete = len(r.older) < want
	older = make([]Comment, 0, len(r.older))
	for _, c := range r.older { // newest first
		if before == "" || c.ID < before {
			older = append(older, c)
		}
	}
	return older, complete, nil
}

// reachesSince reports whether cs already holds since or something older,
// so older comments are not needed.
func (s *Service) reachesSince(cs []Comment, since string) bool {
	return since != "" && len(cs) > 0 && cs[0].ID <= since
}

// after returns the comments after the one with id since; if it is not
// there, those with a larger id (ids sort by creation time).
func after(cs []Comment, since string) []Comment {
	for i, c := range cs {
		if c.ID == since {
			return cs[i+1:]
		}
	}
	i := 0
	for i < len(cs) && cs[i].ID <= since {
		i++
	}
	return cs[i:]
}

// Page is one page of a post's history.
type Page struct {
	Comments []Comment // oldest first
	Next     string    // cursor for the page before this one ("" when there is none)
}

// MaxPageLimit bounds the comments of one history page.
const MaxPageLimit = 500

// History returns the page of a post's comments just older than the
// comment with id before (the newest page if before is ""), at most limit,
// oldest first. Flushed comments (Store) and unflushed ones (the post's
// recent list in the Buffer) are merged by id, so a page has no duplicate
// and, page after page, no gap.
func (s *Service) History(ctx context.Context, viewer Actor, postID, before string, limit int) (Page, error) {
	return s.page(ctx, viewer, postID, "", before, limit)
}

// Replies returns a page of the direct replies to parentID, as History
// pages a post: just older than before, at most limit, oldest first.
func (s *Service) Replies(ctx context.Context, viewer Actor, postID, parentID, before string, limit int) (Page, error) {
	if !ValidID(parentID) {
		return Page{}, Errorf(CodeInvalidPayload, "parentId must be a comment id")
	}
	return s.page(ctx, viewer, postID, parentID, before, limit)
}

// page is History, of the replies to parentID if it is not "".
func (s *Service) page(ctx context.Context, viewer Actor, postID, parentID, before string, limit int) (Page, error) {
	if err := ValidatePostID(postID); err != nil {
		return Page{}, err
	}
	if before != "" && !ValidID(before) {
		return Page{}, Errorf(CodeInvalidPayload, "before must be a comment id")
	}
	if limit <= 0 || limit > MaxPageLimit {
		return Page{}, Errorf(CodeInvalidPayload, "limit must be between 1 and 500")
	}
	// Redis first: a change flushed between the two reads is then in the
	// database's answer, never in neither.
	recent, _, err := s.buf.Recent(ctx, postID, 1<<20)
	if err != nil {
		return Page{}, s.clientError(err)
	}
	if parentID != "" {
		recent = slices.DeleteFunc(recent, func(c Comment) bool { return c.ParentID != parentID })
	}
	var stored []Comment
	more := false
	if s.store != nil && !s.neverStored(ctx, postID) {
		// One more than asked tells whether an older page exists.
		if parentID != "" {
			stored, err = s.store.Replies(ctx, postID, parentID, before, limit+1, viewer.Moderator)
		} else {
			stored, err = s.storeHistory(ctx, viewer, postID, before, limit+1)
		}
		if err != nil {
			s.cfg.Logger.Warn("history from the database failed", "post", postID, "err", err)
			return Page{}, Errorf(CodeUnavailable, "history is unavailable, try again")
		}
		more = len(stored) > limit
		ov, err := s.buf.Overrides(ctx, postID, ids(stored))
		if err != nil {
			return Page{}, s.clientError(err)
		}
		override(stored, ov)
	}
	latest := make(map[string]Comment, len(recent))
	for _, c := range recent {
		latest[c.ID] = c
	}
	seen := make(map[string]bool, len(stored)+len(recent))
	merged := make([]Comment, 0, len(stored)+len(recent))
	for _, c := range stored {
		if r, ok := latest[c.ID]; ok && r.Version() > c.Version() {
			c = r
		}
		if !seen[c.ID] {
			seen[c.ID] = true
			merged = append(merged, c)
		}
	}
	for _, c := range recent {
		if (before == "" || c.ID < before) && !seen[c.ID] {
			seen[c.ID] = true
			merged = append(merged, c)
		}
	}
	slices.SortFunc(merged, func(a, b Comment) int { return -cmpID(a.ID, b.ID) }) // newest first
	// When the database has more and every comment looked at is on the
	// page or not for this viewer, the cursor is the oldest looked at.
	oldest := ""
	if len(merged) > 0 {
		oldest = merged[len(merged)-1].ID
	}
	merged = visibleTo(viewer, merged)
	page := Page{}
	if len(merged) > limit {
		merged = merged[:limit]
		page.Next = merged[limit-1].ID
	} else if more && oldest != "" {
		page.Next = oldest
	}
	slices.Reverse(merged)
	page.Comments = merged
	if parentID != "" {
		return page, nil
	}
	// Pinned comments come first on the first page, and not again later.
	if pins, err := s.buf.Pinned(ctx, postID); err != nil {
		s.cfg.Logger.Warn("pinned comments failed", "post", postID, "err", err)
	} else if pins = visibleTo(viewer, pins); len(pins) > 0 {
		page.Comments = withoutPinned(page.Comments, pins)
		if before == "" {
			page.Comments = append(pins, page.Comments...)
		}
	}
	return page, nil
}

func cmpID(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// UserComments returns a page of a user's own stored comments, newest
// first (hidden and pending ones included, tombstones left out), to the
// user themself or a moderator: a person's own data. Comments still in the
// buffer are listed once flushed.
func (s *Service) UserComments(ctx context.Context, viewer Actor, userID, before string, limit int) (Page, error) {
	if err := ValidateUserID(userID); err != nil {
		return Page{}, err
	}
	if !viewer.Moderator && viewer.UserID != userID {
		return Page{}, Errorf(CodeForbidden, "only the user themself or a moderator may list a user's comments")
	}
	if before != "" && !ValidID(before) {
		return Page{}, Errorf(CodeInvalidPayload, "before must be a comment id")
	}
	if limit <= 0 || limit > MaxPageLimit {
		return Page{}, Errorf(CodeInvalidPayload, "limit must be between 1 and 500")
	}
	if s.store == nil {
		return Page{}, Errorf(CodeUnavailable, "comments are unavailable, try again")
	}
	sctx, cancel := context.WithTimeout(ctx, max(s.cfg.StoreTimeout, 30*time.Second))
	defer cancel()
	cs, err := s.store.ByUser(sctx, userID, before, limit+1)
	if err != nil {
		s.cfg.Logger.Warn("a user's comments from the database failed", "user", userID, "err", err)
		return Page{}, Errorf(CodeUnavailable, "comments are unavailable, try again")
	}
	page := Page{}
	if len(cs) > limit {
		cs = cs[:limit]
		page.Next = cs[limit-1].ID
	}
	out := make([]Comment, 0, len(cs))
	for _, c := range cs {
		if !c.Deleted {
			out = append(out, c)
		}
	}
	page.Comments = out
	return page, nil
}

// storeHistory reads a page of stored comments: those every reader may
// see, and for a moderator the hidden and held ones too.
func (s *Service) storeHistory(ctx context.Context, viewer Actor, postID, before string, limit int) ([]Comment, error) {
	if viewer.Moderator {
		return s.store.HistoryAll(ctx, postID, before, limit)
	}
	return s.store.History(ctx, postID, before, limit)
}
