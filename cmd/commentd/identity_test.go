package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// With auth.mode jwt, a comment carries its author's name and picture from
// the token (auth.name_claim, auth.avatar_claim), on the wire and in
// MongoDB; a picture that is not an http(s) URL is dropped.
func TestJWTNameAndAvatar(t *testing.T) {
	e := newEnv(t, 1)
	app, stop := startApp(t, jwtConfig(e, false))
	defer stop()
	tok := func(sub string, extra jwt.MapClaims) string {
		claims := jwt.MapClaims{"sub": sub, "iss": "https://id.example", "exp": time.Now().Add(time.Hour).Unix()}
		for k, v := range extra {
			claims[k] = v
		}
		return token(t, jwt.SigningMethodHS256, []byte(testSecret), claims)
	}
	_, ann := connectWith(t, app.Addr(), `{"token":"`+tok("ann", jwt.MapClaims{"name": " Ann\u0000 Lee ", "picture": "https://img.example/ann.png"})+`"}`, nil)
	require.NotNil(t, ann)
	ann.join("who")
	postSigned := func(c *sioClient, content string) comment.Comment {
		t.Helper()
		a, err := ackOf(c.ack("new_comment", map[string]string{"postId": "who", "content": content}))
		require.NoError(t, err)
		require.True(t, a.OK, "%+v", a)
		return a.Comment
	}
	posted := postSigned(ann, "hello")
	require.Equal(t, "Ann Lee", posted.UserName)
	require.Equal(t, "https://img.example/ann.png", posted.Avatar)
	added := commentOf(t, ann.next("comment_added", 5*time.Second))
	require.Equal(t, "Ann Lee", added.UserName)

	_, eve := connectWith(t, app.Addr(), `{"token":"`+tok("eve", jwt.MapClaims{"name": "Eve", "picture": "javascript:alert(1)"})+`"}`, nil)
	require.NotNil(t, eve)
	c := postSigned(eve, "hi")
	require.Equal(t, "Eve", c.UserName)
	require.Empty(t, c.Avatar, "not an http(s) URL")

	require.Eventually(t, func() bool {
		got, found, err := e.store.Get(context.Background(), posted.ID)
		return err == nil && found && got.UserName == "Ann Lee" && got.Avatar == "https://img.example/ann.png"
	}, 30*time.Second, 50*time.Millisecond, "name and avatar in MongoDB")

	// A token may not name a guest.
	reply, _ := connectWith(t, app.Addr(), `{"token":"`+tok("guest:ann", nil)+`"}`, nil)
	require.True(t, strings.HasPrefix(reply, "44"), reply)
}

// auth.guests: a client without a token posts as guest:<userName>, never as
// a real user.
func TestGuests(t *testing.T) {
	e := newEnv(t, 1)
	cfg := jwtConfig(e, false)
	cfg.Auth.Guests = true
	app, stop := startApp(t, cfg)
	defer stop()
	_, g := connectWith(t, app.Addr(), "", nil)
	require.NotNil(t, g, "a guest connects without a token")
	ok, _, _ := postResult(t, g, map[string]string{"postId": "g", "userName": "bob", "content": "as a guest"})
	require.True(t, ok)
	a, err := ackOf(g.ack("new_comment", map[string]string{"postId": "g", "userName": "bob", "content": "again"}))
	require.NoError(t, err)
	require.True(t, a.OK)
	require.Equal(t, "guest:bob", a.Comment.UserID)
	require.Equal(t, "bob", a.Comment.UserName)
	own := a.Comment

	a, err = ackOf(g.ack("new_comment", map[string]string{"postId": "g", "userId": "alice", "content": "as alice"}))
	require.NoError(t, err)
	require.False(t, a.OK)
	require.Equal(t, comment.CodeUnauthorized, a.Error.Code, "a guest cannot take a real user's id")
	a, err = ackOf(g.ack("new_comment", map[string]string{"postId": "g", "userName": "bob smith", "content": "x"}))
	require.NoError(t, err)
	require.Equal(t, comment.CodeInvalidUserID, a.Error.Code)

	// The guest edits its own comment, as trusted as for posting.
	a, err = ackOf(g.ack("edit_comment", map[string]any{"postId": "g", "commentId": own.ID, "userId": "guest:bob", "content": "edited"}))
	require.NoError(t, err)
	require.True(t, a.OK, "%+v", a)
	a, err = ackOf(g.ack("edit_comment", map[string]any{"postId": "g", "commentId": own.ID, "userId": "alice", "content": "x"}))
	require.NoError(t, err)
	require.Equal(t, comment.CodeUnauthorized, a.Error.Code, "nor act as one")

	// REST too.
	resp, err := http.Post("http://"+app.Addr()+"/api/posts/g/comments", "application/json", strings.NewReader(`{"userName":"carol","content":"over REST"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var res struct{ Comment comment.Comment }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&res))
	require.Equal(t, "guest:carol", res.Comment.UserID)
}
