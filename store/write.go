package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/commentd/commentd/comment"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Write stores a batch of new comments and changes with one unordered
// BulkWrite. The batch is first collapsed to one write per comment, its
// state after the batch's last change of it: an insert for a comment
// created in the batch (none at all if it was deleted in the same batch),
// else one update by _id guarded by version, {_id, v < n}, that sets the
// whole state. So writing a batch again changes nothing, and an older state
// never overwrites a newer one.
//
// A duplicate _id on an insert means the comment is stored already. It
// returns the writes MongoDB refused for other reasons (for the caller to
// retry or dead-letter), or an error when the batch as a whole failed.
func (s *Store) Write(ctx context.Context, chs []comment.Change) ([]comment.Rejected, error) {
	// Who reacted goes first: a comment's counts are never stored ahead of
	// the reactors that make them.
	if err := s.reactors(ctx, chs); err != nil {
		return nil, err
	}
	writes := Collapse(chs)
	models := make([]mongo.WriteModel, 0, len(writes))
	idx := make([]int, 0, len(writes)) // models[i] is writes[idx[i]]
	var rejected []comment.Rejected
	for i, w := range writes {
		m, err := w.model()
		if err != nil {
			rejected = append(rejected, comment.Rejected{Change: w.retry(), Reason: err.Error()})
			continue
		}
		if m == nil {
			continue
		}
		models = append(models, m)
		idx = append(idx, i)
	}
	if len(models) == 0 {
		return rejected, nil
	}
	wes, matched, err := s.bulk(ctx, models)
	if err != nil {
		return nil, fmt.Errorf("store: write %d comments: %w", len(models), err)
	}
	failed := make(map[int]bool, len(wes))
	for _, we := range wes {
		if we.Index >= 0 && we.Index < len(idx) {
			failed[we.Index] = true
		}
	}
	unapplied, err := s.unapplied(ctx, models, idx, writes, failed, matched)
	if err != nil {
		return nil, fmt.Errorf("store: write %d comments: %w", len(models), err)
	}
	rejected = append(rejected, unapplied...)
	for _, we := range wes {
		if we.Index < 0 || we.Index >= len(idx) {
			return nil, fmt.Errorf("store: write %d comments: write error for index %d: %s", len(models), we.Index, we.Message)
		}
		w := writes[idx[we.Index]]
		if we.Code == codeDuplicateKey && w.Created {
			continue
		}
		rejected = append(rejected, comment.Rejected{Change: w.retry(), Reason: "code " + strconv.Itoa(we.Code) + ": " + we.Message})
	}
	return rejected, nil
}

// unapplied checks the guarded updates of a write when fewer matched than
// were sent: an update that matched nothing is right only if the stored
// comment is already at its version or newer (a batch written again).
// Otherwise (the comment is not stored yet, or the server did not run the
// update and said nothing) the change is returned to be written again: a
// confirmed change is never dropped by a silent miss. The read is by _id,
// one comment at a time, and happens only when a count falls short.
func (s *Store) unapplied(ctx context.Context, models []mongo.WriteModel, idx []int, writes []Write1,
	failed map[int]bool, matched int64) ([]comment.Rejected, error) {
	var updates []int // indexes into models
	for i, m := range models {
		if _, ok := m.(*mongo.UpdateOneModel); ok && !failed[i] {
			updates = append(updates, i)
		}
	}
	if int64(len(updates)) <= matched {
		return nil, nil
	}
	var out []comment.Rejected
	for _, i := range updates {
		w := writes[idx[i]]
		stored, found, err := s.Get(ctx, w.Last.CommentID)
		if err != nil {
			return nil, err
		}
		if found && stored.Version() >= w.Last.State.Version() {
			continue
		}
		reason := "update matched nothing: the comment is not stored"
		if found {
			reason = fmt.Sprintf("update matched nothing: the comment is stored at v%d", stored.Version())
		}
		out = append(out, comment.Rejected{Change: w.retry(), Reason: reason})
	}
	return out, nil
}

// ferretMaxUpdates bounds the update statements of one command sent to
// FerretDB. FerretDB v1 keeps every statement's query open until its update
// command ends (a defer in a loop, msg_update.go); its SQLite pool has 100
// connections, so a command of about 100 updates waited for a connection
// forever (measured: 50 took 0.5 s, 100 hung). The same holds across
// concurrent commands, so they go one at a time.
const ferretMaxUpdates = 40

// bulk runs models as one unordered BulkWrite and returns its write
// errors, indexed as models; err is a failure of the whole. On FerretDB it
// sends the inserts in one command and the updates ferretMaxUpdates at a
// time, one command at a time.
func (s *Store) bulk(ctx context.Context, models []mongo.WriteModel) ([]mongo.BulkWriteError, int64, error) {
	if !s.isFerret(ctx) {
		return writeErrors(s.coll.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false)))
	}
	s.ferretMu.Lock()
	defer s.ferretMu.Unlock()
	var inserts, updates []int
	for i, m := range models {
		if _, ok := m.(*mongo.InsertOneModel); ok {
			inserts = append(inserts, i)
		} else {
			updates = append(updates, i)
		}
	}
	chunks := [][]int{}
	if len(inserts) > 0 {
		chunks = append(chunks, inserts)
	}
	for len(updates) > 0 {
		n := min(len(updates), ferretMaxUpdates)
		chunks = append(chunks, updates[:n])
		updates = updates[n:]
	}
	var out []mongo.BulkWriteError
	var matched int64
	for _, chunk := range chunks {
		part := make([]mongo.WriteModel, len(chunk))
		for j, i := range chunk {
			part[j] = models[i]
		}
		wes, n, err := writeErrors(s.coll.BulkWrite(ctx, part, options.BulkWrite().SetOrdered(false)))
		if err != nil {
			return nil, 0, err
		}
		matched += n
		for _, we := range wes {
			if we.Index >= 0 && we.Index < len(chunk) {
				we.Index = chunk[we.Index]
			}
			out = append(out, we)
		}
	}
	return out, matched, nil
}

// writeErrors splits a BulkWrite's outcome into write errors of single
// documents and the failure of the whole (no write concern, no server),
// with how many updates matched a document.
func writeErrors(res *mongo.BulkWriteResult, err error) ([]mongo.BulkWriteError, int64, error) {
	var matched int64
	if res != nil {
		matched = res.MatchedCount
	}
	if err == nil {
		return nil, matched, nil
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return nil, 0, err
	}
	return bwe.WriteErrors, matched, nil
}

// isFerret reports whether the server is FerretDB (its buildInfo says
// so), asking once.
func (s *Store) isFerret(ctx context.Context) bool {
	s.infoMu.Lock()
	defer s.infoMu.Unlock()
	if s.infoKnown {
		return s.ferret
	}
	var info bson.M
	if err := s.coll.Database().RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false // asked again next time; the write then fails the same way
	}
	_, s.ferret = info["ferretdb"]
	if !s.ferret {
		_, s.ferret = info["ferretdbVersion"]
	}
	s.infoKnown = true
	return s.ferret
}

// Write1 is one comment's write of a batch.
type Write1 struct {
	Created bool           // the batch holds its create: insert
	Last    comment.Change // the batch's last change of it; Last.State is what to store
}

// retry returns the one change that redoes w: for a comment created in
// the batch, the create of its final state.
func (w Write1) retry() comment.Change {
	ch := w.Last
	if w.Created {
		ch.Op = comment.OpCreate
	}
	return ch
}

// Collapse turns a batch into one write per comment, in the order of each
// comment's first entry.
func Collapse(chs []comment.Change) []Write1 {
	at := make(map[string]int, len(chs))
	out := make([]Write1, 0, len(chs))
	for _, ch := range chs {
		i, ok := at[ch.CommentID]
		if !ok {
			at[ch.CommentID] = len(out)
			out = append(out, Write1{Created: ch.Op == comment.OpCreate, Last: ch})
			continue
		}
		if ch.Op == comment.OpCreate {
			out[i].Created = true // a create seen again (a resend): keep the later state
		}
		if ch.V >= out[i].Last.V {
			out[i].Last = ch
		}
	}
	return out
}

// model returns the write of w, or nil when nothing is to be written: a
// comment created and deleted in the same batch never reaches MongoDB.
func (w Write1) model() (mongo.WriteModel, error) {
	st := w.Last.State
	if w.Created {
		if st.Deleted && st.Replies == 0 {
			return nil, nil
		}
		d, err := toDoc(st)
		if err != nil {
			return nil, err
		}
		return mongo.NewInsertOneModel().SetDocument(d), nil
	}
	oid, err := primitive.ObjectIDFromHex(w.Last.CommentID)
	if err != nil {
		return nil, fmt.Errorf("id %q: %w", w.Last.CommentID, err)
	}
	v := st.Version()
	set := bson.D{{Key: "userId", Value: st.UserID}, {Key: "content", Value: st.Content}, {Key: "v", Value: v}}
	var unset bson.D
	opt := func(name string, on bool, val any) {
		if on {
			set = append(set, bson.E{Key: name, Value: val})
		} else {
			unset = append(unset, bson.E{Key: name, Value: ""})
		}
	}
	opt("userName", st.UserName != "", st.UserName)
	opt("avatar", st.Avatar != "", st.Avatar)
	opt("editedAt", !st.EditedAt.IsZero(), st.EditedAt)
	opt("deleted", st.Deleted, true)
	opt("status", st.Status != "", st.Status)
	opt("pinned", st.Pinned, true)
	opt("reactions", len(st.Reactions) > 0, st.Reactions)
	opt("replies", st.Replies > 0, st.Replies)
	update := bson.D{{Key: "$set", Value: set}}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	// v < n, or no v at all (stored before versions).
	filter := bson.D{{Key: "_id", Value: oid}, {Key: "v", Value: bson.D{{Key: "$not", Value: bson.D{{Key: "$gte", Value: v}}}}}}
	return mongo.NewUpdateOneModel().SetFilter(filter).SetUpdate(update), nil
}
