package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/config"
	"github.com/commentd/commentd/webhook"
	"github.com/commentd/commentd/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// The webhook tests of issue 17: real receivers on 127.0.0.1, real Redis
// and devmongo, real nodes.

const whSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// webhookConfig is e's config with the endpoints, the admin token and
// quick retries.
func webhookConfig(e *env, eps ...config.WebhookEndpoint) *config.Config {
	cfg := e.config(2)
	cfg.Admin.Token = modToken
	cfg.Webhooks.Endpoints = eps
	cfg.Webhooks.MinBackoff = 100 * time.Millisecond
	cfg.Webhooks.MaxBackoff = time.Second
	cfg.Webhooks.LeaseTTL = time.Second
	return cfg
}

// waitWebhookCursors waits until each endpoint has its cursor: events
// published from then on are its.
func (e *env) waitWebhookCursors(t *testing.T, names ...string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, n := range names {
			if e.rdb.Exists(context.Background(), "cmt:{webhooks}:cursor:"+n).Val() == 0 {
				return false
			}
		}
		return true
	}, 30*time.Second, 20*time.Millisecond, "endpoints have cursors")
}

// restPost posts a comment over REST and returns it.
func restPost(t *testing.T, addr, post, user, content string) comment.Comment {
	t.Helper()
	var res struct {
		OK      bool            `json:"ok"`
		Comment comment.Comment `json:"comment"`
	}
	body, _ := json.Marshal(map[string]string{"userId": user, "content": content})
	code := restJSON(t, http.MethodPost, "http://"+addr+"/api/posts/"+post+"/comments", "", string(body), &res)
	require.Equal(t, http.StatusCreated, code)
	require.True(t, res.OK)
	return res.Comment
}

// moderate applies a moderator's action over REST.
func moderate(t *testing.T, addr, post, id, action string) {
	t.Helper()
	code := restJSON(t, http.MethodPost, "http://"+addr+"/api/moderation/posts/"+post+"/comments/"+id, modToken,
		`{"action":"`+action+`"}`, nil)
	require.Equal(t, http.StatusOK, code, action)
}

// waitDelivered waits until r has had the events of ids delivered (2xx).
func waitDelivered(t *testing.T, r *webhooktest.Receiver, ids []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := map[string]bool{}
		for _, ev := range r.Delivered() {
			got[ev.ID] = true
		}
		missing := 0
		for _, id := range ids {
			if !got[id] {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events not delivered after %s", missing, len(ids), within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// requireOnce checks that among the 2xx answers each webhook-id and each
// event came once, and every request was signed with the secret.
func requireOnce(t *testing.T, r *webhooktest.Receiver) {
	t.Helper()
	ids, evs := map[string]int{}, map[string]int{}
	for _, q := range r.Requests() {
		require.True(t, q.Verified, "signature verifies with the endpoint's secret")
		require.False(t, q.OtherKey, "signature does not verify with another key")
		if q.Status < 200 || q.Status > 299 {
			continue
		}
		ids[q.WebhookID]++
		require.Equal(t, 1, ids[q.WebhookID], "webhook-id %s twice among the successes", q.WebhookID)
		for _, ev := range q.Events {
			evs[ev.ID]++
			require.Equal(t, 1, evs[ev.ID], "event %s delivered twice", ev.ID)
		}
	}
}

// A receiver down for 30 s (connections refused, then 503) gets every
// event afterwards, none missing, each webhook-id once among the 2xx
// answers; its requests are signed with its secret.
func TestWebhookReceiverDown(t *testing.T) {
	e := newEnv(t, 2)
	var failing atomic.Bool
	r := webhooktest.New(t, whSecret, func(*http.Request, int) int {
		if failing.Load() {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	cfg := webhookConfig(e, config.WebhookEndpoint{Name: "search", URL: r.URL, Secret: whSecret})
	cfg.Webhooks.MaxAttempts = 1000
	cfg.Webhooks.BatchSize = 7
	app, stop := startApp(t, cfg)
	defer stop()
	e.waitWebhookCursors(t, "search")

	var want []string
	post := func(n int) {
		for i := range n {
			c := restPost(t, app.Addr(), fmt.Sprintf("post%d", i%3), "u", fmt.Sprintf("comment %d", len(want)))
			want = append(want, "evt_"+c.ID)
			time.Sleep(50 * time.Millisecond)
		}
	}
	post(5)
	waitDelivered(t, r, want, 30*time.Second)

	r.Stop() // connection refused
	start := time.Now()
	post(40)
	for time.Since(start) < 15*time.Second {
		time.Sleep(100 * time.Millisecond)
	}
	failing.Store(true)
	r.Start(t) // 503
	post(40)
	for time.Since(start) < 30*time.Second {
		time.Sleep(100 * time.Millisecond)
	}
	failing.Store(false)
	post(5)
	waitDelivered(t, r, want, 60*time.Second)
	requireOnce(t, r)
	failed := 0
	for _, q := range r.Requests() {
		if q.Status == http.StatusServiceUnavailable {
			failed++
		}
	}
	require.Positive(t, failed, "the receiver answered 503 while failing")
	require.Len(t, r.Delivered(), len(want))
}

// A receiver that always answers 500 (slowly) ends in the dead letters
// after webhooks.max_attempts, and a healthy receiver's deliveries go on
// meanwhile: it has every event before the failing one's first batch is
// even given up.
func TestWebhookFailingEndpointDoesNotDelayOthers(t *testing.T) {
	e := newEnv(t, 2)
	good := webhooktest.New(t, whSecret, nil)
	bad := webhooktest.New(t, "a plain secret", func(r *http.Request, _ int) int {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
		return http.StatusInternalServerError
	})
	cfg := webhookConfig(e,
		config.WebhookEndpoint{Name: "bad", URL: bad.URL, Secret: "a plain secret"},
		config.WebhookEndpoint{Name: "good", URL: good.URL, Secret: whSecret})
	cfg.Webhooks.MaxAttempts = 3
	cfg.Webhooks.MaxBackoff = 200 * time.Millisecond
	app, stop := startApp(t, cfg)
	defer stop()
	e.waitWebhookCursors(t, "bad", "good")

	var want []string
	posted := map[string]time.Time{}
	for i := range 20 {
		c := restPost(t, app.Addr(), "post1", "u", fmt.Sprintf("comment %d", i))
		want = append(want, "evt_"+c.ID)
		posted["evt_"+c.ID] = time.Now()
	}
	waitDelivered(t, good, want, 30*time.Second)
	dead, err := app.wh.DeadLetters(context.Background(), "bad")
	require.NoError(t, err)
	require.Empty(t, dead, "the healthy endpoint had every event before the failing one gave a batch up")
	var worst time.Duration
	for _, q := range good.Requests() {
		for _, ev := range q.Events {
			worst = max(worst, q.At.Sub(posted[ev.ID]))
		}
	}
	t.Logf("healthy endpoint: slowest event delivered %s after it was posted", worst.Round(time.Millisecond))

	// The failing one: every event dead-lettered, each batch after
	// exactly max_attempts requests with the same webhook-id.
	deadline := time.Now().Add(90 * time.Second)
	for {
		raw, err := app.wh.DeadLetters(context.Background(), "bad")
		require.NoError(t, err)
		var got []string
		attempts := map[string]int{}
		for _, q := range bad.Requests() {
			attempts[q.WebhookID]++
		}
		for _, s := range raw {
			var dl webhook.DeadLetter
			require.NoError(t, json.Unmarshal([]byte(s), &dl))
			require.Equal(t, 3, dl.Attempts)
			require.Equal(t, 3, attempts[dl.WebhookID], "requests of batch %s", dl.WebhookID)
			var body struct{ Events []webhooktest.Event }
			require.NoError(t, json.Unmarshal(dl.Body, &body))
			for _, ev := range body.Events {
				got = append(got, ev.ID)
			}
		}
		if len(got) == len(want) {
			require.Equal(t, want, got)
			break
		}
		require.True(t, time.Now().Before(deadline), "%d of %d events dead-lettered", len(got), len(want))
		time.Sleep(200 * time.Millisecond)
	}
	requireOnce(t, good)
	m := scrape(t, app.Addr())
	require.EqualValues(t, len(want), m[`commentd_webhook_delivered_events_total{endpoint="good"}`])
	require.EqualValues(t, len(want), m[`commentd_webhook_dead_events_total{endpoint="bad"}`])
	require.GreaterOrEqual(t, m[`commentd_webhook_failed_requests_total{endpoint="bad"}`], 3.0)
	require.Contains(t, m, `commentd_webhook_lag_seconds{endpoint="good"}`)
	for _, q := range bad.Requests() {
		require.True(t, q.Verified, "a plain-string secret signs too")
	}
}

// Pending and hidden content never reaches an endpoint without moderation;
// an endpoint with moderation gets it. Bans reach both.
func TestWebhookModerationContent(t *testing.T) {
	e := newEnv(t, 2)
	pub := webhooktest.New(t, whSecret, nil)
	mod := webhooktest.New(t, whSecret, nil)
	cfg := webhookConfig(e,
		config.WebhookEndpoint{Name: "public", URL: pub.URL, Secret: whSecret},
		config.WebhookEndpoint{Name: "mods", URL: mod.URL, Secret: whSecret, Moderation: true})
	cfg.Moderation.Mode = "all"
	app, stop := startApp(t, cfg)
	defer stop()
	e.waitWebhookCursors(t, "public", "mods")
	addr := app.Addr()

	held := restPost(t, addr, "p1", "u1", "held words")         // pending, stays pending
	approved := restPost(t, addr, "p1", "u2", "approved words") // pending, then approved
	hidden := restPost(t, addr, "p1", "u3", "hidden words")     // pending, approved, then hidden
	require.Equal(t, comment.StatusPending, held.Status)
	moderate(t, addr, "p1", approved.ID, "approve")
	moderate(t, addr, "p1", hidden.ID, "approve")
	moderate(t, addr, "p1", hidden.ID, "hide")
	edited := restPost(t, addr, "p2", "u4", "first words")
	moderate(t, addr, "p2", edited.ID, "approve")
	code := restJSON(t, http.MethodPatch, "http://"+addr+"/api/posts/p2/comments/"+edited.ID, "",
		`{"userId":"u4","content":"edited words"}`, nil)
	require.Equal(t, http.StatusOK, code)
	code = restJSON(t, http.MethodDelete, "http://"+addr+"/api/posts/p2/comments/"+edited.ID+"?userId=u4", "", "", nil)
	require.Equal(t, http.StatusOK, code)
	code = restJSON(t, http.MethodPost, "http://"+addr+"/api/moderation/bans", modToken,
		`{"userId":"u9","duration":0,"reason":"spam"}`, nil)
	require.Equal(t, http.StatusOK, code)

	// The moderation endpoint: 4 creates, 3 approvals, the hide (with the
	// content), the edit, the delete and the ban.
	types := func(r *webhooktest.Receiver) map[string]int {
		m := map[string]int{}
		for _, ev := range r.Delivered() {
			m[ev.Type]++
		}
		return m
	}
	require.Eventually(t, func() bool {
		m := types(mod)
		return m[webhook.TypeCreated] == 4 && m[webhook.TypeApproved] == 3 && m[webhook.TypeRemoved] == 2 &&
			m[webhook.TypeUpdated] == 1 && m[webhook.TypeBanned] == 1
	}, 30*time.Second, 50*time.Millisecond, "moderation endpoint got %v", types(mod))
	require.Eventually(t, func() bool {
		m := types(pub)
		return m[webhook.TypeApproved] == 3 && m[webhook.TypeRemoved] == 2 && m[webhook.TypeUpdated] == 1 &&
			m[webhook.TypeBanned] == 1
	}, 30*time.Second, 50*time.Millisecond, "public endpoint got %v", types(pub))
	// Let anything late arrive before looking at what never must.
	time.Sleep(time.Second)
	requireOnce(t, pub)
	requireOnce(t, mod)

	var modText strings.Builder
	for _, ev := range mod.Delivered() {
		modText.Write(ev.Data)
	}
	for _, s := range []string{"held words", "approved words", "hidden words", "edited words", `"status":"pending"`, `"status":"hidden"`} {
		require.Contains(t, modText.String(), s, "moderation endpoint")
	}
	for _, ev := range pub.Delivered() {
		require.NotContains(t, string(ev.Data), "held words", ev.Type)
		require.NotContains(t, string(ev.Data), `"status"`, ev.Type)
		require.NotEqual(t, webhook.TypeCreated, ev.Type, "every comment was held: no created for readers")
		if ev.Type == webhook.TypeRemoved {
			require.NotContains(t, string(ev.Data), "hidden words", "a hide tells readers only which comment")
			require.NotContains(t, string(ev.Data), "edited words", "a delete leaves no content")
		}
	}
	require.Len(t, pub.Delivered(), 7, "3 approvals, the edit, the hide, the delete, the ban")
}

// A node SIGKILLed while its request to a receiver stalls: another node
// takes the endpoint over once the lease expires and delivers the same
// batch, with the same webhook-id.
func TestWebhookNodeKilledMidDelivery(t *testing.T) {
	e := newEnv(t, 2)
	stalled := make(chan struct{})
	var once sync.Once
	r := webhooktest.New(t, whSecret, func(req *http.Request, n int) int {
		if n == 0 {
			once.Do(func() { close(stalled) })
			<-req.Context().Done() // until the node dies
			return http.StatusOK
		}
		return http.StatusOK
	})
	eps, err := json.Marshal([]config.WebhookEndpoint{{Name: "search", URL: r.URL, Secret: whSecret}})
	require.NoError(t, err)
	extra := []string{"--webhooks.endpoints", string(eps), "--webhooks.lease_ttl", "1s", "--webhooks.timeout", "60s",
		"--webhooks.min_backoff", "100ms", "--webhooks.max_backoff", "500ms"}
	a := startNodes(t, e, 1, 2, extra...)[0]
	e.waitWebhookCursors(t, "search") // a holds the lease: it is alone
	b := startNodes(t, e, 1, 2, extra...)[0]

	var want []string
	for i := range 10 {
		c := restPost(t, b.addr, "post1", "u", fmt.Sprintf("comment %d", i))
		want = append(want, "evt_"+c.ID)
	}
	select {
	case <-stalled:
	case <-time.After(30 * time.Second):
		t.Fatal("no request reached the receiver")
	}
	killed := time.Now()
	require.NoError(t, a.p.cmd.Process.Signal(syscall.SIGKILL))
	waitDelivered(t, r, want, 30*time.Second)
	t.Logf("delivered by the other node %s after the kill", time.Since(killed).Round(time.Millisecond))
	requireOnce(t, r)
	reqs := r.Requests()
	require.Equal(t, 0, reqs[0].Status, "the first request was cut off by the kill")
	var firstOK string
	for _, q := range reqs {
		if q.Status == http.StatusOK {
			firstOK = q.WebhookID
			break
		}
	}
	require.Equal(t, reqs[0].WebhookID, firstOK, "the batch is retried as it was fixed, under the same webhook-id")
}
