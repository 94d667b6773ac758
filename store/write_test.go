package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/store"
	"github.com/stretchr/testify/require"
)

// change returns the change that makes c's state next, at version v.
func change(op comment.Op, c comment.Comment, v int, edit func(*comment.Comment)) comment.Change {
	next := c
	next.V = v
	if edit != nil {
		edit(&next)
	}
	return comment.Change{Op: op, ID: comment.NewID(time.Now()), PostID: c.PostID, CommentID: c.ID, By: "u",
		At: time.Now().UTC().Truncate(time.Millisecond), V: v, State: next}
}

func get(t *testing.T, st *store.Store, id string) (comment.Comment, bool) {
	t.Helper()
	c, ok, err := st.Get(context.Background(), id)
	require.NoError(t, err)
	return c, ok
}

// A batch is collapsed to one write per comment, its final state; writing
// it again changes nothing; an older state never overwrites a newer one; a
// comment created and deleted in one batch is never stored.
func TestWriteVersioned(t *testing.T) {
	st, _ := openStore(t)
	ctx := context.Background()
	a, b, gone := mk(t, "p", time.Now()), mk(t, "p", time.Now()), mk(t, "p", time.Now())
	edit := func(s string) func(*comment.Comment) { return func(c *comment.Comment) { c.Content = s } }
	del := func(c *comment.Comment) { c.Deleted, c.Content, c.UserID = true, "", "" }

	batch1 := []comment.Change{
		comment.CreateOf(a), comment.CreateOf(b), comment.CreateOf(gone),
		change(comment.OpEdit, a, 2, edit("a2")),
		change(comment.OpDelete, gone, 2, del),
	}
	for range 2 { // the second time is a replay after a crash
		rej, err := st.Write(ctx, batch1)
		require.NoError(t, err)
		require.Empty(t, rej)
		got, ok := get(t, st, a.ID)
		require.True(t, ok)
		require.Equal(t, "a2", got.Content, "inserted in its final state")
		require.Equal(t, 2, got.V)
		_, ok = get(t, st, gone.ID)
		require.False(t, ok, "created and deleted in one batch")
	}

	a3 := change(comment.OpEdit, a, 3, edit("a3"))
	hidden := change(comment.OpHide, b, 2, func(c *comment.Comment) { c.Status = comment.StatusHidden })
	rej, err := st.Write(ctx, []comment.Change{a3, hidden})
	require.NoError(t, err)
	require.Empty(t, rej)

	// Older states, replayed late, change nothing.
	rej, err = st.Write(ctx, []comment.Change{change(comment.OpEdit, a, 2, edit("stale")), comment.CreateOf(b)})
	require.NoError(t, err)
	require.Empty(t, rej)
	got, _ := get(t, st, a.ID)
	require.Equal(t, "a3", got.Content)
	require.Equal(t, 3, got.V)
	got, _ = get(t, st, b.ID)
	require.Equal(t, comment.StatusHidden, got.Status)

	// Restore unsets the status; history shows only visible comments.
	page, err := st.History(ctx, "p", "", 10)
	require.NoError(t, err)
	require.Len(t, page, 1, "b is hidden")
	rej, err = st.Write(ctx, []comment.Change{change(comment.OpRestore, b, 3, nil)})
	require.NoError(t, err)
	require.Empty(t, rej)
	page, err = st.History(ctx, "p", "", 10)
	require.NoError(t, err)
	require.Len(t, page, 2)
}

// A comment stored before versions (no v field) takes its first change.
func TestWriteUpdatesUnversioned(t *testing.T) {
	st, _ := openStore(t)
	ctx := context.Background()
	c := mk(t, "p", time.Now())
	c.V = 0
	_, err := st.InsertMany(ctx, []comment.Comment{c})
	require.NoError(t, err)
	rej, err := st.Write(ctx, []comment.Change{change(comment.OpEdit, c, 2, func(x *comment.Comment) { x.Content = "new" })})
	require.NoError(t, err)
	require.Empty(t, rej)
	got, _ := get(t, st, c.ID)
	require.Equal(t, "new", got.Content)
}

// What devmongo charges for the flusher's versioned updates, by collection
// size: go test -run '^$' -bench WriteChanges ./store/
func BenchmarkWriteChanges(b *testing.B) {
	for _, size := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("stored=%d", size), func(b *testing.B) {
			st, _ := openStoreB(b)
			ctx := context.Background()
			var cs []comment.Comment
			for i := 0; i < size; i += 1000 {
				var batch []comment.Comment
				for range min(1000, size-i) {
					batch = append(batch, mk(b, "p", time.Now()))
				}
				_, err := st.InsertMany(ctx, batch)
				require.NoError(b, err)
				cs = append(cs, batch...)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c := cs[i%len(cs)]
				v := 2 + i/len(cs)
				rej, err := st.Write(ctx, []comment.Change{change(comment.OpEdit, c, v, func(x *comment.Comment) { x.Content = "e" })})
				if err != nil || len(rej) > 0 {
					b.Fatal(err, rej)
				}
			}
		})
	}
}

// A batch of many updates, from several flushers at once, completes: on
// FerretDB one update command of about 100 statements used to wait forever
// for a SQLite connection (see ferretMaxUpdates).
func TestWriteManyUpdatesConcurrently(t *testing.T) {
	st, _ := openStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var cs []comment.Comment
	for range 600 {
		cs = append(cs, mk(t, "p", time.Now()))
	}
	_, err := st.InsertMany(ctx, cs)
	require.NoError(t, err)
	errs := make(chan error, 3)
	for g := range 3 {
		go func() {
			var batch []comment.Change
			for _, c := range cs[g*200 : (g+1)*200] {
				batch = append(batch, change(comment.OpEdit, c, 2, func(x *comment.Comment) { x.Content = "many" }))
			}
			rej, err := st.Write(ctx, batch)
			if err == nil && len(rej) > 0 {
				err = fmt.Errorf("%d rejected: %s", len(rej), rej[0].Reason)
			}
			errs <- err
		}()
	}
	for range 3 {
		require.NoError(t, <-errs)
	}
	got, _ := get(t, st, cs[599].ID)
	require.Equal(t, "many", got.Content)
}

// A change whose comment is not stored yet is not dropped: the write
// returns it, to be written again once its create is; a replayed change,
// which matches nothing because the stored comment is as new, is not.
func TestWriteUpdateOfUnstoredComment(t *testing.T) {
	st, _ := openStore(t)
	ctx := context.Background()
	a, b := mk(t, "p", time.Now()), mk(t, "p", time.Now())
	edit := func(c *comment.Comment) { c.Content = "edited" }
	rej, err := st.Write(ctx, []comment.Change{comment.CreateOf(b)})
	require.NoError(t, err)
	require.Empty(t, rej)

	batch := []comment.Change{change(comment.OpEdit, a, 2, edit), change(comment.OpEdit, b, 2, edit)}
	rej, err = st.Write(ctx, batch)
	require.NoError(t, err)
	require.Len(t, rej, 1, "a is not stored: its change comes back")
	require.Equal(t, a.ID, rej[0].Change.CommentID)
	require.Contains(t, rej[0].Reason, "not stored")

	rej, err = st.Write(ctx, []comment.Change{comment.CreateOf(a)})
	require.NoError(t, err)
	require.Empty(t, rej)
	for range 2 { // then the batch again, twice: applied, then a replay
		rej, err = st.Write(ctx, batch)
		require.NoError(t, err)
		require.Empty(t, rej)
	}
	for _, id := range []string{a.ID, b.ID} {
		got, ok := get(t, st, id)
		require.True(t, ok)
		require.Equal(t, 2, got.V)
		require.Equal(t, "edited", got.Content)
	}
}
