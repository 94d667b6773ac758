package comment

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Who may erase a user, and what an erase does to each kind of comment.
func TestDecideErase(t *testing.T) {
	now := time.Now()
	c, err := New(Input{PostID: "p", UserID: "u", UserName: "Una", Avatar: "https://img.example/u.png", Content: "mine"}, now.Add(-time.Hour), 0)
	require.NoError(t, err)
	c.Reactions, c.Replies, c.Pinned = map[string]int{"👍": 2}, 3, true
	held, hidden, rejected := c, c, c
	held.Status = StatusPending
	heldBare := held
	heldBare.Replies = 0
	hidden.Status, hidden.V = StatusHidden, 4
	rejected.Deleted, rejected.Content, rejected.UserName, rejected.Avatar, rejected.V = true, "", "", "", 2
	erased := c.Erased()
	erased.V = 2
	self, other, mod := Actor{UserID: "u"}, Actor{UserID: "v"}, Actor{UserID: "admin", Moderator: true}
	req := func(user string) ChangeRequest {
		return ChangeRequest{Op: OpErase, PostID: "p", CommentID: c.ID, UserID: user}
	}
	tests := []struct {
		name  string
		state Comment
		found bool
		req   ChangeRequest
		actor Actor
		code  Code
	}{
		{"the user, long after posting", c, true, req("u"), self, ""},
		{"a moderator", c, true, req("u"), mod, ""},
		{"another user", c, true, req("u"), other, CodeForbidden},
		{"another user, naming themself", c, true, req("v"), other, CodeNotFound},
		{"a pending one", held, true, req("u"), self, ""},
		{"a pending one without replies", heldBare, true, req("u"), mod, ""},
		{"a hidden one", hidden, true, req("u"), mod, ""},
		{"a rejected one keeps its author", rejected, true, req("u"), mod, ""},
		{"erased already", erased, true, req("u"), mod, CodeNotFound},
		{"missing", Comment{}, false, req("u"), mod, CodeNotFound},
		{"another post", c, true, ChangeRequest{Op: OpErase, PostID: "q", CommentID: c.ID, UserID: "u"}, mod, CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := Decide(tt.state, tt.found, tt.req, tt.actor, Rules{EditWindow: time.Minute}, now)
			if tt.code != "" {
				var e *Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, tt.code, e.Code)
				return
			}
			require.NoError(t, err)
			require.Equal(t, OpErase, ch.Op)
			require.Equal(t, tt.state.Version()+1, ch.V)
			require.Equal(t, ch.V, ch.State.V)
			require.Equal(t, tt.actor.UserID, ch.By)
			st := ch.State
			require.True(t, st.Deleted)
			require.Empty(t, st.Content)
			require.Empty(t, st.UserID)
			require.Empty(t, st.UserName)
			require.Empty(t, st.Avatar)
			require.Empty(t, st.Status, "out of the moderation queue")
			require.False(t, st.Pinned)
			require.Equal(t, tt.state.Replies, st.Replies, "replies keep a tombstone in its thread")
			require.Equal(t, tt.state.Reactions, st.Reactions)
			require.Equal(t, tt.state.CreatedAt, st.CreatedAt)
			if tt.state.Visible() {
				require.Equal(t, -1, ch.Delta, "one comment fewer for readers")
			} else {
				require.Zero(t, ch.Delta)
				// Readers hear nothing of it, unless replies keep it as a
				// tombstone, which every reader is shown (as a delete's).
				require.Equal(t, st.Replies == 0, Update{Comment: st, Op: ch.Op, Delta: ch.Delta}.Unseen())
			}
			require.True(t, audited(tt.actor, OpErase, tt.state), "every erase is audited")
		})
	}
	require.NoError(t, req("u").Validate(0))
	require.Error(t, ChangeRequest{Op: OpErase, PostID: "p", CommentID: c.ID}.Validate(0), "whose comments")

	for _, tt := range []struct {
		actor Actor
		user  string
		ok    bool
	}{{self, "u", true}, {mod, "u", true}, {other, "u", false}, {Actor{}, "", false}} {
		require.Equal(t, tt.ok, MayErase(tt.actor, tt.user) == nil, "%+v erases %q", tt.actor, tt.user)
	}
}

// eraseBuffer holds comment states and applies changes to them, as
// Redis would; some of the states are "in Redis" (UserComments).
type eraseBuffer struct {
	coldBuffer
	states   map[string]Comment
	inRedis  []string
	applied  []Change
	scrubbed []string
	failAt   int // Apply fails once this many changes are applied (0: never)
}

func (b *eraseBuffer) State(_ context.Context, _, id string) (Comment, bool, error) {
	c, ok := b.states[id]
	return c, ok, nil
}

func (b *eraseBuffer) Apply(_ context.Context, ch Change, base int, _ bool) error {
	if b.failAt > 0 && len(b.applied) >= b.failAt {
		return ErrUnavailable
	}
	if b.states[ch.CommentID].Version() != base {
		return ErrStale
	}
	b.states[ch.CommentID] = ch.State
	b.applied = append(b.applied, ch)
	return nil
}

func (b *eraseBuffer) UserComments(_ context.Context, userID string) ([]Comment, error) {
	var out []Comment
	for _, id := range b.inRedis {
		if c := b.states[id]; c.UserID == userID {
			out = append(out, c)
		}
	}
	return out, nil
}

func (b *eraseBuffer) ScrubUser(_ context.Context, userID string) error {
	b.scrubbed = append(b.scrubbed, userID)
	return nil
}

// userStore answers ByUser from the buffer's states as stored (the
// flusher behind), newest first, and counts the pages read.
type userStore struct {
	slowStore
	docs  []Comment // oldest first
	pages int
}

func (s *userStore) ByUser(_ context.Context, userID, before string, limit int) ([]Comment, error) {
	s.pages++
	var out []Comment
	for _, c := range slices.Backward(s.docs) {
		if c.UserID == userID && (before == "" || c.ID < before) && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}

// Erase finds the user's comments in Redis and, page by page, in the
// Store, erases each once through a change record, scrubs, and a second
// Erase changes nothing; one that failed midway is finished by the next;
// another user is FORBIDDEN.
func TestServiceErase(t *testing.T) {
	buf := &eraseBuffer{states: map[string]Comment{}}
	st := &userStore{}
	t0 := time.Now().Add(-time.Hour)
	n := erasePage + 50 // more than a page of stored ones
	want := 0
	for i := range n + 10 {
		user := "u"
		if i%7 == 0 {
			user = "v"
		}
		c, err := New(Input{PostID: fmt.Sprintf("p%d", i%3), UserID: user, Content: "c"}, t0.Add(time.Duration(i)*time.Millisecond), 0)
		require.NoError(t, err)
		buf.states[c.ID] = c
		if i < n {
			st.docs = append(st.docs, c) // flushed
		}
		if i >= n-5 {
			buf.inRedis = append(buf.inRedis, c.ID) // recent, some not flushed
		}
		if user == "u" {
			want++
		}
	}
	svc := NewService(buf, nil, st, ServiceConfig{Traces: buf})
	ctx := context.Background()

	_, err := svc.Erase(ctx, Actor{UserID: "v"}, "u")
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, CodeForbidden, e.Code)
	require.Empty(t, buf.applied)

	// Redis fails midway: what was erased stays erased, and a second run
	// finishes the rest.
	buf.failAt = want / 2
	got, err := svc.Erase(ctx, Actor{UserID: "admin", Moderator: true}, "u")
	require.ErrorAs(t, err, &e)
	require.Equal(t, CodeUnavailable, e.Code)
	require.Equal(t, want/2, got)
	require.Empty(t, buf.scrubbed, "not scrubbed before every comment is erased")
	buf.failAt = 0
	got, err = svc.Erase(ctx, Actor{UserID: "admin", Moderator: true}, "u")
	require.NoError(t, err)
	require.Equal(t, want-want/2, got)
	require.Len(t, buf.applied, want, "one change per comment")
	for _, ch := range buf.applied {
		require.Equal(t, OpErase, ch.Op)
		require.NotNil(t, ch.Audit)
		require.Equal(t, "u", ch.Audit.UserID)
	}
	for _, c := range buf.states {
		require.NotEqual(t, "u", c.UserID)
	}
	require.Equal(t, []string{"u"}, buf.scrubbed)
	require.GreaterOrEqual(t, st.pages, 2, "paged")

	// The Store has not seen the erase yet (the flusher is behind): the
	// states say it is done.
	got, err = svc.Erase(ctx, Actor{UserID: "u"}, "u")
	require.NoError(t, err)
	require.Zero(t, got)
	require.Len(t, buf.applied, want)
}
