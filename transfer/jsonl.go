package transfer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/commentd/commentd/comment"
)

// maxLine bounds a JSON line of an export, in bytes.
const maxLine = 1 << 20

// parseJSONL emits the comments of commentd's own export (Export), one
// JSON object a line, with the ids they have: an export imports back as
// the same documents.
func parseJSONL(r io.Reader, emit func(record) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	line, off := 0, int64(0)
	for sc.Scan() {
		line++
		b := sc.Bytes()
		start := off
		off += int64(len(b)) + 1
		if len(b) == 0 {
			continue
		}
		var c comment.Comment
		if err := c.UnmarshalJSON(b); err != nil {
			return &ParseError{Line: line, Offset: start, Err: err}
		}
		if !comment.ValidID(c.ID) {
			return &ParseError{Line: line, Offset: start, Err: fmt.Errorf("_id %q is not 24 hex digits", c.ID)}
		}
		if err := emit(record{c: c}); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return &ParseError{Line: line + 1, Offset: off, Err: err}
	}
	return nil
}

// Source hands over stored comments in _id order (store.Store).
type Source interface {
	Each(ctx context.Context, postID string, since time.Time, fn func(comment.Comment) error) error
}

// Export writes the stored comments selected (postID "" for all; since
// zero for all times) to w as JSON lines, in _id order (creation order),
// through one read. It returns how many it wrote.
func Export(ctx context.Context, s Source, postID string, since time.Time, w io.Writer) (int, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	var buf []byte
	n := 0
	err := s.Each(ctx, postID, since, func(c comment.Comment) error {
		buf = append(c.AppendJSON(buf[:0]), '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("transfer: export: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("transfer: export: %w", err)
	}
	return n, nil
}
