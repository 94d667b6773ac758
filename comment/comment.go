package comment

import (
	"encoding/json"
	"fmt"
	"time"
)

// TimeLayout is the wire form of CreatedAt: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Comment is one comment on a post. Its JSON form is the wire contract:
// {_id, postId, userId, content, createdAt}.
type Comment struct {
	ID        string    // 24 hex digits, see NewID
	PostID    string    // see ValidatePostID
	UserID    string    // see ValidateUserID
	Content   string    // stored and returned verbatim; rendered as text
	CreatedAt time.Time // UTC, millisecond precision
}

type wireComment struct {
	ID        string `json:"_id"`
	PostID    string `json:"postId"`
	UserID    string `json:"userId"`
	Content   string `json:"content"`
	CreatedAt string `json:"createdAt"`
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
	*c = Comment{ID: w.ID, PostID: w.PostID, UserID: w.UserID, Content: w.Content, CreatedAt: t.UTC()}
	return nil
}

// Rejected is a comment the database refused for a reason other than a
// duplicate id (which means it is already stored).
type Rejected struct {
	Comment Comment
	Reason  string
}
