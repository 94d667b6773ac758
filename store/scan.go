package store

import (
	"context"
	"fmt"
	"time"

	"github.com/commentd/commentd/comment"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Scan returns up to limit stored comments, in whatever state, of postID
// ("" for every post) created at or after since (zero for all), with _id
// greater than after ("" for the first page), in _id order: a page of an
// export. The next page starts after the last id returned; fewer than limit
// means the end. The query is {_id: {$gt: after}} sorted by _id, which a
// MongoDB answers from the _id index; a postID filter makes FerretDB scan
// the collection (it pushes only _id filters down to SQLite).
func (s *Store) Scan(ctx context.Context, postID string, since time.Time, after string, limit int) ([]comment.Comment, error) {
	var floor primitive.ObjectID // the zero id sorts first
	if after != "" {
		id, err := primitive.ObjectIDFromHex(after)
		if err != nil {
			return nil, fmt.Errorf("store: scan: after %q: %w", after, err)
		}
		floor = id
	}
	idRange := bson.D{{Key: "$gt", Value: floor}}
	if !since.IsZero() {
		// An id starts with its creation second (NewID and imported ids
		// alike), so ids from that second on are a superset of the
		// comments created since; createdAt then selects exactly.
		sinceID := primitive.NewObjectIDFromTimestamp(since.Truncate(time.Second))
		sinceID = prevID(sinceID)
		if after == "" || bytesLess(floor, sinceID) {
			idRange = bson.D{{Key: "$gt", Value: sinceID}}
		}
	}
	filter := bson.D{{Key: "_id", Value: idRange}}
	if postID != "" {
		filter = append(filter, bson.E{Key: "postId", Value: postID})
	}
	if !since.IsZero() {
		filter = append(filter, bson.E{Key: "createdAt", Value: bson.D{{Key: "$gte", Value: since}}})
	}
	return s.find(ctx, "scan", filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
}

// ByUser returns up to limit comments of a user older than the comment
// with id before (all if before is ""), newest first, in whatever state
// (the caller decides who sees what). MongoDB answers it from the
// {userId: 1, _id: -1} index; FerretDB scans the collection.
func (s *Store) ByUser(ctx context.Context, userID, before string, limit int) ([]comment.Comment, error) {
	filter := bson.D{{Key: "userId", Value: userID}}
	if before != "" {
		id, err := primitive.ObjectIDFromHex(before)
		if err != nil {
			return nil, fmt.Errorf("store: by user: before %q: %w", before, err)
		}
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$lt", Value: id}}})
	}
	return s.find(ctx, "by user", filter, options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(limit)))
}

func (s *Store) find(ctx context.Context, what string, filter bson.D, opts *options.FindOptions) ([]comment.Comment, error) {
	cur, err := s.coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	var docs []doc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	out := make([]comment.Comment, len(docs))
	for i, d := range docs {
		out[i] = d.comment()
	}
	return out, nil
}

// prevID returns the id just before id (id itself if it is the zero id), so
// that {$gt: prevID(id)} includes id.
func prevID(id primitive.ObjectID) primitive.ObjectID {
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] > 0 {
			id[i]--
			return id
		}
		id[i] = 0xff
	}
	return primitive.ObjectID{}
}

func bytesLess(a, b primitive.ObjectID) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}
