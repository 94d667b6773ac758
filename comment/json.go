package comment

import (
	"bytes"
	"slices"
	"strconv"
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
	if c.ParentID != "" {
		dst = append(dst, `,"parentId":`...)
		dst = jsonenc.AppendString(dst, c.ParentID, true)
	}
	dst = append(dst, `,"userId":`...)
	dst = jsonenc.AppendString(dst, c.UserID, true)
	if c.UserName != "" {
		dst = append(dst, `,"userName":`...)
		dst = jsonenc.AppendString(dst, c.UserName, true)
	}
	if c.Avatar != "" {
		dst = append(dst, `,"avatar":`...)
		dst = jsonenc.AppendString(dst, c.Avatar, true)
	}
	dst = append(dst, `,"content":`...)
	dst = jsonenc.AppendString(dst, c.Content, true)
	dst = append(dst, `,"createdAt":"`...)
	dst = appendTime(dst, c.CreatedAt)
	dst = append(dst, '"')
	if !c.EditedAt.IsZero() {
		dst = append(dst, `,"editedAt":"`...)
		dst = appendTime(dst, c.EditedAt)
		dst = append(dst, '"')
	}
	if c.Deleted {
		dst = append(dst, `,"deleted":true`...)
	}
	if c.Status != "" {
		dst = append(dst, `,"status":`...)
		dst = jsonenc.AppendString(dst, c.Status, true)
	}
	if c.Pinned {
		dst = append(dst, `,"pinned":true`...)
	}
	if len(c.Reactions) > 0 {
		dst = appendReactions(dst, c.Reactions)
	}
	if c.Replies > 0 {
		dst = append(dst, `,"replies":`...)
		dst = strconv.AppendInt(dst, int64(c.Replies), 10)
	}
	if c.V > 1 { // a new comment's v (1) goes unsaid: its wire form is wave 1's
		dst = append(dst, `,"v":`...)
		dst = strconv.AppendInt(dst, int64(c.V), 10)
	}
	return append(dst, '}')
}

// appendReactions appends ,"reactions":{...} with the keys sorted, as
// encoding/json writes a map.
func appendReactions(dst []byte, r map[string]int) []byte {
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, `,"reactions":{`...)
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonenc.AppendString(dst, k, true)
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, int64(r[k]), 10)
	}
	return append(dst, '}')
}

// appendTime appends t in TimeLayout, in UTC. time.AppendFormat, which
// reads its layout on every call, was four fifths of a comment's encoding.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, TimeLayout)
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	dst = append(dst, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-')
	dst = append(dst, byte('0'+month/10), byte('0'+month%10), '-', byte('0'+day/10), byte('0'+day%10), 'T')
	dst = append(dst, byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10), ':')
	dst = append(dst, byte('0'+sec/10), byte('0'+sec%10), '.')
	return append(dst, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// JSON returns c's wire form.
func (c Comment) JSON() []byte {
	return c.AppendJSON(make([]byte, 0, 96+len(c.ID)+len(c.PostID)+len(c.ParentID)+len(c.UserID)+len(c.UserName)+len(c.Avatar)+len(c.Content)))
}

// MarshalJSON encodes c in the wire form.
func (c Comment) MarshalJSON() ([]byte, error) { return c.JSON(), nil }

// pendingJSON is how a pending comment's JSON says so. A JSON string
// escapes its quotes, so content cannot hold it.
const pendingJSON = `"status":"pending"`

// IsPendingJSON reports whether b, a comment's JSON or a change record's,
// holds a pending comment.
func IsPendingJSON(b []byte) bool { return bytes.Contains(b, []byte(pendingJSON)) }
