package transfer

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"github.com/commentd/commentd/comment"
)

// DeriveID returns the id of an imported comment: a 12-byte ObjectId whose
// first 4 bytes are its creation second (so ids still sort by time, and
// ObjectId.Timestamp reads it) and whose other 8 bytes are the first 8 of
// SHA-256("<format>:<sourceID>"). The same source comment always gets the
// same id, which makes a re-run import nothing twice and lets a reply name
// its parent without looking it up.
func DeriveID(format, sourceID string, created time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[0:4], uint32(created.Unix()))
	h := sha256.Sum256([]byte(format + ":" + sourceID))
	copy(b[4:], h[:8])
	return hex.EncodeToString(b[:])
}

// sanitize maps s into the alphabet of a post or user id (letters, digits
// and extra): every run of other bytes becomes one '-', leading and
// trailing '-' go, and the result is cut to max bytes. "" if nothing is
// left.
func sanitize(s, extra string, max int) string {
	var b strings.Builder
	dash := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0 {
			b.WriteByte(c)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > max {
		out = strings.TrimRight(out[:max], "-")
	}
	return out
}

// userID returns prefix+name in the alphabet of comment.ValidateUserID, or
// prefix+"anonymous" when nothing of name is left.
func userID(prefix, name string) string {
	s := sanitize(name, "-_.:@", comment.MaxUserIDLen-len(prefix))
	if s == "" {
		s = "anonymous"
	}
	return prefix + s
}

// tail is the part of a derived id after its creation second.
type tail [8]byte

func tailOf(format, sourceID string) tail {
	h := sha256.Sum256([]byte(format + ":" + sourceID))
	return tail(h[:8])
}

// linker gives replies the derived id of their parent, which starts with
// the parent's creation second: it remembers the second of every comment
// seen (12 bytes of key and value each), and holds a reply whose parent
// has not been seen yet until it is (exports list parents first, mostly).
// Replies whose parent never comes are emitted at the end as top-level
// comments (orphans).
type linker struct {
	format  string
	seen    map[tail]uint32
	waiting map[tail][]comment.Comment
	emit    func(record) error
}

func newLinker(format string, emit func(record) error) *linker {
	return &linker{format: format, seen: map[tail]uint32{}, waiting: map[tail][]comment.Comment{}, emit: emit}
}

// see records a comment that can be a parent, with its source id, and
// releases its waiting replies.
func (l *linker) see(sourceID string, created time.Time) error {
	t := tailOf(l.format, sourceID)
	l.seen[t] = uint32(created.Unix())
	kids := l.waiting[t]
	delete(l.waiting, t)
	for _, c := range kids {
		c.ParentID = DeriveID(l.format, sourceID, created)
		if err := l.emit(record{c: c}); err != nil {
			return err
		}
	}
	return nil
}

// add emits c, a reply to parentSource ("" for none), once its parent's id
// is known.
func (l *linker) add(c comment.Comment, parentSource string) error {
	if parentSource == "" {
		return l.emit(record{c: c})
	}
	t := tailOf(l.format, parentSource)
	if sec, ok := l.seen[t]; ok {
		c.ParentID = DeriveID(l.format, parentSource, time.Unix(int64(sec), 0))
		return l.emit(record{c: c})
	}
	l.waiting[t] = append(l.waiting[t], c)
	return nil
}

// end emits the replies whose parent never came, as top-level comments.
func (l *linker) end() error {
	for _, kids := range l.waiting {
		for _, c := range kids {
			if err := l.emit(record{c: c, orphan: true}); err != nil {
				return err
			}
		}
	}
	l.waiting = nil
	return nil
}
