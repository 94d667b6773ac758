package comment

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// appendingBuffer appends at once: done gets the comment as given.
type appendingBuffer struct{ coldBuffer }

func (appendingBuffer) AppendOnceAsync(_ context.Context, c Comment, _ string, _ *Comment, done AppendCallback) {
	done(c, false, nil)
}

// gateHook answers allow once released, and records what it was asked.
type gateHook struct {
	release chan struct{}
	mu      sync.Mutex
	asked   []string
}

func (h *gateHook) Check(ctx context.Context, c Comment) (Verdict, error) {
	h.mu.Lock()
	h.asked = append(h.asked, c.Content)
	h.mu.Unlock()
	select {
	case <-h.release:
		return VerdictAllow, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

type postResult struct {
	c   Comment
	err error
}

func post(s *Service, in Input) chan postResult {
	ch := make(chan postResult, 1)
	s.PostAsync(context.Background(), in, func(c Comment, err error) { ch <- postResult{c, err} })
	return ch
}

// Beyond HookInFlight, a comment is not sent to the hook and gets
// HookFailure; a rejecting word stops a comment before the hook; a
// moderator's comment skips it; Close waits for the calls in flight.
func TestHookInFlightAndOrder(t *testing.T) {
	words, err := NewWords([]string{"spam"})
	require.NoError(t, err)
	h := &gateHook{release: make(chan struct{})}
	s := NewService(appendingBuffer{}, nil, nil, ServiceConfig{
		Hook: h, HookInFlight: 1,
		Filters: Filters{Words: words, WordsAction: VerdictReject},
	})
	first := post(s, Input{PostID: "p", UserID: "u", Content: "first"})
	over := <-post(s, Input{PostID: "p", UserID: "u", Content: "second"})
	require.NoError(t, over.err)
	require.Equal(t, StatusPending, over.c.Status, "over the limit: hook_failure hold")

	rej := <-post(s, Input{PostID: "p", UserID: "u", Content: "spam"})
	var e *Error
	require.True(t, errors.As(rej.err, &e))
	require.Equal(t, CodeRejected, e.Code)
	mod := <-post(s, Input{PostID: "p", UserID: "m", Content: "spam", Moderator: true})
	require.NoError(t, mod.err)
	require.Empty(t, mod.c.Status)

	select {
	case r := <-first:
		t.Fatalf("acked before the hook answered: %+v", r)
	case <-time.After(10 * time.Millisecond):
	}
	close(h.release)
	s.Close()
	r := <-first
	require.NoError(t, r.err)
	require.Empty(t, r.c.Status)
	require.Equal(t, []string{"first"}, h.asked)
}

// SetFilters changes the filters for the next comments; edits are checked
// against the words whatever the action.
func TestSetFilters(t *testing.T) {
	s := NewService(appendingBuffer{}, nil, nil, ServiceConfig{})
	r := <-post(s, Input{PostID: "p", UserID: "u", Content: "ham and http://a.example http://b.example"})
	require.NoError(t, r.err)
	require.Empty(t, r.c.Status)

	words, err := NewWords([]string{"ham"})
	require.NoError(t, err)
	s.SetFilters(Filters{Words: words})
	r = <-post(s, Input{PostID: "p", UserID: "u", Content: "Ham!"})
	require.NoError(t, r.err)
	require.Equal(t, StatusPending, r.c.Status, "hold is the default action")
	require.Error(t, s.filterEdit("more ham"))
	require.NoError(t, s.filterEdit("more eggs"))

	s.SetFilters(Filters{MaxLinks: 1})
	r = <-post(s, Input{PostID: "p", UserID: "u", Content: "ham and http://a.example http://b.example"})
	require.NoError(t, r.err)
	require.Equal(t, StatusPending, r.c.Status, "two links, one allowed")
}
