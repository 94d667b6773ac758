package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/flusher"
	"github.com/stretchr/testify/require"
)

type pageResp struct {
	OK       bool              `json:"ok"`
	Comments []comment.Comment `json:"comments"`
	Next     *string           `json:"next"`
	Error    *struct{ Code, Message string }
}

func getPage(t *testing.T, addr, post, before string, limit int) pageResp {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s/api/posts/%s/comments?before=%s&limit=%d", addr, post, before, limit))
	require.NoError(t, err)
	defer resp.Body.Close()
	var p pageResp
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%+v", p.Error)
	return p
}

// Pagination walks 2,500 comments of one post, part flushed and part not,
// newest page first, without gap or duplicate; load_more gives the same.
func TestHistoryPaginationFlushedAndNot(t *testing.T) {
	e := newEnv(t, 2)
	cfg := e.config(2)
	cfg.Flush.Enabled = false
	cfg.History.RecentLen = 1000
	app, stop := startApp(t, cfg)
	w := dialSIO(t, app.Addr())

	var want []string
	for i := range 1700 {
		want = append(want, w.post("long", fmt.Sprint(i)).ID)
	}
	fl := flusher.New(e.buf, e.store, flusher.Config{BatchSize: 500, LeaseTTL: time.Second, IsLeaseLost: isLeaseLost})
	n, _, err := fl.FlushOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1700, n)
	for i := 1700; i < 2500; i++ {
		want = append(want, w.post("long", fmt.Sprint(i)).ID)
	}
	stored, err := e.store.Count(context.Background(), "long")
	require.NoError(t, err)
	require.EqualValues(t, 1700, stored, "800 are only in Redis")

	var got []string
	before, pages := "", 0
	for {
		p := getPage(t, app.Addr(), "long", before, 100)
		pages++
		ids := make([]string, len(p.Comments))
		for i, c := range p.Comments {
			ids[i] = c.ID
		}
		got = append(ids, got...)
		if p.Next == nil {
			break
		}
		require.Equal(t, p.Comments[0].ID, *p.Next, "the cursor is the page's oldest")
		before = *p.Next
	}
	require.Equal(t, 25, pages)
	require.Equal(t, want, got, "every comment once, in order")

	// load_more over the socket is the same pagination.
	a := w.emit(true, "load_more", map[string]any{"postId": "long", "before": want[1000], "limit": 10})
	var lm pageResp
	require.NoError(t, json.Unmarshal(a, &lm))
	require.True(t, lm.OK)
	require.Len(t, lm.Comments, 10)
	require.Equal(t, want[990], lm.Comments[0].ID)
	require.Equal(t, want[999], lm.Comments[9].ID)
	stop()
}

// A comment posted over REST reaches socket readers exactly like one posted
// over the socket, and the REST answer carries the same comment.
func TestRESTAndSocketPostsAlike(t *testing.T) {
	e := newEnv(t, 1)
	app, stop := startApp(t, e.config(1))
	reader := dialSIO(t, app.Addr())
	reader.join("rest")
	writer := dialSIO(t, app.Addr())

	viaSocket := writer.post("rest", "from a socket")
	body := `{"userId":"u1","content":"from REST"}`
	resp, err := http.Post("http://"+app.Addr()+"/api/posts/rest/comments", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	var res struct {
		OK      bool
		Comment comment.Comment
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&res))
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.True(t, res.OK)

	raw1 := reader.next("comment_added", 5*time.Second).Args[0]
	raw2 := reader.next("comment_added", 5*time.Second).Args[0]
	var c1, c2 map[string]any
	require.NoError(t, json.Unmarshal(raw1, &c1))
	require.NoError(t, json.Unmarshal(raw2, &c2))
	require.Equal(t, viaSocket.ID, c1["_id"])
	require.Equal(t, res.Comment.ID, c2["_id"])
	keys := func(m map[string]any) []string {
		var k []string
		for key := range m {
			k = append(k, key)
		}
		return k
	}
	require.ElementsMatch(t, keys(c1), keys(c2), "same fields")

	// The same validation and codes.
	resp, err = http.Post("http://"+app.Addr()+"/api/posts/rest/comments", "application/json", strings.NewReader(`{"userId":"u1","content":"   "}`))
	require.NoError(t, err)
	var bad struct {
		OK    bool
		Error struct{ Code string }
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&bad))
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "EMPTY_CONTENT", bad.Error.Code)
	stop()
}

// sseReader reads comment ids from an SSE stream.
type sseReader struct {
	resp *http.Response
	ids  chan string
}

func openSSE(t *testing.T, addr, post, lastID string) *sseReader {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+addr+"/api/posts/"+post+"/stream", nil)
	require.NoError(t, err)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	r := &sseReader{resp: resp, ids: make(chan string, 100)}
	go func() {
		defer close(r.ids)
		sc := bufio.NewScanner(resp.Body)
		var id string
		for sc.Scan() {
			line := sc.Bytes()
			switch {
			case bytes.HasPrefix(line, []byte("id: ")):
				id = string(line[4:])
			case bytes.HasPrefix(line, []byte("data: ")):
				var c comment.Comment
				if json.Unmarshal(line[6:], &c) == nil && c.ID == id {
					r.ids <- id
				}
			}
		}
	}()
	return r
}

func (r *sseReader) next(t *testing.T) string {
	t.Helper()
	select {
	case id, ok := <-r.ids:
		require.True(t, ok, "stream ended")
		return id
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return ""
	}
}

// An SSE client that reconnects with Last-Event-ID receives exactly what it
// missed, then the live ones.
func TestSSELastEventID(t *testing.T) {
	e := newEnv(t, 1)
	app, stop := startApp(t, e.config(1))
	w := dialSIO(t, app.Addr())

	s1 := openSSE(t, app.Addr(), "sse", "")
	var first []string
	for i := range 3 {
		first = append(first, w.post("sse", fmt.Sprint(i)).ID)
	}
	for _, id := range first {
		require.Equal(t, id, s1.next(t))
	}
	s1.resp.Body.Close()

	var missed []string
	for i := range 4 {
		missed = append(missed, w.post("sse", fmt.Sprint("missed ", i)).ID)
	}
	s2 := openSSE(t, app.Addr(), "sse", first[2])
	defer s2.resp.Body.Close()
	for _, id := range missed {
		require.Equal(t, id, s2.next(t))
	}
	live := w.post("sse", "live").ID
	require.Equal(t, live, s2.next(t), "then live, nothing twice")
	stop()
}
