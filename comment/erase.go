package comment

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Erasing a user (DELETE /api/users/{userId}): every comment of theirs
// becomes a tombstone through a change record with op erase_user, one per
// comment, on the same path as a moderator's delete (Service.Change), so
// whatever a delete does to counts and threads an erase does too: live
// (comment_removed, or the tombstone where replies keep it), in MongoDB
// through the flusher, audited. Then the buffer scrubs what Redis still
// keeps of the comments beside their states (posts' event logs, dead
// letters, idempotency keys). Erase is idempotent and can be
// run again after a failure: it finds the comments that still carry the
// user's id, and a tombstone carries none.

// UserTraces is what Erase needs of the buffer beyond changes.
type UserTraces interface {
	// UserComments returns the comments of userID whose state Redis holds
	// (not yet flushed, recent, changed lately, held for moderation), in
	// no order, each once.
	UserComments(ctx context.Context, userID string) ([]Comment, error)
	// ScrubUser removes userID's words and name from what Redis keeps
	// beside comment states: the posts' event logs and the dead letters
	// (each entry of a comment of theirs then carries the comment erased)
	// and the comments kept under their idempotency keys.
	ScrubUser(ctx context.Context, userID string) error
}

// MayErase reports whether actor may erase the comments of userID: the
// user themself or a moderator (the admin token is one); FORBIDDEN for
// anyone else.
func MayErase(actor Actor, userID string) error {
	if actor.Moderator || actor.UserID != "" && actor.UserID == userID {
		return nil
	}
	return Errorf(CodeForbidden, "only the user themself or an admin may erase a user")
}

// tombstone returns c deleted: without content, author, name, avatar, pin
// or status (kept for its replies, a tombstone is shown to every reader,
// however it was held or hidden before). Its version is c's.
func tombstone(c Comment) Comment {
	c.Deleted, c.Content, c.UserID, c.Pinned, c.Status = true, "", "", false, ""
	c.UserName, c.Avatar = "", ""
	return c
}

// Erased returns c as an erase leaves it, at c's version: a tombstone, as
// a delete leaves it. Reactions and the number of replies stay: they are
// other users'.
func (c Comment) Erased() Comment { return tombstone(c) }

// decideErase is Decide for OpErase: any comment still carrying the user's
// id (a visible, hidden or pending one, or a rejected tombstone, which
// keeps its author) becomes Erased, whatever its age; one that carries no
// longer is NOT_FOUND, which makes a second erase a no-op.
func decideErase(state Comment, found bool, req ChangeRequest, actor Actor, now time.Time) (Change, error) {
	if !found || state.PostID != req.PostID || req.UserID == "" || state.UserID != req.UserID {
		return Change{}, Errorf(CodeNotFound, "no comment of this user here")
	}
	if err := MayErase(actor, req.UserID); err != nil {
		return Change{}, err
	}
	if req.V != 0 && req.V != state.Version() {
		return Change{}, Errorf(CodeConflict, fmt.Sprintf("the comment changed: it is at version %d", state.Version()))
	}
	next := state.Erased()
	next.V = state.Version() + 1
	// Delta as a delete's: -1 for a comment readers saw; 0 for one they
	// never saw (pending, hidden, rejected), which is no news to them
	// (Update.Unseen).
	return Change{Op: OpErase, ID: NewID(now), PostID: state.PostID, CommentID: state.ID, By: actor.UserID,
		At: now, V: next.V, Delta: next.visibility() - state.visibility(), State: next}, nil
}

// erasePage is how many stored comments of a user Erase reads at a time:
// on devmongo each page scans the collection whatever its size (10 s at
// 20,000 comments under load, measured), so pages are large; 1,000
// comments are about 1 MB.
const erasePage = 1000

// eraseTimeout bounds one page read of Erase from the Store (on devmongo
// a read by user scans the collection).
const eraseTimeout = 30 * time.Second

// Erase turns every comment of userID into a tombstone, for the user
// themself or a moderator, and returns how many it changed: those in
// Redis, then those in the Store a page at a time (newest first), each
// through Change with OpErase. A comment that is no longer the user's
// (erased already) is skipped, so a second Erase returns 0. On an error
// the comments erased so far stay erased; running Erase again finishes.
func (s *Service) Erase(ctx context.Context, actor Actor, userID string) (int, error) {
	if err := ValidateUserID(userID); err != nil {
		return 0, err
	}
	if err := MayErase(actor, userID); err != nil {
		return 0, err
	}
	if s.cfg.Traces == nil || s.store == nil {
		return 0, Errorf(CodeUnavailable, "erasing users is not available on this server")
	}
	n := 0
	erase := func(c Comment, stored *Comment) error {
		_, err := s.change(ctx, actor, ChangeRequest{Op: OpErase, PostID: c.PostID, CommentID: c.ID, UserID: userID}, stored)
		var e *Error
		switch {
		case err == nil:
			n++
		case errors.As(err, &e) && e.Code == CodeNotFound:
			// Erased already, by an earlier run or another node.
		default:
			return err
		}
		return nil
	}
	buffered, err := s.cfg.Traces.UserComments(ctx, userID)
	if err != nil {
		return 0, s.clientError(err)
	}
	// Redis's first: a comment flushed meanwhile was in Redis when read,
	// so every comment confirmed before Erase began is found.
	inRedis := make(map[string]bool, len(buffered))
	for _, c := range buffered {
		inRedis[c.ID] = true
		if err := erase(c, nil); err != nil {
			return n, err
		}
	}
	for before := ""; ; {
		sctx, cancel := context.WithTimeout(ctx, eraseTimeout)
		page, err := s.store.ByUser(sctx, userID, before, erasePage)
		cancel()
		if err != nil {
			s.cfg.Logger.Warn("a user's comments from the database failed", "user", userID, "err", err)
			return n, Errorf(CodeUnavailable, "comments are unavailable, try again")
		}
		for _, c := range page {
			if inRedis[c.ID] {
				continue
			}
			// On devmongo a read by id scans the collection (0.2 to 1 s at
			// 20,000 comments, measured): the page's state stands in for it.
			if err := erase(c, &c); err != nil {
				return n, err
			}
		}
		if len(page) < erasePage {
			break
		}
		before = page[len(page)-1].ID
	}
	if err := s.cfg.Traces.ScrubUser(ctx, userID); err != nil {
		return n, s.clientError(err)
	}
	s.cfg.Logger.Info("user erased", "user", userID, "by", actor.UserID, "comments", n)
	return n, nil
}
