// Package store keeps comments in MongoDB: idempotent bulk inserts, history
// queries by post, and the indexes they need.
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/commentd/commentd/comment"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// codeDuplicateKey is MongoDB's E11000 duplicate key error.
const codeDuplicateKey = 11000

// Config configures a Store. Zero fields take the defaults noted.
type Config struct {
	URI        string        // "mongodb://127.0.0.1:27017"
	Database   string        // "commentd"
	Collection string        // "comments"
	Timeout    time.Duration // connect and server selection; 5s
}

func (c *Config) setDefaults() {
	if c.URI == "" {
		c.URI = "mongodb://127.0.0.1:27017"
	}
	if c.Database == "" {
		c.Database = "commentd"
	}
	if c.Collection == "" {
		c.Collection = "comments"
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
}

// Store is a MongoDB collection of comments. It is safe for concurrent use.
type Store struct {
	client *mongo.Client
	coll   *mongo.Collection

	infoMu    sync.Mutex // guards infoKnown and ferret
	infoKnown bool       // the server was asked whether it is FerretDB
	ferret    bool       // see bulk
	ferretMu  sync.Mutex // one update command at a time on FerretDB
}

// Open connects to MongoDB. The driver connects lazily, so Open succeeds
// while MongoDB is down; Ping tells whether it is up.
func Open(cfg Config) (*Store, error) {
	cfg.setDefaults()
	opts := options.Client().ApplyURI(cfg.URI).
		SetConnectTimeout(cfg.Timeout).
		SetServerSelectionTimeout(cfg.Timeout)
	client, err := mongo.Connect(context.Background(), opts)
	if err != nil {
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	return &Store{client: client, coll: client.Database(cfg.Database).Collection(cfg.Collection)}, nil
}

// Close disconnects.
func (s *Store) Close(ctx context.Context) error { return s.client.Disconnect(ctx) }

// Ping checks that MongoDB answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, nil); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// EnsureIndexes creates the indexes that queries use: {postId: 1, _id: -1}
// for history, {userId: 1, _id: -1} for a user's own comments (ByUser).
// Creating an existing index is a no-op.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	// One index a command: FerretDB (devmongo) drops the connection on a
	// createIndexes of several indexes that exist already.
	for _, m := range []mongo.IndexModel{{
		Keys:    bson.D{{Key: "postId", Value: 1}, {Key: "_id", Value: -1}},
		Options: options.Index().SetName("postId_1__id_-1"),
	}, {
		Keys:    bson.D{{Key: "userId", Value: 1}, {Key: "_id", Value: -1}},
		Options: options.Index().SetName("userId_1__id_-1"),
	}} {
		if _, err := s.coll.Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("store: create index: %w", err)
		}
	}
	return nil
}

// doc is a comment as stored. The fields after createdAt are present only
// when set, like on the wire; v is absent on a comment stored before
// versions (it reads as 1).
type doc struct {
	ID        primitive.ObjectID `bson:"_id"`
	PostID    string             `bson:"postId"`
	ParentID  string             `bson:"parentId,omitempty"`
	UserID    string             `bson:"userId"`
	UserName  string             `bson:"userName,omitempty"`
	Avatar    string             `bson:"avatar,omitempty"`
	Content   string             `bson:"content"`
	CreatedAt time.Time          `bson:"createdAt"`
	EditedAt  time.Time          `bson:"editedAt,omitempty"`
	Deleted   bool               `bson:"deleted,omitempty"`
	Status    string             `bson:"status,omitempty"`
	Pinned    bool               `bson:"pinned,omitempty"`
	Reactions map[string]int     `bson:"reactions,omitempty"`
	Replies   int                `bson:"replies,omitempty"`
	V         int                `bson:"v,omitempty"`
}

func toDoc(c comment.Comment) (doc, error) {
	id, err := primitive.ObjectIDFromHex(c.ID)
	if err != nil {
		return doc{}, fmt.Errorf("id %q: %w", c.ID, err)
	}
	return doc{ID: id, PostID: c.PostID, ParentID: c.ParentID, UserID: c.UserID, UserName: c.UserName, Avatar: c.Avatar, Content: c.Content, CreatedAt: c.CreatedAt,
		EditedAt: c.EditedAt, Deleted: c.Deleted, Status: c.Status, Pinned: c.Pinned, Reactions: c.Reactions, Replies: c.Replies, V: c.V}, nil
}

func (d doc) comment() comment.Comment {
	c := comment.Comment{ID: d.ID.Hex(), PostID: d.PostID, ParentID: d.ParentID, UserID: d.UserID, UserName: d.UserName, Avatar: d.Avatar, Content: d.Content,
		CreatedAt: d.CreatedAt.UTC(), Deleted: d.Deleted, Status: d.Status, Pinned: d.Pinned, Replies: d.Replies, V: d.V}
	if len(d.Reactions) > 0 {
		c.Reactions = d.Reactions
	}
	if !d.EditedAt.IsZero() {
		c.EditedAt = d.EditedAt.UTC()
	}
	if c.V == 0 {
		c.V = 1 // stored before versions
	}
	return c
}

// visible is the filter of what every reader may see and counts: no
// tombstones, no pending or hidden comments.
var visible = bson.D{
	{Key: "deleted", Value: bson.D{{Key: "$ne", Value: true}}},
	{Key: "status", Value: bson.D{{Key: "$nin", Value: bson.A{comment.StatusHidden, comment.StatusPending}}}},
}

// shown is the filter of what history shows: comments that are not
// deleted, and tombstones that replies keep (comment.Tombstone).
var shown = bson.E{Key: "$or", Value: bson.A{
	bson.D{{Key: "deleted", Value: bson.D{{Key: "$ne", Value: true}}}},
	bson.D{{Key: "replies", Value: bson.D{{Key: "$gt", Value: 0}}}},
}}

// notHeld is the filter of comments neither pending nor hidden.
var notHeld = bson.E{Key: "status", Value: bson.D{{Key: "$nin", Value: bson.A{comment.StatusHidden, comment.StatusPending}}}}

// InsertMany inserts cs with one unordered insert command. It is idempotent:
// a comment whose _id is already stored counts as inserted, so a retried
// batch succeeds. It returns the comments MongoDB refused for any other
// reason (for the caller to retry or dead-letter), or an error when the
// batch as a whole failed (MongoDB down, write concern not met) and must be
// retried.
func (s *Store) InsertMany(ctx context.Context, cs []comment.Comment) ([]comment.Rejected, error) {
	_, rejected, err := s.Import(ctx, cs)
	return rejected, err
}

// Import is InsertMany that also says how many of cs were already stored
// (duplicates); the others not rejected are stored by this call. One
// unordered insert command for the batch.
func (s *Store) Import(ctx context.Context, cs []comment.Comment) (duplicates int, rejected []comment.Rejected, err error) {
	if len(cs) == 0 {
		return 0, nil, nil
	}
	docs := make([]any, 0, len(cs))
	idx := make([]int, 0, len(cs)) // docs[i] is cs[idx[i]]
	for i, c := range cs {
		d, err := toDoc(c)
		if err != nil {
			rejected = append(rejected, comment.Rejected{Change: comment.CreateOf(c), Reason: err.Error()})
			continue
		}
		docs = append(docs, d)
		idx = append(idx, i)
	}
	if len(docs) == 0 {
		return 0, rejected, nil
	}
	_, err = s.coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return 0, rejected, nil
	}
	// mongo.IsDuplicateKeyError is true if any one error is a duplicate;
	// the batch is done only if every write error is one and the write
	// concern was met.
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return 0, nil, fmt.Errorf("store: insert %d comments: %w", len(docs), err)
	}
	for _, we := range bwe.WriteErrors {
		if we.Code == codeDuplicateKey {
			duplicates++
			continue
		}
		if we.Index < 0 || we.Index >= len(idx) {
			return 0, nil, fmt.Errorf("store: insert %d comments: write error for index %d: %w", len(docs), we.Index, err)
		}
		rejected = append(rejected, comment.Rejected{
			Change: comment.CreateOf(cs[idx[we.Index]]),
			Reason: "code " + strconv.Itoa(we.Code) + ": " + we.Message,
		})
	}
	return duplicates, rejected, nil
}

// History returns up to limit comments of a post older than the comment
// with id before (all if before is ""), newest first: those every reader
// may see.
func (s *Store) History(ctx context.Context, postID, before string, limit int) ([]comment.Comment, error) {
	return s.history(ctx, bson.D{{Key: "postId", Value: postID}, shown, notHeld}, before, limit)
}

// HistoryAll is History with the hidden and held comments too: what a
// moderator may see.
func (s *Store) HistoryAll(ctx context.Context, postID, before string, limit int) ([]comment.Comment, error) {
	return s.history(ctx, bson.D{{Key: "postId", Value: postID}, shown}, before, limit)
}

// Replies returns up to limit direct replies to parentID older than
// before, newest first; with all, the hidden and held ones too.
func (s *Store) Replies(ctx context.Context, postID, parentID, before string, limit int, all bool) ([]comment.Comment, error) {
	filter := bson.D{{Key: "postId", Value: postID}, {Key: "parentId", Value: parentID}, shown}
	if !all {
		filter = append(filter, notHeld)
	}
	return s.history(ctx, filter, before, limit)
}

func (s *Store) history(ctx context.Context, filter bson.D, before string, limit int) ([]comment.Comment, error) {
	if before != "" {
		id, err := primitive.ObjectIDFromHex(before)
		if err != nil {
			return nil, fmt.Errorf("store: history: before %q: %w", before, err)
		}
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$lt", Value: id}}})
	}
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(limit))
	cur, err := s.coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("store: history: %w", err)
	}
	var docs []doc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("store: history: %w", err)
	}
	out := make([]comment.Comment, len(docs))
	for i, d := range docs {
		out[i] = d.comment()
	}
	return out, nil
}

// Get returns the stored comment with id, in whatever state.
func (s *Store) Get(ctx context.Context, id string) (comment.Comment, bool, error) {
	oid, err := primitive.ObjectIDFromHex(id)
	if err != nil {
		return comment.Comment{}, false, nil
	}
	var d doc
	err = s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: oid}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return comment.Comment{}, false, nil
	}
	if err != nil {
		return comment.Comment{}, false, fmt.Errorf("store: get: %w", err)
	}
	return d.comment(), true, nil
}

// All returns every stored comment, in whatever state. For tests and tools:
// it reads the whole collection.
func (s *Store) All(ctx context.Context) ([]comment.Comment, error) {
	cur, err := s.coll.Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("store: all: %w", err)
	}
	var docs []doc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("store: all: %w", err)
	}
	out := make([]comment.Comment, len(docs))
	for i, d := range docs {
		out[i] = d.comment()
	}
	return out, nil
}

// Count returns how many comments are stored (of one post if postID is not
// ""). For tests and tools: on FerretDB it scans the collection.
func (s *Store) Count(ctx context.Context, postID string) (int64, error) {
	filter := bson.D{}
	if postID != "" {
		filter = bson.D{{Key: "postId", Value: postID}}
	}
	n, err := s.coll.CountDocuments(ctx, filter)
	if err != nil {
		return 0, fmt.Errorf("store: count: %w", err)
	}
	return n, nil
}

// IDs returns the ids of every stored comment, with repeats if the database
// ever held one twice. For tests and tools.
func (s *Store) IDs(ctx context.Context) ([]string, error) {
	cur, err := s.coll.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("store: ids: %w", err)
	}
	var docs []struct {
		ID primitive.ObjectID `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("store: ids: %w", err)
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID.Hex()
	}
	return out, nil
}
