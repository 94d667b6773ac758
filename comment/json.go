package comment

import (
	"time"

	"github.com/commentd/commentd/internal/jsonenc"
)

// AppendJSON appends c's wire form to dst: the bytes encoding/json gives
// for it (FuzzAppendJSON compares them), without reflection or the
// re-scan encoding/json does after a MarshalJSON. Every comment is encoded
// for Redis and again for its ack.
func (c Comment) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"_id":`...)
	dst = jsonenc.AppendString(dst, c.ID, true)
	dst = append(dst, `,"postId":`...)
	dst = jsonenc.AppendString(dst, c.PostID, true)
	dst = append(dst, `,"userId":`...)
	dst = jsonenc.AppendString(dst, c.UserID, true)
	dst = append(dst, `,"content":`...)
	dst = jsonenc.AppendString(dst, c.Content, true)
	dst = append(dst, `,"createdAt":"`...)
	dst = c.CreatedAt.UTC().AppendFormat(dst, TimeLayout)
	return append(dst, `"}`...)
}

// JSON returns c's wire form.
func (c Comment) JSON() []byte {
	return c.AppendJSON(make([]byte, 0, 96+len(c.ID)+len(c.PostID)+len(c.UserID)+len(c.Content)))
}

// MarshalJSON encodes c in the wire form.
func (c Comment) MarshalJSON() ([]byte, error) { return c.JSON(), nil }

// FormatTime formats t as the wire contract wants it.
func FormatTime(t time.Time) string {
	return t.UTC().Format(TimeLayout)
}
