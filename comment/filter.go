package comment

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Verdict is what a filter or the moderation hook decides about a new
// comment.
type Verdict string

// The verdicts.
const (
	VerdictAllow  Verdict = "allow"  // posted as any other
	VerdictHold   Verdict = "hold"   // posted pending: seen by its author and moderators until approved
	VerdictReject Verdict = "reject" // refused with REJECTED
)

// Filters are the content filters of comments from users who do not
// moderate (moderation.words, moderation.words_action,
// moderation.max_links). Service.SetFilters changes them while running.
type Filters struct {
	Words       *Words  // nil: no list
	WordsAction Verdict // a new comment with a listed word: VerdictHold (default) or VerdictReject
	MaxLinks    int     // a new comment with more links (CountLinks) is held; 0: no limit
}

// Hook is the moderation hook (moderation.hook_url) as the Service needs
// it: asked about each new comment of a user who does not moderate.
type Hook interface {
	// Check returns the hook's verdict on c, or an error if it gave none
	// in time (a timeout, an unreachable hook, a non-2xx answer, an
	// answer without a known action).
	Check(ctx context.Context, c Comment) (Verdict, error)
}

// DefaultHookInFlight bounds the hook calls in progress at once; a new
// comment beyond it is not sent to the hook and gets
// ServiceConfig.HookFailure, as if the hook had failed.
const DefaultHookInFlight = 256

// hookAppendTimeout bounds the append of a comment once the hook has
// answered: the caller's context may have been spent waiting for it.
const hookAppendTimeout = 5 * time.Second

// hookWarnEvery is the least time between two logged hook failures: a hook
// that is down fails for every comment.
const hookWarnEvery = time.Second

// errHookBusy is the failure of a comment beyond DefaultHookInFlight.
var errHookBusy = errors.New("comment: too many moderation hook calls in flight")

// rejected is what a client is told of a comment the filters refused. It
// does not say which word or answer refused it.
func rejected() *Error {
	return Errorf(CodeRejected, "this comment was refused by the site's filters")
}

// hooks is the Service's state of hook calls.
type hooks struct {
	filters  atomic.Pointer[Filters]
	sem      chan struct{}  // a token per call in flight
	calls    sync.WaitGroup // the calls and the appends after them
	lastWarn atomic.Int64   // unix nanoseconds of the last logged failure
	quiet    atomic.Int64   // failures not logged since
}

// SetFilters replaces the content filters (a config reload); comments
// already being checked keep the filters they started with.
func (s *Service) SetFilters(f Filters) {
	if f.WordsAction == "" {
		f.WordsAction = VerdictHold
	}
	s.hk.filters.Store(&f)
}

// filter applies the words and links filters to content: VerdictAllow,
// VerdictHold, or a REJECTED error.
func (s *Service) filter(content string) (Verdict, error) {
	f := s.hk.filters.Load()
	if f.Words.Match(content) {
		if f.WordsAction == VerdictReject {
			return "", rejected()
		}
		return VerdictHold, nil
	}
	if f.MaxLinks > 0 && CountLinks(content) > f.MaxLinks {
		return VerdictHold, nil
	}
	return VerdictAllow, nil
}

// filterEdit refuses an edit whose new content holds a listed word, with
// REJECTED whatever moderation.words_action says: a visible comment cannot
// go back to pending.
func (s *Service) filterEdit(content string) error {
	if s.hk.filters.Load().Words.Match(content) {
		return rejected()
	}
	return nil
}

// askHookAsync asks the hook about c on a goroutine of its own, then
// appends c (or refuses it) and tells done. Beyond the calls in flight the
// Service allows, c gets HookFailure at once, on the caller's goroutine.
func (s *Service) askHookAsync(ctx context.Context, c Comment, in Input, done PostCallback) {
	select {
	case s.hk.sem <- struct{}{}:
	default:
		s.hookFailed(c, errHookBusy)
		s.afterHook(ctx, c, in, s.cfg.HookFailure, done)
		return
	}
	s.hk.calls.Add(1)
	go func() {
		defer s.hk.calls.Done()
		v, err := s.cfg.Hook.Check(ctx, c)
		<-s.hk.sem
		if err != nil {
			s.hookFailed(c, err)
			v = s.cfg.HookFailure
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), hookAppendTimeout)
		s.afterHook(actx, c, in, v, func(c Comment, err error) {
			cancel()
			done(c, err)
		})
	}()
}

// afterHook refuses c, or appends it (pending if the hook held it).
func (s *Service) afterHook(ctx context.Context, c Comment, in Input, v Verdict, done PostCallback) {
	switch v {
	case VerdictReject:
		done(Comment{}, rejected())
		return
	case VerdictHold:
		c.Status = StatusPending
	}
	s.append(ctx, c, in, done)
}

// hookFailed logs a failed hook call, at most once per hookWarnEvery.
func (s *Service) hookFailed(c Comment, err error) {
	now := time.Now().UnixNano()
	last := s.hk.lastWarn.Load()
	if now-last < int64(hookWarnEvery) || !s.hk.lastWarn.CompareAndSwap(last, now) {
		s.hk.quiet.Add(1)
		return
	}
	s.cfg.Logger.Warn("moderation hook failed; applying moderation.hook_failure", "comment", c.ID,
		"then", s.cfg.HookFailure, "err", err, "failures_not_logged", s.hk.quiet.Swap(0))
}

// Close waits for the hook calls in progress and the appends that follow
// them. Call it after the last PostAsync and before closing the Buffer.
func (s *Service) Close() {
	s.hk.calls.Wait()
}
