package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// After the run, once the buffer is empty, two new viewers read every
// post the way a page does: a reader without a token, and a moderator
// with the admin token. Each joins the post (the latest comments, from
// Redis) and then pages back with load_more (Redis and MongoDB merged),
// 500 comments a page, until the oldest comment or the time is up. The
// checker compares every comment shown with MongoDB: nothing deleted,
// nothing hidden to the reader, every state as stored, and on a complete
// read every visible comment there.

// readPage is load_more's (and join_post's) ack.
type readPage struct {
	OK       bool          `json:"ok"`
	Comments []wireComment `json:"comments"`
	Next     *string       `json:"next"`
	Error    struct {
		Code string `json:"code"`
	} `json:"error"`
}

// pageTimeout bounds one history page: devmongo pushes no filter down to
// SQLite, so a page scans the collection.
const pageTimeout = time.Minute

// readBack reads every post as a reader and as a moderator on node base,
// for at most budget in all.
func readBack(ctx context.Context, base string, posts []string, adminToken string, budget time.Duration) ([]readback, error) {
	deadline := time.Now().Add(budget)
	var out []readback
	for _, viewer := range []string{"reader", "moderator"} {
		var auth json.RawMessage
		if viewer == "moderator" {
			auth, _ = json.Marshal(map[string]string{"token": adminToken})
		}
		conn, err := dialSIO(ctx, base, auth, func(string, json.RawMessage) {})
		if err != nil {
			return out, fmt.Errorf("read back as %s: %w", viewer, err)
		}
		for _, post := range posts {
			rb, err := readPost(ctx, conn, post, deadline)
			rb.Viewer, rb.Mod = viewer, viewer == "moderator"
			out = append(out, rb)
			if err != nil {
				conn.close()
				return out, fmt.Errorf("read back %s as %s: %w", post, viewer, err)
			}
		}
		conn.close()
	}
	return out, nil
}

func readPost(ctx context.Context, conn *sioConn, post string, deadline time.Time) (readback, error) {
	rb := readback{Post: post}
	arg, _ := json.Marshal(map[string]string{"postId": post})
	page, err := readAck(ctx, conn, "join_post", arg)
	if err != nil {
		return rb, err
	}
	rb.add("join", page.Comments)
	before := ""
	for time.Now().Before(deadline) {
		arg, _ := json.Marshal(map[string]any{"postId": post, "before": before, "limit": 500})
		page, err := readAck(ctx, conn, "load_more", arg)
		if err != nil {
			return rb, err
		}
		rb.Pages++
		rb.add("load_more", page.Comments)
		if page.Next == nil {
			rb.Complete = true
			break
		}
		before = *page.Next
	}
	return rb, nil
}

func readAck(ctx context.Context, conn *sioConn, event string, arg []byte) (readPage, error) {
	raw, err := conn.emitAckRaw(ctx, event, arg, pageTimeout)
	if err != nil {
		return readPage{}, fmt.Errorf("%s: %w", event, err)
	}
	var page readPage
	if err := json.Unmarshal(raw, &page); err != nil {
		return page, fmt.Errorf("%s: %w", event, err)
	}
	if !page.OK {
		return page, fmt.Errorf("%s: %s", event, page.Error.Code)
	}
	return page, nil
}

func (rb *readback) add(via string, cs []wireComment) {
	for _, w := range cs {
		rb.Seen = append(rb.Seen, shown{ID: w.ID, Via: via, State: w.state()})
	}
}
