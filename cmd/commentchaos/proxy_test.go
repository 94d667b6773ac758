package main

import (
	"context"
	"testing"
	"time"

	"github.com/commentd/commentd/internal/testsvc"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

func connect(t *testing.T, uri string) *mongo.Collection {
	t.Helper()
	client, err := mongo.Connect(context.Background(), options.Client().ApplyURI(uri).SetRetryWrites(false))
	require.NoError(t, err)
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	return client.Database("chaos").Collection("c")
}

// The proxy counts one insert command per InsertMany, none for a find, and
// a hold keeps the reply back while the insert itself takes effect: the
// state the kill-flusher-mid-batch fault relies on.
func TestProxyCountsAndHoldsInserts(t *testing.T) {
	m := testsvc.StartMongo(t)
	p, err := newProxy(m.Addr, true)
	require.NoError(t, err)
	defer p.Close()
	ctx := context.Background()
	via := connect(t, "mongodb://"+p.Addr())
	direct := connect(t, m.URI)

	docs := make([]any, 100)
	for i := range docs {
		docs[i] = bson.D{{Key: "_id", Value: i}}
	}
	_, err = via.InsertMany(ctx, docs)
	require.NoError(t, err)
	require.EqualValues(t, 1, p.Inserts())
	_, err = via.Find(ctx, bson.D{})
	require.NoError(t, err)
	require.EqualValues(t, 1, p.Inserts())

	p.Hold()
	done := make(chan error, 1)
	go func() {
		_, err := via.InsertOne(ctx, bson.D{{Key: "_id", Value: "held"}})
		done <- err
	}()
	select {
	case <-p.WriteSeen():
	case <-time.After(10 * time.Second):
		t.Fatal("insert not seen")
	}
	require.Eventually(t, func() bool {
		n, err := direct.CountDocuments(ctx, bson.D{{Key: "_id", Value: "held"}})
		return err == nil && n == 1
	}, 10*time.Second, 20*time.Millisecond, "the held insert reaches MongoDB")
	select {
	case err := <-done:
		t.Fatalf("insert answered while held: %v", err)
	default:
	}
	p.Release()
	require.NoError(t, <-done)
	require.EqualValues(t, 2, p.Inserts())
}

// A delay holds every chunk back by at least that long.
func TestProxyDelay(t *testing.T) {
	m := testsvc.StartMongo(t)
	p, err := newProxy(m.Addr, true)
	require.NoError(t, err)
	defer p.Close()
	coll := connect(t, "mongodb://"+p.Addr())
	ctx := context.Background()
	_, err = coll.InsertOne(ctx, bson.D{{Key: "x", Value: 1}}) // connection made
	require.NoError(t, err)
	p.SetDelay(150 * time.Millisecond)
	t0 := time.Now()
	_, err = coll.InsertOne(ctx, bson.D{{Key: "x", Value: 2}})
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(t0), 300*time.Millisecond, "a request and its reply, each delayed")
}

func TestOpMsgCommandRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, {0, 0, 0, 0}, {0, 0, 0, 0, 0, 1, 0, 0, 0}, {0, 0, 0, 0, 0, 5, 0, 0, 0, 0}} {
		_, err := opMsgCommand(b)
		require.Error(t, err)
	}
}
