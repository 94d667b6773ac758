package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/hook"
	"github.com/commentd/commentd/internal/testsvc"
	"github.com/commentd/commentd/webhook/webhooktest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestWebhookSignature(t *testing.T) {
	key, err := hook.Key(secret)
	require.NoError(t, err)
	other, err := hook.Key("whsec_" + "b3RoZXIgc2VjcmV0")
	require.NoError(t, err)
	body := []byte(`{"type":"batch","events":[]}`)
	now := time.Now()
	h := http.Header{}
	h.Set(hook.HeaderID, "msg_1")
	h.Set(hook.HeaderTimestamp, fmt.Sprint(now.Unix()))
	h.Set(hook.HeaderSignature, hook.Sign(key, "msg_1", now.Unix(), body))
	require.NoError(t, hook.Verify(key, h, body, now, time.Minute))
	require.ErrorIs(t, hook.Verify(other, h, body, now, time.Minute), hook.ErrBadSignature)
	require.ErrorIs(t, hook.Verify(key, h, []byte(`{}`), now, time.Minute), hook.ErrBadSignature)
}

func newComment(id, status string) comment.Comment {
	return comment.Comment{ID: id, PostID: "p", UserID: "u", Content: "secret words " + id, Status: status,
		CreatedAt: time.UnixMilli(1_700_000_000_000).UTC()}
}

// Pending and hidden content goes to moderation endpoints only; the others
// hear of a hide without content, and of a held comment when approved.
func TestWebhookEventsOfVisibility(t *testing.T) {
	pending := newComment("aaaaaaaaaaaaaaaaaaaaaaa1", comment.StatusPending)
	visible := newComment("aaaaaaaaaaaaaaaaaaaaaaa2", "")
	hidden := visible
	hidden.Status, hidden.V = comment.StatusHidden, 2
	approved := pending
	approved.Status, approved.V = "", 2
	at := time.Now().UTC()
	batch := []comment.Change{
		comment.CreateOf(pending),
		comment.CreateOf(visible),
		{Op: comment.OpHide, ID: "c1", PostID: "p", CommentID: visible.ID, At: at, V: 2, State: hidden},
		{Op: comment.OpEdit, ID: "c2", PostID: "p", CommentID: visible.ID, At: at, V: 3, State: hidden},
		{Op: comment.OpApprove, ID: "c3", PostID: "p", CommentID: pending.ID, At: at, V: 2, State: approved},
		{Op: comment.OpReact, ID: "c4", PostID: "p", CommentID: visible.ID, At: at, V: 4, State: hidden},
	}
	evs := EventsOf(batch, []comment.Rejected{{Change: batch[1]}})
	// The dead create sends nothing; the reaction nothing.
	require.Len(t, evs, 4)
	want := []struct {
		typ    string
		public bool
	}{{TypeCreated, false}, {TypeRemoved, true}, {TypeUpdated, false}, {TypeApproved, true}}
	for i, w := range want {
		require.Equal(t, w.typ, evs[i].Type, i)
		require.Equal(t, w.public, evs[i].Public != nil, i)
		require.True(t, json.Valid(evs[i].Full), string(evs[i].Full))
	}
	require.Contains(t, string(evs[1].Full), "secret words", "a moderation endpoint gets the hidden comment")
	require.NotContains(t, string(evs[1].Public), "secret words")
	require.Contains(t, string(evs[3].Public), "secret words", "the approved comment, for everyone")
	require.Equal(t, "evt_"+pending.ID, evs[0].ID)
}

type env struct {
	rdb *redis.Client
	pub *Publisher
}

func newEnv(t *testing.T) *env {
	r := testsvc.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { rdb.Close() })
	return &env{rdb: rdb, pub: NewPublisher(rdb, "t", 0)}
}

// run starts a Dispatcher of cfg until the test ends.
func (e *env) run(t *testing.T, cfg Config) *Dispatcher {
	cfg.Prefix = "t"
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := NewDispatcher(e.rdb, cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}

// publish publishes n visible new comments as a stored batch would, after
// the endpoints have their cursors (they start at the stream's end).
func (e *env) publish(t *testing.T, from, n int) []string {
	var batch []comment.Change
	var ids []string
	for i := from; i < from+n; i++ {
		c := newComment(fmt.Sprintf("%024x", i), "")
		batch = append(batch, comment.CreateOf(c))
		ids = append(ids, "evt_"+c.ID)
	}
	require.NoError(t, e.pub.Publish(context.Background(), EventsOf(batch, nil)))
	return ids
}

// waitCursors waits until every endpoint has a cursor.
func (e *env) waitCursors(t *testing.T, names ...string) {
	k := newKeys("t")
	require.Eventually(t, func() bool {
		for _, n := range names {
			if e.rdb.Exists(context.Background(), k.cursor(n)).Val() == 0 {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond)
}

func eventIDs(evs []webhooktest.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

// A batch the flusher writes twice is published once.
func TestWebhookPublishOnce(t *testing.T) {
	e := newEnv(t)
	e.publish(t, 0, 3)
	e.publish(t, 0, 3)
	n, err := e.rdb.XLen(context.Background(), newKeys("t").stream()).Result()
	require.NoError(t, err)
	require.EqualValues(t, 3, n)
}

// Requests are signed with the endpoint's secret (and fail with another);
// a receiver that always answers 500 ends in the dead letters after
// MaxAttempts, with the same webhook-id each time, while a healthy one
// gets every event; the stream is trimmed once both are past it.
func TestWebhookDeliveryAndDeadLetters(t *testing.T) {
	e := newEnv(t)
	good := webhooktest.New(t, secret, nil)
	bad := webhooktest.New(t, "plain secret", func(*http.Request, int) int { return http.StatusInternalServerError })
	d := e.run(t, Config{
		Endpoints: []Endpoint{{Name: "good", URL: good.URL, Secret: secret}, {Name: "bad", URL: bad.URL, Secret: "plain secret"}},
		BatchSize: 4, MaxAttempts: 3, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Poll: 20 * time.Millisecond,
	})
	e.waitCursors(t, "good", "bad")
	want := e.publish(t, 0, 10)
	require.Eventually(t, func() bool { return len(good.Delivered()) >= len(want) }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, want, eventIDs(good.Delivered()), "in order, each once")
	for _, q := range good.Requests() {
		require.True(t, q.Verified, "signature verifies with the secret")
		require.False(t, q.OtherKey, "and not with another")
		require.LessOrEqual(t, len(q.Events), 4, "batch_size")
	}
	var dead []DeadLetter
	require.Eventually(t, func() bool {
		raw, err := d.DeadLetters(context.Background(), "bad")
		require.NoError(t, err)
		dead = dead[:0]
		n := 0
		for _, s := range raw {
			var dl DeadLetter
			require.NoError(t, json.Unmarshal([]byte(s), &dl))
			dead = append(dead, dl)
			var body struct{ Events []webhooktest.Event }
			require.NoError(t, json.Unmarshal(dl.Body, &body))
			n += len(body.Events)
		}
		return n == len(want)
	}, 10*time.Second, 20*time.Millisecond)
	attempts := map[string]int{}
	for _, q := range bad.Requests() {
		require.True(t, q.Verified)
		attempts[q.WebhookID]++
	}
	for _, dl := range dead {
		require.Equal(t, 3, dl.Attempts)
		require.Equal(t, 3, attempts[dl.WebhookID], "every attempt of a batch has its webhook-id")
		require.Equal(t, "status 500", dl.LastError)
	}
	require.Eventually(t, func() bool {
		return e.rdb.XLen(context.Background(), newKeys("t").stream()).Val() <= 1
	}, 5*time.Second, 20*time.Millisecond, "trimmed to the slowest cursor")
}

// A filter leaves out the types an endpoint did not ask for, and the
// cursor moves past them.
func TestWebhookFilter(t *testing.T) {
	e := newEnv(t)
	r := webhooktest.New(t, secret, nil)
	e.run(t, Config{Endpoints: []Endpoint{{Name: "bans", URL: r.URL, Secret: secret, Events: []string{TypeBanned}}},
		Poll: 20 * time.Millisecond})
	e.waitCursors(t, "bans")
	e.publish(t, 0, 5)
	require.NoError(t, e.pub.Banned(context.Background(), comment.Ban{UserID: "u1", Reason: "spam", By: "m", At: time.Now()}))
	require.Eventually(t, func() bool { return len(r.Delivered()) == 1 }, 10*time.Second, 20*time.Millisecond)
	ev := r.Delivered()[0]
	require.Equal(t, TypeBanned, ev.Type)
	require.JSONEq(t, `"u1"`, string(mustField(t, ev.Data, "userId")))
}

func mustField(t *testing.T, data json.RawMessage, name string) json.RawMessage {
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(data, &m))
	return m[name]
}

// writerFunc is a Writer of a test.
type writerFunc func(batch []comment.Change) ([]comment.Rejected, error)

func (f writerFunc) Write(_ context.Context, batch []comment.Change) ([]comment.Rejected, error) {
	return f(batch)
}

// The Sink publishes a batch's events only after the write succeeded,
// without the changes the store refused, and fails the write when it
// cannot publish, so that the flusher retries the batch.
func TestWebhookSink(t *testing.T) {
	e := newEnv(t)
	stream := newKeys("t").stream()
	a, b := comment.CreateOf(newComment(fmt.Sprintf("%024x", 1), "")), comment.CreateOf(newComment(fmt.Sprintf("%024x", 2), ""))
	batch := []comment.Change{a, b}

	down := NewSink(writerFunc(func([]comment.Change) ([]comment.Rejected, error) {
		return nil, fmt.Errorf("mongo down")
	}), e.pub)
	_, err := down.Write(context.Background(), batch)
	require.Error(t, err)
	require.Zero(t, e.rdb.XLen(context.Background(), stream).Val(), "nothing published for an unstored batch")

	refused := []comment.Rejected{{Change: b, Reason: "bad"}}
	ok := NewSink(writerFunc(func([]comment.Change) ([]comment.Rejected, error) { return refused, nil }), e.pub)
	dead, err := ok.Write(context.Background(), batch)
	require.NoError(t, err)
	require.Equal(t, refused, dead)
	msgs := e.rdb.XRange(context.Background(), stream, "-", "+").Val()
	require.Len(t, msgs, 1)
	require.Equal(t, "evt_"+a.ID, msgs[0].Values["id"])

	closed := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer closed.Close()
	noRedis := NewSink(writerFunc(func([]comment.Change) ([]comment.Rejected, error) { return nil, nil }),
		NewPublisher(closed, "t", 0))
	_, err = noRedis.Write(context.Background(), batch)
	require.Error(t, err, "a failed publish fails the write: the flusher retries it")
}
