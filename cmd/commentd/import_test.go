package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/transfer"
	"github.com/stretchr/testify/require"
)

// runCmd runs a commentd command in this process against e and returns
// its stdout.
func (e *env) runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), append(args, e.args(4)...), &out)
	return out.String(), err
}

// stored returns what MongoDB holds, by the id the source gave it.
func (e *env) storedBy(t *testing.T, format string, created map[string]string) map[string]comment.Comment {
	t.Helper()
	all, err := e.store.All(context.Background())
	require.NoError(t, err)
	byID := map[string]comment.Comment{}
	for _, c := range all {
		byID[c.ID] = c
	}
	out := map[string]comment.Comment{}
	for src, at := range created {
		ts, err := time.Parse(time.RFC3339, at)
		require.NoError(t, err)
		if c, ok := byID[transfer.DeriveID(format, src, ts)]; ok {
			out[src] = c
		}
	}
	return out
}

func TestImportDisqus(t *testing.T) {
	e := newEnv(t, 4)
	out, err := e.runCmd(t, "import", "testdata/disqus.xml", "--format", "disqus")
	require.NoError(t, err, out)
	t.Log(out)
	require.Contains(t, out, "read 9 comments: imported 7, already there 0, skipped 2, errors 0; 3 posts, 1 insert commands")
	require.Contains(t, out, "skipped: deleted: 1")
	require.Contains(t, out, "skipped: spam: 1")

	created := map[string]string{"1": "2020-01-01T10:00:00Z", "2": "2020-01-01T10:05:00Z", "3": "2020-01-01T10:10:00Z",
		"5": "2020-01-02T10:00:00Z", "6": "2020-01-02T11:00:00Z", "7": "2020-01-02T12:00:00Z", "8": "2020-01-03T10:00:00Z",
		"10": "2020-01-03T12:30:00Z", "11": "2020-01-03T12:00:00Z"}
	got := e.storedBy(t, transfer.FormatDisqus, created)
	require.Len(t, got, 7)
	require.NotContains(t, got, "7", "deleted without replies")
	require.NotContains(t, got, "8", "spam")

	c1 := got["1"]
	require.Equal(t, "post-one", c1.PostID)
	require.Equal(t, "ann", c1.UserID)
	require.Equal(t, "Ann Lee", c1.UserName)
	require.Equal(t, "Hello & welcome\nsecond line\n\npara 2", c1.Content)
	require.Equal(t, "2020-01-01T10:00:00Z", c1.CreatedAt.Format(time.RFC3339))
	require.Empty(t, c1.ParentID)
	require.Equal(t, c1.ID, got["2"].ParentID, "level 2")
	require.Equal(t, "disqus:Bob-Smith", got["2"].UserID)
	require.Equal(t, got["2"].ID, got["3"].ParentID, "level 3")
	require.Equal(t, "bold <tag> 'q' link", got["3"].Content)

	require.Equal(t, "http:-blog.example-2020-two", got["5"].PostID, "no identifier: the link, sanitized")
	require.True(t, got["5"].Deleted, "deleted with a reply: a tombstone")
	require.Empty(t, got["5"].Content)
	require.Empty(t, got["5"].UserID)
	require.Equal(t, got["5"].ID, got["6"].ParentID)

	require.Equal(t, "post-three", got["11"].PostID)
	require.Equal(t, got["11"].ID, got["10"].ParentID, "a parent later in the file")
	for _, c := range got {
		require.Equal(t, comment.IDTime(c.ID).Unix(), c.CreatedAt.Unix(), "ids start with the creation second")
	}

	out, err = e.runCmd(t, "import", "testdata/disqus.xml", "--format", "disqus")
	require.NoError(t, err, out)
	require.Contains(t, out, "imported 0, already there 7, skipped 2")
	n, err := e.store.Count(context.Background(), "")
	require.NoError(t, err)
	require.EqualValues(t, 7, n)
}

func TestImportDisqusMapPost(t *testing.T) {
	e := newEnv(t, 4)
	out, err := e.runCmd(t, "import", "testdata/disqus.xml", "--format", "disqus", "--map-post", `blog\.example/\d+/([a-z]+)/`)
	require.NoError(t, err, out)
	require.Contains(t, out, "imported 7")
	for post, want := range map[string]int64{"one": 3, "two": 2, "three": 2, "post-one": 0} {
		n, err := e.store.Count(context.Background(), post)
		require.NoError(t, err)
		require.Equal(t, want, n, post)
	}
	out, err = e.runCmd(t, "import", "testdata/disqus.xml", "--format", "disqus", "--map-post", `nomatch/(x)`, "--dry-run")
	require.NoError(t, err, out)
	require.Contains(t, out, "skipped: post not mapped by --map-post: 8")
}

func TestImportWordPress(t *testing.T) {
	e := newEnv(t, 4)
	out, err := e.runCmd(t, "import", "testdata/wordpress.xml", "--format", "wordpress")
	require.NoError(t, err, out)
	t.Log(out)
	require.Contains(t, out, "read 8 comments: imported 5, already there 0, skipped 3, errors 0; 2 posts")
	created := map[string]string{"1": "2021-03-04T06:08:09Z", "2": "2021-03-04T07:00:00Z", "3": "2021-03-05T00:00:00Z",
		"7": "2021-04-01T10:30:00Z", "8": "2021-04-01T10:00:00Z"}
	got := e.storedBy(t, transfer.FormatWordPress, created)
	require.Len(t, got, 5)
	require.Equal(t, "hello-world", got["1"].PostID)
	require.Equal(t, "wp:Ann-O-Neil", got["1"].UserID)
	require.Equal(t, "Ann O'Neil", got["1"].UserName)
	require.Equal(t, "First! nice post & all", got["1"].Content)
	require.Empty(t, got["1"].Status)
	require.Equal(t, got["1"].ID, got["2"].ParentID)
	require.Equal(t, comment.StatusPending, got["3"].Status)
	require.Equal(t, "34", got["7"].PostID, "no post_name: the post id")
	require.Equal(t, got["8"].ID, got["7"].ParentID)
	require.Equal(t, "a reply listed first\non two lines", got["7"].Content)
	all, err := e.store.All(context.Background())
	require.NoError(t, err)
	for _, c := range all {
		require.NotContains(t, string(c.JSON()), "example.com", "no e-mail stored")
	}

	out, err = e.runCmd(t, "import", "testdata/wordpress.xml", "--format", "wordpress")
	require.NoError(t, err, out)
	require.Contains(t, out, "imported 0, already there 5, skipped 3")
}

func TestImportParseError(t *testing.T) {
	e := newEnv(t, 4)
	f := filepath.Join(t.TempDir(), "bad.xml")
	require.NoError(t, os.WriteFile(f, []byte("<disqus>\n<thread dsq:id=\"1\"><id>a</id>\n<post></thread>\n</disqus>"), 0o600))
	_, err := e.runCmd(t, "import", f, "--format", "disqus")
	require.Error(t, err)
	require.Contains(t, err.Error(), "parse error at line 3")
}

// Export, then import into an empty database: the same documents.
func TestExportImportRoundTrip(t *testing.T) {
	e := newEnv(t, 4)
	for _, f := range []string{"disqus", "wordpress"} {
		out, err := e.runCmd(t, "import", "testdata/"+f+".xml", "--format", f)
		require.NoError(t, err, out)
	}
	exported, err := e.runCmd(t, "export")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(exported), "\n")
	require.Len(t, lines, 12)
	require.Contains(t, exported, `"deleted":true`)
	require.Contains(t, exported, `"status":"pending"`)
	require.True(t, slices.IsSortedFunc(lines, func(a, b string) int { return strings.Compare(a[:32], b[:32]) }), "in _id order")

	since, err := e.runCmd(t, "export", "--since", "2021-01-01T00:00:00Z")
	require.NoError(t, err)
	require.Len(t, strings.Split(strings.TrimSpace(since), "\n"), 5, "the WordPress ones")
	one, err := e.runCmd(t, "export", "--post", "post-one")
	require.NoError(t, err)
	require.Len(t, strings.Split(strings.TrimSpace(one), "\n"), 3)

	f := filepath.Join(t.TempDir(), "export.jsonl")
	require.NoError(t, os.WriteFile(f, []byte(exported), 0o600))
	e2 := newEnv(t, 4)
	out, err := e2.runCmd(t, "import", f, "--format", "jsonl")
	require.NoError(t, err, out)
	require.Contains(t, out, "imported 12")
	a, err := e.store.All(context.Background())
	require.NoError(t, err)
	b, err := e2.store.All(context.Background())
	require.NoError(t, err)
	byID := func(x, y comment.Comment) int { return strings.Compare(x.ID, y.ID) }
	slices.SortFunc(a, byID)
	slices.SortFunc(b, byID)
	require.Equal(t, a, b)
}

// A post whose whole history Redis held (joined with no comments) shows
// the comments imported afterwards.
func TestImportJoinAfterComplete(t *testing.T) {
	e := newEnv(t, 4)
	app, stop := startApp(t, e.config(4))
	defer stop()
	c := dialSIO(t, app.Addr())
	require.Empty(t, c.join("post-one"))
	ex, err := e.rdb.Keys(context.Background(), "*complete:post-one").Result()
	require.NoError(t, err)
	require.Len(t, ex, 1, "the join marked the post complete")

	out, err := e.runCmd(t, "import", "testdata/disqus.xml", "--format", "disqus")
	require.NoError(t, err, out)
	require.NotContains(t, out, "warning")
	got := dialSIO(t, app.Addr()).join("post-one")
	require.Len(t, got, 3)
	require.Equal(t, "Hello & welcome\nsecond line\n\npara 2", got[0].Content)
}

// Redis down: the import writes nothing. Joins of a post Redis knows
// never written skip MongoDB (buffer/stored.go), so Redis must mark the
// posts before their comments are written.
func TestImportRedisDown(t *testing.T) {
	e := newEnv(t, 4)
	e.redis.Stop()
	out, err := e.runCmd(t, "import", "testdata/wordpress.xml", "--format", "wordpress")
	require.ErrorContains(t, err, "redis must know the imported posts", out)
	require.Contains(t, out, "imported 0")
	n, err := e.store.Count(context.Background(), "")
	require.NoError(t, err)
	require.Zero(t, n)
}

// importSize is the size of TestImportMany: IMPORT_N=100000 for the
// measurement in the README.
func importSize(t *testing.T) int {
	if s := os.Getenv("IMPORT_N"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err)
		return n
	}
	return 5000
}

// Many comments take insert commands in the hundreds, not one each.
func TestImportMany(t *testing.T) {
	n := importSize(t)
	e := newEnv(t, 4)
	f := filepath.Join(t.TempDir(), "many.jsonl")
	var b bytes.Buffer
	start := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		at := start.Add(time.Duration(i) * time.Second)
		c := comment.Comment{ID: transfer.DeriveID("gen", strconv.Itoa(i), at), PostID: fmt.Sprintf("p%d", i%50), UserID: fmt.Sprintf("u%d", i%300),
			Content: fmt.Sprintf("comment %d", i), CreatedAt: at, V: 1}
		b.Write(append(c.JSON(), '\n'))
	}
	require.NoError(t, os.WriteFile(f, b.Bytes(), 0o600))
	t0 := time.Now()
	out, err := e.runCmd(t, "import", f, "--format", "jsonl")
	require.NoError(t, err, out)
	t.Logf("%d comments: %s(took %s)", n, out, time.Since(t0).Round(time.Millisecond))
	require.Contains(t, out, fmt.Sprintf("imported %d, already there 0", n))
	require.Contains(t, out, fmt.Sprintf("%d insert commands", (n+999)/1000))
	count, err := e.store.Count(context.Background(), "")
	require.NoError(t, err)
	require.EqualValues(t, n, count)

	// Export: one read of the collection, however many comments.
	ctx := context.Background()
	t1 := time.Now()
	exported := 0
	require.NoError(t, e.store.Each(ctx, "", time.Time{}, func(comment.Comment) error { exported++; return nil }))
	require.Equal(t, n, exported)
	t.Logf("export of %d in one read: %s", n, time.Since(t1).Round(time.Millisecond))
	t2 := time.Now()
	mine, err := e.store.ByUser(ctx, "u7", "", 50)
	require.NoError(t, err)
	require.NotEmpty(t, mine)
	for i, c := range mine {
		require.Equal(t, "u7", c.UserID)
		if i > 0 {
			require.Less(t, c.ID, mine[i-1].ID, "newest first")
		}
	}
	t.Logf("50 newest comments of one user among %d: %s", n, time.Since(t2).Round(time.Millisecond))
}

// GET /api/users/{userId}/comments: the user themself or a moderator gets
// the user's stored comments, hidden ones included, in pages; others are
// refused.
func TestUserComments(t *testing.T) {
	e := newEnv(t, 1)
	cfg := jwtConfig(e, true)
	cfg.Admin.Token = "user-comments-admin"
	app, stop := startApp(t, cfg)
	defer stop()
	base := "http://" + app.Addr()
	bob, alice := jwtFor(t, "bob", nil), jwtFor(t, "alice", nil)
	var ids []string
	for i := range 5 {
		var a changeAck
		require.Equal(t, http.StatusCreated, restJSON(t, "POST", base+"/api/posts/uc/comments", bob, fmt.Sprintf(`{"content":"bob %d"}`, i), &a))
		ids = append(ids, a.Comment.ID)
	}
	var a changeAck
	require.Equal(t, http.StatusCreated, restJSON(t, "POST", base+"/api/posts/uc/comments", alice, `{"content":"alice"}`, &a))
	require.Equal(t, http.StatusOK, restJSON(t, "POST", base+"/api/moderation/posts/uc/comments/"+ids[1], "user-comments-admin", `{"action":"hide"}`, nil))
	require.Eventually(t, func() bool {
		n, err := e.store.Count(context.Background(), "uc")
		return err == nil && n == 6
	}, 20*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		c, ok, err := e.store.Get(context.Background(), ids[1])
		return err == nil && ok && c.Status == comment.StatusHidden
	}, 20*time.Second, 50*time.Millisecond)

	var page struct {
		Comments []comment.Comment
		Next     *string
	}
	require.Equal(t, http.StatusOK, restJSON(t, "GET", base+"/api/users/bob/comments?limit=3", bob, "", &page))
	require.Equal(t, []string{ids[2], ids[3], ids[4]}, commentIDs(page.Comments), "the newest page, oldest first")
	require.NotNil(t, page.Next)
	require.Equal(t, http.StatusOK, restJSON(t, "GET", base+"/api/users/bob/comments?limit=3&before="+*page.Next, bob, "", &page))
	require.Equal(t, []string{ids[0], ids[1]}, commentIDs(page.Comments), "the hidden one is theirs to see")
	require.Nil(t, page.Next)
	require.Equal(t, http.StatusOK, restJSON(t, "GET", base+"/api/users/bob/comments", "user-comments-admin", "", &page))
	require.Len(t, page.Comments, 5)

	var res changeAck
	require.Equal(t, http.StatusForbidden, restJSON(t, "GET", base+"/api/users/bob/comments", alice, "", &res))
	require.Equal(t, comment.CodeForbidden, res.Error.Code)
	require.Equal(t, http.StatusUnauthorized, restJSON(t, "GET", base+"/api/users/bob/comments", "", "", &res))
}
