package comment

import (
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of ids. Post and user ids are opaque strings chosen by the site
// embedding commentd: slugs, numbers, ObjectIds, e-mail-like names.
const (
	MaxPostIDLen = 128 // bytes
	MaxUserIDLen = 128 // bytes
)

// DefaultMaxRunes is the default limit of Content, in runes
// (limits.comment_max_runes).
const DefaultMaxRunes = 2000

// Input is a comment as a client submits it.
type Input struct {
	PostID   string
	UserID   string
	UserName string // display name; cleaned by CleanName
	Avatar   string // picture URL; kept only if CleanAvatar accepts it
	Content  string
	ClientID string // optional idempotency key chosen by the client
	ParentID string // the comment this one replies to, "" for none
	// Moderator: the poster moderates; their comments are never held.
	Moderator bool
}

// MaxNameRunes bounds a display name.
const MaxNameRunes = 64

// CleanName returns a display name fit to show: valid UTF-8 without
// control characters, spaces trimmed, at most MaxNameRunes runes.
func CleanName(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > MaxNameRunes {
		s = strings.TrimSpace(string([]rune(s)[:MaxNameRunes]))
	}
	return s
}

// MaxAvatarLen bounds an avatar URL, in bytes.
const MaxAvatarLen = 512

// CleanAvatar returns s if it is an absolute http or https URL of at most
// MaxAvatarLen bytes without spaces, quotes or angle brackets, else "".
func CleanAvatar(s string) string {
	if len(s) > MaxAvatarLen || strings.ContainsAny(s, " \t\r\n\"'<>\\`") {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return ""
	}
	for _, r := range s {
		if r < 0x21 || r > 0x7e {
			return ""
		}
	}
	return s
}

// MaxClientIDLen bounds a client's idempotency key, in bytes.
const MaxClientIDLen = 64

// New validates in and returns the comment to store, with a fresh id and
// createdAt = now truncated to milliseconds. maxRunes <= 0 means
// DefaultMaxRunes.
func New(in Input, now time.Time, maxRunes int) (Comment, error) {
	if err := ValidatePostID(in.PostID); err != nil {
		return Comment{}, err
	}
	if err := ValidateUserID(in.UserID); err != nil {
		return Comment{}, err
	}
	if err := ValidateContent(in.Content, maxRunes); err != nil {
		return Comment{}, err
	}
	if in.ClientID != "" && !validName(in.ClientID, MaxClientIDLen, "-_.:") {
		return Comment{}, Errorf(CodeInvalidPayload, "clientId must be 1 to 64 letters, digits or -_.:")
	}
	if in.ParentID != "" && !ValidID(in.ParentID) {
		return Comment{}, Errorf(CodeInvalidPayload, "parentId must be a comment id")
	}
	now = now.UTC().Truncate(time.Millisecond)
	return Comment{
		ID:        NewID(now),
		PostID:    in.PostID,
		UserID:    in.UserID,
		UserName:  CleanName(in.UserName),
		Avatar:    CleanAvatar(in.Avatar),
		Content:   in.Content,
		CreatedAt: now,
		V:         1,
	}, nil
}

// ValidatePostID checks a post id: 1 to MaxPostIDLen bytes of letters,
// digits and "-_.:".
func ValidatePostID(s string) error {
	if !validName(s, MaxPostIDLen, "-_.:") {
		return Errorf(CodeInvalidPostID, "postId must be 1 to 128 letters, digits or -_.:")
	}
	return nil
}

// ValidateUserID checks a user id: 1 to MaxUserIDLen bytes of letters,
// digits and "-_.:@".
func ValidateUserID(s string) error {
	if !validName(s, MaxUserIDLen, "-_.:@") {
		return Errorf(CodeInvalidUserID, "userId must be 1 to 128 letters, digits or -_.:@")
	}
	return nil
}

func validName(s string, max int, extra string) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// ValidateContent checks comment text: valid UTF-8, no control characters
// but newline and tab, not only white space, at most maxRunes runes.
func ValidateContent(s string, maxRunes int) error {
	if maxRunes <= 0 {
		maxRunes = DefaultMaxRunes
	}
	if !utf8.ValidString(s) {
		return Errorf(CodeInvalidPayload, "content must be valid UTF-8")
	}
	n := 0
	for _, r := range s {
		n++
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || 0x80 <= r && r < 0xa0 {
			return Errorf(CodeInvalidPayload, "content must not contain control characters")
		}
	}
	if strings.TrimSpace(s) == "" {
		return Errorf(CodeEmptyContent, "content is empty")
	}
	if n > maxRunes {
		return Errorf(CodeContentTooLong, "content is longer than "+strconv.Itoa(maxRunes)+" characters")
	}
	return nil
}
