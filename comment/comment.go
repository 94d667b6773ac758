package comment

import (
	"encoding/json"
	"fmt"
	"time"
)

// TimeLayout is the wire form of CreatedAt: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Statuses of a comment that not every reader may see. The zero status is
// a visible comment.
const (
	StatusPending = "pending" // held for moderation (issue "Moderation")
	StatusHidden  = "hidden"  // hidden by a moderator
)

// GuestPrefix starts the user id of a guest (auth.guests): someone who
// posts under a name they give, without a token.
const GuestPrefix = "guest:"

// Moderation modes (moderation.mode): which new comments are held
// (StatusPending) until a moderator approves them.
const (
	ModerateOff    = "off"    // none
	ModerateAll    = "all"    // every comment of a user who does not moderate
	ModerateGuests = "guests" // guests' comments
	ModerateFirst  = "first"  // a user's comments until one of them is approved
)

// Comment is one comment on a post, in its current state. Its JSON form is
// the wire contract: {_id, postId, userId, content, createdAt}, and the
// optional fields of DESIGN.md "Wire additions", present only when set.
type Comment struct {
	ID        string    // 24 hex digits, see NewID
	PostID    string    // see ValidatePostID
	ParentID  string    // the comment this one replies to (an ID); "" for a top-level comment
	UserID    string    // see ValidateUserID; "" on a tombstone
	UserName  string    // display name, from the token or a guest's choice; "" for none
	Avatar    string    // an http(s) URL of the user's picture, from the token; "" for none
	Content   string    // stored and returned verbatim; rendered as text; "" on a tombstone
	CreatedAt time.Time // UTC, millisecond precision

	EditedAt time.Time // last edit by its author; zero if never edited
	Deleted  bool      // a tombstone: content and user removed
	Status   string    // "", StatusPending or StatusHidden
	Pinned   bool      // pinned by a moderator
	// Reactions is reaction → number of users who gave it; nil for none.
	// Never mutated in place: a change replaces it.
	Reactions map[string]int
	Replies   int // direct replies a reader may see
	V         int // version: 1 when created, +1 per change; 0 reads as 1
}

// Version returns c.V, with the 0 of a comment written before versions as 1.
func (c Comment) Version() int {
	if c.V <= 0 {
		return 1
	}
	return c.V
}

// Visible reports whether every reader may see c, and counts it.
func (c Comment) Visible() bool { return !c.Deleted && c.Status == "" }

// Tombstone reports whether c is deleted but kept, shown without content
// or author, because readers may see replies to it.
func (c Comment) Tombstone() bool { return c.Deleted && c.Replies > 0 && c.Status == "" }

// visibility is 1 for a comment every reader may see, else 0: a change's
// Delta is the difference.
func (c Comment) visibility() int {
	if c.Visible() {
		return 1
	}
	return 0
}

type wireComment struct {
	ID        string         `json:"_id"`
	PostID    string         `json:"postId"`
	ParentID  string         `json:"parentId,omitempty"`
	UserID    string         `json:"userId"`
	UserName  string         `json:"userName,omitempty"`
	Avatar    string         `json:"avatar,omitempty"`
	Content   string         `json:"content"`
	CreatedAt string         `json:"createdAt"`
	EditedAt  string         `json:"editedAt,omitempty"`
	Deleted   bool           `json:"deleted,omitempty"`
	Status    string         `json:"status,omitempty"`
	Pinned    bool           `json:"pinned,omitempty"`
	Reactions map[string]int `json:"reactions,omitempty"`
	Replies   int            `json:"replies,omitempty"`
	V         int            `json:"v,omitempty"` // only above 1: absent reads as 1
}

// UnmarshalJSON decodes the wire form.
func (c *Comment) UnmarshalJSON(b []byte) error {
	var w wireComment
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, w.CreatedAt)
	if err != nil {
		return fmt.Errorf("comment: createdAt: %w", err)
	}
	*c = Comment{ID: w.ID, PostID: w.PostID, ParentID: w.ParentID, UserID: w.UserID, UserName: w.UserName, Avatar: w.Avatar, Content: w.Content, CreatedAt: t.UTC(),
		Deleted: w.Deleted, Status: w.Status, Pinned: w.Pinned, Reactions: w.Reactions, Replies: w.Replies, V: w.V}
	if len(c.Reactions) == 0 {
		c.Reactions = nil
	}
	if c.V == 0 {
		c.V = 1 // unsaid on a new comment
	}
	if w.EditedAt != "" {
		e, err := time.Parse(time.RFC3339Nano, w.EditedAt)
		if err != nil {
			return fmt.Errorf("comment: editedAt: %w", err)
		}
		c.EditedAt = e.UTC()
	}
	return nil
}

// Rejected is a write the database refused for a reason other than a
// duplicate id (which means it is already stored).
type Rejected struct {
	Change Change
	Reason string
}
