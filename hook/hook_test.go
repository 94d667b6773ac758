package hook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The test vector of the Standard Webhooks libraries.
func TestSignStandardVector(t *testing.T) {
	key, err := Key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	require.NoError(t, err)
	sig := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	require.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", sig)
}

func TestKey(t *testing.T) {
	k, err := Key("plain secret")
	require.NoError(t, err)
	require.Equal(t, []byte("plain secret"), k)
	k, err = Key("whsec_c2VjcmV0")
	require.NoError(t, err)
	require.Equal(t, []byte("secret"), k)
	_, err = Key("whsec_!!")
	require.Error(t, err)
	_, err = Key("")
	require.Error(t, err)
}

func TestVerify(t *testing.T) {
	key := []byte("k")
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"a":1}`)
	h := http.Header{}
	h.Set(HeaderID, "msg_1")
	h.Set(HeaderTimestamp, "1700000000")
	h.Set(HeaderSignature, "v1,bogus "+Sign(key, "msg_1", now.Unix(), body))
	require.NoError(t, Verify(key, h, body, now, 5*time.Minute), "one of several signatures")
	require.ErrorIs(t, Verify([]byte("other"), h, body, now, 5*time.Minute), ErrBadSignature)
	require.ErrorIs(t, Verify(key, h, []byte(`{"a":2}`), now, 5*time.Minute), ErrBadSignature)
	require.ErrorIs(t, Verify(key, h, body, now.Add(time.Hour), 5*time.Minute), ErrTooOld)
	h.Del(HeaderID)
	require.ErrorIs(t, Verify(key, h, body, now, 5*time.Minute), ErrNoSignature)
}

// A Client against a real HTTP server: the request is signed and carries
// the comment; each kind of answer is a verdict or a failure.
func TestCheck(t *testing.T) {
	c, err := comment.New(comment.Input{PostID: "p", UserID: "u", Content: "hello"}, time.Now(), 0)
	require.NoError(t, err)
	tests := []struct {
		name   string
		status int
		body   string
		want   comment.Verdict // "" = failure
	}{
		{"allow", 200, `{"action":"allow"}`, comment.VerdictAllow},
		{"hold", 200, `{"action":"hold","reason":"looks like spam"}`, comment.VerdictHold},
		{"reject", 202, `{"action":"reject"}`, comment.VerdictReject},
		{"unknown action", 200, `{"action":"delete"}`, ""},
		{"no action", 200, `{}`, ""},
		{"not json", 200, `allow`, ""},
		{"server error", 500, `{"action":"allow"}`, ""},
		{"redirect", 302, ``, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got struct {
				Type    string
				Comment comment.Comment
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if Verify([]byte("s3cret"), r.Header, body, time.Now(), time.Minute) != nil || r.Method != http.MethodPost {
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				json.Unmarshal(body, &got)
				if tt.status == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			h, err := New(Config{URL: srv.URL, Secret: "s3cret"})
			require.NoError(t, err)
			defer h.Close()
			v, err := h.Check(context.Background(), c)
			if tt.want == "" {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
				require.Equal(t, tt.want, v)
			}
			require.Equal(t, EventCreated, got.Type)
			require.Equal(t, c.ID, got.Comment.ID)
			require.Equal(t, "hello", got.Comment.Content)
		})
	}
}

func TestCheckTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer srv.Close()
	defer close(release)
	h, err := New(Config{URL: srv.URL, Secret: "k", Timeout: 50 * time.Millisecond})
	require.NoError(t, err)
	defer h.Close()
	c, _ := comment.New(comment.Input{PostID: "p", UserID: "u", Content: "x"}, time.Now(), 0)
	_, err = h.Check(context.Background(), c)
	require.Error(t, err)
}
