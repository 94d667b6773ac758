package comment

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// coldBuffer holds nothing for any post and never becomes complete.
type coldBuffer struct{}

func (coldBuffer) AppendOnceAsync(context.Context, Comment, string, *Comment, AppendCallback) {}
func (coldBuffer) Recent(context.Context, string, int) ([]Comment, bool, error) {
	return nil, false, nil
}
func (coldBuffer) Seed(context.Context, string, string, []Comment, bool) error { return nil }
func (coldBuffer) State(context.Context, string, string) (Comment, bool, error) {
	return Comment{}, false, nil
}
func (coldBuffer) Apply(context.Context, Change, int, bool) error { return nil }
func (coldBuffer) ChangedSince(context.Context, string, time.Time) ([]Comment, error) {
	return nil, nil
}
func (coldBuffer) Overrides(context.Context, string, []string) (map[string]Comment, error) {
	return nil, nil
}
func (coldBuffer) Events(context.Context, string, string) ([]Change, bool, error) {
	return nil, false, nil
}
func (coldBuffer) Pinned(context.Context, string) ([]Comment, error) { return nil, nil }
func (coldBuffer) Queue(context.Context, int) ([]Comment, error)     { return nil, nil }
func (coldBuffer) Trusted(context.Context, string) (bool, error)     { return false, nil }
func (coldBuffer) Trust(context.Context, string) error               { return nil }
func (coldBuffer) React(context.Context, Reaction) (Comment, error)  { return Comment{}, ErrStale }
func (coldBuffer) NeverStored(context.Context, string) (bool, error) { return false, nil }
func (coldBuffer) MarkStored(context.Context, []string) error        { return nil }

// slowStore answers History slowly and counts the reads.
type slowStore struct {
	reads atomic.Int64
	docs  []Comment // newest first
}

func (s *slowStore) InsertMany(context.Context, []Comment) ([]Rejected, error) { return nil, nil }
func (s *slowStore) Write(context.Context, []Change) ([]Rejected, error)       { return nil, nil }
func (s *slowStore) ByUser(context.Context, string, string, int) ([]Comment, error) {
	return nil, nil
}
func (s *slowStore) Replies(context.Context, string, string, string, int, bool) ([]Comment, error) {
	return nil, nil
}
func (s *slowStore) Reacted(context.Context, string, string, string) (bool, error) { return false, nil }
func (s *slowStore) Get(context.Context, string) (Comment, bool, error) {
	return Comment{}, false, nil
}
func (s *slowStore) History(ctx context.Context, _, _ string, limit int) ([]Comment, error) {
	s.reads.Add(1)
	select {
	case <-time.After(100 * time.Millisecond):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.docs[:min(limit, len(s.docs))], nil
}
func (s *slowStore) HistoryAll(ctx context.Context, _, _ string, limit int) ([]Comment, error) {
	s.reads.Add(1)
	select {
	case <-time.After(100 * time.Millisecond):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.docs[:min(limit, len(s.docs))], nil
}

// Readers arriving at once on a cold post share one database read, and each
// gets its own copy, oldest first.
func TestJoinsShareOneHistoryRead(t *testing.T) {
	st := &slowStore{}
	for i := 3; i > 0; i-- {
		st.docs = append(st.docs, Comment{ID: fmt.Sprintf("%024x", i), PostID: "p"})
	}
	svc := NewService(coldBuffer{}, nil, st, ServiceConfig{})
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs, err := svc.Join(context.Background(), Actor{}, "p", "")
			if err == nil && (len(cs) != 3 || cs[0].ID != fmt.Sprintf("%024x", 1)) {
				err = fmt.Errorf("join got %v, want the 3 comments oldest first", cs)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := st.reads.Load(); n != 1 {
		t.Fatalf("%d database reads for 50 concurrent joins, want 1", n)
	}
	svc.Join(context.Background(), Actor{}, "p", "")
	if n := st.reads.Load(); n != 2 {
		t.Fatalf("a later join reads again (the buffer here never seeds): %d reads, want 2", n)
	}
}

// heldBuffer appends by calling back at once, and knows trusted users.
type heldBuffer struct {
	coldBuffer
	trusted map[string]bool
	asked   atomic.Int32
}

func (b *heldBuffer) AppendOnceAsync(_ context.Context, c Comment, _ string, _ *Comment, done AppendCallback) {
	done(c, false, nil)
}
func (b *heldBuffer) Trusted(_ context.Context, user string) (bool, error) {
	b.asked.Add(1)
	return b.trusted[user], nil
}

// Which new comments each moderation mode holds.
func TestModerationModes(t *testing.T) {
	tests := []struct {
		mode      string
		user      string
		moderator bool
		held      bool
	}{
		{ModerateOff, "guest:ann", false, false},
		{ModerateAll, "alice", false, true},
		{ModerateAll, "mia", true, false},
		{ModerateGuests, "guest:ann", false, true},
		{ModerateGuests, "alice", false, false},
		{ModerateFirst, "alice", false, true},
		{ModerateFirst, "trusted", false, false},
		{ModerateFirst, "mia", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.mode+"/"+tt.user, func(t *testing.T) {
			buf := &heldBuffer{trusted: map[string]bool{"trusted": true}}
			svc := NewService(buf, nil, nil, ServiceConfig{Moderation: tt.mode})
			var got Comment
			svc.PostAsync(context.Background(), Input{PostID: "p", UserID: tt.user, Content: "hi", Moderator: tt.moderator},
				func(c Comment, err error) {
					if err != nil {
						t.Fatal(err)
					}
					got = c
				})
			if held := got.Status == StatusPending; held != tt.held {
				t.Fatalf("held = %v, want %v", held, tt.held)
			}
			if tt.user == "trusted" {
				// Known trusted: the next post asks Redis no more.
				svc.PostAsync(context.Background(), Input{PostID: "p", UserID: tt.user, Content: "again"}, func(Comment, error) {})
				if n := buf.asked.Load(); n != 1 {
					t.Fatalf("asked Redis %d times, want 1", n)
				}
			}
		})
	}
}

// failingStore's history reads fail, counted.
type failingStore struct{ slowStore }

func (s *failingStore) History(context.Context, string, string, int) ([]Comment, error) {
	s.reads.Add(1)
	return nil, errors.New("database timed out")
}

func (s *failingStore) HistoryAll(ctx context.Context, postID, before string, limit int) ([]Comment, error) {
	return s.History(ctx, postID, before, limit)
}

// A join's database read that failed is not tried again by the next joins
// for a while: they join with the buffer's comments at once.
func TestFailedHistoryReadRemembered(t *testing.T) {
	st := &failingStore{}
	svc := NewService(coldBuffer{}, nil, st, ServiceConfig{})
	for range 20 {
		cs, err := svc.Join(context.Background(), Actor{}, "p", "")
		if err != nil || len(cs) != 0 {
			t.Fatalf("join: %v %v, want no comments and no error", cs, err)
		}
	}
	if n := st.reads.Load(); n != 1 {
		t.Fatalf("%d database reads for 20 joins after a failure, want 1", n)
	}
}

// arrivingBuffer is a cold post whose first comment arrives after the
// first join: later joins see it at the head of the buffer.
type arrivingBuffer struct {
	coldBuffer
	first   Comment
	arrived atomic.Bool
}

func (b *arrivingBuffer) Recent(context.Context, string, int) ([]Comment, bool, error) {
	if b.arrived.Load() {
		return []Comment{b.first}, false, nil
	}
	return nil, false, nil
}

// Joins of a cold post share one read although a comment arrived between
// them (the buffer's head, the read's cursor, moved from none to it), and
// each gets the stored comments and the new one once.
func TestJoinsShareReadWhileCommentsArrive(t *testing.T) {
	st := &slowStore{}
	for i := 3; i > 0; i-- {
		st.docs = append(st.docs, Comment{ID: fmt.Sprintf("%024x", i), PostID: "p"})
	}
	buf := &arrivingBuffer{first: Comment{ID: fmt.Sprintf("%024x", 9), PostID: "p"}}
	svc := NewService(buf, nil, st, ServiceConfig{})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	join := func() {
		defer wg.Done()
		cs, err := svc.Join(context.Background(), Actor{}, "p", "")
		if err == nil && len(cs) != 3 && len(cs) != 4 {
			err = fmt.Errorf("join got %d comments, want the 3 stored (and the new one)", len(cs))
		}
		seen := map[string]bool{}
		for _, c := range cs {
			if seen[c.ID] {
				err = fmt.Errorf("comment %s twice", c.ID)
			}
			seen[c.ID] = true
		}
		errs <- err
	}
	wg.Add(1)
	go join()
	time.Sleep(20 * time.Millisecond) // the first read is under way
	buf.arrived.Store(true)
	for range 19 {
		wg.Add(1)
		go join()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := st.reads.Load(); n != 1 {
		t.Fatalf("%d database reads, want 1 shared", n)
	}
}

// slowInsertStore takes all the time the request has left to insert.
type slowInsertStore struct{ slowStore }

func (s *slowInsertStore) InsertMany(ctx context.Context, _ []Comment) ([]Rejected, error) {
	if d, ok := ctx.Deadline(); ok {
		time.Sleep(time.Until(d) - time.Millisecond)
	}
	return nil, nil
}

// ctxPublisher records how long the context of each publish had left.
type ctxPublisher struct{ left []time.Duration }

func (p *ctxPublisher) Publish(ctx context.Context, _ Comment) error {
	d, _ := ctx.Deadline()
	p.left = append(p.left, time.Until(d))
	return ctx.Err()
}

// Write-through: a comment stored by an insert that took nearly all of the
// request's time is still published, with time of its own (readers were
// not told of it when the publish shared the request's deadline).
func TestWriteThroughPublishHasItsOwnTime(t *testing.T) {
	pub := &ctxPublisher{}
	svc := NewService(coldBuffer{}, pub, &slowInsertStore{}, ServiceConfig{WriteThrough: true})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	errs := make(chan error, 1)
	svc.PostAsync(ctx, Input{PostID: "p", UserID: "alice", Content: "hi"}, func(_ Comment, e error) { errs <- e })
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if len(pub.left) != 1 || pub.left[0] < time.Second {
		t.Fatalf("publishes with time left %v, want one with at least 1s", pub.left)
	}
}
