package main

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// readCommands are the MongoDB commands that read documents.
var readCommands = []string{"find", "aggregate", "count", "getMore", "distinct"}

// writeCommands are the MongoDB commands that write documents. commentd's
// store sends insert and update only (a delete is a tombstone, an update);
// the others are counted should that change.
var writeCommands = []string{"insert", "update", "delete", "findAndModify"}

// mongoCounter reads the server's command counters: serverStatus
// metrics.commands.<name>.total, which MongoDB and FerretDB (devmongo) both
// keep. They count every client's commands, so a scenario reads them before
// and after its load, with nothing else using the server.
type mongoCounter struct {
	client *mongo.Client
}

func openMongo(ctx context.Context, uri string) (*mongo.Client, error) {
	if err := loopbackMongo(uri); err != nil {
		return nil, err
	}
	c, err := mongo.Connect(ctx, options.Client().ApplyURI(uri).SetTimeout(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("mongo %s: %w", uri, err)
	}
	if err := c.Ping(ctx, nil); err != nil {
		c.Disconnect(context.Background())
		return nil, fmt.Errorf("mongo %s: %w", uri, err)
	}
	return c, nil
}

// loopbackMongo applies the loopback rule to a mongodb:// URI.
func loopbackMongo(uri string) error {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "mongodb" {
		return fmt.Errorf("-mongo %q: want mongodb://host:port on loopback", uri)
	}
	return loopbackOnly("http://" + u.Host)
}

// commands returns the total count of each command the server ran.
func (m mongoCounter) commands(ctx context.Context) (map[string]float64, error) {
	var st struct {
		Metrics struct {
			Commands map[string]bson.Raw `bson:"commands"`
		} `bson:"metrics"`
	}
	if err := m.client.Database("admin").RunCommand(ctx, bson.D{{Key: "serverStatus", Value: 1}}).Decode(&st); err != nil {
		return nil, fmt.Errorf("serverStatus: %w", err)
	}
	out := map[string]float64{}
	for name, raw := range st.Metrics.Commands {
		v, err := raw.LookupErr("total")
		if err != nil {
			continue
		}
		switch v.Type {
		case bson.TypeInt64:
			out[name] = float64(v.Int64())
		case bson.TypeInt32:
			out[name] = float64(v.Int32())
		case bson.TypeDouble:
			out[name] = v.Double()
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("serverStatus: no metrics.commands counters")
	}
	return out, nil
}

// mongoCommands returns the server's command counters, or nil without -mongo.
func (e *env) mongoCommands(ctx context.Context) (map[string]float64, error) {
	if e.mongo == nil {
		return nil, nil
	}
	return e.mongo.commands(ctx)
}

// counters reads commentd's metrics and the server's command counters
// (nil without -mongo): a scenario's starting point.
func (e *env) counters(ctx context.Context) (serverMetrics, map[string]float64, error) {
	m, err := scrape(ctx, e.url)
	if err != nil {
		return nil, nil, err
	}
	before, err := e.mongoCommands(ctx)
	return m, before, err
}

// mongoDelta returns how many times each command ran since before (from
// mongoCommands); ok is false without -mongo.
func (e *env) mongoDelta(ctx context.Context, before map[string]float64) (delta map[string]float64, ok bool, err error) {
	if e.mongo == nil {
		return nil, false, nil
	}
	after, err := e.mongo.commands(ctx)
	if err != nil {
		return nil, false, err
	}
	delta = make(map[string]float64, len(after))
	for name, n := range after {
		delta[name] = n - before[name]
	}
	return delta, true, nil
}

// commandTotals sums a delta of command counters (from mongoDelta) into
// write and read commands.
func commandTotals(delta map[string]float64) (writes, reads float64) {
	for _, c := range writeCommands {
		writes += delta[c]
	}
	for _, c := range readCommands {
		reads += delta[c]
	}
	return writes, reads
}

// mongoSince returns the insert and read commands run since before (from
// mongoCommands); ok is false without -mongo.
func (e *env) mongoSince(ctx context.Context, before map[string]float64) (inserts, reads float64, ok bool, err error) {
	delta, ok, err := e.mongoDelta(ctx, before)
	if !ok || err != nil {
		return 0, 0, ok, err
	}
	_, reads = commandTotals(delta)
	return delta["insert"], reads, true, nil
}

// rawInsert inserts n comment-shaped documents in unordered InsertMany
// batches into a fresh collection of db that has the indexes of like (the
// comments collection), and returns the documents per second. The
// collection is dropped afterwards.
func rawInsert(ctx context.Context, client *mongo.Client, db, like string, n, batch int, tick func(done int)) (float64, error) {
	d := client.Database(db)
	coll := d.Collection(fmt.Sprintf("bench_raw_%d", time.Now().UnixNano()))
	defer coll.Drop(context.Background())
	if err := copyIndexes(ctx, d.Collection(like), coll); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := insertComments(ctx, coll, n, batch, func(i int) string { return fmt.Sprintf("raw-%d", i%64) }, tick); err != nil {
		return 0, fmt.Errorf("raw insert: %w", err)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// insertComments inserts n comment-shaped documents (the fields store/
// writes for a new comment) into coll with unordered InsertMany of batch;
// post names the post of the i-th, tick is told how many are in.
func insertComments(ctx context.Context, coll *mongo.Collection, n, batch int, post func(i int) string, tick func(done int)) error {
	docs := make([]any, 0, batch)
	now := time.Now().UTC()
	for done := 0; done < n; {
		docs = docs[:0]
		for i := 0; i < batch && done+i < n; i++ {
			docs = append(docs, bson.D{
				{Key: "_id", Value: primitive.NewObjectID()},
				{Key: "postId", Value: post(done + i)},
				{Key: "userId", Value: "bench"},
				{Key: "content", Value: benchContent},
				{Key: "createdAt", Value: now},
			})
		}
		if _, err := coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil {
			return err
		}
		done += len(docs)
		if tick != nil {
			tick(done)
		}
	}
	return nil
}

// copyIndexes creates on dst the secondary indexes of src.
func copyIndexes(ctx context.Context, src, dst *mongo.Collection) error {
	cur, err := src.Indexes().List(ctx)
	if err != nil {
		return fmt.Errorf("list indexes: %w", err)
	}
	var specs []struct {
		Name   string `bson:"name"`
		Key    bson.D `bson:"key"`
		Unique bool   `bson:"unique"`
	}
	if err := cur.All(ctx, &specs); err != nil {
		return fmt.Errorf("list indexes: %w", err)
	}
	for _, s := range specs {
		if s.Name == "_id_" {
			continue
		}
		m := mongo.IndexModel{Keys: s.Key, Options: options.Index().SetName(s.Name).SetUnique(s.Unique)}
		if _, err := dst.Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("create index %s: %w", s.Name, err)
		}
	}
	return nil
}
