package comment

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxDepth is threads.max_depth's default: a reply to a reply to a
// reply to a top-level comment.
const DefaultMaxDepth = 3

// DefaultReactions is reactions.allowed's default.
var DefaultReactions = []string{"👍", "❤️", "😂", "😮", "😢"}

// parentOf resolves the parent of a new reply: the comment parentID must
// be in the post and visible; if it is at the deepest allowed depth, the
// reply attaches to the deepest allowed ancestor instead. It returns the
// state of the comment the reply attaches to.
func (s *Service) parentOf(ctx context.Context, postID, parentID string) (Comment, error) {
	p, found, err := s.state(ctx, postID, parentID)
	if err != nil {
		return Comment{}, err
	}
	if !found || p.PostID != postID || !p.Visible() {
		return Comment{}, Errorf(CodeNotFound, "no such comment to reply to in this post")
	}
	// chain[i] is the ancestor i levels above p; p's depth is len(chain)-1
	// once the chain reaches a top-level comment.
	chain := []Comment{p}
	for last := p; last.ParentID != "" && len(chain) <= s.cfg.MaxDepth; {
		a, found, err := s.state(ctx, postID, last.ParentID)
		if err != nil {
			return Comment{}, err
		}
		if !found {
			break // an ancestor gone from everywhere: count from here
		}
		chain = append(chain, a)
		last = a
	}
	depth := len(chain) - 1
	if depth < s.cfg.MaxDepth {
		return p, nil
	}
	return chain[depth-s.cfg.MaxDepth+1], nil
}

// ReactRequest is a client's react: a reaction given (On) or taken back.
type ReactRequest struct {
	PostID    string
	CommentID string
	Reaction  string
	On        bool
}

// React applies a user's reaction to a comment they may see: once per user
// and reaction (a second is no change), counted in the comment's state in
// the same step as the post's other changes, and written by the flusher
// with them. It returns the comment's state after it.
func (s *Service) React(ctx context.Context, actor Actor, req ReactRequest) (Comment, error) {
	if err := ValidatePostID(req.PostID); err != nil {
		return Comment{}, err
	}
	if !ValidID(req.CommentID) {
		return Comment{}, Errorf(CodeInvalidPayload, "commentId must be a comment id")
	}
	if !slices.Contains(s.cfg.Reactions, req.Reaction) {
		return Comment{}, Errorf(CodeInvalidReaction, "reaction must be one of the allowed reactions")
	}
	if actor.UserID == "" {
		return Comment{}, Errorf(CodeUnauthorized, "reacting needs a user")
	}
	if s.cfg.WriteThrough {
		// Who reacted is written by the flusher, which write-through does
		// not run.
		return Comment{}, Errorf(CodeUnavailable, "reactions need flush.mode write-behind")
	}
	if err := s.banned(actor.UserID); err != nil {
		return Comment{}, err
	}
	seed := ""
	for range 8 {
		state, found, err := s.state(ctx, req.PostID, req.CommentID)
		if err != nil {
			return Comment{}, err
		}
		if !found || state.PostID != req.PostID || state.Deleted || !actor.MaySee(state) {
			return Comment{}, Errorf(CodeNotFound, "no such comment in this post")
		}
		c, err := s.buf.React(ctx, Reaction{PostID: req.PostID, CommentID: req.CommentID, UserID: actor.UserID,
			Reaction: req.Reaction, On: req.On, State: state, Seed: seed, At: s.cfg.Now().UTC().Truncate(time.Millisecond)})
		switch {
		case errors.Is(err, ErrStale):
			continue
		case errors.Is(err, ErrUnknownReactor):
			seed, err = s.reacted(ctx, req.CommentID, actor.UserID, req.Reaction)
			if err != nil {
				return Comment{}, err
			}
			continue
		case err != nil:
			return Comment{}, s.clientError(err)
		}
		return c, nil
	}
	return Comment{}, Errorf(CodeConflict, "the comment keeps changing, try again")
}

// reacted asks the Store whether a user's reaction is stored: "1" or "0".
func (s *Service) reacted(ctx context.Context, commentID, userID, reaction string) (string, error) {
	if s.store == nil {
		return "0", nil
	}
	sctx, cancel := context.WithTimeout(ctx, s.cfg.StoreTimeout)
	defer cancel()
	on, err := s.store.Reacted(sctx, commentID, userID, reaction)
	if err != nil {
		s.cfg.Logger.Warn("a reaction from the database failed", "comment", commentID, "err", err)
		return "", Errorf(CodeUnavailable, "reactions are unavailable, try again")
	}
	if on {
		return "1", nil
	}
	return "0", nil
}

// MaxCountPosts bounds the posts of one Counts call.
const MaxCountPosts = 100

// Counts returns how many comments of each post a reader may see: visible
// ones, flushed or not; pending, hidden and deleted ones not. Redis keeps
// them; a post it does not count yet is counted once in the database.
func (s *Service) Counts(ctx context.Context, posts []string) (map[string]int, error) {
	if len(posts) == 0 || len(posts) > MaxCountPosts {
		return nil, Errorf(CodeInvalidPayload, "posts must name 1 to 100 posts")
	}
	for _, p := range posts {
		if err := ValidatePostID(p); err != nil {
			return nil, err
		}
	}
	posts = slices.Compact(slices.Sorted(slices.Values(posts)))
	if s.counter == nil {
		return nil, Errorf(CodeUnavailable, "counts are unavailable")
	}
	out, err := s.counter.Counts(ctx, posts)
	if err != nil {
		s.cfg.Logger.Warn("counts failed", "posts", len(posts), "err", err)
		return nil, Errorf(CodeUnavailable, "counts are unavailable, try again")
	}
	return out, nil
}

// Counter counts the comments of posts a reader may see (the buffer's
// counts over the Store's).
type Counter interface {
	Counts(ctx context.Context, posts []string) (map[string]int, error)
	// Cached returns the counts known without a database read; posts not
	// counted yet are left out.
	Cached(ctx context.Context, posts []string) (map[string]int, error)
}

// SetCounter sets what Counts asks.
func (s *Service) SetCounter(c Counter) { s.counter = c }

// Sorts of a post's history pages (History's order is SortNewest's pages
// with each page oldest first, the wave-1 order).
const (
	SortNewest = "newest" // pages from the newest back, newest first
	SortOldest = "oldest" // pages from the oldest on, oldest first
	SortTop    = "top"    // most reactions first, then the newest
)

// MaxSortScan bounds the comments SortOldest and SortTop read of a post:
// they read it whole, page by page, for each page they answer.
const MaxSortScan = 10_000

// Sorted returns a page of a post's comments in the order sort names,
// after cursor (the page's Next before it; "" for the first page), at most
// limit; the pinned ones first on the first page. A post with more than
// MaxSortScan comments is sorted over its newest MaxSortScan.
func (s *Service) Sorted(ctx context.Context, viewer Actor, postID, sort, cursor string, limit int) (Page, error) {
	switch sort {
	case "":
		return s.History(ctx, viewer, postID, cursor, limit)
	case SortNewest:
		p, err := s.History(ctx, viewer, postID, cursor, limit)
		if err == nil {
			pins := min(pinnedCount(p.Comments), len(p.Comments))
			slices.Reverse(p.Comments[pins:])
		}
		return p, err
	case SortOldest, SortTop:
	default:
		return Page{}, Errorf(CodeInvalidPayload, "sort must be oldest, newest or top")
	}
	if limit <= 0 || limit > MaxPageLimit {
		return Page{}, Errorf(CodeInvalidPayload, "limit must be between 1 and 500")
	}
	var all []Comment
	before := ""
	for len(all) < MaxSortScan {
		p, err := s.History(ctx, viewer, postID, before, MaxPageLimit)
		if err != nil {
			return Page{}, err
		}
		all = append(all, p.Comments...)
		if p.Next == "" {
			break
		}
		before = p.Next
	}
	pins, rest := splitPinned(all)
	start := 0
	if sort == SortOldest {
		slices.SortFunc(rest, func(a, b Comment) int { return cmpID(a.ID, b.ID) })
		if cursor != "" {
			if !ValidID(cursor) {
				return Page{}, Errorf(CodeInvalidPayload, "the cursor must be a comment id")
			}
			start, _ = slices.BinarySearchFunc(rest, cursor, func(c Comment, id string) int { return cmpID(c.ID, id) })
			if start < len(rest) && rest[start].ID == cursor {
				start++
			}
		}
	} else {
		slices.SortStableFunc(rest, func(a, b Comment) int {
			if d := reactionTotal(b) - reactionTotal(a); d != 0 {
				return d
			}
			return -cmpID(a.ID, b.ID)
		})
		if cursor != "" {
			n, err := strconv.Atoi(strings.TrimPrefix(cursor, "top:"))
			if err != nil || n < 0 || !strings.HasPrefix(cursor, "top:") {
				return Page{}, Errorf(CodeInvalidPayload, "the cursor must be a top: cursor")
			}
			start = min(n, len(rest))
		}
	}
	end := min(start+limit, len(rest))
	page := Page{Comments: slices.Clone(rest[start:end])}
	if end < len(rest) {
		if sort == SortOldest {
			page.Next = rest[end-1].ID
		} else {
			page.Next = "top:" + strconv.Itoa(end)
		}
	}
	if cursor == "" {
		page.Comments = append(pins, page.Comments...)
	}
	return page, nil
}

// splitPinned returns the pinned comments of cs (which History puts first)
// and the others.
func splitPinned(cs []Comment) (pins, rest []Comment) {
	for _, c := range cs {
		if c.Pinned && !c.Deleted {
			pins = append(pins, c)
		} else {
			rest = append(rest, c)
		}
	}
	return pins, rest
}

// pinnedCount is how many comments at the start of cs are pinned.
func pinnedCount(cs []Comment) int {
	n := 0
	for n < len(cs) && cs[n].Pinned && !cs[n].Deleted {
		n++
	}
	return n
}

func reactionTotal(c Comment) int {
	n := 0
	for _, v := range c.Reactions {
		n += v
	}
	return n
}
