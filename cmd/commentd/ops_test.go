package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// scrape returns the samples of /metrics by "name{labels}".
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		out[line[:i]] = v
	}
	return out
}

func sum(m map[string]float64, prefix string) float64 {
	total := 0.0
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			total += v
		}
	}
	return total
}

// Metrics follow a scripted scenario: connections, accepted and rejected
// comments, deliveries, flushes, buffer depth while MongoDB is down.
func TestMetricsScenario(t *testing.T) {
	e := newEnv(t, 2)
	app, stop := startApp(t, e.config(2))
	addr := app.Addr()

	m := scrape(t, addr)
	require.Zero(t, m[`commentd_connections{transport="websocket"}`])
	reader, writer := dialSIO(t, addr), dialSIO(t, addr)
	reader.join("metrics")
	m = scrape(t, addr)
	require.EqualValues(t, 2, m[`commentd_connections{transport="websocket"}`])
	require.EqualValues(t, 1, m[`commentd_rooms`])

	for i := range 3 {
		writer.post("metrics", fmt.Sprint(i))
	}
	writer.emit(true, "new_comment", map[string]string{"postId": "metrics", "userId": "u1", "content": "  "})
	writer.emit(true, "new_comment", map[string]string{"postId": "bad id", "userId": "u1", "content": "x"})
	for range 3 {
		reader.next("comment_added", 5*time.Second)
	}
	m = scrape(t, addr)
	require.EqualValues(t, 3, m[`commentd_comments_accepted_total`])
	require.EqualValues(t, 1, m[`commentd_comments_rejected_total{code="EMPTY_CONTENT"}`])
	require.EqualValues(t, 1, m[`commentd_comments_rejected_total{code="INVALID_POST_ID"}`])
	require.GreaterOrEqual(t, m[`commentd_fanout_deliveries_total`], 3.0)

	require.Eventually(t, func() bool {
		m = scrape(t, addr)
		return m[`commentd_flushed_comments_total`] == 3 && sum(m, "commentd_buffer_depth{") == 0
	}, 30*time.Second, 50*time.Millisecond, "flushed %v", m[`commentd_flushed_comments_total`])
	require.GreaterOrEqual(t, m[`commentd_flush_batch_size_count`], 1.0)
	require.GreaterOrEqual(t, m[`commentd_flush_duration_seconds_count`], 1.0)
	require.EqualValues(t, 2, m[`commentd_leases_held`])

	// MongoDB down: the comment waits in Redis, inserts fail and are counted.
	e.mongo.Stop()
	writer.post("metrics", "while down")
	require.Eventually(t, func() bool {
		m = scrape(t, addr)
		return m[`commentd_mongo_errors_total`] >= 1 && sum(m, "commentd_buffer_depth{") == 1
	}, 30*time.Second, 100*time.Millisecond)
	require.Greater(t, sum(m, "commentd_buffer_oldest_age_seconds{"), 0.0)
	e.mongo.Start()
	require.Eventually(t, func() bool {
		return sum(scrape(t, addr), "commentd_buffer_depth{") == 0
	}, time.Minute, 100*time.Millisecond)
	stop()
}

// /readyz follows Redis; MongoDB's state is reported, not decisive.
func TestReadinessFollowsRedis(t *testing.T) {
	e := newEnv(t, 1)
	app, stop := startApp(t, e.config(1))
	ready := func() (int, string) {
		resp, err := http.Get("http://" + app.Addr() + "/readyz")
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, _ := ready()
	require.Equal(t, http.StatusOK, code)

	e.mongo.Stop()
	code, body := ready()
	require.Equal(t, http.StatusOK, code, "MongoDB down does not fail readiness")
	require.Contains(t, body, `"mongo":"unreachable`)
	e.mongo.Start()

	e.redis.Stop()
	code, body = ready()
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, `"redis":"unreachable`)
	e.redis.Start()
	require.Eventually(t, func() bool { c, _ := ready(); return c == http.StatusOK }, 10*time.Second, 50*time.Millisecond)

	resp, err := http.Get("http://" + app.Addr() + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	stop()
}

// pprof is served only on admin.addr, never on the public listener.
func TestAdminListener(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.config(1)
	cfg.Admin.Addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	app, stop := startApp(t, cfg)
	resp, err := http.Get("http://" + cfg.Admin.Addr + "/debug/pprof/goroutine?debug=1")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(b), "goroutine profile")
	resp, err = http.Get("http://" + app.Addr() + "/debug/pprof/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	stop()
}

// Every operation of openapi.yaml exists on the server.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	b, err := os.ReadFile("../../openapi.yaml")
	require.NoError(t, err)
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(b, &doc))
	require.NotEmpty(t, doc.Paths)
	e := newEnv(t, 1)
	cfg := e.config(1)
	cfg.Admin.Token = "openapi-admin"
	app, stop := startApp(t, cfg)
	// A comment of its own for each operation on one.
	commentID := func(t *testing.T) string {
		resp, err := http.Post("http://"+app.Addr()+"/api/posts/openapi/comments", "application/json",
			strings.NewReader(`{"userId":"u","content":"target"}`))
		require.NoError(t, err)
		defer resp.Body.Close()
		var res struct {
			Comment struct {
				ID string `json:"_id"`
			}
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&res))
		return res.Comment.ID
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			t.Run(method+" "+path, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				url := "http://" + app.Addr() + strings.ReplaceAll(path, "{postId}", "openapi")
				if strings.Contains(url, "{commentId}") {
					url = strings.ReplaceAll(url, "{commentId}", commentID(t))
				}
				body := `{"userId":"u","content":"x","action":"pin","locked":false,"seconds":0,"reaction":"👍"}` // unlocked, not slow: the others still post
				if path == "/api/counts" {
					url += "?posts=openapi"
				}
				if strings.HasPrefix(path, "/api/moderation/bans") {
					// Ban someone else than the poster of the other
					// operations, and have a ban to lift.
					body = `{"userId":"openapi-banned"}`
					url = strings.ReplaceAll(url, "{userId}", "openapi-banned")
					require.Equal(t, http.StatusOK, restJSON(t, "POST", "http://"+app.Addr()+"/api/moderation/bans", "openapi-admin", body, nil))
				}
				url = strings.ReplaceAll(url, "{userId}", "u")
				req, err := http.NewRequestWithContext(ctx, strings.ToUpper(method), url, strings.NewReader(body))
				require.NoError(t, err)
				if strings.HasPrefix(path, "/api/moderation/") || strings.HasPrefix(path, "/api/users/") {
					req.Header.Set("Authorization", "Bearer openapi-admin")
				}
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				resp.Body.Close() // a stream answers its headers at once
				require.NotEqual(t, http.StatusNotFound, resp.StatusCode)
				require.NotEqual(t, http.StatusMethodNotAllowed, resp.StatusCode)
				require.Less(t, resp.StatusCode, 300)
			})
		}
	}
	stop()
}
