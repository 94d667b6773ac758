package transfer

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/commentd/commentd/comment"
)

// Formats of an import file.
const (
	FormatDisqus    = "disqus"
	FormatWordPress = "wordpress"
	FormatJSONL     = "jsonl"
)

// Writer stores a batch of comments with one bulk insert, idempotently: a
// comment whose id is stored already counts in duplicates (store.Store).
type Writer interface {
	Import(ctx context.Context, cs []comment.Comment) (duplicates int, rejected []comment.Rejected, err error)
}

// Invalidator forgets that Redis holds the whole history of posts, so
// their next joins read the imported comments (buffer.Buffer).
type Invalidator interface {
	Invalidate(ctx context.Context, postIDs []string) error
}

// Config configures an import. Zero fields take the defaults noted.
type Config struct {
	Format    string         // FormatDisqus, FormatWordPress or FormatJSONL; required
	MapPost   *regexp.Regexp // with one capture group: maps a link or identifier to a post id; nil: see README
	DryRun    bool           // parse and count; write nothing
	BatchSize int            // comments per insert command; 1000
	MaxRunes  int            // longest content, in runes; comment.DefaultMaxRunes

	Progress io.Writer     // a progress line at most every ProgressEvery; nil: none
	Every    time.Duration // 1s
}

func (c *Config) setDefaults() {
	if c.BatchSize <= 0 {
		c.BatchSize = 1000
	}
	if c.MaxRunes <= 0 {
		c.MaxRunes = comment.DefaultMaxRunes
	}
	if c.Every <= 0 {
		c.Every = time.Second
	}
}

// Summary is what an import did.
type Summary struct {
	Read       int            // comments found in the file
	Imported   int            // stored by this run (with DryRun: would be offered to the database)
	Already    int            // stored before this run
	Skipped    map[string]int // by reason: not imported on purpose (spam, pending deleted, ...)
	Errors     map[string]int // by reason: refused by the database
	Orphans    int            // replies whose parent is not imported, imported as top-level comments
	Posts      int            // posts touched
	Batches    int            // insert commands sent
	Invalidate error          // Redis could not be told (nil when it was)
	Elapsed    time.Duration
}

// String is the summary printed at the end of an import.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "read %d comments: imported %d, already there %d, skipped %d, errors %d; %d posts, %d insert commands, %s\n",
		s.Read, s.Imported, s.Already, total(s.Skipped), total(s.Errors), s.Posts, s.Batches, s.Elapsed.Round(time.Millisecond))
	if s.Orphans > 0 {
		fmt.Fprintf(&b, "  %d replies whose parent is not imported were imported as top-level comments\n", s.Orphans)
	}
	writeReasons(&b, "skipped", s.Skipped)
	writeReasons(&b, "error", s.Errors)
	if s.Invalidate != nil {
		fmt.Fprintf(&b, "warning: Redis not told (%v): joins may not show the imported comments until the posts' Redis keys expire (history.recent_ttl)\n", s.Invalidate)
	}
	return b.String()
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func writeReasons(b *strings.Builder, what string, m map[string]int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(b, "  %s: %s: %d\n", what, k, m[k])
	}
}

// A record is what a parser found: a comment to import, or one skipped on
// purpose with a reason.
type record struct {
	c      comment.Comment
	skip   string
	orphan bool // a reply whose parent is not in the file: imported as top-level
}

// ParseError is a file that could not be read as its format, with where.
type ParseError struct {
	Line   int   // 1-based; 0 if unknown
	Offset int64 // bytes from the start of the file
	Err    error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("transfer: parse error at line %d (byte %d): %v", e.Line, e.Offset, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Import reads r in cfg.Format and stores its comments through w, then
// tells inv (nil: nobody) which posts it touched. It returns the summary so
// far with any error: a *ParseError for a file it cannot read, or the
// database's error.
func Import(ctx context.Context, r io.Reader, cfg Config, w Writer, inv Invalidator) (Summary, error) {
	cfg.setDefaults()
	im := &importer{ctx: ctx, cfg: cfg, w: w, posts: map[string]struct{}{}, start: time.Now(), last: time.Now(),
		sum: Summary{Skipped: map[string]int{}, Errors: map[string]int{}}}
	var err error
	switch cfg.Format {
	case FormatDisqus:
		err = parseDisqus(r, postMapper{cfg.MapPost}, im.add)
	case FormatWordPress:
		err = parseWordPress(r, postMapper{cfg.MapPost}, im.add)
	case FormatJSONL:
		err = parseJSONL(r, im.add)
	default:
		err = fmt.Errorf("transfer: unknown format %q (disqus, wordpress or jsonl)", cfg.Format)
	}
	if err == nil {
		err = im.flush(ctx)
	}
	im.sum.Posts = len(im.posts)
	if len(im.posts) > 0 && inv != nil && !cfg.DryRun {
		ids := make([]string, 0, len(im.posts))
		for p := range im.posts {
			ids = append(ids, p)
		}
		slices.Sort(ids)
		im.sum.Invalidate = inv.Invalidate(ctx, ids)
	}
	im.sum.Elapsed = time.Since(im.start)
	return im.sum, err
}

type importer struct {
	cfg   Config
	w     Writer
	batch []comment.Comment
	posts map[string]struct{}
	sum   Summary
	start time.Time
	last  time.Time       // of the last progress line
	ctx   context.Context // of Import, for the batches written as the file is read
}

// add takes one record of the parser; a full batch is written.
func (im *importer) add(r record) error {
	im.sum.Read++
	if r.orphan {
		im.sum.Orphans++
	}
	if r.skip == "" {
		r.skip = im.check(&r.c)
	}
	if r.skip != "" {
		im.sum.Skipped[r.skip]++
	} else {
		im.batch = append(im.batch, r.c)
		im.posts[r.c.PostID] = struct{}{}
	}
	if len(im.batch) >= im.cfg.BatchSize {
		if err := im.flush(im.ctx); err != nil {
			return err
		}
	}
	if im.cfg.Progress != nil && time.Since(im.last) >= im.cfg.Every {
		im.last = time.Now()
		el := time.Since(im.start).Seconds()
		fmt.Fprintf(im.cfg.Progress, "read %d, imported %d, already there %d, skipped %d, errors %d (%.0f comments/s)\n",
			im.sum.Read, im.sum.Imported, im.sum.Already, total(im.sum.Skipped), total(im.sum.Errors), float64(im.sum.Read)/el)
	}
	return nil
}

// check validates a parsed comment and returns why it is skipped, or "".
func (im *importer) check(c *comment.Comment) string {
	if comment.ValidatePostID(c.PostID) != nil {
		return "invalid post id"
	}
	if c.Deleted {
		return "" // a tombstone: no user, no content
	}
	if comment.ValidateUserID(c.UserID) != nil {
		return "invalid user id"
	}
	if err := comment.ValidateContent(c.Content, im.cfg.MaxRunes); err != nil {
		return "content: " + err.Error()
	}
	return ""
}

func (im *importer) flush(ctx context.Context) error {
	if len(im.batch) == 0 {
		return nil
	}
	n := len(im.batch)
	if im.cfg.DryRun {
		im.sum.Imported += n
		im.batch = im.batch[:0]
		return nil
	}
	dups, rejected, err := im.w.Import(ctx, im.batch)
	if err != nil {
		return fmt.Errorf("transfer: write a batch of %d: %w", n, err)
	}
	im.sum.Batches++
	im.sum.Already += dups
	for _, r := range rejected {
		im.sum.Errors[r.Reason]++
	}
	im.sum.Imported += n - dups - len(rejected)
	im.batch = im.batch[:0]
	return nil
}

// postMapper turns a source's link or identifier into a post id.
type postMapper struct{ re *regexp.Regexp }

// post returns the post id for the first candidate that gives one: with a
// regexp, its capture group on the first candidate it matches; without,
// the first non-empty candidate. Either is sanitized to the alphabet of
// comment.ValidatePostID. The reason is set when there is none.
func (m postMapper) post(candidates ...string) (id, reason string) {
	for _, s := range candidates {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if m.re != nil {
			sub := m.re.FindStringSubmatch(s)
			if len(sub) < 2 {
				continue
			}
			s = sub[1]
		}
		if id := sanitize(s, "-_.:", comment.MaxPostIDLen); id != "" {
			return id, ""
		}
		return "", "invalid post id"
	}
	if m.re != nil {
		return "", "post not mapped by --map-post"
	}
	return "", "no post id"
}
