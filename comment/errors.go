package comment

import "errors"

// Code is a stable error code that clients see and may switch on.
type Code string

// The stable error codes of the wire contract.
const (
	CodeInvalidPayload Code = "INVALID_PAYLOAD"
	CodeInvalidPostID  Code = "INVALID_POST_ID"
	CodeInvalidUserID  Code = "INVALID_USER_ID"
	CodeEmptyContent   Code = "EMPTY_CONTENT"
	CodeContentTooLong Code = "CONTENT_TOO_LONG"
	CodeRateLimited    Code = "RATE_LIMITED"
	CodeUnauthorized   Code = "UNAUTHORIZED"
	CodeBusy           Code = "BUSY"
	CodeUnavailable    Code = "UNAVAILABLE"
	CodeInternal       Code = "INTERNAL"

	CodeNotFound         Code = "NOT_FOUND"          // no such comment in the post, or not one the user may see
	CodeForbidden        Code = "FORBIDDEN"          // not the author, or not a moderator
	CodeEditWindowClosed Code = "EDIT_WINDOW_CLOSED" // an author's edit or delete after comment.edit_window
	CodeConflict         Code = "CONFLICT"           // a change based on an old version
	CodeBanned           Code = "BANNED"             // the user is banned from posting (ban_user)
	CodePostLocked       Code = "POST_LOCKED"        // the post takes no new comments or edits (lock_post)
	CodeRejected         Code = "REJECTED"           // refused by the site's filters: a listed word, or the moderation hook
	CodeInvalidReaction  Code = "INVALID_REACTION"   // a reaction not in reactions.allowed
	CodeSlowMode         Code = "SLOW_MODE"          // the post's slow mode: the user commented on it less than its interval ago
)

// Error is what a client is told: a stable code and a short message. Internal
// causes are logged on the server, never put here.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf returns an *Error with the given code.
func Errorf(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// Sentinel errors the service's dependencies wrap, so that the service can
// tell clients BUSY or UNAVAILABLE without knowing Redis.
var (
	ErrBusy        = errors.New("busy")        // over the high-water mark, or out of memory
	ErrUnavailable = errors.New("unavailable") // a backend cannot be reached
	// ErrStale means a change was not applied: the comment is no longer at
	// the version the change was decided on.
	ErrStale = errors.New("stale")
	// ErrLocked means a new comment or an edit was not appended: its post
	// is locked.
	ErrLocked = errors.New("post locked")
	// ErrUnknownReactor means a reaction was not applied: Redis does not
	// know whether the user gave it before; the database must say (Seed).
	ErrUnknownReactor = errors.New("reactor unknown")
)
