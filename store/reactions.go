package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/commentd/commentd/comment"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Who gave which reaction is kept beside the comments, in the collection
// <comments>_reactions, one document per user and reaction:
// {_id: "<commentId>:<reaction>:<userId>", commentId, userId, reaction}.
// The comment's counts are in the comment itself (absolute, versioned);
// these documents only say whether a user gave one, so that a user counts
// once after Redis forgot (Reacted, by _id).

func (s *Store) reactions() *mongo.Collection {
	return s.coll.Database().Collection(s.coll.Name() + "_reactions")
}

func reactionID(commentID, reaction, userID string) string {
	return commentID + ":" + reaction + ":" + userID
}

// Reacted reports whether a user's reaction to a comment is stored.
func (s *Store) Reacted(ctx context.Context, commentID, userID, reaction string) (bool, error) {
	err := s.reactions().FindOne(ctx, bson.D{{Key: "_id", Value: reactionID(commentID, reaction, userID)}}).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: reacted: %w", err)
	}
	return true, nil
}

// reactors writes who gave or took back reactions in a batch: the last
// of each user and reaction, inserts (a duplicate is stored already) in
// one command and deletes in another. Writing a batch again changes
// nothing.
func (s *Store) reactors(ctx context.Context, chs []comment.Change) error {
	last := map[string]comment.Change{}
	var order []string
	for _, ch := range chs {
		if ch.Op != comment.OpReact && ch.Op != comment.OpUnreact {
			continue
		}
		id := reactionID(ch.CommentID, ch.Reaction, ch.By)
		if _, ok := last[id]; !ok {
			order = append(order, id)
		}
		last[id] = ch
	}
	if len(order) == 0 {
		return nil
	}
	var inserts []any
	var deletes []string
	for _, id := range order {
		ch := last[id]
		if ch.Op == comment.OpReact {
			inserts = append(inserts, bson.D{{Key: "_id", Value: id}, {Key: "commentId", Value: ch.CommentID},
				{Key: "userId", Value: ch.By}, {Key: "reaction", Value: ch.Reaction}})
		} else {
			deletes = append(deletes, id)
		}
	}
	if len(inserts) > 0 {
		_, err := s.reactions().InsertMany(ctx, inserts, options.InsertMany().SetOrdered(false))
		var bwe mongo.BulkWriteException
		if err != nil && (!errors.As(err, &bwe) || bwe.WriteConcernError != nil || !allDuplicates(bwe.WriteErrors)) {
			return fmt.Errorf("store: write reactions: %w", err)
		}
	}
	if len(deletes) > 0 {
		if _, err := s.reactions().DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: deletes}}}}); err != nil {
			return fmt.Errorf("store: delete reactions: %w", err)
		}
	}
	return nil
}

// Reactors returns how many users gave each reaction to a comment, as
// stored. For tests and tools: on FerretDB it scans the collection.
func (s *Store) Reactors(ctx context.Context, commentID string) (map[string]int, error) {
	cur, err := s.reactions().Find(ctx, bson.D{{Key: "commentId", Value: commentID}})
	if err != nil {
		return nil, fmt.Errorf("store: reactors: %w", err)
	}
	var docs []struct {
		Reaction string `bson:"reaction"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("store: reactors: %w", err)
	}
	out := map[string]int{}
	for _, d := range docs {
		out[d.Reaction]++
	}
	return out, nil
}

func allDuplicates(wes []mongo.BulkWriteError) bool {
	for _, we := range wes {
		if we.Code != codeDuplicateKey {
			return false
		}
	}
	return len(wes) > 0
}

// CountVisible returns how many comments of each post every reader may
// see (not pending, hidden or deleted), in one aggregation.
func (s *Store) CountVisible(ctx context.Context, posts []string) (map[string]int, error) {
	out := make(map[string]int, len(posts))
	if len(posts) == 0 {
		return out, nil
	}
	match := append(bson.D{{Key: "postId", Value: bson.D{{Key: "$in", Value: posts}}}}, visible...)
	cur, err := s.coll.Aggregate(ctx, mongo.Pipeline{
		{{Key: "$match", Value: match}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$postId"}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
	})
	if err != nil {
		return nil, fmt.Errorf("store: count visible: %w", err)
	}
	var rows []struct {
		ID string `bson:"_id"`
		N  int    `bson:"n"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("store: count visible: %w", err)
	}
	for _, r := range rows {
		out[r.ID] = r.N
	}
	return out, nil
}
