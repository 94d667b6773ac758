package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/commentd/commentd/comment"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

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

// Each hands every stored comment selected (postID "" for all, since zero
// for all times) to fn, in _id order, through one cursor: MongoDB streams
// it from the _id index; FerretDB reads the collection once (and sorts in
// memory), where paging by _id would read it once per page.
func (s *Store) Each(ctx context.Context, postID string, since time.Time, fn func(comment.Comment) error) error {
	filter := bson.D{}
	if postID != "" {
		filter = append(filter, bson.E{Key: "postId", Value: postID})
	}
	if !since.IsZero() {
		filter = append(filter, bson.E{Key: "createdAt", Value: bson.D{{Key: "$gte", Value: since}}})
	}
	cur, err := s.coll.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetBatchSize(1000))
	if err != nil {
		return fmt.Errorf("store: each: %w", err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var d doc
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("store: each: %w", err)
		}
		if err := fn(d.comment()); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("store: each: %w", err)
	}
	return nil
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

// Empty reports whether the collection holds no comment: one document
// fetched at most.
func (s *Store) Empty(ctx context.Context) (bool, error) {
	err := s.coll.FindOne(ctx, bson.D{}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: empty: %w", err)
	}
	return false, nil
}

// PostIDs returns the id of every post with a stored comment (distinct:
// one pass over the collection, or over the postId index on MongoDB).
func (s *Store) PostIDs(ctx context.Context) ([]string, error) {
	vals, err := s.coll.Distinct(ctx, "postId", bson.D{})
	if err != nil {
		return nil, fmt.Errorf("store: post ids: %w", err)
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if p, ok := v.(string); ok {
			out = append(out, p)
		}
	}
	return out, nil
}
