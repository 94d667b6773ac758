package transfer

import (
	"encoding/xml"
	"io"
	"strings"
	"time"

	"github.com/commentd/commentd/comment"
)

// A WordPress eXtended RSS (WXR) export: rss > channel > item, one per post
// or page, with its wp:comment elements.
type wpComment struct {
	ID       string `xml:"comment_id"`
	Parent   string `xml:"comment_parent"`
	Author   string `xml:"comment_author"`
	Email    string `xml:"comment_author_email"` // read, never stored
	DateGMT  string `xml:"comment_date_gmt"`
	Content  string `xml:"comment_content"`
	Approved string `xml:"comment_approved"`
	Type     string `xml:"comment_type"`
}

// wpDateLayout is the layout of wp:comment_date_gmt.
const wpDateLayout = "2006-01-02 15:04:05"

// parseWordPress emits the comments of a WXR file: approved ones (1) as
// visible, pending ones (0) with StatusPending; spam and trash are skipped,
// and so are pingbacks and trackbacks. A comment's post is the item's
// wp:post_name, else its wp:post_id (with --map-post: the regexp on the
// item's link, then its post_name).
func parseWordPress(r io.Reader, m postMapper, emit func(record) error) error {
	var link, name, postID string // of the current item
	l := newLinker(FormatWordPress, emit)
	err := xmlStream(r, func(path []string, se xml.StartElement) bool {
		if len(path) == 2 && se.Name.Local == "item" {
			link, name, postID = "", "", ""
		}
		if len(path) != 3 || path[2] != "item" {
			return false
		}
		switch se.Name.Local {
		case "link", "post_name", "post_id", "comment":
			return true
		}
		return false
	}, func(d *xml.Decoder, se xml.StartElement) error {
		switch se.Name.Local {
		case "link":
			return d.DecodeElement(&link, &se)
		case "post_name":
			return d.DecodeElement(&name, &se)
		case "post_id":
			return d.DecodeElement(&postID, &se)
		}
		var wc wpComment
		if err := d.DecodeElement(&wc, &se); err != nil {
			return err
		}
		switch strings.TrimSpace(wc.Type) {
		case "", "comment":
		default:
			return emit(record{skip: "pingback or trackback"})
		}
		var status string
		switch a := strings.TrimSpace(wc.Approved); a {
		case "1":
		case "0":
			status = comment.StatusPending
		default: // "spam", "trash"
			return emit(record{skip: a})
		}
		var post, why string
		if m.re != nil {
			post, why = m.post(link, name)
		} else {
			post, why = m.post(name, postID)
		}
		if post == "" {
			return emit(record{skip: why})
		}
		created, err := time.ParseInLocation(wpDateLayout, strings.TrimSpace(wc.DateGMT), time.UTC)
		if err != nil || created.Year() < 1970 {
			return emit(record{skip: "bad date"})
		}
		id := strings.TrimSpace(wc.ID)
		if err := l.see(id, created); err != nil {
			return err
		}
		author := strings.TrimSpace(wc.Author)
		c := comment.Comment{
			ID:        DeriveID(FormatWordPress, id, created),
			PostID:    post,
			UserID:    userID("wp:", author),
			UserName:  comment.CleanName(author),
			Content:   HTMLText(wc.Content),
			CreatedAt: created,
			Status:    status,
			V:         1,
		}
		parent := strings.TrimSpace(wc.Parent)
		if parent == "0" {
			parent = ""
		}
		return l.add(c, parent)
	})
	if err != nil {
		return err
	}
	return l.end()
}
