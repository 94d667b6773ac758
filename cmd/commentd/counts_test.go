package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/stretchr/testify/require"
)

const countsAdmin = "counts-admin-token"

// countsNode is a node with the flusher off (flush --once flushes), guests'
// comments held, and the admin token.
func countsNode(t *testing.T, e *env) string {
	t.Helper()
	nodes := startNodes(t, e, 1, 4, "--flush.enabled=false", "--moderation.mode", "guests", "--admin.token", countsAdmin)
	return "http://" + nodes[0].addr
}

// counts asks GET /api/counts for posts.
func counts(t *testing.T, base string, posts []string) map[string]int {
	t.Helper()
	var res struct {
		OK     bool           `json:"ok"`
		Counts map[string]int `json:"counts"`
	}
	status := restJSON(t, http.MethodGet, base+"/api/counts?posts="+url.QueryEscape(strings.Join(posts, ",")), "", "", &res)
	require.Equal(t, http.StatusOK, status)
	require.True(t, res.OK)
	return res.Counts
}

// readerCount counts what a reader is shown of a post, page by page: the
// comments that are not tombstones. Each comment's replies must equal the
// replies to it the reader is shown.
func readerCount(t *testing.T, base, post string) int {
	t.Helper()
	n, before := 0, ""
	replies, said := map[string]int{}, map[string]int{}
	defer func() {
		for id, r := range said {
			require.Equal(t, replies[id], r, "replies of %s", id)
		}
	}()
	for {
		var page struct {
			Comments []comment.Comment `json:"comments"`
			Next     *string           `json:"next"`
		}
		u := base + "/api/posts/" + post + "/comments?limit=500"
		if before != "" {
			u += "&before=" + before
		}
		require.Equal(t, http.StatusOK, restJSON(t, http.MethodGet, u, "", "", &page))
		for _, c := range page.Comments {
			require.Empty(t, c.Status, "a reader was shown a held or hidden comment")
			if !c.Deleted {
				n++
				if c.ParentID != "" {
					replies[c.ParentID]++
				}
			}
			said[c.ID] = c.Replies
		}
		if page.Next == nil {
			return n
		}
		before = *page.Next
	}
}

// flushOnce drains every shard into MongoDB.
func (e *env) flushOnce(t *testing.T) {
	t.Helper()
	p := startBinary(t, append([]string{"flush", "--once"}, e.args(4)...)...)
	require.Equal(t, 0, p.wait(t, 2*time.Minute))
}

// Issue 15's counts: after 1,000 comments over 10 posts, with some held,
// hidden and deleted, replies and a tombstone among them, and part not yet
// flushed, /api/counts equals what a reader is shown of each post; again
// after everything is flushed; and again once Redis's counts are dropped
// and counted from MongoDB.
func TestCountsExact(t *testing.T) {
	e := newEnv(t, 4)
	base := countsNode(t, e)
	posts := make([]string, 10)
	for i := range posts {
		posts[i] = fmt.Sprintf("counts-%d", i)
	}
	want := map[string]int{}
	type posted struct{ post, id, user string }
	var visible, held []posted
	rng := rand.New(rand.NewPCG(1, 2))

	postN := func(n int) {
		for range n {
			p := posts[rng.IntN(len(posts))]
			user := fmt.Sprintf("u%d", rng.IntN(50))
			if rng.IntN(10) == 0 {
				user = "guest:g" + user // held: moderation.mode guests
			}
			body := fmt.Sprintf(`{"content":"c","userId":%q}`, user)
			if len(visible) > 0 && rng.IntN(5) == 0 {
				// A reply to a visible comment of the same post, if any.
				for _, v := range visible {
					if v.post == p {
						body = fmt.Sprintf(`{"content":"r","userId":%q,"parentId":%q}`, user, v.id)
						break
					}
				}
			}
			var res struct {
				OK      bool            `json:"ok"`
				Comment comment.Comment `json:"comment"`
			}
			status := restJSON(t, http.MethodPost, base+"/api/posts/"+p+"/comments", "", body, &res)
			require.Equal(t, http.StatusCreated, status, "%+v", res)
			if res.Comment.Status == comment.StatusPending {
				held = append(held, posted{p, res.Comment.ID, user})
			} else {
				visible = append(visible, posted{p, res.Comment.ID, user})
				want[p]++
			}
		}
	}
	moderate := func(c posted, action string) {
		status := restJSON(t, http.MethodPost, base+"/api/moderation/posts/"+c.post+"/comments/"+c.id, countsAdmin,
			fmt.Sprintf(`{"action":%q}`, action), nil)
		require.Equal(t, http.StatusOK, status, "%s %s", action, c.id)
	}
	remove := func(c posted) {
		status := restJSON(t, http.MethodDelete, base+"/api/posts/"+c.post+"/comments/"+c.id, countsAdmin, "", nil)
		require.Equal(t, http.StatusOK, status, "delete %s", c.id)
	}
	// changeSome hides, deletes and approves some, keeping want.
	changeSome := func() {
		for range 30 {
			i := rng.IntN(len(visible))
			c := visible[i]
			visible = append(visible[:i], visible[i+1:]...)
			if rng.IntN(2) == 0 {
				moderate(c, "hide")
			} else {
				remove(c)
			}
			want[c.post]--
		}
		for range 10 {
			if len(held) == 0 {
				break
			}
			c := held[0]
			held = held[1:]
			moderate(c, "approve")
			visible = append(visible, c)
			want[c.post]++
		}
	}
	check := func(when string) {
		got := counts(t, base, posts)
		for _, p := range posts {
			require.Equal(t, want[p], got[p], "%s: /api/counts of %s", when, p)
			require.Equal(t, want[p], readerCount(t, base, p), "%s: what a reader is shown of %s", when, p)
		}
	}

	postN(600)
	changeSome()
	check("before any flush") // seeded: MongoDB's nothing plus the buffer's records
	e.flushOnce(t)
	postN(400)
	changeSome()
	check("part flushed") // kept by the append script since
	e.flushOnce(t)
	check("all flushed")
	require.NoError(t, e.buf.DropCounts(t.Context(), posts))
	check("counted again from MongoDB")
	t.Logf("%d visible, %d held over %d posts", len(visible), len(held), len(posts))
}

// sort=oldest, newest and top page a post's comments in their orders,
// flushed or not, with the pinned one first on the first page; replies
// page by ?parent=.
func TestSortedHistory(t *testing.T) {
	e := newEnv(t, 4)
	base := countsNode(t, e)
	const post = "sorted"
	var ids []string
	for i := range 12 {
		var res struct {
			Comment comment.Comment `json:"comment"`
		}
		require.Equal(t, http.StatusCreated, restJSON(t, http.MethodPost, base+"/api/posts/"+post+"/comments", "",
			fmt.Sprintf(`{"content":"c%d","userId":"u%d"}`, i, i), &res))
		ids = append(ids, res.Comment.ID)
		if i == 6 {
			e.flushOnce(t) // half in MongoDB, half in Redis
		}
	}
	// ids[3] gets 3 reactions, ids[9] 2, ids[0] 1.
	for target, n := range map[int]int{3: 3, 9: 2, 0: 1} {
		for u := range n {
			require.Equal(t, http.StatusOK, restJSON(t, http.MethodPost, base+"/api/posts/"+post+"/comments/"+ids[target]+"/reactions", "",
				fmt.Sprintf(`{"reaction":"👍","userId":"r%d"}`, u), nil))
		}
	}
	require.Equal(t, http.StatusOK, restJSON(t, http.MethodPost, base+"/api/moderation/posts/"+post+"/comments/"+ids[5], countsAdmin,
		`{"action":"pin"}`, nil))
	page := func(sort, before string, limit int) ([]string, string) {
		var p struct {
			Comments []comment.Comment `json:"comments"`
			Next     *string           `json:"next"`
		}
		u := fmt.Sprintf("%s/api/posts/%s/comments?sort=%s&limit=%d&before=%s", base, post, sort, limit, url.QueryEscape(before))
		require.Equal(t, http.StatusOK, restJSON(t, http.MethodGet, u, "", "", &p))
		var got []string
		for _, c := range p.Comments {
			got = append(got, c.ID)
		}
		next := ""
		if p.Next != nil {
			next = *p.Next
		}
		return got, next
	}
	rest := func(order ...int) []string {
		var out []string
		for _, i := range order {
			out = append(out, ids[i])
		}
		return out
	}
	got, next := page("top", "", 4)
	require.Equal(t, rest(5, 3, 9, 0, 11), got, "pinned, then by reactions, then the newest")
	got, _ = page("top", next, 4)
	require.Equal(t, rest(10, 8, 7, 6), got)

	got, next = page("oldest", "", 5)
	require.Equal(t, rest(5, 0, 1, 2, 3, 4), got)
	got, next = page("oldest", next, 5)
	require.Equal(t, rest(6, 7, 8, 9, 10), got)
	got, next = page("oldest", next, 5)
	require.Equal(t, rest(11), got)
	require.Empty(t, next)

	got, _ = page("newest", "", 4)
	require.Equal(t, rest(5, 11, 10, 9, 8), got)

	var bad struct {
		Error struct{ Code string } `json:"error"`
	}
	require.Equal(t, http.StatusBadRequest, restJSON(t, http.MethodGet, base+"/api/posts/"+post+"/comments?sort=best", "", "", &bad))
	require.Equal(t, "INVALID_PAYLOAD", bad.Error.Code)
}
