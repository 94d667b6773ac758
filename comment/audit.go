package comment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Audit is one moderation action as the audit log keeps it: who did what,
// when, to which post, comment or user, and why. The buffer writes it in
// the same Lua script that applies the action (a change record, a ban, a
// lock), so an action is never applied without its entry, nor logged
// without being applied.
type Audit struct {
	ID        string    // the log's id, set when read: sorts by time, newest last
	At        time.Time // when the action was made, UTC milliseconds
	By        string    // the moderator
	Action    string    // an AuditAction
	PostID    string    // moderate, delete, lock and unlock
	CommentID string    // moderate and delete
	UserID    string    // the comment's author, or the banned user
	Reason    string    // as the moderator gave it; may be ""
}

// The actions of the audit log besides the moderate ops (hide, restore,
// pin, unpin, approve, reject), a moderator's delete and an erase
// (erase_user, one entry per comment), which are logged under their op.
const (
	AuditBan    = "ban"
	AuditUnban  = "unban"
	AuditLock   = "lock"
	AuditUnlock = "unlock"
	// AuditSlowMode sets a post's slow mode; its reason starts with the
	// interval ("every 30s: ..." or "off: ...").
	AuditSlowMode = "slow_mode"
)

// SlowModeReason is the audit log's reason of a slow mode change.
func SlowModeReason(seconds int, reason string) string {
	head := "off"
	if seconds > 0 {
		head = fmt.Sprintf("every %ds", seconds)
	}
	if reason == "" {
		return head
	}
	return head + ": " + reason
}

// MaxReasonRunes bounds the reason a moderator gives for an action.
const MaxReasonRunes = 500

// ValidateReason checks the reason of a moderation action.
func ValidateReason(reason string) error {
	if !utf8.ValidString(reason) || utf8.RuneCountInString(reason) > MaxReasonRunes {
		return Errorf(CodeInvalidPayload, fmt.Sprintf("reason must be at most %d characters of valid UTF-8", MaxReasonRunes))
	}
	return nil
}

// CleanReason returns a valid reason without surrounding blanks.
func CleanReason(reason string) string { return strings.TrimSpace(reason) }

// audited reports whether a change by actor of a comment in state is a
// moderation action for the audit log: every moderate op, a moderator's
// delete of another user's comment, and every erase (also a user's own:
// the log then says what was erased, by id, and when).
func audited(actor Actor, op Op, state Comment) bool {
	if op == OpErase {
		return true
	}
	if !actor.Moderator {
		return false
	}
	return ModOps[op] || op == OpDelete && state.UserID != actor.UserID
}

type wireAudit struct {
	ID        string `json:"id,omitempty"`
	At        string `json:"at"`
	By        string `json:"by"`
	Action    string `json:"action"`
	PostID    string `json:"postId,omitempty"`
	CommentID string `json:"commentId,omitempty"`
	UserID    string `json:"userId,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// MarshalJSON encodes the wire form {id, at, by, action, postId?,
// commentId?, userId?, reason?}; at is RFC 3339 UTC with milliseconds.
func (a Audit) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireAudit{ID: a.ID, At: a.At.UTC().Format(TimeLayout), By: a.By, Action: a.Action,
		PostID: a.PostID, CommentID: a.CommentID, UserID: a.UserID, Reason: a.Reason})
}

// JSON returns the wire form.
func (a Audit) JSON() []byte {
	b, _ := a.MarshalJSON() // strings and a time: cannot fail
	return b
}

// UnmarshalJSON decodes the wire form.
func (a *Audit) UnmarshalJSON(b []byte) error {
	var w wireAudit
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	at, err := time.Parse(time.RFC3339Nano, w.At)
	if err != nil {
		return fmt.Errorf("audit: at: %w", err)
	}
	*a = Audit{ID: w.ID, At: at.UTC(), By: w.By, Action: w.Action, PostID: w.PostID, CommentID: w.CommentID,
		UserID: w.UserID, Reason: w.Reason}
	return nil
}

// Limits of an audit log page.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// AuditPage is one page of the audit log.
type AuditPage struct {
	Entries []Audit // newest first
	Next    string  // the before of the next (older) page; "" when there is none
}

// AuditLog is where the audit log is read (the buffer's streams).
type AuditLog interface {
	// AuditLog returns up to limit entries older than the one of id
	// before ("" for the newest), newest first, and whether older ones
	// remain. It fails with ErrBadCursor for a before it cannot read.
	AuditLog(ctx context.Context, before string, limit int) (entries []Audit, more bool, err error)
}

// ErrBadCursor means an audit log cursor is not one the log gave.
var ErrBadCursor = Errorf(CodeInvalidPayload, "before must be the id of an audit log entry")

// AuditLog returns a page of the audit log, newest first: up to limit
// (1 to MaxAuditLimit) entries older than the one of id before ("" for the
// newest). Moderators only.
func (s *Service) AuditLog(ctx context.Context, viewer Actor, before string, limit int) (AuditPage, error) {
	if !viewer.Moderator {
		return AuditPage{}, Errorf(CodeForbidden, "only moderators may read the audit log")
	}
	if limit < 1 || limit > MaxAuditLimit {
		return AuditPage{}, Errorf(CodeInvalidPayload, fmt.Sprintf("limit must be between 1 and %d", MaxAuditLimit))
	}
	if s.cfg.Audit == nil {
		return AuditPage{}, Errorf(CodeUnavailable, "the audit log is not available on this server")
	}
	es, more, err := s.cfg.Audit.AuditLog(ctx, before, limit)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return AuditPage{}, e
		}
		return AuditPage{}, s.clientError(err)
	}
	page := AuditPage{Entries: es}
	if more && len(es) > 0 {
		page.Next = es[len(es)-1].ID
	}
	return page, nil
}
