package transfer

import (
	"encoding/xml"
	"io"
	"strings"
	"time"

	"github.com/commentd/commentd/comment"
)

// A Disqus export (https://help.disqus.com/en/articles/1717164): threads,
// then posts naming their thread and parent by dsq:id.
type disqusThread struct {
	DsqID string `xml:"id,attr"`
	ID    string `xml:"id"` // the site's identifier, if it set one
	Link  string `xml:"link"`
}

type disqusPost struct {
	DsqID   string `xml:"id,attr"`
	Message string `xml:"message"`
	Created string `xml:"createdAt"`
	Deleted bool   `xml:"isDeleted"`
	Spam    bool   `xml:"isSpam"`
	Author  struct {
		Name     string `xml:"name"`
		Username string `xml:"username"`
	} `xml:"author"`
	Thread struct {
		DsqID string `xml:"id,attr"`
	} `xml:"thread"`
	Parent struct {
		DsqID string `xml:"id,attr"`
	} `xml:"parent"`
}

// parseDisqus emits the posts of a Disqus export. Spam is skipped. A
// deleted post is kept as a tombstone (no user, no content) only if a kept
// post replies to it, so that its replies keep their place in the thread;
// otherwise it is skipped. Deleted posts wait until the end of the file for
// that decision.
func parseDisqus(r io.Reader, m postMapper, emit func(record) error) error {
	threads := map[string]string{}    // thread dsq:id → post id
	threadSkip := map[string]string{} // thread dsq:id → why it has no post id
	type held struct {
		c      comment.Comment
		parent string // dsq:id
	}
	deleted := map[tail]held{}
	repliedTo := map[tail]struct{}{} // parents of live posts
	l := newLinker(FormatDisqus, emit)
	err := xmlStream(r, func(path []string, se xml.StartElement) bool {
		return len(path) == 1 && (se.Name.Local == "thread" || se.Name.Local == "post")
	}, func(d *xml.Decoder, se xml.StartElement) error {
		if se.Name.Local == "thread" {
			var t disqusThread
			if err := d.DecodeElement(&t, &se); err != nil {
				return err
			}
			if id, why := m.post(t.ID, t.Link); id != "" {
				threads[t.DsqID] = id
			} else {
				threadSkip[t.DsqID] = why
			}
			return nil
		}
		var p disqusPost
		if err := d.DecodeElement(&p, &se); err != nil {
			return err
		}
		if p.Spam {
			return emit(record{skip: "spam"})
		}
		post, ok := threads[p.Thread.DsqID]
		if !ok {
			why := threadSkip[p.Thread.DsqID]
			if why == "" {
				why = "unknown thread"
			}
			return emit(record{skip: why})
		}
		created, err := time.Parse(time.RFC3339, strings.TrimSpace(p.Created))
		if err != nil {
			return emit(record{skip: "bad date"})
		}
		c := comment.Comment{
			ID:        DeriveID(FormatDisqus, p.DsqID, created),
			PostID:    post,
			CreatedAt: created.UTC().Truncate(time.Millisecond),
			V:         1,
		}
		if err := l.see(p.DsqID, created); err != nil {
			return err
		}
		if p.Deleted {
			c.Deleted = true
			deleted[tailOf(FormatDisqus, p.DsqID)] = held{c, p.Parent.DsqID}
			return nil
		}
		if p.Parent.DsqID != "" {
			repliedTo[tailOf(FormatDisqus, p.Parent.DsqID)] = struct{}{}
		}
		name := strings.TrimSpace(p.Author.Name)
		if u := strings.TrimSpace(p.Author.Username); u != "" {
			c.UserID = userID("", u)
		} else {
			c.UserID = userID("disqus:", name)
		}
		c.UserName = comment.CleanName(name)
		c.Content = HTMLText(p.Message)
		return l.add(c, p.Parent.DsqID)
	})
	if err != nil {
		return err
	}
	// Keep the deleted posts that live ones reply to, and their deleted
	// ancestors.
	var queue []tail
	for t := range repliedTo {
		if _, ok := deleted[t]; ok {
			queue = append(queue, t)
		}
	}
	keep := map[tail]bool{}
	for len(queue) > 0 {
		t := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		h, ok := deleted[t]
		if !ok || keep[t] {
			continue
		}
		keep[t] = true
		if h.parent != "" {
			queue = append(queue, tailOf(FormatDisqus, h.parent))
		}
	}
	for t, h := range deleted {
		if !keep[t] {
			if err := emit(record{skip: "deleted"}); err != nil {
				return err
			}
			continue
		}
		if err := l.add(h.c, h.parent); err != nil {
			return err
		}
	}
	return l.end()
}
