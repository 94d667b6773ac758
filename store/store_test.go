package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/commentd/commentd/comment"
	"github.com/commentd/commentd/internal/testsvc"
	"github.com/commentd/commentd/store"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

func openStore(t *testing.T) (*store.Store, *testsvc.Mongo) { return openStoreB(t) }

func openStoreB(t testing.TB) (*store.Store, *testsvc.Mongo) {
	t.Helper()
	m := testsvc.StartMongo(t)
	st, err := store.Open(store.Config{URI: m.URI, Database: "t", Collection: "comments", Timeout: 2 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close(context.Background()) })
	require.NoError(t, st.EnsureIndexes(context.Background()))
	return st, m
}

func mk(t testing.TB, post string, at time.Time) comment.Comment {
	t.Helper()
	c, err := comment.New(comment.Input{PostID: post, UserID: "u", Content: "hello <b>x</b>"}, at, 0)
	require.NoError(t, err)
	return c
}

// TestDevmongoDuplicateKeyCode keeps us honest about the database we test
// against: a duplicate _id in an unordered insert must come back as code
// 11000 for that index, and the other documents must be inserted.
func TestDevmongoDuplicateKeyCode(t *testing.T) {
	m := testsvc.StartMongo(t)
	ctx := context.Background()
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(m.URI))
	require.NoError(t, err)
	defer client.Disconnect(ctx)
	coll := client.Database("t").Collection("raw")
	_, err = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}})
	require.NoError(t, err)

	_, err = coll.InsertMany(ctx, []any{
		bson.D{{Key: "_id", Value: 0}},
		bson.D{{Key: "_id", Value: 1}},
		bson.D{{Key: "_id", Value: 2}},
	}, options.InsertMany().SetOrdered(false))
	var bwe mongo.BulkWriteException
	require.ErrorAs(t, err, &bwe)
	require.Nil(t, bwe.WriteConcernError)
	require.Len(t, bwe.WriteErrors, 1)
	require.Equal(t, 11000, bwe.WriteErrors[0].Code)
	require.Equal(t, 1, bwe.WriteErrors[0].Index)
	n, err := coll.CountDocuments(ctx, bson.D{})
	require.NoError(t, err)
	require.EqualValues(t, 3, n, "ordered:false inserts the others")
}

func TestInsertManyIdempotent(t *testing.T) {
	st, _ := openStore(t)
	ctx := context.Background()
	now := time.Now()
	var batch []comment.Comment
	for i := range 50 {
		batch = append(batch, mk(t, fmt.Sprintf("p%d", i%3), now.Add(time.Duration(i)*time.Millisecond)))
	}
	rej, err := st.InsertMany(ctx, batch[:20])
	require.NoError(t, err)
	require.Empty(t, rej)
	// The whole batch again, as after a crash between insert and ack.
	rej, err = st.InsertMany(ctx, batch)
	require.NoError(t, err)
	require.Empty(t, rej)
	rej, err = st.InsertMany(ctx, batch)
	require.NoError(t, err)
	require.Empty(t, rej)
	n, err := st.Count(ctx, "")
	require.NoError(t, err)
	require.EqualValues(t, 50, n)
	ids, err := st.IDs(ctx)
	require.NoError(t, err)
	require.Len(t, ids, 50)
}

func TestInsertManyRejectsBadID(t *testing.T) {
	st, _ := openStore(t)
	good := mk(t, "p", time.Now())
	bad := mk(t, "p", time.Now())
	bad.ID = "not-an-object-id"
	rej, err := st.InsertMany(context.Background(), []comment.Comment{good, bad})
	require.NoError(t, err)
	require.Len(t, rej, 1)
	require.Equal(t, bad.ID, rej[0].Change.CommentID)
	n, err := st.Count(context.Background(), "p")
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

func TestHistoryPages(t *testing.T) {
	st, _ := openStore(t)
	ctx := context.Background()
	base := time.Now().Add(-time.Hour)
	var all []comment.Comment
	for i := range 25 {
		all = append(all, mk(t, "post", base.Add(time.Duration(i)*time.Second)))
	}
	_, err := st.InsertMany(ctx, append(all, mk(t, "other", base)))
	require.NoError(t, err)

	var got []comment.Comment
	before := ""
	for {
		page, err := st.History(ctx, "post", before, 10)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		before = page[len(page)-1].ID
	}
	require.Len(t, got, 25)
	for i, c := range got {
		want := all[24-i]
		require.Equal(t, want.ID, c.ID)
		require.Equal(t, want.Content, c.Content)
		require.True(t, want.CreatedAt.Equal(c.CreatedAt), "%v != %v", want.CreatedAt, c.CreatedAt)
	}
}

func TestMongoDown(t *testing.T) {
	st, m := openStore(t)
	ctx := context.Background()
	m.Stop()
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err := st.InsertMany(cctx, []comment.Comment{mk(t, "p", time.Now())})
	require.Error(t, err, "a whole-batch error, to retry")
	require.Error(t, st.Ping(cctx))
	m.Start()
	require.Eventually(t, func() bool { return st.Ping(ctx) == nil }, 20*time.Second, 100*time.Millisecond)
	rej, err := st.InsertMany(ctx, []comment.Comment{mk(t, "p", time.Now())})
	require.NoError(t, err)
	require.Empty(t, rej)
}

func startMongoB(b *testing.B) string { return testsvc.StartMongo(b).URI }
