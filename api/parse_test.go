package api

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/commentd/commentd/comment"
	"github.com/stretchr/testify/require"
)

func args(raw ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(raw))
	for i, r := range raw {
		out[i] = json.RawMessage(r)
	}
	return out
}

func TestParseNewComment(t *testing.T) {
	tests := []struct {
		name string
		in   []json.RawMessage
		want newCommentRequest
		bad  bool
	}{
		{"object", args(`{"postId":"p","content":"hi","userId":"u"}`), newCommentRequest{PostID: "p", Content: "hi", UserID: "u"}, false},
		{"json string", args(`"{\"postId\":\"p\",\"content\":\"hi\",\"userId\":\"u\"}"`), newCommentRequest{PostID: "p", Content: "hi", UserID: "u"}, false},
		{"client id", args(`{"postId":"p","content":"c","userId":"u","clientId":"k1"}`), newCommentRequest{PostID: "p", Content: "c", UserID: "u", ClientID: "k1"}, false},
		{"none", args(), newCommentRequest{}, true},
		{"number", args(`42`), newCommentRequest{}, true},
		{"array", args(`["p"]`), newCommentRequest{}, true},
		{"broken string", args(`"{not json"`), newCommentRequest{}, true},
		{"content not a string", args(`{"postId":"p","content":5,"userId":"u"}`), newCommentRequest{}, true},
		{"null", args(`null`), newCommentRequest{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNewComment(tt.in)
			if tt.bad {
				var e *comment.Error
				require.True(t, errors.As(err, &e))
				require.Equal(t, comment.CodeInvalidPayload, e.Code)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseJoin(t *testing.T) {
	got, err := parseJoin(args(`"p1"`))
	require.NoError(t, err)
	require.Equal(t, joinRequest{PostID: "p1"}, got)
	got, err = parseJoin(args(`{"postId":"p1","since":"6745a0c1e4b0a1b2c3d4e5f6"}`))
	require.NoError(t, err)
	require.Equal(t, joinRequest{PostID: "p1", Since: "6745a0c1e4b0a1b2c3d4e5f6"}, got)
	for _, bad := range [][]json.RawMessage{args(), args(`5`), args(`[1]`), args(`{"postId":1}`)} {
		_, err := parseJoin(bad)
		require.Error(t, err)
	}
}

func FuzzParseNewComment(f *testing.F) {
	for _, s := range []string{`{"postId":"p","content":"hi","userId":"u"}`, `"{\"postId\":\"p\"}"`, `42`, `null`, `"`, `{"content":`, `[[[[`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		req, err := parseNewComment(args(s))
		if err != nil {
			var e *comment.Error
			if !errors.As(err, &e) {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		_ = req
		parseJoin(args(s))
	})
}

// decodePlain agrees with encoding/json on whatever it accepts, and
// accepts the usual request.
func FuzzDecodePlain(f *testing.F) {
	for _, s := range []string{`{"postId":"p","content":"hi","userId":"u"}`, `{ "postId" : "p" , "clientId":"k" }`, `{}`,
		`{"postId":"p","postId":"q"}`, `{"POSTID":"p"}`, `{"content":"a\"b"}`, `{"content":"\xff"}`, `{"content":"é😀"}`,
		`{"content":1}`, `{"content":"x",}`, `{"x":"y"}`, `{"content":"x"} `, `{"content":"x"}}`, "{\"content\":\"a\tb\"}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var fast newCommentRequest
		if !decodePlain([]byte(s), &fast) {
			require.Equal(t, newCommentRequest{}, fast, "untouched when refused")
			return
		}
		var slow newCommentRequest
		require.NoError(t, json.Unmarshal([]byte(s), &slow), "accepted what encoding/json refuses: %q", s)
		require.Equal(t, slow, fast, "%q", s)
	})
}

func TestDecodePlainTakesTheUsualRequest(t *testing.T) {
	var req newCommentRequest
	require.True(t, decodePlain([]byte(`{"postId":"post-1","content":"Great post, thanks! é","userId":"alice","clientId":"c-1"}`), &req))
	require.Equal(t, newCommentRequest{PostID: "post-1", Content: "Great post, thanks! é", UserID: "alice", ClientID: "c-1"}, req)
}
